/**
 * A private Tor network on 127.0.0.1 for tests and manual runs: three
 * directory authorities, two relays and N client tors with a control port
 * (cookie authentication) and a SOCKS port (`ExtendedErrors`), and on request
 * an obfs4 bridge (`bridge: true`: a relay with `BridgeRelay 1` and
 * obfs4proxy as its server transport, whose `Bridge` line the result
 * carries). The torrc of each role is in `_tornet_torrc.ts`. The start is
 * staged: authorities and relays first, clients (and the bridge) only once
 * every authority serves a consensus that lists every relay with all their
 * microdescriptors.
 *
 * Every tor runs in the foreground as our child; its PID is kept and
 * `stop()` ends exactly those PIDs (SIGTERM, then SIGKILL), also when the
 * start fails half-way. `__OwningControllerProcess` makes every tor exit by
 * itself should this process die without cleaning up. Nothing listens or
 * connects anywhere but 127.0.0.1.
 *
 * Run `deno task tornet [--clients N] [--bridge]` to start a network, print
 * the clients' ports (and the bridge line) and wait for Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { bounded, delay } from "../lib/deadline.ts";
import { TorControl } from "../lib/tor/control.ts";
import { TorError } from "../lib/tor/errors.ts";
import { findProgram } from "../lib/tor/find_tor.ts";
import { readSocksPort } from "../lib/tor/launch.ts";
import { consensusGap, freePorts, removeDir, signal, TornetError } from "./_tornet_io.ts";
import { authorityLine, commonTorrc, readBridgeLine, roleTorrc } from "./_tornet_torrc.ts";

export { TornetError } from "./_tornet_io.ts";

/** Directory authorities (with the relays, at least 4 nodes are needed). */
const AUTHORITIES = 3;
/** Relays besides the authorities (5 nodes in all give slack). */
const RELAYS = 2;
/** Default bound on the whole start, clients bootstrapped included. */
const START_TIMEOUT_MS = 90_000;
/** Interval between readiness polls. */
const POLL_MS = 250;
/** Time a tor gets to exit after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 5_000;
/** Time to wait for the exit after SIGKILL. */
const KILL_WAIT_MS = 5_000;
/** Lines of a node's log quoted in an error. */
const LOG_TAIL_LINES = 12;
/** Bound on one control-port command while waiting for a client. */
const CONTROL_TIMEOUT_MS = 10_000;
/** Attempts when a port picked as free was taken before tor bound it. */
const START_ATTEMPTS = 3;

/** One client tor of the network. */
export interface TornetClient {
  controlPort: number;
  socksPort: number;
  cookiePath: string;
  dataDir: string;
  pid: number;
}

/** The obfs4 bridge of a network started with `bridge: true`. */
export interface TornetBridge {
  /** The bridge line for torrc's `Bridge` (or `--bridge`): `obfs4 127.0.0.1:<port> <FP> cert=… iat-mode=0`. */
  line: string;
  /** Its obfs4 listener (what a bridge client connects to). */
  obfs4Port: number;
  /** Its ORPort (never contacted by a bridge client). */
  orPort: number;
  pid: number;
  dataDir: string;
}

/** A running network. */
export interface Tornet {
  clients: TornetClient[];
  /** The obfs4 bridge, when asked for. */
  bridge?: TornetBridge;
  /** The ORPorts and DirPorts of the authorities and relays (not the bridge's). */
  relayPorts: number[];
  /** PIDs of every tor of the network (authorities, relays, clients). */
  pids: number[];
  /** Root directory of all data; removed by `stop()` if we created it. */
  dir: string;
  /** Milliseconds from the call of `startTornet` to every client ready. */
  startMs: number;
  /** Ends every tor by PID, waits for the exits, removes the directory. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startTornet}. */
export interface TornetOptions {
  /** Number of client tors. */
  clients: number;
  /** Root directory (created if missing); default a new temporary one. */
  dir?: string;
  /** Progress messages. */
  log?: (message: string) => void;
  /** Bound on the whole start in milliseconds. */
  timeoutMs?: number;
  /** Extra torrc lines per role (used by tests to break a start). */
  torrcExtra?: { authority?: string[]; relay?: string[]; client?: string[] };
  /** tor and tor-gencert executables. */
  torPath?: string;
  gencertPath?: string;
  /** Also start an obfs4 bridge (needs obfs4proxy or lyrebird). */
  bridge?: boolean;
}

type Role = "authority" | "relay" | "client" | "bridge";

interface TorNode {
  name: string;
  role: Role;
  dataDir: string;
  logPath: string;
  earlyLogPath: string;
  orPort: number;
  dirPort: number;
  obfs4Port?: number;
  child?: Deno.ChildProcess;
  exited?: Deno.CommandStatus;
  done?: Promise<unknown>;
}

/** Starts a private Tor network; see the module documentation. */
export async function startTornet(options: TornetOptions): Promise<Tornet> {
  if (!Number.isInteger(options.clients) || options.clients < 1 || options.clients > 16) {
    throw new RangeError(`Cannot start tornet: clients must be 1 to 16, got ${options.clients}`);
  }
  const t0 = performance.now();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "tornet-" });
  await Deno.mkdir(dir, { recursive: true });
  const deadline = t0 + (options.timeoutMs ?? START_TIMEOUT_MS);
  const pids: number[] = [];
  for (let attempt = 1;; attempt++) {
    const net = new Network(join(dir, `try${attempt}`), options, deadline);
    try {
      const { clients, bridge, relayPorts } = await net.start();
      pids.push(...net.pids());
      const startMs = Math.round(performance.now() - t0);
      options.log?.(`tornet: ${clients.length} clients ready after ${startMs} ms`);
      let stopping: Promise<void> | undefined;
      const stop = () => stopping ??= net.stop().then(() => ownDir ? removeDir(dir) : undefined);
      net.onFatal = stop;
      net.ownDir = ownDir ? dir : undefined;
      return { clients, ...(bridge ? { bridge } : {}), relayPorts, pids, dir, startMs, stop };
    } catch (e) {
      pids.push(...net.pids());
      await net.stop();
      const retry = attempt < START_ATTEMPTS && performance.now() < deadline &&
        await net.portClash();
      if (!retry) {
        if (ownDir) await removeDir(dir);
        const err = e instanceof TornetError
          ? e
          : new TornetError("tornet_failed", `Cannot start tornet: ${String(e)}`, undefined, {
            cause: e,
          });
        err.pids = pids;
        throw err;
      }
      options.log?.(`tornet: a port was taken, retrying (attempt ${attempt + 1})`);
    }
  }
}

/** One attempt at a network, with the nodes it spawned. */
class Network {
  readonly nodes: TorNode[] = [];
  /** Full teardown (tors and directory), set once the start succeeded. */
  onFatal: (() => Promise<void>) | undefined;
  /** The root directory to remove on unload, when we created it. */
  ownDir: string | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly opts: TornetOptions,
    readonly deadline: number,
  ) {}

  pids(): number[] {
    return this.nodes.flatMap((n) => n.child ? [n.child.pid] : []);
  }

  async start(): Promise<
    { clients: TornetClient[]; bridge: TornetBridge | undefined; relayPorts: number[] }
  > {
    track(this);
    const t0 = performance.now();
    const log = (m: string) => this.opts.log?.(`${m} (+${Math.round(performance.now() - t0)} ms)`);
    await Deno.mkdir(this.dir, { recursive: true });
    const resolv = join(this.dir, "resolv.conf");
    await Deno.writeTextFile(resolv, "nameserver 127.0.0.1\n");
    await Deno.writeTextFile(join(this.dir, "torrc-defaults"), "");
    const ports = freePorts(AUTHORITIES * 2 + RELAYS + 2);
    const node = (name: string, role: Role, orPort = 0, dirPort = 0): TorNode => {
      const dataDir = join(this.dir, name);
      const logPath = join(dataDir, "tor.log");
      const earlyLogPath = join(dataDir, "stdout.log");
      const n = { name, role, dataDir, logPath, earlyLogPath, orPort, dirPort };
      this.nodes.push(n);
      return n;
    };
    const auths = Array.from(
      { length: AUTHORITIES },
      (_, i) => node(`auth${i}`, "authority", ports[2 * i]!, ports[2 * i + 1]!),
    );
    const relays = Array.from(
      { length: RELAYS },
      (_, i) => node(`relay${i}`, "relay", ports[AUTHORITIES * 2 + i]!),
    );
    const tools = {
      tor: this.opts.torPath ?? "tor",
      gencert: this.opts.gencertPath ?? "tor-gencert",
    };
    const dirLines = await settleAll(
      auths.map((a) => authorityLine({ ...a, ...tools, deadline: this.deadline })),
    );
    log(`tornet: authority keys ready in ${this.dir}`);
    const common = commonTorrc(resolv, dirLines);
    for (const n of [...auths, ...relays]) await this.#spawn(n, common);
    await this.#waitConsensus(auths, auths.length + relays.length);
    log("tornet: consensus with all microdescriptors served by every authority");
    const clients = Array.from(
      { length: this.opts.clients },
      (_, i) => node(`client${i}`, "client"),
    );
    for (const n of clients) await this.#spawn(n, common);
    let bridge: TorNode | undefined;
    if (this.opts.bridge) {
      bridge = node("bridge", "bridge", ports.at(-2)!);
      bridge.obfs4Port = ports.at(-1)!;
      await this.#spawn(bridge, common);
    }
    const [ready, bridgeReady] = await Promise.all([
      settleAll(clients.map((c) => this.#waitClient(c))),
      bridge ? this.#waitBridge(bridge) : undefined,
    ]);
    const relayPorts = [...auths, ...relays].flatMap((n) => [n.orPort, n.dirPort])
      .filter((p) => p !== 0);
    return { clients: ready, bridge: bridgeReady, relayPorts };
  }

  /** Waits until the bridge has written its line and bootstrapped (it extends our circuits). */
  async #waitBridge(b: TorNode): Promise<TornetBridge> {
    for (;;) {
      const line = await readBridgeLine(b.dataDir, b.obfs4Port!);
      const log = await Deno.readTextFile(b.logPath).catch(() => "");
      if (line !== undefined && log.includes("Bootstrapped 100%")) {
        return {
          line,
          obfs4Port: b.obfs4Port!,
          orPort: b.orPort,
          pid: b.child!.pid,
          dataDir: b.dataDir,
        };
      }
      await this.#tick(b, line === undefined ? "waiting for its bridge line" : "bootstrapping");
    }
  }

  async #spawn(n: TorNode, common: string[]): Promise<void> {
    await Deno.mkdir(n.dataDir, { recursive: true, mode: 0o700 });
    const lines = [
      ...common,
      `Nickname ${n.name}`,
      `DataDirectory ${n.dataDir}`,
      `Log notice file ${n.logPath}`,
    ];
    const extra = n.role === "bridge" ? [] : this.opts.torrcExtra?.[n.role] ?? [];
    let obfs4Program: string | undefined;
    if (n.role === "bridge") {
      obfs4Program = await findProgram(["obfs4proxy", "lyrebird"]);
      if (obfs4Program === undefined) {
        throw new TornetError(
          "tornet_no_obfs4",
          "The bridge needs obfs4proxy or lyrebird: sudo apt install obfs4proxy",
          n.name,
        );
      }
    }
    lines.push(...roleTorrc({
      role: n.role,
      dataDir: n.dataDir,
      orPort: n.orPort,
      dirPort: n.dirPort,
      ...(n.obfs4Port !== undefined ? { obfs4Port: n.obfs4Port } : {}),
      ...(obfs4Program !== undefined ? { obfs4Program } : {}),
    }));
    const torrc = join(n.dataDir, "torrc");
    await Deno.writeTextFile(torrc, [...lines, ...extra, ""].join("\n"));
    // stdout only carries what tor says before it reads the torrc
    const out = await Deno.open(n.earlyLogPath, { create: true, append: true });
    const err = await Deno.open(n.earlyLogPath, { create: true, append: true });
    const child = new Deno.Command(this.opts.torPath ?? "tor", {
      args: ["--defaults-torrc", join(this.dir, "torrc-defaults"), "-f", torrc],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    n.child = child;
    const status = child.status.then((s) => (n.exited = s));
    n.done = Promise.all([
      status,
      child.stdout.pipeTo(out.writable).catch(() => {}),
      child.stderr.pipeTo(err.writable).catch(() => {}),
    ]);
  }

  /** Waits until every authority serves a full consensus and microdescriptors. */
  async #waitConsensus(auths: TorNode[], routers: number): Promise<void> {
    const pending = new Set(auths);
    let why = "";
    while (pending.size > 0) {
      for (const a of pending) {
        why = await consensusGap(a.dirPort, routers);
        if (why === "") pending.delete(a);
      }
      if (pending.size > 0) {
        const a = [...pending][0]!;
        await this.#tick(a, `waiting for the consensus of ${a.name} (${why})`);
      }
    }
  }

  async #waitClient(c: TorNode): Promise<TornetClient> {
    const portFile = join(c.dataDir, "control_port");
    let controlPort = 0;
    while (controlPort === 0) {
      const text = await Deno.readTextFile(portFile).catch(() => "");
      controlPort = Number(/PORT=127\.0\.0\.1:(\d+)/.exec(text)?.[1] ?? 0);
      if (controlPort === 0) await this.#tick(c, "waiting for its control port");
    }
    const cookiePath = join(c.dataDir, "control_auth_cookie");
    let control: TorControl | undefined;
    try {
      control = await TorControl.connect({ port: controlPort, timeoutMs: CONTROL_TIMEOUT_MS });
      await control.authenticate({ cookieFile: cookiePath });
      for (;;) {
        const phase = (await control.getInfo("status/bootstrap-phase")).get(
          "status/bootstrap-phase",
        ) ?? "";
        const progress = Number(/PROGRESS=(\d+)/.exec(phase)?.[1] ?? 0);
        if (progress >= 100) break;
        await this.#tick(c, `waiting for bootstrap (${progress}%)`);
      }
      const socksPort = await readSocksPort(control);
      if (socksPort === undefined) {
        throw new TornetError("tornet_socks", `Cannot find the SOCKS port of ${c.name}`, c.name);
      }
      return { controlPort, socksPort, cookiePath, dataDir: c.dataDir, pid: c.child!.pid };
    } catch (e) {
      if (!(e instanceof TorError)) throw e;
      throw new TornetError("tornet_control", `Control port of ${c.name}: ${e.message}`, c.name, {
        cause: e,
      });
    } finally {
      await control?.close();
    }
  }

  /** One poll interval; fails if a node died or the deadline passed. */
  async #tick(waitingOn: TorNode, what: string): Promise<void> {
    for (const n of this.nodes) {
      if (n.exited !== undefined) {
        throw new TornetError(
          "tornet_node_exited",
          `Tor node ${n.name} exited with code ${n.exited.code} while starting; ` +
            `log tail:\n${await logTail(n)}`,
          n.name,
        );
      }
    }
    if (performance.now() > this.deadline) {
      throw new TornetError(
        "tornet_timeout",
        `Tornet did not start in time: ${waitingOn.name} was ${what}; ` +
          `log tail:\n${await logTail(waitingOn)}`,
        waitingOn.name,
      );
    }
    await delay(POLL_MS);
  }

  /** Whether a node failed because a port picked as free was taken. */
  async portClash(): Promise<boolean> {
    for (const n of this.nodes) {
      if (/address already in use/i.test(await logTail(n))) return true;
    }
    return false;
  }

  /** SIGTERM every live child by PID, then SIGKILL, and wait for the exits. */
  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      const live = () => this.nodes.filter((n) => n.child && n.exited === undefined);
      for (const n of live()) signal(n.child!, "SIGTERM");
      await waitAll(live(), TERM_GRACE_MS);
      for (const n of live()) signal(n.child!, "SIGKILL");
      await waitAll(live(), KILL_WAIT_MS);
      await Promise.all(this.nodes.map((n) => n.done));
      untrack(this);
    })();
  }

  /** Last resort on unload: no awaiting possible, so SIGKILL by PID. */
  killSync(): void {
    for (const n of this.nodes) if (n.child && n.exited === undefined) signal(n.child, "SIGKILL");
    if (this.ownDir === undefined) return;
    try {
      Deno.removeSync(this.ownDir, { recursive: true });
    } catch {
      // a tor may still be writing: __OwningControllerProcess ends it
    }
  }
}

/** Like Promise.all, but waits for every promise (no work left running). */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Networks of this process that are not yet stopped. */
const live = new Set<Network>();

/** On Ctrl-C: tear every live network down, then exit as SIGINT would. */
function onSigint(): void {
  const all = [...live].map((n) => (n.onFatal ?? (() => n.stop()))());
  Promise.allSettled(all).finally(() => Deno.exit(130));
}

/** On exit without stop(): kill by PID synchronously. */
function onUnload(): void {
  for (const n of live) n.killSync();
}

function track(net: Network): void {
  if (live.size === 0) {
    globalThis.addEventListener("unload", onUnload);
    Deno.addSignalListener("SIGINT", onSigint);
  }
  live.add(net);
}

function untrack(net: Network): void {
  if (!live.delete(net) || live.size > 0) return;
  globalThis.removeEventListener("unload", onUnload);
  Deno.removeSignalListener("SIGINT", onSigint);
}

async function waitAll(nodes: TorNode[], ms: number): Promise<void> {
  await bounded(Promise.all(nodes.map((n) => n.child!.status)), ms);
}

async function logTail(n: TorNode): Promise<string> {
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  const text = (await read(n.earlyLogPath)) + (await read(n.logPath)) || "(no log)";
  return text.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { clients: { type: "string", default: "2" }, bridge: { type: "boolean" } },
  });
  const net = await startTornet({
    clients: Number(values.clients),
    bridge: values.bridge === true,
    log: console.error,
  });
  const { dir, startMs, clients, bridge } = net;
  console.log(JSON.stringify({ dir, startMs, clients, bridge }, null, 2));
  console.error("tornet: running; press Ctrl-C to stop");
  const stopAndExit = () => net.stop().finally(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stopAndExit);
}
