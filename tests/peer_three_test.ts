/**
 * Three peers in one process: conversations never mix (each packet is
 * identified by its hSub and opened only in its own conversation), and
 * garbage or oversized frames on a listener close only their own
 * connection.
 *
 * @module
 */

import { assertEquals } from "./_assert.ts";
import { encodeFrame } from "../lib/protocol/frame.ts";
import { connect, is, TestNet, WARNING_INTERVAL_MS } from "./_peer_harness.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Peer: three peers talk pairwise and packets never cross conversations", async () => {
  const net = new TestNet("three-1");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const carol = await net.peer("carol");
    await connect(alice, bob);
    await connect(alice, carol);
    await connect(bob, carol);
    const marks = new Map([alice, bob, carol].map((p) => [p, p.mark()]));
    const pairs = [[alice, bob], [alice, carol], [bob, alice], [bob, carol], [carol, alice], [
      carol,
      bob,
    ]] as const;
    const sent: { from: string; to: string; id: string }[] = [];
    for (let i = 0; i < 3; i++) {
      for (const [from, to] of pairs) {
        const { id } = await from.peer.sendMessage(to.name, `${from.name}->${to.name} #${i}`);
        sent.push({ from: from.name, to: to.name, id });
      }
    }
    for (const s of sent) {
      const from = [alice, bob, carol].find((p) => p.name === s.from)!;
      await from.waitFor(is("delivered", { id: s.id }), marks.get(from));
    }
    for (const p of [alice, bob, carol]) {
      const got = p.all("message", marks.get(p));
      assertEquals(got.length, 6);
      for (const m of got) {
        // the text names the sender and receiver: it arrived in the sender's conversation only
        assertEquals(m.text.split(" ")[0], `${m.name}->${p.name}`);
      }
      assertEquals(p.all("warning", marks.get(p)), []);
    }
  } finally {
    await net.close();
  }
});

Deno.test("Peer: garbage and oversized frames close only their connection", async () => {
  const net = new TestNet("three-2");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    const b = bob.mark();
    const hostile = async (bytes: Uint8Array) => {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: bob.listener.port });
      await tcp.write(bytes).catch(() => 0);
      // wait until Bob closes it
      const buf = new Uint8Array(16);
      await tcp.read(buf).catch(() => null);
      tcp.close();
    };
    // a frame of random bytes (not a packet), a packet of a wrong version, an oversized frame
    await hostile(encodeFrame(crypto.getRandomValues(new Uint8Array(600))));
    const wrongVersion = new Uint8Array(512);
    wrongVersion[0] = 9;
    await hostile(encodeFrame(wrongVersion));
    const oversized = new Uint8Array(4);
    new DataView(oversized.buffer).setUint32(0, 0x7fffffff);
    await hostile(oversized);
    // two packets that are not ours (closed by the core), one oversized frame (closed by the
    // connection), counted into aggregated warnings: the first at once, the rest after an interval
    const reasons = async (code: string) => {
      await bob.until(() => bob.all("warning", b).filter((w) => w.code === code).length >= 1);
      await sleep(3 * WARNING_INTERVAL_MS);
      const sum: Record<string, number> = {};
      for (const w of bob.all("warning", b).filter((w) => w.code === code)) {
        for (const [r, n] of Object.entries(w.reasons ?? {})) sum[r] = (sum[r] ?? 0) + n;
      }
      return sum;
    };
    const dropped = await reasons("packets_dropped");
    assertEquals((dropped.bad_packet_length ?? 0) + (dropped.unsupported_version ?? 0), 2);
    assertEquals(Object.keys(dropped).length <= 2, true, JSON.stringify(dropped));
    assertEquals(await reasons("connections_refused"), { frame_too_large: 1 });
    // the established conversation is unharmed
    const m = await alice.peer.sendMessage("bob", "still fine");
    await alice.waitFor(is("delivered", { id: m.id }));
    assertEquals(bob.all("message", b).map((e) => e.text), ["still fine"]);
  } finally {
    await net.close();
  }
});
