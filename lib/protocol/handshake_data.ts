/**
 * The handshake data Bob puts inside a request packet (docs/protocol.md
 * §6.1 "Stage 1: the signed request": Bob's identity address, identity
 * public key, handshake public key, ratchet public key), signed by Bob's
 * onion service key. unMessage 0.1 left the signature for "a future
 * version"; here it is mandatory, so the request binds the onion key to the
 * identity key.
 *
 * Wire layout (big-endian, inside the request packet's ciphertext):
 *
 * ```
 * offset  size  field
 * 0       1     version            HANDSHAKE_VERSION (1)
 * 1       1     name length n      1 to MAX_NAME_BYTES
 * 2       n     name               UTF-8, Bob's suggested contact name
 * 2+n     32    onion public key   ed25519 key of Bob's v3 onion address
 * 34+n    2     port               1 to 65535
 * 36+n    32    identity key       Bob's X25519 identity public key
 * 68+n    32    handshake key      Bob's X25519 handshake public key
 * 100+n   32    ratchet key        Bob's X25519 ratchet public key
 * 132+n   8     created            ms since the Unix epoch when Bob made the
 *                                  request, u64 (at most 2^53 - 1)
 * 140+n   64    signature          ed25519 (RFC 8032) by the onion key
 *
 * signed = SIGNATURE_DOMAIN ‖ bytes 0..140+n ‖ Alice's identity public key
 *          ‖ the request packet's request public key
 * ```
 *
 * The signed creation time lets the receiver expire a request and tell an
 * old one, replayed after the conversation it made was deleted, from a new
 * one (the policy is the peer's: lib/peer/requests.ts); this module only
 * carries it.
 *
 * The signature proves that the sender holds the onion service key of the
 * address it claims and binds that address to the identity key it sends
 * (no one can advertise an address or keys they do not own). Alice's
 * identity key and the request key make it valid for this one request to
 * this one receiver only: it cannot be replayed to someone else, nor
 * re-wrapped in another request packet.
 *
 * This module knows nothing of packets or ratchets.
 *
 * @module
 */

import { MAX_PORT, MIN_PORT } from "../ports.ts";
import { abytes, concatBytes, fromUtf8, utf8 } from "../crypto/bytes.ts";
import { isLowOrderPublicKey, KEY_LENGTH } from "../crypto/keys.ts";
import {
  ONION_KEY_LENGTH,
  ONION_SIGNATURE_LENGTH,
  onionAddressFromPublicKey,
  parseOnionAddress,
  signWithOnionKey,
  verifyOnionSignature,
} from "../crypto/onion.ts";
import { CryptoError, ProtocolError } from "../errors.ts";
import { Reader, Writer } from "./codec.ts";

/** Version of the handshake data encoding; its first byte. */
export const HANDSHAKE_VERSION = 1;

/**
 * Longest suggested name in UTF-8 bytes: 64, room for a long nickname in
 * any script, short enough to show on one line of a terminal.
 */
export const MAX_NAME_BYTES = 64;

/** The range of the onion service's port (see `lib/ports.ts`). */
export { MAX_PORT, MIN_PORT };

/** Length of the creation time: a u64 of milliseconds. */
const CREATED_LENGTH = 8;

/** Largest creation time: the largest integer a JavaScript number holds exactly. */
export const MAX_CREATED_MS: number = Number.MAX_SAFE_INTEGER;

/** Length of encoded handshake data without the name: 1 + 1 + 32 + 2 + 3·32 + 8 + 64. */
export const HANDSHAKE_FIXED_LENGTH: number = 2 + ONION_KEY_LENGTH + 2 + 3 * KEY_LENGTH +
  CREATED_LENGTH + ONION_SIGNATURE_LENGTH;

/** 2^32, to split the u64 creation time into two u32 halves. */
const U32 = 0x1_0000_0000;

/** Longest encoded handshake data. */
export const MAX_HANDSHAKE_LENGTH: number = HANDSHAKE_FIXED_LENGTH + MAX_NAME_BYTES;

/** Domain separation of the signature: no other signature of the onion key verifies here. */
const SIGNATURE_DOMAIN = utf8("unMessage/v1/handshake/request-signature\0");

/** Whether `name` has a C0 or C1 control character, or "@" (it separates name and address). */
function hasForbiddenChar(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x40) return true;
  }
  return false;
}

/** What Bob tells Alice about himself. */
export interface HandshakeFields {
  /** Bob's suggested contact name. */
  readonly name: string;
  /** The ed25519 public key of Bob's onion address. */
  readonly onionPublicKey: Uint8Array;
  /** The port of Bob's onion service. */
  readonly port: number;
  /** Bob's X25519 identity public key. */
  readonly identityKey: Uint8Array;
  /** Bob's X25519 handshake public key (this request only). */
  readonly handshakeKey: Uint8Array;
  /** Bob's X25519 ratchet public key (this request only). */
  readonly ratchetKey: Uint8Array;
  /** When Bob made the request, in ms since the Unix epoch (his clock). */
  readonly createdAt: number;
}

/** What the signature binds besides the fields: the packet's receiver and key. */
export interface HandshakeBinding {
  /** Alice's identity public key. */
  readonly receiverIdentityKey: Uint8Array;
  /** The request public key of the packet carrying the data. */
  readonly requestPublicKey: Uint8Array;
}

/** Verified handshake data, with the v3 address of the onion key. */
export interface HandshakeData extends HandshakeFields {
  /** The 56-character v3 onion address (no ".onion") of `onionPublicKey`. */
  readonly onionAddress: string;
}

/**
 * Checks a suggested name: 1 to {@linkcode MAX_NAME_BYTES} UTF-8 bytes, well
 * formed, no control characters, no "@".
 *
 * @throws {ProtocolError} `bad_name` saying what is wrong (never the name)
 */
export function checkName(name: string): Uint8Array {
  if (typeof name !== "string") throw new TypeError("Cannot use name: expected string");
  const bytes = utf8(name);
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) {
    throw new ProtocolError(
      "bad_name",
      `Cannot use name: expected 1 to ${MAX_NAME_BYTES} UTF-8 bytes, got ${bytes.length}`,
    );
  }
  // a lone surrogate would not survive UTF-8 (it becomes U+FFFD)
  if (!name.isWellFormed() || hasForbiddenChar(name)) {
    throw new ProtocolError(
      "bad_name",
      "Cannot use name: it contains a control character, @ or a lone surrogate",
    );
  }
  return bytes;
}

function checkCreated(createdAt: unknown): number {
  if (
    typeof createdAt !== "number" || !Number.isInteger(createdAt) || createdAt < 0 ||
    createdAt > MAX_CREATED_MS
  ) {
    throw new ProtocolError(
      "bad_time",
      `Cannot use the creation time: expected 0 to ${MAX_CREATED_MS} ms`,
    );
  }
  return createdAt;
}

function checkPort(port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < MIN_PORT || port > MAX_PORT) {
    throw new ProtocolError("bad_port", `Cannot use port: expected ${MIN_PORT} to ${MAX_PORT}`);
  }
  return port;
}

/** RFC 7748 §6.1: a low-order key would make a DH output independent of our secret. */
function checkDhKey(key: Uint8Array, name: string): Uint8Array {
  abytes(key, KEY_LENGTH, name);
  if (isLowOrderPublicKey(key)) {
    throw new CryptoError("bad_key", `Cannot use ${name}: it is a low-order point`);
  }
  return key;
}

/** The onion key must be a valid v3 service key (tor's checks, via its address). */
function checkOnionKey(key: Uint8Array): string {
  abytes(key, ONION_KEY_LENGTH, "onionPublicKey");
  const address = onionAddressFromPublicKey(key);
  parseOnionAddress(address); // throws CryptoError bad_address for a bad point
  return address;
}

function checkBinding(binding: HandshakeBinding): void {
  checkDhKey(binding.receiverIdentityKey, "receiverIdentityKey");
  abytes(binding.requestPublicKey, KEY_LENGTH, "requestPublicKey");
}

function signedBytes(body: Uint8Array, binding: HandshakeBinding): Uint8Array {
  return concatBytes(
    SIGNATURE_DOMAIN,
    body,
    binding.receiverIdentityKey,
    binding.requestPublicKey,
  );
}

/**
 * Encodes and signs Bob's handshake data with his onion key's `onionSeed`.
 *
 * @throws {ProtocolError} `bad_name`, `bad_port`, `bad_time`
 * @throws {CryptoError} `bad_key` for a low-order key, `bad_address` for an
 *   invalid onion key, `bad_length` for a key of the wrong size
 */
export function encodeHandshake(
  fields: HandshakeFields,
  binding: HandshakeBinding,
  onionSeed: Uint8Array,
): Uint8Array {
  const name = checkName(fields.name);
  checkOnionKey(fields.onionPublicKey);
  const port = checkPort(fields.port);
  checkDhKey(fields.identityKey, "identityKey");
  checkDhKey(fields.handshakeKey, "handshakeKey");
  checkDhKey(fields.ratchetKey, "ratchetKey");
  const createdAt = checkCreated(fields.createdAt);
  checkBinding(binding);
  const body = new Writer(MAX_HANDSHAKE_LENGTH)
    .u8(HANDSHAKE_VERSION)
    .varBytes(name, "u8", MAX_NAME_BYTES, "name")
    .bytes(fields.onionPublicKey)
    .u16(port)
    .bytes(fields.identityKey)
    .bytes(fields.handshakeKey)
    .bytes(fields.ratchetKey)
    .u32(Math.floor(createdAt / U32))
    .u32(createdAt % U32)
    .finish();
  const signature = signWithOnionKey(onionSeed, signedBytes(body, binding));
  return concatBytes(body, signature);
}

/**
 * Decodes handshake data and verifies its signature against the onion key
 * it carries, Alice's identity key and the packet's request key.
 *
 * @throws {ProtocolError} `unsupported_version`, `truncated`, `too_long`,
 *   `trailing_bytes`, `bad_name`, `bad_port`, `bad_time` (a creation time
 *   beyond 2^53 - 1), and `bad_signature` when the
 *   signature does not verify (forged, altered, or meant for another
 *   receiver or another packet)
 * @throws {CryptoError} `bad_key` for a low-order X25519 key, `bad_address`
 *   for an onion key that is not a valid v3 service key
 */
export function decodeHandshake(bytes: Uint8Array, binding: HandshakeBinding): HandshakeData {
  abytes(bytes, undefined, "handshake");
  checkBinding(binding);
  if (bytes.length > MAX_HANDSHAKE_LENGTH) {
    throw new ProtocolError(
      "too_long",
      `Cannot decode handshake: length ${bytes.length} exceeds ${MAX_HANDSHAKE_LENGTH}`,
    );
  }
  const r = new Reader(bytes, "handshake");
  const version = r.u8("version");
  if (version !== HANDSHAKE_VERSION) {
    throw new ProtocolError(
      "unsupported_version",
      `Cannot decode handshake: version ${version} is not supported (expected ${HANDSHAKE_VERSION})`,
    );
  }
  const nameBytes = r.varBytes("u8", MAX_NAME_BYTES, "name");
  const onionPublicKey = r.bytes(ONION_KEY_LENGTH, "onion public key");
  const port = r.u16("port");
  const identityKey = r.bytes(KEY_LENGTH, "identity key");
  const handshakeKey = r.bytes(KEY_LENGTH, "handshake key");
  const ratchetKey = r.bytes(KEY_LENGTH, "ratchet key");
  const createdHigh = r.u32("creation time");
  const createdLow = r.u32("creation time");
  const bodyLength = bytes.length - r.remaining;
  const signature = r.bytes(ONION_SIGNATURE_LENGTH, "signature");
  r.end();

  // the signature first: nothing of an unsigned request is interpreted
  const body = bytes.subarray(0, bodyLength);
  if (!verifyOnionSignature(onionPublicKey, signedBytes(body, binding), signature)) {
    throw new ProtocolError(
      "bad_signature",
      "Cannot accept request: its signature does not match the onion address it claims",
    );
  }
  let name: string;
  try {
    name = fromUtf8(nameBytes);
  } catch {
    throw new ProtocolError("bad_name", "Cannot use name: it is not valid UTF-8");
  }
  checkName(name);
  checkPort(port);
  const onionAddress = checkOnionKey(onionPublicKey);
  checkDhKey(identityKey, "identityKey");
  checkDhKey(handshakeKey, "handshakeKey");
  checkDhKey(ratchetKey, "ratchetKey");
  const createdAt = checkCreated(createdHigh * U32 + createdLow);
  return {
    name,
    onionPublicKey,
    onionAddress,
    port,
    identityKey,
    handshakeKey,
    ratchetKey,
    createdAt,
  };
}
