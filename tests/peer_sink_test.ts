/**
 * The core and a slow event sink (lib/peer/types.ts `EventSink`): a
 * received message is acknowledged only once the sink has shown it, the
 * conversation keeps working meanwhile, a copy re-sent during the wait is
 * not shown twice, a message the sink could not show is not
 * acknowledged (its sender re-sends it), one it shows only after the core
 * stopped waiting is acknowledged once shown, and messages held back while
 * the inbox was full come again once it has room.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";
import type { PeerEvent } from "../lib/peer.ts";
import { SINK_FLUSH_TIMEOUT_MS } from "../lib/peer/core.ts";
import { MAX_INBOX_MESSAGES } from "../lib/peer/records.ts";

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

Deno.test("Peer: messages held back while the inbox is full arrive once the interface shows the inbox", async () => {
  const net = new TestNet("sink-full");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    // bob's interface cannot show messages (a GUI with no page open)
    let away = true;
    await bob.open({
      shown: (e) =>
        e.event === "message" && away ? Promise.reject(new Error("no page open")) : undefined,
    });
    const a = alice.mark();
    const b = bob.mark();
    const ids: string[] = [];
    for (let i = 0; i < MAX_INBOX_MESSAGES + 3; i++) {
      ids.push((await alice.peer.sendMessage("bob", `m${i}`)).id);
    }
    // the inbox fills up; what comes after it is held back, the last message included
    const held = () => bob.all("warning", b).filter((w) => w.code === "inbox_full").length;
    await bob.until(() => held() >= 1);
    const quiet = alice.mark();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    // while nothing is shown, alice does not reconnect to send it all again and again
    const redials = alice.all("connection", quiet).filter((e) => e.state === "connected");
    assertEquals(redials.length, 0, "alice re-sent while bob's interface showed nothing");
    away = false;
    bob.peer.showUnread();
    for (const id of ids) await alice.waitFor(is("delivered", { id }), a);
    const shown = new Map(bob.all("message", b).map((m) => [m.id, m.text]));
    assertEquals([...shown.values()], ids.map((_, i) => `m${i}`));
  } finally {
    await net.close();
  }
});
