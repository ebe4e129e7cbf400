/**
 * The command line of `unmessage`: flags parsed with `node:util` parseArgs
 * (strict: an unknown or malformed flag is a {@linkcode CliUsageError}, told
 * from parseArgs' error codes), unMessage 0.1's single-dash spelling
 * (`unmessage-cli -name <name>`) accepted, and the result checked into a
 * {@linkcode CliOptions}. Pure: no I/O, so every
 * mistake is testable in-process; `main.ts` prints and exits.
 *
 * @module
 */

import { isPort, MAX_PORT, MIN_PORT } from "../ports.ts";
import { parseArgs } from "node:util";
import { errorMessage, UnmessageError } from "../errors.ts";
import { closestName } from "../edit_distance.ts";
import { contentLines } from "../lines.ts";
import { type BuiltinBridges, isBuiltinBridges, parseBridgeLine } from "../tor/bridges.ts";
import { parseProxy } from "../tor/proxy.ts";

/** Usage text shown by `--help` and after a flag mistake. */
export function usageText(version: string): string {
  return `unMessage ${version}: private, serverless instant messaging over Tor onion services

Usage:
  unmessage --name <name> [--json]   start (or create) the peer <name>
  unmessage --name <name> --encrypt  create the peer <name> with a passphrase
  unmessage --gui [--name <name>]    graphical interface in the browser
  unmessage [--json]                 relaunch the last interface and peer used
  unmessage --help | --version

Options:
  --name, -name <name>      peer name (letters, digits, _ or -; up to 32)
  --json                    machine interface: JSON lines on stdin/stdout
  --gui                     graphical interface: a local web page (127.0.0.1)
                            opened in the default browser; without --name it
                            lists the peers and creates new ones
  --no-browser              with the GUI, print its address instead of
                            opening a browser
  --encrypt                 when creating the peer, encrypt its files with a
                            passphrase (asked twice; with --json, read from
                            $UNMESSAGE_PASSPHRASE)
  --config-dir <dir>        configuration folder (default ~/.config/unMessage,
                            or $UNMESSAGE_HOME)
  --port <n>                onion service virtual port (default 50001)
  --tor-path <path>         tor executable to launch (default: found on PATH)
  --torrc-extra <file>      extra torrc lines for the launched tor
  --bridges obfs4|snowflake use the built-in bridges (may be stale; repeatable)
  --bridge "<line>"         use this bridge line (repeatable)
  --bridges-file <file>     use the bridge lines of this file, one per line
  --no-bridges              stop using the bridges kept for this peer
  --proxy <url>             reach Tor through socks5://host:port,
                            socks4://host:port or https://host:port
                            (user:password@host:port if it needs one)
  --no-proxy                stop using the proxy kept for this peer
                            (bridges and proxy are kept per peer: a later
                            start without these flags uses them again)
  --control-port <n>        attach to a running tor's control port instead
  --socks-port <n>          ... and use its SOCKS port
  --control-password-file <file>
                            ... authenticating with the password in this file
                            (or $UNMESSAGE_CONTROL_PASSWORD; cookie otherwise)
  --control-password <p>    ... with this password (visible to local users:
                            prefer the file or the variable)
  -h, --help                show this help
  -V, --version             show the version

An encrypted peer asks for its passphrase when it starts, unless
$UNMESSAGE_PASSPHRASE is set (required with --json or piped input).
`;
}

/** Environment variable holding an encrypted peer's passphrase. */
export const PASSPHRASE_ENV = "UNMESSAGE_PASSPHRASE";

/** A mistake on the command line (exit status 2). */
export class CliUsageError extends UnmessageError {
  /** A usage mistake (code `usage`) saying `message`. */
  constructor(message: string) {
    super("usage", message);
  }
}

/** What the command line asks for. */
export interface CliOptions {
  /** `--help`: print the usage and exit. */
  help: boolean;
  /** `--version`: print the version and exit. */
  version: boolean;
  /** `--name`: the peer to start (default: the last one used). */
  name?: string;
  /** `--json`: the machine interface on stdin/stdout. */
  json: boolean;
  /** The graphical interface (`--gui`). */
  gui: boolean;
  /** With the GUI: print its address instead of opening a browser. */
  noBrowser: boolean;
  /** Create the peer encrypted with a passphrase (no effect on an existing one). */
  encrypt: boolean;
  /** `--config-dir`: where the peers live (default `~/.config/unMessage`). */
  configDir?: string;
  /** `--port`: the onion service's virtual port. */
  port?: number;
  /** `--tor-path`: the tor program to launch. */
  torPath?: string;
  /** `--torrc-extra`: a file of torrc lines added to the launched tor's. */
  torrcExtra?: string;
  /** `--control-port`: attach to the tor of this control port instead of launching one. */
  controlPort?: number;
  /** `--socks-port`: the attached tor's SOCKS port. */
  socksPort?: number;
  /** `--control-password`: the attached tor's control password (visible in `ps`). */
  controlPassword?: string;
  /** File holding the control port password (first line). */
  controlPasswordFile?: string;
  /** Testing only: no tor, contacts found through port files in this folder. */
  direct?: string;
  /** Built-in bridge sets (`--bridges`). */
  builtinBridges?: BuiltinBridges[];
  /** Bridge lines (`--bridge`), checked. */
  bridgeLines?: string[];
  /** A file of bridge lines (`--bridges-file`). */
  bridgesFile?: string;
  /** `--no-bridges`. */
  noBridges?: boolean;
  /** An upstream proxy URL (`--proxy`), checked. */
  proxy?: string;
  /** `--no-proxy`. */
  noProxy?: boolean;
}

const OPTIONS = {
  name: { type: "string" },
  json: { type: "boolean" },
  gui: { type: "boolean" },
  "no-browser": { type: "boolean" },
  encrypt: { type: "boolean" },
  "config-dir": { type: "string" },
  port: { type: "string" },
  "tor-path": { type: "string" },
  "torrc-extra": { type: "string" },
  "control-port": { type: "string" },
  "socks-port": { type: "string" },
  "control-password": { type: "string" },
  "control-password-file": { type: "string" },
  direct: { type: "string" },
  bridges: { type: "string", multiple: true },
  bridge: { type: "string", multiple: true },
  "bridges-file": { type: "string" },
  "no-bridges": { type: "boolean" },
  proxy: { type: "string" },
  "no-proxy": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** `-name` → `--name` for every long option (unMessage 0.1's spelling). */
function normalise(argv: readonly string[]): string[] {
  const out: string[] = [];
  let operands = false;
  for (const a of argv) {
    if (operands || a === "--") {
      operands = true;
      out.push(a);
      continue;
    }
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    out.push(m && m[1]! in OPTIONS ? `-${a}` : a);
  }
  return out;
}

/** "Unknown option --x", with the closest known flag when one is near. */
function unknownOption(flag: string): string {
  const name = flag.replace(/^-+/, "").split("=")[0]!;
  const best = closestName(name, Object.keys(OPTIONS));
  return `Unknown option ${flag}` + (best ? `; did you mean --${best}?` : "");
}

/** parseArgs' code for a flag it does not know. */
const UNKNOWN_OPTION = "ERR_PARSE_ARGS_UNKNOWN_OPTION";
/** parseArgs' code for a value missing, not allowed, or looking like a flag. */
const INVALID_OPTION_VALUE = "ERR_PARSE_ARGS_INVALID_OPTION_VALUE";

/**
 * The mistake behind a failed strict parse, told from parseArgs' error code
 * and, for the flag it concerns, a lenient parse's tokens (never from its
 * message's wording).
 */
function usageMistake(e: unknown, args: string[]): CliUsageError {
  const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined;
  const { tokens } = parseArgs({
    args,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const specs: Record<string, { type: "string" | "boolean" }> = OPTIONS;
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const spec = Object.hasOwn(specs, t.name) ? specs[t.name] : undefined;
    if (spec === undefined) {
      if (code !== UNKNOWN_OPTION) continue;
      // `-nmae` is read as the short flags -n -m -a -e: name the word as typed
      const word = /^-[^-=]{2,}/.exec(args[t.index]!)?.[0];
      return new CliUsageError(unknownOption(word ?? t.rawName));
    }
    if (code !== INVALID_OPTION_VALUE) continue;
    if (spec.type === "boolean" && t.inlineValue) {
      return new CliUsageError(`${t.rawName} takes no value`);
    }
    if (spec.type === "string" && t.value === undefined) {
      return new CliUsageError(`${t.rawName} needs a value: ${t.rawName} <value>`);
    }
    if (spec.type === "string" && !t.inlineValue && t.value?.startsWith("-")) {
      return new CliUsageError(
        `${t.rawName} needs a value; for one that starts with "-", write ${t.rawName}=<value>`,
      );
    }
  }
  return new CliUsageError(`Cannot read the command line: ${errorMessage(e).split("\n")[0]}`);
}

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || !isPort(n)) {
    throw new CliUsageError(
      `--${flag} must be a port number from ${MIN_PORT} to ${MAX_PORT}, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return n;
}

/**
 * Parses `argv` (without the program name).
 *
 * @throws {CliUsageError} for an unknown flag, a missing value, an operand,
 *   a bad port, or attach flags without `--control-port`
 */
export function parseCli(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: normalise(argv),
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw usageMistake(e, normalise(argv));
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 0) {
    throw new CliUsageError(
      `Unexpected argument ${JSON.stringify(positionals[0])}; use --name <name>`,
    );
  }
  const options: CliOptions = {
    help: v.help === true,
    version: v.version === true,
    json: v.json === true,
    gui: v.gui === true,
    noBrowser: v["no-browser"] === true,
    encrypt: v.encrypt === true,
  };
  if (options.json && (options.gui || options.noBrowser)) {
    throw new CliUsageError(
      "--json is the machine interface; it cannot be used with --gui or --no-browser",
    );
  }
  if (v.name !== undefined) options.name = v.name;
  if (v["config-dir"] !== undefined) options.configDir = v["config-dir"];
  if (v["tor-path"] !== undefined) options.torPath = v["tor-path"];
  if (v["torrc-extra"] !== undefined) options.torrcExtra = v["torrc-extra"];
  if (v["control-password"] !== undefined) options.controlPassword = v["control-password"];
  if (v["control-password-file"] !== undefined) {
    options.controlPasswordFile = v["control-password-file"];
  }
  if (v.direct !== undefined) options.direct = v.direct;
  const p = port(v.port, "port");
  if (p !== undefined) options.port = p;
  const control = port(v["control-port"], "control-port");
  if (control !== undefined) options.controlPort = control;
  const socks = port(v["socks-port"], "socks-port");
  if (socks !== undefined) options.socksPort = socks;
  const attachOnly = options.socksPort !== undefined || options.controlPassword !== undefined ||
    options.controlPasswordFile !== undefined;
  if (attachOnly && options.controlPort === undefined) {
    throw new CliUsageError(
      "--socks-port, --control-password and --control-password-file need --control-port",
    );
  }
  if (options.controlPassword !== undefined && options.controlPasswordFile !== undefined) {
    throw new CliUsageError("Give --control-password or --control-password-file, not both");
  }
  const attach = options.controlPort !== undefined;
  if (attach && (options.torPath !== undefined || options.torrcExtra !== undefined)) {
    throw new CliUsageError(
      "--tor-path and --torrc-extra launch tor; they cannot be used with --control-port",
    );
  }
  if (options.direct !== undefined && (attach || options.torPath !== undefined)) {
    throw new CliUsageError("--direct runs without tor; it cannot be used with tor flags");
  }
  networkOptions(v, options);
  return options;
}

/** The bridge and proxy flags, checked into `options`. */
function networkOptions(
  v: {
    bridges?: string[];
    bridge?: string[];
    "bridges-file"?: string;
    "no-bridges"?: boolean;
    proxy?: string;
    "no-proxy"?: boolean;
  },
  options: CliOptions,
): void {
  for (const name of v.bridges ?? []) {
    if (!isBuiltinBridges(name)) {
      throw new CliUsageError(`--bridges takes obfs4 or snowflake, got ${JSON.stringify(name)}`);
    }
    (options.builtinBridges ??= []).push(name);
  }
  for (const line of v.bridge ?? []) {
    try {
      (options.bridgeLines ??= []).push(parseBridgeLine(line).line);
    } catch (e) {
      throw new CliUsageError(`--bridge: ${(e as Error).message}`);
    }
  }
  if (v["bridges-file"] !== undefined) options.bridgesFile = v["bridges-file"];
  if (v["no-bridges"]) options.noBridges = true;
  if (v.proxy !== undefined) {
    try {
      parseProxy(v.proxy);
    } catch (e) {
      throw new CliUsageError(`--proxy: ${(e as Error).message}`);
    }
    options.proxy = v.proxy;
  }
  if (v["no-proxy"]) options.noProxy = true;
  const bridges = options.builtinBridges !== undefined || options.bridgeLines !== undefined ||
    options.bridgesFile !== undefined;
  if (bridges && options.noBridges) {
    throw new CliUsageError(
      "--no-bridges cannot be used with --bridge, --bridges or --bridges-file",
    );
  }
  if (options.proxy !== undefined && options.noProxy) {
    throw new CliUsageError("--no-proxy cannot be used with --proxy");
  }
  const any = bridges || options.noBridges || options.proxy !== undefined || options.noProxy;
  if (any && (options.controlPort !== undefined || options.direct !== undefined)) {
    throw new CliUsageError(
      "Bridges and proxies are set for the tor unMessage launches; they cannot be used with " +
        "--control-port (configure that tor's own torrc) or --direct",
    );
  }
}

/** Lines of a `--torrc-extra` file: blank lines and `#` comments dropped. */
export function torrcLines(text: string): string[] {
  return contentLines(text).map((l) => l.text);
}
