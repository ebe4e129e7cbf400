/**
 * Crash consistency, sending side (crash between saving and sending): see _peer_crash.ts for how a crash is simulated
 * and what is checked at every crash point.
 *
 * @module
 */

import { CRASH_POINTS, scenario } from "./_peer_crash.ts";

Deno.test("Peer: a crash between saving and sending never desynchronises or loses a message", async () => {
  for (const k of CRASH_POINTS) await scenario("sender", k);
});
