/**
 * Tests of lib/crypto/ratchet.ts, ratchet_state.ts and ratchet_header.ts:
 * exchanges in both directions, out-of-order delivery within and across
 * chains, the skipped-key bounds, replays, tampering, wrong inputs, the JSON
 * state and a known answer that pins the wire format.
 *
 * @module
 */

import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from "../lib/crypto/bytes.ts";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import {
  initAlice,
  initBob,
  MAX_MESSAGE_LENGTH,
  MAX_SKIP,
  MAX_SKIPPED_CHAINS,
  MAX_SKIPPED_KEYS,
  purgeExpiredKeys,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  SKIPPED_KEY_TTL_MS,
} from "../lib/crypto/ratchet.ts";
import {
  decodeHeader,
  encodeHeader,
  ENCRYPTED_HEADER_LENGTH,
  HEADER_LENGTH,
  MAX_COUNTER,
  MESSAGE_OVERHEAD,
} from "../lib/crypto/ratchet_header.ts";
import { deserializeRatchetState, serializeRatchetState } from "../lib/crypto/ratchet_state.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);
const AD = utf8("conversation ad");
const T0 = 1_700_000_000_000;
const dec = new TextDecoder();

/** One side of a conversation with its own seeded rng. */
class Side {
  constructor(public state: RatchetState, readonly rng = seededRng("side")) {}
  send(text: string, ad = AD): Uint8Array {
    const r = ratchetEncrypt(this.state, utf8(text), ad, this.rng);
    this.state = r.state;
    return r.message;
  }
  recv(message: Uint8Array, now = T0, ad = AD): string {
    const r = ratchetDecrypt(this.state, message, ad, now);
    this.state = r.state;
    return dec.decode(r.plaintext);
  }
  /** Asserts that `message` fails with `code` and leaves the state as it was. */
  refuse(message: Uint8Array, code = "decrypt_failed", now = T0, ad = AD): void {
    const before = snapshot(this.state);
    const e = assertThrows(() => ratchetDecrypt(this.state, message, ad, now), CryptoError);
    assertEquals(e.code, code);
    assertEquals(snapshot(this.state), before);
  }
}

function snapshot(state: RatchetState): string {
  return JSON.stringify(serializeRatchetState(state));
}

function conversation(seed: string | number = "conv"): { alice: Side; bob: Side } {
  const rng = seededRng(seed);
  const bobKeys = generateKeyPair(rng);
  return {
    alice: new Side(initAlice(SECRET, bobKeys.publicKey, rng), seededRng(`${seed}/alice`)),
    bob: new Side(initBob(SECRET, bobKeys), seededRng(`${seed}/bob`)),
  };
}

Deno.test("initAlice() lets Alice send first and Bob read her messages in order", () => {
  const { alice, bob } = conversation();
  const sent = [alice.send("one"), alice.send("two"), alice.send("three")];
  assertEquals(sent.map((m) => bob.recv(m)), ["one", "two", "three"]);
  assertEquals(sent[0]!.length, MESSAGE_OVERHEAD + 3);
});

Deno.test("ratchetEncrypt() refuses Bob until he has read a message", () => {
  const { bob } = conversation();
  const e = assertThrows(() => bob.send("too early"), CryptoError);
  assertEquals(e.code, "not_ready");
});

Deno.test("Bob can reply right after the first message, and both ratchet each turn", () => {
  const { alice, bob } = conversation();
  assertEquals(bob.recv(alice.send("hello")), "hello");
  assertEquals(alice.recv(bob.send("hi back")), "hi back");
  const keys = new Set<string>();
  for (let i = 0; i < 10; i++) {
    assertEquals(bob.recv(alice.send(`a${i}`)), `a${i}`);
    keys.add(toHex(alice.state.dhs!.publicKey));
    assertEquals(alice.recv(bob.send(`b${i}`)), `b${i}`);
    keys.add(toHex(bob.state.dhs!.publicKey));
  }
  assertEquals(keys.size, 20); // a fresh ratchet key on every turn
});

Deno.test("ratchetDecrypt() reads messages out of order within one chain", () => {
  const { alice, bob } = conversation();
  const m = [0, 1, 2, 3, 4].map((i) => alice.send(`m${i}`));
  assertEquals(bob.recv(m[4]!), "m4");
  assertEquals(bob.state.skipped.length, 4);
  assertEquals([1, 3, 0, 2].map((i) => bob.recv(m[i]!)), ["m1", "m3", "m0", "m2"]);
  assertEquals(bob.state.skipped.length, 0);
});

Deno.test("ratchetDecrypt() reads late messages of earlier chains after a ratchet step", () => {
  const { alice, bob } = conversation();
  const a0 = alice.send("a0"), a1 = alice.send("a1"); // chain 1
  assertEquals(bob.recv(a1), "a1");
  const b0 = bob.send("b0"), b1 = bob.send("b1");
  assertEquals(alice.recv(b1), "b1");
  const a2 = alice.send("a2"), a3 = alice.send("a3"); // chain 2
  assertEquals(bob.recv(a3), "a3"); // skips a2, keeps a0
  const b2 = bob.send("b2");
  assertEquals(alice.recv(b2), "b2"); // Bob's previous chain had 2 messages: b0 stays skipped
  assertEquals(bob.recv(a0), "a0");
  assertEquals(bob.recv(a2), "a2");
  assertEquals(alice.recv(b0), "b0");
  assertEquals(bob.state.skipped.length + alice.state.skipped.length, 0);
});

Deno.test("ratchetDecrypt() skips exactly MAX_SKIP keys but refuses one more", () => {
  const { alice, bob } = conversation();
  const m = Array.from({ length: MAX_SKIP + 2 }, (_, i) => alice.send(`m${i}`));
  bob.refuse(m[MAX_SKIP + 1]!, "too_many_skipped");
  assertEquals(bob.recv(m[MAX_SKIP]!), `m${MAX_SKIP}`);
  assertEquals(bob.state.skipped.length, MAX_SKIP);
  assertEquals(bob.recv(m[0]!), "m0");
});

Deno.test("ratchetDecrypt() bounds the skip into the previous chain by MAX_SKIP too", () => {
  for (const lost of [MAX_SKIP, MAX_SKIP + 1]) {
    const { alice, bob } = conversation();
    assertEquals(bob.recv(alice.send("first")), "first");
    assertEquals(alice.recv(bob.send("reply")), "reply");
    assertEquals(bob.recv(alice.send("chain 2")), "chain 2");
    for (let i = 0; i < lost; i++) alice.send("lost");
    assertEquals(alice.recv(bob.send("turn")), "turn");
    const chain3 = alice.send("chain 3"); // its PN makes Bob skip `lost` keys of chain 2
    if (lost > MAX_SKIP) bob.refuse(chain3, "too_many_skipped");
    else assertEquals(bob.recv(chain3), "chain 3");
  }
});

Deno.test("ratchetDecrypt() evicts the oldest skipped keys beyond MAX_SKIPPED_KEYS", () => {
  const { alice, bob } = conversation();
  const chain1 = Array.from({ length: MAX_SKIP + 1 }, (_, i) => alice.send(`c1-${i}`));
  bob.recv(chain1[MAX_SKIP]!);
  alice.recv(bob.send("turn"));
  const chain2 = Array.from({ length: MAX_SKIP + 1 }, (_, i) => alice.send(`c2-${i}`));
  bob.recv(chain2[MAX_SKIP]!);
  assertEquals(bob.state.skipped.length, 2 * MAX_SKIP);
  alice.recv(bob.send("turn"));
  const chain3 = Array.from({ length: 501 }, (_, i) => alice.send(`c3-${i}`));
  bob.recv(chain3[500]!);
  assertEquals(bob.state.skipped.length, MAX_SKIPPED_KEYS);
  bob.refuse(chain1[499]!); // evicted: 2500 skipped, the 500 oldest went
  assertEquals(bob.recv(chain1[500]!), "c1-500");
  assertEquals(bob.recv(chain3[0]!), "c3-0");
});

Deno.test("ratchetDecrypt() keeps skipped keys of at most MAX_SKIPPED_CHAINS chains", () => {
  // a peer that skips one message per turn would otherwise leave one header
  // key per turn, and every later message would be trial-decrypted under all
  const { alice, bob } = conversation();
  const lost: Uint8Array[] = [];
  for (let turn = 0; turn < MAX_SKIPPED_CHAINS + 3; turn++) {
    lost.push(alice.send(`lost ${turn}`));
    assertEquals(bob.recv(alice.send(`read ${turn}`)), `read ${turn}`);
    alice.recv(bob.send(`turn ${turn}`));
  }
  const headerKeys = new Set(bob.state.skipped.map((k) => toHex(k.headerKey)));
  assertEquals(headerKeys.size, MAX_SKIPPED_CHAINS);
  for (const old of lost.slice(0, 3)) bob.refuse(old); // the oldest chains went
  for (const [i, m] of lost.slice(3).entries()) assertEquals(bob.recv(m), `lost ${i + 3}`);
  assertEquals(bob.state.skipped.length, 0);
});

Deno.test("ratchetDecrypt() forgets skipped keys after SKIPPED_KEY_TTL_MS", () => {
  const { alice, bob } = conversation();
  const m = [0, 1, 2].map((i) => alice.send(`m${i}`));
  bob.recv(m[2]!, T0);
  assertEquals(bob.recv(m[0]!, T0 + SKIPPED_KEY_TTL_MS - 1), "m0");
  bob.refuse(m[1]!, "decrypt_failed", T0 + SKIPPED_KEY_TTL_MS);
  assertEquals(purgeExpiredKeys(bob.state, T0 + SKIPPED_KEY_TTL_MS - 1).skipped.length, 1);
  assertEquals(purgeExpiredKeys(bob.state, T0 + SKIPPED_KEY_TTL_MS).skipped.length, 0);
});

Deno.test("ratchetDecrypt() never decrypts a message twice", () => {
  const { alice, bob } = conversation();
  const first = alice.send("first"); // makes Bob's first ratchet step
  const m1 = alice.send("m1"), m2 = alice.send("m2");
  bob.recv(first);
  bob.refuse(first);
  bob.recv(m2);
  bob.refuse(m2); // current chain, already used
  bob.recv(m1);
  bob.refuse(m1); // was a skipped key, now consumed
  alice.recv(bob.send("turn"));
  bob.recv(alice.send("chain 2"));
  for (const old of [first, m1, m2]) bob.refuse(old); // earlier chains
});

Deno.test("ratchetDecrypt() refuses every tampered byte and keeps its state", () => {
  const { alice, bob } = conversation();
  const first = alice.send("ratchet step");
  const second = alice.send("same chain");
  for (const message of [first, second]) {
    for (let i = 0; i < message.length; i++) {
      const bad = message.slice();
      bad[i]! ^= 0x01;
      bob.refuse(bad);
    }
    bob.recv(message);
  }
});

Deno.test("ratchetDecrypt() refuses other associated data", () => {
  const { alice, bob } = conversation();
  const m = alice.send("bound to ad");
  bob.refuse(m, "decrypt_failed", T0, utf8("other ad"));
  bob.refuse(m, "decrypt_failed", T0, new Uint8Array(0));
  assertEquals(bob.recv(m), "bound to ad");
});

Deno.test("ratchetDecrypt() throws only CryptoError for malformed messages", () => {
  const { alice, bob } = conversation();
  const good = alice.send("a message of some length");
  const rng = seededRng("garbage");
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array(1),
    new Uint8Array(MESSAGE_OVERHEAD - 1),
    new Uint8Array(MESSAGE_OVERHEAD),
    new Uint8Array(ENCRYPTED_HEADER_LENGTH + 500),
    Uint8Array.of(...good, 0),
    good.slice(0, ENCRYPTED_HEADER_LENGTH),
    ...Array.from({ length: good.length }, (_, i) => good.slice(0, i)),
    ...[0, 1, 50, 96, 97, 200, 4096].map((n) => rng(n)),
  ];
  for (const input of inputs) bob.refuse(input);
  bob.refuse(new Uint8Array(MAX_MESSAGE_LENGTH + 1), "too_large");
  assertThrows(() => ratchetDecrypt(bob.state, "text" as never, AD, T0), TypeError);
  assertThrows(() => ratchetDecrypt(bob.state, good, AD, NaN), TypeError);
  assertThrows(() => ratchetDecrypt({} as RatchetState, good, AD, T0), TypeError);
  assertEquals(bob.recv(good), "a message of some length");
});

Deno.test("ratchetEncrypt() and ratchetDecrypt() leave their input state untouched", () => {
  const { alice, bob } = conversation();
  const before = snapshot(alice.state);
  const old = alice.state;
  const m = alice.send("x");
  assertEquals(snapshot(old), before);
  const bobBefore = snapshot(bob.state);
  const oldBob = bob.state;
  bob.recv(m);
  assertEquals(snapshot(oldBob), bobBefore);
});

Deno.test("initAlice() and initBob() reject bad keys", () => {
  const rng = seededRng("keys");
  const pair = generateKeyPair(rng);
  const other = generateKeyPair(rng);
  assertEquals(
    assertThrows(() => initAlice(SECRET, new Uint8Array(32), rng), CryptoError).code,
    "bad_key",
  );
  assertEquals(
    assertThrows(() => initAlice(SECRET.subarray(1), pair.publicKey, rng), CryptoError).code,
    "bad_length",
  );
  assertEquals(
    assertThrows(
      () => initBob(SECRET, { secretKey: pair.secretKey, publicKey: other.publicKey }),
      CryptoError,
    ).code,
    "bad_key",
  );
}); // deno-fmt-ignore

Deno.test("serializeRatchetState() round-trips losslessly through JSON at every stage", () => {
  const { alice, bob } = conversation();
  const reload = (s: RatchetState) =>
    deserializeRatchetState(JSON.parse(JSON.stringify(serializeRatchetState(s))));
  const states = [alice.state, bob.state];
  const m = [0, 1, 2].map((i) => alice.send(`m${i}`));
  bob.recv(m[2]!);
  states.push(alice.state, bob.state); // Bob: deferred step, skipped keys
  alice.recv(bob.send("reply"));
  states.push(alice.state, bob.state);
  for (const s of states) assertEquals(snapshot(reload(s)), snapshot(s));
  bob.state = reload(bob.state);
  alice.state = reload(alice.state);
  assertEquals(bob.recv(m[0]!), "m0");
  assertEquals(bob.recv(alice.send("after reload")), "after reload");
});

Deno.test("deserializeRatchetState() rejects every corruption with bad_state", () => {
  const { alice, bob } = conversation();
  const m = [0, 1].map((i) => alice.send(`m${i}`));
  bob.recv(m[1]!);
  alice.recv(bob.send("reply"));
  const good = serializeRatchetState(bob.state);
  const secrets = [good.rk, good.ckr!, good.nhks, good.skipped[0]!.messageKey];
  type Json = Record<string, unknown>;
  const variants: ((j: Json) => unknown)[] = [
    () => null,
    () => [],
    () => "state",
    (j) => ({ ...j, extra: 1 }),
    (j) => ({ ...j, version: 2 }),
    (j) => ({ ...j, rk: undefined }),
    (j) => ({ ...j, rk: null }),
    (j) => ({ ...j, rk: 5 }),
    (j) => ({ ...j, rk: "not base64!" }),
    (j) => ({ ...j, rk: toBase64(new Uint8Array(31)) }),
    (j) => ({ ...j, rk: good.rk.replace(/=$/, "") }),
    (j) => ({ ...j, ns: -1 }),
    (j) => ({ ...j, nr: 1.5 }),
    (j) => ({ ...j, pn: MAX_COUNTER + 1 }),
    (j) => ({ ...j, pn: "3" }),
    (j) => ({ ...j, dhr: toBase64(new Uint8Array(32)) }), // low-order peer key
    (j) => ({ ...j, ckr: null }), // receiving chain without its header key
    (j) => ({ ...j, cks: good.rk, dhs: null }), // sending chain without a key pair
    // (a stored key pair is trusted as it is, not recomputed: the encrypted store authenticates it)
    (j) => ({ ...j, skipped: {} }),
    (j) => ({ ...j, skipped: [{ ...good.skipped[0], n: -1 }] }),
    (j) => ({ ...j, skipped: [{ ...good.skipped[0], createdAt: "now" }] }),
    (j) => ({ ...j, skipped: [{ ...good.skipped[0], messageKey: good.rk.slice(4) }] }),
    (j) => ({ ...j, skipped: Array(MAX_SKIPPED_KEYS + 1).fill(good.skipped[0]) }),
  ];
  for (const corrupt of variants) {
    const json = JSON.parse(JSON.stringify(corrupt(JSON.parse(JSON.stringify(good)))) ?? "null");
    const e = assertThrows(() => deserializeRatchetState(json), CryptoError);
    assertEquals(e.code, "bad_state");
    for (const s of secrets) assert(!e.message.includes(s), "error message shows a key");
  }
});

Deno.test("RatchetState shows no key material when printed", () => {
  const { alice } = conversation();
  const json = serializeRatchetState(alice.state);
  const shown = [
    String(alice.state),
    Deno.inspect(alice.state, { depth: 10 }),
    Deno.inspect({ nested: alice.state }, { depth: 10 }),
    JSON.stringify(alice.state),
  ].join("\n");
  for (const k of [json.rk, json.cks!, json.hks!, json.nhks, json.nhkr, json.dhs!.secretKey]) {
    assert(!shown.includes(k));
    assert(!shown.includes(toHex(fromBase64(k))));
  }
});

Deno.test("encodeHeader() and decodeHeader() round-trip and bound the counters", () => {
  const header = { dh: new Uint8Array(32).fill(9), pn: 7, n: MAX_COUNTER };
  const bytes = encodeHeader(header);
  assertEquals(bytes.length, HEADER_LENGTH);
  assertEquals(toHex(bytes.subarray(32)), "00000007ffffffff");
  assertEquals(decodeHeader(bytes), header);
  for (const bad of [-1, MAX_COUNTER + 1, 0.5]) {
    assertEquals(
      assertThrows(() => encodeHeader({ ...header, n: bad }), CryptoError).code,
      "bad_header",
    );
  }
}); // deno-fmt-ignore

// Pins the wire format: key derivations, labels, header layout and
// encryption. A change here is a protocol change (bump versions).
Deno.test("ratchet messages match the known answer for a fixed seed", () => {
  const run = () => {
    const { alice, bob } = conversation("known answer");
    const m1 = alice.send("hello Bob");
    bob.recv(m1);
    const m2 = bob.send("hello Alice");
    return { m1: toHex(m1), m2: toHex(sha256(m2)) };
  };
  const first = run();
  assertEquals(run(), first);
  assertEquals(first, {
    m1: "4d067ca99940e6152e987dfbc95dd423b330ff1e882863f735d28982b066539c" +
      "7a680a75151ad0b4b4940fa3526d9c83a874531e695e7281ff5e7bed75ebd968" +
      "8172da80f6eb6fd713d2d520c6cc8167cd629a4eb4b79214d23de4ee8d8d8243" +
      "c7f3fd3c76b0b24339",
    m2: "a06ebe93df29f4662e45cd2480548987d1a03ec796144579ad3207ea9fae93f4",
  });
});

// An independent computation, straight from noble's primitives, of what the
// module documents: labels, KDF_RK, KDF_CK, header layout, nonces and AD.
Deno.test("Alice's first message equals an independent computation of the documented format", () => {
  const rng = seededRng("known answer");
  const bobSecret = rng(32);
  const aliceSecret = rng(32);
  const zero = new Uint8Array(32);
  const label = (key: Uint8Array, name: string, length = 32) =>
    hkdf(sha256, key, zero, utf8(`unMessage/v1/${name}`), length);
  const rootKey = label(SECRET, "ratchet/root-key");
  const headerKeyAlice = label(SECRET, "ratchet/header-key-alice");
  const dhOut = x25519.getSharedSecret(aliceSecret, x25519.getPublicKey(bobSecret));
  const rootOut = hkdf(sha256, dhOut, rootKey, utf8("unMessage/v1/ratchet/root-chain"), 96);
  const messageKey = hmac(sha256, rootOut.slice(32, 64), Uint8Array.of(0x01));
  const header = concatBytes(x25519.getPublicKey(aliceSecret), fromHex("00000000" + "00000000"));
  const nonce = seededRng("known answer/alice")(24);
  const encHeader = concatBytes(nonce, xchacha20poly1305(headerKeyAlice, nonce).encrypt(header));
  const body = xchacha20poly1305(
    label(messageKey, "ratchet/message-cipher-key"),
    label(messageKey, "ratchet/message-nonce", 24),
    concatBytes(AD, encHeader),
  ).encrypt(utf8("hello Bob"));
  const { alice } = conversation("known answer");
  assertEquals(toHex(alice.send("hello Bob")), toHex(concatBytes(encHeader, body)));
});
