/**
 * Tab completion for the REPL: the command word (with its `/`), then peer
 * names for the commands whose first argument is a name. Pure: the line,
 * the cursor and the known names in; the completed line out.
 *
 * @module
 */

import { COMMANDS } from "./commands.ts";

/** Commands whose first argument is a peer name, and where the names come from. */
const NAME_SOURCES: Readonly<Record<string, "conversations" | "inbound">> = {
  "msg": "conversations",
  "pres-on": "conversations",
  "pres-off": "conversations",
  "verify": "conversations",
  "auth": "conversations",
  "delete": "conversations",
  "req-accept": "inbound",
  "req-reject": "inbound",
};

/** Names the completer can offer. */
export interface CompletionNames {
  /** Names of conversations (for `/msg`, `/verify` ...). */
  conversations: readonly string[];
  /** Names of inbound requests (for `/req-accept`, `/req-reject`). */
  inbound: readonly string[];
}

/** The outcome of pressing Tab. */
export interface Completion {
  /** The new line and cursor (unchanged when nothing was completed). */
  line: string;
  /** String index in `line`. */
  cursor: number;
  /** Every candidate, when more than one matches (to be listed). */
  candidates: string[];
}

/** The longest common prefix of `words` (empty for none). */
export function commonPrefix(words: readonly string[]): string {
  if (words.length === 0) return "";
  let prefix = words[0]!;
  for (const w of words) {
    while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

/** Every command word, with its slash (aliases excluded, they stay hidden). */
export const COMMAND_WORDS: readonly string[] = COMMANDS.map((c) => `/${c.name}`);

/**
 * Completes the word before `cursor` in `line`. A single match is completed
 * with a trailing space; several are completed to their common prefix and
 * listed in `candidates`.
 */
export function complete(line: string, cursor: number, names: CompletionNames): Completion {
  const before = line.slice(0, cursor);
  const after = line.slice(cursor);
  const none: Completion = { line, cursor, candidates: [] };
  let pool: readonly string[];
  let word: string;
  const cmd = /^\s*(\/\S*)$/.exec(before);
  if (cmd) {
    word = cmd[1]!;
    pool = COMMAND_WORDS;
  } else {
    const arg = /^\s*\/(\S+)\s+(\S*)$/.exec(before);
    if (!arg) return none;
    const key = arg[1]!.toLowerCase();
    // own keys only: `/constructor x<Tab>` must not find Object's constructor
    const source = Object.hasOwn(NAME_SOURCES, key) ? NAME_SOURCES[key] : undefined;
    if (!source) return none;
    word = arg[2]!;
    pool = names[source];
  }
  const matches = [...new Set(pool.filter((p) => p.startsWith(word)))].sort();
  if (matches.length === 0) return none;
  const insert = matches.length === 1 ? `${matches[0]} ` : commonPrefix(matches);
  const head = before.slice(0, before.length - word.length) + insert;
  // Avoid a double space when the cursor sits before one.
  const tail = matches.length === 1 && after.startsWith(" ") ? after.slice(1) : after;
  return {
    line: head + tail,
    cursor: head.length,
    candidates: matches.length > 1 ? matches : [],
  };
}
