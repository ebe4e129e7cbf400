/**
 * Packet identification (seed "Identifying conversations"): a receiver
 * holding 10, 1,000 and 10,000 conversations identifies a regular packet
 * whose conversation is the last one tried (the worst match) and a packet
 * of none of them (the worst case: every candidate and the request path are
 * tried). Keys are cached per conversation, as session.ts and the peer do;
 * the first (warm-up) run fills the hSub midstate cache. Target (issue 2):
 * under 10 ms among 10,000 conversations. Also seal + identify with keys
 * derived on every packet, and the request path (one X25519).
 *
 * @module
 */

import { seededRng } from "../_rng.ts";
import { generateKeyPair } from "../../lib/crypto/keys.ts";
import {
  identifyPacket,
  regularKeys,
  sealRegular,
  sealRequest,
} from "../../lib/protocol/packets.ts";

const rng = seededRng("packets_bench");
const alice = generateKeyPair(rng);
const bob = generateKeyPair(rng);
const payload = rng(200);

for (const n of [10, 1_000, 10_000]) {
  const conversations = Array.from({ length: n }, () => {
    const conversationId = rng(32);
    return { conversationId, keys: regularKeys(conversationId) };
  });
  const last = sealRegular({
    conversationId: conversations[n - 1]!.conversationId,
    receiverIdentityKey: bob.publicKey,
    payload,
    rng,
  });
  const stranger = sealRegular({
    conversationId: rng(32),
    receiverIdentityKey: bob.publicKey,
    payload,
    rng,
  });
  const candidates = { ownIdentity: bob, conversations, pendingRequests: [] };
  const count = n.toLocaleString("en");
  Deno.bench(`identify among ${count} conversations: match in the last`, {
    group: `identify-${n}`,
    baseline: true,
  }, () => {
    if (identifyPacket(last, candidates)?.kind !== "regular") throw new Error("not identified");
  });
  Deno.bench(`identify among ${count} conversations: no match (+ request path)`, {
    group: `identify-${n}`,
  }, () => {
    if (identifyPacket(stranger, candidates) !== null) throw new Error("identified");
  });
}

Deno.bench("seal + identify regular, 10 conversations, keys derived per packet", () => {
  const conversations = Array.from({ length: 10 }, (_, i) => ({
    conversationId: new Uint8Array(32).fill(i),
  }));
  const packet = sealRegular({
    conversationId: conversations[9]!.conversationId,
    receiverIdentityKey: bob.publicKey,
    payload,
    rng,
  });
  const found = identifyPacket(packet, { ownIdentity: bob, conversations, pendingRequests: [] });
  if (found?.kind !== "regular") throw new Error("not identified");
});

Deno.bench("seal + identify request, 10 conversations tried first", () => {
  const conversations = Array.from(
    { length: 10 },
    (_, i) => ({ conversationId: new Uint8Array(32).fill(i) }),
  );
  const { packet } = sealRequest({ handshake: payload, receiverIdentityKey: alice.publicKey, rng });
  const found = identifyPacket(packet, { ownIdentity: alice, conversations, pendingRequests: [] });
  if (found?.kind !== "request") throw new Error("not identified");
});
