/**
 * Offline contacts and restarts: messages wait in the persisted outbox and
 * arrive in order exactly once; requests to an offline contact are
 * delivered when it comes online, even across the sender's restarts;
 * rejected requests stay rejected; both peers restart and continue.
 *
 * @module
 */

import { assertEquals } from "./_assert.ts";
import type { FramedConn } from "../lib/net/framed_conn.ts";
import { NetError } from "../lib/net/net_error.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";

/** Long enough for a few packets to cross loopback, and for several redials at the harness's back-off. */
const QUIET_MS = 300;

Deno.test("Peer: messages to an offline contact wait across the sender's restart and arrive in order once", async () => {
  const net = new TestNet("offline-1");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    const texts = ["one", "two\nlines", "three", "four", "five"];
    const ids: string[] = [];
    for (const t of texts) ids.push((await alice.peer.sendMessage("bob", t)).id);
    assertEquals(alice.peer.conversations()[0]?.pending, 5);
    await alice.close();
    await alice.open();
    assertEquals(alice.peer.conversations()[0]?.pending, 5);
    const a = alice.mark();
    const b = bob.mark();
    await bob.open();
    for (const id of ids) await alice.waitFor(is("delivered", { id }), a);
    assertEquals(bob.all("message", b).map((m) => m.text), texts);
    assertEquals(bob.all("message", b).map((m) => m.id), ids);
    assertEquals(alice.peer.conversations()[0]?.pending, 0);
    // a later round trip shows nothing else was (re)delivered
    const last = await alice.peer.sendMessage("bob", "six");
    await alice.waitFor(is("delivered", { id: last.id }), a);
    assertEquals(bob.all("message", b).map((m) => m.text), [...texts, "six"]);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: both peers restart and continue the same conversation", async () => {
  const net = new TestNet("offline-2");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    for (let round = 0; round < 3; round++) {
      await alice.close();
      await bob.close();
      await bob.open();
      await alice.open();
      const a = alice.mark();
      const b = bob.mark();
      const m1 = await alice.peer.sendMessage("bob", `a${round}`);
      const m2 = await bob.peer.sendMessage("alice", `b${round}`);
      await alice.waitFor(is("delivered", { id: m1.id }), a);
      await bob.waitFor(is("delivered", { id: m2.id }), b);
      assertEquals(bob.all("message", b).map((m) => m.text), [`a${round}`]);
      assertEquals(alice.all("message", a).map((m) => m.text), [`b${round}`]);
    }
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a request to an offline contact survives the sender's restart and arrives later", async () => {
  const net = new TestNet("offline-3");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const bobId = bob.peer.identity();
    await bob.close();
    await alice.peer.sendRequest(`bob@${bobId.onion}`, bobId.key);
    await alice.close();
    await alice.open();
    assertEquals(alice.peer.outboundRequests().map((r) => r.name), ["bob"]);
    const b = bob.mark();
    await bob.open();
    await bob.waitFor(is("request-received"), b);
    assertEquals(bob.peer.inboundRequests().map((r) => r.name), ["alice"]);
    // Bob restarts before answering: the request is still there, and not doubled
    await bob.close();
    await bob.open();
    await alice.close();
    await alice.open();
    assertEquals(bob.peer.inboundRequests().map((r) => r.name), ["alice"]);
    const a = alice.mark();
    await bob.peer.acceptRequest("alice");
    await alice.waitFor(is("request-accepted", { name: "bob" }), a);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a rejected request is dropped and a re-sent copy stays rejected", async () => {
  const net = new TestNet("offline-4");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const bobId = bob.peer.identity();
    const b = bob.mark();
    await alice.peer.sendRequest(`bob@${bobId.onion}:${bobId.port}`, bobId.key);
    await bob.waitFor(is("request-received"), b);
    await bob.peer.rejectRequest("alice");
    assertEquals(bob.peer.inboundRequests(), []);
    // Alice's restart re-sends it; Bob does not list it again
    const a = alice.mark();
    await alice.close();
    await alice.open();
    // the request's one-shot connection: connected, written, closed
    const up = await alice.waitFor(is("connection", { name: "bob", state: "connected" }), a);
    await alice.waitFor(
      is("connection", { name: "bob", state: "disconnected" }),
      alice.events.indexOf(up),
    );
    assertEquals(bob.all("request-received", b).length, 1);
    assertEquals(bob.peer.inboundRequests(), []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a probe whose answer was lost is no reason to keep dialling a contact who went offline", async () => {
  const net = new TestNet("offline-probe");
  try {
    let dials = 0;
    const counting = (base: Transport): Transport => ({
      connect: (address: PeerAddress, key: string, signal?: AbortSignal) => {
        dials++;
        return base.connect(address, key, signal);
      },
    });
    const alice = await net.peer("alice", { transport: counting });
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await alice.close();
    await bob.close();
    // bob's answers are lost: alice's connection opens with a probe (she has nothing
    // else to say) whose acknowledgement never reaches her
    const mute = (conn: FramedConn): FramedConn => {
      conn.send = () => Promise.reject(new NetError("write_failed", "Lost by the test"));
      return conn;
    };
    await bob.open({
      wrapInbound: mute,
      transport: (base) => ({
        connect: async (address: PeerAddress, key: string, signal?: AbortSignal) =>
          mute(await base.connect(address, key, signal)),
      }),
    });
    const b = bob.mark();
    await alice.open({ transport: counting });
    await bob.until(() => bob.peer.conversations()[0]?.online === true);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    // bob goes offline for good; alice has nothing to tell him but that probe
    await bob.close();
    assertEquals(bob.all("message", b).length, 0);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const before = dials;
    await new Promise((r) => setTimeout(r, 5 * QUIET_MS));
    assertEquals(dials - before, 0, "alice keeps dialling an offline contact for a keep-alive");
  } finally {
    await net.close();
  }
});
