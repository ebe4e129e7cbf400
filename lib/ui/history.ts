/**
 * The REPL's history across sessions: one line per entry in a file of the
 * peer's folder (0600, written atomically), bounded in entries and length.
 *
 * Privacy: a messenger's history file must not become a plaintext log of the
 * conversations (the profile may be passphrase-encrypted). So what is kept
 * differs by lifetime: within a session every line is recalled except
 * secrets; on disk, the free text of `/msg` and `/auth` is dropped
 * (`/msg bob ` is kept, ready to type a new message), and so is every line
 * that is not a known command (a typo could hide a message or a secret).
 *
 * @module
 */

import { writeFileAtomic } from "../store/atomic.ts";
import { findCommand } from "./commands.ts";
import { MAX_HISTORY } from "./line_editor.ts";

/** File name of the history in the peer's folder. */
export const HISTORY_FILE = "repl_history";
/** Longest history line kept on disk. */
export const MAX_HISTORY_LINE = 1024;
/** Largest history file read (bigger ones are ignored). */
const MAX_HISTORY_BYTES = MAX_HISTORY * (MAX_HISTORY_LINE + 1);

/** Commands whose free text never goes to disk. */
const PRIVATE_TEXT = /^(\s*\/(?:msg|auth)\s+\S+)(?:\s[\s\S]*)?$/i;

/** The line as remembered within a session (undefined: not remembered). */
export function sessionEntry(line: string): string | undefined {
  if (line.trim() === "") return undefined;
  const auth = /^(\s*\/auth\s+\S+)\s/i.exec(line);
  return auth ? `${auth[1]} ` : line; // never the /auth secret
}

/** The line as written to disk (undefined: not written). */
export function diskEntry(line: string): string | undefined {
  // A mistyped command (`/mgs bob hi`, `/auht bob secret`) escapes the
  // patterns below, so only lines naming a known command reach the disk.
  if (!isKnownCommand(line)) return undefined;
  const m = PRIVATE_TEXT.exec(line);
  const entry = m ? `${m[1]!.trimStart()} ` : line;
  // deno-lint-ignore no-control-regex
  if (entry.trim() === "" || entry.length > MAX_HISTORY_LINE || /[\x00-\x1f]/.test(entry)) {
    return undefined;
  }
  return entry;
}

function isKnownCommand(line: string): boolean {
  const name = /^\s*(\/\S+)/.exec(line)?.[1];
  if (name === undefined) return false;
  try {
    findCommand(name);
    return true;
  } catch {
    return false;
  }
}

/** Reads the history (missing, unreadable or oversized: empty). */
export async function loadHistory(path: string): Promise<string[]> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_HISTORY_BYTES) return [];
    const text = await Deno.readTextFile(path);
    return text.split("\n").map(diskEntry).filter((l): l is string => l !== undefined)
      .slice(-MAX_HISTORY);
  } catch {
    return [];
  }
}

/** Writes the history (its disk form, last {@linkcode MAX_HISTORY} entries). */
export async function saveHistory(path: string, lines: readonly string[]): Promise<void> {
  const kept: string[] = [];
  for (const line of lines) {
    const entry = diskEntry(line);
    if (entry !== undefined && kept.at(-1) !== entry) kept.push(entry);
  }
  const text = kept.slice(-MAX_HISTORY).join("\n");
  await writeFileAtomic(path, new TextEncoder().encode(text === "" ? "" : `${text}\n`));
}
