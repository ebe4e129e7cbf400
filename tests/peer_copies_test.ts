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
import type { PeerStore } from "../lib/store/peer_store.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";

/** Copies replayed on one connection. */
const REPLAYS = 50;
/** Connections they are replayed on. */
const CONNECTIONS = 4;
/** Time for a (wrong) second answer to be written before the count is read. */
const SETTLE_MS = 200;

/** Counts a store's conversation saves. */
function counting(counter: { saves: number }): (store: PeerStore) => PeerStore {
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        if (prop === "saveConversation") {
          return (id: string, value: unknown) => {
            counter.saves++;
            return target.saveConversation(id, value);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}

/** A transport that records every frame written on its connections. */
function recording(frames: Uint8Array[]): (base: Transport) => Transport {
  return (base) => ({
    async connect(address: PeerAddress, key: string, signal?: AbortSignal): Promise<FramedConn> {
      const conn = await base.connect(address, key, signal);
      const send = conn.send.bind(conn);
      conn.send = (payload) => (frames.push(payload.slice()), send(payload));
      return conn;
    },
  });
}

Deno.test("Peer: a copy of a message whose acknowledgement was lost is acknowledged again; its sender seals it once", async () => {
  const net = new TestNet("copies-1");
  try {
    const sent: Uint8Array[] = [];
    const alice = await net.peer("alice", { transport: recording(sent) });
    // bob's acknowledgements of the first copy are lost with its connection
    let dropAcks = false;
    const bob = await net.peer("bob", {
      wrapInbound: (conn) => {
        const send = conn.send.bind(conn);
        conn.send = (payload) => {
          if (!dropAcks) return send(payload);
          dropAcks = false;
          void conn.close();
          return Promise.reject(new Error("lost by the test"));
        };
        return conn;
      },
    });
    await connect(alice, bob);
    const a = alice.mark();
    const b = bob.mark();
    dropAcks = true;
    const before = sent.length;
    const { id } = await alice.peer.sendMessage("bob", "only once");
    await alice.waitFor(is("delivered", { id }), a);
    assertEquals(bob.all("message", b).map((m) => m.text), ["only once"]);
    // the copy that earned the acknowledgement is the very packet sent first
    const ours = sent.slice(before);
    const first = ours[0]!;
    assert(
      ours.slice(1).some((p) => p.length === first.length && p.every((x, i) => x === first[i])),
      "the message went again as the same bytes",
    );
    // bob recognised the copy: it was not dropped as a packet that does not decrypt
    assertEquals(bob.all("warning", b).filter((w) => w.code === "decrypt_failed"), []);
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
    const bob = await net.peer("bob", { wrapStore: counting(bobSaves) });
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
