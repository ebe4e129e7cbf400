/**
 * Sealed outbox entries whose bytes their receiver can no longer use. An
 * entry is sealed once and re-sent as the same bytes (contact.ts); the
 * receiver recognises a copy of what it read by its digest (receive.ts).
 * Two ways such bytes go stale:
 *
 * - The first copy is lost while a later packet of the same sending chain
 *   gets through (an acknowledgement on the contact's own connection): the
 *   receiver keeps the skipped message key of the lost one (ratchet.ts) for
 *   at most SKIPPED_KEY_TTL_MS (7 days), and only while MAX_SKIPPED_CHAINS
 *   and MAX_SKIPPED_KEYS leave it there. A copy that comes later does not
 *   decrypt and is no copy of anything read.
 * - The receiver read the first part of a long (fragmented) message and
 *   restarted: the copy of that part is recognised, but the part itself,
 *   held in memory for reassembly, is gone.
 *
 * Before the fix either stalled for good: the receiver dropped the stale
 * packet (and closed a connection whose first packet it was, so the
 * sender's connection was never answered and it never sealed anew), and
 * the sender re-sent the same bytes on every connection. Now the receiver
 * names the packet in an `unreadable` element and the sender seals the
 * entry anew; its element ID keeps it from being shown twice.
 *
 * @module
 */

import { assertEquals } from "./_assert.ts";
import type { FramedConn } from "../lib/net/framed_conn.ts";
import { NetError } from "../lib/net/net_error.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { SKIPPED_KEY_TTL_MS } from "../lib/crypto/ratchet.ts";
import { connect, is, onConversationSave, putBlocks, TestNet } from "./_peer_harness.ts";

/** Bound on the delivery once the network is healthy again (many redials at the harness's back-off). */
const DELIVERY_MS = 20_000;

/** Alice's outbound connections lose every frame (and close) while `lossy`. */
function losingOwn(state: { lossy: boolean }): (base: Transport) => Transport {
  return (base) => ({
    async connect(address: PeerAddress, key: string, signal?: AbortSignal): Promise<FramedConn> {
      const conn = await base.connect(address, key, signal);
      const send = conn.send.bind(conn);
      conn.send = (payload) => {
        if (!state.lossy) return send(payload);
        void conn.close();
        return Promise.reject(
          new NetError("write_failed", "Lost by the test", { retryable: true }),
        );
      };
      return conn;
    },
  });
}

Deno.test("Peer: an entry whose receiver's skipped key expired is still delivered, once", async () => {
  const net = new TestNet("stale-copy");
  try {
    const state = { lossy: false };
    let skew = 0;
    const alice = await net.peer("alice", { transport: losingOwn(state) });
    const bob = await net.peer("bob", { peer: { now: () => Date.now() + skew } });
    await connect(alice, bob);
    const a = alice.mark();
    const b = bob.mark();
    // alice's own connections lose what she writes: her message never reaches bob
    state.lossy = true;
    const lost = await alice.peer.sendMessage("bob", "sealed a week ago");
    // bob's message reaches alice on his connection, and her acknowledgement (sealed
    // after the lost message, in the same chain or the next) comes back on it: bob
    // skips the lost message's key and keeps it
    const ping = await bob.peer.sendMessage("alice", "ping");
    await bob.waitFor(is("delivered", { id: ping.id }), b);
    // a week later that key has expired at bob's
    skew = SKIPPED_KEY_TTL_MS + 60_000;
    state.lossy = false;
    await alice.waitFor(is("delivered", { id: lost.id }), a, DELIVERY_MS);
    assertEquals(bob.all("message", b).map((m) => m.text), ["sealed a week ago"]);
    // and what follows it gets through too
    const next = await alice.peer.sendMessage("bob", "and the next");
    await alice.waitFor(is("delivered", { id: next.id }), a);
  } finally {
    await net.close();
  }
});

/** A message long enough to take two packets (fragment.ts). */
const LONG = "x".repeat(200_000);

Deno.test("Peer: a long message whose first part was read before the receiver restarted is still delivered", async () => {
  const net = new TestNet("stale-part");
  try {
    // alice's second large packet is lost (once), and her connection stays up until
    // bob's restart ends it (closing it at once could reset it before bob read the
    // first part): bob has read the first part of the long message only
    let large = 0;
    // from the loss until bob is back, alice's dials fail
    let down = false;
    const cutting = (base: Transport): Transport => ({
      async connect(address: PeerAddress, key: string, signal?: AbortSignal): Promise<FramedConn> {
        if (down) throw new NetError("connect_failed", "Down in the test", { retryable: true });
        const conn = await base.connect(address, key, signal);
        const send = conn.send.bind(conn);
        conn.send = (payload) => {
          if (payload.length < 100_000 || ++large !== 2) return send(payload);
          down = true;
          return Promise.resolve();
        };
        return conn;
      },
    });
    const alice = await net.peer("alice", { transport: cutting });
    // how many of bob's landed saves wrote digests (received parts, blocks "d/<n>")
    const saved = { digests: 0 };
    const watching = onConversationSave(async (changes, next) => {
      await next();
      if (putBlocks(changes, "d/").length > 0) saved.digests++;
    });
    const bob = await net.peer("bob", { wrapStore: watching });
    await connect(alice, bob);
    const a = alice.mark();
    const before = saved.digests;
    const { id } = await alice.peer.sendMessage("bob", LONG);
    // bob restarts once the first part is in (what he had reassembled is gone)
    await alice.until(() => large >= 2);
    await bob.until(() => saved.digests > before);
    await bob.close();
    assertEquals(bob.all("message").length, 0, "not complete before the restart");
    await bob.open();
    down = false;
    await alice.waitFor(is("delivered", { id }), a, DELIVERY_MS);
    assertEquals(bob.all("message").map((m) => m.text.length), [LONG.length]);
  } finally {
    await net.close();
  }
});
