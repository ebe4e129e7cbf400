/**
 * The Double Ratchet message header and its encryption (Signal's Double
 * Ratchet specification §4, "Double Ratchet with header encryption"), and
 * the wire layout of a ratchet message.
 *
 * This module owns the byte layout only (and {@linkcode messageDigest}, the
 * name of a message on the wire). It knows nothing of chains, skipped keys
 * or state: callers pass the header key.
 *
 * Wire layout of one ratchet message (all lengths in bytes):
 *
 * ```
 * encrypted header (80) = nonce (24) ‖ XChaCha20-Poly1305(HK, header (40)) (40 + 16)
 *   header (40)         = ratchet public key (32) ‖ PN (u32 BE) ‖ N (u32 BE)
 * body (n + 16)         = XChaCha20-Poly1305(MK, plaintext (n)), AD = caller AD ‖ encrypted header
 * ```
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH, open, seal } from "./aead.ts";
import { abytes, type Rng } from "./bytes.ts";
import { KEY_LENGTH } from "./keys.ts";
import { CryptoError } from "../errors.ts";

/** Length of one counter (PN or N) in a header: an unsigned 32-bit integer. */
export const COUNTER_LENGTH = 4;

/** Largest value of a message counter (PN or N). */
export const MAX_COUNTER = 0xffff_ffff;

/** Length of a plaintext header: ratchet public key ‖ PN ‖ N. */
export const HEADER_LENGTH: number = KEY_LENGTH + 2 * COUNTER_LENGTH; // 40

/** Length of an encrypted header: nonce ‖ ciphertext ‖ tag. */
export const ENCRYPTED_HEADER_LENGTH: number = AEAD_NONCE_LENGTH + HEADER_LENGTH + AEAD_TAG_LENGTH; // 80

/** Bytes a ratchet message adds to its plaintext: encrypted header ‖ body tag. */
export const MESSAGE_OVERHEAD: number = ENCRYPTED_HEADER_LENGTH + AEAD_TAG_LENGTH; // 96

/** Length of {@linkcode messageDigest}: 128 bits, so distinct messages never collide. */
export const MESSAGE_DIGEST_LENGTH = 16;

/** A decrypted header (spec §3.1 HEADER(dh_pair, pn, n)). */
export interface RatchetHeader {
  /** The sender's current ratchet public key. */
  readonly dh: Uint8Array;
  /** Number of messages in the sender's previous sending chain. */
  readonly pn: number;
  /** Number of this message in the sender's current sending chain. */
  readonly n: number;
}

function checkCounter(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_COUNTER) {
    throw new CryptoError("bad_header", `Cannot encode header: ${name} is out of range`);
  }
}

/**
 * Encodes a header into its 40 fixed bytes.
 *
 * @throws {CryptoError} `bad_length` for a key of the wrong length,
 *   `bad_header` for a counter outside 0 to {@linkcode MAX_COUNTER}
 */
export function encodeHeader(header: RatchetHeader): Uint8Array {
  abytes(header.dh, KEY_LENGTH, "header.dh");
  checkCounter(header.pn, "pn");
  checkCounter(header.n, "n");
  const out = new Uint8Array(HEADER_LENGTH);
  out.set(header.dh, 0);
  const view = new DataView(out.buffer);
  view.setUint32(KEY_LENGTH, header.pn, false);
  view.setUint32(KEY_LENGTH + COUNTER_LENGTH, header.n, false);
  return out;
}

/**
 * Decodes 40 header bytes. Every 40-byte string is a valid header, so this
 * only fails on a wrong length.
 *
 * @throws {CryptoError} `bad_length` when `bytes` is not 40 bytes long
 */
export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  abytes(bytes, HEADER_LENGTH, "header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    dh: bytes.slice(0, KEY_LENGTH),
    pn: view.getUint32(KEY_LENGTH, false),
    n: view.getUint32(KEY_LENGTH + COUNTER_LENGTH, false),
  };
}

/**
 * HENCRYPT(hk, header) of spec §4.2: XChaCha20-Poly1305 under the header key
 * with a fresh random nonce (a header key encrypts many headers, so the nonce
 * cannot come from the key), written as the 80-byte encrypted header into the
 * first bytes of `out` (a whole message buffer, say), so that the header
 * needs no buffer of its own.
 *
 * @throws {CryptoError} `bad_length` for a key or rng output of the wrong
 *   length or an `out` shorter than 80 bytes, `bad_header` for an
 *   out-of-range counter
 */
export function encryptHeaderInto(
  headerKey: Uint8Array,
  header: RatchetHeader,
  rng: Rng,
  out: Uint8Array,
): void {
  abytes(out, undefined, "out");
  if (out.length < ENCRYPTED_HEADER_LENGTH) {
    throw new CryptoError("bad_length", "Cannot encrypt header: output is too short");
  }
  const plain = encodeHeader(header);
  const nonce = abytes(rng(AEAD_NONCE_LENGTH), AEAD_NONCE_LENGTH, "rng output");
  out.set(nonce, 0);
  out.set(seal(headerKey, nonce, plain), AEAD_NONCE_LENGTH);
}

/**
 * HDECRYPT(hk, enc_header) of spec §4.2: the header if `encHeader`
 * authenticates under `headerKey`, otherwise `null` (trial decryption is how
 * the receiver finds the chain of a message, so failure is not an error).
 */
export function decryptHeader(
  headerKey: Uint8Array | null,
  encHeader: Uint8Array,
): RatchetHeader | null {
  if (headerKey === null || encHeader.length !== ENCRYPTED_HEADER_LENGTH) return null;
  const nonce = encHeader.subarray(0, AEAD_NONCE_LENGTH);
  try {
    return decodeHeader(open(headerKey, nonce, encHeader.subarray(AEAD_NONCE_LENGTH)));
  } catch {
    return null;
  }
}

/**
 * A name for one ratchet message on the wire: the first 16 bytes of the
 * SHA-256 of its encrypted header. Every header has a fresh random nonce, so
 * two messages never share it, while a re-sent copy of the same bytes does:
 * the receiver recognises a copy whose message key it already used (and so
 * can no longer decrypt) by it. It reveals nothing the header does not.
 *
 * @throws {CryptoError} `bad_length` for a message shorter than its header
 */
export function messageDigest(message: Uint8Array): Uint8Array {
  abytes(message, undefined, "message");
  if (message.length < ENCRYPTED_HEADER_LENGTH) {
    throw new CryptoError("bad_length", "Cannot name message: it is shorter than its header");
  }
  return sha256(message.subarray(0, ENCRYPTED_HEADER_LENGTH)).slice(0, MESSAGE_DIGEST_LENGTH);
}
