/**
 * The parts of a stored conversation besides its head and session (the
 * store's keys `c/<fileId>/<part>`, records.ts has their JSON forms): how
 * they are named, read back, and saved by difference.
 *
 * - Lists (the outbox `o/<n>`, the inbox `i/<n>`): one part per entry, `n`
 *   growing with each new entry so that names sort in the list's order. An
 *   entry counts as changed when one of its fields is replaced (compared
 *   by identity): replace a field to change it, never mutate one in place.
 * - Block windows (received IDs `s/<n>`, digests `d/<n>`): one part per
 *   block of 64 entries (block_window.ts); a save writes the last block and
 *   any new one and removes the blocks that fell out.
 *
 * @module
 */

import { invalid } from "./_json.ts";
import type { SeenChanges } from "./seen_ids.ts";

/** Part name of the session (handshake_state.ts ConversationJson). */
export const SESSION_PART = "r";
/** Part name prefix of outbox entries. */
export const OUTBOX_PARTS = "o/";
/** Part name prefix of inbox entries. */
export const INBOX_PARTS = "i/";
/** Part name prefix of received-ID blocks. */
export const SEEN_PARTS = "s/";
/** Part name prefix of digest blocks. */
export const DIGEST_PARTS = "d/";
/** Digits of a part's number: zero-padded, so names sort as numbers. */
const PART_DIGITS = 10;

/** Reads one part's JSON, or undefined when it is gone. */
export type PartReader = (name: string) => unknown;

/** Changes a save writes: parts to put and parts to delete. */
export interface PartWrites {
  /** Parts to write: name and JSON value. */
  put: [string, unknown][];
  /** Names of parts to remove. */
  del: string[];
}

/** A shallow copy of an entry's fields when it was saved. */
export interface Snapshot {
  /** The entry's part name. */
  part: string;
  /** Its fields then (shallow). */
  fields: Record<string, unknown>;
  /** How many fields it had. */
  count: number;
}

/** What the last save wrote of a list: each entry's part and fields, and the next part number. */
export interface ListSaved<E> {
  /** Each saved entry's part and fields then. */
  parts: Map<E, Snapshot>;
  /** The number the next new entry's part gets. */
  next: number;
}

/** The saved state of a list that has no entries (read only: a save makes a new map). */
export function emptyList<E>(): ListSaved<E> {
  return EMPTY as ListSaved<E>;
}

const EMPTY: ListSaved<object> = { parts: new Map(), next: 0 };

function partName(prefix: string, n: number): string {
  return prefix + String(n).padStart(PART_DIGITS, "0");
}

/** The number of part `name` (as {@linkcode partName} writes it): a name edited by hand is refused. */
function partNumber(name: string, prefix: string, what: string): number {
  const digits = name.slice(prefix.length);
  if (digits.length !== PART_DIGITS || !/^[0-9]+$/.test(digits)) {
    invalid(`${what} part ${name} is not numbered as unMessage numbers them`);
  }
  return Number(digits);
}

function snapshot(entry: object, part: string): Snapshot {
  const fields = { ...entry } as Record<string, unknown>;
  return { part, fields, count: Object.keys(fields).length };
}

function sameFields(entry: object, saved: Snapshot): boolean {
  let n = 0;
  for (const k in entry) {
    if ((entry as Record<string, unknown>)[k] !== saved.fields[k]) return false;
    n++;
  }
  return n === saved.count;
}

/** Reads a list's parts (names sorted) with `fromJson`, at most `max` of them. */
export function loadList<E extends object>(
  names: readonly string[],
  read: PartReader,
  prefix: string,
  fromJson: (value: unknown) => E,
  max: number,
  what: string,
): { entries: E[]; saved: ListSaved<E> } {
  // counted and named before any is read: a conversation claiming millions costs no parsing
  const mine = names.filter((name) => name.startsWith(prefix));
  if (mine.length > max) invalid(`${what} has more than ${max} items`);
  for (const name of mine) partNumber(name, prefix, what);
  const found = mine.map((name): [string, E] => [name, fromJson(read(name))]);
  found.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const last = found.at(-1)?.[0];
  return {
    entries: found.map(([, e]) => e),
    saved: {
      parts: new Map(found.map(([part, e]) => [e, snapshot(e, part)])),
      next: last === undefined ? 0 : partNumber(last, prefix, what) + 1,
    },
  };
}

/**
 * Writes into `out` what changed of a list since `before` (everything when
 * `before` is undefined) and returns what is saved after it.
 */
export function listChanges<E extends object>(
  entries: readonly E[],
  prefix: string,
  before: ListSaved<E> | undefined,
  toJson: (entry: E) => unknown,
  out: PartWrites,
): ListSaved<E> {
  const parts = new Map<E, Snapshot>();
  let next = before?.next ?? 0;
  for (const entry of entries) {
    const was = before?.parts.get(entry);
    if (was !== undefined && sameFields(entry, was)) {
      parts.set(entry, was);
      continue;
    }
    const part = was?.part ?? partName(prefix, next++);
    parts.set(entry, snapshot(entry, part));
    out.put.push([part, toJson(entry)]);
  }
  if (before !== undefined) {
    for (const [entry, { part }] of before.parts) if (!parts.has(entry)) out.del.push(part);
  }
  return { parts, next };
}

/** Reads a block window's parts as (number, checked entries) pairs, at most `maxBlocks`. */
export function loadBlocks<T>(
  names: readonly string[],
  read: PartReader,
  prefix: string,
  check: (value: unknown) => T[],
  maxBlocks: number,
  what: string,
): [number, T[]][] {
  const mine = names.filter((name) => name.startsWith(prefix));
  if (mine.length > maxBlocks) invalid(`${what} has too many blocks`);
  return mine.map((name) => [partNumber(name, prefix, what), check(read(name))]);
}

/** Writes into `out` the blocks a window's save must write (every block when `full`). */
export function blockChanges<T>(
  window: { changes(): SeenChanges<T>; unsaved(): void },
  full: boolean,
  prefix: string,
  out: PartWrites,
): void {
  if (full) window.unsaved();
  const changes = window.changes();
  for (const [n, entries] of changes.put) out.put.push([partName(prefix, n), entries]);
  for (const n of changes.delete) out.del.push(partName(prefix, n));
}
