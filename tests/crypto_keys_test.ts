/**
 * Tests of lib/crypto/keys.ts: RFC 7748 §5.2 and §6.1 vectors, low-order
 * points (canonical and not), a cross-check against WebCrypto X25519, the
 * base64 text form, and wrong inputs.
 *
 * @module
 */

import fc from "fast-check";
import { x25519 } from "@noble/curves/ed25519.js";
import {
  decodePublicKey,
  dh,
  encodePublicKey,
  generateKeyPair,
  isLowOrderPublicKey,
  KEY_LENGTH,
  keyPairFromSecret,
} from "../lib/crypto/keys.ts";
import { fromHex, toBase64, toHex } from "../lib/crypto/bytes.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

// RFC 7748 §5.2
Deno.test("dh() matches the RFC 7748 §5.2 single-step vectors", () => {
  assertEquals(
    toHex(dh(
      fromHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
      fromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
    )),
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  );
  // this u-coordinate has its top bit set: RFC 7748 §5 says to mask it
  assertEquals(
    toHex(dh(
      fromHex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
      fromHex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
    )),
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  );
});

Deno.test("dh() matches the RFC 7748 §5.2 iterated vector after 1 and 1000 steps", () => {
  let k: Uint8Array = fromHex("09" + "00".repeat(31));
  let u: Uint8Array = k.slice();
  for (let i = 1; i <= 1000; i++) {
    const r = dh(k, u);
    u = k;
    k = r;
    if (i === 1) {
      assertEquals(toHex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  assertEquals(toHex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
});

// RFC 7748 §6.1
Deno.test("keyPairFromSecret() and dh() match the RFC 7748 §6.1 exchange", () => {
  const alice = keyPairFromSecret(
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  const bob = keyPairFromSecret(
    fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
  );
  assertEquals(
    toHex(alice.publicKey),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assertEquals(
    toHex(bob.publicKey),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assertEquals(toHex(dh(alice.secretKey, bob.publicKey)), shared);
  assertEquals(toHex(dh(bob.secretKey, alice.publicKey)), shared);
});

const P = (1n << 255n) - 19n;

function leBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

const ORDER8_A = 325606250916557431795983626356110631294008115727848805560023387167927233504n;
const ORDER8_B = 39382357235489614581723060781553021112529911719440698176882885853963445705823n;

/** Every encoding of a small-order u: canonical, + p where < 2^255, top bit set. */
const LOW_ORDER_ENCODINGS: Uint8Array[] = (() => {
  const out: Uint8Array[] = [];
  for (const u of [0n, 1n, P - 1n, ORDER8_A, ORDER8_B]) {
    for (const v of [u, u + P]) {
      if (v >= 1n << 255n) continue;
      out.push(leBytes(v));
      out.push(leBytes(v | (1n << 255n)));
    }
  }
  return out;
})();

Deno.test("isLowOrderPublicKey() flags every encoding of every small-order point", () => {
  assertEquals(LOW_ORDER_ENCODINGS.length, 14);
  for (const key of LOW_ORDER_ENCODINGS) assert(isLowOrderPublicKey(key), toHex(key));
});

Deno.test("the listed small-order points really give an all-zero secret", () => {
  // RFC 7748 §7: a clamped scalar is a multiple of 8, so any point of order
  // 1, 2, 4 or 8 goes to the point at infinity (u = 0); checked with noble's
  // raw ladder, which our checks do not guard
  const rng = seededRng("low-order");
  for (let i = 0; i < 3; i++) {
    const secret = rng(32);
    for (const key of LOW_ORDER_ENCODINGS) {
      let zero: boolean;
      try {
        zero = x25519.scalarMult(secret, key).every((b) => b === 0);
      } catch (e) {
        // noble refuses an all-zero result with this message
        zero = e instanceof Error && e.message.includes("invalid private or public key");
      }
      assert(zero, toHex(key));
      const e = assertThrows(() => dh(secret, key), CryptoError, "low-order");
      assertEquals(e.code, "bad_key");
    }
  }
});

Deno.test("decodePublicKey() rejects every encoding of a small-order point", () => {
  for (const key of LOW_ORDER_ENCODINGS) {
    const e = assertThrows(() => decodePublicKey(toBase64(key)), CryptoError, "low-order");
    assertEquals(e.code, "bad_key");
  }
});

Deno.test("isLowOrderPublicKey() is false for generated keys", () => {
  const rng = seededRng("keys");
  for (let i = 0; i < 50; i++) assert(!isLowOrderPublicKey(generateKeyPair(rng).publicKey));
});

Deno.test("dh() agrees on both sides for random key pairs", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (a, b) => {
        const alice = keyPairFromSecret(a);
        const bob = keyPairFromSecret(b);
        assertEquals(dh(alice.secretKey, bob.publicKey), dh(bob.secretKey, alice.publicKey));
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("keyPairFromSecret() and dh() agree with WebCrypto X25519", async () => {
  const rng = seededRng("webcrypto-x25519");
  for (let i = 0; i < 20; i++) {
    const ours = generateKeyPair(rng);
    const theirs = await crypto.subtle.generateKey({ name: "X25519" }, true, [
      "deriveBits",
    ]) as CryptoKeyPair;
    const theirPublic = new Uint8Array(await crypto.subtle.exportKey("raw", theirs.publicKey));
    // PKCS#8 of an X25519 key ends with its 32-byte secret (RFC 8410 §7)
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", theirs.privateKey));
    const theirSecret = pkcs8.subarray(pkcs8.length - 32);
    assertEquals(keyPairFromSecret(theirSecret).publicKey, theirPublic);
    const ourPublic = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(ours.publicKey),
      { name: "X25519" },
      true,
      [],
    );
    const bits = await crypto.subtle.deriveBits(
      { name: "X25519", public: ourPublic },
      theirs.privateKey,
      256,
    );
    assertEquals(dh(ours.secretKey, theirPublic), new Uint8Array(bits));
  }
});

Deno.test("generateKeyPair() is deterministic in its rng and copies the secret", () => {
  const a = generateKeyPair(seededRng(1));
  const b = generateKeyPair(seededRng(1));
  assertEquals(a.secretKey, b.secretKey);
  assertEquals(a.publicKey, b.publicKey);
  assertNotEquals(a.publicKey, generateKeyPair(seededRng(2)).publicKey);
  const secret = new Uint8Array(32).fill(7);
  const pair = keyPairFromSecret(secret);
  secret.fill(0);
  assertEquals(pair.secretKey, new Uint8Array(32).fill(7));
});

Deno.test("a key pair's printed form never shows the secret key", () => {
  const pair = keyPairFromSecret(new Uint8Array(32).fill(0xab));
  const shown = Deno.inspect(pair) + JSON.stringify(Object.keys(pair));
  assert(shown.includes("[redacted]"), shown);
  assert(!shown.includes("171"), shown);
  assert(!shown.includes(toBase64(pair.secretKey)), shown);
  assert(shown.includes(encodePublicKey(pair.publicKey)), shown);
});

Deno.test("encodePublicKey() gives 44-character base64 that decodes back", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
      const { publicKey } = keyPairFromSecret(secret);
      const text = encodePublicKey(publicKey);
      assertEquals(text.length, 44);
      assert(/^[A-Za-z0-9+/]{43}=$/.test(text), text);
      assertEquals(decodePublicKey(text), publicKey);
      assertEquals(decodePublicKey(`  ${text}\n`), publicKey);
    }),
    { numRuns: 50 },
  );
  const sample = "v4kU6s+NuJW/Znbjz0AxoI9Gvl1XDS5eiOTm6cE38E4=";
  assertEquals(encodePublicKey(decodePublicKey(sample)), sample);
});

Deno.test("decodePublicKey() rejects bad text with a bad_key message saying why", () => {
  const good = "v4kU6s+NuJW/Znbjz0AxoI9Gvl1XDS5eiOTm6cE38E4=";
  const cases: [string, string][] = [
    ["", "expected 44 base64 characters, got 0"],
    [good.slice(0, 43), "got 43"],
    [good + "A", "got 45"],
    [good.replace("+", "-"), "not valid base64"],
    [good.replace("=", "F"), "expected 32 bytes, got 33"],
    [toBase64(new Uint8Array(31).fill(9)), "expected 32 bytes, got 31"],
    [good.replace("4=", "5="), "not valid base64"], // non-canonical trailing bits
    [good.slice(0, 20) + " " + good.slice(21), "not valid base64"],
    ["A".repeat(100_000), "got 100000"],
  ];
  for (const [text, message] of cases) {
    const e = assertThrows(() => decodePublicKey(text), CryptoError, message);
    assertEquals(e.code, "bad_key");
    assert(!e.message.includes(text) || text === "", "message echoes input");
  }
});

const WRONG: unknown[] = [
  undefined,
  null,
  0,
  "",
  "x".repeat(32),
  [],
  {},
  new ArrayBuffer(32),
  new Uint16Array(16),
  new Uint8Array(0),
  new Uint8Array(31),
  new Uint8Array(33),
  new Uint8Array(64),
];

Deno.test("every keys function throws only TypeError or CryptoError on wrong input", () => {
  const key = generateKeyPair(seededRng("wrong")).publicKey;
  // deno-lint-ignore no-explicit-any
  const calls: ((w: any) => unknown)[] = [
    (w) => generateKeyPair(w),
    (w) => generateKeyPair(() => w),
    (w) => keyPairFromSecret(w),
    (w) => dh(w, key),
    (w) => dh(key, w),
    (w) => encodePublicKey(w),
    (w) => decodePublicKey(w),
    (w) => isLowOrderPublicKey(w),
  ];
  for (const call of calls) {
    for (const w of WRONG) {
      const e = assertThrows(() => call(w));
      assert(e instanceof TypeError || e instanceof CryptoError, `unexpected ${e.name}`);
    }
  }
  assertEquals(KEY_LENGTH, 32);
});
