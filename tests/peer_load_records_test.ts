/**
 * Tests of what start-up checks in a stored conversation's onion address
 * (issue 4): {@linkcode decodeOnionAddress} checks the form, version and
 * checksum exactly as {@linkcode parseOnionAddress} does, without the
 * ed25519 point check, and `conversationFromStore()` checks a stored
 * address's form only (issue 9: no SHA3 per conversation at start-up).
 *
 * @module
 */

import fc from "fast-check";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import {
  decodeOnionAddress,
  generateOnionKey,
  onionAddressFromPublicKey,
  parseOnionAddress,
} from "../lib/crypto/onion.ts";
import { RatchetState } from "../lib/crypto/ratchet_state.ts";
import { CryptoError } from "../lib/errors.ts";
import { conversationFromStore, conversationToStore } from "../lib/peer/stored_conversation.ts";
import { ReceivedDigests, SeenIds } from "../lib/peer/seen_ids.ts";
import { makeConversation } from "../lib/protocol/handshake_state.ts";
import { assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

/** The parts the fixture's save wrote (its session, part "r"). */
let fixtureParts = new Map<string, string>();

const conversationFromJson = (fileId: string, head: unknown) =>
  conversationFromStore(fileId, head, {
    names: [...fixtureParts.keys()].sort(),
    text: (name) => fixtureParts.get(name),
  }, 0);

const rng = seededRng("peer-load-records");
// tor's test_hs_common.c: right checksum and version, key with a torsion component
const TOR_TORSION_ADDRESS = "p3xnclpu4mu22dwaurjtsybyqk4xfjmcfz6z62yl24uwmhjatiwnlnad";
// tor's test_hs_common.c: an invalid checksum
const TOR_BAD_CHECKSUM = "l5satjgud6gucryazcyvyvhuxhr74u6ygigiuyixe3a6ysis67ororad";

/** `address` with its character at `i` replaced by the next base32 letter. */
function mutate(address: string, i: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const next = alphabet[(alphabet.indexOf(address[i]!) + 1) % alphabet.length]!;
  return address.slice(0, i) + next + address.slice(i + 1);
}

Deno.test("decodeOnionAddress() returns parseOnionAddress()'s key for valid addresses", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const key = generateOnionKey(() => seed.slice());
      assertEquals(decodeOnionAddress(key.address), key.publicKey);
      assertEquals(decodeOnionAddress(`${key.address.toUpperCase()}.onion`), key.publicKey);
      assertEquals(parseOnionAddress(key.address), key.publicKey);
    }),
    { numRuns: 30 },
  );
});

Deno.test("decodeOnionAddress() rejects bad checksums, versions and lengths but not torsion", () => {
  const bad = (text: string, includes: string) => {
    const e = assertThrows(() => decodeOnionAddress(text), CryptoError, includes);
    assertEquals(e.code, "bad_address");
  };
  const address = generateOnionKey(rng).address;
  bad(TOR_BAD_CHECKSUM, "checksum does not match");
  // every single-character change breaks the checksum or the version
  for (let i = 0; i < address.length; i++) bad(mutate(address, i), "");
  bad(address.slice(1), "expected 56 characters");
  bad("1" + address.slice(1), "not base32");
  // the point check is parseOnionAddress()'s alone
  assertThrows(() => parseOnionAddress(TOR_TORSION_ADDRESS), CryptoError, "valid ed25519 key");
  assertEquals(decodeOnionAddress(TOR_TORSION_ADDRESS).length, 32);
  assertThrows(() => decodeOnionAddress(42 as unknown as string), TypeError);
});

function conversationJson(onion: string): Record<string, unknown> {
  const own = generateKeyPair(rng);
  const peer = generateKeyPair(rng);
  const ratchet = new RatchetState({
    dhs: generateKeyPair(rng),
    dhr: generateKeyPair(rng).publicKey,
    rk: rng(32),
    cks: rng(32),
    ckr: null,
    hks: rng(32),
    hkr: null,
    nhks: rng(32),
    nhkr: rng(32),
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  });
  const session = makeConversation({
    role: "bob",
    ownIdentityKey: own.publicKey,
    peerIdentityKey: peer.publicKey,
    conversationId: rng(32),
    ratchet,
    established: true,
    handshakePublicKey: null,
    sharedRequestKey: null,
    peerHandshakeKey: null,
  });
  const { head, parts } = conversationToStore({
    fileId: "",
    name: "bob",
    onion,
    port: 50001,
    verified: false,
    presence: false,
    createdAt: 1_700_000_000_000,
    requestKey: null,
    session,
    outbox: [],
    seen: new SeenIds([]),
    inbox: [],
    digests: new ReceivedDigests(),
    lastActive: 1_700_000_000_000,
  }, 0);
  fixtureParts = new Map(
    [...parts.put ?? []].map(([name, value]) => [name, JSON.stringify(value)]),
  );
  return JSON.parse(JSON.stringify(head));
}

Deno.test("conversationFromStore() loads a stored address and refuses one not in canonical form", () => {
  const onion = generateOnionKey(rng).address;
  const json = conversationJson(onion);
  assertEquals(conversationFromJson("f", json).onion, onion);
  for (
    const bad of [onion.toUpperCase(), `${onion}.onion`, onion.slice(1), `${onion.slice(0, -1)}a`]
  ) {
    assertThrows(
      () => conversationFromJson("f", { ...json, onion: bad }),
      Error,
      "onion is not a v3 onion address in canonical form",
    );
  }
  assertThrows(() => conversationFromJson("f", { ...json, onion: 7 }), Error, "onion");
  // the checksum is not checked again at each start (it was when the address entered):
  // a damaged one loads, and fails where it is used
  for (const i of [0, 20, 54]) {
    const damaged = mutate(onion, i);
    assertEquals(conversationFromJson("f", { ...json, onion: damaged }).onion, damaged);
    assertThrows(() => decodeOnionAddress(damaged));
  }
  // an address never dialled as a point still matches its key's address
  assertEquals(onionAddressFromPublicKey(decodeOnionAddress(onion)), onion);
});
