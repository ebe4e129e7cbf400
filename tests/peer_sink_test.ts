/**
 * The core and a slow event sink (lib/peer/types.ts `EventSink`): a
 * received message is acknowledged only once the sink has shown it, the
 * conversation keeps working meanwhile, a copy re-sent during the wait is
 * not shown twice, a message the sink could not show is not
 * acknowledged (its sender re-sends it), one it shows only after the core
 * stopped waiting is acknowledged once shown, messages held back while
 * the inbox was full come again once it has room, and text waiting to be
 * shown over all contacts is bounded (past it the core stops reading).
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";
import type { PeerEvent } from "../lib/peer.ts";
import { MAX_UNSHOWN_CHARS, SINK_FLUSH_TIMEOUT_MS } from "../lib/peer/core.ts";
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

/**
 * An interface that shows nothing (stdout unread, a stuck page) holds the
 * network, not memory: the core counted the events it waits for, 256, but
 * a message event carries up to 1 MiB of text (6 MiB as a JSON line with
 * every character escaped), so 256 of them could hold gigabytes (each
 * contact is held to 4 MiB of them, but many contacts are not). Text
 * waiting to be shown is bounded in all too: past it the core stops
 * reading the network, and goes on once the interface catches up.
 */
Deno.test("Peer: past 4 Mi characters of message text waiting to be shown, the core reads no more", async () => {
  const SENDERS = 4;
  const PER_SENDER = 2; // each sender keeps at most 2 MiB sealed and unacknowledged
  const TEXT = "x".repeat(768 * 1024);
  const net = new TestNet("sink-text-bound");
  try {
    const bob = await net.peer("bob");
    const senders = [];
    for (let i = 0; i < SENDERS; i++) {
      const s = await net.peer(`s${i}`);
      await connect(s, bob);
      senders.push(s);
    }
    await bob.close();
    const g = gate();
    await bob.open({ shown: g.shown });
    const b = bob.mark();
    const from = (name: string) => bob.all("message", b).filter((m) => m.name === name).length;
    // one sender after another, until the text waiting passes the bound
    let waiting = 0;
    for (const s of senders.slice(0, -1)) {
      for (let i = 0; i < PER_SENDER; i++) await s.peer.sendMessage("bob", TEXT);
      await bob.until(() => from(s.name) === PER_SENDER, 30_000);
      waiting += PER_SENDER * TEXT.length;
    }
    assert(waiting >= MAX_UNSHOWN_CHARS, "the bound was not reached");
    // the last sender's messages are not taken in while that text waits
    const last = senders.at(-1)!;
    for (let i = 0; i < PER_SENDER; i++) await last.peer.sendMessage("bob", TEXT);
    await sleep(2_000);
    assertEquals(from(last.name), 0, "taken in while none was shown");
    g.open();
    await bob.until(() => from(last.name) === PER_SENDER, 30_000);
    await last.until(() => last.peer.conversations()[0]?.pending === 0, 30_000);
  } finally {
    await net.close();
  }
});
