/**
 * Tests of lib/crypto/kdf.ts: RFC 5869 vectors, RFC 4231 HMAC vectors, a
 * cross-check against WebCrypto, label separation, and wrong inputs.
 *
 * @module
 */

import fc from "fast-check";
import {
  deriveKey,
  deriveKeys,
  deriveKeysInto,
  HKDF_MAX_LENGTH,
  hkdfSha256,
  hkdfSha256Bytes,
  hmacSha256,
} from "../lib/crypto/kdf.ts";
import { fromHex, toHex, utf8 } from "../lib/crypto/bytes.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";

// RFC 5869 Appendix A.1-A.3 (SHA-256)
const RFC5869 = [
  {
    name: "A.1 basic",
    ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
    salt: "000102030405060708090a0b0c",
    info: "f0f1f2f3f4f5f6f7f8f9",
    length: 42,
    okm: "3cb25f25faacd57a90434f64d0362f2a" +
      "2d2d0a90cf1a5a4c5db02d56ecc4c5bf" +
      "34007208d5b887185865",
  },
  {
    name: "A.2 long inputs",
    ikm: range(0x00, 0x50),
    salt: range(0x60, 0xb0),
    info: range(0xb0, 0x100),
    length: 82,
    okm: "b11e398dc80327a1c8e7f78c596a4934" +
      "4f012eda2d4efad8a050cc4c19afa97c" +
      "59045a99cac7827271cb41c65e590e09" +
      "da3275600c2f09b8367793a9aca3db71" +
      "cc30c58179ec3e87c14c01d5c1f3434f" +
      "1d87",
  },
  {
    name: "A.3 empty salt and info",
    ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
    salt: "",
    info: "",
    length: 42,
    okm: "8da4e775a563c18f715f802a063c5a31" +
      "b8a11f5c5ee1879ec3454e5f3c738d2d" +
      "9d201395faa4b61a96c8",
  },
];

function range(from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += i.toString(16).padStart(2, "0");
  return s;
}

for (const v of RFC5869) {
  Deno.test(`hkdfSha256Bytes() matches RFC 5869 ${v.name}`, () => {
    const okm = hkdfSha256Bytes(fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length);
    assertEquals(toHex(okm), v.okm);
  });
}

Deno.test("hkdfSha256() matches RFC 5869 A.3 with an empty string info", () => {
  const v = RFC5869[2]!;
  assertEquals(toHex(hkdfSha256(fromHex(v.ikm), new Uint8Array(0), "", 42)), v.okm);
});

Deno.test("hkdfSha256() encodes info as UTF-8", () => {
  const ikm = utf8("key material");
  const salt = utf8("salt");
  assertEquals(
    hkdfSha256(ikm, salt, "ünï", 32),
    hkdfSha256Bytes(ikm, salt, utf8("ünï"), 32),
  );
});

// RFC 4231 §4.2 and §4.3 (HMAC-SHA-256)
Deno.test("hmacSha256() matches RFC 4231 test cases 1 and 2", () => {
  assertEquals(
    toHex(hmacSha256(fromHex("0b".repeat(20)), utf8("Hi There"))),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  assertEquals(
    toHex(hmacSha256(utf8("Jefe"), utf8("what do ya want for nothing?"))),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
});

Deno.test("hkdfSha256() and hmacSha256() agree with WebCrypto", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 80 }),
      fc.string({ maxLength: 40 }),
      fc.integer({ min: 1, max: 200 }),
      async (ikm, salt, info, length) => {
        const base = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
        const bits = await crypto.subtle.deriveBits(
          { name: "HKDF", hash: "SHA-256", salt, info: new Uint8Array(utf8(info)) },
          base,
          length * 8,
        );
        assertEquals(hkdfSha256(ikm, salt, info, length), new Uint8Array(bits));

        if (ikm.length === 0) return; // WebCrypto refuses an empty HMAC key
        const mac = await crypto.subtle.importKey(
          "raw",
          ikm,
          { name: "HMAC", hash: "SHA-256" },
          false,
          ["sign"],
        );
        const tag = await crypto.subtle.sign("HMAC", mac, salt);
        assertEquals(hmacSha256(ikm, salt), new Uint8Array(tag));
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("deriveKey() is HKDF with a zero salt and the unMessage/v1/ label", () => {
  const key = utf8("root");
  assertEquals(
    deriveKey(key, "hsub"),
    hkdfSha256(key, new Uint8Array(32), "unMessage/v1/hsub", 32),
  );
  assertEquals(deriveKey(key, "hsub", 64).length, 64);
  assertEquals(deriveKey(key, "hsub", 64).subarray(0, 32), deriveKey(key, "hsub"));
});

Deno.test("deriveKey() gives different keys for different labels and keys", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.string({ minLength: 1, maxLength: 20 }),
      (key, a, b) => {
        fc.pre(a !== b);
        assertNotEquals(deriveKey(key, a), deriveKey(key, b));
        const other = key.slice();
        other[0] = other[0]! ^ 1;
        assertNotEquals(deriveKey(key, a), deriveKey(other, a));
      },
    ),
  );
});

Deno.test("hkdfSha256() accepts lengths 1 to 8160 and rejects the rest", () => {
  const ikm = new Uint8Array(32);
  assertEquals(hkdfSha256(ikm, ikm, "x", 1).length, 1);
  assertEquals(hkdfSha256(ikm, ikm, "x", HKDF_MAX_LENGTH).length, 8160);
  for (const bad of [0, -1, HKDF_MAX_LENGTH + 1]) {
    const e = assertThrows(() => hkdfSha256(ikm, ikm, "x", bad), CryptoError, "length");
    assertEquals(e.code, "bad_length");
  }
  for (const bad of [1.5, NaN, Infinity]) {
    assertThrows(() => hkdfSha256(ikm, ikm, "x", bad), TypeError, "length");
  }
});

Deno.test("deriveKey() rejects an empty label", () => {
  const e = assertThrows(() => deriveKey(new Uint8Array(32), ""), CryptoError, "label");
  assertEquals(e.code, "bad_label");
});

// Values of the wrong type or size for any argument.
const WRONG: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  "",
  "abc",
  [],
  [1, 2, 3],
  {},
  new ArrayBuffer(32),
  new Uint16Array(16),
  new Uint8Array(0),
  new Uint8Array(8161),
];

Deno.test("every kdf function throws only TypeError or CryptoError on wrong input", () => {
  const key = new Uint8Array(32);
  // deno-lint-ignore no-explicit-any
  const calls: ((w: any) => unknown)[] = [
    (w) => hkdfSha256(w, key, "i", 32),
    (w) => hkdfSha256(key, w, "i", 32),
    (w) => hkdfSha256(key, key, w, 32),
    (w) => hkdfSha256(key, key, "i", w),
    (w) => hkdfSha256Bytes(key, key, w, 32),
    (w) => hmacSha256(w, key),
    (w) => hmacSha256(key, w),
    (w) => deriveKey(w, "label"),
    (w) => deriveKey(key, w),
    (w) => deriveKey(key, "label", w),
  ];
  let thrown = 0;
  for (const call of calls) {
    for (const w of WRONG) {
      try {
        call(w);
      } catch (e) {
        thrown++;
        assert(
          e instanceof TypeError || e instanceof CryptoError,
          `unexpected ${e instanceof Error ? e.name : typeof e}`,
        );
      }
    }
  }
  assert(thrown > calls.length * 8, `only ${thrown} wrong inputs were rejected`);
});

Deno.test("deriveKeys() gives exactly what deriveKey() gives for each label and length", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 100 }),
      fc.array(
        fc.tuple(fc.string({ minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 100 })),
        {
          maxLength: 4,
        },
      ),
      (key, labels) => {
        assertEquals(deriveKeys(key, labels), labels.map(([l, n]) => deriveKey(key, l, n)));
      },
    ),
    { numRuns: 200 },
  );
  assertThrows(
    () => deriveKeys(new Uint8Array(32), [["a", 32], ["", 32]]),
    CryptoError,
    "label is empty",
  );
});

Deno.test("deriveKeysInto() writes exactly deriveKeys()'s keys, one after another", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 100 }),
      fc.array(
        fc.tuple(fc.string({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 100 })),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
      (key, labels) => {
        const expected = deriveKeys(key, labels);
        const out = new Uint8Array(labels.reduce((n, [, length]) => n + length, 0));
        deriveKeysInto(key, labels, out);
        let offset = 0;
        for (const k of expected) {
          assertEquals(out.subarray(offset, offset + k.length), k);
          offset += k.length;
        }
        // and each equals the single deriveKey
        assertEquals(expected[0], deriveKey(key, labels[0]![0], labels[0]![1]));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("deriveKeysInto() rejects an output of the wrong total length", () => {
  assertThrows(
    () => deriveKeysInto(new Uint8Array(32), [["a", 32], ["b", 24]], new Uint8Array(55)),
    CryptoError,
    "expected 56 bytes",
  );
});
