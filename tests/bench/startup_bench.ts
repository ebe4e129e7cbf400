/**
 * Start-up to `ready` in direct mode (no tor) with 0, 100 and 1,000
 * conversations: lock and open the store, load the profile and every
 * conversation, listen, emit `ready`. The stores are generated once: a real
 * conversation is made between two peers on loopback, then its file is
 * copied under new names and file ids. Target (issue 4): under 300 ms at
 * 1,000 conversations.
 *
 * @module
 */

import { join } from "node:path";
import { toHex } from "../../lib/crypto/bytes.ts";
import { DirectTransport } from "../../lib/net/transport.ts";
import type { PeerEvent } from "../../lib/peer/types.ts";
import { startPeer } from "../../lib/runtime.ts";
import { seededRng } from "../_rng.ts";

const SIZES = [0, 100, 1_000];
/** Bound on the one real exchange made to get a conversation file. */
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
  await alice.peer.sendMessage("bob", "hello");
  await until(eb, (e) => e.event === "message");
  await alice.stop();
  await bob.stop();
  return join(base, "peers", "alice");
}

const template = await makeTemplate(join(root, "template"));
const [convFile] = [...Deno.readDirSync(join(template, "conversations"))].map((e) => e.name);
const conv = JSON.parse(await Deno.readTextFile(join(template, "conversations", convFile!)));
const profile = await Deno.readTextFile(join(template, "profile.json"));

for (const n of SIZES) {
  const dir = join(root, `n${n}`, "peers", "alice");
  await Deno.mkdir(join(dir, "conversations"), { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(join(dir, "profile.json"), profile, { mode: 0o600 });
  for (let i = 0; i < n; i++) {
    const fileId = toHex(rng(16));
    await Deno.writeTextFile(
      join(dir, "conversations", `${fileId}.json`),
      JSON.stringify({ ...conv, name: `contact${i}` }),
      { mode: 0o600 },
    );
  }
}

for (const n of SIZES) {
  Deno.bench(`start-up to ready, direct mode, ${n} conversations`, {
    group: "startup",
    baseline: n === 0,
  }, async (b) => {
    const events: PeerEvent[] = [];
    b.start();
    const running = await startPeer({
      name: "alice",
      configRoot: join(root, `n${n}`),
      tor: { mode: "direct", transport: new DirectTransport() },
      events: (e) => events.push(e),
      peerOptions: { dialOnStart: false },
    });
    b.end();
    if (!events.some((e) => e.event === "ready")) throw new Error("no ready event");
    const loaded = running.peer.conversations().length;
    await running.stop();
    if (loaded !== Math.max(n, 0)) throw new Error(`loaded ${loaded} of ${n} conversations`);
  });
}

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // best effort
  }
});
