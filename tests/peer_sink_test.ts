/**
 * The core and a slow event sink (lib/peer/types.ts `EventSink`): a
 * received message is acknowledged only once the sink has shown it, the
 * conversation keeps working meanwhile, a copy re-sent during the wait is
 * not shown twice, a message the sink could not show is not
 * acknowledged (its sender re-sends it), and one it shows only after the
 * core stopped waiting is acknowledged once shown.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";
import type { PeerEvent } from "../lib/peer.ts";
import { SINK_FLUSH_TIMEOUT_MS } from "../lib/peer/core.ts";

/** Long enough for an acknowledgement to cross loopback several times. */
const QUIET_MS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sink answer for `message` events that resolves only when `open()` is called. */
function gate() {
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    open: () => resolve(),
    shown: (e: PeerEvent) => (e.event === "message" ? promise : undefined),
  };
}

Deno.test("Peer: a message is acknowledged only once the sink has shown it; the conversation goes on meanwhile", async () => {
  const net = new TestNet("sink-slow");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    const g = gate();
    await bob.open({ shown: g.shown });
    const a = alice.mark();
    const { id } = await alice.peer.sendMessage("bob", "wait for me");
    await bob.waitFor(is("message", { id }));
    await sleep(QUIET_MS);
    assertEquals(alice.all("delivered", a).length, 0, "acknowledged before it was shown");
    // Bob's own messages and the acknowledgements he receives still flow
    const b = bob.mark();
    const fromBob = await bob.peer.sendMessage("alice", "meanwhile");
    await bob.waitFor(is("delivered", { id: fromBob.id }), b);
    // a copy re-sent meanwhile (alice restarts: her outbox goes again) is not shown again
    await alice.close();
    await alice.open();
    await sleep(QUIET_MS);
    assertEquals(alice.peer.conversations()[0]?.pending, 1);
    g.open();
    await alice.waitFor(is("delivered", { id }));
    assertEquals(bob.all("message").filter((e) => e.id === id).length, 1, "shown twice");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a message the sink could not show is not acknowledged and is shown when re-sent", async () => {
  const net = new TestNet("sink-failed");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    await bob.open({
      shown: (e) => (e.event === "message" ? Promise.reject(new Error("output gone")) : undefined),
    });
    const { id } = await alice.peer.sendMessage("bob", "again");
    await bob.waitFor(is("message", { id }));
    await sleep(QUIET_MS);
    assertEquals(alice.peer.conversations()[0]?.pending, 1, "acknowledged though not shown");
    await bob.close();
    const b = bob.mark();
    await bob.open({});
    await alice.until(() => alice.peer.conversations()[0]?.pending === 0);
    const again = bob.all("message", b).filter((e) => e.id === id);
    assert(again.length === 1, `shown ${again.length} times after the restart`);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a message the sink shows only after the wait is acknowledged then, and not shown again", async () => {
  const net = new TestNet("sink-late");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    // a consumer that stops reading for longer than the core waits (SINK_FLUSH_TIMEOUT_MS)
    const g = gate();
    await bob.open({ shown: g.shown });
    const a = alice.mark();
    const { id } = await alice.peer.sendMessage("bob", "late");
    await bob.waitFor(is("message", { id }));
    await sleep(SINK_FLUSH_TIMEOUT_MS + QUIET_MS);
    assertEquals(alice.peer.conversations()[0]?.pending, 1, "acknowledged before it was shown");
    // it reads again: the line is out, and that is what its acknowledgement waited for
    g.open();
    await alice.waitFor(is("delivered", { id }), a);
    assertEquals(bob.all("message").filter((e) => e.id === id).length, 1, "shown twice");
  } finally {
    await net.close();
  }
});
