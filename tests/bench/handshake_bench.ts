/**
 * Benchmarks of the handshake (handshake.ts, session.ts, dispatch.ts): each stage, the
 * full handshake (create → receive → accept → first reply → first regular),
 * a message both ways afterwards, and identifying a packet among many
 * conversations. Every received packet goes through `dispatchPacket`, as in
 * a peer (`_dispatch.ts`). Run with `deno task bench`.
 *
 * @module
 */

import { systemRng } from "../../lib/rng.ts";
import { generateKeyPair } from "../../lib/crypto/keys.ts";
import { generateOnionKey } from "../../lib/crypto/onion.ts";
import { acceptRequest, createRequest } from "../../lib/protocol/handshake.ts";
import type { Conversation } from "../../lib/protocol/handshake_state.ts";
import { sealMessage } from "../../lib/protocol/session.ts";
import { dispatchPacket } from "../../lib/protocol/dispatch.ts";
import { bookOf } from "../_handshake_fixtures.ts";
import { dispatchFirstReply, dispatchMessage, dispatchRequest } from "../_dispatch.ts";

const rng = systemRng;
const NOW = 1_700_000_000_000;
const alice = generateKeyPair(rng);
const bob = generateKeyPair(rng);
const onionKey = generateOnionKey(rng);
const line = new TextEncoder().encode(
  "a typical chat line of about sixty characters, give or take",
);

function create() {
  return createRequest({
    ownName: "bob",
    ownIdentity: bob,
    onionKey,
    port: 9050,
    peerIdentityKey: alice.publicKey,
    rng,
    now: 1_700_000_000_000,
  });
}

/** The whole handshake; returns both conversations at Stage 3. */
function fullHandshake(): { a: Conversation; b: Conversation } {
  const { packet, outbound } = create();
  const inbound = dispatchRequest(packet, alice)!;
  const accepted = acceptRequest(inbound, { ownIdentity: alice, rng });
  const reply = sealMessage(accepted, line, rng);
  const started = dispatchFirstReply(reply.packet, bob, outbound, NOW)!;
  const regular = sealMessage(started.conversation, line, rng);
  const a = dispatchMessage(regular.packet, alice, reply.conversation, NOW)!.conversation;
  return { a, b: regular.conversation };
}

const sample = create();
const sampleInbound = dispatchRequest(sample.packet, alice)!;

Deno.bench("createRequest (Bob, Stage 1: 3 key pairs, signature, seal)", { group: "stage" }, () => {
  create();
});

Deno.bench("dispatch a request (Alice: open, verify signature)", { group: "stage" }, () => {
  dispatchRequest(sample.packet, alice);
});

Deno.bench("acceptRequest (Alice, Stage 2: Triple DH, initAlice)", { group: "stage" }, () => {
  acceptRequest(sampleInbound, { ownIdentity: alice, rng });
});

Deno.bench("full handshake: create → receive → accept → first reply → first regular", {
  baseline: true,
}, () => {
  fullHandshake();
});

const { a, b } = fullHandshake();

Deno.bench("a message each way after the handshake (seal + open, with DH ratchet steps)", () => {
  const toBob = sealMessage(a, line, rng);
  const atBob = dispatchMessage(toBob.packet, bob, b, NOW)!.conversation;
  const toAlice = sealMessage(atBob, line, rng);
  dispatchMessage(toAlice.packet, alice, toBob.conversation, NOW);
});

// Alice holding 100 conversations; the packet belongs to the last one
const many: Conversation[] = [];
for (let i = 0; i < 99; i++) many.push(fullHandshake().a);
many.push(a);
const incoming = sealMessage(b, line, rng).packet;
const stranger = sealMessage(fullHandshake().b, line, rng).packet;

Deno.bench(
  "dispatchPacket among 100 conversations (match in the last)",
  { group: "identify" },
  () => {
    dispatchPacket(incoming, bookOf(alice, many), NOW);
  },
);

Deno.bench("dispatchPacket among 100 conversations (none matches)", { group: "identify" }, () => {
  dispatchPacket(stranger, bookOf(bob, many), NOW);
});
