/**
 * Packet identification (docs/protocol.md, "10. Identifying a received
 * packet"): a receiver
 * holding 10, 1,000, 10,000 and 100,000 conversations in its table of K_r
 * (packet_common.ts HsubTable, as the peer keeps it) identifies the first
 * packet of a new connection whose conversation is the last one scanned
 * (the worst match), a packet of none of them (every candidate, then the
 * request path), and a packet of the contact its connection already
 * belongs to (tried first). Target (issue 9): the first packet among
 * 100,000 in at most 20 ms. Also seal + identify with keys derived on
 * every packet, and the request path (one X25519).
 *
 * @module
 */

import { seededRng } from "../_rng.ts";
import { generateKeyPair } from "../../lib/crypto/keys.ts";
import {
  HsubTable,
  identifyPacket,
  type PacketKeys,
  regularKeys,
  regularReceiverMidstate,
  sealRegular,
  sealRequest,
} from "../../lib/protocol/packets.ts";

const rng = seededRng("packets_bench");
const alice = generateKeyPair(rng);
const bob = generateKeyPair(rng);
const payload = rng(200);

for (const n of [10, 1_000, 10_000, 100_000]) {
  // the peer's table of every conversation's K_r (PeerCore), scanned in SIMD
  const table = new HsubTable<{ conversationId: Uint8Array; keys: PacketKeys }>(bob.publicKey);
  const conversations = Array.from({ length: n }, () => {
    const conversationId = rng(32);
    const c = { conversationId, keys: regularKeys(conversationId) };
    table.add(c, regularReceiverMidstate(conversationId, bob.publicKey));
    return c;
  });
  const lastId = conversations[n - 1]!.conversationId;
  const last = sealRegular({
    conversationId: lastId,
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
  const candidates = { ownIdentity: bob, conversations: table, pendingRequests: [] };
  const count = n.toLocaleString("en");
  Deno.bench(
    `identify among ${count} conversations: first packet of a new connection, match in the last`,
    {
      group: `identify-${n}`,
      baseline: true,
    },
    () => {
      if (identifyPacket(last, candidates)?.kind !== "regular") throw new Error("not identified");
    },
  );
  Deno.bench(`identify among ${count} conversations: no match (+ request path)`, {
    group: `identify-${n}`,
  }, () => {
    if (identifyPacket(stranger, candidates) !== null) throw new Error("identified");
  });
  Deno.bench(`identify among ${count} conversations: a connection's own contact (tried first)`, {
    group: `identify-${n}`,
  }, () => {
    const found = identifyPacket(last, { ...candidates, first: conversations[n - 1]! });
    if (found?.kind !== "regular") throw new Error("not identified");
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
