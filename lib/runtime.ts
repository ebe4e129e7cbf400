/**
 * Running one peer: the glue between the core (`peer.ts`) and the world.
 * {@linkcode startPeer} locks and opens the peer's store, opens the core,
 * listens on 127.0.0.1, launches (or attaches to) tor, publishes the onion
 * service with the peer's stored key (virtual port → listener port), reports
 * bootstrap progress, waits (bounded) for the descriptor upload, emits
 * `ready` and starts the core. It then supervises tor: if the tor we
 * launched dies (or the one we attached to closes its control port), it
 * reports a `tor` event, relaunches or re-attaches with back-off, publishes
 * the same onion again and swaps the core's transport over to it.
 *
 * `stop()` undoes everything in reverse, each step bounded and independent
 * of the others' failures. Owns no terminal: events go to the given sink.
 *
 * @module
 */

import type { Rng } from "./crypto/bytes.ts";
import { type OnionKey, torKeyBlob } from "./crypto/onion.ts";
import { isUnmessageError, UnmessageError } from "./errors.ts";
import type { Admission } from "./net/admission.ts";
import type { FramedConn, NetLogger } from "./net/framed_conn.ts";
import { type FramedListener, listen } from "./net/listener.ts";
import type { DirectTransport, Transport } from "./net/transport.ts";
import type { EventSink, IdentityInfo } from "./peer/types.ts";
import { parseJson, readFileBounded } from "./store/atomic.ts";
import { isStoreError } from "./store/errors.ts";
import { PeerStore } from "./store/peer_store.ts";
import { isVaultEnvelope, type ScryptParams } from "./store/vault.ts";
import { peerPaths } from "./store/paths.ts";
import { waitForBootstrap } from "./tor/bootstrap.ts";
import type { AddOnionOptions, OnionPort, TorControl } from "./tor/control.ts";
import { isTorError } from "./tor/errors.ts";
import { type AttachedTor, attachTor, launchTor, type TorProcess } from "./tor/launch.ts";
import { registerDirect, RegistryTransport, unregisterDirect } from "./app/direct_registry.ts";
import { TorLink } from "./app/tor_link.ts";
import type { CommandPeer } from "./peer/types.ts";

/** The onion service's virtual port, as in the seed's examples. */
export const DEFAULT_VIRTUAL_PORT = 50001;
/** Bound on waiting for the first descriptor upload before `ready`. */
export const DESCRIPTOR_TIMEOUT_MS = 60_000;
/** Bound on waiting for an attached tor's bootstrap. */
export const ATTACH_BOOTSTRAP_TIMEOUT_MS = 180_000;
/** Back-off between tor relaunch attempts: first, doubling, cap. */
export const TOR_RESTART_FIRST_DELAY_MS = 500;
export const TOR_RESTART_MAX_DELAY_MS = 30_000;
/** Bound on each step of `stop()`. */
const STOP_STEP_TIMEOUT_MS = 10_000;

/**
 * Tor's own defences of our onion service, passed with ADD_ONION
 * (control-spec §3.27, tor-manual "Denial of service mitigation"):
 * - at most 8 simultaneous streams per rendezvous circuit, and one more
 *   closes the circuit: a contact's link uses one stream on its own
 *   circuit (and a redial may overlap it), so a stranger must pay for a new
 *   rendezvous circuit every few connections;
 * - the proof-of-work defence (tor 0.4.8+, `pow` module): under load tor
 *   asks clients for a puzzle and serves the hardest workers first. Its
 *   queue lets 25 rendezvous a second through (burst 100), far above what
 *   contacts need and about what the stranger lane (net/admission.ts)
 *   handles, so tor raises the effort before we fall behind.
 * A tor without PoW refuses the keyword; {@linkcode addDefendedOnion} then
 * publishes without it and says so.
 */
export const ONION_SERVICE_DEFENCES: AddOnionOptions = {
  flags: ["MaxStreamsCloseCircuit"],
  maxStreams: 8,
  powDefenses: { queueRate: 25, queueBurst: 100 },
};

/** What the runtime needs of the core besides the commands. */
export interface RuntimePeer extends CommandPeer {
  onionKey(): OnionKey;
  start(): Promise<void>;
  acceptConnection(conn: FramedConn, admission?: Admission): void;
  /** Receives the listener's log records (refused connections become aggregated warnings). */
  readonly netLogger: NetLogger;
  close(): Promise<void>;
}

/** Arguments the runtime gives `Peer.open`. */
export interface PeerOpenOptions {
  name: string;
  store: PeerStore;
  transport: Transport;
  port: number;
  events: EventSink;
  rng?: Rng;
  now?: () => number;
}

/** `Peer.open` (injected, so this module does not import the core's class). */
export type PeerOpener = (options: PeerOpenOptions) => Promise<RuntimePeer>;

/** How to reach tor. */
export type TorMode =
  | { mode: "launch"; torPath?: string; extraTorrc?: string[]; launchTimeoutMs?: number }
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
  name: string;
  /** The configuration root (see `resolveConfigRoot`). */
  configRoot: string;
  tor: TorMode;
  events: EventSink;
  open: PeerOpener;
  passphrase?: string;
  /** scrypt parameters if the peer is created encrypted (tests; default vault.ts). */
  scrypt?: ScryptParams;
  /** The onion virtual port; default {@linkcode DEFAULT_VIRTUAL_PORT}. */
  port?: number;
  descriptorTimeoutMs?: number;
  rng?: Rng;
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
  readonly peer: RuntimePeer;
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

type Tor =
  | { kind: "launched"; proc: TorProcess; control: TorControl; socksPort: number }
  | { kind: "attached"; tor: AttachedTor; control: TorControl; socksPort: number };

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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    work.catch(() => {}),
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class Runtime implements RunningPeer {
  readonly #o: StartPeerOptions;
  readonly #emit: EventSink;
  readonly #link = new TorLink();
  #store: PeerStore | undefined;
  #peer: RuntimePeer | undefined;
  #listener: FramedListener | undefined;
  #tor: Tor | undefined;
  #serviceId: string | undefined;
  #identity: IdentityInfo | undefined;
  #stopping: Promise<void> | undefined;
  #registered: string | undefined;
  #resolveStopped!: () => void;
  readonly stopped = new Promise<void>((resolve) => this.#resolveStopped = resolve);

  constructor(options: StartPeerOptions) {
    this.#o = options;
    this.#emit = (event) => {
      try {
        // The core awaits the promise (a message is shown before it is acknowledged).
        const shown = options.events(event);
        if (shown instanceof Promise) shown.catch(() => {});
        return shown;
      } catch {
        // A failing sink must not break the runtime.
      }
    };
  }

  get peer(): RuntimePeer {
    return this.#peer!;
  }
  get identity(): IdentityInfo {
    return this.#identity!;
  }
  get listenerPort(): number {
    return this.#listener?.port ?? 0;
  }
  get torPid(): number | undefined {
    return this.#tor?.kind === "launched" ? this.#tor.proc.pid : undefined;
  }

  async start(): Promise<void> {
    const o = this.#o;
    const dir = peerPaths(o.configRoot, o.name).dir;
    this.#store = await PeerStore.open(dir, {
      passphrase: o.passphrase,
      ...(o.scrypt !== undefined ? { scrypt: o.scrypt } : {}),
    });
    const transport = o.tor.mode === "direct"
      ? o.tor.transport ?? new RegistryTransport(o.tor.registryDir ?? dir)
      : this.#link;
    this.#peer = await o.open({
      name: o.name,
      store: this.#store,
      transport,
      port: o.port ?? DEFAULT_VIRTUAL_PORT,
      events: this.#emit,
      ...(o.rng ? { rng: o.rng } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
    const peer = this.#peer;
    this.#listener = listen({
      onConnection: (conn, admission) => peer.acceptConnection(conn, admission),
      logger: (entry) => peer.netLogger(entry),
    });
    if (o.tor.mode !== "direct") {
      this.#tor = await this.#connectTor();
      await this.#publish(this.#tor, true);
      this.#supervise(this.#tor);
    } else if (o.tor.registryDir !== undefined) {
      this.#registered = peer.identity().onion;
      await registerDirect(o.tor.registryDir, this.#registered, this.#listener.port);
    }
    this.#identity = peer.identity();
    this.#emit({ event: "ready", identity: this.#identity });
    await peer.start();
  }

  /** Launches or attaches to tor and waits for its bootstrap. */
  async #connectTor(): Promise<Tor> {
    const t = this.#o.tor;
    const onProgress = (s: { progress: number; summary: string }) =>
      this.#emit({ event: "bootstrap", progress: s.progress, summary: s.summary });
    if (t.mode === "launch") {
      const proc = await launchTor({
        dataDir: this.#store!.paths.tor,
        ...(t.torPath !== undefined ? { torPath: t.torPath } : {}),
        ...(t.extraTorrc !== undefined ? { extraTorrc: t.extraTorrc } : {}),
        ...(t.launchTimeoutMs !== undefined ? { timeoutMs: t.launchTimeoutMs } : {}),
        onProgress,
      });
      if (proc.socksPort === undefined) {
        await proc.stop();
        throw new RuntimeError("tor_no_socks", "Tor has no SOCKS port (is DisableNetwork set?)");
      }
      return { kind: "launched", proc, control: proc.control, socksPort: proc.socksPort };
    }
    if (t.mode !== "attach") throw new RuntimeError("internal", "No tor in direct mode");
    const tor = await attachTor({
      controlPort: t.controlPort,
      ...(t.socksPort !== undefined ? { socksPort: t.socksPort } : {}),
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...(t.cookieFile !== undefined ? { cookieFile: t.cookieFile } : {}),
    });
    try {
      if (tor.socksPort === undefined) {
        throw new RuntimeError(
          "tor_no_socks",
          "The attached tor has no SOCKS port; pass --socks-port",
        );
      }
      await waitForBootstrap(tor.control, { timeoutMs: ATTACH_BOOTSTRAP_TIMEOUT_MS, onProgress });
      return { kind: "attached", tor, control: tor.control, socksPort: tor.socksPort };
    } catch (e) {
      await tor.close();
      throw e;
    }
  }

  /** ADD_ONION with our key, then a bounded wait for the descriptor upload. */
  async #publish(tor: Tor, first: boolean): Promise<void> {
    const key = this.#peer!.onionKey();
    const serviceId = await addDefendedOnion(tor.control, torKeyBlob(key.seed), [
      { virtualPort: this.#o.port ?? DEFAULT_VIRTUAL_PORT, target: this.#listener!.port },
    ], (message) => this.#emit({ event: "warning", code: "pow_unavailable", message }));
    this.#serviceId = serviceId;
    this.#link.attach(tor.socksPort, tor.control);
    try {
      await tor.control.waitForDescriptorUpload(
        serviceId,
        this.#o.descriptorTimeoutMs ?? DESCRIPTOR_TIMEOUT_MS,
      );
    } catch (e) {
      // Contacts cannot reach us until it is uploaded, but we can reach them.
      if (isUnmessageError(e, "descriptor_timeout")) {
        this.#emit({ event: "warning", code: "descriptor_timeout", message: e.message });
      } else if (first) {
        throw e;
      }
    }
  }

  /** Watches tor and brings it back when it goes away. */
  #supervise(tor: Tor): void {
    const gone = tor.kind === "launched"
      ? tor.proc.exited.then((x) =>
        `Tor exited (${x.signal ? `signal ${x.signal}` : `code ${x.code}`})`
      )
      : tor.control.closed.then((r) => `Tor closed the control connection: ${r.message}`);
    void gone.then(async (why) => {
      if (this.#stopping || this.#tor !== tor) return;
      this.#link.detach();
      this.#emit({ event: "tor", state: "exited", message: why });
      await this.#closeTor(tor);
      await this.#restart();
    });
  }

  async #restart(): Promise<void> {
    let wait = TOR_RESTART_FIRST_DELAY_MS;
    for (let attempt = 1; !this.#stopping; attempt++) {
      this.#emit({
        event: "tor",
        state: "restarting",
        message: `Restarting tor (attempt ${attempt})`,
      });
      await delay(wait);
      if (this.#stopping) return;
      let tor: Tor | undefined;
      try {
        tor = await this.#connectTor();
        if (this.#stopping) {
          // stop() began while this tor was starting: it only knows the dead one.
          await this.#closeTor(tor);
          return;
        }
        this.#tor = tor;
        await this.#publish(tor, false);
        this.#supervise(tor);
        this.#emit({
          event: "tor",
          state: "restarted",
          message: "Tor is back; onion service published again",
        });
        return;
      } catch (e) {
        if (tor) await this.#closeTor(tor);
        this.#emit({ event: "tor", state: "failed", message: `Cannot restart tor: ${message(e)}` });
        wait = Math.min(wait * 2, TOR_RESTART_MAX_DELAY_MS);
      }
    }
  }

  async #closeTor(tor: Tor): Promise<void> {
    if (tor.kind === "launched") await bounded(tor.proc.stop(), STOP_STEP_TIMEOUT_MS);
    else await bounded(tor.tor.close(), STOP_STEP_TIMEOUT_MS);
  }

  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    if (this.#peer) await bounded(this.#peer.close(), STOP_STEP_TIMEOUT_MS);
    const tor = this.#tor;
    this.#link.detach();
    if (tor) {
      if (this.#serviceId !== undefined && !tor.control.isClosed) {
        await bounded(tor.control.delOnion(this.#serviceId), STOP_STEP_TIMEOUT_MS);
      }
      await this.#closeTor(tor);
    }
    const t = this.#o.tor;
    if (t.mode === "direct" && t.registryDir !== undefined && this.#registered !== undefined) {
      await unregisterDirect(t.registryDir, this.#registered);
    }
    if (this.#listener) await bounded(this.#listener.close(), STOP_STEP_TIMEOUT_MS);
    if (this.#store) await bounded(this.#store.close(), STOP_STEP_TIMEOUT_MS);
    this.#resolveStopped();
  }
}

/**
 * ADD_ONION with {@linkcode ONION_SERVICE_DEFENCES}; a tor that refuses
 * the proof-of-work keywords (older than 0.4.8, or built without `pow`)
 * gets the same call without them, and `warn` is told.
 */
export async function addDefendedOnion(
  control: TorControl,
  keyBlob: string,
  ports: readonly OnionPort[],
  warn: (message: string) => void,
): Promise<string> {
  try {
    return await control.addOnion(keyBlob, ports, ONION_SERVICE_DEFENCES);
  } catch (e) {
    // 512 "Unrecognized keyword argument" from a tor before 0.4.8; any other
    // refusal is retried once too, and fails again if PoW was not the cause
    if (!isTorError(e, "control_reply")) throw e;
    const { flags, maxStreams } = ONION_SERVICE_DEFENCES;
    const serviceId = await control.addOnion(keyBlob, ports, {
      ...(flags !== undefined ? { flags } : {}),
      ...(maxStreams !== undefined ? { maxStreams } : {}),
    });
    warn(
      `This tor has no proof-of-work defence (${e.message}); the onion service runs without it. ` +
        "Tor 0.4.8 or later built with the pow module provides it",
    );
    return serviceId;
  }
}

/** A failure of the runtime itself (not of tor, the store or the core). */
export class RuntimeError extends UnmessageError {}
