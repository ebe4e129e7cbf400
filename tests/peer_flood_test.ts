/**
 * A stranger who knows a peer's address and floods its listener (issue 8
 * item 2): with connections that stay silent, and with connections that
 * each send a packet-shaped frame of nobody's every 200 ms (which used to
 * reset the idle timer and hold a slot for good). A contact still reaches
 * the peer, the stranger holds at most the unidentified pool, and a first
 * packet that identifies nothing closes its connection.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { connect, EVENT_TIMEOUT_MS, is, TestNet } from "./_peer_harness.ts";
import { bogusFrame, Flood } from "./_flood.ts";
import { DEFAULT_MAX_PER_OWNER, DEFAULT_MAX_UNIDENTIFIED } from "../lib/net/admission.ts";

/** Connections the stranger keeps open at once: far more than the old cap of 64. */
const STRANGER_CONNECTIONS = 150;
/** Bound on a wait behind the flood: the backlog drains a pool (128) per grace period (3 s). */
const FLOOD_WAIT_MS = 30_000;

for (const [kind, everyMs] of [["silent", Infinity], ["chatty", 200]] as const) {
  Deno.test(`Peer: ${STRANGER_CONNECTIONS} ${kind} stranger connections do not keep a contact out`, async () => {
    const net = new TestNet(`flood-${kind}`);
    let flood: Flood | undefined;
    let sampler: ReturnType<typeof setInterval> | undefined;
    try {
      const alice = await net.peer("alice");
      const bob = await net.peer("bob");
      await connect(alice, bob);
      // alice goes away; the stranger takes every connection it can; alice comes back
      await alice.close();
      flood = new Flood(bob.listener.port, { connections: STRANGER_CONNECTIONS, everyMs });
      const held = { unidentified: 0, identified: 0 };
      sampler = setInterval(() => {
        const pools = bob.listener.pools;
        held.unidentified = Math.max(held.unidentified, pools.unidentified);
        held.identified = Math.max(held.identified, pools.identified);
      }, 5);
      // a few rounds of the stranger reopening what bob closed (silent ones keep a slot for
      // its grace period, so bob closes them more slowly: a pool per grace period)
      await bob.until(() => flood!.stats.opened >= 2 * STRANGER_CONNECTIONS, FLOOD_WAIT_MS);
      await alice.open();
      const a = alice.mark();
      const b = bob.mark();
      const sent = performance.now();
      const toBob = await alice.peer.sendMessage("bob", "through the crowd");
      // alice waits in bob's backlog behind the stranger's connections
      await alice.waitFor(is("delivered", { id: toBob.id }), a, FLOOD_WAIT_MS);
      const waited = performance.now() - sent;
      const toAlice = await bob.peer.sendMessage("alice", "and back");
      await bob.waitFor(is("delivered", { id: toAlice.id }), b);
      assertEquals(bob.all("message", b).map((m) => m.text), ["through the crowd"]);
      // the stranger never held more than the unidentified pool, nor any identified slot
      assert(held.unidentified <= DEFAULT_MAX_UNIDENTIFIED, `held ${held.unidentified} slots`);
      assert(held.identified <= DEFAULT_MAX_PER_OWNER, `${held.identified} identified connections`);
      console.log(
        `${kind}: stranger opened ${flood.stats.opened} connections, sent ${flood.stats.frames} ` +
          `frames; held at most ${held.unidentified} unidentified slots; alice got through in ` +
          `${waited.toFixed(0)} ms`,
      );
      // and bob said so in a few aggregated warnings, not one per packet or connection
      const warnings = bob.all("warning", b);
      assert(
        warnings.every((w) => w.code === "packets_dropped" || w.code === "connections_refused"),
      );
      assert(warnings.length <= 12, `${warnings.length} warnings`);
    } finally {
      clearInterval(sampler);
      await flood?.stop();
      await net.close();
    }
  });
}

/**
 * Over tor, bob's listener accepts alice's connection when tor connects to
 * it, and alice's first packet comes a round trip of the rendezvous circuit
 * later. Simulated here: alice's transport hands her the connection a second
 * after the TCP connect. A stranger who keeps a few more silent connections
 * open than bob's unidentified pool holds (small here), reopening each one
 * bob closes, used to push each of alice's out before her packet came: her
 * messages never reached bob.
 */
Deno.test("Peer: a contact whose first packet takes a tor round trip gets through a silent flood", async () => {
  const ROUND_TRIP_MS = 1_000;
  const POOL = 8;
  const net = new TestNet("flood-round-trip");
  let flood: Flood | undefined;
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob", { admission: { maxUnidentified: POOL } });
    await connect(alice, bob);
    await alice.close();
    flood = new Flood(bob.listener.port, {
      connections: POOL + 4,
      everyMs: Infinity,
      reconnectMs: 0,
    });
    await bob.until(() => bob.netLog.some((l) => l.code === "unidentified_pool_full"));
    await alice.open({
      transport: (base) => ({
        connect: async (address, key, signal) => {
          const conn = await base.connect(address, key, signal);
          await new Promise((r) => setTimeout(r, ROUND_TRIP_MS));
          return conn;
        },
      }),
    });
    const a = alice.mark();
    const toBob = await alice.peer.sendMessage("bob", "a round trip late");
    await alice.waitFor(is("delivered", { id: toBob.id }), a, FLOOD_WAIT_MS);
  } finally {
    await flood?.stop();
    await net.close();
  }
});

Deno.test("Peer: a connection whose first packet identifies nothing is closed at once", async () => {
  const net = new TestNet("flood-first");
  try {
    // a deadline far beyond the wait below: only the packet itself can close the connection
    const bob = await net.peer("bob", { admission: { identifyTimeoutMs: 120_000 } });
    const b = bob.mark();
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: bob.listener.port });
    await tcp.write(bogusFrame());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      tcp.read(new Uint8Array(16)).then(() => true, () => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), EVENT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    tcp.close();
    assert(ended, "the connection stayed open after a packet that identifies nothing");
    await bob.waitFor((e) => e.event === "warning" && e.code === "packets_dropped", b);
    await bob.until(() => bob.listener.activeConnections === 0);
  } finally {
    await net.close();
  }
});
