/**
 * End to end over the private Tor network: two peers, each a separate
 * `main.ts --json` process attached to its own client tor of the network
 * (`--control-port`; the SOCKS port is read from tor), real onion services
 * and real SOCKS. One scenario, in steps: request → accept → messages both
 * ways → verify (right and wrong key) → SMP match and mismatch → presence
 * on/off → one side quits, the other queues messages, the first comes back
 * and receives them in order → both restart and continue → delete.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { tornetTest } from "../_tornet.ts";
import type { TornetClient } from "../../scripts/tornet.ts";
import { type Line, PeerProcess } from "./_peer_process.ts";

/** Bound on one hop over tor (first contact with a fresh onion can take ~20 s). */
const TOR_HOP_MS = 90_000;

tornetTest("messenger end to end over the private Tor network", 2, async (net, t) => {
  const dir = await Deno.makeTempDir();
  const procs: PeerProcess[] = [];
  const start = async (name: string, client: TornetClient) => {
    const p = new PeerProcess(name, [
      "--config-dir",
      dir,
      "--control-port",
      String(client.controlPort),
    ]);
    procs.push(p);
    await p.ready(TOR_HOP_MS);
    return p;
  };
  const [c0, c1] = net.clients as [TornetClient, TornetClient];
  const since = (p: PeerProcess) => p.events.length;
  const wait = (p: PeerProcess, pred: (e: Line) => boolean, what: string, from = 0) =>
    p.waitEvent(pred, what, TOR_HOP_MS, from);
  try {
    let alice = await start("alice", c0);
    let bob = await start("bob", c1);
    const aliceId = await alice.ok("identity");
    const bobKey = (await bob.ok("key")).key as string;

    await t.step("request, accept, messages both ways", async () => {
      await bob.ok("req-send", [aliceId.address, aliceId.key]);
      await wait(alice, (e) => e.event === "request-received", "request");
      await alice.ok("req-accept", ["bob"]);
      await wait(
        bob,
        (e) => e.event === "request-accepted" || e.event === "conversation-established",
        "accept",
      );
      const { id } = await alice.ok("msg", ["bob", "hello bob"]);
      const m = await wait(bob, (e) => e.event === "message", "message at bob");
      assertEquals([m.name, m.text], ["alice", "hello bob"]);
      await wait(alice, (e) => e.event === "delivered" && e.id === id, "ack at alice");
      await bob.ok("msg", ["alice", "hi alice\nsecond line"]);
      const back = await wait(alice, (e) => e.event === "message", "message at alice");
      assertEquals(back.text, "hi alice\nsecond line");
    });

    await t.step("verify: a wrong key changes nothing, the right key verifies", async () => {
      assertEquals((await alice.ok("verify", ["bob", aliceId.key])).verified, false);
      assertEquals((await alice.ok("convs")).conversations[0].level, "unverified");
      assertEquals((await alice.ok("verify", ["bob", bobKey])).verified, true);
      assertEquals((await alice.ok("convs")).conversations[0].level, "verified");
    });

    await t.step("SMP: a mismatch is reported to both, a match authenticates", async () => {
      const smp = async (secretA: string, secretB: string) => {
        const [fa, fb] = [since(alice), since(bob)];
        await alice.ok("auth", ["bob", secretA]);
        await wait(bob, (e) => e.event === "auth" && e.status === "requested", "auth request", fb);
        await bob.ok("auth", ["alice", secretB]);
        const done = (e: Line) =>
          e.event === "auth" && ["match", "nomatch", "aborted"].includes(e.status);
        const [ra, rb] = await Promise.all([
          wait(alice, done, "auth result", fa),
          wait(bob, done, "auth result", fb),
        ]);
        return [ra.status, rb.status];
      };
      assertEquals(await smp("blue whale", "red whale"), ["nomatch", "nomatch"]);
      assertEquals((await alice.ok("convs")).conversations[0].level, "verified");
      assertEquals(await smp("blue whale", "blue whale"), ["match", "match"]);
      assertEquals((await alice.ok("convs")).conversations[0].level, "authenticated");
      assertEquals((await bob.ok("convs")).conversations[0].level, "authenticated");
    });

    await t.step("presence, offline queue delivered in order after a restart", async () => {
      await bob.ok("pres-on", ["alice"]);
      let from = since(alice);
      assertEquals(await bob.quit(), 0);
      await wait(alice, (e) => e.event === "presence" && e.online === false, "offline", from);
      const ids: string[] = [];
      for (const text of ["one", "two", "three"]) {
        ids.push((await alice.ok("msg", ["bob", text])).id);
      }
      assertEquals((await alice.ok("convs")).conversations[0].pending, 3);
      from = since(alice);
      bob = await start("bob", c1);
      await wait(alice, (e) => e.event === "presence" && e.online === true, "online", from);
      for (const id of ids) {
        await wait(
          alice,
          (e) => e.event === "delivered" && e.id === id,
          `ack ${id}`,
          from,
        );
      }
      const texts = bob.events.filter((e) => e.event === "message").map((e) => e.text);
      assertEquals(texts, ["one", "two", "three"]);
      // Authentication lasted only for the connection; verification stays.
      assertEquals((await alice.ok("convs")).conversations[0].level, "verified");
      await bob.ok("pres-off", ["alice"]);
      from = since(alice);
      assertEquals(await bob.quit(), 0);
      bob = await start("bob", c1);
      await bob.ok("msg", ["alice", "back quietly"]);
      await wait(alice, (e) => e.event === "message" && e.text === "back quietly", "message", from);
      assert(
        !alice.events.slice(from).some((e) => e.event === "presence"),
        "presence after pres-off",
      );
    });

    await t.step("both restart and continue the same conversation, then delete", async () => {
      assertEquals(await alice.quit(), 0);
      assertEquals(await bob.quit(), 0);
      alice = await start("alice", c0);
      bob = await start("bob", c1);
      await alice.ok("msg", ["bob", "after restart"]);
      await wait(bob, (e) => e.event === "message" && e.text === "after restart", "message at bob");
      await bob.ok("msg", ["alice", "still here"]);
      await wait(
        alice,
        (e) => e.event === "message" && e.text === "still here",
        "message at alice",
      );
      await alice.ok("delete", ["bob"]);
      assertEquals((await alice.ok("convs")).conversations, []);
      const r = await alice.send("msg", ["bob", "gone"]);
      assertEquals(r.ok, false);
    });
    for (const p of [alice, bob]) assertEquals(await p.quit(), 0);
  } finally {
    for (const p of procs) await p.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
