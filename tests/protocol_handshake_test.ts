/**
 * Tests of the handshake stage machines and sessions (handshake.ts,
 * session.ts, handshake_state.ts): two and three parties in memory through
 * request sent → request accepted → conversation established, losses,
 * reordering, forgeries, tampering, and JSON round trips at every stage.
 * Every received packet goes through the real receive path, `dispatchPacket`
 * (dispatch.ts), by the steps of `_dispatch.ts`.
 *
 * @module
 */

import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import {
  bookOf,
  flip,
  outcome,
  party,
  read,
  request,
  REQUEST_TIME,
  sealedAround,
  text,
} from "./_handshake_fixtures.ts";
import { dispatchFirstReply, dispatchMessage, dispatchRequest } from "./_dispatch.ts";
import { equalBytes, toBase64 } from "../lib/crypto/bytes.ts";
import type { KeyPair } from "../lib/crypto/keys.ts";
import { CryptoError, ProtocolError } from "../lib/errors.ts";
import { acceptRequest, createRequest } from "../lib/protocol/handshake.ts";
import { decodeHandshake, encodeHandshake } from "../lib/protocol/handshake_data.ts";
import {
  type Conversation,
  serializeConversation,
  serializeOutboundRequest,
} from "../lib/protocol/handshake_state.ts";
import { HEADER_LENGTH, openReply, openRequest, sealReply } from "../lib/protocol/packets.ts";
import {
  decryptInConversation,
  MAX_SEALED_PLAINTEXT,
  sealMessage,
} from "../lib/protocol/session.ts";
import { dispatchPacket, UnreadableMessage } from "../lib/protocol/dispatch.ts";

const rng = seededRng("protocol_handshake_test");
const alice = party("alice", rng);
const bob = party("bob", rng, 9050);
const carol = party("carol", rng);
const mallory = party("mallory", rng);
const NOW = 1_700_000_000_000;

/** Sends `msg` from `conversation`; returns the next state and the packet. */
function send(conversation: Conversation, msg: string) {
  return sealMessage(conversation, text(msg), rng);
}

/** The identity key pair of the party that holds `conversation`. */
function identityOf(conversation: Conversation): KeyPair {
  const holder = [alice, bob, carol, mallory]
    .find((p) => equalBytes(p.identity.publicKey, conversation.ownIdentityKey));
  assert(holder !== undefined);
  return holder.identity;
}

/** `packet` dispatched to the holder of `conversation` (its only conversation). */
function open(conversation: Conversation, packet: Uint8Array) {
  return dispatchMessage(packet, identityOf(conversation), conversation, NOW);
}

/** Opens `packet` in `conversation`, expecting `msg`; returns the next state. */
function expectOpen(conversation: Conversation, packet: Uint8Array, msg: string): Conversation {
  const opened = open(conversation, packet);
  assert(opened !== null, `expected "${msg}" to open`);
  assertEquals(read(opened.plaintext), msg);
  return opened.conversation;
}

/** Bob requests, Alice accepts, Alice's first reply reaches Bob. */
function established() {
  const { packet, outbound } = request(bob, alice, rng);
  const inbound = dispatchRequest(packet, alice.identity)!;
  const a0 = acceptRequest(inbound, { ownIdentity: alice.identity, rng });
  const first = send(a0, "hello bob");
  const started = dispatchFirstReply(first.packet, bob.identity, outbound, NOW)!;
  return { outbound, inbound, alice: first.conversation, bob: started.conversation };
}

Deno.test("the handshake goes from request sent to accepted to established, both sides sending at once", () => {
  // Stage 1: request sent
  const { packet, outbound } = request(bob, alice, rng);
  assertEquals(packet.length, 512);
  // Stage 2: request accepted; Alice can send right away, in reply packets
  const inbound = dispatchRequest(packet, alice.identity);
  assert(inbound !== null);
  let a = acceptRequest(inbound, { ownIdentity: alice.identity, rng });
  assertEquals([a.role, a.established], ["alice", false]);
  const r1 = send(a, "hi, it's alice");
  assertEquals(r1.kind, "reply");
  a = r1.conversation;
  // Bob completes the Triple DH with the first reply and can send right away
  const started = dispatchFirstReply(r1.packet, bob.identity, outbound, NOW);
  assert(started !== null);
  assertEquals(read(started.plaintext), "hi, it's alice");
  let b = started.conversation;
  assertEquals([b.role, b.established], ["bob", true]);
  assertEquals(b.conversationId, a.conversationId);
  const g1 = send(b, "hi alice");
  assertEquals(g1.kind, "regular");
  b = g1.conversation;
  // Stage 3: Bob's regular packet reaches Alice, who switches to regular packets
  a = expectOpen(a, g1.packet, "hi alice");
  assertEquals([a.established, a.handshakePublicKey, a.sharedRequestKey], [true, null, null]);
  const g2 = send(a, "established");
  assertEquals(g2.kind, "regular");
  a = g2.conversation;
  b = expectOpen(b, g2.packet, "established");
  assertEquals(expectOpen(a, send(b, "ok").packet, "ok").established, true);
});

Deno.test("a dispatched request carries the verified name, onion address, port and keys", () => {
  const named = { ...bob, name: "Bób ☕" };
  const { packet, outbound } = request(named, alice, rng);
  const inbound = dispatchRequest(packet, alice.identity)!;
  assertEquals(inbound.name, "Bób ☕");
  assertEquals(inbound.onionAddress, bob.onion.address);
  assertEquals(inbound.port, 9050);
  assertEquals(inbound.identityKey, bob.identity.publicKey);
  assertEquals(inbound.handshakeKey, outbound.handshakeKeyPair.publicKey);
  assertEquals(inbound.ratchetKey, outbound.ratchetKeyPair.publicKey);
  assertEquals(inbound.sharedRequestKey, outbound.sharedRequestKey);
  // the request's length says nothing of the name
  assertEquals(request({ ...bob, name: "b".repeat(64) }, alice, rng).packet.length, 512);
});

Deno.test("Bob starts from the third reply when the first two are lost, and opens them later", () => {
  const { packet, outbound } = request(bob, alice, rng);
  let a = acceptRequest(dispatchRequest(packet, alice.identity)!, {
    ownIdentity: alice.identity,
    rng,
  });
  const replies: Uint8Array[] = [];
  for (const m of ["one", "two", "three"]) {
    const s = send(a, m);
    replies.push(s.packet);
    a = s.conversation;
  }
  const started = dispatchFirstReply(replies[2]!, bob.identity, outbound, NOW)!;
  assertEquals(read(started.plaintext), "three");
  let b = started.conversation;
  // Bob sends before the late replies arrive; Alice's state moves to Stage 3
  const g = send(b, "got three");
  b = g.conversation;
  a = expectOpen(a, g.packet, "got three");
  b = expectOpen(b, replies[0]!, "one");
  b = expectOpen(b, replies[1]!, "two");
  // a replay of a reply never decrypts twice: the dispatcher names the conversation it is of
  const replayed = assertThrows(() => open(b, replies[1]!), UnreadableMessage);
  assertEquals([replayed.code, replayed.handle === b], ["decrypt_failed", true]);
  expectOpen(b, send(a, "regular now").packet, "regular now");
});

Deno.test("messages arrive out of order in every stage", () => {
  const { packet, outbound } = request(bob, alice, rng);
  let a = acceptRequest(dispatchRequest(packet, alice.identity)!, {
    ownIdentity: alice.identity,
    rng,
  });
  const fromAlice: Uint8Array[] = [];
  const fromBob: Uint8Array[] = [];
  const aliceSends = (n: number) => {
    const s = send(a, `a${n}`);
    a = s.conversation;
    fromAlice[n] = s.packet;
  };
  for (const n of [0, 1, 2]) aliceSends(n);
  let b = dispatchFirstReply(fromAlice[1]!, bob.identity, outbound, NOW)!
    .conversation;
  for (const n of [0, 1, 2]) {
    const s = send(b, `b${n}`);
    b = s.conversation;
    fromBob[n] = s.packet;
  }
  a = expectOpen(a, fromBob[2]!, "b2");
  aliceSends(3); // regular, new chain
  aliceSends(4);
  b = expectOpen(b, fromAlice[4]!, "a4");
  b = expectOpen(b, fromAlice[2]!, "a2"); // a reply from the old chain
  a = expectOpen(a, fromBob[0]!, "b0");
  b = expectOpen(b, fromAlice[3]!, "a3");
  b = expectOpen(b, fromAlice[0]!, "a0");
  a = expectOpen(a, fromBob[1]!, "b1");
  assertEquals(a.established, true);
});

Deno.test("a request to another identity is not a request for us", () => {
  const { packet } = request(bob, alice, rng);
  assertEquals(dispatchRequest(packet, carol.identity), null);
  assertEquals(dispatchRequest(packet, bob.identity), null);
});

Deno.test("dispatchPacket() drops forged, altered and replayed requests with bad_signature", () => {
  const valid = request(bob, alice, rng).packet;
  const opened = openRequest(valid, alice.identity)!;
  const data = decodeHandshake(opened.handshake, {
    receiverIdentityKey: alice.identity.publicKey,
    requestPublicKey: opened.requestPublicKey,
  });
  const fields = { ...data };
  // Mallory claims Bob's onion address but can only sign with her own key
  const forged = sealedAround(
    (requestPublicKey) =>
      encodeHandshake(fields, {
        receiverIdentityKey: alice.identity.publicKey,
        requestPublicKey,
      }, mallory.onion.seed),
    alice.identity.publicKey,
    rng,
  );
  // a field changed after signing (here the port), re-sealed by Alice herself
  // (version, name length, "bob", onion key, then the port)
  const altered = sealedAround(
    () => flip(opened.handshake, 2 + 3 + 32),
    alice.identity.publicKey,
    rng,
  );
  // Alice (or anyone who opened it) replays Bob's signed data to Carol, or to herself
  const toCarol = sealedAround(() => opened.handshake, carol.identity.publicKey, rng);
  const rewrapped = sealedAround(() => opened.handshake, alice.identity.publicKey, rng);
  // a signature over a request key that is not the packet's
  const otherKey = sealedAround(
    () =>
      encodeHandshake(fields, {
        receiverIdentityKey: alice.identity.publicKey,
        requestPublicKey: rng(32),
      }, bob.onion.seed),
    alice.identity.publicKey,
    rng,
  );
  assertEquals(outcome(() => dispatchRequest(forged, alice.identity)), "bad_signature");
  assertEquals(outcome(() => dispatchRequest(altered, alice.identity)), "bad_signature");
  assertEquals(outcome(() => dispatchRequest(toCarol, carol.identity)), "bad_signature");
  assertEquals(outcome(() => dispatchRequest(rewrapped, alice.identity)), "bad_signature");
  assertEquals(outcome(() => dispatchRequest(otherKey, alice.identity)), "bad_signature");
  const e = assertThrows(() => dispatchRequest(forged, alice.identity), ProtocolError);
  assert(!e.message.includes(toBase64(bob.onion.publicKey)));
});

Deno.test("createRequest() refuses our own identity, a low-order key, a bad name or port", () => {
  const base = {
    ownName: "bob",
    ownIdentity: bob.identity,
    onionKey: bob.onion,
    port: 9050,
    peerIdentityKey: alice.identity.publicKey,
    rng,
    now: REQUEST_TIME,
  };
  const lowOrder = new Uint8Array(32);
  assertEquals(outcome(() => createRequest(base)), "ok");
  assertEquals(
    outcome(() => createRequest({ ...base, peerIdentityKey: bob.identity.publicKey })),
    "own_identity",
  );
  assertEquals(outcome(() => createRequest({ ...base, peerIdentityKey: lowOrder })), "bad_key");
  assertEquals(outcome(() => createRequest({ ...base, ownName: "" })), "bad_name");
  assertEquals(outcome(() => createRequest({ ...base, port: 0 })), "bad_port");
});

Deno.test("tampered packets give null or a typed error and leave every state unchanged", () => {
  const { packet, outbound } = request(bob, alice, rng);
  // request: a changed hSub is not ours; a changed body fails its tag
  assertEquals(
    outcome(() => dispatchRequest(flip(packet, HEADER_LENGTH - 1), alice.identity)),
    "null",
  );
  assertEquals(outcome(() => dispatchRequest(flip(packet, 200), alice.identity)), "decrypt_failed");
  const a0 = acceptRequest(dispatchRequest(packet, alice.identity)!, {
    ownIdentity: alice.identity,
    rng,
  });
  const r = send(a0, "first");
  // reply: Bob's outbound request is unchanged and still opens the genuine reply
  const before = JSON.stringify(serializeOutboundRequest(outbound));
  assertEquals(
    outcome(() => dispatchFirstReply(flip(r.packet, 30), bob.identity, outbound, NOW)),
    "null",
  );
  assertEquals(
    outcome(() => dispatchFirstReply(flip(r.packet, 100), bob.identity, outbound, NOW)),
    "decrypt_failed",
  );
  assertEquals(
    outcome(() => dispatchFirstReply(r.packet.subarray(0, 511), bob.identity, outbound, NOW)),
    "bad_packet_length",
  );
  assertEquals(JSON.stringify(serializeOutboundRequest(outbound)), before);
  let b = dispatchFirstReply(r.packet, bob.identity, outbound, NOW)!.conversation;
  // regular: the conversation is unchanged and still opens the genuine packet
  const g = send(b, "to alice");
  b = g.conversation;
  const a1 = r.conversation;
  const aliceBefore = JSON.stringify(serializeConversation(a1));
  for (const at of [0, 5, 40, 100, g.packet.length - 1]) {
    const code = outcome(() => open(a1, flip(g.packet, at)));
    assert(["null", "decrypt_failed", "unsupported_version"].includes(code), `${at}: ${code}`);
  }
  assertEquals(JSON.stringify(serializeConversation(a1)), aliceBefore);
  const a2 = expectOpen(a1, g.packet, "to alice");
  // a replayed regular packet fails, the state is kept
  const replayed = assertThrows(() => open(a2, g.packet), UnreadableMessage);
  assertEquals([replayed.code, replayed.handle === a2], ["decrypt_failed", true]);
  // a reply carrying another handshake key is refused by Bob
  // (sent before Alice saw Bob's regular packet: from her state a1)
  const late = send(a1, "late").packet;
  const inner = openReply(late, a1.sharedRequestKey!, bob.identity.publicKey)!;
  const swapped = sealReply({
    sharedRequestKey: a1.sharedRequestKey!,
    receiverIdentityKey: bob.identity.publicKey,
    handshakePublicKey: carol.identity.publicKey,
    payload: inner.payload,
    rng,
  });
  assertEquals(outcome(() => open(b, swapped)), "unexpected_reply");
  expectOpen(b, late, "late");
});

Deno.test("a ratchet message cannot be moved to another conversation", () => {
  const ab = established();
  const cb = (() => {
    const { packet, outbound } = request(bob, carol, rng);
    const c = acceptRequest(dispatchRequest(packet, carol.identity)!, {
      ownIdentity: carol.identity,
      rng,
    });
    const s = send(c, "from carol");
    return dispatchFirstReply(s.packet, bob.identity, outbound, NOW)!.conversation;
  })();
  const g = send(ab.bob, "for alice");
  assertEquals(open(cb, g.packet), null);
  const payload =
    openReply(send(ab.alice, "x").packet, ab.alice.sharedRequestKey!, bob.identity.publicKey)!
      .payload;
  assertEquals(
    outcome(() => decryptInConversation(cb, "regular", payload, null, NOW)),
    "decrypt_failed",
  );
});

Deno.test("sealMessage() takes MAX_SEALED_PLAINTEXT bytes in both packet kinds, and no more", () => {
  const s = established();
  const big = new Uint8Array(MAX_SEALED_PLAINTEXT).fill(7);
  const asReply = sealMessage(s.alice, big, rng);
  assertEquals([asReply.kind, asReply.packet.length], ["reply", 131072]);
  assertEquals(open(s.bob, asReply.packet)!.plaintext, big);
  assertEquals(sealMessage(s.bob, big, rng).packet.length, 131072);
  const tooBig = new Uint8Array(MAX_SEALED_PLAINTEXT + 1);
  const e = assertThrows(() => sealMessage(s.alice, tooBig, rng), ProtocolError);
  assertEquals(e.code, "too_long");
  assertEquals(sealMessage(s.alice, new Uint8Array(0), rng).packet.length, 512);
});

Deno.test("dispatchPacket() tells Alice's own sent packets from the ones she receives", () => {
  const s = established();
  const book = bookOf(alice.identity, [s.alice]);
  const ownReply = send(s.alice, "mine").packet;
  assertEquals(dispatchPacket(ownReply, book, NOW), null);
  const fromBob = send(s.bob, "yours");
  const got = dispatchPacket(fromBob.packet, book, NOW);
  assert(got !== null && got.kind === "message");
  assertEquals([read(got.plaintext), got.packetKind, got.previous === s.alice], [
    "yours",
    "regular",
    true,
  ]);
  const ownRegular = send(got.conversation, "mine again");
  assertEquals(ownRegular.kind, "regular");
  assertEquals(
    dispatchPacket(ownRegular.packet, bookOf(alice.identity, [got.conversation]), NOW),
    null,
  );
  // and Bob's own regular packet is not one of his
  assertEquals(
    dispatchPacket(fromBob.packet, bookOf(bob.identity, [fromBob.conversation]), NOW),
    null,
  );
});

Deno.test("dispatchPacket() checks a known request key before the signature", () => {
  // a request for alice whose AEAD opens but whose handshake data is garbage:
  // verifying it throws, so only a check made before the signature can pass it
  let key: Uint8Array = new Uint8Array(0);
  const packet = sealedAround(
    (requestPublicKey) => {
      key = requestPublicKey;
      return new Uint8Array(200).fill(1);
    },
    alice.identity.publicKey,
    rng,
  );
  const fresh = bookOf(alice.identity, []);
  const refused = outcome(() => dispatchPacket(packet, fresh, NOW));
  assert(refused !== "ok" && refused !== "null", `a garbage request was ${refused}`);
  const asked: Uint8Array[] = [];
  const known = {
    ...fresh,
    knownRequest: (k: Uint8Array) => (asked.push(k), toBase64(k) === toBase64(key)),
  };
  const got = dispatchPacket(packet, known, NOW);
  assertEquals(got?.kind, "known_request");
  assertEquals(asked.map(toBase64), [toBase64(key)]);
  // a valid request with an unknown key goes on to the signature and opens
  const sent = request(bob, alice, rng);
  assertEquals(dispatchPacket(sent.packet, known, NOW)?.kind, "request");
});

Deno.test("values never print or stringify their keys", () => {
  const s = established();
  const secrets = [
    s.alice.conversationId,
    s.alice.sharedRequestKey!,
    s.outbound.ratchetKeyPair.secretKey,
  ]
    .map(toBase64);
  const shown = [s.alice, s.bob, s.outbound, s.inbound]
    .flatMap((v) => [JSON.stringify(v), Deno.inspect(v), String(v)]).join("\n");
  for (const secret of secrets) assert(!shown.includes(secret));
  assert(Deno.inspect(s.inbound).includes(bob.onion.address));
  assert(Object.isFrozen(s.alice) && Object.isFrozen(s.outbound));
  assertNotEquals(serializeConversation(s.alice), serializeConversation(s.bob));
  assertThrows(() => {
    (s.alice as { established: boolean }).established = true;
  }, TypeError);
  assertEquals(
    outcome(() => dispatchRequest(new Uint8Array(512), alice.identity)),
    "unsupported_version",
  );
  assertEquals(CryptoError.name, "CryptoError");
});
