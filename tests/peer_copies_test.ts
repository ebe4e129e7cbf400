/**
 * Re-sent copies (issue 8 item 1): a sender re-sends an unacknowledged
 * entry as the very same bytes, whose message key the receiver already
 * used. The receiver must recognise such a copy and acknowledge it again
 * (else the entry would wait forever), and a copy replayed many times must
 * cost it one acknowledgement per connection, not one per copy (each is a
 * ratchet message and a save: the runaway in the other direction).
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import type { FramedConn } from "../lib/net/framed_conn.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { connect, is, onConversationSave, TestNet } from "./_peer_harness.ts";

/** Copies replayed on one connection. */
const REPLAYS = 50;
/** Connections they are replayed on. */
const CONNECTIONS = 4;
/** Time for a (wrong) second answer to be written before the count is read. */
const SETTLE_MS = 200;

/** A transport that records every frame written on its connections, and counts its dials. */
function recording(
  frames: Uint8Array[],
  dials = { count: 0 },
): (base: Transport) => Transport {
  return (base) => ({
    async connect(address: PeerAddress, key: string, signal?: AbortSignal): Promise<FramedConn> {
      const conn = await base.connect(address, key, signal);
      dials.count++;
      const send = conn.send.bind(conn);
      conn.send = (payload) => (frames.push(payload.slice()), send(payload));
      return conn;
    },
  });
}

/** Dials after which bob answers again: each opened with the queued message. */
const LOSSY_DIALS = 3;

Deno.test("Peer: a copy of a message whose acknowledgement was lost is acknowledged again; its sender seals it once", async () => {
  const net = new TestNet("copies-1");
  try {
    const sent: Uint8Array[] = [];
    const dials = { count: 0 };
    const alice = await net.peer("alice", { transport: recording(sent, dials) });
    // while `lossy`, whatever bob writes (his acknowledgement of the message
    // among it) is lost with its connection, whichever connection it takes
    let lossy = () => false;
    const dropping = (conn: FramedConn): FramedConn => {
      const send = conn.send.bind(conn);
      conn.send = (payload) => {
        if (!lossy()) return send(payload);
        void conn.close();
        return Promise.reject(new Error("lost by the test"));
      };
      return conn;
    };
    const bob = await net.peer("bob", {
      wrapInbound: dropping,
      transport: (base) => ({
        connect: async (address: PeerAddress, key: string, signal?: AbortSignal) =>
          dropping(await base.connect(address, key, signal)),
      }),
    });
    await connect(alice, bob);
    const a = alice.mark();
    const b = bob.mark();
    const before = sent.length;
    const dialled = dials.count;
    lossy = () => dials.count - dialled < LOSSY_DIALS;
    const { id } = await alice.peer.sendMessage("bob", "only once");
    await alice.waitFor(is("delivered", { id }), a);
    assertEquals(bob.all("message", b).map((m) => m.text), ["only once"]);
    // sealed once: the message crossed again as the very same bytes (a fresh
    // seal per connection, as before, never repeats a packet)
    const ours = sent.slice(before);
    const same = (p: Uint8Array, q: Uint8Array) =>
      p.length === q.length && p.every((x, i) => x === q[i]);
    assert(
      ours.some((p, i) => ours.slice(i + 1).some((q) => same(p, q))),
      "the message went again as the same bytes",
    );
    // bob recognised the copy: it was not dropped as a packet that does not decrypt
    const unreadable = bob.all("warning", b)
      .filter((w) => w.code === "decrypt_failed" || (w.reasons?.["decrypt_failed"] ?? 0) > 0);
    assertEquals(unreadable, []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a packet replayed many times costs one acknowledgement per connection", async () => {
  const net = new TestNet("copies-2");
  try {
    const sent: Uint8Array[] = [];
    const bobSaves = { saves: 0 };
    const alice = await net.peer("alice", { transport: recording(sent) });
    const bob = await net.peer("bob", {
      wrapStore: onConversationSave((_, next) => (bobSaves.saves++, next())),
    });
    await connect(alice, bob);
    const b = bob.mark();
    const before = sent.length;
    const { id } = await alice.peer.sendMessage("bob", "replay me");
    await alice.waitFor(is("delivered", { id }));
    // the message's packet, as it crossed the network
    const packet = sent.slice(before).find((p) => p.length > 0)!;
    await alice.close();
    const saves = bobSaves.saves;
    let answers = 0;
    for (let c = 0; c < CONNECTIONS; c++) {
      const conn = await net.transport.connect({ host: bob.host, port: 50001 }, `replay-${c}`);
      let back = 0;
      conn.onFrame(() => void back++);
      for (let i = 0; i < REPLAYS; i++) await conn.send(packet);
      await bob.until(() => back >= 1);
      // a packet that identifies nothing: once bob drops it, every copy before it was handled
      const w = bob.mark();
      await conn.send(new Uint8Array(512));
      await bob.waitFor((e) => e.event === "warning", w);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      answers += back;
      await conn.close();
    }
    // one acknowledgement (one seal, one save, one frame) per connection
    assertEquals(answers, CONNECTIONS, `${answers} answers to ${CONNECTIONS * REPLAYS} copies`);
    assert(bobSaves.saves - saves <= CONNECTIONS, `${bobSaves.saves - saves} saves`);
    assertEquals(bob.all("message", b).map((m) => m.text), ["replay me"]);
  } finally {
    await net.close();
  }
});
