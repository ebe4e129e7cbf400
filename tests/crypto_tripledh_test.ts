/**
 * Tests of lib/crypto/tripledh.ts: both roles agree, each key matters, the
 * formula and a pinned known answer, and wrong inputs.
 *
 * @module
 */

import fc from "fast-check";
import { concatBytes, fromHex, toHex, utf8 } from "../lib/crypto/bytes.ts";
import { hkdfSha256Bytes } from "../lib/crypto/kdf.ts";
import { dh, generateKeyPair, type KeyPair, keyPairFromSecret } from "../lib/crypto/keys.ts";
import { type Role, tripleDh } from "../lib/crypto/tripledh.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

interface Party {
  identity: KeyPair;
  handshake: KeyPair;
}

function party(rng: (n: number) => Uint8Array): Party {
  return { identity: generateKeyPair(rng), handshake: generateKeyPair(rng) };
}

function pub(p: Party) {
  return { identityKey: p.identity.publicKey, handshakeKey: p.handshake.publicKey };
}

function both(bob: Party, alice: Party): [Uint8Array, Uint8Array] {
  return [tripleDh("bob", bob, pub(alice)), tripleDh("alice", alice, pub(bob))];
}

// Fixed parties from the RFC 7748 §6.1 secrets and two more of our own.
const FIXED_BOB: Party = {
  identity: keyPairFromSecret(
    fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
  ),
  handshake: keyPairFromSecret(fromHex("11".repeat(32))),
};
const FIXED_ALICE: Party = {
  identity: keyPairFromSecret(
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  ),
  handshake: keyPairFromSecret(fromHex("22".repeat(32))),
};

Deno.test("tripleDh() is HKDF over the three DH outputs in Bob-Alice order", () => {
  const b = FIXED_BOB;
  const a = FIXED_ALICE;
  const ikm = concatBytes(
    dh(b.identity.secretKey, a.handshake.publicKey),
    dh(b.handshake.secretKey, a.identity.publicKey),
    dh(b.handshake.secretKey, a.handshake.publicKey),
  );
  const salt = concatBytes(b.identity.publicKey, a.identity.publicKey);
  const expected = hkdfSha256Bytes(ikm, salt, utf8("unMessage/v1/tripledh"), 32);
  const [bobKey, aliceKey] = both(b, a);
  assertEquals(bobKey, expected);
  assertEquals(aliceKey, expected);
});

Deno.test("tripleDh() gives a pinned known answer for fixed keys", () => {
  // pinned so that any change to the key schedule is noticed (it would break
  // every conversation between old and new versions)
  const [bobKey] = both(FIXED_BOB, FIXED_ALICE);
  assertEquals(toHex(bobKey), PINNED);
});

// computed independently with Python's `cryptography` X25519 and an HKDF
// written from RFC 5869 over hashlib
const PINNED = "46cc5f72838ec855070e528afe494764acf5202a7a92caef65b22c8cdeca7430";

Deno.test("tripleDh() agrees for both roles over random keys", () => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const rng = seededRng(seed);
      const bob = party(rng);
      const alice = party(rng);
      const [bobKey, aliceKey] = both(bob, alice);
      assertEquals(bobKey.length, 32);
      assertEquals(bobKey, aliceKey);
    }),
    { numRuns: 40 },
  );
});

Deno.test("tripleDh() changes when any one of the four keys is replaced", () => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const rng = seededRng(`swap-${seed}`);
      const bob = party(rng);
      const alice = party(rng);
      const [reference] = both(bob, alice);
      const other = generateKeyPair(rng);
      const variants: [Party, Party][] = [
        [{ ...bob, identity: other }, alice],
        [{ ...bob, handshake: other }, alice],
        [bob, { ...alice, identity: other }],
        [bob, { ...alice, handshake: other }],
      ];
      for (const [b, a] of variants) {
        const [bobKey, aliceKey] = both(b, a);
        assertEquals(bobKey, aliceKey);
        assertNotEquals(bobKey, reference);
      }
    }),
    { numRuns: 20 },
  );
});

Deno.test("tripleDh() differs when roles are swapped or keys are crossed", () => {
  const rng = seededRng("roles");
  const bob = party(rng);
  const alice = party(rng);
  const [reference] = both(bob, alice);
  // the same people with the roles the other way round
  const [swapped] = both(alice, bob);
  assertNotEquals(swapped, reference);
  // a peer that swaps its identity and handshake keys
  const crossed = tripleDh("bob", bob, {
    identityKey: alice.handshake.publicKey,
    handshakeKey: alice.identity.publicKey,
  });
  assertNotEquals(crossed, reference);
  // both sides claiming the same role never agree
  assertNotEquals(tripleDh("bob", bob, pub(alice)), tripleDh("bob", alice, pub(bob)));
});

Deno.test("tripleDh() rejects a low-order peer key with bad_key", () => {
  const rng = seededRng("low");
  const bob = party(rng);
  const alice = party(rng);
  const zero = new Uint8Array(32);
  for (
    const peer of [
      { ...pub(alice), identityKey: zero },
      { ...pub(alice), handshakeKey: zero },
    ]
  ) {
    for (const role of ["alice", "bob"] as const) {
      const e = assertThrows(() => tripleDh(role, bob, peer), CryptoError, "low-order");
      assertEquals(e.code, "bad_key");
    }
  }
});

const WRONG: unknown[] = [
  undefined,
  null,
  0,
  "",
  "Bob",
  [],
  {},
  new Uint8Array(0),
  new Uint8Array(31),
  new Uint8Array(33),
  { secretKey: new Uint8Array(32) },
  { secretKey: new Uint8Array(31), publicKey: new Uint8Array(32) },
];

Deno.test("tripleDh() throws only TypeError or CryptoError on wrong input", () => {
  const rng = seededRng("wrong");
  const bob = party(rng);
  const alice = party(rng);
  // deno-lint-ignore no-explicit-any
  const calls: ((w: any) => unknown)[] = [
    (w) => tripleDh(w, bob, pub(alice)),
    (w) => tripleDh("bob", w, pub(alice)),
    (w) => tripleDh("bob", { ...bob, identity: w }, pub(alice)),
    (w) => tripleDh("bob", { ...bob, handshake: w }, pub(alice)),
    (w) => tripleDh("bob", bob, w),
    (w) => tripleDh("bob", bob, { ...pub(alice), identityKey: w }),
    (w) => tripleDh("bob", bob, { ...pub(alice), handshakeKey: w }),
  ];
  for (const call of calls) {
    for (const w of WRONG) {
      const e = assertThrows(() => call(w));
      assert(e instanceof TypeError || e instanceof CryptoError, `unexpected ${e.name}`);
    }
  }
  assertThrows(() => tripleDh("carol" as Role, bob, pub(alice)), TypeError, "role");
});
