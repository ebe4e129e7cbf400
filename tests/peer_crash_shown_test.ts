/**
 * Crash consistency of showing received messages: a message acknowledged
 * to its sender has been shown to the receiver (its `message` event
 * emitted), whatever the moment of a kill -9.
 *
 * The receiver is "killed" when one of its conversation saves lands (the
 * promise of `saveConversation` resolves): its files are read at that very
 * moment, every later event of that instance is discarded, it sends and
 * receives nothing more; then it is closed, its folder put back to the
 * snapshot and opened again. Crash points: the first save whose `seen`
 * holds a given message's ID (the old bug: that save came before the
 * event, so the restarted receiver took the re-sent copy as seen, never
 * showed it, and acknowledged it), and every save in turn.
 *
 * Each message must then be shown at least once, in order, and a message
 * shown twice (crash after showing, before `seen` was saved) carries the
 * same event ID both times (consumers de-duplicate by ID).
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { Crash, crashingInbound, crashingTransport, realEvents, texts } from "./_peer_crash.ts";
import {
  connect,
  onConversationSave,
  putBlocks,
  restoreSnapshot,
  TestNet,
} from "./_peer_harness.ts";
import type { PeerEvent } from "../lib/peer.ts";
import type { PeerStore } from "../lib/store/peer_store.ts";

/** When to crash: given the received IDs a save writes and the number of this save (1-based). */
type CrashWhen = (seen: string[], count: number) => boolean;

/** Most save points tried by the sweep (far above what the scenario makes). */
const MAX_SAVE_POINTS = 40;

/** A store that kills `crash` right when a conversation save chosen by `when` lands. */
function crashingStore(crash: Crash, when: CrashWhen): (store: PeerStore) => PeerStore {
  let count = 0;
  return onConversationSave((changes, next) => {
    // the received IDs are saved as parts "s/<n>" (blocks of IDs)
    const hit = !crash.dead && when(putBlocks(changes, "s/") as string[], ++count);
    const saved = next();
    // runs before whoever awaits the save continues
    return hit ? saved.then(() => crash.kill()) : saved;
  });
}

/** Every `message` event with `text` has one and the same ID. */
function assertSameIds(events: PeerEvent[], label: string): void {
  const idOf = new Map<string, string>();
  for (const e of events) {
    if (e.event !== "message") continue;
    const seen = idOf.get(e.text);
    assert(seen === undefined || seen === e.id, `${label}: "${e.text}" shown under two IDs`);
    idOf.set(e.text, e.id);
  }
}

/**
 * Alice queues messages while Bob is away; Bob comes back and is killed
 * when `when` says. Returns false if no save matched (nothing crashed).
 */
async function scenario(
  label: string,
  when: (ids: string[]) => CrashWhen,
): Promise<boolean> {
  const net = new TestNet(`crash-shown-${label}`);
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    const sent = ["m1", "m2\nm2", "m3", "m4"];
    const ids: string[] = [];
    for (const t of sent) ids.push((await alice.peer.sendMessage("bob", t)).id);
    const crash = new Crash(bob, Number.POSITIVE_INFINITY);
    await bob.open({
      transport: crashingTransport(crash, false),
      wrapInbound: crashingInbound(crash, false),
      wrapStore: crashingStore(crash, when(ids)),
    });
    // either the crash comes, or everything is delivered without one
    await bob.until(() => crash.dead || alice.peer.conversations()[0]?.pending === 0);
    if (!crash.dead) return false;
    await bob.close();
    await restoreSnapshot(bob.dir, crash.snapshot!);
    const reopenMark = bob.mark();
    await bob.open({});
    await alice.until(() => alice.peer.conversations()[0]?.pending === 0);
    const events = realEvents(bob, crash, reopenMark);
    assertEquals(texts(events), sent, `${label}: shown once each (by ID), in order`);
    assertSameIds(events, label);
    return true;
  } finally {
    await net.close();
  }
}

Deno.test("Peer: a crash when a message's ID is saved as seen never loses the message (it was shown first)", async () => {
  for (let i = 0; i < 4; i++) {
    const crashed = await scenario(
      `seen-${i}`,
      (ids) => (seen) => seen.includes(ids[i]!),
    );
    assert(crashed, `no save recorded message ${i} as seen`);
  }
});

Deno.test("Peer: a crash at any conversation save of the receiver never loses a message", async () => {
  let k = 1;
  while (await scenario(`save-${k}`, () => (_saved, count) => count === k)) {
    k++;
    assert(k <= MAX_SAVE_POINTS, "the receiver never stopped saving");
  }
  // saves merge into commits (several packets, one commit): at least the
  // commit that accepts the messages and the one that records them as seen
  assert(k > 2, `only ${k - 1} save points`);
});
