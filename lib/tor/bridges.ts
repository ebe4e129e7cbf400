/**
 * Bridges and pluggable transports for a tor we launch: checking a bridge
 * line (`[transport] address:port [fingerprint] [key=value ...]`, as
 * https://bridges.torproject.org hands them out, with or without torrc's
 * leading `Bridge`), finding the transport programs on PATH (obfs4proxy or
 * lyrebird for obfs4, snowflake-client or lyrebird for snowflake), and the
 * torrc lines that make tor reach the network only through the bridges:
 * `UseBridges 1`, one `ClientTransportPlugin` per program and one `Bridge`
 * per line. A missing program is a clear error naming the package to install.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { errorMessage } from "../errors.ts";
import { contentLines } from "../lines.ts";
import { BUILTIN_BRIDGES } from "./builtin_bridges.ts";
import { TorError } from "./errors.ts";
import { findProgram, programDirs } from "./find_tor.ts";

/** Most bridges used at once (Tor Browser ships 7; BridgeDB hands out 2 or 3). */
export const MAX_BRIDGES = 64;
/** Longest bridge line (a snowflake line with its STUN list is about 600 characters). */
export const MAX_BRIDGE_LINE_CHARS = 2048;

/** Names `--bridges` takes. */
export type BuiltinBridges = keyof typeof BUILTIN_BRIDGES;

/** Whether `name` is a built-in bridge set. */
export function isBuiltinBridges(name: string): name is BuiltinBridges {
  return Object.hasOwn(BUILTIN_BRIDGES, name);
}

/** A checked bridge line. */
export interface BridgeLine {
  /** The pluggable transport (`obfs4`, `snowflake`, ...), or undefined for a plain bridge. */
  readonly transport: string | undefined;
  /** `host:port` (IPv4, or IPv6 in brackets). */
  readonly address: string;
  /** The bridge's identity fingerprint (40 hex digits), if given. */
  readonly fingerprint: string | undefined;
  /** The line as torrc's `Bridge` takes it (without the keyword). */
  readonly line: string;
}

/** The programs that provide each transport, preferred first, and the package to install. */
const TRANSPORTS: Readonly<Record<string, { programs: readonly string[]; install: string }>> = {
  obfs4: {
    programs: ["lyrebird", "obfs4proxy"],
    install: "install obfs4proxy (Debian, Ubuntu: `sudo apt install obfs4proxy`) or lyrebird",
  },
  meek_lite: {
    programs: ["lyrebird", "obfs4proxy"],
    install: "install obfs4proxy (Debian, Ubuntu: `sudo apt install obfs4proxy`) or lyrebird",
  },
  webtunnel: { programs: ["lyrebird"], install: "install lyrebird (from the Tor Project)" },
  snowflake: {
    programs: ["snowflake-client", "lyrebird"],
    install: "install snowflake-client (Debian, Ubuntu: `sudo apt install snowflake-client`) " +
      "or lyrebird",
  },
};

const TRANSPORT_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const IPV4_PORT = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/;
const IPV6_PORT = /^\[[0-9a-fA-F:.]{2,45}\]:(\d{1,5})$/;
const FINGERPRINT = /^(?:\$)?[0-9a-fA-F]{40}$/;
/** A transport argument: `key=value`, printable ASCII without spaces, quotes, `#` or `\`. */
const ARGUMENT = /^[A-Za-z0-9_.-]{1,64}=[!$-[\]-~]*$/;

function invalid(line: string, why: string): TorError {
  const shown = line.length > 80 ? `${line.slice(0, 80)}…` : line;
  return new TorError("invalid_bridge", `Not a bridge line (${why}): ${JSON.stringify(shown)}`);
}

function validPort(text: string): boolean {
  return isPort(Number(text));
}

/**
 * Checks one bridge line; a leading `Bridge ` (torrc's keyword) is dropped.
 *
 * @throws {TorError} `invalid_bridge`, saying what is wrong
 */
export function parseBridgeLine(text: string): BridgeLine {
  const trimmed = text.trim().replace(/^Bridge\s+/i, "");
  if (trimmed.length > MAX_BRIDGE_LINE_CHARS) {
    throw invalid(trimmed, `longer than ${MAX_BRIDGE_LINE_CHARS} characters`);
  }
  if (trimmed === "") throw invalid(trimmed, "empty");
  if (!/^[ -~]+$/.test(trimmed)) throw invalid(trimmed, "only printable ASCII is allowed");
  const words = trimmed.split(/ +/);
  let i = 0;
  let transport: string | undefined;
  if (!/[:[]/.test(words[0] ?? "")) {
    transport = words[i++]!.toLowerCase();
    if (!TRANSPORT_NAME.test(transport)) throw invalid(trimmed, "bad transport name");
  }
  const address = words[i++];
  if (address === undefined) throw invalid(trimmed, "no address:port");
  const v4 = IPV4_PORT.exec(address);
  const v6 = IPV6_PORT.exec(address);
  const okV4 = v4 && v4.slice(1, 5).every((o) => Number(o) <= 255) && validPort(v4[5]!);
  if (!okV4 && !(v6 && validPort(v6[1]!))) throw invalid(trimmed, "bad address:port");
  let fingerprint: string | undefined;
  if (words[i] !== undefined && FINGERPRINT.test(words[i]!)) {
    fingerprint = words[i++]!.replace(/^\$/, "").toUpperCase();
  }
  const args = words.slice(i);
  for (const a of args) {
    if (!ARGUMENT.test(a)) throw invalid(trimmed, `bad argument ${JSON.stringify(a)}`);
  }
  if (transport !== undefined && !Object.hasOwn(TRANSPORTS, transport)) {
    throw invalid(trimmed, `unknown transport ${transport}; known: ${Object.keys(TRANSPORTS)}`);
  }
  const line = [transport, address, fingerprint, ...args].filter((w) => w !== undefined).join(" ");
  return { transport, address, fingerprint, line };
}

/**
 * Reads bridge lines from the text of a file: one per line, blank lines and
 * `#` comments skipped.
 *
 * @throws {TorError} `invalid_bridge` for a bad line (with its number) or too many
 */
export function parseBridgeLines(text: string): BridgeLine[] {
  const out: BridgeLine[] = [];
  for (const line of contentLines(text)) {
    try {
      out.push(parseBridgeLine(line.text));
    } catch (e) {
      throw new TorError("invalid_bridge", `Line ${line.number}: ${errorMessage(e)}`);
    }
    if (out.length > MAX_BRIDGES) {
      throw new TorError("invalid_bridge", `More than ${MAX_BRIDGES} bridges`);
    }
  }
  return out;
}

/** The bridges to use: built-in sets by name and lines of one's own. */
export interface BridgeChoice {
  /** Built-in sets by name (`obfs4`, `snowflake`). */
  builtin?: readonly BuiltinBridges[];
  /** One's own bridge lines. */
  lines?: readonly string[];
}

/** Every bridge line of `choice`, checked, without duplicates. */
export function chosenBridges(choice: BridgeChoice): BridgeLine[] {
  const texts = [
    ...(choice.builtin ?? []).flatMap((name) => BUILTIN_BRIDGES[name]),
    ...(choice.lines ?? []),
  ];
  const seen = new Set<string>();
  const out: BridgeLine[] = [];
  for (const text of texts) {
    const b = parseBridgeLine(text);
    if (seen.has(b.line)) continue;
    seen.add(b.line);
    out.push(b);
  }
  if (out.length > MAX_BRIDGES) {
    throw new TorError("invalid_bridge", `More than ${MAX_BRIDGES} bridges`);
  }
  return out;
}

/**
 * The torrc lines for `bridges`: `UseBridges 1`, a `ClientTransportPlugin`
 * for each program needed (found in `dirs`, default PATH and the usual
 * places) and a `Bridge` per line. No bridges: no lines.
 *
 * @throws {TorError} `pt_not_found` naming the package to install;
 *   `invalid_bridge` for a program path tor cannot take (a space in it)
 */
export async function bridgeTorrc(
  bridges: readonly BridgeLine[],
  dirs: readonly string[] = programDirs(),
): Promise<string[]> {
  if (bridges.length === 0) return [];
  const byProgram = new Map<string, string[]>();
  for (const transport of new Set(bridges.flatMap((b) => b.transport ?? []))) {
    const spec = TRANSPORTS[transport]!;
    const program = await findProgram(spec.programs, dirs);
    if (program === undefined) {
      throw new TorError(
        "pt_not_found",
        `The ${transport} bridges need ${spec.programs.join(" or ")}, which is not on PATH: ` +
          spec.install,
      );
    }
    // torrc splits ClientTransportPlugin on spaces: a path with one cannot be given.
    if (/\s/.test(program)) {
      throw new TorError("invalid_bridge", `Tor cannot run a transport from ${program} (a space)`);
    }
    byProgram.set(program, [...byProgram.get(program) ?? [], transport]);
  }
  return [
    "UseBridges 1",
    ...[...byProgram].map(([program, names]) =>
      `ClientTransportPlugin ${names.join(",")} exec ${program}`
    ),
    ...bridges.map((b) => `Bridge ${b.line}`),
  ];
}
