/**
 * Faults, each peer a separate `main.ts --json` process:
 * - kill -9 of either peer at random points while messages flow, several
 *   times (direct mode on loopback, so many rounds fit in the time): no
 *   desync, no duplicate, order kept, no acknowledged (or accepted) message
 *   lost;
 * - garbage, oversized and truncated frames thrown at a peer's listener are
 *   dropped and the established conversation carries on;
 * - over the private Tor network, the tor a peer launched is killed by PID:
 *   the peer reports it, relaunches tor, publishes the same onion again and
 *   the conversation continues both ways.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { seededRng } from "../_rng.ts";
import { tornetTest } from "../_tornet.ts";
import { encodeFrame, FRAME_HEADER_LENGTH } from "../../lib/protocol/frame.ts";
import { type Line, networkTorrc, PeerProcess, until } from "./_peer_process.ts";

/** Rounds of kill -9 (alternating victims). */
const KILL_ROUNDS = 6;
/** Bound on one wait in direct mode. */
const DIRECT_WAIT_MS = 30_000;
/** Bound on one hop over tor. */
const TOR_HOP_MS = 90_000;

function randomInt(rng: (n: number) => Uint8Array, max: number): number {
  const [a, b] = rng(2);
  return ((a! << 8) | b!) % max;
}

async function pair(
  dir: string,
  extra: (name: string) => string[],
  procs: PeerProcess[],
  waitMs: number,
) {
  const start = async (name: string) => {
    const p = new PeerProcess(name, ["--config-dir", dir, ...extra(name)]);
    procs.push(p);
    await p.ready(waitMs);
    return p;
  };
  const alice = await start("alice");
  const bob = await start("bob");
  const id = await alice.ok("identity");
  await bob.ok("req-send", [id.address, id.key]);
  await alice.waitEvent((e) => e.event === "request-received", "request", waitMs);
  await alice.ok("req-accept", ["bob"]);
  await alice.ok("msg", ["bob", "first"]);
  await bob.waitEvent((e) => e.event === "message", "first message", waitMs);
  await bob.ok("msg", ["alice", "first back"]);
  await alice.waitEvent((e) => e.event === "message", "first reply", waitMs);
  return { alice, bob, start };
}

/**
 * The texts `name`'s processes showed, in order, de-duplicated by event
 * `id` as the event contract asks (a kill -9 between showing a message and
 * saving that it was shown shows it again, with the same ID).
 */
const texts = (procs: PeerProcess[], name: string) => {
  const ids = new Set<string>();
  return procs.filter((p) => p.name === name).flatMap((p) =>
    p.events.filter((e) => e.event === "message" && !ids.has(e.id)).map((e) => {
      ids.add(e.id as string);
      return e.text as string;
    })
  );
};

Deno.test("kill -9 at random points loses no accepted message and never desyncs", async () => {
  const dir = await Deno.makeTempDir();
  const procs: PeerProcess[] = [];
  const rng = seededRng(20261126);
  try {
    const direct = ["--direct", `${dir}/registry`];
    let { alice, bob, start } = await pair(dir, () => direct, procs, DIRECT_WAIT_MS);
    const attempted: string[] = [];
    const accepted: string[] = [];
    const idOf = new Map<string, string>();
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const victim = round % 2 === 0 ? "bob" : "alice";
      const burst = 3 + randomInt(rng, 6);
      const sends = Array.from({ length: burst }, (_, i) => `r${round}m${i}`);
      const sending = (async () => {
        for (const text of sends) {
          attempted.push(text);
          const r = await alice.send("msg", ["bob", text]).catch(() => undefined);
          if (r?.ok) {
            accepted.push(text);
            idOf.set(text, r.result.id);
          } else if (victim === "alice") return; // she died mid-burst
        }
      })();
      await new Promise((r) => setTimeout(r, randomInt(rng, 120)));
      const p = victim === "bob" ? bob : alice;
      await p.kill();
      await sending;
      if (victim === "bob") bob = await start("bob");
      else alice = await start("alice");
    }
    // Everything accepted arrives (shown once per ID, in the sending order);
    // a message may also arrive whose reply was cut off by a kill of alice.
    const all = () => texts(procs, "bob").filter((t) => /^r\d+m\d+$/.test(t));
    const pending = async () => (await alice.ok("convs")).result.conversations[0]?.pending;
    // (every accepted one by name: a count would also count one whose reply was cut off)
    const shown = () => accepted.every((t) => all().includes(t));
    const late = await until(shown, "queued messages", DIRECT_WAIT_MS).then(() => "", String);
    // late acknowledgements count too: wait until alice's outbox is empty
    await until(async () => await pending() === 0, "acknowledgements", DIRECT_WAIT_MS)
      .catch(() => {});
    // Every acknowledgement any alice process saw, collected after the waits.
    const acked = new Set<string>();
    for (const p of procs.filter((p) => p.name === "alice")) {
      for (const e of p.events) if (e.event === "delivered") acked.add(e.id);
    }
    const received = all();
    assertEquals(new Set(received).size, received.length, `shown under two IDs: ${received}`);
    assertEquals(received, attempted.filter((t) => received.includes(t)), "order");
    const lostAcked = accepted.filter((t) => !received.includes(t) && acked.has(idOf.get(t)!));
    assertEquals(lostAcked, [], `acknowledged messages never shown: ${lostAcked}`);
    // accepted (the msg reply came) means saved in alice's outbox: delivered after any kill
    const lost = accepted.filter((t) => !received.includes(t));
    assertEquals(lost, [], `accepted messages lost after kill -9: ${lost} ${late}`);
    assert(acked.size > 0, "no message was acknowledged");
    // Both ratchets still agree.
    await alice.ok("msg", ["bob", "after the storm"]);
    await bob.waitEvent((e) => e.text === "after the storm", "message", DIRECT_WAIT_MS);
    await bob.ok("msg", ["alice", "calm"]);
    await alice.waitEvent((e) => e.text === "calm", "message", DIRECT_WAIT_MS);
    for (const p of [alice, bob]) assertEquals(await p.quit(), 0);
  } finally {
    for (const p of procs) await p.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("garbage and oversized frames on the listener do not harm a conversation", async () => {
  const dir = await Deno.makeTempDir();
  const procs: PeerProcess[] = [];
  try {
    const direct = ["--direct", `${dir}/registry`];
    const { alice, bob } = await pair(dir, () => direct, procs, DIRECT_WAIT_MS);
    const onion = (await bob.ok("onion")).onion as string;
    const port = Number(await Deno.readTextFile(`${dir}/registry/${onion}.port`));
    const rng = seededRng(7);
    const huge = new Uint8Array(FRAME_HEADER_LENGTH);
    new DataView(huge.buffer).setUint32(0, 0xffff_fff0);
    const attacks: Uint8Array[] = [
      rng(4096), // random bytes
      huge, // a length far above the maximum
      encodeFrame(rng(1000)), // a well-formed frame of garbage
      new Uint8Array(FRAME_HEADER_LENGTH), // a frame of length zero
      new Uint8Array([0, 0]), // truncated header
      new Uint8Array(0), // connect and close
    ];
    const write = async (bytes: Uint8Array) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        // the peer may close on us mid-write: that is the point
      } finally {
        conn.close();
      }
    };
    for (let i = 0; i < 3; i++) await Promise.all(attacks.map(write));
    // Many connections at once, each sending garbage slowly.
    await Promise.all(Array.from({ length: 20 }, () => write(rng(64))));
    await alice.ok("msg", ["bob", "still fine"]);
    await bob.waitEvent((e: Line) => e.text === "still fine", "message", DIRECT_WAIT_MS);
    await bob.ok("msg", ["alice", "yes"]);
    await alice.waitEvent((e: Line) => e.text === "yes", "message", DIRECT_WAIT_MS);
    for (const p of [alice, bob]) assertEquals(await p.quit(), 0);
  } finally {
    for (const p of procs) await p.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

tornetTest("a peer whose launched tor is killed reports it and recovers", 1, async (net) => {
  const dir = await Deno.makeTempDir();
  const procs: PeerProcess[] = [];
  try {
    const client = net.clients[0]!;
    const torrc = `${dir}/network.torrc`;
    await Deno.writeTextFile(torrc, await networkTorrc(client.dataDir));
    // alice uses the network's client tor; bob launches his own.
    const flags = (name: string) =>
      name === "alice" ? ["--control-port", String(client.controlPort)] : ["--torrc-extra", torrc];
    const { alice, bob } = await pair(dir, flags, procs, TOR_HOP_MS);
    const [torPid] = bob.torPids();
    assert(torPid !== undefined, "bob launched no tor");
    const from = bob.events.length;
    Deno.kill(torPid, "SIGKILL");
    await bob.waitEvent(
      (e) => e.event === "tor" && e.state === "exited",
      "tor exited",
      10_000,
      from,
    );
    await bob.waitEvent(
      (e) => e.event === "tor" && e.state === "restarted",
      "tor back",
      TOR_HOP_MS,
      from,
    );
    const [newPid] = bob.torPids();
    assert(newPid !== undefined && newPid !== torPid, "no new tor");
    await alice.ok("msg", ["bob", "are you back?"]);
    await bob.waitEvent((e) => e.text === "are you back?", "message over new tor", TOR_HOP_MS);
    await bob.ok("msg", ["alice", "back"]);
    await alice.waitEvent((e) => e.text === "back", "reply over new tor", TOR_HOP_MS);
    for (const p of [alice, bob]) assertEquals(await p.quit(), 0);
    assertEquals(bob.torPids(), []);
  } finally {
    for (const p of procs) {
      for (const pid of p.torPids()) Deno.kill(pid, "SIGKILL");
      await p.kill();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
