/**
 * Tests of the JSON forms of the handshake's values (handshake_state.ts):
 * every stage saved and reloaded mid-conversation, then continued, and
 * every malformed form refused with `bad_state`. Received packets go
 * through `dispatchPacket` (the steps of `_dispatch.ts`), as in a peer.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { outcome, party, read, request, text } from "./_handshake_fixtures.ts";
import { dispatchFirstReply, dispatchMessage, dispatchRequest } from "./_dispatch.ts";
import { equalBytes, toBase64 } from "../lib/crypto/bytes.ts";
import { acceptRequest } from "../lib/protocol/handshake.ts";
import {
  type Conversation,
  deserializeConversation,
  deserializeInboundRequest,
  deserializeOutboundRequest,
  type InboundRequest,
  type OutboundRequest,
  serializeConversation,
  serializeInboundRequest,
  serializeOutboundRequest,
} from "../lib/protocol/handshake_state.ts";
import { sealMessage } from "../lib/protocol/session.ts";

const rng = seededRng("protocol_handshake_state_test");
const alice = party("alice", rng);
const bob = party("bob", rng, 9050);
const NOW = 1_700_000_000_000;

/** Through JSON text and back, as the store does. */
const reloadConversation = (c: Conversation) =>
  deserializeConversation(JSON.parse(JSON.stringify(serializeConversation(c))));
const reloadOutbound = (o: OutboundRequest) =>
  deserializeOutboundRequest(JSON.parse(JSON.stringify(serializeOutboundRequest(o))));
const reloadInbound = (i: InboundRequest) =>
  deserializeInboundRequest(JSON.parse(JSON.stringify(serializeInboundRequest(i))));

/** A copy of `o` without `field`. */
function without(o: object, field: string): object {
  const copy: Record<string, unknown> = { ...o };
  delete copy[field];
  return copy;
}

/** Dispatches `packet` to the holder of `c` (alice or bob), expecting `msg`; returns the next state. */
function open(c: Conversation, packet: Uint8Array, msg: string): Conversation {
  const holder = equalBytes(c.ownIdentityKey, alice.identity.publicKey) ? alice : bob;
  const opened = dispatchMessage(packet, holder.identity, c, NOW);
  assert(opened !== null);
  assertEquals(read(opened.plaintext), msg);
  return opened.conversation;
}

Deno.test("every stage survives a JSON round trip mid-conversation and continues", () => {
  const sent = request(bob, alice, rng);
  const outbound = reloadOutbound(sent.outbound);
  assertEquals(serializeOutboundRequest(outbound), serializeOutboundRequest(sent.outbound));
  const inbound = reloadInbound(dispatchRequest(sent.packet, alice.identity)!);
  let a = reloadConversation(acceptRequest(inbound, { ownIdentity: alice.identity, rng }));
  const r1 = sealMessage(a, text("r1"), rng);
  a = reloadConversation(r1.conversation);
  const r2 = sealMessage(a, text("r2"), rng);
  a = reloadConversation(r2.conversation);
  assertEquals(a.established, false);
  let b = reloadConversation(
    dispatchFirstReply(r2.packet, bob.identity, outbound, NOW)!.conversation,
  );
  const g1 = sealMessage(b, text("g1"), rng);
  b = reloadConversation(g1.conversation);
  a = reloadConversation(open(a, g1.packet, "g1"));
  assertEquals(a.established, true);
  b = reloadConversation(open(b, r1.packet, "r1")); // a late reply after a reload
  const g2 = sealMessage(a, text("g2"), rng);
  a = reloadConversation(g2.conversation);
  b = reloadConversation(open(b, g2.packet, "g2"));
  const g3 = sealMessage(b, text("g3"), rng);
  open(a, g3.packet, "g3");
  assertEquals(serializeConversation(reloadConversation(b)), serializeConversation(b));
});

Deno.test("deserialize*() refuse malformed forms with bad_state, naming no value", () => {
  const sent = request(bob, alice, rng);
  const inbound = dispatchRequest(sent.packet, alice.identity)!;
  const a = acceptRequest(inbound, { ownIdentity: alice.identity, rng });
  const conv = serializeConversation(a);
  const lowOrder = toBase64(new Uint8Array(32));
  const cases: [string, () => unknown][] = [
    ["not an object", () => deserializeConversation("x")],
    ["array", () => deserializeConversation([])],
    ["missing field", () => deserializeConversation(without(conv, "role"))],
    ["extra field", () => deserializeConversation({ ...conv, extra: 1 })],
    ["version", () => deserializeConversation({ ...conv, version: 2 })],
    ["role", () => deserializeConversation({ ...conv, role: "eve" })],
    ["short key", () => deserializeConversation({ ...conv, conversationId: "AAAA" })],
    ["bad base64", () => deserializeConversation({ ...conv, conversationId: "!".repeat(44) })],
    ["low-order peer", () => deserializeConversation({ ...conv, peerIdentityKey: lowOrder })],
    ["self", () => deserializeConversation({ ...conv, peerIdentityKey: conv.ownIdentityKey })],
    ["stage", () => deserializeConversation({ ...conv, established: true })],
    ["established type", () => deserializeConversation({ ...conv, established: "no" })],
    ["bob not established", () => deserializeConversation({ ...conv, role: "bob" })],
    [
      "alice peer handshake",
      () => deserializeConversation({ ...conv, peerHandshakeKey: conv.handshakePublicKey }),
    ],
    ["no request key", () => deserializeConversation({ ...conv, sharedRequestKey: null })],
    ["outbound fields", () => deserializeOutboundRequest({ version: 1 })],
    [
      "inbound port",
      () => deserializeInboundRequest({ ...serializeInboundRequest(inbound), port: 0 }),
    ],
    [
      "inbound name",
      () => deserializeInboundRequest({ ...serializeInboundRequest(inbound), name: "a@b" }),
    ],
    ["inbound address", () =>
      deserializeInboundRequest({
        ...serializeInboundRequest(inbound),
        onionAddress: inbound.onionAddress.slice(0, -1) + "a",
      })],
    ["inbound upper case", () =>
      deserializeInboundRequest({
        ...serializeInboundRequest(inbound),
        onionAddress: inbound.onionAddress.toUpperCase(),
      })],
    [
      "inbound low-order",
      () =>
        deserializeInboundRequest({ ...serializeInboundRequest(inbound), ratchetKey: lowOrder }),
    ],
  ];
  for (const [what, fn] of cases) assertEquals(outcome(fn), "bad_state", what);
  // a malformed ratchet is refused by ratchet_state.ts, with the same code
  const ratchet = { ...conv.ratchet, ns: -1 };
  assertEquals(outcome(() => deserializeConversation({ ...conv, ratchet })), "bad_state");
  try {
    deserializeConversation({ ...conv, conversationId: conv.sharedRequestKey + "x" });
  } catch (e) {
    assert(!String(e).includes(conv.sharedRequestKey!));
  }
});
