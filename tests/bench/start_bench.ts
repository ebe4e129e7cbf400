/**
 * Many contacts at start (issue 11 item 3), over the private Tor network:
 * a hub with 30 contacts starts, and the benchmark measures the time from
 * its `ready` until 10 contacts are connected, and until the 10 most
 * recently active ones are, with the start dials paced as the core paces
 * them (start_order.ts: recent contacts first, 10 at a time) and, for
 * comparison, all 30 at once. Each start is on a client tor of its own that
 * has not reached any of the contacts yet (no descriptor, no circuit), as
 * after a restart of the program. Medians of several starts each; the
 * numbers are printed (the network is started and stopped once, inside the
 * first iteration).
 *
 * The conversations are made over loopback first (direct mode, fast), then
 * every contact is started again attached to a client tor of the network
 * (spread over two), each publishing its own onion service. The contacts do
 * not dial the hub themselves (and the hub tells them when it leaves, so
 * they do not redial it), so only the hub's own dials are measured.
 *
 * On loopback a circuit builds in milliseconds, so the numbers here show
 * the cost of the dials themselves, not the minute-long stall a real
 * network gives a list this long when everything is dialled at once.
 *
 * @module
 */

import type { PeerEvent } from "../../lib/peer/types.ts";
import { type RunningPeer, startPeer, type TorMode } from "../../lib/runtime.ts";
import { startTornet, type TornetClient } from "../../scripts/tornet.ts";
import { START_DIALS_AT_ONCE } from "../../lib/peer/start_order.ts";

/** Contacts of the hub. */
const CONTACTS = 30;
/** Contacts counted as "the first ones up". */
const FIRST = 10;
/** Starts of the hub per way of dialling (each on a fresh client tor). */
const RUNS = 3;
/** Client tors that carry the contacts' onion services. */
const CONTACT_TORS = 2;
/** Bound on any awaited step. */
const WAIT_MS = 180_000;
/** Start dials at once in the comparison: every contact. */
const ALL_AT_ONCE = CONTACTS;

type Recorded = { at: number; event: PeerEvent };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`start bench: ${what} timed out`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts `name` under `root` and records its events with their time. */
async function start(
  root: string,
  name: string,
  tor: TorMode,
  log: Recorded[],
  peerOptions: Parameters<typeof startPeer>[0]["peerOptions"] = {},
): Promise<RunningPeer> {
  return await startPeer({
    name,
    configRoot: root,
    tor,
    events: (event) => void log.push({ at: performance.now(), event }),
    peerOptions,
  });
}

/** The hub and its contacts, with conversations made over loopback; the 10 made active last. */
async function makeContacts(root: string): Promise<{ names: string[]; recent: string[] }> {
  const direct: TorMode = { mode: "direct", registryDir: `${root}/registry` };
  const hubLog: Recorded[] = [];
  const hub = await start(root, "hub", direct, hubLog);
  const names = Array.from({ length: CONTACTS }, (_, i) => `c${String(i).padStart(2, "0")}`);
  const peers: RunningPeer[] = [];
  for (const name of names) {
    const log: Recorded[] = [];
    const c = await start(root, name, direct, log);
    peers.push(c);
    await c.peer.sendRequest(hub.identity.address, hub.identity.key);
    // (past 10 requests in 10 minutes they are listed as a flood, without an event)
    await until(() => hub.peer.inboundRequests().some((r) => r.name === name), "request");
    await hub.peer.acceptRequest(name);
    await until(() => log.some((r) => r.event.event === "conversation-established"), "accept");
    await hub.peer.setPresence(name, true);
  }
  // activity: the hub last wrote to every third contact (10 of them)
  const recent = names.filter((_, i) => i % 3 === 2);
  for (const name of recent) {
    const { id } = await hub.peer.sendMessage(name, "still there?");
    await until(
      () => hubLog.some((r) => r.event.event === "delivered" && r.event.id === id),
      "delivery",
    );
    await new Promise((r) => setTimeout(r, 2));
  }
  await hub.stop();
  await Promise.all(peers.map((p) => p.stop()));
  return { names, recent };
}

interface Sample {
  first: number;
  recent: number;
}

/** One restart of the hub: ms from `ready` to FIRST contacts connected, and to the recent ones. */
async function restart(
  root: string,
  client: TornetClient,
  recent: string[],
  startDials: number,
): Promise<Sample> {
  const log: Recorded[] = [];
  const hub = await start(root, "hub", { mode: "attach", controlPort: client.controlPort }, log, {
    startDials,
  });
  try {
    const ready = log.find((r) => r.event.event === "ready")!.at;
    const connectedAt = new Map<string, number>();
    const scan = () => {
      for (const r of log) {
        const e = r.event;
        if (e.event === "connection" && e.state === "connected" && !connectedAt.has(e.name)) {
          connectedAt.set(e.name, r.at);
        }
      }
    };
    await until(() => (scan(), recent.every((n) => connectedAt.has(n))), "recent contacts");
    await until(() => (scan(), connectedAt.size >= FIRST), "first contacts");
    const times = [...connectedAt.values()].sort((a, b) => a - b);
    return {
      first: times[FIRST - 1]! - ready,
      recent: Math.max(...recent.map((n) => connectedAt.get(n)!)) - ready,
    };
  } finally {
    await hub.stop();
  }
}

/** The whole measurement, run once (the bench runner may call its function more than once). */
async function measure(): Promise<string[]> {
  const root = await Deno.makeTempDir();
  const net = await startTornet({ clients: CONTACT_TORS + 2 * RUNS + 1 });
  const contacts: RunningPeer[] = [];
  try {
    const { names, recent } = await makeContacts(root);
    const contactTors = net.clients.slice(0, CONTACT_TORS);
    const hubTors = net.clients.slice(CONTACT_TORS);
    // every contact publishes its onion; none dials the hub
    contacts.push(
      ...await Promise.all(names.map((name, i) =>
        start(
          root,
          name,
          {
            mode: "attach",
            controlPort: contactTors[i % CONTACT_TORS]!.controlPort,
          },
          [],
          { dialOnStart: false, maxAttempts: 1 },
        )
      )),
    );
    // a first start, not counted, lets the contacts' descriptors settle on the network
    await restart(root, hubTors[2 * RUNS]!, recent, START_DIALS_AT_ONCE);
    const ways = [
      [`paced (${START_DIALS_AT_ONCE} at a time, recent first)`, START_DIALS_AT_ONCE],
      ["all 30 at once", ALL_AT_ONCE],
    ] as const;
    const samples: Sample[][] = ways.map(() => []);
    // the two ways alternate, so that neither gets the network's later, warmer state
    for (let i = 0; i < RUNS; i++) {
      for (const [w, [, dials]] of ways.entries()) {
        samples[w]!.push(await restart(root, hubTors[2 * i + w]!, recent, dials));
      }
    }
    const results = ways.map(([label], w) => {
      const f = median(samples[w]!.map((s) => s.first));
      const r = median(samples[w]!.map((s) => s.recent));
      const all = samples[w]!.map((s) => (s.first / 1000).toFixed(1)).join(", ");
      return `${label}: first ${FIRST} connected ${(f / 1000).toFixed(1)} s (${all}), the ` +
        `${recent.length} most recent ${(r / 1000).toFixed(1)} s (medians of ${RUNS})`;
    });
    return results;
  } finally {
    await Promise.all(contacts.map((c) => c.stop()));
    await net.stop();
    await Deno.remove(root, { recursive: true });
  }
}

let measured: Promise<string[]> | undefined;

Deno.bench({
  name: `${FIRST} of ${CONTACTS} contacts connected after a start, over the private Tor network`,
  n: 1,
  warmup: 0,
  ignore: Deno.env.get("UNMESSAGE_SKIP_TOR") === "1",
  async fn() {
    if (measured !== undefined) return void await measured;
    measured = measure();
    for (const line of await measured) console.log(line);
  },
});
