/**
 * The three zero-knowledge proofs of OTR v3's Socialist Millionaires'
 * Protocol, over any {@linkcode SmpGroup}: knowledge of a discrete log
 * (versions 1-4), equality of the exponents of a coordinate pair (P, Q)
 * (versions 5, 6) and equality of two discrete logs (versions 7, 8).
 *
 * A proof is a challenge c (an unreduced SHA-256 value, see `proofHash`) and
 * responses D = r - x·c mod q. Verification first checks ranges (c below
 * 2^256, D in [1, q-1], as OTR implementations do), then recomputes c.
 *
 * @module
 */

import type { Rng } from "../bytes.ts";
import {
  mod,
  PROOF_HASH_LIMIT,
  proofHash,
  randomScalar,
  SmpError,
  type SmpGroup,
} from "./group.ts";

/** A proof of knowledge of one exponent: challenge and response. */
export interface LogProof {
  /** The challenge c: the proof hash of the commitments. */
  readonly c: bigint;
  /** The response D = r - x·c mod q. */
  readonly d: bigint;
}

/** A proof about (P, Q): challenge and two responses. */
export interface CoordsProof {
  /** The challenge c: the proof hash of the two commitments. */
  readonly c: bigint;
  /** The response D1 = r1 - r·c mod q, for the shared exponent r. */
  readonly d1: bigint;
  /** The response D2 = r2 - secret·c mod q, for the secret. */
  readonly d2: bigint;
}

function badProof(name: string, why: string): SmpError {
  return new SmpError("smp_bad_proof", `Cannot accept SMP ${name}: ${why}`);
}

/** Range checks of a received proof's challenge and responses. */
function checkRanges<E>(group: SmpGroup<E>, name: string, c: bigint, ...ds: bigint[]): void {
  if (c < 0n || c >= PROOF_HASH_LIMIT) throw badProof(name, "challenge out of range");
  for (const d of ds) {
    // OTR v3 implementations (libotr, python-potr) require 1 <= D < q.
    if (d < 1n || d >= group.order) throw badProof(name, "response out of range");
  }
}

/** OTR v3 SMP: proves knowledge of `x` with X = g1^x (c = h(v, g1^r)). */
export function proveKnownLog<E>(
  group: SmpGroup<E>,
  rng: Rng,
  x: bigint,
  version: number,
): LogProof {
  const r = randomScalar(group, rng);
  const c = proofHash(group, version, group.exp(group.generator, r));
  return { c, d: mod(r - x * c, group.order) };
}

/** Checks c = h(v, g1^D · X^c); throws `"smp_bad_proof"`. */
export function verifyKnownLog<E>(
  group: SmpGroup<E>,
  x: E,
  proof: LogProof,
  version: number,
  name: string,
): void {
  checkRanges(group, name, proof.c, proof.d);
  const g = group.generator;
  const t = group.mul(group.exp(g, proof.d), group.exp(x, proof.c));
  if (proofHash(group, version, t) !== proof.c) throw badProof(name, "proof does not verify");
}

/**
 * OTR v3 SMP: proves P = g3^r and Q = g1^r · g2^secret share `r`:
 * c = h(v, g3^r1, g1^r1 · g2^r2), D1 = r1 - r·c, D2 = r2 - secret·c.
 */
export function proveEqualCoords<E>(
  group: SmpGroup<E>,
  rng: Rng,
  g2: E,
  g3: E,
  r: bigint,
  secret: bigint,
  version: number,
): CoordsProof {
  const r1 = randomScalar(group, rng);
  const r2 = randomScalar(group, rng);
  const g1 = group.generator;
  const t1 = group.exp(g3, r1);
  const t2 = group.mul(group.exp(g1, r1), group.exp(g2, r2));
  const c = proofHash(group, version, t1, t2);
  const q = group.order;
  return { c, d1: mod(r1 - r * c, q), d2: mod(r2 - secret * c, q) };
}

/** Checks c = h(v, g3^D1 · P^c, g1^D1 · g2^D2 · Q^c); throws `"smp_bad_proof"`. */
export function verifyEqualCoords<E>(
  group: SmpGroup<E>,
  g2: E,
  g3: E,
  p: E,
  q: E,
  proof: CoordsProof,
  version: number,
  name: string,
): void {
  checkRanges(group, name, proof.c, proof.d1, proof.d2);
  const g1 = group.generator;
  const t1 = group.mul(group.exp(g3, proof.d1), group.exp(p, proof.c));
  const t2 = group.mul(
    group.mul(group.exp(g1, proof.d1), group.exp(g2, proof.d2)),
    group.exp(q, proof.c),
  );
  if (proofHash(group, version, t1, t2) !== proof.c) throw badProof(name, "proof does not verify");
}

/**
 * OTR v3 SMP: proves R = qab^x3 for the x3 with g3own = g1^x3:
 * c = h(v, g1^r, qab^r), D = r - x3·c.
 */
export function proveEqualLogs<E>(
  group: SmpGroup<E>,
  rng: Rng,
  qab: E,
  x3: bigint,
  version: number,
): LogProof {
  const r = randomScalar(group, rng);
  const c = proofHash(group, version, group.exp(group.generator, r), group.exp(qab, r));
  return { c, d: mod(r - x3 * c, group.order) };
}

/** Checks c = h(v, g1^D · g3o^c, qab^D · R^c); throws `"smp_bad_proof"`. */
export function verifyEqualLogs<E>(
  group: SmpGroup<E>,
  g3o: E,
  qab: E,
  r: E,
  proof: LogProof,
  version: number,
  name: string,
): void {
  checkRanges(group, name, proof.c, proof.d);
  const t1 = group.mul(group.exp(group.generator, proof.d), group.exp(g3o, proof.c));
  const t2 = group.mul(group.exp(qab, proof.d), group.exp(r, proof.c));
  if (proofHash(group, version, t1, t2) !== proof.c) throw badProof(name, "proof does not verify");
}
