/**
 * Tests of lib/crypto/x25519.ts: both implementations (native node:crypto
 * and pure noble) on the RFC 7748 vectors, agreement of the two on random
 * secret keys and on arbitrary 32-byte u-coordinates (top bit set,
 * non-canonical values, twist points), and the selection of the native one
 * in Deno.
 *
 * @module
 */

import fc from "fast-check";
import { fromHex, toHex } from "../lib/crypto/bytes.ts";
import {
  nativeX25519,
  nobleX25519,
  x25519Implementation,
  x25519PublicKey,
  x25519SharedSecret,
} from "../lib/crypto/x25519.ts";
import { assert, assertEquals } from "./_assert.ts";

const IMPLEMENTATIONS = [nativeX25519, nobleX25519];

// RFC 7748 §5.2 single-step vectors: scalar, u-coordinate, output
const SINGLE_STEP = [
  [
    "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  ],
  [
    "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
    // top bit set: RFC 7748 §5 masks it
    "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  ],
] as const;

for (const impl of IMPLEMENTATIONS) {
  Deno.test(`${impl.name} X25519 matches the RFC 7748 §5.2 single-step vectors`, () => {
    for (const [k, u, out] of SINGLE_STEP) {
      assertEquals(toHex(impl.sharedSecret(fromHex(k), fromHex(u))), out);
    }
  });

  Deno.test(`${impl.name} X25519 matches the RFC 7748 §5.2 iterated vector after 1000 steps`, () => {
    let k: Uint8Array = fromHex("09" + "00".repeat(31));
    let u: Uint8Array = k.slice();
    for (let i = 1; i <= 1000; i++) {
      const r = impl.sharedSecret(k, u);
      u = k;
      k = r;
      if (i === 1) {
        assertEquals(toHex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
      }
    }
    assertEquals(toHex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
  });

  Deno.test(`${impl.name} X25519 matches the RFC 7748 §6.1 key pairs and shared secret`, () => {
    const a = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const b = fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    const aPub = impl.publicKey(a);
    const bPub = impl.publicKey(b);
    assertEquals(toHex(aPub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    assertEquals(toHex(bPub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    assertEquals(toHex(impl.sharedSecret(a, bPub)), shared);
    assertEquals(toHex(impl.sharedSecret(b, aPub)), shared);
  });

  Deno.test(`${impl.name} X25519 returns plain 32-byte Uint8Arrays`, () => {
    const k = new Uint8Array(32).fill(7);
    for (const out of [impl.publicKey(k), impl.sharedSecret(k, impl.publicKey(k))]) {
      assertEquals(out.constructor, Uint8Array);
      assertEquals(out.length, 32);
    }
  });
}

Deno.test("native and noble X25519 agree on public keys of random secret keys", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (k) => {
      assertEquals(nativeX25519.publicKey(k), nobleX25519.publicKey(k));
    }),
    { numRuns: 100 },
  );
});

Deno.test("native and noble X25519 agree on arbitrary u-coordinates (masked, non-canonical, twist)", () => {
  const u32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
  // p + small, and 2^255 - 1 and neighbours: the non-canonical encodings
  const edgy = fc.integer({ min: 0, max: 40 }).map((d) => {
    const u = new Uint8Array(32).fill(0xff);
    u[0] = 0xda + d; // around p = 2^255 - 19 (low byte 0xed)
    u[31] = d % 2 === 0 ? 0x7f : 0xff;
    return u;
  });
  fc.assert(
    fc.property(u32, fc.oneof(u32, edgy), (k, u) => {
      let native: Uint8Array | "threw";
      let noble: Uint8Array | "threw";
      try {
        native = nativeX25519.sharedSecret(k, u);
      } catch {
        native = "threw";
      }
      try {
        noble = nobleX25519.sharedSecret(k, u);
      } catch {
        noble = "threw";
      }
      // both reject only an all-zero result; otherwise the bytes are equal
      if (native === "threw" || noble === "threw") {
        assert(native === "threw" || native.every((b) => b === 0), "native gave non-zero");
        assert(noble === "threw" || noble.every((b) => b === 0), "noble gave non-zero");
      } else {
        assertEquals(native, noble);
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("native and noble X25519 agree on exchanges between random key pairs", () => {
  const k32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
  fc.assert(
    fc.property(k32, k32, (a, b) => {
      const shared = nobleX25519.sharedSecret(a, nobleX25519.publicKey(b));
      assertEquals(nativeX25519.sharedSecret(a, nativeX25519.publicKey(b)), shared);
      assertEquals(nativeX25519.sharedSecret(b, nativeX25519.publicKey(a)), shared);
    }),
    { numRuns: 100 },
  );
});

Deno.test("Deno selects the native X25519 and the exported functions use it", () => {
  assertEquals(x25519Implementation().name, "node:crypto");
  const k = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  assertEquals(
    toHex(x25519PublicKey(k)),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  const u = fromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  assertEquals(x25519SharedSecret(k, u), nobleX25519.sharedSecret(k, u));
});
