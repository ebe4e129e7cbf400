/**
 * Test harness for the messenger core: real `Peer`s with real `PeerStore`s
 * in temporary folders, real loopback listeners and a shared
 * `DirectTransport` that maps each peer's onion host to its listener port.
 * Events are recorded per peer and awaited with timeouts.
 *
 * @module
 */

import type { Rng } from "../lib/crypto/bytes.ts";
import type { FramedConn, NetLogEntry } from "../lib/net/framed_conn.ts";
import { type AdmissionLimits, type FramedListener, listen } from "../lib/net/listener.ts";
import { DirectTransport, type Transport } from "../lib/net/transport.ts";
import { Peer, type PeerEvent, type PeerOptions } from "../lib/peer.ts";
import { type PartChanges, PeerStore } from "../lib/store/peer_store.ts";
import { seededRng } from "./_rng.ts";

/** Default bound on waiting for one event. */
export const EVENT_TIMEOUT_MS = 8_000;
/** Aggregation interval of the peers' network warnings (short, so tests see the summaries). */
export const WARNING_INTERVAL_MS = 300;

/** Options of {@linkcode TestNet.peer}. */
export interface TestPeerOptions {
  /** Wraps the shared transport (e.g. to drop frames). */
  transport?: (base: Transport) => Transport;
  /** Extra options of Peer.open. */
  peer?: Partial<PeerOptions>;
  /** Wraps each inbound connection before the peer gets it. */
  wrapInbound?: (conn: FramedConn) => FramedConn;
  /** Wraps the peer's store (e.g. to act when a save lands); the harness still closes the real one. */
  wrapStore?: (store: PeerStore) => PeerStore;
  /** Pool sizes and identification deadline of the listener (default: a 5 s deadline). */
  admission?: AdmissionLimits;
  /** What the event sink returns for an event (after recording it), e.g. a slow interface's promise. */
  shown?: (event: PeerEvent) => Promise<void> | undefined;
  /** The peer's passphrase (its store is encrypted, with fast scrypt parameters). */
  passphrase?: string;
  /** A peer folder to start from (copied into the peer's new folder by TestNet.peer). */
  from?: string;
}

/** scrypt parameters of encrypted test peers: the smallest the vault accepts. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

/** A peer under test with its folder, listener and recorded events. */
export class TestPeer {
  readonly name: string;
  readonly dir: string;
  readonly net: TestNet;
  readonly events: PeerEvent[] = [];
  readonly netLog: NetLogEntry[] = [];
  peer!: Peer;
  store!: PeerStore;
  listener!: FramedListener;
  #options: TestPeerOptions;
  #waiters: (() => void)[] = [];
  #rng: Rng;
  #running = false;

  constructor(net: TestNet, name: string, dir: string, options: TestPeerOptions, rng: Rng) {
    this.net = net;
    this.name = name;
    this.dir = dir;
    this.#options = options;
    this.#rng = rng;
  }

  /** Opens store, peer and listener, and starts the peer. */
  async open(options: TestPeerOptions = this.#options): Promise<this> {
    this.#options = options;
    this.store = await PeerStore.open(
      this.dir,
      options.passphrase !== undefined
        ? { passphrase: options.passphrase, scrypt: TEST_SCRYPT }
        : {},
    );
    const transport = options.transport
      ? options.transport(this.net.transport)
      : this.net.transport;
    this.peer = await Peer.open({
      name: this.name,
      store: options.wrapStore ? options.wrapStore(this.store) : this.store,
      transport,
      port: 50001,
      events: (e) => {
        this.#record(e);
        return options.shown?.(e);
      },
      rng: this.#rng,
      backoff: { minMs: 20, maxMs: 150 },
      keepaliveMs: 2_000,
      closeTimeoutMs: 1_000,
      warningIntervalMs: WARNING_INTERVAL_MS,
      ...options.peer,
    });
    this.listener = listen({
      onConnection: (conn, admission) =>
        this.peer.acceptConnection(
          options.wrapInbound ? options.wrapInbound(conn) : conn,
          admission,
        ),
      logger: (entry) => {
        this.netLog.push(entry);
        this.peer.netLogger(entry);
      },
      admission: { identifyTimeoutMs: 5_000, ...options.admission },
    });
    this.net.transport.setPort(this.host, this.listener.port);
    await this.peer.start();
    this.#running = true;
    return this;
  }

  /** `<onion>.onion` */
  get host(): string {
    return this.peer.identity().onion;
  }

  /** Closes peer, listener and store (a clean quit). */
  async close(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.peer.close();
    await this.listener.close();
    await this.store.close();
    this.net.transport.deletePort(this.host);
  }

  /** Waits until `pred` holds, polling (for state that has no event). */
  async until(pred: () => boolean, timeoutMs = EVENT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: condition not met in ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Index of the next event, for {@linkcode waitFor}. */
  mark(): number {
    return this.events.length;
  }

  /** The first event at index >= `since` that matches `pred`, waiting up to `timeoutMs`. */
  waitFor<E extends PeerEvent>(
    pred: (e: PeerEvent) => e is E,
    since?: number,
    timeoutMs?: number,
  ): Promise<E>;
  waitFor(pred: (e: PeerEvent) => boolean, since?: number, timeoutMs?: number): Promise<PeerEvent>;
  waitFor(
    pred: (e: PeerEvent) => boolean,
    since = 0,
    timeoutMs = EVENT_TIMEOUT_MS,
  ): Promise<PeerEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = since; i < this.events.length; i++) {
          if (pred(this.events[i]!)) {
            resolve(this.events[i]!);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const waiter = () => {
        if (check()) {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `${this.name}: no matching event within ${timeoutMs} ms; got ${
              JSON.stringify(this.events.slice(since).map((e) => e.event))
            }`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Every event of one kind at index >= since. */
  all<K extends PeerEvent["event"]>(kind: K, since = 0): Extract<PeerEvent, { event: K }>[] {
    return this.events.slice(since).filter((e) => e.event === kind) as Extract<
      PeerEvent,
      { event: K }
    >[];
  }

  #record(e: PeerEvent): void {
    this.events.push(e);
    for (const w of [...this.#waiters]) w();
  }
}

/** The data files of a peer folder (profile, state, journal), read synchronously. */
export type Snapshot = Map<string, Uint8Array>;

/** The files {@linkcode snapshotSync} reads: everything a crash must leave consistent. */
const DATA_FILES = ["profile.json", "state.jsonl", "journal.jsonl"];

/** Reads the peer's files at this very moment (no await: nothing can change them meanwhile). */
export function snapshotSync(dir: string): Snapshot {
  const files: Snapshot = new Map();
  for (const name of DATA_FILES) {
    try {
      files.set(name, Deno.readFileSync(`${dir}/${name}`));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return files;
}

/** Puts a closed peer's folder back to `snapshot` (as if it had crashed then). */
export async function restoreSnapshot(dir: string, snapshot: Snapshot): Promise<void> {
  for (const name of DATA_FILES) await Deno.remove(`${dir}/${name}`).catch(() => {});
  for (const [path, bytes] of snapshot) await Deno.writeFile(`${dir}/${path}`, bytes);
}

/** What one conversation save writes: its head (when it changed) and its part changes. */
export type SavedChanges = { head: unknown; parts: PartChanges };

/**
 * A `wrapStore` that runs `save` for each conversation save the core asks
 * for (`saveConversationLater`), when its commit is written: with what it
 * writes (`changes`: the head when it changed, and the parts put and
 * removed, e.g. the session as part "r", received IDs as blocks "s/<n>",
 * digests as blocks "d/<n>"), and `next`, the save's own promise (count,
 * check, or act once the save has landed). Saves of one conversation that
 * share a commit are seen once.
 */
export function onConversationSave(
  save: (changes: SavedChanges, next: () => Promise<void>) => Promise<void>,
): (store: PeerStore) => PeerStore {
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        if (prop === "saveConversationLater") {
          return (id: string, changes: () => SavedChanges | null): Promise<void> => {
            const outer = Promise.withResolvers<void>();
            let seen = false;
            const done: Promise<void> = target.saveConversationLater(id, () => {
              const written = changes();
              if (written !== null) {
                seen = true;
                save(written, () => done).then(outer.resolve, outer.reject);
              }
              return written;
            });
            // joined an earlier save's commit, or wrote nothing: its own outcome
            done.then(() => seen || outer.resolve(), (e) => seen || outer.reject(e));
            return outer.promise;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}

/** The entries of the blocks named `prefix` + number that `changes` puts (received IDs, digests). */
export function putBlocks(changes: SavedChanges, prefix: string): unknown[] {
  return [...(changes.parts.put ?? [])]
    .filter(([name]) => name.startsWith(prefix))
    .flatMap(([, entries]) => entries as unknown[]);
}

/** Several peers on one loopback "network". */
export class TestNet {
  readonly transport: DirectTransport;
  readonly peers: TestPeer[] = [];
  readonly #dirs: string[] = [];
  readonly #seed: string;

  constructor(seed: string) {
    this.#seed = seed;
    this.transport = new DirectTransport({ connectTimeoutMs: 2_000, logger: () => {} });
  }

  /** Creates and opens a peer in a fresh temporary folder. */
  async peer(name: string, options: TestPeerOptions = {}): Promise<TestPeer> {
    const dir = await Deno.makeTempDir({ prefix: `unmessage-peer-${name}-` });
    this.#dirs.push(dir);
    if (options.from !== undefined) await copyTree(options.from, dir);
    const peer = new TestPeer(this, name, dir, options, seededRng(`${this.#seed}/${name}`));
    this.peers.push(peer);
    return await peer.open();
  }

  /** Closes every peer and removes the folders. */
  async close(): Promise<void> {
    for (const p of this.peers) await p.close();
    for (const dir of this.#dirs) await Deno.remove(dir, { recursive: true });
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true, mode: 0o700 });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

/** Type guard helper: an event of kind `kind` whose fields match `fields`. */
export function is<K extends PeerEvent["event"]>(
  kind: K,
  fields: Partial<Extract<PeerEvent, { event: K }>> = {},
): (e: PeerEvent) => e is Extract<PeerEvent, { event: K }> {
  return (e): e is Extract<PeerEvent, { event: K }> =>
    e.event === kind &&
    Object.entries(fields).every(([k, v]) => (e as Record<string, unknown>)[k] === v);
}

/** Alice sends a request to Bob, Bob accepts it as `bobCallsAlice`; both wait for stage 3. */
export async function connect(
  alice: TestPeer,
  bob: TestPeer,
  aliceCallsBob = bob.name,
  bobCallsAlice?: string,
): Promise<void> {
  const a = alice.mark();
  const b = bob.mark();
  const id = bob.peer.identity();
  await alice.peer.sendRequest(`${aliceCallsBob}@${id.onion}:${id.port}`, id.key);
  const received = await bob.waitFor(is("request-received"), b);
  await bob.peer.acceptRequest(received.request.name, bobCallsAlice);
  await alice.waitFor(is("conversation-established"), a);
  await bob.waitFor(is("conversation-established"), b);
}
