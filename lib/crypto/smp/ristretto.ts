/**
 * ristretto255 (RFC 9496) as an SMP group, through `@noble/curves`: the group
 * unMessage's SMP runs over on the wire.
 *
 * Wire form: an element travels as the integer whose big-endian bytes are its
 * 32-byte canonical encoding (so the hex of that integer, padded to 64
 * digits, is the hex of the encoding). Decoding rejects integers of more than
 * 32 bytes, non-canonical encodings (RFC 9496 §4.3.1) and the identity. The
 * proof hash covers the canonical 32-byte encodings (see `proofHash`).
 *
 * @module
 */

import { ristretto255 } from "@noble/curves/ed25519.js";
import { bigintFromBytes, bigintToBytes, mod, SmpError, type SmpGroup } from "./group.ts";

/**
 * A ristretto255 group element: the operations of `@noble/curves`' point
 * that SMP uses. Every value of this type is one of noble's points (made by
 * {@linkcode ristretto255Group}); the interface only keeps noble's type out
 * of our API.
 */
export interface RistrettoPoint {
  /** Whether this is the identity element. */
  is0(): boolean;
  /** The 32-byte canonical encoding (RFC 9496 §4.3.2). */
  toBytes(): Uint8Array;
  /** This element to the power `scalar` (1 <= scalar < l). */
  multiply(scalar: bigint): RistrettoPoint;
  /** The group operation. */
  add(other: RistrettoPoint): RistrettoPoint;
  /** The inverse element. */
  negate(): RistrettoPoint;
  /** Equality of group elements (RFC 9496 §4.3.3). */
  equals(other: RistrettoPoint): boolean;
}

const Point = ristretto255.Point;
/** RFC 9496 §4: the group order l = 2^252 + 27742317777372353535851937790883648493. */
export const RISTRETTO255_ORDER: bigint = Point.Fn.ORDER;
/** RFC 9496 §4.3: encodings are 32 bytes. */
export const RISTRETTO255_BYTES = 32;

/** The ristretto255 group for SMP. */
export const ristretto255Group: SmpGroup<RistrettoPoint> = {
  name: "ristretto255",
  order: RISTRETTO255_ORDER,
  generator: Point.BASE,
  valueBytes: RISTRETTO255_BYTES,

  decodeElement(value: bigint, name: string): RistrettoPoint {
    if (value < 0n || value >= 1n << BigInt(8 * RISTRETTO255_BYTES)) {
      throw new SmpError("smp_bad_element", `Cannot accept SMP ${name}: not 32 bytes`);
    }
    let point: RistrettoPoint;
    try {
      // RFC 9496 §4.3.1: decoding rejects every non-canonical encoding.
      point = Point.fromBytes(bigintToBytes(value, RISTRETTO255_BYTES));
    } catch (cause) {
      throw new SmpError("smp_bad_element", `Cannot accept SMP ${name}: invalid encoding`, {
        cause,
      });
    }
    // The identity would make a proof or the final comparison trivial.
    if (point.is0()) {
      throw new SmpError("smp_bad_element", `Cannot accept SMP ${name}: identity element`);
    }
    return point;
  },

  encodeElement(element: RistrettoPoint): bigint {
    return bigintFromBytes(element.toBytes());
  },

  elementBytes(element: RistrettoPoint): Uint8Array {
    return element.toBytes();
  },

  exp(base: RistrettoPoint, k: bigint): RistrettoPoint {
    const scalar = mod(k, RISTRETTO255_ORDER);
    // noble's constant-time multiply takes 1 <= k < l; 0 gives the identity.
    return scalar === 0n ? Point.ZERO : base.multiply(scalar);
  },

  mul(a: RistrettoPoint, b: RistrettoPoint): RistrettoPoint {
    return a.add(b);
  },

  inverse(a: RistrettoPoint): RistrettoPoint {
    return a.negate();
  },

  equals(a: RistrettoPoint, b: RistrettoPoint): boolean {
    return a.equals(b);
  },
};
