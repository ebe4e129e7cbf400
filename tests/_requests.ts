/**
 * Requests made by hand for the peer tests: a stranger with a throw-away
 * identity and onion key signs a request with any suggested name and
 * delivers it straight to a test peer's listener, as an attacker who knows
 * the peer's address would (the flood and look-alike tests).
 *
 * @module
 */

import type { Rng } from "../lib/crypto/bytes.ts";
import { decodePublicKey, generateKeyPair } from "../lib/crypto/keys.ts";
import { generateOnionKey } from "../lib/crypto/onion.ts";
import { createRequest } from "../lib/protocol/handshake.ts";
import type { TestPeer } from "./_peer_harness.ts";

/**
 * A signed request from a fresh stranger who suggests `name`, addressed to
 * `to`, made at `now` (default: the clock).
 */
export function strangerRequest(
  to: TestPeer,
  name: string,
  rng: Rng,
  now = Date.now(),
): Uint8Array {
  return createRequest({
    ownName: name,
    ownIdentity: generateKeyPair(rng),
    onionKey: generateOnionKey(rng),
    port: 50001,
    peerIdentityKey: decodePublicKey(to.peer.identity().key),
    rng,
    now,
  }).packet;
}

/** Writes `packets` to `to`'s listener on one connection, then closes it. */
export async function deliver(to: TestPeer, packets: Uint8Array[]): Promise<void> {
  const conn = await to.net.transport.connect({ host: to.host, port: 50001 }, "stranger");
  try {
    for (const packet of packets) await conn.send(packet);
  } finally {
    await conn.close();
  }
}
