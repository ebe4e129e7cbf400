/**
 * Many contacts at start (issue 11 item 3): the start dials go in order,
 * the most recently active contacts first, and only a few at a time
 * (start_order.ts); a contact that shows up on its own, or one the user
 * sends a message to, is dialled outside that order. The time this saves over tor is measured by
 * tests/bench/start_bench.ts.
 *
 * @module
 */

import { assertEquals } from "./_assert.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { StartGate } from "../lib/peer/start_order.ts";
import { connect, TestNet, type TestPeer } from "./_peer_harness.ts";

/** A slot held longer than any test runs. */
const FOREVER_MS = 60 * 60_000;

Deno.test("StartGate grants its slots in order, a slot again when one is done, and skips a ticket done while queued", async () => {
  const gate = new StartGate(2, FOREVER_MS);
  const tickets = [0, 1, 2, 3, 4].map(() => gate.ticket());
  const granted: number[] = [];
  tickets.forEach((t, i) => void t.granted.then(() => granted.push(i)));
  const settle = () => new Promise((r) => setTimeout(r, 0));
  await settle();
  assertEquals(granted, [0, 1]);
  tickets[3]!.done(); // no longer needed: it gives up its place in line
  await settle();
  assertEquals(granted, [0, 1, 3]);
  tickets[0]!.done();
  await settle();
  assertEquals(granted, [0, 1, 3, 2]);
  tickets[1]!.done();
  await settle();
  assertEquals(granted, [0, 1, 3, 2, 4]);
  for (const t of tickets) t.done();
});

Deno.test("StartGate lets the next dial go once a slot was held too long", async () => {
  const gate = new StartGate(1, 10);
  const first = gate.ticket();
  const second = gate.ticket();
  await first.granted;
  // the first never says it is done: its slot runs out, and the second goes
  await second.granted;
  first.done();
  second.done();
});

Deno.test("Peer: at start contacts with messages waiting, then the most recently active, are dialled first, one at a time here", async () => {
  const net = new TestNet("start-order");
  try {
    const dialled: string[] = [];
    const recording = (base: Transport): Transport => ({
      connect: (address: PeerAddress, key: string, signal?: AbortSignal) => {
        dialled.push(address.host);
        return base.connect(address, key, signal);
      },
    });
    // the hub's clock moves on by a second at each step
    let clock = Date.now();
    const tick = () => (clock += 1_000);
    const hub = await net.peer("hub", {
      transport: recording,
      peer: { startDials: 1, now: () => clock },
    });
    const contacts: TestPeer[] = [];
    for (const name of ["c1", "c2", "c3", "c4", "c5"]) {
      const c = await net.peer(name);
      await connect(hub, c);
      contacts.push(c);
      tick();
    }
    const [c1, c2, c3, c4, c5] = contacts as [TestPeer, TestPeer, TestPeer, TestPeer, TestPeer];
    // activity: c3, then c1, then c4; c2 and c5 were last active when their conversations began
    for (const c of [c3, c1, c4]) {
      const { id } = await hub.peer.sendMessage(c.name, "hi");
      await hub.waitFor((e) => e.event === "delivered" && e.id === id);
      tick();
    }
    for (const c of contacts) await c.close();
    // a message waits for c5, queued at a time before all the others
    const now = clock;
    clock -= 60_000;
    await hub.peer.sendMessage("c5", "when you are back");
    clock = now;
    await hub.close();
    dialled.length = 0;
    await hub.open();
    // (c5's link dials again while its message waits: the first dial of each counts)
    const firsts = () => [...new Set(dialled)];
    await hub.until(() => firsts().length >= 5);
    assertEquals(firsts(), [c5.host, c4.host, c1.host, c3.host, c2.host]);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a message typed at start goes at once, not after the start dials queued before its contact", async () => {
  const net = new TestNet("start-hurry");
  try {
    // the hub's dials to `away` hang, as tor's do for a contact that is down: each
    // would hold its start slot for START_SLOT_MS
    let awayHost = "";
    const hanging = (base: Transport): Transport => ({
      connect: (address: PeerAddress, key: string, signal?: AbortSignal) =>
        address.host !== awayHost
          ? base.connect(address, key, signal)
          : new Promise((_, reject) =>
            signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true })
          ),
    });
    let clock = Date.now();
    const hub = await net.peer("hub", {
      transport: hanging,
      peer: { startDials: 1, now: () => clock },
    });
    const friend = await net.peer("friend");
    await connect(hub, friend);
    clock += 1_000;
    const away = await net.peer("away");
    await connect(hub, away);
    awayHost = away.host;
    await away.close();
    // the friend does not dial the hub (that would put it first): only the hub's own dial counts
    await friend.close();
    await friend.open({
      transport: (base) => ({
        connect: (address: PeerAddress, key: string, signal?: AbortSignal) =>
          address.host === hub.host
            ? Promise.reject(new Error("refused by the test"))
            : base.connect(address, key, signal),
      }),
    });
    await hub.close();
    await hub.open();
    // `away` was active last, so its (hanging) dial holds the one start slot
    const a = hub.mark();
    const { id } = await hub.peer.sendMessage("friend", "now, please");
    await hub.waitFor((e) => e.event === "delivered" && e.id === id, a);
  } finally {
    await net.close();
  }
});
