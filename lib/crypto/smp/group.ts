/**
 * The abstract prime-order group the Socialist Millionaires' Protocol runs
 * over, the SMP error type, and the group-independent scalar helpers: random
 * exponents, the OTR-style proof hash and big-endian integer codecs.
 *
 * This module owns no concrete group: `modp.ts` (OTR v3's 1536-bit MODP
 * group) and `ristretto.ts` (ristretto255) implement {@linkcode SmpGroup}; the
 * state machine in `smp.ts` only ever sees this interface.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { abytes, concatBytes, type Rng } from "../bytes.ts";
import { UnmessageError } from "../../errors.ts";

/** Stable codes of {@linkcode SmpError}. */
export type SmpErrorCode =
  | "smp_bad_element"
  | "smp_bad_proof"
  | "smp_malformed"
  | "smp_unexpected"
  | "smp_aborted"
  | "smp_finished";

/**
 * Every SMP failure a caller must handle. After any error but
 * `"smp_finished"` the machine has failed; the caller tells the peer with an
 * ABORT message (not needed for `"smp_aborted"`: the peer already knows).
 */
export class SmpError extends UnmessageError {
  /** Which failure it is; one of {@linkcode SmpErrorCode}. */
  declare readonly code: SmpErrorCode;
  /** Makes an SMP error with its `code` and a message for the user. */
  constructor(code: SmpErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/**
 * A cyclic group of prime order `order` in which SMP computes. Elements are
 * carried on the wire as non-negative integers (`encodeElement`), so the
 * message format is the same for every group.
 */
export interface SmpGroup<E> {
  /** Name used by the CLI and in errors. */
  readonly name: string;
  /** The prime order q; exponents live in Z/qZ. */
  readonly order: bigint;
  /** The generator g1 of OTR v3's SMP. */
  readonly generator: E;
  /** Upper bound, in bytes, of any value (element or scalar) on the wire. */
  readonly valueBytes: number;
  /**
   * Validates a received element and returns it; throws
   * {@linkcode SmpError} `"smp_bad_element"` unless it is a canonical,
   * non-identity member of the prime-order group. `name` names the field.
   */
  decodeElement(value: bigint, name: string): E;
  /** The wire integer of an element (inverse of `decodeElement`). */
  encodeElement(element: E): bigint;
  /** The canonical bytes of an element that the proof hash covers. */
  elementBytes(element: E): Uint8Array;
  /** `base^k`; `k` is any non-negative integer (used modulo the order). */
  exp(base: E, k: bigint): E;
  /** The group operation. */
  mul(a: E, b: E): E;
  /** The inverse of an element. */
  inverse(a: E): E;
  /** Element equality. */
  equals(a: E, b: E): boolean;
}

/** OTR v3 proof hashes are SHA-256 outputs: challenges are below 2^256. */
export const PROOF_HASH_BITS = 256;
/** Bound on a received challenge `c` (exclusive). */
export const PROOF_HASH_LIMIT = 1n << BigInt(PROOF_HASH_BITS);
/** Extra random bytes drawn beyond the order's size: bias below 2^-128. */
export const RANDOM_EXTRA_BYTES = 16;
/** Length prefix of a hashed element: 4 bytes, as in an OTR MPI. */
const LENGTH_PREFIX_BYTES = 4;
/** Largest element accepted by the proof hash (fits any supported group). */
const MAX_HASHED_BYTES = 1024;

/** Big-endian unsigned integer of `bytes` (empty gives 0). */
export function bigintFromBytes(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/**
 * Big-endian bytes of a non-negative integer: minimal (0 gives no bytes,
 * like an OTR MPI magnitude) or left-padded to `length`.
 */
export function bigintToBytes(n: bigint, length?: number): Uint8Array {
  if (n < 0n) throw new RangeError("Cannot encode integer: value is negative");
  const hex = n === 0n ? "" : n.toString(16);
  const size = Math.ceil(hex.length / 2);
  const out = new Uint8Array(length ?? size);
  if (size > out.length) {
    throw new RangeError(`Cannot encode integer: ${size} bytes exceed ${out.length}`);
  }
  const padded = hex.padStart(size * 2, "0");
  const offset = out.length - size;
  for (let i = 0; i < size; i++) {
    out[offset + i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** `a mod m` in [0, m). */
export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Number of bytes needed to hold `n`. */
export function byteLength(n: bigint): number {
  return Math.ceil(n.toString(16).length / 2);
}

/**
 * A uniformly random exponent in [1, q-1] from the CSPRNG `rng`: draws
 * `RANDOM_EXTRA_BYTES` more than the order needs, so reducing the number
 * leaves a bias below 2^-128.
 *
 * @throws {CryptoError} `bad_length` when `rng` returns another length
 */
export function randomScalar<E>(group: SmpGroup<E>, rng: Rng): bigint {
  const length = byteLength(group.order) + RANDOM_EXTRA_BYTES;
  // a short output would make exponents guessable, and a known r gives the
  // secret away from D = r - secret·c
  const bytes = abytes(rng(length), length, "rng output");
  const n = bigintFromBytes(bytes);
  bytes.fill(0);
  return mod(n, group.order - 1n) + 1n;
}

/**
 * The proof hash of OTR v3's SMP ("Socialist Millionaires' Protocol",
 * hash function h): SHA-256 of the version byte followed by each element as
 * a 4-byte big-endian length and its canonical bytes, read as a big-endian
 * integer and NOT reduced modulo q. For the MODP group the element bytes are
 * the minimal magnitude, so each field is exactly an OTR MPI; for ristretto255
 * they are the 32-byte canonical encoding (RFC 9496 §4.3.2) with the same
 * length prefix.
 */
export function proofHash<E>(group: SmpGroup<E>, version: number, ...elements: E[]): bigint {
  if (!Number.isInteger(version) || version < 1 || version > 255) {
    throw new RangeError(`Cannot hash SMP proof: version ${version} is not a byte`);
  }
  const parts: Uint8Array[] = [Uint8Array.of(version)];
  for (const e of elements) {
    const bytes = group.elementBytes(e);
    if (bytes.length > MAX_HASHED_BYTES) {
      throw new RangeError(`Cannot hash SMP proof: element of ${bytes.length} bytes`);
    }
    const prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
    new DataView(prefix.buffer).setUint32(0, bytes.length);
    parts.push(prefix, bytes);
  }
  return bigintFromBytes(sha256(concatBytes(...parts)));
}
