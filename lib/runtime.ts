/**
 * Running one peer: the glue between the core (`peer.ts`) and the world.
 * {@linkcode startPeer} locks and opens the peer's store, picks the strategy
 * of its tor mode (`app/tor_strategy.ts`: launch, attach or direct), opens
 * the core over that strategy's transport, listens on 127.0.0.1, lets the
 * strategy make us reachable (tor bootstrapped and the onion service
 * published with the peer's stored key, or the port registered in direct
 * mode), emits `ready` and starts the core. The tor modes are supervised
 * (`app/tor_supervisor.ts`): a tor that dies or closes its control port is
 * reported, brought back with back-off and published again. A launched tor
 * gets the bridges and proxy kept for the peer (`app/network_settings.ts`),
 * changed as the start's flags say.
 *
 * `stop()` closes the core, then tor (or the direct registration), the
 * listener and the store, in that order: the core, the listener and the
 * store each within `STOP_STEP_TIMEOUT_MS` and whatever their outcome, tor
 * within the strategy's own bounds. Owns no terminal: events go to the given
 * sink, guarded (`peer/sink.ts`).
 *
 * @module
 */

import type { Rng } from "./crypto/bytes.ts";
import { type FramedListener, listen } from "./net/listener.ts";
import type { DirectTransport, Transport } from "./net/transport.ts";
import { DEFAULT_ONION_PORT, Peer, type PeerOptions } from "./peer.ts";
import { guardedSink } from "./peer/sink.ts";
import type { EventSink, IdentityInfo } from "./peer/types.ts";
import { parseJson, readFileBounded } from "./store/atomic.ts";
import { isStoreError } from "./store/errors.ts";
import { PeerStore } from "./store/peer_store.ts";
import { isVaultEnvelope, type ScryptParams } from "./store/vault.ts";
import { peerPaths } from "./store/paths.ts";
import {
  attachSource,
  DirectStrategy,
  launchSource,
  type TorStrategy,
} from "./app/tor_strategy.ts";
import { STOP_STEP_TIMEOUT_MS, SupervisedTor } from "./app/tor_supervisor.ts";
import { bounded } from "./deadline.ts";
import {
  type AppliedNetwork,
  applyNetworkChange,
  hasNetworkSettings,
  loadNetworkSettings,
  type NetworkChange,
  networkEvent,
} from "./app/network_settings.ts";

export { ATTACH_BOOTSTRAP_TIMEOUT_MS } from "./app/tor_strategy.ts";
export {
  DESCRIPTOR_TIMEOUT_MS,
  TOR_RESTART_FIRST_DELAY_MS,
  TOR_RESTART_MAX_DELAY_MS,
} from "./app/tor_supervisor.ts";

// The types that this module's API and the interfaces above it name (the
// peer's events and data, its error family, its options and store), so that
// the documentation of lib/app, lib/ui and lib/runtime.ts links every one.
export type { UnmessageError } from "./errors.ts";
export type { Rng } from "./crypto/bytes.ts";
export type { OnionKey } from "./crypto/onion.ts";
export type { Peer, PeerOptions } from "./peer.ts";
export type {
  ConversationInfo,
  EventSink,
  IdentityInfo,
  Level,
  PeerEvent,
  RequestInfo,
  SentMessage,
  TorLogEntry,
} from "./peer/types.ts";
export type { Validator } from "./store/atomic.ts";
export type { PeerPaths } from "./store/paths.ts";
export type { LoadedConversations, PeerStore } from "./store/peer_store.ts";
export type { ScryptParams } from "./store/vault.ts";

/** Core options a caller may tune (tests, benchmarks); the runtime sets the rest. */
export type PeerTuning = Omit<
  PeerOptions,
  "name" | "store" | "transport" | "port" | "events" | "rng" | "now" | "torLog"
>;

/** How to reach tor. */
export type TorMode =
  | {
    mode: "launch";
    torPath?: string;
    extraTorrc?: string[];
    launchTimeoutMs?: number;
    /** Bridges and proxy to set or clear (stored per peer; see `app/network_settings.ts`). */
    network?: NetworkChange;
  }
  | {
    mode: "attach";
    controlPort: number;
    socksPort?: number;
    password?: string;
    cookieFile?: string;
  }
  /**
   * No tor (tests, benchmarks): contacts are dialled on 127.0.0.1 through
   * `transport`, or through the port files of `registryDir` (several
   * processes), where this peer also registers its own listener.
   */
  | { mode: "direct"; transport?: DirectTransport | Transport; registryDir?: string };

/** Options of {@linkcode startPeer}. */
export interface StartPeerOptions {
  /** The peer's name (its folder under `peers/`). */
  name: string;
  /** The configuration root (see `resolveConfigRoot`). */
  configRoot: string;
  /** How to reach tor. */
  tor: TorMode;
  /** Where every event goes (the core's and the runtime's). */
  events: EventSink;
  /** Core options beyond those the runtime sets (default: the core's own). */
  peerOptions?: PeerTuning;
  /** The passphrase of an encrypted peer (or of a new one to encrypt). */
  passphrase?: string;
  /** scrypt parameters if the peer is created encrypted (tests; default vault.ts). */
  scrypt?: ScryptParams;
  /** The onion virtual port; default `DEFAULT_ONION_PORT` (`peer/address.ts`). */
  port?: number;
  /** Bound on the first descriptor upload (default `DESCRIPTOR_TIMEOUT_MS`). */
  descriptorTimeoutMs?: number;
  /** Time without bootstrap progress before `bootstrap-stalled` (tests; default tor/diagnose.ts). */
  bootstrapStallMs?: number;
  /** Randomness (default the system CSPRNG). */
  rng?: Rng;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/**
 * How a peer's profile is stored: `missing` (the next start creates the
 * peer), `plain`, `encrypted` (a vault envelope), or `unreadable` (damaged or
 * not readable: the start reports why). Reads the file without the lock, so
 * it is a hint for what to ask the user, not a guarantee.
 */
export type StoredPeer = "missing" | "plain" | "encrypted" | "unreadable";

/** Tells how the profile of `name` under `configRoot` is stored (see {@linkcode StoredPeer}). */
export async function storedPeer(configRoot: string, name: string): Promise<StoredPeer> {
  const path = peerPaths(configRoot, name).profile;
  try {
    return isVaultEnvelope(parseJson(await readFileBounded(path), path)) ? "encrypted" : "plain";
  } catch (e) {
    return isStoreError(e, "not_found") ? "missing" : "unreadable";
  }
}

/** A started peer. */
export interface RunningPeer {
  /** The running core (what the interfaces drive). */
  readonly peer: Peer;
  /** Our identity address and key. */
  readonly identity: IdentityInfo;
  /** The local listener's port (behind the onion service). */
  readonly listenerPort: number;
  /** PID of the tor we launched (launch mode), current one. */
  readonly torPid: number | undefined;
  /** Resolves when `stop()` has finished. */
  readonly stopped: Promise<void>;
  /** Stops the core, the onion service, tor, the listener and the store; idempotent. */
  stop(): Promise<void>;
}

/** Starts a peer; see the module header. Cleans up after itself if it fails. */
export async function startPeer(options: StartPeerOptions): Promise<RunningPeer> {
  const runtime = new Runtime(options);
  try {
    await runtime.start();
  } catch (e) {
    await runtime.stop();
    throw e;
  }
  return runtime;
}

/**
 * The strategy of the tor mode (see `app/tor_strategy.ts`). A launched tor
 * gets the peer's stored bridges and proxy, changed as the flags say.
 */
async function strategyFor(
  o: StartPeerOptions,
  emit: EventSink,
  store: PeerStore,
): Promise<TorStrategy> {
  const t = o.tor;
  if (t.mode === "direct") return new DirectStrategy(t, store.paths.dir);
  let network: AppliedNetwork | undefined;
  if (t.mode === "launch") {
    network = await applyNetworkChange(store.paths.dir, t.network ?? {});
    const shown = networkEvent(network);
    if (shown) emit(shown);
  } else if (hasNetworkSettings(await loadNetworkSettings(store.paths.dir))) {
    emit({
      event: "warning",
      code: "network_ignored",
      message: "The bridges and proxy stored for this peer are not used with --control-port: " +
        "the attached tor connects as its own torrc says",
    });
  }
  const source = t.mode === "launch"
    ? launchSource({
      dataDir: store.paths.tor,
      ...(t.torPath !== undefined ? { torPath: t.torPath } : {}),
      extraTorrc: [...t.extraTorrc ?? [], ...network!.torrc],
      ...(t.launchTimeoutMs !== undefined ? { launchTimeoutMs: t.launchTimeoutMs } : {}),
    })
    : attachSource({
      controlPort: t.controlPort,
      ...(t.socksPort !== undefined ? { socksPort: t.socksPort } : {}),
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...(t.cookieFile !== undefined ? { cookieFile: t.cookieFile } : {}),
    });
  return new SupervisedTor({
    source,
    emit,
    ...(network
      ? {
        network: {
          bridges: network.bridges.map((b) => b.transport ?? "plain"),
          ...(network.proxy !== undefined ? { proxy: network.proxy } : {}),
        },
      }
      : {}),
    ...(o.descriptorTimeoutMs !== undefined ? { descriptorTimeoutMs: o.descriptorTimeoutMs } : {}),
    ...(o.bootstrapStallMs !== undefined ? { stallMs: o.bootstrapStallMs } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
  });
}

class Runtime implements RunningPeer {
  readonly #o: StartPeerOptions;
  readonly #emit: EventSink;
  #store: PeerStore | undefined;
  #peer: Peer | undefined;
  #listener: FramedListener | undefined;
  #tor: TorStrategy | undefined;
  #identity: IdentityInfo | undefined;
  #stopping: Promise<void> | undefined;
  #resolveStopped!: () => void;
  readonly stopped = new Promise<void>((resolve) => this.#resolveStopped = resolve);

  constructor(options: StartPeerOptions) {
    this.#o = options;
    // A failing sink must not break the runtime; the core still awaits its promise.
    this.#emit = guardedSink(options.events);
  }

  get peer(): Peer {
    return this.#peer!;
  }
  get identity(): IdentityInfo {
    return this.#identity!;
  }
  get listenerPort(): number {
    return this.#listener?.port ?? 0;
  }
  get torPid(): number | undefined {
    return this.#tor?.torPid;
  }

  async start(): Promise<void> {
    const o = this.#o;
    const store = this.#store = await PeerStore.open(peerPaths(o.configRoot, o.name).dir, {
      passphrase: o.passphrase,
      ...(o.scrypt !== undefined ? { scrypt: o.scrypt } : {}),
    });
    const tor = this.#tor = await strategyFor(o, this.#emit, store);
    const port = o.port ?? DEFAULT_ONION_PORT;
    const peer = this.#peer = await Peer.open({
      ...o.peerOptions,
      name: o.name,
      store,
      transport: tor.transport,
      port,
      events: this.#emit,
      ...(tor.log ? { torLog: (count: number) => tor.log!.recent(count) } : {}),
      ...(o.rng ? { rng: o.rng } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
    const listener = this.#listener = listen({
      onConnection: (conn, admission) => peer.acceptConnection(conn, admission),
      logger: (entry) => peer.netLogger(entry),
    });
    await tor.start({
      key: peer.onionKey(),
      onion: peer.identity().onion,
      virtualPort: port,
      listenerPort: listener.port,
    });
    this.#identity = peer.identity();
    this.#emit({ event: "ready", identity: this.#identity });
    await peer.start();
  }

  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    if (this.#peer) await bounded(this.#peer.close(), STOP_STEP_TIMEOUT_MS);
    if (this.#tor) await this.#tor.stop();
    if (this.#listener) await bounded(this.#listener.close(), STOP_STEP_TIMEOUT_MS);
    if (this.#store) await bounded(this.#store.close(), STOP_STEP_TIMEOUT_MS);
    this.#resolveStopped();
  }
}
