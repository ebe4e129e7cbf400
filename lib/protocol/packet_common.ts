/**
 * What the three packet kinds (request, reply, regular) share: the version
 * byte, the IV, the hSub tag and the sizes. Every packet starts with the
 * same 57-byte header, so a receiver can try each kind on the same bytes:
 *
 * ```
 * offset  size  field
 * 0       1     version   PACKET_VERSION (1)
 * 1       24    IV        random; also the XChaCha20-Poly1305 nonce
 * 25      32    hSub      HMAC-SHA256(deriveKey(K, "<kind>/hsub"), IV ‖ receiver identity public key)
 * 57      ...   body      kind-specific, see packet_request.ts, packet_reply.ts, packet_regular.ts
 * ```
 *
 * The total length of every packet is one of PADDING_BUCKETS (padding.ts).
 * The version byte is the only cleartext that is not random-looking; it is
 * the same in every packet, so it tells an observer nothing about the kind,
 * the sender or the receiver (seed: "Identifying conversations").
 *
 * @module
 */

import { AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH } from "../crypto/aead.ts";
import { abytes, concatBytes, equalBytes } from "../crypto/bytes.ts";
import { deriveKey, hmacSha256 } from "../crypto/kdf.ts";
import { ProtocolError } from "../errors.ts";
import { isBucketLength } from "./padding.ts";

/** Version of the packet encoding; the first byte of every packet. */
export const PACKET_VERSION = 1;

/** Length of the IV (the AEAD nonce of the packet). */
export const IV_LENGTH = AEAD_NONCE_LENGTH;

/** Length of an hSub tag: a full HMAC-SHA256 output. */
export const HSUB_LENGTH = 32;

/** Length of an X25519 public key carried in a packet. */
export const PUBLIC_KEY_LENGTH = 32;

/** Length of a conversation ID (a key agreed by the handshake). */
export const CONVERSATION_ID_LENGTH = 32;

/** Offset of the IV. */
export const IV_OFFSET = 1;

/** Offset of the hSub tag. */
export const HSUB_OFFSET = IV_OFFSET + IV_LENGTH;

/** Length of the header shared by every packet (version ‖ IV ‖ hSub). */
export const HEADER_LENGTH = HSUB_OFFSET + HSUB_LENGTH;

/** The KDF labels of the packet layer, one per use (DESIGN.md: own label per key). */
export const LABELS = {
  requestSharedKey: "packet/request/shared-key",
  requestHsub: "packet/request/hsub",
  requestEncrypt: "packet/request/encrypt",
  replyHsub: "packet/reply/hsub",
  replyEncrypt: "packet/reply/encrypt",
  regularHsub: "packet/regular/hsub",
  regularEncrypt: "packet/regular/encrypt",
} as const;

/** Bytes a regular packet adds around its padded payload. */
export const REGULAR_OVERHEAD = HEADER_LENGTH + AEAD_TAG_LENGTH;

/** Bytes a reply packet adds around its padded payload (incl. the handshake key). */
export const REPLY_OVERHEAD = HEADER_LENGTH + PUBLIC_KEY_LENGTH + AEAD_TAG_LENGTH;

/** Bytes a request packet adds around its padded handshake (incl. the request key). */
export const REQUEST_OVERHEAD = HEADER_LENGTH + PUBLIC_KEY_LENGTH + AEAD_TAG_LENGTH;

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

/** hSub = HMAC-SHA256(hsubKey, IV ‖ receiver identity public key) (seed: hSub). */
export function computeHsub(
  hsubKey: Uint8Array,
  iv: Uint8Array,
  receiverKey: Uint8Array,
): Uint8Array {
  return hmacSha256(hsubKey, concatBytes(iv, receiverKey));
}

/** Constant-time check of the packet's hSub against the expected tag. */
export function hsubMatches(
  packet: Uint8Array,
  hsubKey: Uint8Array,
  receiverKey: Uint8Array,
): boolean {
  const expected = computeHsub(hsubKey, ivOf(packet), receiverKey);
  return equalBytes(expected, packet.subarray(HSUB_OFFSET, HEADER_LENGTH));
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
