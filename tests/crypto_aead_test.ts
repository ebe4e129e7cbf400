/**
 * Tests of lib/crypto/aead.ts: the draft-irtf-cfrg-xchacha-03 §A.3.1 vector,
 * a cross-check against libsodium (when the system has it), tampering, and
 * wrong inputs.
 *
 * @module
 */

import fc from "fast-check";
import {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  open,
  seal,
} from "../lib/crypto/aead.ts";
import { fromHex, toHex, utf8 } from "../lib/crypto/bytes.ts";
import { CryptoError, isUnmessageError } from "../lib/errors.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

// draft-irtf-cfrg-xchacha-03 §A.3.1
const VECTOR = {
  plaintext: "Ladies and Gentlemen of the class of '99: If I could offer you only one tip " +
    "for the future, sunscreen would be it.",
  ad: "50515253c0c1c2c3c4c5c6c7",
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
  ciphertext: "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
    "21f9664c97637da9768812f615c68b13b52e",
  tag: "c0875924c1c7987947deafd8780acf49",
};

const MESSAGE = "Cannot decrypt: authentication failed";

function assertDecryptFailed(fn: () => unknown): void {
  const e = assertThrows(fn, CryptoError, MESSAGE);
  assertEquals(e.code, "decrypt_failed");
}

Deno.test("seal() matches draft-irtf-cfrg-xchacha §A.3.1", () => {
  const sealed = seal(
    fromHex(VECTOR.key),
    fromHex(VECTOR.nonce),
    utf8(VECTOR.plaintext),
    fromHex(VECTOR.ad),
  );
  assertEquals(toHex(sealed), VECTOR.ciphertext + VECTOR.tag);
});

Deno.test("open() recovers the draft-irtf-cfrg-xchacha §A.3.1 plaintext", () => {
  const opened = open(
    fromHex(VECTOR.key),
    fromHex(VECTOR.nonce),
    fromHex(VECTOR.ciphertext + VECTOR.tag),
    fromHex(VECTOR.ad),
  );
  assertEquals(new TextDecoder().decode(opened), VECTOR.plaintext);
});

Deno.test("seal() output is plaintext length plus the tag, and opens back", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
      (key, nonce, plaintext, ad) => {
        const sealed = seal(key, nonce, plaintext, ad);
        assertEquals(sealed.length, plaintext.length + AEAD_TAG_LENGTH);
        assertEquals(open(key, nonce, sealed, ad), plaintext);
      },
    ),
  );
});

Deno.test("open() treats missing and empty associated data alike", () => {
  const key = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(24).fill(2);
  const sealed = seal(key, nonce, utf8("hi"));
  assertEquals(open(key, nonce, sealed, new Uint8Array(0)), utf8("hi"));
});

Deno.test("open() rejects every single-bit change of a sealed message", () => {
  const rng = seededRng("aead-tamper");
  const key = rng(32);
  const nonce = rng(24);
  const ad = rng(7);
  const sealed = seal(key, nonce, rng(40), ad);
  for (let i = 0; i < sealed.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = sealed.slice();
      bad[i] = bad[i]! ^ (1 << bit);
      assertDecryptFailed(() => open(key, nonce, bad, ad));
    }
  }
});

Deno.test("open() rejects a wrong key, nonce or associated data", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.uint8Array({ maxLength: 64 }),
      fc.nat({ max: 31 }),
      (key, nonce, plaintext, at) => {
        const ad = utf8("ad");
        const sealed = seal(key, nonce, plaintext, ad);
        const otherKey = key.slice();
        otherKey[at] = otherKey[at]! ^ 0x80;
        const otherNonce = nonce.slice();
        otherNonce[at % 24] = otherNonce[at % 24]! ^ 1;
        assertDecryptFailed(() => open(otherKey, nonce, sealed, ad));
        assertDecryptFailed(() => open(key, otherNonce, sealed, ad));
        assertDecryptFailed(() => open(key, nonce, sealed, utf8("ae")));
        assertDecryptFailed(() => open(key, nonce, sealed));
      },
    ),
  );
});

Deno.test("open() rejects every truncation and extension with decrypt_failed", () => {
  const key = new Uint8Array(32).fill(3);
  const nonce = new Uint8Array(24).fill(4);
  const sealed = seal(key, nonce, utf8("a short message"));
  for (let n = 0; n < sealed.length; n++) {
    assertDecryptFailed(() => open(key, nonce, sealed.subarray(0, n)));
  }
  const longer = new Uint8Array(sealed.length + 1);
  longer.set(sealed);
  assertDecryptFailed(() => open(key, nonce, longer));
});

Deno.test("open() throws only decrypt_failed for random ciphertexts", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (junk) => {
      assertDecryptFailed(() => open(new Uint8Array(32), new Uint8Array(24), junk));
    }),
  );
});

const WRONG: unknown[] = [
  undefined,
  null,
  0,
  "",
  "0".repeat(32),
  [],
  {},
  new ArrayBuffer(32),
  new Uint16Array(16),
  new Uint8Array(0),
  new Uint8Array(16),
  new Uint8Array(31),
  new Uint8Array(33),
];

Deno.test("seal() and open() throw only TypeError or CryptoError on wrong input", () => {
  const key = new Uint8Array(AEAD_KEY_LENGTH);
  const nonce = new Uint8Array(AEAD_NONCE_LENGTH);
  const sealed = seal(key, nonce, new Uint8Array(5));
  // deno-lint-ignore no-explicit-any
  const calls: ((w: any) => unknown)[] = [
    (w) => seal(w, nonce, sealed),
    (w) => seal(key, w, sealed),
    (w) => seal(key, nonce, w),
    (w) => seal(key, nonce, sealed, w),
    (w) => open(w, nonce, sealed),
    (w) => open(key, w, sealed),
    (w) => open(key, nonce, w),
    (w) => open(key, nonce, sealed, w),
  ];
  let thrown = 0;
  for (const call of calls) {
    for (const w of WRONG) {
      try {
        call(w);
      } catch (e) {
        thrown++;
        assert(e instanceof TypeError || isUnmessageError(e), `unexpected ${String(e)}`);
        if (e instanceof CryptoError) {
          assert(["bad_length", "decrypt_failed"].includes(e.code), e.code);
        }
      }
    }
  }
  assert(thrown >= calls.length * 9, `only ${thrown} wrong inputs were rejected`);
});

Deno.test("seal() and open() throw bad_length naming a wrong-size key or nonce", () => {
  const e1 = assertThrows(
    () => seal(new Uint8Array(31), new Uint8Array(24), new Uint8Array(1)),
    CryptoError,
    "key",
  );
  assertEquals(e1.code, "bad_length");
  const e2 = assertThrows(
    () => open(new Uint8Array(32), new Uint8Array(12), new Uint8Array(20)),
    CryptoError,
    "nonce",
  );
  assertEquals(e2.code, "bad_length");
});

// Second implementation: libsodium's crypto_aead_xchacha20poly1305_ietf_*.
const sodium = (() => {
  for (const path of ["libsodium.so.23", "libsodium.so", "libsodium.dylib"]) {
    try {
      const lib = Deno.dlopen(path, {
        sodium_init: { parameters: [], result: "i32" },
        crypto_aead_xchacha20poly1305_ietf_encrypt: {
          parameters: [
            "buffer",
            "buffer",
            "buffer",
            "u64",
            "buffer",
            "u64",
            "pointer",
            "buffer",
            "buffer",
          ],
          result: "i32",
        },
      });
      if (lib.symbols.sodium_init() < 0) throw new Error("sodium_init failed");
      return lib;
    } catch {
      // not installed under this name
    }
  }
  return undefined;
})();

Deno.test({
  name: "seal() agrees with libsodium on random inputs",
  ignore: sodium === undefined,
  fn() {
    const lib = sodium!;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 30 }),
        (key, nonce, plaintext, ad) => {
          const out = new Uint8Array(plaintext.length + AEAD_TAG_LENGTH);
          const outLength = new BigUint64Array(1);
          const rc = lib.symbols.crypto_aead_xchacha20poly1305_ietf_encrypt(
            out,
            outLength,
            plaintext,
            BigInt(plaintext.length),
            ad,
            BigInt(ad.length),
            null,
            nonce,
            key,
          );
          assertEquals(rc, 0);
          assertEquals(seal(key, nonce, plaintext, ad), out);
        },
      ),
    );
  },
});

globalThis.addEventListener("unload", () => sodium?.close());
