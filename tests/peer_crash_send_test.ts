/**
 * Crash consistency, sending side (crash between saving and sending): see _peer_crash.ts for how a crash is simulated
 * and what is checked at every crash point.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { everyCrashPoint } from "./_peer_crash.ts";

Deno.test("Peer: a crash between saving and sending never desynchronises or loses a message", async () => {
  const points = await everyCrashPoint("sender");
  // at least one frame per message and acknowledgement crossed
  assert(points >= 8, `only ${points} crash points`);
});
