/**
 * The three ways a running peer reaches the world, one small strategy object
 * each, behind one interface ({@linkcode TorStrategy}) that `runtime.ts`
 * drives without knowing which mode it has:
 *
 * - `launch`: we start our own tor ({@linkcode launchSource}), supervised;
 * - `attach`: we use a running tor's control port ({@linkcode attachSource}),
 *   supervised;
 * - `direct`: no tor at all (tests, benchmarks, `--direct <dir>`): contacts
 *   are dialled on 127.0.0.1 ({@linkcode DirectStrategy}).
 *
 * Launch and attach differ only in how tor is reached, how it is let go and
 * how its loss shows, so both are a {@linkcode TorSource} under the same
 * {@linkcode SupervisedTor} (`tor_supervisor.ts`), which publishes the onion
 * service, watches tor and brings it back.
 *
 * @module
 */

import type { OnionKey } from "../crypto/onion.ts";
import type { DirectTransport, Transport } from "../net/transport.ts";
import { waitForBootstrap } from "../tor/bootstrap.ts";
import type { BootstrapStatus } from "../tor/control_parse.ts";
import type { TorControl } from "../tor/control.ts";
import { TorError } from "../tor/errors.ts";
import { attachTor, launchTor } from "../tor/launch.ts";
import type { TorLog } from "../tor/tor_log.ts";
import { registerDirect, RegistryTransport, unregisterDirect } from "./direct_registry.ts";

/** Bound on waiting for an attached tor's bootstrap. */
export const ATTACH_BOOTSTRAP_TIMEOUT_MS = 180_000;

/** What a strategy publishes: our onion service and where it leads. */
export interface OnionService {
  /** Our onion service key. */
  readonly key: OnionKey;
  /** Our onion host (`<56 chars>.onion`). */
  readonly onion: string;
  /** The onion service's virtual port (part of our identity address). */
  readonly virtualPort: number;
  /** The local listener's port behind it. */
  readonly listenerPort: number;
}

/** One way of reaching the world; see the module header. */
export interface TorStrategy {
  /** The transport the core dials contacts through, fixed for the whole run. */
  readonly transport: Transport;
  /** PID of the tor we launched (the current one), if we launched one. */
  readonly torPid: number | undefined;
  /** Tor's recent log lines (absent without tor). */
  readonly log?: TorLog;
  /** Makes us reachable at `service` (tor reached and the onion published, or the port registered). */
  start(service: OnionService): Promise<void>;
  /** Undoes `start`, each step bounded; safe to call after a failed or no `start`. */
  stop(): Promise<void>;
}

/** A tor reached by a {@linkcode TorSource}, bootstrapped. */
export interface ConnectedTor {
  /** The authenticated control connection. */
  readonly control: TorControl;
  /** Its SOCKS port on 127.0.0.1. */
  readonly socksPort: number;
  /** Set when we launched it. */
  readonly pid: number | undefined;
  /** Resolves with a sentence once this tor is gone (exited, or its control port closed). */
  readonly gone: Promise<string>;
  /** Lets this tor go: stops it if we launched it, else closes our connection. */
  close(): Promise<void>;
}

/** What a supervised mode is told while it reaches tor. */
export interface ConnectHooks {
  /** Each bootstrap phase. */
  onProgress(status: BootstrapStatus): void;
  /** The authenticated control connection, before bootstrap is awaited. */
  onControl(control: TorControl): Promise<void>;
}

/** How a supervised mode reaches tor: one call per (re)start. */
export interface TorSource {
  /** launch: we configure this tor; attach: someone else's. */
  readonly mode: "launch" | "attach";
  /** Reaches tor and waits for its bootstrap; rejects with a typed error. */
  connect(hooks: ConnectHooks): Promise<ConnectedTor>;
}

/** Options of the launch mode (see `TorMode` in runtime.ts). */
export interface LaunchSourceOptions {
  /** tor's data directory (the peer's `tor/` folder). */
  dataDir: string;
  /** The tor executable (default: found on PATH). */
  torPath?: string;
  /** torrc lines added to ours (`--torrc-extra`, bridges, proxy). */
  extraTorrc?: string[];
  /** Bound on the whole launch (default `LAUNCH_TIMEOUT_MS`). */
  launchTimeoutMs?: number;
}

/** Launches our own tor on each connect. */
export function launchSource(o: LaunchSourceOptions): TorSource {
  return {
    mode: "launch",
    async connect({ onProgress, onControl }) {
      const proc = await launchTor({
        dataDir: o.dataDir,
        ...(o.torPath !== undefined ? { torPath: o.torPath } : {}),
        ...(o.extraTorrc !== undefined ? { extraTorrc: o.extraTorrc } : {}),
        ...(o.launchTimeoutMs !== undefined ? { timeoutMs: o.launchTimeoutMs } : {}),
        onProgress,
        onControl,
      });
      if (proc.socksPort === undefined) {
        await proc.stop();
        throw new TorError("tor_no_socks", "Tor has no SOCKS port (is DisableNetwork set?)");
      }
      return {
        control: proc.control,
        socksPort: proc.socksPort,
        pid: proc.pid,
        gone: proc.exited.then((x) =>
          `Tor exited (${x.signal ? `signal ${x.signal}` : `code ${x.code}`})`
        ),
        close: async () => void await proc.stop(),
      };
    },
  };
}

/** Options of the attach mode (see `TorMode` in runtime.ts). */
export interface AttachSourceOptions {
  /** The running tor's control port on 127.0.0.1. */
  controlPort: number;
  /** Its SOCKS port (default: asked of tor). */
  socksPort?: number;
  /** The control port password (default: cookie authentication). */
  password?: string;
  /** The cookie file (default: the one tor names). */
  cookieFile?: string;
  /** Default {@linkcode ATTACH_BOOTSTRAP_TIMEOUT_MS}. */
  bootstrapTimeoutMs?: number;
}

/** Attaches to a running tor's control port on each connect (we never stop that tor). */
export function attachSource(o: AttachSourceOptions): TorSource {
  return {
    mode: "attach",
    async connect({ onProgress, onControl }) {
      const tor = await attachTor({
        controlPort: o.controlPort,
        ...(o.socksPort !== undefined ? { socksPort: o.socksPort } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
        ...(o.cookieFile !== undefined ? { cookieFile: o.cookieFile } : {}),
      });
      try {
        if (tor.socksPort === undefined) {
          throw new TorError(
            "tor_no_socks",
            "The attached tor has no SOCKS port; pass --socks-port",
          );
        }
        await onControl(tor.control);
        await waitForBootstrap(tor.control, {
          timeoutMs: o.bootstrapTimeoutMs ?? ATTACH_BOOTSTRAP_TIMEOUT_MS,
          onProgress,
        });
        return {
          control: tor.control,
          socksPort: tor.socksPort,
          pid: undefined,
          gone: tor.control.closed.then((r) => `Tor closed the control connection: ${r.message}`),
          close: () => tor.close(),
        };
      } catch (e) {
        await tor.close();
        throw e;
      }
    },
  };
}

/**
 * No tor: contacts are dialled on 127.0.0.1 through `transport`, or through
 * the port files of `registryDir` (several processes, `--direct <dir>`),
 * where this peer also registers its own listener while it runs.
 */
export class DirectStrategy implements TorStrategy {
  readonly transport: Transport;
  /** No tor. */
  readonly torPid: undefined = undefined;
  readonly #registryDir: string | undefined;
  #registered: string | undefined;

  /** `fallbackDir` holds the port files when neither a transport nor a registry is given. */
  constructor(
    options: { transport?: DirectTransport | Transport; registryDir?: string },
    fallbackDir: string,
  ) {
    this.#registryDir = options.registryDir;
    this.transport = options.transport ?? new RegistryTransport(options.registryDir ?? fallbackDir);
  }

  async start(service: OnionService): Promise<void> {
    if (this.#registryDir === undefined) return;
    this.#registered = service.onion;
    await registerDirect(this.#registryDir, service.onion, service.listenerPort);
  }

  async stop(): Promise<void> {
    if (this.#registryDir === undefined || this.#registered === undefined) return;
    await unregisterDirect(this.#registryDir, this.#registered);
  }
}
