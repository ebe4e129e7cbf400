/**
 * Durable messaging (issue 9): two peers in one process over loopback, each
 * with its real store on disk (every commit fdatasync'd), measured from
 * `sendMessage` until the sender's `delivered` event (the receiver saved
 * and showed the message, the acknowledgement came back and was saved):
 *
 * - burst: 500 messages one way, each sent as soon as the last `msg`
 *   returned (what a client pasting 500 lines does, one command at a time),
 *   until all are acknowledged: messages per second, and the median and
 *   99th percentile of the time from each message's `msg` to its
 *   `delivered`; also the 500 sent at once, whose latencies only say how
 *   long the queue was;
 * - one at a time: the next message leaves when the last is delivered:
 *   median and 99th percentile;
 * - fsyncs per message on each side, in a burst and one at a time, counted
 *   by the stores;
 * - the disk's floor measured in the same run: one 1.5 KB write over
 *   space made ahead and its fdatasync, as a journal commit does.
 *
 * Each figure is the median of {@linkcode RUNS} runs. The anchor, pyaxo
 * with unMessage 0.1's save after every encryption and decryption, runs
 * once after each of our bursts (so that both see the same load of a
 * shared machine; the ratio is the median of the runs' ratios) when
 * `PYAXO_DIR` names a folder holding pyaxo.py of
 * github.com/rxcomm/pyaxo (a checkout) and /usr/bin/python3 has nacl and
 * passlib (Debian: python3-nacl, python3-passlib); tests/bench/pyaxo_anchor.py
 * converts it to Python 3 in a temporary folder. Without it the anchor is
 * not shown. Measured on this project's 2-core machine: 1,400–1,700 msgs/s when
 * it was quiet, 180–1,000 while four other engineers' test suites ran.
 * Targets: burst at least twice the anchor, one at a time at most 2.5 ms,
 * burst p99 at most 20 ms.
 *
 * @module
 */

import { join } from "node:path";
import type { PeerEvent } from "../../lib/peer.ts";
import { connect, is, TestNet, type TestPeer } from "../_peer_harness.ts";

/** Messages per burst (issue 9). */
const BURST = 500;
/** Messages sent one at a time per run. */
const SINGLE = 60;
/** Runs of each measurement; the median is reported. */
const RUNS = 5;
/** Bound on waiting for a burst to be acknowledged. */
const BURST_TIMEOUT_MS = 120_000;
/** Keep-alives far apart, so that none lands in a measurement. */
const QUIET_KEEPALIVE_MS = 600_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** When each message was delivered at the sender (its `delivered` event), by ID. */
const deliveredAt = new Map<string, number>();
let onDelivered: (() => void) | null = null;

function recordDelivery(e: PeerEvent): undefined {
  if (e.event !== "delivered") return undefined;
  deliveredAt.set(e.id, performance.now());
  onDelivered?.();
  return undefined;
}

/** Resolves once every one of `ids` is delivered. */
function allDelivered(ids: Set<string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("burst not acknowledged in time")),
      BURST_TIMEOUT_MS,
    );
    const check = () => {
      for (const id of ids) if (!deliveredAt.has(id)) return;
      clearTimeout(timer);
      onDelivered = null;
      resolve();
    };
    onDelivered = check;
    check();
  });
}

interface Burst {
  rate: number;
  p50: number;
  p99: number;
  /** 99th percentile of the time between one `delivered` and the next. */
  gap99: number;
  syncsAlice: number;
  syncsBob: number;
}

/**
 * `BURST` messages one way, each sent as soon as the last `sendMessage`
 * returned (as a client sends the lines of a paste one command at a time),
 * or all at once (`together`); until all are acknowledged.
 */
async function burst(alice: TestPeer, bob: TestPeer, together: boolean): Promise<Burst> {
  const a0 = alice.store.stats.syncs;
  const b0 = bob.store.stats.syncs;
  const sentAt = new Map<string, number>();
  const t0 = performance.now();
  const send = async (i: number) => {
    const at = performance.now();
    const { id } = await alice.peer.sendMessage("bob", `burst message ${i}`);
    sentAt.set(id, at);
  };
  if (together) await Promise.all(Array.from({ length: BURST }, (_, i) => send(i)));
  else for (let i = 0; i < BURST; i++) await send(i);
  await allDelivered(new Set(sentAt.keys()));
  const t1 = Math.max(...[...sentAt.keys()].map((id) => deliveredAt.get(id)!));
  const latencies = [...sentAt].map(([id, t]) => deliveredAt.get(id)! - t);
  const times = [...sentAt.keys()].map((id) => deliveredAt.get(id)!).sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  return {
    gap99: percentile(gaps, 99),
    rate: BURST / ((t1 - t0) / 1000),
    p50: median(latencies),
    p99: percentile(latencies, 99),
    syncsAlice: (alice.store.stats.syncs - a0) / BURST,
    syncsBob: (bob.store.stats.syncs - b0) / BURST,
  };
}

/** Times of `SINGLE` messages sent one after the other's delivery; fsyncs per message. */
async function single(
  alice: TestPeer,
  bob: TestPeer,
): Promise<{ times: number[]; syncsAlice: number; syncsBob: number }> {
  const a0 = alice.store.stats.syncs;
  const b0 = bob.store.stats.syncs;
  const times: number[] = [];
  for (let i = 0; i < SINGLE; i++) {
    const mark = alice.mark();
    const t0 = performance.now();
    const { id } = await alice.peer.sendMessage("bob", `one at a time ${i}`);
    await alice.waitFor(is("delivered", { id }), mark);
    times.push(performance.now() - t0);
  }
  return {
    times,
    syncsAlice: (alice.store.stats.syncs - a0) / SINGLE,
    syncsBob: (bob.store.stats.syncs - b0) / SINGLE,
  };
}

/**
 * The disk's floor in this run: one 1.5 KB line written over zeros made
 * ahead (as the journal writes a commit) and its fdatasync, median of 200.
 */
function diskFloor(dir: string): number {
  const file = Deno.openSync(join(dir, "floor.jsonl"), { read: true, write: true, create: true });
  const line = new TextEncoder().encode("x".repeat(1500) + "\n");
  const times: number[] = [];
  try {
    file.writeSync(new Uint8Array(200 * line.length));
    file.syncSync();
    for (let i = 0; i < 200; i++) {
      file.seekSync(i * line.length, Deno.SeekMode.Start);
      const t0 = performance.now();
      file.writeSync(line);
      file.syncDataSync();
      times.push(performance.now() - t0);
    }
  } finally {
    file.close();
  }
  return median(times);
}

/** pyaxo with a save after every encryption and decryption (msgs/s, one run), when it can run here. */
async function pyaxoAnchor(): Promise<number | string> {
  const dir = Deno.env.get("PYAXO_DIR");
  if (dir === undefined) return "PYAXO_DIR not set";
  const script = new URL("./pyaxo_anchor.py", import.meta.url).pathname;
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [script, dir, String(BURST), "1"],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => ({
    success: false,
    stdout: new Uint8Array(),
    stderr: new TextEncoder().encode(String(e)),
  }));
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !/^\d+(\.\d+)?$/.test(text)) {
    return `did not run: ${new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)}`;
  }
  return Number(text);
}

/** The bench runner may call a function more than once: measure once. */
let measured: Promise<void> | undefined;

Deno.bench({
  name: "durable messaging: burst, one at a time, fsyncs per message, vs pyaxo",
  n: 1,
  warmup: 0,
  async fn() {
    measured ??= measure();
    await measured;
  },
});

async function measure(): Promise<void> {
  const net = new TestNet("durable-bench");
  const quiet = { peer: { keepaliveMs: QUIET_KEEPALIVE_MS } };
  try {
    const alice = await net.peer("alice", { ...quiet, shown: recordDelivery });
    const bob = await net.peer("bob", quiet);
    await connect(alice, bob);
    await single(alice, bob); // warm-up: JIT, connections both ways
    const bursts: Burst[] = [];
    const floods: Burst[] = [];
    const singles: { times: number[]; syncsAlice: number; syncsBob: number }[] = [];
    const anchors: number[] = [];
    const ratios: number[] = [];
    let noAnchor = "";
    for (let r = 0; r < RUNS; r++) {
      const b = await burst(alice, bob, false);
      bursts.push(b);
      const anchor = await pyaxoAnchor();
      if (typeof anchor === "number") {
        anchors.push(anchor);
        ratios.push(b.rate / anchor);
      } else noAnchor = anchor;
      floods.push(await burst(alice, bob, true));
      singles.push(await single(alice, bob));
    }
    const floor = diskFloor(alice.dir);
    const m = (f: (b: Burst) => number) => median(bursts.map(f));
    const mf = (f: (b: Burst) => number) => median(floods.map(f));
    const s50 = median(singles.map((s) => median(s.times)));
    const s99 = median(singles.map((s) => percentile(s.times, 99)));
    const ratio = anchors.length === RUNS
      ? ` = ${median(ratios).toFixed(2)}× pyaxo-with-save (${
        median(anchors).toFixed(0)
      } msgs/s; each run against the anchor run right after it)`
      : ` (pyaxo anchor ${noAnchor})`;
    console.log(
      `durable messaging, median of ${RUNS} runs (disk floor: append + fdatasync ${
        floor.toFixed(3)
      } ms)`,
    );
    console.log(
      `  burst of ${BURST}, one msg after the other: ${m((b) => b.rate).toFixed(0)} msgs/s${ratio}`,
    );
    console.log(
      `  burst latency (msg → delivered): median ${m((b) => b.p50).toFixed(1)} ms, p99 ${
        m((b) => b.p99).toFixed(1)
      } ms`,
    );
    console.log(
      `  ${BURST} sent at once: ${mf((b) => b.rate).toFixed(0)} msgs/s (latency median ${
        mf((b) => b.p50).toFixed(0)
      } ms, p99 ${mf((b) => b.p99).toFixed(0)} ms: the last waits for all before it)`,
    );
    console.log(
      `  time between deliveries, p99: one after the other ${m((b) => b.gap99).toFixed(2)} ms, ` +
        `at once ${mf((b) => b.gap99).toFixed(2)} ms`,
    );
    console.log(
      `  one at a time (msg → delivered): median ${s50.toFixed(2)} ms, p99 ${s99.toFixed(2)} ms`,
    );
    console.log(
      `  fsyncs per message in a burst: sender ${m((b) => b.syncsAlice).toFixed(2)}, receiver ${
        m((b) => b.syncsBob).toFixed(2)
      }; one at a time: sender ${median(singles.map((s) => s.syncsAlice)).toFixed(2)}, ` +
        `receiver ${median(singles.map((s) => s.syncsBob)).toFixed(2)}`,
    );
  } finally {
    await net.close();
  }
}
