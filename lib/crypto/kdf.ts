/**
 * Key derivation: HKDF-SHA256 (RFC 5869), HMAC-SHA256 (RFC 2104) and
 * {@linkcode deriveKey}, the one labelled KDF of unMessage. Every key fed to
 * a hash or a cipher anywhere in the project comes out of `deriveKey` with a
 * label of its own, so no two uses ever share a key.
 *
 * This module owns no state and knows nothing of the protocol: callers pick
 * the labels.
 *
 * @module
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CryptoError } from "../errors.ts";
import { abytes, utf8 } from "./bytes.ts";

/** Output length of SHA-256 in bytes. */
export const SHA256_LENGTH = 32;

/** RFC 5869 §2.3: L <= 255 * HashLen. */
export const HKDF_MAX_LENGTH = 255 * SHA256_LENGTH;

/** Default length of a key from {@linkcode deriveKey}. */
export const DERIVED_KEY_LENGTH = 32;

/** Prefix of every {@linkcode deriveKey} label: domain and version. */
export const KDF_LABEL_PREFIX = "unMessage/v1/";

/** Fixed salt of {@linkcode deriveKey} (RFC 5869 §3.1: a zero salt is fine). */
const ZERO_SALT = new Uint8Array(SHA256_LENGTH);

function checkString(value: unknown, name: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot use ${name}: expected string`);
  }
  return value;
}

function checkLength(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError("Cannot use length: expected integer");
  }
  // RFC 5869 §2.3: at most 255 blocks of output
  if (value < 1 || value > HKDF_MAX_LENGTH) {
    throw new CryptoError(
      "bad_length",
      `Cannot use length: expected 1 to ${HKDF_MAX_LENGTH} bytes, got ${value}`,
    );
  }
  return value;
}

/**
 * HKDF-SHA256 (RFC 5869): extract with `salt`, then expand with the UTF-8
 * encoding of `info` to `length` bytes (1 to {@linkcode HKDF_MAX_LENGTH}).
 *
 * @throws {TypeError} an argument of the wrong type
 * @throws {CryptoError} `bad_length` when `length` is out of range
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string,
  length: number,
): Uint8Array {
  checkString(info, "info");
  return hkdfSha256Bytes(ikm, salt, utf8(info), length);
}

/**
 * HKDF-SHA256 (RFC 5869) with binary `info`, for the RFC's test vectors and
 * callers whose context is not text. Same checks as {@linkcode hkdfSha256}.
 *
 * @throws {TypeError} an argument of the wrong type
 * @throws {CryptoError} `bad_length` when `length` is out of range
 */
export function hkdfSha256Bytes(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  abytes(ikm, undefined, "ikm");
  abytes(salt, undefined, "salt");
  abytes(info, undefined, "info");
  checkLength(length);
  return hkdf(sha256, ikm, salt, info, length);
}

/**
 * HMAC-SHA256 (RFC 2104) of `data` under `key`; 32 bytes.
 *
 * @throws {TypeError} an argument that is not a Uint8Array
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  abytes(key, undefined, "key");
  abytes(data, undefined, "data");
  return hmac(sha256, key, data);
}

/**
 * Derives a `length`-byte key (default 32) for one purpose from `key`:
 * HKDF-SHA256 with a 32-zero-byte salt and info `"unMessage/v1/" + label`.
 * Distinct labels give independent keys.
 *
 * @throws {TypeError} an argument of the wrong type
 * @throws {CryptoError} `bad_length` when `length` is out of range, or
 *   `bad_label` when `label` is empty
 */
export function deriveKey(
  key: Uint8Array,
  label: string,
  length: number = DERIVED_KEY_LENGTH,
): Uint8Array {
  abytes(key, undefined, "key");
  checkString(label, "label");
  // an empty label would make every unlabelled use collide
  if (label.length === 0) {
    throw new CryptoError("bad_label", "Cannot derive key: label is empty");
  }
  return hkdfSha256(key, ZERO_SALT, KDF_LABEL_PREFIX + label, length);
}
