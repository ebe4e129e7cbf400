/**
 * unMessage: a serverless, peer-to-peer instant messenger over Tor onion
 * services. Entry point: parses flags, picks the peer and the interface
 * (the last ones used when none is given), starts the peer and runs the
 * interface until it quits. Exit status: 0 done, 1 failure, 2 usage mistake,
 * 130 when the terminal's start was interrupted (Ctrl-C; `ui/interactive.ts`).
 *
 * Compile-friendly: only static imports, nothing read from the source tree.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { CliUsageError, parseCli, PASSPHRASE_ENV, usageText } from "./lib/app/cli_args.ts";
import type { CliOptions } from "./lib/app/cli_args.ts";
import { CONTROL_PASSWORD_ENV, resolveControlPassword } from "./lib/app/control_password.ts";
import { CMDLINE_PROXY_WARNING, networkChange, readTorrcExtra } from "./lib/app/network_flags.ts";
import { errorMessage, isUnmessageError } from "./lib/errors.ts";
import type { EventSink } from "./lib/peer/types.ts";
import {
  type RunningPeer,
  startPeer,
  type StoredPeer,
  storedPeer,
  type TorMode,
} from "./lib/runtime.ts";
import {
  type InterfaceName,
  listPeers,
  loadAppConfig,
  saveAppConfig,
} from "./lib/store/app_config.ts";
import { resolveConfigRoot, validatePeerName } from "./lib/store/paths.ts";
import { jsonEventSink, LineWriter, runJsonInterface } from "./lib/ui/json.ts";
import { runInteractive } from "./lib/ui/interactive.ts";
import { END_FLUSH_TIMEOUT_MS } from "./lib/ui/repl.ts";
import { bounded } from "./lib/deadline.ts";
import { sanitizeLines } from "./lib/ui/render.ts";
import { MAX_LISTED_PEERS } from "./lib/gui/app.ts";
import { runGui } from "./lib/gui/run.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** What a compiled build knows of itself (`scripts/compile.ts` writes it into the entry). */
export interface BuildInfo {
  /** The git commit it was built from (`-dirty` appended for uncommitted changes). */
  commit?: string;
}

/** The `--version` line: the version, and the commit in a compiled build. */
export function versionText(build: BuildInfo = {}): string {
  return `unmessage ${VERSION}${build.commit ? ` (commit ${build.commit})` : ""}\n`;
}

export { PASSPHRASE_ENV };

/** Exit statuses. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const encoder = new TextEncoder();

async function writeAll(file: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}

async function torMode(o: CliOptions, warn: (m: string) => void): Promise<TorMode> {
  if (o.direct !== undefined) return { mode: "direct", registryDir: o.direct };
  if (o.controlPort !== undefined) {
    const { password, warnings } = await resolveControlPassword({
      flag: o.controlPassword,
      file: o.controlPasswordFile,
      env: Deno.env.get(CONTROL_PASSWORD_ENV),
    });
    for (const w of warnings) warn(w);
    return {
      mode: "attach",
      controlPort: o.controlPort,
      ...(o.socksPort !== undefined ? { socksPort: o.socksPort } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  }
  const extra = o.torrcExtra === undefined ? undefined : await readTorrcExtra(o.torrcExtra);
  const network = await networkChange(o);
  if (o.proxy !== undefined && /\/\/[^@/]*:[^@/]*@/.test(o.proxy)) warn(CMDLINE_PROXY_WARNING);
  return {
    mode: "launch",
    ...(o.torPath !== undefined ? { torPath: o.torPath } : {}),
    ...(extra !== undefined ? { extraTorrc: extra } : {}),
    network,
  };
}

/** The passphrase from the environment; an empty one counts as none. */
function envPassphrase(): string | undefined {
  return Deno.env.get(PASSPHRASE_ENV) || undefined;
}

/**
 * Why `--encrypt` cannot be honoured, or undefined: it only applies when the
 * peer is created (converting a plain peer is not supported yet), and the
 * machine interface cannot ask, so it needs the environment variable.
 */
function encryptMistake(o: CliOptions, name: string, stored: StoredPeer): string | undefined {
  if (!o.encrypt) return undefined;
  if (stored === "plain") {
    return `--encrypt only applies when a peer is created: ${name} exists without a passphrase, ` +
      "and converting an existing peer is not supported yet";
  }
  if (stored === "missing" && o.json && envPassphrase() === undefined) {
    return `--encrypt with --json reads the new passphrase from $${PASSPHRASE_ENV}, which is not set`;
  }
  return undefined;
}

/** Starts peer `name` as the flags say (tor mode, port), with `passphrase` if given. */
async function startFor(
  o: CliOptions,
  root: string,
  name: string,
  events: EventSink,
  passphrase: string | undefined,
): Promise<RunningPeer> {
  const warn = (message: string) => events({ event: "warning", code: "insecure_option", message });
  return await startPeer({
    name,
    configRoot: root,
    tor: await torMode(o, warn),
    events,
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
  });
}

/** Runs the machine interface for `name` until quit or end of input. */
async function runJson(o: CliOptions, root: string, name: string): Promise<number> {
  const writer = new LineWriter((bytes) => writeAll(Deno.stdout, bytes));
  const events = jsonEventSink(writer);
  // Diagnostics may quote tor or a contact: no escape reaches the terminal.
  const log = (m: string) => console.error(sanitizeLines(m));
  let running: RunningPeer;
  try {
    running = await startFor(o, root, name, events, envPassphrase());
  } catch (e) {
    const code = isUnmessageError(e) ? e.code : "start_failed";
    const why = code === "passphrase_required"
      ? `it is encrypted: set $${PASSPHRASE_ENV} to its passphrase`
      : errorMessage(e);
    await writer.send({ event: "error", code, message: `Cannot start ${name}: ${why}` });
    log(`unmessage: cannot start ${name}: ${why}`);
    return EXIT_FAILURE;
  }
  await remember(
    root,
    "json",
    name,
    (m) => events({ event: "warning", code: "config", message: m }),
  );
  const stop = async () => {
    await running.stop();
    // A consumer that stopped reading must not keep a SIGTERM from ending us.
    await bounded(writer.flush(), END_FLUSH_TIMEOUT_MS);
    Deno.exit(EXIT_OK);
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, () => void stop());
  await runJsonInterface({ input: Deno.stdin.readable, writer, peer: running.peer, log });
  await running.stop();
  await writer.flush();
  return EXIT_OK;
}

async function remember(root: string, ui: InterfaceName, name: string, warn: (m: string) => void) {
  try {
    await saveAppConfig(root, { lastInterface: ui, lastPeer: name });
  } catch (e) {
    warn(`Cannot remember the last peer used: ${errorMessage(e)}`);
  }
}

/** Runs the graphical interface, starting `name` at once if given. */
async function runGuiFor(o: CliOptions, root: string, name: string | undefined): Promise<number> {
  const passphrase = envPassphrase();
  return await runGui({
    ...(name !== undefined ? { name } : {}),
    encrypt: o.encrypt,
    ...(passphrase !== undefined ? { envPassphrase: passphrase } : {}),
    openBrowser: !o.noBrowser,
    stored: (peer) => storedPeer(root, peer),
    peers: async () => (await listPeers(root)).slice(0, MAX_LISTED_PEERS),
    start: (peer, events, secret) => startFor(o, root, peer, events, secret),
    remember: (peer) => saveAppConfig(root, { lastInterface: "gui", lastPeer: peer }),
    say: (line) => writeAll(Deno.stdout, encoder.encode(`${line}\n`)),
    log: (m) => console.error(`unmessage: ${sanitizeLines(m)}`),
  });
}

/** Parses `argv` and runs; resolves with the exit status. */
export async function main(argv: readonly string[], build: BuildInfo = {}): Promise<number> {
  let o: CliOptions;
  try {
    o = parseCli(argv);
  } catch (e) {
    if (!(e instanceof CliUsageError)) throw e;
    await writeAll(Deno.stderr, encoder.encode(`unmessage: ${e.message}\n\n${usageText(VERSION)}`));
    return EXIT_USAGE;
  }
  if (o.help) {
    await writeAll(Deno.stdout, encoder.encode(usageText(VERSION)));
    return EXIT_OK;
  }
  if (o.version) {
    await writeAll(Deno.stdout, encoder.encode(versionText(build)));
    return EXIT_OK;
  }
  let root: string;
  let name: string | undefined;
  let ui: InterfaceName;
  try {
    root = resolveConfigRoot({ configDir: o.configDir });
    const last = o.name === undefined ? await loadAppConfig(root) : {};
    // `unmessage` alone relaunches the last interface; --json and --gui always mean theirs.
    ui = o.json
      ? "json"
      : o.gui
      ? "gui"
      : o.name === undefined
      ? last.lastInterface ?? "cli"
      : "cli";
    // `--gui` without a name lists the peers; a bare relaunch reopens the last one.
    const chosen = o.name ?? (o.gui ? undefined : last.lastPeer);
    if (chosen === undefined && ui !== "gui") {
      throw new CliUsageError("No peer was used before: start one with --name <name>");
    }
    name = chosen === undefined ? undefined : validatePeerName(chosen);
  } catch (e) {
    const usage = e instanceof CliUsageError || isUnmessageError(e, "bad_name");
    await writeAll(Deno.stderr, encoder.encode(`unmessage: ${errorMessage(e)}\n`));
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
  const stored = name === undefined ? "missing" : await storedPeer(root, name);
  const mistake = name === undefined ? undefined : encryptMistake(o, name, stored);
  if (mistake !== undefined) {
    await writeAll(Deno.stderr, encoder.encode(`unmessage: ${mistake}\n`));
    return EXIT_USAGE;
  }
  if (ui === "gui") return await runGuiFor(o, root, name);
  if (name === undefined) return EXIT_USAGE; // unreachable: only the GUI starts without a name
  if (ui === "json") return await runJson(o, root, name);
  await remember(root, "cli", name, (m) => console.error(`unmessage: ${m}`));
  const passphrase = envPassphrase();
  return await runInteractive({
    name,
    configRoot: root,
    ...(passphrase !== undefined ? { passphrase } : {}),
    newPassphrase: o.encrypt && stored === "missing",
    start: (events, secret) => startFor(o, root, name, events, secret),
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
