/**
 * Seal + identify of a regular packet with 1, 10 and 100 candidate
 * conversations, the matching one last (the worst case), with and without
 * cached per-conversation keys; plus the request path (one X25519).
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

for (const n of [1, 10, 100]) {
  const conversations = Array.from({ length: n }, () => ({ conversationId: rng(32) }));
  const target = conversations[n - 1]!.conversationId;
  const cached = conversations.map((c) => ({ ...c, keys: regularKeys(c.conversationId) }));
  for (const [name, list] of [["derived", conversations], ["cached keys", cached]] as const) {
    Deno.bench(
      `seal+identify regular, ${n} candidate(s), ${name}`,
      { group: `regular-${n}` },
      () => {
        const packet = sealRegular({
          conversationId: target,
          receiverIdentityKey: bob.publicKey,
          payload,
          rng,
        });
        const found = identifyPacket(packet, {
          ownIdentity: bob,
          conversations: list,
          pendingRequests: [],
        });
        if (found?.kind !== "regular") throw new Error("not identified");
      },
    );
  }
}

Deno.bench("seal+identify request, 10 conversations tried first", { group: "request" }, () => {
  const conversations = Array.from(
    { length: 10 },
    (_, i) => ({ conversationId: new Uint8Array(32).fill(i) }),
  );
  const { packet } = sealRequest({ handshake: payload, receiverIdentityKey: alice.publicKey, rng });
  const found = identifyPacket(packet, { ownIdentity: alice, conversations, pendingRequests: [] });
  if (found?.kind !== "request") throw new Error("not identified");
});
