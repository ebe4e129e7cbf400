/**
 * X25519 key pairs (RFC 7748) for every Diffie-Hellman key of unMessage:
 * identity, handshake, ratchet and request keys. Owns key generation from an
 * injected {@linkcode Rng}, the DH function with its low-order checks, and the
 * base64 text form of public keys that users exchange. The ladder itself is
 * x25519.ts (native when available, pure JavaScript otherwise).
 *
 * It knows nothing of what the keys are used for.
 *
 * @module
 */

import { CryptoError } from "../errors.ts";
import { abytes, fromBase64, type Rng, toBase64, wipe } from "./bytes.ts";
import { x25519PublicKey, x25519SharedSecret } from "./x25519.ts";

/** Length of an X25519 secret key, public key and shared secret. */
export const KEY_LENGTH = 32;

/** Length of the base64 text of a public key (32 bytes, padded). */
export const ENCODED_KEY_LENGTH = 44;

/** An X25519 key pair. The secret key is the raw 32 bytes (clamped on use). */
export interface KeyPair {
  /** The 32-byte secret key (never logged). */
  readonly secretKey: Uint8Array;
  /** The 32-byte public key, X25519(secretKey, 9). */
  readonly publicKey: Uint8Array;
}

/** The field prime of Curve25519, 2^255 - 19 (RFC 7748 §4.1). */
const P = (1n << 255n) - 19n;

/**
 * The u-coordinates of points of small order on Curve25519 and its twist,
 * reduced mod p: 0 (order 4), 1 (order 1), p - 1 (order 2), and the two
 * points of order 8. Any public key congruent to one of these makes the
 * shared secret independent of our secret key (RFC 7748 §6.1, §7).
 */
const LOW_ORDER_U: readonly bigint[] = [
  0n,
  1n,
  P - 1n,
  // 325606250916557431795983626356110631294008115727848805560023387167927233504
  leToBigInt(hexBytes("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")),
  // 39382357235489614581723060781553021112529911719440698176882885853963445705823
  leToBigInt(hexBytes("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")),
];

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

function leToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** Pretty-printing that never shows the secret key. */
function redact(pair: KeyPair): KeyPair {
  const show = () => `KeyPair { publicKey: ${toBase64(pair.publicKey)}, secretKey: [redacted] }`;
  for (const name of ["Deno.customInspect", "nodejs.util.inspect.custom"]) {
    Object.defineProperty(pair, Symbol.for(name), { value: show, enumerable: false });
  }
  return Object.freeze(pair);
}

/**
 * Generates a key pair from 32 bytes of `rng`.
 *
 * @throws {TypeError | CryptoError} when `rng` is not a function or does not
 *   return 32 bytes
 */
export function generateKeyPair(rng: Rng): KeyPair {
  if (typeof rng !== "function") throw new TypeError("Cannot use rng: expected function");
  const secret = abytes(rng(KEY_LENGTH), KEY_LENGTH, "rng output");
  const pair = keyPairFromSecret(secret);
  wipe(secret);
  return pair;
}

/**
 * Rebuilds the key pair of a stored 32-byte secret key (the secret is
 * copied, so the caller may wipe its own array).
 *
 * @throws {TypeError} `secretKey` is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a wrong length
 */
export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  abytes(secretKey, KEY_LENGTH, "secretKey");
  const copy = secretKey.slice();
  return redact({ secretKey: copy, publicKey: x25519PublicKey(copy) });
}

/**
 * Whether `publicKey` is a point of small order, in any of its encodings:
 * the top bit is ignored (RFC 7748 §5) and values ≥ p are reduced, so the
 * non-canonical aliases of 0 and 1 (p, p + 1) are caught too.
 *
 * @throws {TypeError | CryptoError} for a value that is not 32 bytes
 */
export function isLowOrderPublicKey(publicKey: Uint8Array): boolean {
  abytes(publicKey, KEY_LENGTH, "publicKey");
  const masked = publicKey.slice();
  masked[KEY_LENGTH - 1] = masked[KEY_LENGTH - 1]! & 0x7f; // RFC 7748 §5: mask bit 255
  const u = leToBigInt(masked) % P;
  return LOW_ORDER_U.includes(u);
}

/**
 * X25519(secretKey, publicKey): the 32-byte shared secret. Never use it as a
 * key directly: feed it to a KDF.
 *
 * @throws {TypeError} an argument that is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a wrong length; `bad_key` for a
 *   low-order public key or an all-zero result
 */
export function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  abytes(secretKey, KEY_LENGTH, "secretKey");
  abytes(publicKey, KEY_LENGTH, "publicKey");
  // RFC 7748 §6.1: reject low-order points before the ladder
  if (isLowOrderPublicKey(publicKey)) {
    throw new CryptoError("bad_key", "Cannot use public key: it is a low-order point");
  }
  let shared: Uint8Array;
  try {
    shared = x25519SharedSecret(secretKey, publicKey);
  } catch {
    throw new CryptoError("bad_key", "Cannot use public key: shared secret is zero");
  }
  // RFC 7748 §6.1: an all-zero output means a contributory failure
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) {
    throw new CryptoError("bad_key", "Cannot use public key: shared secret is zero");
  }
  return shared;
}

/** Standard padded base64 of a 32-byte public key (44 characters). */
export function encodePublicKey(publicKey: Uint8Array): string {
  abytes(publicKey, KEY_LENGTH, "publicKey");
  return toBase64(publicKey);
}

/**
 * Parses the base64 text of a public key, ignoring surrounding whitespace.
 *
 * @throws {TypeError} `text` is not a string
 * @throws {CryptoError} `bad_key` for text that is not 44 characters of
 *   canonical base64 encoding 32 bytes, or that encodes a low-order point
 */
export function decodePublicKey(text: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError("Cannot use text: expected string");
  const trimmed = text.trim();
  if (trimmed.length !== ENCODED_KEY_LENGTH) {
    throw new CryptoError(
      "bad_key",
      `Cannot decode public key: expected ${ENCODED_KEY_LENGTH} base64 characters, got ${trimmed.length}`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(trimmed);
  } catch {
    throw new CryptoError("bad_key", "Cannot decode public key: it is not valid base64");
  }
  if (bytes.length !== KEY_LENGTH) {
    throw new CryptoError(
      "bad_key",
      `Cannot decode public key: expected ${KEY_LENGTH} bytes, got ${bytes.length}`,
    );
  }
  if (isLowOrderPublicKey(bytes)) {
    throw new CryptoError("bad_key", "Cannot use public key: it is a low-order point");
  }
  return bytes;
}
