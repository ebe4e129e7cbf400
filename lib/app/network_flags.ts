/**
 * The bridge and proxy flags of one start (`--bridges`, `--bridge`,
 * `--bridges-file`, `--no-bridges`, `--proxy`, `--no-proxy`, checked by
 * `cli_args.ts`) as the {@linkcode NetworkChange} the runtime applies to the
 * peer's stored settings. Reads the bridges file and the `--torrc-extra`
 * file, bounded (`user_file.ts`).
 *
 * @module
 */

import { type CliOptions, torrcLines } from "./cli_args.ts";
import type { NetworkChange } from "./network_settings.ts";
import { MAX_BRIDGE_LINE_CHARS, MAX_BRIDGES, parseBridgeLines } from "../tor/bridges.ts";
import { TorError } from "../tor/errors.ts";
import { readUserFile, UserFileError } from "./user_file.ts";

/** Longest bridges file read: every allowed line at its longest, with slack for comments. */
export const MAX_BRIDGES_FILE_BYTES = 2 * MAX_BRIDGES * MAX_BRIDGE_LINE_CHARS;

/** The warning shown when a proxy password is given on the command line. */
export const CMDLINE_PROXY_WARNING: string =
  "The --proxy password can be read by every local user while this start runs (in " +
  "/proc/<pid>/cmdline and ps); it is kept for this peer, so later starts need not repeat it";

/**
 * Reads the bridge lines of a file (one per line; blank lines and `#` comments skipped).
 *
 * @throws {TorError} `invalid_bridge` for an unreadable, oversized or bad file
 */
export async function readBridgesFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = (await readUserFile(path, MAX_BRIDGES_FILE_BYTES)).text;
  } catch (e) {
    if (!(e instanceof UserFileError)) throw e;
    throw new TorError("invalid_bridge", `Cannot read the bridges file ${path}: ${e.message}`);
  }
  try {
    const lines = parseBridgeLines(text).map((b) => b.line);
    if (lines.length === 0) throw new TorError("invalid_bridge", "it holds no bridge line");
    return lines;
  } catch (e) {
    throw new TorError("invalid_bridge", `Bridges file ${path}: ${(e as Error).message}`);
  }
}

/** Longest `--torrc-extra` file read (a hand-written torrc is a few KiB). */
export const MAX_TORRC_EXTRA_BYTES = 256 * 1024;

/**
 * The lines of a `--torrc-extra` file (blank lines and `#` comments dropped).
 *
 * @throws {TorError} `invalid_argument` for an unreadable, oversized or non-text file
 */
export async function readTorrcExtra(path: string): Promise<string[]> {
  try {
    return torrcLines((await readUserFile(path, MAX_TORRC_EXTRA_BYTES)).text);
  } catch (e) {
    if (!(e instanceof UserFileError)) throw e;
    throw new TorError(
      "invalid_argument",
      `Cannot read the --torrc-extra file ${path}: ${e.message}`,
    );
  }
}

/** What the flags change (an empty object: keep what is stored). */
export async function networkChange(o: CliOptions): Promise<NetworkChange> {
  const change: NetworkChange = {};
  if (o.noBridges) change.bridges = "clear";
  else if (
    o.builtinBridges !== undefined || o.bridgeLines !== undefined || o.bridgesFile !== undefined
  ) {
    change.bridges = {
      builtin: o.builtinBridges ?? [],
      lines: [
        ...o.bridgeLines ?? [],
        ...(o.bridgesFile !== undefined ? await readBridgesFile(o.bridgesFile) : []),
      ],
    };
  }
  if (o.noProxy) change.proxy = "clear";
  else if (o.proxy !== undefined) change.proxy = o.proxy;
  return change;
}
