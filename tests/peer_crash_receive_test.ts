/**
 * Crash consistency, receiving side (crash before a packet is accepted): see _peer_crash.ts for how a crash is simulated
 * and what is checked at every crash point.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { everyCrashPoint } from "./_peer_crash.ts";

Deno.test("Peer: a crash before a received packet is accepted never loses an acknowledged message", async () => {
  const points = await everyCrashPoint("receiver");
  // at least one frame per message and acknowledgement crossed
  assert(points >= 8, `only ${points} crash points`);
});
