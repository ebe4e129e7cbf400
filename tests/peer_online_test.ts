/**
 * Being connected (issue 12 B, network rough edges):
 * - a connection between contacts identifies itself at once and stays up,
 *   so two running peers that have exchanged nothing since they started are
 *   online for each other, and stay so past the listener's deadline for a
 *   first frame;
 * - a dial that waits out a long timeout from when the contact was down is
 *   cut short when the contact shows up on an inbound connection, and what
 *   waited is delivered;
 * - closing sends the "offline" notice on a connection that is open either
 *   way, instead of spending its budget redialling;
 * - `convs` follows presence at once;
 * - `msg` says whether the message is queued for an offline contact, and
 *   `delivered` names the message;
 * - a contact who cannot dial us back answers our probe on our connection,
 *   even with a message of its own waiting for a dial (send_cap.ts rule 2),
 *   so a full sending chain empties.
 *
 * A dial "waiting out a timeout" is a dial that never ends until aborted:
 * the tests never depend on how long anything takes.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import type { FramedConn } from "../lib/net/framed_conn.ts";
import { NetError } from "../lib/net/net_error.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";

/** Longer than the harness listener's 5 s deadline for a connection's first frame. */
const PAST_FIRST_FRAME_DEADLINE_MS = 6_000;
/** How long after its end a closed connection looks open (the convs-lag test). */
const LATE_CLOSE_MS = 3_000;
/** Bound on a delivery that takes a few re-sends (under a loaded suite, more than 8 s once). */
const LOADED_WAIT_MS = 30_000;

/** A transport whose dials to `host` hang (until aborted) while `hang` is set. */
class Hanging {
  hang = false;
  hung = 0;
  constructor(readonly host: () => string) {}

  wrap(base: Transport): Transport {
    return {
      connect: (address: PeerAddress, key: string, signal?: AbortSignal): Promise<FramedConn> => {
        if (!this.hang || address.host !== this.host()) return base.connect(address, key, signal);
        this.hung++;
        return new Promise((_, reject) => {
          const abort = () => reject(new NetError("connect_aborted", "aborted by the dialler"));
          if (signal?.aborted) return abort();
          signal?.addEventListener("abort", abort, { once: true });
        });
      },
    };
  }
}

/** Alice and Bob, connected; Alice's dials to Bob hang once `hanging.hang` is set. */
async function hangingPair(net: TestNet) {
  let bobHost = "";
  const hanging = new Hanging(() => bobHost);
  const alice = await net.peer("alice", { transport: (t) => hanging.wrap(t) });
  const bob = await net.peer("bob");
  bobHost = bob.host;
  await connect(alice, bob);
  return { alice, bob, hanging };
}

Deno.test("Peer: contacts that exchanged nothing since they started are online both ways and stay so", async () => {
  const net = new TestNet("online-1");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await alice.close();
    await bob.close();
    await bob.open();
    await alice.open();
    const online = () =>
      alice.peer.conversations()[0]?.online === true &&
      bob.peer.conversations()[0]?.online === true;
    await alice.until(online);
    // past the listener's deadline for a first frame, the connections are still up
    await new Promise((r) => setTimeout(r, PAST_FIRST_FRAME_DEADLINE_MS));
    assert(online(), "still online on both sides");
    // so /auth needs no dial
    assertEquals(await alice.peer.authenticate("bob", "a secret"), { connecting: false });
    const b = bob.mark();
    await bob.waitFor(is("auth", { name: "alice", status: "requested" }), b);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a dial hanging since the contact was down is cut short when the contact shows up", async () => {
  const net = new TestNet("online-2");
  try {
    const { alice, bob, hanging } = await hangingPair(net);
    // bob goes away; alice's dials to him hang, as tor's do for a contact that is down
    hanging.hang = true;
    await bob.close();
    const a = alice.mark();
    const { id } = await alice.peer.sendMessage("bob", "are you back?");
    await alice.until(() => hanging.hung > 0);
    // bob is back (his own dial to alice shows it) while alice's dial still hangs;
    // a new dial would reach him
    hanging.hang = false;
    await bob.open();
    await alice.waitFor(is("delivered", { id }), a);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: while our dial to a contact hangs, their messages are acknowledged on their connection, and quitting sends the offline notice there", async () => {
  const net = new TestNet("online-3");
  try {
    const { alice, bob, hanging } = await hangingPair(net);
    await alice.peer.setPresence("bob", true);
    // bob restarts; alice cannot dial him any more (her dials hang), he dials her
    hanging.hang = true;
    await bob.close();
    await bob.open();
    await bob.until(() => alice.peer.conversations()[0]?.online === true);
    // her dial to him hangs; his connection carries her acknowledgements meanwhile
    const m = bob.mark();
    const { id } = await bob.peer.sendMessage("alice", "I am back");
    await bob.waitFor(is("delivered", { id }), m);
    const b = bob.mark();
    await alice.close();
    await bob.waitFor(is("presence", { name: "alice", online: false }), b);
  } finally {
    await net.close();
  }
});

/**
 * `conn` as seen by a peer that learns of its end only `ms` later, like a
 * tor stream that outlives the process at its far end for a while.
 */
function lateClose(conn: FramedConn, ms: number): FramedConn {
  let ended = false;
  const closed = conn.closed.then(async (info) => {
    await new Promise((r) => setTimeout(r, ms));
    ended = true;
    return info;
  });
  Object.defineProperty(conn, "closed", { value: closed });
  Object.defineProperty(conn, "isClosed", { get: () => ended });
  return conn;
}

Deno.test("Peer: convs shows a contact offline as soon as it says so", async () => {
  const net = new TestNet("online-4");
  try {
    const alice = await net.peer("alice", {
      wrapInbound: (conn) => lateClose(conn, LATE_CLOSE_MS),
      transport: (t) => ({
        connect: async (address: PeerAddress, key: string, signal?: AbortSignal) =>
          lateClose(await t.connect(address, key, signal), LATE_CLOSE_MS),
      }),
    });
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.peer.setPresence("alice", true);
    await alice.until(() => alice.peer.conversations()[0]?.online === true);
    let atNotice: boolean | undefined;
    const a = alice.mark();
    const seen = alice.waitFor(is("presence", { name: "bob", online: false }), a).then(() => {
      atNotice = alice.peer.conversations()[0]?.online;
    });
    await bob.close();
    await seen;
    assertEquals(atNotice, false, "offline in convs when the notice is shown");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: msg says when a message is queued for an offline contact; delivered names it", async () => {
  const net = new TestNet("online-5");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await alice.until(() => alice.peer.conversations()[0]?.online === true);
    const now = await alice.peer.sendMessage("bob", "while you are here");
    assertEquals(now.queued, false);
    await bob.close();
    await alice.until(() => alice.peer.conversations()[0]?.online === false);
    const text = "a long message\nwith two lines, which the notice shortens to its start";
    const later = await alice.peer.sendMessage("bob", text);
    assertEquals(later.queued, true);
    const a = alice.mark();
    await bob.open();
    const delivered = await alice.waitFor(is("delivered", { id: later.id }), a);
    assertEquals(delivered.excerpt, "a long message with two lines, which the…");
    assert(delivered.queuedAt > 0 && delivered.queuedAt <= Date.now(), "queued time");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a probe is answered by a contact who cannot dial back, even with a message of its own waiting", async () => {
  const net = new TestNet("online-oneway");
  try {
    // the smallest cap: a probe fills what a chain has left after one element
    const options = { peer: { sendCap: 2 } };
    const alice = await net.peer("alice", options);
    const bob = await net.peer("bob", options);
    await connect(alice, bob);
    await bob.close();
    // bob's dials to alice fail (her onion service is out of his reach); hers reach him
    await bob.open({
      ...options,
      transport: (base) => ({
        connect: (address: PeerAddress, key: string, signal?: AbortSignal) =>
          address.host === alice.host
            ? Promise.reject(new NetError("connect_failed", "Unreachable in the test"))
            : base.connect(address, key, signal),
      }),
    });
    // bob has a message for alice that only his own connection could carry
    await bob.peer.sendMessage("alice", "when I can reach you");
    // alice's new connection to him opens with a probe
    await bob.until(() => bob.peer.conversations()[0]?.online === true);
    const a = alice.mark();
    const { id } = await alice.peer.sendMessage("bob", "I can reach you");
    await alice.waitFor(is("delivered", { id }), a, LOADED_WAIT_MS);
  } finally {
    await net.close();
  }
});
