/**
 * What the three packet kinds (request, reply, regular) share: the version
 * byte, the IV, the hSub tag and the sizes. Every packet starts with the
 * same 57-byte header, so a receiver can try each kind on the same bytes:
 *
 * ```
 * offset  size  field
 * 0       1     version   PACKET_VERSION (1)
 * 1       24    IV        random; also the XChaCha20-Poly1305 nonce
 * 25      32    hSub      HMAC-SHA256(K_r, IV)
 * 57      ...   body      kind-specific, see packet_request.ts, packet_reply.ts, packet_regular.ts
 *
 * K_h = deriveKey(K, "packet/<kind>/hsub")        K: the kind's secret
 * K_r = deriveKey(K_h ‖ receiver identity public key, "packet/hsub/receiver")
 * ```
 *
 * unMessage 0.1's hSub is a keyed hash of the IV and the receiver's identity
 * public key. Here the receiver's key is bound through the HMAC key rather
 * than its input: a packet to Bob and one to Alice under the same K never
 * share a tag key, so Alice still tells her own packets from Bob's, and the
 * HMAC input is the IV alone (24 bytes, one SHA-256 block with its padding).
 * A receiver keeps the SHA-256 states of each K_r's padded key blocks (the
 * HMAC midstates, hmac_midstate.ts) and then tries one candidate in two
 * compressions, which makes finding a packet among 10,000 conversations take
 * a few milliseconds. Nothing about the conversation is in the clear.
 *
 * The total length of every packet is one of PADDING_BUCKETS (padding.ts).
 * The version byte is the only cleartext that is not random-looking; it is
 * the same in every packet, so it tells an observer nothing about the kind,
 * the sender or the receiver (docs/protocol.md, "10. Identifying a received packet").
 *
 * @module
 */

import { AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH } from "../crypto/aead.ts";
import { abytes, concatBytes, toHex } from "../crypto/bytes.ts";
import {
  hmacMidstate,
  hmacOneBlock,
  hmacOneBlockMatches,
  oneBlockSchedule,
  tagWords,
} from "../crypto/hmac_midstate.ts";
import { MidstateTable } from "../crypto/hsub_scan.ts";
import { deriveKey } from "../crypto/kdf.ts";
import { ProtocolError } from "../errors.ts";
import { isBucketLength } from "./padding.ts";

/** Version of the packet encoding; the first byte of every packet. */
export const PACKET_VERSION = 1;

/** Length of the IV (the AEAD nonce of the packet). */
export const IV_LENGTH: number = AEAD_NONCE_LENGTH;

/** Length of an hSub tag: a full HMAC-SHA256 output. */
export const HSUB_LENGTH = 32;

/** Length of an X25519 public key carried in a packet. */
export const PUBLIC_KEY_LENGTH = 32;

/** Length of a conversation ID (a key agreed by the handshake). */
export const CONVERSATION_ID_LENGTH = 32;

/** Offset of the IV. */
export const IV_OFFSET = 1;

/** Offset of the hSub tag. */
export const HSUB_OFFSET: number = IV_OFFSET + IV_LENGTH;

/** Length of the header shared by every packet (version ‖ IV ‖ hSub). */
export const HEADER_LENGTH: number = HSUB_OFFSET + HSUB_LENGTH;

/** The KDF labels of the packet layer, one per use (docs/protocol.md, "3. Key derivation labels": one label per key). */
export const LABELS = {
  requestSharedKey: "packet/request/shared-key",
  requestHsub: "packet/request/hsub",
  requestEncrypt: "packet/request/encrypt",
  replyHsub: "packet/reply/hsub",
  replyEncrypt: "packet/reply/encrypt",
  regularHsub: "packet/regular/hsub",
  regularEncrypt: "packet/regular/encrypt",
  hsubReceiver: "packet/hsub/receiver",
} as const;

/**
 * Most receiver keys whose hSub midstates are cached per hSub key: a
 * conversation's tags go to one of its two parties, so 4 leaves room while
 * bounding what a caller passing many receivers can make us keep.
 */
export const MAX_CACHED_RECEIVERS = 4;

/** Bytes a regular packet adds around its padded payload. */
export const REGULAR_OVERHEAD: number = HEADER_LENGTH + AEAD_TAG_LENGTH;

/** Bytes a reply packet adds around its padded payload (incl. the handshake key). */
export const REPLY_OVERHEAD: number = HEADER_LENGTH + PUBLIC_KEY_LENGTH + AEAD_TAG_LENGTH;

/** Bytes a request packet adds around its padded handshake (incl. the request key). */
export const REQUEST_OVERHEAD: number = HEADER_LENGTH + PUBLIC_KEY_LENGTH + AEAD_TAG_LENGTH;

/** The pair of keys one packet kind uses under one secret. */
export interface PacketKeys {
  /** Keys the hSub HMAC. */
  readonly hsub: Uint8Array;
  /** Keys the XChaCha20-Poly1305 encryption of the body. */
  readonly encrypt: Uint8Array;
}

/** Derives the hSub and encryption keys of one kind from `secret`. */
export function packetKeys(
  secret: Uint8Array,
  hsubLabel: string,
  encryptLabel: string,
): PacketKeys {
  return { hsub: deriveKey(secret, hsubLabel), encrypt: deriveKey(secret, encryptLabel) };
}

/**
 * K_r = deriveKey(K_h ‖ receiver identity public key, "packet/hsub/receiver"):
 * the HMAC key of the hSub tags of packets under hSub key `hsubKey` (K_h)
 * addressed to `receiverKey` (the module header). A receiver may keep it
 * instead of deriving it again (it is as secret as K_h).
 */
export function receiverHsubKey(hsubKey: Uint8Array, receiverKey: Uint8Array): Uint8Array {
  abytes(hsubKey, undefined, "hsubKey");
  abytes(receiverKey, PUBLIC_KEY_LENGTH, "receiverKey");
  const ikm = concatBytes(hsubKey, receiverKey);
  const key = deriveKey(ikm, LABELS.hsubReceiver);
  ikm.fill(0);
  return key;
}

/** The HMAC midstates of K_r (hmac_midstate.ts): what an {@linkcode HsubTable} keeps. */
export function receiverMidstate(hsubKey: Uint8Array, receiverKey: Uint8Array): Int32Array {
  const key = receiverHsubKey(hsubKey, receiverKey);
  const midstate = hmacMidstate(key);
  key.fill(0);
  return midstate;
}

/**
 * The candidates of one receiver kept for scanning all at once: each
 * owner's K_r as midstates in a {@linkcode MidstateTable} (hsub_scan.ts:
 * SIMD, no allocation per candidate), so that a packet is tried against
 * 100,000 conversations in tens of milliseconds. Owners are added and
 * removed as conversations come and go; a slot stays the owner's for good.
 */
export class HsubTable<T> {
  /** The receiver (our identity public key) every K_r was derived for. */
  readonly receiverKey: Uint8Array;
  readonly #receiverHex: string;
  readonly #midstates = new MidstateTable();
  readonly #owners: (T | undefined)[] = [];

  /** An empty table for packets addressed to `receiverKey`. */
  constructor(receiverKey: Uint8Array) {
    this.receiverKey = abytes(receiverKey, PUBLIC_KEY_LENGTH, "receiverKey");
    this.#receiverHex = toHex(receiverKey);
  }

  /**
   * Adds `owner`, whose hSub tags are made under the K_r whose HMAC
   * midstates are `midstate` ({@linkcode receiverMidstate}); returns its slot.
   */
  add(owner: T, midstate: Int32Array): number {
    if (!(midstate instanceof Int32Array) || midstate.length !== 16) {
      throw new TypeError("Cannot add a candidate: expected a midstate of 16 words");
    }
    const slot = this.#midstates.add(midstate);
    this.#owners[slot] = owner;
    return slot;
  }

  /** Removes the owner of `slot` (its key is wiped). */
  remove(slot: number): void {
    if (this.#owners[slot] === undefined) return;
    this.#owners[slot] = undefined;
    this.#midstates.remove(slot);
  }

  /** The owner of `slot`, if any. */
  owner(slot: number): T | undefined {
    return this.#owners[slot];
  }

  /** The first slot at or after `from` whose owner's tag the probed packet carries, or -1. */
  find(probe: HsubProbe, from = 0): number {
    if (probe.receiverHex !== this.#receiverHex) return -1;
    for (let slot = from;; slot++) {
      slot = this.#midstates.find(probe.schedule, probe.expected, slot);
      if (slot < 0 || this.#owners[slot] !== undefined) return slot;
    }
  }

  /** Whether the probed packet carries the tag of the owner of `slot`. */
  matches(probe: HsubProbe, slot: number): boolean {
    return probe.receiverHex === this.#receiverHex &&
      this.#owners[slot] !== undefined &&
      this.#midstates.matches(slot, probe.schedule, probe.expected);
  }
}

/**
 * Midstates by hSub key (by the identity of the array: PacketKeys are
 * derived once per conversation and kept by the caller), then by receiver
 * key in hex. Weak: an entry goes with its hSub key.
 */
const midstateCache = new WeakMap<Uint8Array, Map<string, Int32Array>>();

function cachedMidstate(
  hsubKey: Uint8Array,
  receiverKey: Uint8Array,
  receiverHex: string,
): Int32Array {
  let byReceiver = midstateCache.get(hsubKey);
  if (byReceiver === undefined) {
    byReceiver = new Map();
    midstateCache.set(hsubKey, byReceiver);
  }
  let midstate = byReceiver.get(receiverHex);
  if (midstate === undefined) {
    midstate = receiverMidstate(hsubKey, receiverKey);
    if (byReceiver.size >= MAX_CACHED_RECEIVERS) byReceiver.clear();
    byReceiver.set(receiverHex, midstate);
  }
  return midstate;
}

/**
 * hSub = HMAC-SHA256(K_r, IV) with K_r bound to the receiver (module
 * header; docs/protocol.md, "5.1 The common header"). With `cache` (default) the key's midstates are kept
 * for the next packet under the same `hsubKey` array; one-shot keys (the
 * request's) pass false so nothing of them outlives the call.
 */
export function computeHsub(
  hsubKey: Uint8Array,
  iv: Uint8Array,
  receiverKey: Uint8Array,
  cache = true,
): Uint8Array {
  abytes(iv, IV_LENGTH, "iv");
  const midstate = cache
    ? cachedMidstate(hsubKey, receiverKey, toHex(receiverKey))
    : receiverMidstate(hsubKey, receiverKey);
  const hsub = hmacOneBlock(midstate, oneBlockSchedule(iv));
  if (!cache) midstate.fill(0);
  return hsub;
}

/**
 * A received packet prepared for trying many hSub keys: the IV's message
 * schedule and the tag's words are computed once (hmac_midstate.ts).
 */
export interface HsubProbe {
  /** The receiver's identity public key. */
  readonly receiverKey: Uint8Array;
  /** `receiverKey` in hex. */
  readonly receiverHex: string;
  /** The SHA-256 message schedule of the IV block. */
  readonly schedule: Int32Array;
  /** The tag's eight words. */
  readonly expected: Int32Array;
}

/** Prepares `packet` (already checked) for {@linkcode probeMatches} addressed to `receiverKey`. */
export function hsubProbe(packet: Uint8Array, receiverKey: Uint8Array): HsubProbe {
  abytes(receiverKey, PUBLIC_KEY_LENGTH, "receiverKey");
  return {
    receiverKey,
    receiverHex: toHex(receiverKey),
    schedule: oneBlockSchedule(ivOf(packet)),
    expected: tagWords(packet.subarray(HSUB_OFFSET, HEADER_LENGTH)),
  };
}

/**
 * Whether the probed packet's hSub is the one of `hsubKey`; constant time
 * in the tag, no allocation once the midstates are cached.
 */
export function probeMatches(probe: HsubProbe, hsubKey: Uint8Array, cache = true): boolean {
  const midstate = cache
    ? cachedMidstate(hsubKey, probe.receiverKey, probe.receiverHex)
    : receiverMidstate(hsubKey, probe.receiverKey);
  const match = hmacOneBlockMatches(midstate, probe.schedule, probe.expected);
  if (!cache) midstate.fill(0);
  return match;
}

/** Constant-time check of the packet's hSub (see {@linkcode computeHsub} for `cache`). */
export function hsubMatches(
  packet: Uint8Array,
  hsubKey: Uint8Array,
  receiverKey: Uint8Array,
  cache = true,
): boolean {
  return probeMatches(hsubProbe(packet, receiverKey), hsubKey, cache);
}

/** The IV of a checked packet (a view, not a copy). */
export function ivOf(packet: Uint8Array): Uint8Array {
  return packet.subarray(IV_OFFSET, HSUB_OFFSET);
}

/**
 * Associated data of the body's AEAD: every cleartext byte before the body
 * (version, IV, hSub, and the request key of a request) ‖ the receiver's
 * identity public key, so a ciphertext cannot be moved to another header or
 * another receiver.
 */
export function associatedData(
  packet: Uint8Array,
  bodyOffset: number,
  receiverKey: Uint8Array,
): Uint8Array {
  return concatBytes(packet.subarray(0, bodyOffset), receiverKey);
}

/** Writes version ‖ IV ‖ hSub ‖ `extra` at the start of a packet of `total` bytes. */
export function writeHeader(
  total: number,
  iv: Uint8Array,
  hsub: Uint8Array,
  extra?: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(total);
  out[0] = PACKET_VERSION;
  out.set(iv, IV_OFFSET);
  out.set(hsub, HSUB_OFFSET);
  if (extra) out.set(extra, HEADER_LENGTH);
  return out;
}

/**
 * Checks what every packet must satisfy before any key is tried: a
 * Uint8Array, a known version and a bucket length (padding.ts).
 *
 * @throws {TypeError} when `packet` is not a Uint8Array
 * @throws {ProtocolError} `unsupported_version` or `bad_packet_length`
 */
export function checkPacket(packet: unknown): Uint8Array {
  const bytes = abytes(packet, undefined, "packet");
  if (bytes.length === 0) {
    throw new ProtocolError("bad_packet_length", "Cannot read packet: it is empty");
  }
  if (bytes[0] !== PACKET_VERSION) {
    throw new ProtocolError(
      "unsupported_version",
      `Cannot read packet: version ${
        bytes[0]
      } is not supported (expected ${PACKET_VERSION}); the sender may use a newer unMessage`,
    );
  }
  if (!isBucketLength(bytes.length)) {
    throw new ProtocolError(
      "bad_packet_length",
      `Cannot read packet: length ${bytes.length} is not a padding bucket`,
    );
  }
  return bytes;
}
