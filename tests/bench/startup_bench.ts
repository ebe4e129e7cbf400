/**
 * Start-up to `ready` in direct mode (no tor) with 0, 1,000, 10,000 and
 * 100,000 conversations: lock and open the store, load the profile and
 * every conversation, listen, emit `ready`; and the memory (RSS) each
 * conversation costs once started, measured in a fresh process per size
 * (`_startup_memory.ts`). The peer folders are generated once: a real
 * conversation is made between two peers on loopback, then its head is
 * copied under new keys, names and file IDs into a compacted state.jsonl.
 * Targets (issue 9): at most 400 ms to ready at 10,000 conversations, and
 * at most 8 KiB of RSS per conversation at 10,000.
 *
 * @module
 */

import { join } from "node:path";
import { toHex } from "../../lib/crypto/bytes.ts";
import { DirectTransport } from "../../lib/net/transport.ts";
import type { PeerEvent } from "../../lib/peer/types.ts";
import { startPeer } from "../../lib/runtime.ts";
import { seededRng } from "../_rng.ts";

/** Conversations of each measured peer (issue 9). */
const SIZES = [0, 1_000, 10_000, 100_000];
/** Sizes measured in this process by Deno.bench (the largest is timed in `memory()` runs). */
const IN_PROCESS = [0, 1_000, 10_000];
/** Fresh-process starts per size for the largest size and for memory; the median is reported. */
const FRESH_RUNS = 3;
/** Bound on the one real exchange made to get a conversation head. */
const SETUP_WAIT_MS = 10_000;

const root = await Deno.makeTempDir();
const rng = seededRng("startup_bench");

async function until(events: PeerEvent[], pred: (e: PeerEvent) => boolean): Promise<void> {
  const end = Date.now() + SETUP_WAIT_MS;
  while (!events.some(pred)) {
    if (Date.now() > end) throw new Error("bench setup timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One real conversation between alice and bob under `base`; returns alice's folder. */
async function makeTemplate(base: string): Promise<string> {
  const registryDir = join(base, "registry");
  const start = async (name: string, events: PeerEvent[]) =>
    await startPeer({
      name,
      configRoot: base,
      tor: { mode: "direct", registryDir },
      events: (e) => events.push(e),
    });
  const ea: PeerEvent[] = [];
  const eb: PeerEvent[] = [];
  const alice = await start("alice", ea);
  const bob = await start("bob", eb);
  const id = alice.identity;
  await bob.peer.sendRequest(id.address, id.key);
  await until(ea, (e) => e.event === "request-received");
  await alice.peer.acceptRequest("bob");
  const { id: hello } = await alice.peer.sendMessage("bob", "hello");
  await until(ea, (e) => e.event === "delivered" && e.id === hello);
  const { id: reply } = await bob.peer.sendMessage("alice", "hello back");
  await until(eb, (e) => e.event === "delivered" && e.id === reply);
  await alice.stop();
  await bob.stop();
  return join(base, "peers", "alice");
}

const template = await makeTemplate(join(root, "template"));
// the template's conversation: its head and parts (session, received IDs), one line each
const lines = (await Deno.readTextFile(join(template, "state.jsonl"))).trim().split("\n");
const conversation = lines.slice(1).map((l) => JSON.parse(l) as { key: string; value: unknown })
  .filter((l) => l.key.startsWith("c/"));
const profile = await Deno.readTextFile(join(template, "profile.json"));

/** Writes a compacted peer folder of `n` conversations copied from the template's. */
async function writePeer(n: number): Promise<void> {
  const dir = join(root, `n${n}`, "peers", "alice");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(join(dir, "profile.json"), profile, { mode: 0o600 });
  const ids = Array.from({ length: n }, () => toHex(rng(16))).sort();
  const out: string[] = [];
  ids.forEach((id, i) => {
    for (const { key, value } of conversation) {
      const part = key.split("/").slice(2).join("/");
      const named = part === "" ? { ...(value as object), name: `contact${i}` } : value;
      out.push(
        `{"key":"c/${id}${part === "" ? "" : `/${part}`}","value":${JSON.stringify(named)}}`,
      );
    }
  });
  const header = {
    "unmessage-state": 1,
    store: "0123456789abcdef",
    generation: 1,
    seq: 0,
    keys: out.length,
  };
  await Deno.writeTextFile(
    join(dir, "state.jsonl"),
    [JSON.stringify(header), ...out].join("\n") + "\n",
    {
      mode: 0o600,
    },
  );
  const journal = { "unmessage-journal": 1, store: "0123456789abcdef", generation: 1, base: 0 };
  await Deno.writeTextFile(join(dir, "journal.jsonl"), JSON.stringify(journal) + "\n", {
    mode: 0o600,
  });
}

for (const n of SIZES) await writePeer(n);

async function startOnce(n: number): Promise<number> {
  const events: PeerEvent[] = [];
  const t0 = performance.now();
  const running = await startPeer({
    name: "alice",
    configRoot: join(root, `n${n}`),
    tor: { mode: "direct", transport: new DirectTransport() },
    events: (e) => events.push(e),
    peerOptions: { dialOnStart: false },
  });
  const ms = performance.now() - t0;
  if (!events.some((e) => e.event === "ready")) throw new Error("no ready event");
  const loaded = running.peer.conversations().length;
  await running.stop();
  if (loaded !== n) throw new Error(`loaded ${loaded} of ${n} conversations`);
  return ms;
}

for (const n of IN_PROCESS) {
  Deno.bench(`start-up to ready, direct mode, ${n.toLocaleString("en")} conversations`, {
    group: "startup",
    baseline: n === 0,
  }, async (b) => {
    b.start();
    await startOnce(n);
    b.end();
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Starts the peer of `n` conversations in a fresh process: its start-up time, CPU time and RSS. */
async function fresh(n: number): Promise<{ ms: number; cpuMs: number; rss: number }> {
  const script = new URL("./_startup_memory.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--v8-flags=--expose-gc", script, join(root, `n${n}`)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`start-up of ${n} conversations failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

let measured: Promise<void> | undefined;

Deno.bench({
  name: "start-up and memory in a fresh process, 0 to 100,000 conversations",
  n: 1,
  warmup: 0,
  async fn() {
    measured ??= (async () => {
      const runs = new Map<number, { ms: number; cpuMs: number; rss: number }[]>();
      for (let r = 0; r < FRESH_RUNS; r++) {
        for (const n of SIZES) runs.set(n, [...(runs.get(n) ?? []), await fresh(n)]);
      }
      const base = median(runs.get(0)!.map((x) => x.rss));
      console.log(`start-up to ready in a fresh process, median of ${FRESH_RUNS}:`);
      for (const n of SIZES) {
        const ms = median(runs.get(n)!.map((x) => x.ms));
        const cpu = median(runs.get(n)!.map((x) => x.cpuMs));
        const rss = median(runs.get(n)!.map((x) => x.rss));
        const per = n === 0
          ? ""
          : `, ${((rss - base) / n / 1024).toFixed(1)} KiB RSS per conversation`;
        console.log(
          `  ${n.toLocaleString("en").padStart(7)} conversations: ${ms.toFixed(0)} ms ` +
            `(${cpu.toFixed(0)} ms of CPU)${per}`,
        );
      }
    })();
    await measured;
  },
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // best effort
  }
});
