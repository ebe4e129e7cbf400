/**
 * Authenticated encryption with associated data: XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha-03 §2), the one cipher of unMessage for messages,
 * headers and packets. Its 24-byte nonce is long enough to draw at random.
 *
 * Failures to decrypt are never told apart to the caller: a wrong key, a
 * tampered byte, a wrong nonce, wrong associated data or a truncated input
 * all give the same `decrypt_failed` error.
 *
 * The construction itself is in xchacha.ts (native when available, pure
 * JavaScript otherwise).
 *
 * @module
 */

import { CryptoError } from "../errors.ts";
import { abytes } from "./bytes.ts";
import { nobleXChaCha, xchachaImplementation } from "./xchacha.ts";

/** Key length of XChaCha20-Poly1305 in bytes. */
export const AEAD_KEY_LENGTH = 32;

/** Nonce length of XChaCha20-Poly1305 in bytes (draft-irtf-cfrg-xchacha §2). */
export const AEAD_NONCE_LENGTH = 24;

/** Length of the Poly1305 tag appended to every ciphertext. */
export const AEAD_TAG_LENGTH = 16;

const EMPTY = new Uint8Array(0);

// one error for every failure, with no cause attached, so that nothing tells
// a bad tag from a bad length to the outside
function decryptFailed(): CryptoError {
  return new CryptoError("decrypt_failed", "Cannot decrypt: authentication failed");
}

/**
 * Encrypts and authenticates `plaintext` (and authenticates `ad`) under
 * `key` and `nonce`; returns ciphertext ‖ tag (`plaintext.length + 16` bytes).
 * A nonce must never be used twice with one key.
 *
 * @throws {TypeError} an argument that is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a key or nonce of the wrong length
 */
export function seal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad?: Uint8Array,
): Uint8Array {
  abytes(key, AEAD_KEY_LENGTH, "key");
  abytes(nonce, AEAD_NONCE_LENGTH, "nonce");
  abytes(plaintext, undefined, "plaintext");
  if (ad !== undefined) abytes(ad, undefined, "ad");
  const impl = xchachaImplementation();
  try {
    return impl.seal(key, nonce, plaintext, ad ?? EMPTY);
  } catch (e) {
    // a native failure falls back to the pure implementation (same output)
    if (impl === nobleXChaCha) throw e;
    return nobleXChaCha.seal(key, nonce, plaintext, ad ?? EMPTY);
  }
}

/**
 * Verifies and decrypts ciphertext ‖ tag made by {@linkcode seal}. The tag is
 * checked in constant time before anything is decrypted.
 *
 * @throws {TypeError} an argument that is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a key or nonce of the wrong length;
 *   `decrypt_failed` for any ciphertext that does not authenticate, including
 *   one shorter than the tag
 */
export function open(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad?: Uint8Array,
): Uint8Array {
  abytes(key, AEAD_KEY_LENGTH, "key");
  abytes(nonce, AEAD_NONCE_LENGTH, "nonce");
  abytes(ciphertext, undefined, "ciphertext");
  if (ad !== undefined) abytes(ad, undefined, "ad");
  // a ciphertext without a whole tag cannot authenticate
  if (ciphertext.length < AEAD_TAG_LENGTH) throw decryptFailed();
  try {
    // both implementations check the Poly1305 tag in constant time and
    // release no plaintext unless it verifies
    return xchachaImplementation().open(key, nonce, ciphertext, ad ?? EMPTY);
  } catch {
    throw decryptFailed();
  }
}
