/**
 * Tests of lib/crypto/xchacha.ts: both XChaCha20-Poly1305 implementations
 * (native node:crypto after HChaCha20, and pure noble) on the
 * draft-irtf-cfrg-xchacha-03 §A.3.1 vector, agreement of the two on random
 * keys, nonces, plaintexts and associated data (sealed by one, opened by the
 * other), refusal of any changed byte by the native one, and the selection
 * of the native one in Deno.
 *
 * @module
 */

import fc from "fast-check";
import { fromHex, toHex, utf8 } from "../lib/crypto/bytes.ts";
import { nativeXChaCha, nobleXChaCha, xchachaImplementation } from "../lib/crypto/xchacha.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";

// draft-irtf-cfrg-xchacha-03 §A.3.1
const VECTOR = {
  plaintext: "Ladies and Gentlemen of the class of '99: If I could offer you only one tip " +
    "for the future, sunscreen would be it.",
  ad: "50515253c0c1c2c3c4c5c6c7",
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
  sealed: "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
    "21f9664c97637da9768812f615c68b13b52e" + "c0875924c1c7987947deafd8780acf49",
};

for (const impl of [nativeXChaCha, nobleXChaCha]) {
  Deno.test(`${impl.name} XChaCha20-Poly1305 matches draft-irtf-cfrg-xchacha §A.3.1 both ways`, () => {
    const [key, nonce, ad] = [fromHex(VECTOR.key), fromHex(VECTOR.nonce), fromHex(VECTOR.ad)];
    const sealed = impl.seal(key, nonce, utf8(VECTOR.plaintext), ad);
    assertEquals(toHex(sealed), VECTOR.sealed);
    assertEquals(sealed.constructor, Uint8Array);
    const opened = impl.open(key, nonce, fromHex(VECTOR.sealed), ad);
    assertEquals(new TextDecoder().decode(opened), VECTOR.plaintext);
    assertEquals(opened.constructor, Uint8Array);
  });
}

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

Deno.test("native and noble XChaCha20-Poly1305 agree and open each other's output", () => {
  fc.assert(
    fc.property(bytes(32, 32), bytes(24, 24), bytes(0, 300), bytes(0, 100), (k, n, p, ad) => {
      const native = nativeXChaCha.seal(k, n, p, ad);
      assertEquals(native, nobleXChaCha.seal(k, n, p, ad));
      assertEquals(nobleXChaCha.open(k, n, native, ad), p);
      assertEquals(nativeXChaCha.open(k, n, native, ad), p);
    }),
    { numRuns: 300 },
  );
});

Deno.test("native XChaCha20-Poly1305 refuses any changed byte of ciphertext, tag, nonce or AD", () => {
  fc.assert(
    fc.property(
      bytes(32, 32),
      bytes(24, 24),
      bytes(0, 100),
      bytes(1, 40),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.constantFrom("sealed", "nonce", "ad"),
      (k, n, p, ad, at, delta, where) => {
        const sealed = nativeXChaCha.seal(k, n, p, ad);
        const parts = { sealed: sealed.slice(), nonce: n.slice(), ad: ad.slice() };
        const target = parts[where];
        target[at % target.length] = target[at % target.length]! ^ delta;
        assertThrows(() => nativeXChaCha.open(k, parts.nonce, parts.sealed, parts.ad));
      },
    ),
    { numRuns: 300 },
  );
  assertThrows(() =>
    nativeXChaCha.open(
      new Uint8Array(32),
      new Uint8Array(24),
      new Uint8Array(15),
      new Uint8Array(0),
    )
  );
});

Deno.test("Deno selects the native XChaCha20-Poly1305", () => {
  assert(xchachaImplementation() === nativeXChaCha);
});
