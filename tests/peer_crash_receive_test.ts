/**
 * Crash consistency, receiving side (crash before a packet is accepted): see _peer_crash.ts for how a crash is simulated
 * and what is checked at every crash point.
 *
 * @module
 */

import { CRASH_POINTS, scenario } from "./_peer_crash.ts";

Deno.test("Peer: a crash before a received packet is accepted never loses an acknowledged message", async () => {
  for (const k of CRASH_POINTS) await scenario("receiver", k);
});
