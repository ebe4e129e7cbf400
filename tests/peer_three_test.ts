/**
 * Three peers in one process: conversations never mix (each packet is
 * identified by its hSub and opened only in its own conversation), and
 * garbage or oversized frames on a listener close only their own
 * connection.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { encodeFrame } from "../lib/protocol/frame.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";

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
    const warnings = bob.all("warning", b).map((w) => w.code);
    // two packets that are not ours (closed by the core), one oversized frame (closed by the connection)
    assertEquals(
      warnings.filter((c) => c === "bad_packet_length" || c === "unsupported_version").length,
      2,
    );
    assert(warnings.includes("frame_too_large"), JSON.stringify(warnings));
    // the established conversation is unharmed
    const m = await alice.peer.sendMessage("bob", "still fine");
    await alice.waitFor(is("delivered", { id: m.id }));
    assertEquals(bob.all("message", b).map((e) => e.text), ["still fine"]);
  } finally {
    await net.close();
  }
});
