/**
 * Key derivation: HKDF-SHA256 (RFC 5869), HMAC-SHA256 (RFC 2104) and
 * {@linkcode deriveKey}, the one labelled KDF of unMessage. Every key fed to
 * a hash or a cipher anywhere in the project comes out of `deriveKey` with a
 * label of its own, so no two uses ever share a key.
 *
 * This module owns no state and knows nothing of the protocol: callers pick
 * the labels. HMAC runs on our own SHA-256 compression (hmac_midstate.ts,
 * checked against `@noble/hashes` and the RFC vectors): on the ratchet's
 * short inputs (a 32-byte key, a 1-byte message) it is about twice as fast
 * as `@noble/hashes`' HMAC (1.7-2.5x, median 2.0x over eight `deno bench`
 * runs on a shared 2-core machine), and {@linkcode deriveKey} about 2.6x
 * its HKDF.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { CryptoError } from "../errors.ts";
import { abytes, utf8 } from "./bytes.ts";
import {
  hmacMidstate,
  hmacMidstateInto,
  hmacSha256Short,
  hmacWithMidstateInto,
  MIDSTATE_MAX_KEY_LENGTH,
} from "./hmac_midstate.ts";

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

/** The HMAC key state of the zero salt: a public constant, computed once. */
const ZERO_SALT_MIDSTATE = hmacMidstate(ZERO_SALT);

/** Most label encodings kept (labels are constants of the code; this bounds the rest). */
const MAX_CACHED_LABELS = 128;
const labelBytes = new Map<string, Uint8Array>();

/** Longest info whose expand input (T ‖ info ‖ counter) uses the scratch below. */
const SCRATCH_INFO_LENGTH = 192;

// scratch of extract and expand (synchronous, never reentered), wiped after
// each use: the PRK, its HMAC key state, one output block, one HMAC input
const scratchPrk = new Uint8Array(SHA256_LENGTH);
const scratchPrkState = new Int32Array(16);
const scratchBlock = new Uint8Array(SHA256_LENGTH);
const scratchInput = new Uint8Array(SHA256_LENGTH + SCRATCH_INFO_LENGTH + 1);

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
  // RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM) (an empty salt is HashLen zeros,
  // which HMAC's zero padding of the key makes the same)
  const prk = hmacSha256(salt, ikm);
  hmacMidstateInto(prk, scratchPrkState);
  prk.fill(0);
  const okm = new Uint8Array(length);
  expandInto(info, okm, 0, length);
  scratchPrkState.fill(0);
  return okm;
}

/**
 * RFC 5869 §2.3 under the PRK whose HMAC key state is in scratchPrkState:
 * T(i) = HMAC-Hash(PRK, T(i-1) ‖ info ‖ i), the first `length` bytes of
 * T(1) ‖ T(2) ‖ ... written to `out` at `offset`. The caller wipes the
 * key state.
 */
function expandInto(info: Uint8Array, out: Uint8Array, offset: number, length: number): void {
  const input = info.length <= SCRATCH_INFO_LENGTH
    ? scratchInput
    : new Uint8Array(SHA256_LENGTH + info.length + 1);
  let previous = 0; // length of T(i-1) at the start of input: 0, then 32
  for (let i = 1, done = 0; done < length; i++, done += SHA256_LENGTH) {
    if (previous > 0) input.set(scratchBlock, 0);
    input.set(info, previous);
    input[previous + info.length] = i;
    hmacWithMidstateInto(
      scratchPrkState,
      input.subarray(0, previous + info.length + 1),
      scratchBlock,
      0,
    );
    const take = Math.min(SHA256_LENGTH, length - done);
    out.set(take === SHA256_LENGTH ? scratchBlock : scratchBlock.subarray(0, take), offset + done);
    previous = SHA256_LENGTH;
  }
  input.fill(0, 0, SHA256_LENGTH);
  scratchBlock.fill(0);
}

/**
 * HMAC-SHA256 (RFC 2104) of `data` under `key`; 32 bytes.
 *
 * @throws {TypeError} an argument that is not a Uint8Array
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  abytes(key, undefined, "key");
  abytes(data, undefined, "data");
  // RFC 2104 §2: a key longer than the block is replaced by its hash
  if (key.length > MIDSTATE_MAX_KEY_LENGTH) return hmacSha256Short(sha256(key), data);
  return hmacSha256Short(key, data);
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
  return deriveKeys(key, [[label, length]])[0]!;
}

function checkLabel(label: unknown): Uint8Array {
  checkString(label, "label");
  // an empty label would make every unlabelled use collide
  if ((label as string).length === 0) {
    throw new CryptoError("bad_label", "Cannot derive key: label is empty");
  }
  let info = labelBytes.get(label as string);
  if (info === undefined) {
    info = utf8(KDF_LABEL_PREFIX + label);
    if (labelBytes.size < MAX_CACHED_LABELS) labelBytes.set(label as string, info);
  }
  return info;
}

/**
 * Several {@linkcode deriveKey} results from one `key`, each `[label,
 * length]` giving exactly what `deriveKey(key, label, length)` gives; the
 * HKDF extract step (RFC 5869 §2.2) is shared, so two keys cost three HMACs
 * instead of four.
 *
 * @throws {TypeError} an argument of the wrong type
 * @throws {CryptoError} `bad_length` when a length is out of range, or
 *   `bad_label` when a label is empty
 */
export function deriveKeys(
  key: Uint8Array,
  labels: readonly (readonly [label: string, length: number])[],
): Uint8Array[] {
  abytes(key, undefined, "key");
  const infos = checkLabels(labels);
  const out = labels.map(([, length]) => new Uint8Array(length));
  extractZeroSalt(key);
  for (let i = 0; i < infos.length; i++) expandInto(infos[i]!, out[i]!, 0, labels[i]![1]);
  wipeExtract();
  return out;
}

function checkLabels(labels: readonly (readonly [label: string, length: number])[]): Uint8Array[] {
  return labels.map(([label, length]) => {
    const info = checkLabel(label);
    checkLength(length);
    return info;
  });
}

/** RFC 5869 §2.2 with the zero salt, whose HMAC key state is precomputed: PRK and its key state into scratch. */
function extractZeroSalt(key: Uint8Array): void {
  hmacWithMidstateInto(ZERO_SALT_MIDSTATE, key, scratchPrk, 0);
  hmacMidstateInto(scratchPrk, scratchPrkState);
  // only the key state is needed from here on
  scratchPrk.fill(0);
}

function wipeExtract(): void {
  scratchPrkState.fill(0);
}

/**
 * {@linkcode deriveKeys} written into `out`: the results one after another
 * (the first `labels[0][1]` bytes, then the next, ...), for a caller that
 * wipes them and wants no allocation. `out` must hold exactly their total.
 *
 * @throws {TypeError} an argument of the wrong type
 * @throws {CryptoError} `bad_length` when a length is out of range or `out`
 *   does not have the total length, `bad_label` when a label is empty
 */
export function deriveKeysInto(
  key: Uint8Array,
  labels: readonly (readonly [label: string, length: number])[],
  out: Uint8Array,
): void {
  abytes(key, undefined, "key");
  const infos = checkLabels(labels);
  let total = 0;
  for (const [, length] of labels) total += length;
  abytes(out, total, "out");
  extractZeroSalt(key);
  for (let i = 0, offset = 0; i < infos.length; i++) {
    const length = labels[i]![1];
    expandInto(infos[i]!, out, offset, length);
    offset += length;
  }
  wipeExtract();
}
