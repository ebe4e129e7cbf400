import fc from "fast-check";
import { sha256 } from "@noble/hashes/sha2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { concatBytes, toHex } from "../lib/crypto/bytes.ts";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import { CryptoError, ProtocolError } from "../lib/errors.ts";
import {
  computeHsub,
  HEADER_LENGTH,
  hsubMatches,
  HsubTable,
  identifyPacket,
  MAX_CACHED_RECEIVERS,
  openRegular,
  openReply,
  openRequest,
  regularKeys,
  regularReceiverMidstate,
  sealRegular,
  sealReply,
  sealRequest,
} from "../lib/protocol/packets.ts";
import { isBucketLength, PADDING_BUCKETS } from "../lib/protocol/padding.ts";

const rng = seededRng("protocol_packets_test");
const alice = generateKeyPair(rng);
const bob = generateKeyPair(rng);
const carol = generateKeyPair(rng);
const conversationId = rng(32);

function errorCode(fn: () => unknown): string | null {
  try {
    return fn() === null ? null : "opened";
  } catch (e) {
    if (e instanceof ProtocolError || e instanceof CryptoError) return e.code;
    throw e;
  }
}

// An independent construction of the documented layouts straight from the
// noble primitives (not through lib/crypto or lib/protocol), so the known
// answers below check the documentation as well as the code.
const ZERO_SALT = new Uint8Array(32);
const label = (l: string) => new TextEncoder().encode("unMessage/v1/" + l);
const kdf = (key: Uint8Array, l: string) => hkdf(sha256, key, ZERO_SALT, label(l), 32);

function independentPacket(
  kind: "regular" | "reply" | "request",
  secret: Uint8Array,
  iv: Uint8Array,
  receiver: Uint8Array,
  cleartextKey: Uint8Array,
  prefix: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const overhead = kind === "regular" ? 73 : 105;
  const total = [512, 2048, 8192, 32768, 131072].find((b) => b >= payload.length + 4 + overhead)!;
  const padded = new Uint8Array(total - overhead);
  new DataView(padded.buffer).setUint32(0, payload.length);
  padded.set(payload, 4);
  // K_r binds the receiver's key into the tag key; the HMAC input is the IV
  const tagKey = kdf(
    concatBytes(kdf(secret, `packet/${kind}/hsub`), receiver),
    "packet/hsub/receiver",
  );
  const hsub = hmac(sha256, tagKey, iv);
  const header = concatBytes(new Uint8Array([1]), iv, hsub, cleartextKey);
  const ct = xchacha20poly1305(
    kdf(secret, `packet/${kind}/encrypt`),
    iv,
    concatBytes(header, receiver),
  )
    .encrypt(concatBytes(prefix, padded));
  return concatBytes(header, ct);
}

Deno.test("sealRegular() matches an independent construction and a pinned digest", () => {
  const r = seededRng("kat-regular");
  const id = r(32);
  const receiver = generateKeyPair(r).publicKey;
  const payload = new TextEncoder().encode("hello");
  const packet = sealRegular({
    conversationId: id,
    receiverIdentityKey: receiver,
    payload,
    rng: r,
  });
  const replay = seededRng("kat-regular");
  replay(32); // conversation ID
  replay(32); // receiver secret key (the rng draws whole blocks)
  const iv = replay(24);
  const empty = new Uint8Array(0);
  assertEquals(packet, independentPacket("regular", id, iv, receiver, empty, empty, payload));
  assertEquals(packet.length, 512);
  // version | IV (24) | hSub (32)
  assertEquals(toHex(packet.subarray(0, HEADER_LENGTH)), KAT.regularHeader);
  assertEquals(toHex(sha256(packet)), KAT.regularDigest);
});

Deno.test("sealRequest() and sealReply() match independent constructions and pinned digests", () => {
  const r = seededRng("kat-request");
  const alicePair = generateKeyPair(r);
  const handshake = new TextEncoder().encode("handshake");
  const { packet, requestKey, sharedRequestKey } = sealRequest({
    handshake,
    receiverIdentityKey: alicePair.publicKey,
    rng: r,
  });
  const replay = seededRng("kat-request");
  replay(32); // Alice's secret key
  const requestSecret = replay(32);
  const requestPublic = x25519.getPublicKey(requestSecret);
  const iv = replay(24);
  const srk = kdf(
    concatBytes(
      x25519.getSharedSecret(requestSecret, alicePair.publicKey),
      requestPublic,
      alicePair.publicKey,
    ),
    "packet/request/shared-key",
  );
  assertEquals(sharedRequestKey, srk);
  assertEquals(requestKey.publicKey, requestPublic);
  const empty = new Uint8Array(0);
  assertEquals(
    packet,
    independentPacket("request", srk, iv, alicePair.publicKey, requestPublic, empty, handshake),
  );
  // version | IV | hSub | request public key
  assertEquals(toHex(packet.subarray(0, HEADER_LENGTH + 32)), KAT.requestHeader);
  assertEquals(toHex(sharedRequestKey), KAT.sharedRequestKey);
  assertEquals(toHex(sha256(packet)), KAT.requestDigest);

  const payload = new TextEncoder().encode("ratchet");
  const reply = sealReply({
    sharedRequestKey,
    receiverIdentityKey: requestKey.publicKey,
    handshakePublicKey: alicePair.publicKey,
    payload,
    rng: r,
  });
  const replyIv = replay(24);
  assertEquals(
    reply,
    independentPacket("reply", srk, replyIv, requestPublic, empty, alicePair.publicKey, payload),
  );
  assertEquals(toHex(sha256(reply)), KAT.replyDigest);
});

Deno.test("hSub tags stay right when one key serves more receivers than MAX_CACHED_RECEIVERS", () => {
  const keys = regularKeys(conversationId);
  const r = seededRng("many receivers");
  const receivers = Array.from(
    { length: 3 * MAX_CACHED_RECEIVERS },
    () => generateKeyPair(r).publicKey,
  );
  const iv = r(24);
  const tags = receivers.map((receiver) => computeHsub(keys.hsub, iv, receiver));
  for (let i = receivers.length - 1; i >= 0; i--) {
    const packet = concatBytes(new Uint8Array([1]), iv, tags[i]!);
    assert(hsubMatches(packet, keys.hsub, receivers[i]!));
    assert(!hsubMatches(packet, keys.hsub, receivers[(i + 1) % receivers.length]!));
    // the same tag computed without the cache
    assertEquals(computeHsub(keys.hsub, iv, receivers[i]!, false), tags[i]!);
  }
  assertEquals(new Set(tags.map(toHex)).size, receivers.length);
});

Deno.test("regular packets round-trip and only take bucket lengths", () => {
  const seen = new Set<number>();
  fc.assert(
    fc.property(fc.nat(40000), fc.integer(), (length, seed) => {
      const payload = seededRng(seed)(length);
      const packet = sealRegular({
        conversationId,
        receiverIdentityKey: bob.publicKey,
        payload,
        rng: seededRng(seed),
      });
      assert(isBucketLength(packet.length), `length ${packet.length}`);
      seen.add(packet.length);
      assertEquals(openRegular(packet, conversationId, bob.publicKey), payload);
    }),
    { numRuns: 60 },
  );
  const big = new Uint8Array(131072 - 73 - 4);
  const packet = sealRegular({
    conversationId,
    receiverIdentityKey: bob.publicKey,
    payload: big,
    rng,
  });
  assertEquals(packet.length, PADDING_BUCKETS.at(-1));
  assert(seen.size >= 2);
});

Deno.test("sealRegular() refuses a payload beyond the largest bucket", () => {
  const e = assertThrows(
    () =>
      sealRegular({
        conversationId,
        receiverIdentityKey: bob.publicKey,
        payload: new Uint8Array(131072 - 76),
        rng,
      }),
    ProtocolError,
  );
  assertEquals((e as ProtocolError).code, "too_long");
});

Deno.test("openRegular() returns null for another conversation or another receiver", () => {
  const packet = sealRegular({
    conversationId,
    receiverIdentityKey: bob.publicKey,
    payload: new Uint8Array(3),
    rng,
  });
  assertEquals(openRegular(packet, rng(32), bob.publicKey), null);
  assertEquals(openRegular(packet, conversationId, alice.publicKey), null);
  assertEquals(openRegular(packet, conversationId, carol.publicKey), null);
});

Deno.test("a packet sealed by A to B does not identify as B-to-A traffic on A's side", () => {
  const payload = new Uint8Array([1, 2, 3]);
  const packet = sealRegular({ conversationId, receiverIdentityKey: bob.publicKey, payload, rng });
  const onAlice = identifyPacket(packet, {
    ownIdentity: alice,
    conversations: [{ conversationId }],
    pendingRequests: [],
  });
  assertEquals(onAlice, null);
  const onBob = identifyPacket(packet, {
    ownIdentity: bob,
    conversations: [{ conversationId }],
    pendingRequests: [],
  });
  assertEquals(onBob?.kind, "regular");
  assertEquals(onBob?.kind === "regular" ? onBob.payload : null, payload);
});

Deno.test("request packets round-trip to the receiver only", () => {
  const handshake = new TextEncoder().encode("bob@x.onion + keys");
  const sealed = sealRequest({ handshake, receiverIdentityKey: alice.publicKey, rng });
  assert(isBucketLength(sealed.packet.length));
  const opened = openRequest(sealed.packet, alice);
  assert(opened !== null);
  assertEquals(opened.handshake, handshake);
  assertEquals(opened.sharedRequestKey, sealed.sharedRequestKey);
  assertEquals(opened.requestPublicKey, sealed.requestKey.publicKey);
  assertEquals(openRequest(sealed.packet, carol), null);
  assertEquals(openRequest(sealed.packet, bob), null);
});

Deno.test("openRequest() returns null for a low-order request key", () => {
  const sealed = sealRequest({
    handshake: new Uint8Array(1),
    receiverIdentityKey: alice.publicKey,
    rng,
  });
  const packet = sealed.packet.slice();
  packet.fill(0, HEADER_LENGTH, HEADER_LENGTH + 32); // u = 0, a low-order point
  assertEquals(openRequest(packet, alice), null);
});

Deno.test("reply packets round-trip with the shared request key to the requester only", () => {
  const sealed = sealRequest({
    handshake: new Uint8Array(5),
    receiverIdentityKey: alice.publicKey,
    rng,
  });
  const srk = openRequest(sealed.packet, alice)!.sharedRequestKey;
  const handshakeKey = generateKeyPair(rng).publicKey;
  const payload = new Uint8Array(3000).fill(9);
  const reply = sealReply({
    sharedRequestKey: srk,
    receiverIdentityKey: bob.publicKey,
    handshakePublicKey: handshakeKey,
    payload,
    rng,
  });
  assertEquals(reply.length, 8192);
  assertEquals(openReply(reply, sealed.sharedRequestKey, bob.publicKey), {
    handshakePublicKey: handshakeKey,
    payload,
  });
  assertEquals(openReply(reply, sealed.sharedRequestKey, alice.publicKey), null);
  assertEquals(openReply(reply, rng(32), bob.publicKey), null);
});

Deno.test("identifyPacket() tries conversations, then pending requests, then the request path", () => {
  const request = sealRequest({
    handshake: new Uint8Array(7),
    receiverIdentityKey: alice.publicKey,
    rng,
  });
  const other = { conversationId: rng(32), name: "other" };
  const mine = { conversationId, name: "mine", keys: regularKeys(conversationId) };
  const pending = { sharedRequestKey: request.sharedRequestKey, name: "pending" };
  const reply = sealReply({
    sharedRequestKey: request.sharedRequestKey,
    receiverIdentityKey: bob.publicKey,
    handshakePublicKey: carol.publicKey,
    payload: new Uint8Array(2),
    rng,
  });
  const regular = sealRegular({
    conversationId,
    receiverIdentityKey: bob.publicKey,
    payload: new Uint8Array(4),
    rng,
  });
  const onBob = { ownIdentity: bob, conversations: [other, mine], pendingRequests: [pending] };
  const r1 = identifyPacket(regular, onBob);
  assertEquals(r1?.kind === "regular" ? r1.conversation.name : r1, "mine");
  const r2 = identifyPacket(reply, onBob);
  assertEquals(r2?.kind === "reply" ? [r2.request.name, r2.handshakePublicKey] : r2, [
    "pending",
    carol.publicKey,
  ]);
  const onAlice = { ownIdentity: alice, conversations: [other], pendingRequests: [] };
  const r3 = identifyPacket(request.packet, onAlice);
  assertEquals(r3?.kind === "request" ? r3.handshake : r3, new Uint8Array(7));
  assertEquals(identifyPacket(request.packet, { ...onAlice, acceptRequests: false }), null);
  // Bob's own request, seen by Bob, is nothing of his
  assertEquals(identifyPacket(request.packet, onBob), null);
});

Deno.test("identifyPacket() finds a regular packet in an HsubTable, tries `first` before it, and only matches its own receiver", () => {
  const ids = Array.from({ length: 37 }, () => rng(32));
  const table = new HsubTable<{ conversationId: Uint8Array; name: string }>(bob.publicKey);
  const slots = ids.map((conversationId, i) =>
    table.add(
      { conversationId, name: `c${i}` },
      regularReceiverMidstate(conversationId, bob.publicKey),
    )
  );
  const onBob = { ownIdentity: bob, conversations: table, pendingRequests: [] };
  const packetOf = (conversationId: Uint8Array, to = bob.publicKey) =>
    sealRegular({ conversationId, receiverIdentityKey: to, payload: new Uint8Array(3), rng });
  for (const i of [0, 1, 17, 36]) {
    const found = identifyPacket(packetOf(ids[i]!), onBob);
    assertEquals(found?.kind === "regular" ? found.conversation.name : found, `c${i}`);
  }
  // `first` is tried before the table: a conversation not in it at all still identifies
  const outside = { conversationId: rng(32), name: "outside" };
  const viaFirst = identifyPacket(packetOf(outside.conversationId), { ...onBob, first: outside });
  assertEquals(viaFirst?.kind === "regular" ? viaFirst.conversation.name : viaFirst, "outside");
  assertEquals(identifyPacket(packetOf(outside.conversationId), onBob), null);
  // a packet of one of them addressed to someone else matches nothing
  assertEquals(identifyPacket(packetOf(ids[5]!, alice.publicKey), onBob), null);
  // a table of another receiver is not scanned for our packets
  const onAlice = { ownIdentity: alice, conversations: table, pendingRequests: [] };
  assertEquals(identifyPacket(packetOf(ids[5]!, alice.publicKey), onAlice), null);
  // removed, it is found no more; its slot is taken by the next one
  table.remove(slots[17]!);
  assertEquals(identifyPacket(packetOf(ids[17]!), onBob), null);
  const again = table.add(
    { conversationId: ids[17]!, name: "back" },
    regularReceiverMidstate(ids[17]!, bob.publicKey),
  );
  assertEquals(again, slots[17]);
  const back = identifyPacket(packetOf(ids[17]!), onBob);
  assertEquals(back?.kind === "regular" ? back.conversation.name : back, "back");
});

Deno.test("every packet rejects an unknown version and a non-bucket length first", () => {
  const packet = sealRegular({
    conversationId,
    receiverIdentityKey: bob.publicKey,
    payload: new Uint8Array(1),
    rng,
  });
  const v2 = packet.slice();
  v2[0] = 2;
  const candidates = { ownIdentity: bob, conversations: [{ conversationId }], pendingRequests: [] };
  assertEquals(errorCode(() => identifyPacket(v2, candidates)), "unsupported_version");
  assertEquals(
    errorCode(() => identifyPacket(packet.subarray(0, 511), candidates)),
    "bad_packet_length",
  );
  assertEquals(errorCode(() => identifyPacket(new Uint8Array(0), candidates)), "bad_packet_length");
  assertEquals(errorCode(() => openRequest(v2, bob)), "unsupported_version");
});

Deno.test("tampering any byte of any packet kind gives null or a typed error", () => {
  const request = sealRequest({
    handshake: new Uint8Array(10),
    receiverIdentityKey: alice.publicKey,
    rng,
  });
  const reply = sealReply({
    sharedRequestKey: request.sharedRequestKey,
    receiverIdentityKey: bob.publicKey,
    handshakePublicKey: carol.publicKey,
    payload: new Uint8Array(10),
    rng,
  });
  const regular = sealRegular({
    conversationId,
    receiverIdentityKey: bob.publicKey,
    payload: new Uint8Array(10),
    rng,
  });
  const cases: [Uint8Array, (p: Uint8Array) => unknown][] = [
    [request.packet, (p) => openRequest(p, alice)],
    [reply, (p) => openReply(p, request.sharedRequestKey, bob.publicKey)],
    [regular, (p) => openRegular(p, conversationId, bob.publicKey)],
  ];
  for (const [packet, open] of cases) {
    const outcomes = new Set<string | null>();
    for (let i = 0; i < packet.length; i++) {
      const bad = packet.slice();
      bad[i]! ^= 1 << (i % 8);
      const outcome = errorCode(() => open(bad));
      assert(outcome !== "opened", `byte ${i} tampered yet opened`);
      outcomes.add(outcome);
    }
    // the version byte, the tag checked before decryption, and the AEAD all show up
    assert(outcomes.has("unsupported_version"));
    assert(outcomes.has(null));
    assert(outcomes.has("decrypt_failed"));
  }
});

// recomputed for the receiver-bound hSub key (K_r) by a standalone script
// on the noble primitives only; the independent constructions above vouch
// for them
const KAT = {
  regularHeader:
    "01be8f02df2ee93e304abad2db3aa903a1394459de15596ba6c26d380bceac5cc3ba459c419f997353e76f489a855dc995a129dc8e1a8fbe4d",
  regularDigest: "311b7a526a5db21707abbb3ab332317a7963092c61ce53cf346f52e6f1f6f445",
  requestHeader:
    "01341d6bfed6d07fcf3033abf8af1c01836eea568c4828a2af98985b1b4967e278b9b01edc6a7f7977abb313ad76ba46485a86a7ae2a933ae42e32f649217856632c5ebda7fed24e2e1fa19230e6c3b1d43b658214c83f931d",
  sharedRequestKey: "d5e9b381b9ac9ccac9e6daeaad9724e03f47d2a3e964e4341197346fd6ad4e1a",
  requestDigest: "854339adf936bd6259951409a76c72012306e0e99ca4fa96c8f2fc9dac779958",
  replyDigest: "b4ad25570323fd48934fdf864dad31a34cee8c95d0e494405fc7c38f34823aeb",
};

Deno.test("sealRequest() uses a given request key and draws only the IV", () => {
  const alice = generateKeyPair(seededRng("given-alice"));
  const requestKey = generateKeyPair(seededRng("given-request"));
  const drawn: number[] = [];
  const base = seededRng("given-iv");
  const rng = (n: number) => {
    drawn.push(n);
    return base(n);
  };
  const sealed = sealRequest({
    handshake: new Uint8Array(40),
    receiverIdentityKey: alice.publicKey,
    rng,
    requestKey,
  });
  assertEquals(drawn, [24]);
  assert(sealed.requestKey === requestKey);
  const opened = openRequest(sealed.packet, alice);
  assert(opened !== null);
  assertEquals(opened.requestPublicKey, requestKey.publicKey);
  assertEquals(opened.sharedRequestKey, sealed.sharedRequestKey);
});
