/**
 * A contact's message during a flood of packets of nobody's (issue 8 item
 * 3), in direct mode on loopback. Bob holds 1,000 conversations (so each
 * bogus packet is tried against all of them and the request path) and one
 * real contact, alice. A stranger in another process (_flood_child.ts)
 * opens connections as fast as bob closes them, each with one packet-shaped
 * frame of nobody's. Measured, as medians over rounds that alternate rest
 * and flood:
 *
 * - alice's round trip (`msg` → `delivered`) at rest and during the flood;
 *   goal: during a flood within 2× the latency at rest;
 * - bob's CPU during a flood (process CPU time a second, all of it: the
 *   accepts and closes as well as the packets) and per bogus packet it
 *   judged, with 1,000 conversations and with 1 (alice). The listener
 *   accepts about 100 new connections a second (net/admission.ts), so a
 *   loopback flood is held to that rate; over tor the onion service's
 *   stream and PoW limits come first.
 *
 * One bench iteration runs the whole measurement and prints the numbers.
 * Beside it, the dispatch of one such packet alone (lib/protocol/dispatch.ts,
 * no I/O) among 1 and 1,000 conversations.
 *
 * @module
 */

import process from "node:process";
import { join } from "node:path";
import { toHex } from "../../lib/crypto/bytes.ts";
import type { PeerEvent } from "../../lib/peer/types.ts";
import { type RunningPeer, startPeer } from "../../lib/runtime.ts";
import { seededRng } from "../_rng.ts";
import { bogusFrame } from "../_flood.ts";
import { bookOf, party, request } from "../_handshake_fixtures.ts";
import { FRAME_HEADER_LENGTH } from "../../lib/protocol/frame.ts";
import { candidatesFor, dispatchPacket } from "../../lib/protocol/dispatch.ts";
import { acceptRequest } from "../../lib/protocol/handshake.ts";

/** Conversations bob holds besides alice's. */
const CONVERSATIONS = 1_000;
/** Rounds of (rest, flood); the medians are over all samples of each kind. */
const ROUNDS = 3;
/** Round trips measured per round and kind. */
const SAMPLES = 15;
/** Stranger connections open at once during the latency flood. */
const FLOOD_PARALLEL = 64;
/** Length of one CPU measurement under a flood (ms). */
const CPU_FLOOD_MS = 5_000;
/** Bound on one awaited event. */
const WAIT_MS = 30_000;

const CHILD = new URL("./_flood_child.ts", import.meta.url).pathname;
const root = await Deno.makeTempDir({ prefix: "unmessage-flood-bench-" });
const registryDir = join(root, "registry");
const rng = seededRng("flood_bench");

/** Recorded events that wake their waiters at once. */
class Events extends Array<PeerEvent> {
  #wake: (() => void)[] = [];
  add(e: PeerEvent): void {
    this.push(e);
    for (const w of this.#wake.splice(0)) w();
  }
  async until(pred: (e: PeerEvent) => boolean): Promise<PeerEvent> {
    const end = Date.now() + WAIT_MS;
    for (;;) {
      const found = this.find(pred);
      if (found) return found;
      if (Date.now() > end) throw new Error("bench wait timed out");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#wake.push(r)),
        new Promise((r) => (timer = setTimeout(r, 1_000))),
      ]);
      clearTimeout(timer);
    }
  }
}

/** Starts `name`; it dials nobody at start (bob's 1,000 copied contacts are not running). */
async function start(name: string, events: Events): Promise<RunningPeer> {
  return await startPeer({
    name,
    configRoot: root,
    tor: { mode: "direct", registryDir },
    events: (e) => events.add(e),
    peerOptions: { dialOnStart: false },
  });
}

async function befriend(a: RunningPeer, ea: Events, b: RunningPeer, eb: Events): Promise<void> {
  await a.peer.sendRequest(b.identity.address, b.identity.key);
  const got = await eb.until((e) => e.event === "request-received");
  if (got.event !== "request-received") throw new Error("unreachable");
  await b.peer.acceptRequest(got.request.name);
  await ea.until((e) => e.event === "conversation-established");
  await eb.until((e) => e.event === "conversation-established");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** CPU time of this process (all its threads), in µs. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** A flood (_flood_child.ts) and the last count of packets it had judged. */
function stranger(port: number, parallel: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, String(port), String(parallel)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let judged = 0;
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      const counts = [...decoder.decode(chunk).matchAll(/judged (\d+)/g)];
      if (counts.length > 0) judged = Number(counts.at(-1)![1]);
    }
  })();
  return {
    get judged() {
      return judged;
    },
    async stop(): Promise<void> {
      child.kill("SIGKILL");
      await child.status;
      await reading;
    },
  };
}

/** Bob's CPU during a flood of `port`: µs a second, and µs per packet judged. */
async function cpuUnderFlood(port: number): Promise<{ perSecond: number; perPacket: number }> {
  const flood = stranger(port, FLOOD_PARALLEL);
  await new Promise((r) => setTimeout(r, 1_000)); // in full swing
  const judged0 = flood.judged;
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, CPU_FLOOD_MS));
  const cpu = cpuMicros() - cpu0;
  const seconds = (performance.now() - t0) / 1000;
  const judged = flood.judged - judged0;
  await flood.stop();
  return { perSecond: cpu / seconds, perPacket: cpu / judged };
}

/** One round trip alice → bob, in ms. */
async function roundTrip(alice: RunningPeer, ea: Events): Promise<number> {
  const t0 = performance.now();
  const { id } = await alice.peer.sendMessage("bob", "a message in the crowd");
  await ea.until((e) => e.event === "delivered" && e.id === id);
  return performance.now() - t0;
}

// Bob with 1,000 conversations: one real one with carol (then stopped),
// copied under new file IDs, as startup_bench.ts does.
{
  const eb = new Events();
  const ec = new Events();
  const bob = await start("bob", eb);
  const carol = await start("carol", ec);
  await befriend(carol, ec, bob, eb);
  await carol.stop();
  await bob.stop();
  const convDir = join(root, "peers", "bob", "conversations");
  const [file] = [...Deno.readDirSync(convDir)].map((e) => e.name);
  const conv = JSON.parse(await Deno.readTextFile(join(convDir, file!)));
  for (let i = 1; i < CONVERSATIONS; i++) {
    const path = join(convDir, `${toHex(rng(16))}.json`);
    await Deno.writeTextFile(path, JSON.stringify({ ...conv, name: `contact${i}` }), {
      mode: 0o600,
    });
  }
}

let measured = false;

Deno.bench({
  name: "flood: alice's round trip at rest and during a flood; CPU per bogus packet",
  n: 1,
  warmup: 0,
  async fn() {
    // the runner may call a bench of one iteration twice; measure once
    if (measured) return;
    measured = true;
    const ea = new Events();
    const eb = new Events();
    const bob = await start("bob", eb);
    const alice = await start("alice", ea);
    try {
      await befriend(alice, ea, bob, eb);
      await roundTrip(alice, ea); // warm up
      const rest: number[] = [];
      const flood: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < SAMPLES; i++) rest.push(await roundTrip(alice, ea));
        const child = stranger(bob.listenerPort, FLOOD_PARALLEL);
        await new Promise((r) => setTimeout(r, 1_000)); // the flood is in full swing
        for (let i = 0; i < SAMPLES; i++) flood.push(await roundTrip(alice, ea));
        await child.stop();
      }
      const cpuBob = [];
      const cpuAlice = [];
      for (let round = 0; round < ROUNDS; round++) {
        cpuBob.push(await cpuUnderFlood(bob.listenerPort));
        cpuAlice.push(await cpuUnderFlood(alice.listenerPort));
      }
      const cpu = (xs: { perSecond: number; perPacket: number }[]) =>
        `${median(xs.map((x) => x.perPacket)).toFixed(0)} µs a packet, ` +
        `${(median(xs.map((x) => x.perSecond)) / 1e4).toFixed(1)}% of a core`;
      const atRest = median(rest);
      const during = median(flood);
      console.log(
        `round trip at rest ${atRest.toFixed(1)} ms, during a flood ${during.toFixed(1)} ms ` +
          `(${(during / atRest).toFixed(2)}×, goal ≤ 2×; medians of ${rest.length} each)\n` +
          `CPU under a flood: ${cpu(cpuBob)} with ${CONVERSATIONS} conversations; ` +
          `${cpu(cpuAlice)} with 1 (medians of ${ROUNDS} runs of ${CPU_FLOOD_MS / 1000} s)`,
      );
    } finally {
      await alice.stop();
      await bob.stop();
    }
  },
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // best effort
  }
});

// The dispatch alone: a packet of nobody's against 1 and 1,000 conversations.
{
  const own = party("alice", rng);
  const conversations = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const got = dispatchPacket(
      request(party("bob", rng), own, rng).packet,
      bookOf(own.identity, []),
      0,
    );
    if (got?.kind !== "request") throw new Error("bench setup: the request did not open");
    conversations.push(acceptRequest(got.request, { ownIdentity: own.identity, rng }));
  }
  for (const n of [1, CONVERSATIONS]) {
    const book = bookOf(own.identity, conversations.slice(0, n));
    const candidates = candidatesFor(book);
    Deno.bench(`dispatchPacket, a packet of nobody's, ${n} conversation(s)`, () => {
      const packet = bogusFrame().subarray(FRAME_HEADER_LENGTH);
      try {
        dispatchPacket(packet, book, 0, candidates);
      } catch {
        // the request path may find its AEAD tag wrong: dropped all the same
      }
    });
  }
}
