/**
 * Tests of lib/crypto/onion.ts: tor's own address vectors, mutations of the
 * checksum, version and key, the ADD_ONION key blob against an independent
 * computation, ed25519 signatures (RFC 8032 §7.1), and wrong inputs.
 *
 * @module
 */

import fc from "fast-check";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { concatBytes, fromBase64, fromHex, toHex, utf8 } from "../lib/crypto/bytes.ts";
import {
  generateOnionKey,
  ONION_ADDRESS_LENGTH,
  onionAddressFromPublicKey,
  onionKeyFromSeed,
  parseOnionAddress,
  signWithOnionKey,
  torKeyBlob,
  verifyOnionSignature,
} from "../lib/crypto/onion.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

// RFC 8032 §7.1 TEST 1; tor's src/test/test_hs_common.c (test_build_address)
// pins the address of this public key
const RFC_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC_ADDRESS = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
// SHA-512 of RFC_SEED, clamped, computed independently with Python's hashlib;
// a real tor 0.4 answered ADD_ONION with this blob with ServiceID=RFC_ADDRESS
const RFC_BLOB = "ED25519-V3:MHyDhk8oM8tCei7xwAoBPP3/J2jZgMCjpSDwBpBN6U+bTwr+KAt0aneGhOdU" +
  "QlAgV7dHOgPwj5b1o46Sh+Afjw==";
// RFC 8032 §7.1 TEST 1 signature of the empty message
const RFC_SIGNATURE = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
// tor's test_hs_common.c once called this address valid; its checksum and
// version are right, but its key has a torsion component, and tor rejects it
// since hs_address_is_valid() calls ed25519_validate_pubkey()
const TOR_TORSION_ADDRESS = "p3xnclpu4mu22dwaurjtsybyqk4xfjmcfz6z62yl24uwmhjatiwnlnad";
// tor's test_hs_common.c (from prop224): invalid checksums
const TOR_BAD_CHECKSUMS = [
  "l5satjgud6gucryazcyvyvhuxhr74u6ygigiuyixe3a6ysis67ororad",
  "btojiu7nu5y5iwut64eufevogqdw4wmqzugnoluw232r4t3ecsfv37ad",
];

function assertBadAddress(text: string, includes: string): void {
  const e = assertThrows(() => parseOnionAddress(text), CryptoError, includes);
  assertEquals(e.code, "bad_address");
}

Deno.test("onionAddressFromPublicKey() matches tor's test vector", () => {
  assertEquals(onionAddressFromPublicKey(fromHex(RFC_PUBLIC)), RFC_ADDRESS);
});

Deno.test("onionKeyFromSeed() gives the RFC 8032 public key and tor's address", () => {
  const key = onionKeyFromSeed(fromHex(RFC_SEED));
  assertEquals(toHex(key.publicKey), RFC_PUBLIC);
  assertEquals(key.address, RFC_ADDRESS);
  assertEquals(toHex(key.seed), RFC_SEED);
});

Deno.test("parseOnionAddress() accepts tor's vectors with or without .onion, any case", () => {
  for (
    const text of [
      RFC_ADDRESS,
      RFC_ADDRESS + ".onion",
      RFC_ADDRESS.toUpperCase() + ".ONION",
      ` ${RFC_ADDRESS}.Onion\n`,
    ]
  ) {
    assertEquals(toHex(parseOnionAddress(text)), RFC_PUBLIC);
  }
});

Deno.test("torKeyBlob() matches an independently computed expanded key", () => {
  assertEquals(torKeyBlob(fromHex(RFC_SEED)), RFC_BLOB);
});

Deno.test("torKeyBlob() holds a clamped scalar whose public key is the onion key", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const blob = torKeyBlob(seed);
      assert(blob.startsWith("ED25519-V3:"));
      const expanded = fromBase64(blob.slice("ED25519-V3:".length));
      assertEquals(expanded.length, 64);
      assertEquals(expanded[0]! & 7, 0);
      assertEquals(expanded[31]! & 0xc0, 0x40);
      const { head, prefix } = ed25519.utils.getExtendedPublicKey(seed);
      assertEquals(expanded.subarray(0, 32), head);
      assertEquals(expanded.subarray(32), prefix);
      // the scalar times the base point is the public key of the address
      let scalar = 0n;
      for (let i = 31; i >= 0; i--) scalar = (scalar << 8n) | BigInt(expanded[i]!);
      const point = ed25519.Point.BASE.multiply(scalar % ed25519.Point.CURVE().n);
      assertEquals(point.toBytes(), onionKeyFromSeed(seed).publicKey);
    }),
    { numRuns: 30 },
  );
});

Deno.test("onion addresses round-trip for random keys", () => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const key = generateOnionKey(seededRng(seed));
      assertEquals(key.address.length, ONION_ADDRESS_LENGTH);
      assert(/^[a-z2-7]{55}d$/.test(key.address), key.address);
      assertEquals(parseOnionAddress(key.address), key.publicKey);
      assertEquals(parseOnionAddress(key.address.toUpperCase() + ".onion"), key.publicKey);
    }),
    { numRuns: 50 },
  );
});

Deno.test("parseOnionAddress() rejects every single-character change", () => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let rejected = 0;
  for (let i = 0; i < RFC_ADDRESS.length; i++) {
    for (const c of alphabet) {
      if (c === RFC_ADDRESS[i]) continue;
      const text = RFC_ADDRESS.slice(0, i) + c + RFC_ADDRESS.slice(i + 1);
      const e = assertThrows(() => parseOnionAddress(text), CryptoError);
      assertEquals(e.code, "bad_address");
      rejected++;
    }
  }
  assertEquals(rejected, 56 * 31);
});

/** Builds an address from raw parts, with a correct checksum unless given. */
function rawAddress(publicKey: Uint8Array, version: number, sum?: Uint8Array): string {
  const check = sum ??
    sha3_256(concatBytes(utf8(".onion checksum"), publicKey, Uint8Array.of(version))).subarray(
      0,
      2,
    );
  const bytes = concatBytes(publicKey, check, Uint8Array.of(version));
  // an independent base32 encoder (RFC 4648 §6), by bit strings
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = "";
  for (const b of bytes) bits += b.toString(2).padStart(8, "0");
  let out = "";
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

Deno.test("parseOnionAddress() names the failing part: version, checksum, key", () => {
  const pub = fromHex(RFC_PUBLIC);
  assertEquals(rawAddress(pub, 3), RFC_ADDRESS);
  // a correct checksum over another version
  assertBadAddress(rawAddress(pub, 2), "version 2 is not supported");
  assertBadAddress(rawAddress(pub, 4), "version 4");
  // a wrong checksum over the right version
  assertBadAddress(rawAddress(pub, 3, Uint8Array.of(0, 0)), "checksum");
  // a typo in the last character changes the version byte, and the checksum
  // (which covers it) says so before the version is judged
  for (const last of "abcefghijklmnopqrstuvwxyz234567") {
    assertBadAddress(RFC_ADDRESS.slice(0, -1) + last, "checksum does not match: check for a typo");
  }
  // a correct checksum and version over a key that is not a point, or one of
  // small order (the identity), or with a torsion component
  // y = 2 is not on the curve; y = 1 is the identity
  assertBadAddress(rawAddress(fromHex("02" + "00".repeat(31)), 3), "valid ed25519 key");
  assertBadAddress(rawAddress(fromHex("01" + "00".repeat(31)), 3), "valid ed25519 key");
  // plus a point of order 8 (RFC 8032 §5.1 torsion subgroup)
  const torsioned = ed25519.Point.fromBytes(pub).add(
    ed25519.Point.fromHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
  ).toBytes();
  assertBadAddress(rawAddress(torsioned, 3), "valid ed25519 key");
  // y = p (non-canonical encoding of y = 0)
  const nonCanonical = fromHex("ed" + "ff".repeat(30) + "7f");
  assertBadAddress(rawAddress(nonCanonical, 3), "valid ed25519 key");
});

Deno.test("parseOnionAddress() rejects tor's invalid test addresses", () => {
  for (const text of TOR_BAD_CHECKSUMS) assertBadAddress(text, "checksum does not match");
  assertBadAddress(TOR_TORSION_ADDRESS, "does not encode a valid ed25519 key");
  assertBadAddress("?".repeat(56), "not base32");
  assertBadAddress(RFC_ADDRESS + "b", "expected 56 characters, got 57");
});

Deno.test("parseOnionAddress() rejects wrong lengths and non-base32 text", () => {
  assertBadAddress("", "expected 56 characters, got 0");
  assertBadAddress(RFC_ADDRESS.slice(1), "got 55");
  assertBadAddress(RFC_ADDRESS + "a.onion", "got 57");
  assertBadAddress("x".repeat(100_000), "got 100000");
  assertBadAddress(RFC_ADDRESS + ".onion.onion", "got 62");
  assertBadAddress("1" + RFC_ADDRESS.slice(1), "not base32");
  assertBadAddress("=" + RFC_ADDRESS.slice(1), "not base32");
  assertBadAddress("é" + RFC_ADDRESS.slice(1), "not base32");
  assertBadAddress(RFC_ADDRESS.slice(0, 28) + " " + RFC_ADDRESS.slice(29), "not base32");
  // a v2 address (16 characters) is told apart by its length
  assertBadAddress("expyuzz4wqqyqhjn.onion", "got 16");
});

Deno.test("signWithOnionKey() matches RFC 8032 §7.1 TEST 1", () => {
  const signature = signWithOnionKey(fromHex(RFC_SEED), new Uint8Array(0));
  assertEquals(toHex(signature), RFC_SIGNATURE);
  assert(verifyOnionSignature(fromHex(RFC_PUBLIC), new Uint8Array(0), signature));
});

Deno.test("verifyOnionSignature() accepts own signatures and rejects any change", () => {
  fc.assert(
    fc.property(fc.integer(), fc.uint8Array({ maxLength: 100 }), (seed, message) => {
      const key = generateOnionKey(seededRng(`sig-${seed}`));
      const signature = signWithOnionKey(key.seed, message);
      assertEquals(signature.length, 64);
      assert(verifyOnionSignature(key.publicKey, message, signature));
      const badSig = signature.slice();
      badSig[seed & 63] = badSig[seed & 63]! ^ 1;
      assert(!verifyOnionSignature(key.publicKey, message, badSig));
      const badMessage = concatBytes(message, Uint8Array.of(0));
      assert(!verifyOnionSignature(key.publicKey, badMessage, signature));
      const other = generateOnionKey(seededRng(`other-${seed}`));
      assert(!verifyOnionSignature(other.publicKey, message, signature));
    }),
    { numRuns: 30 },
  );
});

Deno.test("verifyOnionSignature() returns false, never throws, on malformed input", () => {
  const key = onionKeyFromSeed(fromHex(RFC_SEED));
  const message = utf8("m");
  const signature = signWithOnionKey(key.seed, message);
  const junk: unknown[] = [
    undefined,
    null,
    0,
    "",
    {},
    [],
    new Uint8Array(0),
    new Uint8Array(63),
    new Uint8Array(65),
    new Uint16Array(32),
    new Uint8Array(64).fill(0xff),
    new Uint8Array(32).fill(0xff),
  ];
  for (const w of junk) {
    // deno-lint-ignore no-explicit-any
    const x = w as any;
    assertEquals(verifyOnionSignature(x, message, signature), false);
    assertEquals(verifyOnionSignature(key.publicKey, x, signature), false);
    assertEquals(verifyOnionSignature(key.publicKey, message, x), false);
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      (pub, sig) => {
        assertEquals(verifyOnionSignature(pub, message, sig), false);
      },
    ),
  );
});

Deno.test("an onion key's printed form never shows its seed", () => {
  const key = onionKeyFromSeed(new Uint8Array(32).fill(0xab));
  const shown = Deno.inspect(key);
  assert(shown.includes("[redacted]") && shown.includes(key.address), shown);
  assert(!shown.includes("171"), shown);
  assertNotEquals(key.seed, new Uint8Array(32));
});

const WRONG: unknown[] = [
  undefined,
  null,
  0,
  "",
  [],
  {},
  new ArrayBuffer(32),
  new Uint16Array(16),
  new Uint8Array(0),
  new Uint8Array(31),
  new Uint8Array(33),
];

Deno.test("every onion function throws only TypeError or CryptoError on wrong input", () => {
  // deno-lint-ignore no-explicit-any
  const calls: ((w: any) => unknown)[] = [
    (w) => onionAddressFromPublicKey(w),
    (w) => parseOnionAddress(w),
    (w) => onionKeyFromSeed(w),
    (w) => generateOnionKey(w),
    (w) => generateOnionKey(() => w),
    (w) => torKeyBlob(w),
    (w) => signWithOnionKey(w, new Uint8Array(1)),
  ];
  for (const call of calls) {
    for (const w of WRONG) {
      const e = assertThrows(() => call(w));
      assert(e instanceof TypeError || e instanceof CryptoError, `unexpected ${e.name}`);
    }
  }
  const e = assertThrows(() => signWithOnionKey(new Uint8Array(32), "m" as never), TypeError);
  assert(e.message.includes("message"));
});
