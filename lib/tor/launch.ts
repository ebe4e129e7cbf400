/**
 * Starting and stopping our own tor, or attaching to a running one. The
 * launcher owns the child process and its torrc: it writes the torrc into a
 * private (0700) data directory, runs tor in the foreground as a child, finds
 * the control port from `ControlPortWriteToFile`, authenticates with the
 * cookie, takes ownership (control-spec §3.23: tor exits when our control
 * connection closes, and `__OwningControllerProcess` makes it exit when our
 * process dies), and follows bootstrap. Every wait is bounded; a failure
 * after the spawn kills the child before the error is thrown.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { join } from "node:path";
import { concatBytes } from "../crypto/bytes.ts";
import { bounded, deadline, delay } from "../deadline.ts";
import { type BootstrapStatus, waitForBootstrap, watchBootstrap } from "./bootstrap.ts";
import { TorControl } from "./control.ts";
import { parseArgs } from "./control_parse.ts";
import { TorError } from "./errors.ts";
import { findTor } from "./find_tor.ts";

export { findTor, TOR_INSTALL_HINT } from "./find_tor.ts";

/** Default bound on the whole launch: start, authenticate and bootstrap. */
export const LAUNCH_TIMEOUT_MS = 180_000;
/** How often to look for the control port file. */
const PORT_FILE_POLL_MS = 50;
/** Time tor gets to exit after SIGNAL SHUTDOWN before we kill it. */
export const STOP_GRACE_MS = 5_000;
/** Time SIGNAL SHUTDOWN may take on the control port. */
const SHUTDOWN_COMMAND_TIMEOUT_MS = 2_000;
/** Default SocksPort flags (see {@linkcode LaunchOptions.socksFlags}). */
export const DEFAULT_SOCKS_FLAGS: readonly string[] = ["ExtendedErrors"];
/** Bytes of tor's output and log kept for error messages. */
const OUTPUT_TAIL_BYTES = 4096;

/** How a tor process ended. */
export interface TorExit {
  /** The exit code (meaningful when `signal` is null). */
  code: number;
  /** The signal that ended it, if one did. */
  signal: Deno.Signal | null;
}

/** Options of {@linkcode launchTor}. */
export interface LaunchOptions {
  /** Private directory for torrc, state, cookie and log (created 0700). */
  dataDir: string;
  /** Tor executable; default: found on PATH (see `findTor`). */
  torPath?: string;
  /** Extra torrc lines, e.g. ["DisableNetwork 1"]. */
  extraTorrc?: string[];
  /** SOCKS port on 127.0.0.1; default "auto" (tor picks a free one). */
  socksPort?: number | "auto";
  /**
   * SocksPort flags; default ["ExtendedErrors"], so onion failures come back
   * as the SOCKS codes 0xF0..0xF7 (tor-manual SocksPort). Pass [] for none.
   */
  socksFlags?: string[];
  /** Called with each bootstrap phase (also after return when not waiting). */
  onProgress?: (status: BootstrapStatus) => void;
  /**
   * Called once the control connection is authenticated and owns tor, before
   * bootstrap is awaited (e.g. to follow tor's log while it bootstraps).
   */
  onControl?: (control: TorControl) => void | Promise<void>;
  /** Bound on the whole launch; default {@linkcode LAUNCH_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Wait for 100% bootstrap before resolving; default true. */
  waitForBootstrap?: boolean;
}

/** A tor we launched and own. */
export interface TorProcess {
  /** Authenticated control connection that owns tor. */
  readonly control: TorControl;
  /** SOCKS port, or undefined while tor has no SOCKS listener (DisableNetwork 1). */
  readonly socksPort: number | undefined;
  /** Its control port on 127.0.0.1. */
  readonly controlPort: number;
  /** Its process ID. */
  readonly pid: number;
  /** Its data directory. */
  readonly dataDir: string;
  /** Resolves when the tor process has exited, for whatever reason. */
  readonly exited: Promise<TorExit>;
  /** SIGNAL SHUTDOWN, close control, kill by PID if tor lingers; idempotent. */
  stop(): Promise<TorExit>;
  /** The last lines of tor's log file and output, for diagnostics. */
  logTail(): Promise<string>;
}

/** Launches tor; see the module header. */
export async function launchTor(options: LaunchOptions): Promise<TorProcess> {
  const deadline = Date.now() + (options.timeoutMs ?? LAUNCH_TIMEOUT_MS);
  const torPath = await findTor(options.torPath);
  const dataDir = options.dataDir;
  const paths = {
    torrc: join(dataDir, "torrc"),
    defaults: join(dataDir, "torrc-defaults"),
    portFile: join(dataDir, "control-port"),
    cookie: join(dataDir, "control_auth_cookie"),
    log: join(dataDir, "tor.log"),
  };
  const torrc = torrcText(paths, dataDir, options);
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    // Tor refuses a DataDirectory that others can read; so do we.
    if (Deno.build.os !== "windows") await Deno.chmod(dataDir, 0o700);
    // A stale port file or log from an earlier run would mislead us.
    for (const stale of [paths.portFile, paths.log]) await Deno.remove(stale).catch(() => {});
    await Deno.writeTextFile(paths.defaults, "");
    await Deno.writeTextFile(paths.torrc, torrc, { mode: 0o600 });
  } catch (e) {
    throw new TorError("data_dir_unusable", `Cannot prepare tor's data directory ${dataDir}`, {
      cause: e,
    });
  }

  const output = new TailBuffer(OUTPUT_TAIL_BYTES);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(torPath, {
      args: ["-f", paths.torrc, "--defaults-torrc", paths.defaults],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new TorError("tor_exited", `Cannot start tor at ${torPath}`, { cause: e });
  }
  const drained = Promise.all([drain(child.stdout, output), drain(child.stderr, output)]);
  const exited: Promise<TorExit> = child.status.then(async (s) => {
    await drained;
    return { code: s.code, signal: s.signal };
  });
  const logTail = async () => `${await readTail(paths.log, OUTPUT_TAIL_BYTES)}${output.text()}`;

  let control: TorControl | undefined;
  try {
    const controlPort = await waitForPortFile(paths.portFile, exited, deadline, logTail);
    const started = async (): Promise<TorControl> => {
      const c = await TorControl.connect({
        port: controlPort,
        connectTimeoutMs: remaining(deadline),
      });
      control = c;
      await c.authenticate({ cookieFile: paths.cookie });
      await c.takeOwnership();
      await options.onControl?.(c);
      if (options.waitForBootstrap === false) {
        await watchBootstrap(c, options.onProgress);
      } else {
        await waitForBootstrap(c, {
          timeoutMs: remaining(deadline),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
      }
      return c;
    };
    const ready = await raceExit(started(), exited, logTail);
    const socksPort = await readSocksPort(ready) ??
      (typeof options.socksPort === "number" ? options.socksPort : undefined);
    let stopping: Promise<TorExit> | undefined;
    return {
      control: ready,
      socksPort,
      controlPort,
      pid: child.pid,
      dataDir,
      exited,
      stop: () => stopping ??= stopTor(ready, child, exited),
      logTail,
    };
  } catch (e) {
    if (control) await control.close();
    killQuietly(child);
    await exited;
    throw e;
  }
}

/** Options of {@linkcode attachTor}. */
export interface AttachOptions {
  /** The running tor's control port. */
  controlPort: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Known SOCKS port; otherwise read from GETINFO net/listeners/socks. */
  socksPort?: number;
  /** The control port password (HASHEDPASSWORD). */
  password?: string;
  /** The cookie itself (SAFECOOKIE or COOKIE). */
  cookie?: Uint8Array;
  /** The cookie file (default: the one tor names). */
  cookieFile?: string;
  /** Per-command timeout of the control connection. */
  timeoutMs?: number;
}

/** A tor we attached to: we never stop it, only close our connection. */
export interface AttachedTor {
  /** The authenticated control connection (we do not own tor). */
  readonly control: TorControl;
  /** Its SOCKS port, if it has one. */
  readonly socksPort: number | undefined;
  /** Closes our control connection; tor keeps running. */
  close(): Promise<void>;
}

/** Connects and authenticates to an already running tor (no ownership). */
export async function attachTor(options: AttachOptions): Promise<AttachedTor> {
  const control = await TorControl.connect({
    port: options.controlPort,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  try {
    await control.authenticate({
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
      ...(options.cookieFile === undefined ? {} : { cookieFile: options.cookieFile }),
    });
    const socksPort = options.socksPort ?? await readSocksPort(control);
    return { control, socksPort, close: () => control.close() };
  } catch (e) {
    await control.close();
    throw e;
  }
}

/** The first SOCKS listener's port from `GETINFO net/listeners/socks`. */
export async function readSocksPort(control: TorControl): Promise<number | undefined> {
  const key = "net/listeners/socks";
  const value = (await control.getInfo(key)).get(key) ?? "";
  for (const listener of parseArgs(value).positional) {
    const m = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(listener);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function torrcText(
  paths: { portFile: string; cookie: string; log: string },
  dataDir: string,
  options: LaunchOptions,
): string {
  const socks = options.socksPort ?? "auto";
  if (socks !== "auto" && !isPort(socks)) {
    throw new TorError("invalid_argument", `SOCKS port ${socks} is not 1..65535`);
  }
  const flags = options.socksFlags ?? DEFAULT_SOCKS_FLAGS;
  if (flags.some((f) => !/^[A-Za-z0-9=]+$/.test(f))) {
    throw new TorError("invalid_argument", "SocksPort flags are words");
  }
  const lines = [
    `DataDirectory ${torrcQuote(dataDir)}`,
    "ControlPort auto",
    `ControlPortWriteToFile ${torrcQuote(paths.portFile)}`,
    "CookieAuthentication 1",
    `CookieAuthFile ${torrcQuote(paths.cookie)}`,
    ["SocksPort", socks === "auto" ? "auto" : `127.0.0.1:${socks}`, ...flags].join(" "),
    // Tor exits when this process dies, even if the control connection lingers.
    `__OwningControllerProcess ${Deno.pid}`,
    `Log ${torrcQuote(`notice file ${paths.log}`)}`,
  ];
  for (const line of options.extraTorrc ?? []) {
    if (/[\r\n\0]/.test(line)) {
      throw new TorError("invalid_argument", "A torrc line contains a line break");
    }
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}

/** A torrc value in quotes: tor unescapes `\\` and `\"` in quoted values. */
function torrcQuote(value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new TorError("invalid_argument", "A torrc path contains a line break");
  }
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

async function waitForPortFile(
  path: string,
  exited: Promise<TorExit>,
  deadline: number,
  logTail: () => Promise<string>,
): Promise<number> {
  let exit: TorExit | undefined;
  exited.then((e) => exit = e);
  for (;;) {
    const text = await Deno.readTextFile(path).catch(() => "");
    // ControlPortWriteToFile holds `PORT=127.0.0.1:<n>`.
    const m = /^PORT=127\.0\.0\.1:(\d{1,5})\s*$/m.exec(text);
    if (m) return Number(m[1]);
    if (exit) throw await exitError(exit, "before opening its control port", logTail);
    if (Date.now() >= deadline) {
      throw new TorError("launch_timeout", "Tor did not open its control port in time");
    }
    await delay(PORT_FILE_POLL_MS);
  }
}

/** Time to wait for tor's exit status after the control connection failed. */
const EXIT_SETTLE_MS = 1_000;

/** Runs `work`; if tor exits meanwhile, fails with `tor_exited` and its log. */
async function raceExit<T>(
  work: Promise<T>,
  exited: Promise<TorExit>,
  logTail: () => Promise<string>,
): Promise<T> {
  try {
    return await work;
  } catch (e) {
    // A dead tor also closes the control connection; name the real cause.
    const exit = await deadline(exited, EXIT_SETTLE_MS, () => undefined);
    if (exit) throw await exitError(exit, "while starting", logTail);
    throw e;
  }
}

async function exitError(
  exit: TorExit,
  when: string,
  logTail: () => Promise<string>,
): Promise<TorError> {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
  const tail = (await logTail()).trim().split("\n").slice(-8).join("\n");
  return new TorError("tor_exited", `Tor exited with ${how} ${when}:\n${tail}`);
}

async function stopTor(
  control: TorControl,
  child: Deno.ChildProcess,
  exited: Promise<TorExit>,
): Promise<TorExit> {
  let done = false;
  exited.then(() => done = true);
  if (!control.isClosed) {
    await control.request("SIGNAL SHUTDOWN", { timeoutMs: SHUTDOWN_COMMAND_TIMEOUT_MS })
      .catch(() => {});
  }
  await control.close();
  await bounded(exited, STOP_GRACE_MS);
  if (!done) killQuietly(child);
  return await exited;
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
}

/** Keeps the last `max` bytes pushed (tor's stdout and stderr). */
class TailBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  constructor(readonly max: number) {}
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk.slice());
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0]!.length >= this.max) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }
  text(): string {
    const all = concatBytes(...this.#chunks);
    return new TextDecoder().decode(all.subarray(Math.max(0, all.length - this.max)));
  }
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

async function drain(stream: ReadableStream<Uint8Array>, tail: TailBuffer): Promise<void> {
  try {
    for await (const chunk of stream) tail.push(chunk);
  } catch {
    // The pipe broke because tor died; its exit status tells the rest.
  }
}

async function readTail(path: string, bytes: number): Promise<string> {
  try {
    using file = await Deno.open(path, { read: true });
    const size = (await file.stat()).size;
    await file.seek(Math.max(0, size - bytes), Deno.SeekMode.Start);
    const buf = new Uint8Array(Math.min(size, bytes));
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return new TextDecoder().decode(buf.subarray(0, off));
  } catch {
    return "";
  }
}
