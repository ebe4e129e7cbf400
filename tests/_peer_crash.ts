/**
 * The crash-consistency scenario of peer_crash_*_test.ts
 * (docs/architecture.md "Crash safety": a crash never desynchronises a
 * conversation and never loses an acknowledged message).
 *
 * A crash is simulated exactly: at the K-th frame a peer sends (between
 * "state saved" and "packet sent") or receives (before the packet is
 * accepted), its files are read synchronously (what a kill -9 would leave
 * on disk), the frame is dropped, and from then on that instance neither
 * sends nor receives anything. It is then closed, its folder is put back
 * to the snapshot, and it is opened again. For every K the peers must end
 * with empty outboxes, every message delivered exactly once and in order
 * (counting only events of the instance before the crash point and of the
 * restarted one, de-duplicated by event ID), and a working conversation
 * both ways.
 *
 * @module
 */

import { assertEquals } from "./_assert.ts";
import type { FramedConn } from "../lib/net/framed_conn.ts";
import { NetError } from "../lib/net/net_error.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import type { PeerEvent } from "../lib/peer.ts";
import type { PeerStore } from "../lib/store/peer_store.ts";
import {
  connect,
  is,
  restoreSnapshot,
  type Snapshot,
  snapshotSync,
  TestNet,
  type TestPeer,
} from "./_peer_harness.ts";

/** Kills one peer instance at its K-th counted frame (or when {@linkcode Crash.kill} is called). */
export class Crash {
  dead = false;
  snapshot: Snapshot | null = null;
  eventMark = 0;
  #count = 0;
  constructor(readonly peer: TestPeer, readonly k: number) {}

  #armed = true;

  /** Counts a frame; true when this one is the crash point (snapshot taken). */
  hit(): boolean {
    if (this.dead) return true;
    if (!this.#armed || ++this.#count < this.k) return false;
    this.kill();
    return true;
  }

  /** No crash after all from now on (unless one happened already). */
  disarm(): void {
    this.#armed = false;
  }

  /** The crash, now: the files as a kill -9 would leave them; later events do not count. */
  kill(): void {
    if (this.dead) return;
    this.snapshot = snapshotSync(this.peer.dir);
    this.eventMark = this.peer.mark();
    this.dead = true;
  }
}

function killed(): NetError {
  return new NetError("write_failed", "Simulated crash", { retryable: true });
}

/** The two ways frames cross a connection. */
interface FrameOps {
  send(payload: Uint8Array): Promise<void>;
  onFrame(handler: (p: Uint8Array) => Promise<void> | void): void;
}

/**
 * `ops` of `conn` that stop sending and receiving once the peer is dead,
 * counting sent and received frames as asked. Both kinds of connection
 * carry both: replies go back on the connection their packet came on.
 */
function crashing(
  conn: FramedConn,
  ops: FrameOps,
  crash: Crash,
  count: { sends: boolean; frames: boolean },
): FrameOps {
  return {
    send(payload) {
      if (crash.dead || (count.sends && crash.hit())) {
        void conn.close();
        return Promise.reject(killed());
      }
      return ops.send(payload);
    },
    onFrame(handler) {
      ops.onFrame(async (payload) => {
        if (crash.dead || (count.frames && crash.hit())) {
          void conn.close();
          return;
        }
        await handler(payload);
      });
    },
  };
}

/** A transport whose connections stop sending and receiving once the peer is dead. */
export function crashingTransport(
  crash: Crash,
  countSends: boolean,
  countFrames = false,
): (base: Transport) => Transport {
  return (base) => ({
    async connect(address: PeerAddress, key: string, signal?: AbortSignal): Promise<FramedConn> {
      const conn = await base.connect(address, key, signal);
      const own = { send: conn.send.bind(conn), onFrame: conn.onFrame.bind(conn) };
      Object.assign(conn, crashing(conn, own, crash, { sends: countSends, frames: countFrames }));
      return conn;
    },
  });
}

/** Wraps an inbound connection so that it stops receiving and sending once the peer is dead. */
export function crashingInbound(
  crash: Crash,
  countFrames: boolean,
  countSends = false,
): (conn: FramedConn) => FramedConn {
  return (conn) => {
    const own = { send: conn.send.bind(conn), onFrame: conn.onFrame.bind(conn) };
    const wrapped = crashing(conn, own, crash, { sends: countSends, frames: countFrames });
    return new Proxy(conn, {
      get(target, prop) {
        if (prop === "onFrame") return wrapped.onFrame;
        if (prop === "send") return wrapped.send;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
}

/** Events of the instance before the crash point and of the restarted instance. */
export function realEvents(peer: TestPeer, crash: Crash, reopenMark: number): PeerEvent[] {
  return [...peer.events.slice(0, crash.eventMark), ...peer.events.slice(reopenMark)];
}

/**
 * The texts of the `message` events, de-duplicated by event `id` as the
 * `EventSink` contract asks of consumers (a crash between showing a
 * message and saving that it was shown shows it again, with the same ID).
 */
export function texts(events: PeerEvent[]): string[] {
  const ids = new Set<string>();
  return events.flatMap((e) => {
    if (e.event !== "message" || ids.has(e.id)) return [];
    ids.add(e.id);
    return [e.text];
  });
}

/**
 * The killed `victim` restarts from the files it had (`snapshot`); then
 * everything queued is delivered, and the conversation still works both
 * ways (no desync): a last message each way is delivered. Returns the
 * victim's event mark at its restart.
 */
async function restartAndExchange(
  victim: TestPeer,
  snapshot: Snapshot,
  alice: TestPeer,
  bob: TestPeer,
): Promise<number> {
  await restoreSnapshot(victim.dir, snapshot);
  const reopenMark = victim.mark();
  await victim.open({});
  await alice.until(() => alice.peer.conversations()[0]?.pending === 0);
  await bob.until(() => bob.peer.conversations()[0]?.pending === 0);
  const a = alice.mark();
  const b = bob.mark();
  const fa = await alice.peer.sendMessage("bob", "final from alice");
  const fb = await bob.peer.sendMessage("alice", "final from bob");
  await alice.waitFor(is("delivered", { id: fa.id }), a);
  await bob.waitFor(is("delivered", { id: fb.id }), b);
  return reopenMark;
}

/**
 * Runs the scenario with a crash at the victim's `k`-th counted frame;
 * returns false when the victim counted fewer frames than `k` before
 * everything was delivered (then there was no crash, and `k` is past the
 * last crash point).
 */
export async function scenario(side: "sender" | "receiver", k: number): Promise<boolean> {
  const net = new TestNet(`crash-${side}-${k}`);
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    // Bob queues messages for Alice while she is away, then leaves too
    await alice.close();
    const fromBob = ["b1", "b2\nb2", "b3"];
    for (const t of fromBob) await bob.peer.sendMessage("alice", t);
    await bob.close();
    // the crashing instance: Alice counts her sent frames, or Bob his received ones
    const victim = side === "sender" ? alice : bob;
    const crash = new Crash(victim, k);
    const count = { sends: side === "sender", frames: side === "receiver" };
    const options = {
      transport: crashingTransport(crash, count.sends, count.frames),
      wrapInbound: crashingInbound(crash, count.frames, count.sends),
    };
    if (side === "sender") await alice.open(options);
    else await alice.open({});
    const fromAlice = ["a1", "a2", "a3\nmulti", "a4", "a5"];
    for (const t of fromAlice) await alice.peer.sendMessage("bob", t);
    if (side === "receiver") await bob.open(options);
    else await bob.open({});
    const delivered = () =>
      alice.peer.conversations()[0]?.pending === 0 && bob.peer.conversations()[0]?.pending === 0;
    await victim.until(() => crash.dead || delivered());
    crash.disarm();
    if (!crash.dead) return false;
    await victim.close();
    const reopenMark = await restartAndExchange(victim, crash.snapshot!, alice, bob);
    const aliceEvents = side === "sender" ? realEvents(alice, crash, reopenMark) : alice.events;
    const bobEvents = side === "receiver" ? realEvents(bob, crash, reopenMark) : bob.events;
    assertEquals(texts(bobEvents), [...fromAlice, "final from alice"], `Bob, crash at ${k}`);
    assertEquals(texts(aliceEvents), [...fromBob, "final from bob"], `Alice, crash at ${k}`);
    return true;
  } finally {
    await net.close();
  }
}

/**
 * A store that kills `crash` when its `k`-th save (of a conversation, of
 * the requests, or a deletion) since `armed.at` was set lands: the files
 * are read at the very moment the commit holding it is durable.
 */
export function crashingStore(
  crash: Crash,
  k: number,
  armed: { at: boolean },
): (store: PeerStore) => PeerStore {
  let count = 0;
  const SAVES = new Set([
    "saveConversation",
    "saveConversationLater",
    "saveRequests",
    "deleteConversation",
  ]);
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (!SAVES.has(String(prop))) return value.bind(target);
        return (...args: unknown[]) => {
          const hit = !crash.dead && armed.at && ++count === k;
          const saved = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          // runs before whoever awaits the save continues
          return hit ? saved.then((v) => (crash.kill(), v)) : saved;
        };
      },
    });
}

/**
 * The journal with half of a commit line after its last one, over the
 * zeros made ahead for it: what a crash in the middle of the next commit
 * leaves (journal.ts zeroes it at open).
 */
export function withTornTail(journal: Uint8Array): Uint8Array {
  let end = journal.length;
  while (end > 0 && journal[end - 1] === 0) end--;
  const text = new TextDecoder().decode(journal.subarray(0, end)).trimEnd();
  const last = text.slice(text.lastIndexOf("\n") + 1);
  const seq = Number(/"seq":(\d+)/.exec(last)?.[1] ?? "0") + 1;
  const next = last.replace(/"seq":\d+/, `"seq":${seq}`);
  const torn = new TextEncoder().encode(next.slice(0, Math.max(1, Math.floor(next.length / 2))));
  const out = new Uint8Array(Math.max(journal.length, end + torn.length));
  out.set(journal);
  out.set(torn, end);
  return out;
}

/**
 * The scenario of {@linkcode scenario}, with `side` killed when its `k`-th
 * save lands instead of at a frame; with `torn`, the restarted journal also
 * ends in half a commit. False when the side made fewer than `k` saves.
 */
export async function scenarioAtSave(
  side: "sender" | "receiver",
  k: number,
  torn: boolean,
): Promise<boolean> {
  const net = new TestNet(`crash-save-${side}-${k}-${torn}`);
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await alice.close();
    const fromBob = ["b1", "b2\nb2", "b3"];
    for (const t of fromBob) await bob.peer.sendMessage("alice", t);
    await bob.close();
    const victim = side === "sender" ? alice : bob;
    const crash = new Crash(victim, Number.POSITIVE_INFINITY);
    // saves count from when bob comes back: what is queued before is durable
    const armed = { at: false };
    const options = {
      transport: crashingTransport(crash, false),
      wrapInbound: crashingInbound(crash, false),
      wrapStore: crashingStore(crash, k, armed),
    };
    await alice.open(side === "sender" ? options : {});
    const fromAlice = ["a1", "a2", "a3\nmulti", "a4", "a5"];
    for (const t of fromAlice) await alice.peer.sendMessage("bob", t);
    armed.at = true;
    await bob.open(side === "receiver" ? options : {});
    const done = () =>
      alice.peer.conversations()[0]?.pending === 0 &&
      bob.peer.conversations()[0]?.pending === 0;
    await victim.until(() => crash.dead || done());
    await victim.close();
    if (!crash.dead) return false;
    const snapshot = crash.snapshot!;
    if (torn) {
      const journal = snapshot.get("journal.jsonl")!;
      snapshot.set("journal.jsonl", withTornTail(journal));
    }
    const reopenMark = await restartAndExchange(victim, snapshot, alice, bob);
    const aliceEvents = side === "sender" ? realEvents(alice, crash, reopenMark) : alice.events;
    const bobEvents = side === "receiver" ? realEvents(bob, crash, reopenMark) : bob.events;
    const at = `${side}, save ${k}${torn ? ", torn" : ""}`;
    assertEquals(texts(bobEvents), [...fromAlice, "final from alice"], `Bob, crash at ${at}`);
    assertEquals(texts(aliceEvents), [...fromBob, "final from bob"], `Alice, crash at ${at}`);
    return true;
  } finally {
    await net.close();
  }
}

/** Bound on the crash points one side goes through (far above the frames it counts). */
const MAX_CRASH_POINTS = 60;

/**
 * Crashes the victim at every frame it counts, one run per frame, until a
 * run delivers everything before its crash point: Alice's 5 messages (each
 * sealed once, re-sent as the same bytes after her restart) and 3
 * acknowledgements, the probes that open connections, their answers, the
 * re-sent copies that Bob recognises and acknowledges again.
 */
export async function everyCrashPoint(side: "sender" | "receiver"): Promise<number> {
  let k = 1;
  while (await scenario(side, k)) {
    k++;
    if (k > MAX_CRASH_POINTS) throw new Error(`${side}: still crashing at frame ${k}`);
  }
  return k - 1;
}
