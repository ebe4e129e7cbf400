/**
 * The raw X25519 function of RFC 7748 §5 behind one small interface, with
 * two implementations: the runtime's native one (`node:crypto`, OpenSSL in
 * Deno and Node) and the pure JavaScript one of `@noble/curves`, about six
 * times slower per shared secret (5-7.5x in tests/bench/crypto_bench.ts),
 * kept as the fallback. The native one is
 * used when it is present and passes a known-answer self-test (RFC 7748
 * §6.1) on first use; a call that throws in the native one is retried in
 * the pure one.
 *
 * Only the ladder lives here: the low-order checks, the all-zero check and
 * the argument checks stay in keys.ts, so both implementations are held to
 * exactly the same rules.
 *
 * Key material: the native path builds a DER key object from the secret key
 * for the duration of one call; our own copies of it are wiped, the
 * runtime's are released by its garbage collector.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, diffieHellman } from "node:crypto";
import { x25519 as nobleCurve } from "@noble/curves/ed25519.js";
import { fromHex, toHex, wipe } from "./bytes.ts";

/** One implementation of X25519 (RFC 7748 §5), without any key checks. */
export interface X25519Implementation {
  /** A name for tests and benchmarks. */
  readonly name: string;
  /** X25519(secretKey, 9): the public key of a 32-byte secret key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** X25519(secretKey, publicKey); may be all zero, may throw for such a result. */
  sharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

/** The pure JavaScript implementation (`@noble/curves`). */
export const nobleX25519: X25519Implementation = {
  name: "noble",
  publicKey: (secretKey) => nobleCurve.getPublicKey(secretKey),
  sharedSecret: (secretKey, publicKey) => nobleCurve.getSharedSecret(secretKey, publicKey),
};

// RFC 8410 §7 / RFC 5958: PKCS#8 OneAsymmetricKey of an X25519 private key
// (algorithm OID 1.3.101.110) is this fixed 16-byte prefix ‖ the 32 raw bytes
const PKCS8_PREFIX = fromHex("302e020100300506032b656e04220420");
// RFC 8410 §4 / RFC 5280: SubjectPublicKeyInfo of an X25519 public key is
// this fixed 12-byte prefix ‖ the 32 raw bytes
const SPKI_PREFIX = fromHex("302a300506032b656e032100");

function withPrefix(prefix: Uint8Array, key: Uint8Array): Buffer {
  const der = Buffer.alloc(prefix.length + key.length);
  der.set(prefix);
  der.set(key, prefix.length);
  return der;
}

function privateKeyObject(secretKey: Uint8Array) {
  const der = withPrefix(PKCS8_PREFIX, secretKey);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    wipe(der);
  }
}

/** A plain Uint8Array copy of a runtime Buffer, which is then zeroed. */
function plainCopy(buffer: Uint8Array): Uint8Array {
  const out = new Uint8Array(buffer);
  buffer.fill(0);
  return out;
}

/** The runtime's native implementation (`node:crypto`, OpenSSL). */
export const nativeX25519: X25519Implementation = {
  name: "node:crypto",
  publicKey(secretKey) {
    const spki = createPublicKey(privateKeyObject(secretKey)).export({
      format: "der",
      type: "spki",
    });
    return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
  },
  sharedSecret(secretKey, publicKey) {
    const peer = createPublicKey({
      key: withPrefix(SPKI_PREFIX, publicKey),
      format: "der",
      type: "spki",
    });
    return plainCopy(diffieHellman({ privateKey: privateKeyObject(secretKey), publicKey: peer }));
  },
};

// RFC 7748 §6.1: Alice's and Bob's key pairs and their shared secret
const KAT = {
  aliceSecret: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  alicePublic: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  bobPublic: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
} as const;

function passesSelfTest(impl: X25519Implementation): boolean {
  try {
    const secret = fromHex(KAT.aliceSecret);
    const pub = impl.publicKey(secret);
    const shared = impl.sharedSecret(secret, fromHex(KAT.bobPublic));
    return toHex(pub) === KAT.alicePublic && toHex(shared) === KAT.shared;
  } catch {
    return false;
  }
}

let selected: X25519Implementation | null = null;

/** The implementation in use: native when it passed its self-test, else noble. */
export function x25519Implementation(): X25519Implementation {
  if (selected === null) selected = passesSelfTest(nativeX25519) ? nativeX25519 : nobleX25519;
  return selected;
}

/** X25519(secretKey, 9) with the selected implementation, the pure one if it throws. */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  const impl = x25519Implementation();
  if (impl === nobleX25519) return nobleX25519.publicKey(secretKey);
  try {
    return impl.publicKey(secretKey);
  } catch {
    return nobleX25519.publicKey(secretKey);
  }
}

/**
 * X25519(secretKey, publicKey) with the selected implementation, the pure
 * one if it throws (which then throws too for an all-zero result).
 */
export function x25519SharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const impl = x25519Implementation();
  if (impl === nobleX25519) return nobleX25519.sharedSecret(secretKey, publicKey);
  try {
    return impl.sharedSecret(secretKey, publicKey);
  } catch {
    return nobleX25519.sharedSecret(secretKey, publicKey);
  }
}
