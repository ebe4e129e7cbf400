/**
 * How the store (peer_store.ts) names, encodes and checks its values: a
 * conversation is a head under `c/<id>` and named parts under
 * `c/<id>/<part>` (the core's names, checked here), read back through a
 * small reader per conversation; values are compact JSON; a value that
 * fails to parse or validate is reported naming its file and key.
 *
 * @module
 */

import { describeError, StoreError } from "./errors.ts";
import type { Journal } from "./journal.ts";

/** Part names of a conversation: letters and digits, in one or two `/`-separated segments. */
export const PART_NAME_PATTERN = /^[a-z0-9]{1,24}(?:\/[a-z0-9]{1,24})?$/;

/** Changes to the parts of a conversation, saved with its head. */
export interface PartChanges {
  /** Parts to write (name → value). */
  put?: Iterable<readonly [string, unknown]>;
  /** Parts to remove. */
  delete?: Iterable<string>;
  /** Remove every stored part not in `put`. */
  replace?: boolean;
}

/**
 * The parts of one stored conversation: their names, and each one's JSON
 * text read when asked for (from disk, once the store has loaded). A caller
 * may keep it to read its parts later, as long as it has not written them.
 */
export interface StoredParts {
  /** The parts' names, sorted. */
  readonly names: readonly string[];
  /** The JSON text of one part, or undefined. */
  text(name: string): string | undefined;
}

/**
 * Checks a conversation's head (parsed JSON, and its JSON text, which a
 * lazy caller may keep instead of the parsed value) and its parts.
 */
export type ConversationValidator<T> = (
  head: unknown,
  parts: StoredParts,
  id: string,
  text: string,
) => T;

/** The files of one peer folder, opened by one process. */
/** Every conversation's head (whether it has one) and part names, in one pass over the keys. */
export function conversationKeys(
  journal: Journal,
): Map<string, { head: boolean; names: string[] }> {
  const all = new Map<string, { head: boolean; names: string[] }>();
  journal.forEachKey("c/", (key) => {
    const slash = key.indexOf("/", 2);
    const id = slash < 0 ? key.slice(2) : key.slice(2, slash);
    let entry = all.get(id);
    if (entry === undefined) all.set(id, entry = { head: false, names: [] });
    if (slash < 0) entry.head = true;
    else entry.names.push(key.slice(slash + 1));
  });
  return all;
}

/**
 * Keys no conversation or the requests can own (a damaged or hand-edited
 * key name: `b/…` for `c/…`, parts whose head is gone): reported, never
 * dropped silently; the journal keeps them untouched.
 */
export function strayKeys(journal: Journal, known: string, path: string): StoreError[] {
  const stray: string[] = [];
  journal.forEachKey("", (key) => {
    if (key !== known && !key.startsWith("c/")) stray.push(key);
  });
  for (const [id, { head }] of conversationKeys(journal)) if (!head) stray.push(`c/${id}/…`);
  return stray.sort().map((key) =>
    new StoreError(
      "invalid",
      `Cannot use ${key} of ${path}: no conversation owns it (a damaged or hand-edited line?); ` +
        "unMessage leaves it untouched: fix it by hand",
      path,
    )
  );
}

/** The parts of the conversation under `key` (its part `names`), read from `journal` when asked for. */
export function partsOf(journal: Journal, key: string, names: string[]): StoredParts {
  if (names.length === 0) return NO_PARTS;
  return new JournalParts(journal, key, names.sort());
}

/** The parts of a conversation that has none: one object for all. */
const NO_PARTS: StoredParts = { names: [], text: () => undefined };

/** A conversation's parts, read from the journal when asked for (one small object per conversation). */
class JournalParts implements StoredParts {
  readonly #journal: Journal;
  readonly #key: string;
  readonly names: readonly string[];

  constructor(journal: Journal, key: string, names: readonly string[]) {
    this.#journal = journal;
    this.#key = key;
    this.names = names;
  }

  text(name: string): string | undefined {
    return this.#journal.get(`${this.#key}/${name}`);
  }
}

/** The key of part `name` of the conversation under `key`. */
export function partKey(key: string, name: string): string {
  if (!PART_NAME_PATTERN.test(name)) {
    throw new StoreError("bad_name", `Cannot store part ${JSON.stringify(name)}: not a valid name`);
  }
  return `${key}/${name}`;
}

/** Compact JSON of a value to store. */
export function stringify(value: unknown): string {
  const text = JSON.stringify(value);
  if (typeof text !== "string") {
    throw new TypeError("Cannot encode value as JSON: not representable");
  }
  return text;
}

/** Runs a validator: a StoreError passes through, any other error becomes `invalid`. */
export function check<T>(validate: () => T, where: string, path: string): T {
  try {
    return validate();
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(
      "invalid",
      `Cannot load ${where}: unexpected content (${describeError(e)}); unMessage leaves it ` +
        "untouched: fix it by hand",
      path,
      { cause: e },
    );
  }
}

/** Parses a stored value's JSON; `corrupt` naming `where` when it is not JSON. */
export function parseValue(text: string, where: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new StoreError(
      "corrupt",
      `Cannot load ${where}: not valid JSON; unMessage leaves it untouched: fix it by hand`,
      path,
    );
  }
}
