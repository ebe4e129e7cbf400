/**
 * Crash consistency at every commit of the journal (lib/store/journal.ts):
 * either peer is killed when its k-th save lands, for every k until it
 * makes no more saves, with the files as they are at that instant, and
 * again with half of the next commit appended (a kill in the middle of an
 * append). Every message must arrive exactly once, in order, and the
 * conversation must go on both ways (see _peer_crash.ts).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { scenarioAtSave } from "./_peer_crash.ts";

/** More save points than the scenario makes on either side. */
const MAX_SAVE_POINTS = 60;

for (const side of ["sender", "receiver"] as const) {
  Deno.test(`Peer: a kill of the ${side} at any commit, or in the middle of the next, loses nothing and desyncs nothing`, async () => {
    let k = 1;
    for (; k <= MAX_SAVE_POINTS; k++) {
      if (!(await scenarioAtSave(side, k, false))) break;
      await scenarioAtSave(side, k, true);
    }
    console.log(`    ${side}: ${k - 1} save points`);
    assert(k > 4, `only ${k - 1} save points`);
    assert(k <= MAX_SAVE_POINTS, "the peer never stopped saving");
  });
}
