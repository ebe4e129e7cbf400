/**
 * The REPL's history across sessions: one line per entry in a file of the
 * peer's folder (0600, written atomically), bounded in entries and length.
 *
 * Privacy: a messenger's history file must not become a plaintext log of the
 * conversations or of who the user talks to. So what is kept differs by
 * lifetime:
 *
 * - Within a session every line is recalled except `/auth` secrets.
 * - On disk a command keeps only its leading *name* arguments (a contact
 *   name, a new name, a command name, a request pattern); the first other
 *   argument and everything after it is dropped, and a trailing space marks
 *   the cut: `/msg bob hello` → `/msg bob `, `/verify bob <key>` →
 *   `/verify bob `, `/req-send bob@<address> <key>` → `/req-send `. A word
 *   in a name's place is kept only if it is a name in use when the history
 *   is saved (or a command's name, or `--all`/`--flood`): a secret typed
 *   where the name goes (`/auth <secret>`, `/msg <text>`) is cut like any
 *   other argument, and so is the name of a contact since deleted. The
 *   rule follows each command's argument spec in the registry, so a new
 *   command with a secret argument is cut without a change here. A line
 *   that is no known command, does not parse, or has more words than its
 *   command takes is not written at all (a typo could hide a message or a
 *   secret).
 * - For a peer encrypted with a passphrase nothing is written: the history
 *   lives in memory for the session only, and a plaintext history file
 *   left beside an encrypted profile (by an older version) is removed.
 *   Encrypting the file instead would need the vault key outside the store
 *   and still show, by its size and time, how much the user typed; a
 *   recall list across sessions is not worth either. The profile is read to
 *   decide (a vault envelope, or unreadable: no file, fail closed).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { parseJson, readFileBounded, writeFileAtomic } from "../store/atomic.ts";
import { isVaultEnvelope } from "../store/vault.ts";
import { REJECT_ALL, REJECT_FLOOD } from "../peer/requests.ts";
import { findCommand } from "./commands.ts";
import { parseLine } from "./line_parse.ts";
import { MAX_HISTORY } from "./line_editor.ts";

/** File name of the history in the peer's folder. */
export const HISTORY_FILE = "repl_history";
/** Longest history line kept on disk. */
export const MAX_HISTORY_LINE = 1024;
/** Largest history file read (bigger ones are ignored). */
const MAX_HISTORY_BYTES = MAX_HISTORY * (MAX_HISTORY_LINE + 1);
/** The profile beside the history decides whether the history may be on disk. */
const PROFILE_FILE = "profile.json";

/**
 * Argument names (of the registry's specs) whose values are names, never
 * text, keys, addresses or secrets: only these reach the disk.
 */
const NAME_ARGS: ReadonlySet<string> = new Set(["name", "new-name", "command", "pattern"]);

/** A kept argument is one plain word: no quotes, spaces or control characters. */
// deno-lint-ignore no-control-regex
const PLAIN_WORD = /^[^\s"'\x00-\x1f\x7f]+$/;

/** The line as remembered within a session (undefined: not remembered). */
export function sessionEntry(line: string): string | undefined {
  if (line.trim() === "") return undefined;
  const auth = /^(\s*\/auth\s+\S+)\s/i.exec(line);
  return auth ? `${auth[1]} ` : line; // never the /auth secret
}

/**
 * The line as written to disk (undefined: not written); see the module
 * header. `isName` says which words are names in use; without it (reading
 * a file written with it) every plain word in a name's place is kept.
 */
export function diskEntry(
  line: string,
  isName: (word: string) => boolean = () => true,
): string | undefined {
  let parsed: ReturnType<typeof parseLine>;
  try {
    parsed = parseLine(line);
  } catch {
    return undefined; // unknown command or unclosed quote
  }
  if (parsed.kind !== "command") return undefined;
  const { command, args } = parsed;
  if (args.length > command.args.length) return undefined;
  const typed = /^\s*(\/\S*)/.exec(line)![1]!;
  const kept: string[] = [typed];
  let cut = false;
  for (const [i, value] of args.entries()) {
    const spec = command.args[i]!;
    if (
      spec.kind !== "word" || !NAME_ARGS.has(spec.name) || !PLAIN_WORD.test(value) ||
      !knownWord(spec.name, value, isName)
    ) {
      cut = true;
      break;
    }
    kept.push(value);
  }
  // a trailing space marks a cut (and survives the next load: idempotent)
  const trailing = cut || (args.length < command.args.length && /\s$/.test(line));
  const entry = kept.join(" ") + (trailing ? " " : "");
  return entry.length > MAX_HISTORY_LINE ? undefined : entry;
}

/** Whether `value`, in the place of the argument `arg`, is a name we know (not typed text). */
function knownWord(arg: string, value: string, isName: (word: string) => boolean): boolean {
  if (arg === "command") {
    try {
      findCommand(value);
      return true;
    } catch {
      return false;
    }
  }
  if (arg === "pattern" && (value === REJECT_ALL || value === REJECT_FLOOD)) return true;
  return isName(value);
}

/**
 * Whether the history beside `historyPath` may be kept on disk: its
 * profile exists and is not encrypted. "encrypted" when the profile is a
 * vault envelope; "unknown" when it is missing or unreadable.
 */
async function profileKind(historyPath: string): Promise<"plain" | "encrypted" | "unknown"> {
  const path = join(dirname(historyPath), PROFILE_FILE);
  try {
    return isVaultEnvelope(parseJson(await readFileBounded(path), path)) ? "encrypted" : "plain";
  } catch {
    return "unknown";
  }
}

/** Reads the history (missing, unreadable, oversized, or an encrypted peer's: empty). */
export async function loadHistory(path: string): Promise<string[]> {
  try {
    if (await profileKind(path) !== "plain") return [];
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_HISTORY_BYTES) return [];
    const text = await Deno.readTextFile(path);
    return text.split("\n").map((l) => diskEntry(l)).filter((l): l is string => l !== undefined)
      .slice(-MAX_HISTORY);
  } catch {
    return [];
  }
}

/**
 * Writes the history (its disk form, last {@linkcode MAX_HISTORY}
 * entries, with `isName` the names in use now); for an encrypted peer
 * writes nothing and removes a leftover file, and for a peer whose profile
 * cannot be read writes nothing.
 */
export async function saveHistory(
  path: string,
  lines: readonly string[],
  isName: (word: string) => boolean,
): Promise<void> {
  const kind = await profileKind(path);
  if (kind === "encrypted") {
    await Deno.remove(path).catch(() => {});
    return;
  }
  if (kind !== "plain") return;
  const kept: string[] = [];
  for (const line of lines) {
    const entry = diskEntry(line, isName);
    if (entry !== undefined && kept.at(-1) !== entry) kept.push(entry);
  }
  const text = kept.slice(-MAX_HISTORY).join("\n");
  await writeFileAtomic(path, new TextEncoder().encode(text === "" ? "" : `${text}\n`));
}
