/**
 * OTR version 3's SMP group: the order-q subgroup of the 1536-bit MODP group
 * of RFC 3526 §2, generator 2, q = (p-1)/2. Elements are bigints in [1, p-1].
 *
 * This is the group of interoperability with other OTR implementations
 * (python-potr); unMessage's wire uses ristretto255. BigInt arithmetic is not
 * constant time, so this group is for interop and tests, not for secrets
 * exposed to a timing attacker.
 *
 * @module
 */

import { bigintToBytes, SmpError, type SmpGroup } from "./group.ts";

/** RFC 3526 §2: the 1536-bit MODP prime 2^1536 - 2^1472 - 1 + 2^64 * (floor(2^1406 pi) + 741804). */
export const MODP1536_PRIME = BigInt(
  "0x" +
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
    "670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
);
/** RFC 3526 §2: the generator is 2. */
export const MODP1536_GENERATOR = 2n;
/** OTR v3 SMP: the subgroup order q = (p-1)/2 (a safe prime's Sophie Germain prime). */
export const MODP1536_ORDER = (MODP1536_PRIME - 1n) / 2n;
/** Bytes of p: the largest value on the wire. */
const MODP1536_BYTES = 192;
/** Window width of the exponentiation (bits). */
const WINDOW_BITS = 4;

/** `base^exponent mod modulus` by a fixed 4-bit window (not constant time). */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (exponent < 0n) throw new RangeError("Cannot exponentiate: exponent is negative");
  const b = ((base % modulus) + modulus) % modulus;
  const table: bigint[] = [1n, b];
  for (let i = 2; i < 1 << WINDOW_BITS; i++) table.push((table[i - 1]! * b) % modulus);
  let r = 1n;
  for (const digit of exponent.toString(16)) {
    for (let i = 0; i < WINDOW_BITS; i++) r = (r * r) % modulus;
    const d = parseInt(digit, 16);
    if (d !== 0) r = (r * table[d]!) % modulus;
  }
  return r % modulus;
}

/** The MODP group of OTR v3's SMP. */
export const modp1536: SmpGroup<bigint> = {
  name: "modp1536",
  order: MODP1536_ORDER,
  generator: MODP1536_GENERATOR,
  valueBytes: MODP1536_BYTES,

  decodeElement(value: bigint, name: string): bigint {
    // OTR v3 SMP: "check that g2a, g3a ... are >= 2 and <= modulus-2"
    if (value < 2n || value > MODP1536_PRIME - 2n) {
      throw new SmpError("smp_bad_element", `Cannot accept SMP ${name}: outside [2, p-2]`);
    }
    // Subgroup membership: without it a peer could confine exponents to the
    // order-2 subgroup and learn a secret's parity.
    if (modPow(value, MODP1536_ORDER, MODP1536_PRIME) !== 1n) {
      throw new SmpError(
        "smp_bad_element",
        `Cannot accept SMP ${name}: not in the order-q subgroup`,
      );
    }
    return value;
  },

  encodeElement(element: bigint): bigint {
    return element;
  },

  elementBytes(element: bigint): Uint8Array {
    // Minimal big-endian magnitude, as in an OTR MPI.
    return bigintToBytes(element);
  },

  exp(base: bigint, k: bigint): bigint {
    // Every element has order q, so exponents are reduced modulo q.
    return modPow(base, k % MODP1536_ORDER, MODP1536_PRIME);
  },

  mul(a: bigint, b: bigint): bigint {
    return (a * b) % MODP1536_PRIME;
  },

  inverse(a: bigint): bigint {
    // Fermat: a^(p-2) = a^-1 mod p (p prime), as OTR v3 computes inverses.
    return modPow(a, MODP1536_PRIME - 2n, MODP1536_PRIME);
  },

  equals(a: bigint, b: bigint): boolean {
    return a === b;
  },
};
