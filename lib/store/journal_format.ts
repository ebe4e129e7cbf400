/**
 * The line formats of a peer's two state files (journal.ts owns their use):
 *
 * ```
 * state.jsonl    the state as of commit `seq`, one key per line, sorted:
 *   {"unmessage-state":1,"store":"9f3a0c…","generation":4,"seq":120,"keys":2}
 *   {"key":"c/0a1b…","value":{…}}
 *   {"key":"requests","value":{…}}
 *
 * journal.jsonl  every commit since, one per line, appended:
 *   {"unmessage-journal":1,"store":"9f3a0c…","generation":4,"base":120}
 *   {"seq":121,"put":{"c/0a1b…":{…},"c/0a1b…/o/0000000007":{…}},"del":["c/0a1b…/o/0000000006"]}
 * ```
 *
 * Values are JSON of the caller's own format, written compactly (no
 * indentation), so each line is one conversation part or one commit.
 *
 * Encrypted peers (vault.ts) keep the same lines with the secret parts
 * sealed: a state line becomes `{"key":…,"nonce":…,"sealed":…}`, a commit
 * `{"seq":…,"nonce":…,"sealed":…}` whose plaintext is `{"put":…,"del":…}`,
 * and each header carries a seal of nothing. The associated data names the
 * file, the generation and the key or sequence number (and, in headers,
 * the store ID and every number of the header), so no line can be moved to
 * another key, another commit or another generation, and a header cannot be
 * altered; the state header's key count catches lines dropped from the state
 * file. Both headers name the folder's random store ID, so a journal copied
 * from another folder is refused even when its numbers match.
 *
 * @module
 */

import { concatList, fromUtf8, utf8 } from "../crypto/bytes.ts";
import { StoreError } from "./errors.ts";

/** Format version in the `"unmessage-state"` field. */
export const STATE_FORMAT = 1;
/** Format version in the `"unmessage-journal"` field. */
export const JOURNAL_FORMAT = 1;
/**
 * Largest value: a conversation head with 2,000 skipped keys and 1 MiB
 * messages fits many times. A larger one in state.jsonl is refused when
 * read, before it is decoded (journal_load.ts).
 */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Longest key: `c/<104-character id>/<part>/<10 digits>` fits with room. */
export const MAX_KEY_LENGTH = 160;

/** Keys: lower-case letters and digits in up to four `/`-separated segments. */
const KEY_PATTERN = /^[a-z0-9]+(?:\/[a-z0-9]+){0,3}$/;

/** Seals and opens the secret part of a line (the peer's vault). */
export interface RecordCipher {
  /** Encrypts `plaintext` bound to `context`. */
  sealRecord(plaintext: Uint8Array, context: string): { nonce: string; sealed: string };
  /**
   * Decrypts what {@linkcode RecordCipher.sealRecord} made for `context`.
   *
   * @throws {StoreError} `tampered` or `invalid`, naming `path`
   */
  openRecord(nonce: unknown, sealed: unknown, context: string, path: string): Uint8Array;
}

/** One staged change: a key's new JSON text, or null to delete it. */
export type Change = readonly [key: string, text: string | null];

/** A decoded commit line. */
export interface Commit {
  /** Its sequence number: one more than the commit before. */
  seq: number;
  /** What it changed. */
  changes: Change[];
}

/** Whether `key` is a valid key. */
export function isKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(key);
}

const KEEP = "unMessage leaves it untouched: restore it from a backup or move the peer folder away";

function bad(path: string, line: number, why: string): StoreError {
  return new StoreError("invalid", `Cannot load ${path} line ${line}: ${why}; ${KEEP}`, path);
}

function parseLine(text: string, path: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoreError(
      "corrupt",
      `Cannot load ${path} line ${line}: not valid JSON; ${KEEP}`,
      path,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(path, line, "not a JSON object");
  }
  return value as Record<string, unknown>;
}

function count(value: unknown, path: string, line: number, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw bad(path, line, `${name} is not a non-negative integer`);
  }
  return value;
}

function sealed(
  cipher: RecordCipher | undefined,
  plaintext: string,
  context: string,
): string {
  if (cipher === undefined) return "";
  const { nonce, sealed } = cipher.sealRecord(utf8(plaintext), context);
  return `,"nonce":${JSON.stringify(nonce)},"sealed":${JSON.stringify(sealed)}`;
}

function open(
  cipher: RecordCipher,
  o: Record<string, unknown>,
  context: string,
  path: string,
): string {
  const plain = cipher.openRecord(o.nonce, o.sealed, context, path);
  try {
    return fromUtf8(plain);
  } finally {
    plain.fill(0);
  }
}

/** A store's random ID: 16 lower-case hex digits, the same in both files for all its generations. */
const STORE_ID_PATTERN = /^[0-9a-f]{16}$/;

/** A new random store ID (journal.ts, when a folder's state files are created). */
export function newStoreId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function storeId(value: unknown, path: string): string {
  if (typeof value !== "string" || !STORE_ID_PATTERN.test(value)) {
    throw bad(path, 1, "store is not a store ID");
  }
  return value;
}

/** The first line of state.jsonl. */
export interface StateHeader {
  /** The folder's store ID: its journal names the same one (a file from another folder does not). */
  store: string;
  /** Generation: one more at each compaction. */
  generation: number;
  /** The last commit the state holds. */
  seq: number;
  /** How many keys follow, one per line. */
  keys: number;
}

const stateHeaderContext = (h: StateHeader) =>
  `state.jsonl\0header\0${h.store}\0${h.generation}\0${h.seq}\0${h.keys}`;

/** Encodes the header line of state.jsonl (without its newline). */
export function encodeStateHeader(h: StateHeader, cipher?: RecordCipher): string {
  return `{"unmessage-state":${STATE_FORMAT},"store":"${h.store}","generation":${h.generation},` +
    `"seq":${h.seq},` +
    `"keys":${h.keys}${sealed(cipher, "", stateHeaderContext(h))}}`;
}

/**
 * Decodes the header line of state.jsonl.
 *
 * @throws {StoreError} `corrupt`, `invalid`, `tampered`; `passphrase_required`
 *   / `invalid` when it is (not) sealed but the peer is not (is)
 */
export function decodeStateHeader(
  text: string,
  path: string,
  cipher?: RecordCipher,
): StateHeader {
  return decodeHeader(text, path, cipher, "unmessage-state", STATE_FORMAT, (o) => ({
    store: storeId(o.store, path),
    generation: count(o.generation, path, 1, "generation"),
    seq: count(o.seq, path, 1, "seq"),
    keys: count(o.keys, path, 1, "keys"),
  }), stateHeaderContext);
}

/** Reads a header line: its marker field and format, its numbers, and its seal. */
function decodeHeader<H>(
  text: string,
  path: string,
  cipher: RecordCipher | undefined,
  marker: string,
  format: number,
  numbers: (o: Record<string, unknown>) => H,
  context: (h: H) => string,
): H {
  const o = parseLine(text, path, 1);
  if (!(marker in o)) throw bad(path, 1, `not an unMessage file (no ${marker})`);
  if (o[marker] !== format) {
    throw bad(path, 1, `format ${JSON.stringify(o[marker])} is not supported`);
  }
  const h = numbers(o);
  checkSealing(o, cipher, path, 1);
  if (cipher !== undefined) open(cipher, o, context(h), path);
  return h;
}

function checkSealing(
  o: Record<string, unknown>,
  cipher: RecordCipher | undefined,
  path: string,
  line: number,
): void {
  const isSealed = "sealed" in o;
  if (isSealed && cipher === undefined) {
    throw new StoreError(
      "passphrase_required",
      `Cannot open ${path}: it is encrypted; give this peer's passphrase`,
      path,
    );
  }
  if (!isSealed && cipher !== undefined) {
    // an attacker or a stray copy could plant plain lines to be trusted
    throw bad(path, line, "it is stored in plain text but this peer is encrypted");
  }
}

/** The context a sealed state line of `key` is bound to. */
export const stateLineContext = (generation: number, key: string): string =>
  `state.jsonl\0${generation}\0${key}`;

/** Encodes one line of state.jsonl (without its newline); `text` is the value's JSON. */
export function encodeStateLine(
  key: string,
  text: string,
  generation: number,
  cipher?: RecordCipher,
): string {
  if (cipher === undefined) return `{"key":${JSON.stringify(key)},"value":${text}}`;
  return `{"key":${JSON.stringify(key)}${sealed(cipher, text, stateLineContext(generation, key))}}`;
}

/**
 * Decodes one line of state.jsonl into its key and value JSON, parsing it
 * whole: for a line edited by hand (journal_load.ts reads the lines it
 * writes without parsing them).
 *
 * @throws {StoreError} `corrupt`, `invalid`, `tampered`
 */
export function decodeStateLine(
  text: string,
  generation: number,
  path: string,
  line: number,
  cipher?: RecordCipher,
): [string, string] {
  const o = parseLine(text, path, line);
  const key = o.key;
  if (typeof key !== "string" || !isKey(key)) throw bad(path, line, "key is not valid");
  checkSealing(o, cipher, path, line);
  if (cipher !== undefined) return [key, open(cipher, o, stateLineContext(generation, key), path)];
  if (!("value" in o)) throw bad(path, line, "it has no value");
  return [key, JSON.stringify(o.value)];
}

/** The first line of journal.jsonl. */
export interface JournalHeader {
  /** The store ID of the state it continues. */
  store: string;
  /** The generation of the state it continues. */
  generation: number;
  /** The last commit of that state: the journal's first commit is one more. */
  base: number;
}

const journalHeaderContext = (h: JournalHeader) =>
  `journal.jsonl\0header\0${h.store}\0${h.generation}\0${h.base}`;

/** Encodes the header line of journal.jsonl (without its newline). */
export function encodeJournalHeader(h: JournalHeader, cipher?: RecordCipher): string {
  return `{"unmessage-journal":${JOURNAL_FORMAT},"store":"${h.store}",` +
    `"generation":${h.generation},` +
    `"base":${h.base}${sealed(cipher, "", journalHeaderContext(h))}}`;
}

/**
 * Decodes the header line of journal.jsonl.
 *
 * @throws {StoreError} as {@linkcode decodeStateHeader}
 */
export function decodeJournalHeader(
  text: string,
  path: string,
  cipher?: RecordCipher,
): JournalHeader {
  return decodeHeader(text, path, cipher, "unmessage-journal", JOURNAL_FORMAT, (o) => ({
    store: storeId(o.store, path),
    generation: count(o.generation, path, 1, "generation"),
    base: count(o.base, path, 1, "base"),
  }), journalHeaderContext);
}

const commitContext = (generation: number, seq: number) => `journal.jsonl\0${generation}\0${seq}`;

/** Encodes one commit line (without its newline); changes hold JSON texts. */
export function encodeCommit(
  seq: number,
  changes: Iterable<Change>,
  generation: number,
  cipher?: RecordCipher,
): string {
  const put: string[] = [];
  const del: string[] = [];
  for (const [key, text] of changes) {
    if (text === null) del.push(JSON.stringify(key));
    else put.push(`${JSON.stringify(key)}:${text}`);
  }
  const body = `"put":{${put.join(",")}},"del":[${del.join(",")}]`;
  if (cipher === undefined) return `{"seq":${seq},${body}}`;
  return `{"seq":${seq}${sealed(cipher, `{${body}}`, commitContext(generation, seq))}}`;
}

/**
 * Decodes one commit line.
 *
 * @throws {StoreError} `corrupt`, `invalid`, `tampered`
 */
export function decodeCommit(
  text: string,
  generation: number,
  path: string,
  line: number,
  cipher?: RecordCipher,
): Commit {
  const o = parseLine(text, path, line);
  const seq = count(o.seq, path, line, "seq");
  checkSealing(o, cipher, path, line);
  let body = o;
  if (cipher !== undefined) {
    body = parseLine(open(cipher, o, commitContext(generation, seq), path), path, line);
  }
  const { put, del } = body;
  if (typeof put !== "object" || put === null || Array.isArray(put) || !Array.isArray(del)) {
    throw bad(path, line, "a commit needs put and del");
  }
  const changes: Change[] = [];
  for (const [key, value] of Object.entries(put)) {
    if (!isKey(key)) throw bad(path, line, "a key is not valid");
    changes.push([key, JSON.stringify(value)]);
  }
  for (const key of del) {
    if (typeof key !== "string" || !isKey(key)) throw bad(path, line, "a key is not valid");
    changes.push([key, null]);
  }
  return { seq, changes };
}

const NEWLINE = new Uint8Array([0x0a]);

/**
 * The bytes of a whole state.jsonl of generation `header.generation` at
 * commit `header.seq` holding `keys` (sorted), each value given by `valueOf`
 * (its JSON bytes for a plain peer, its JSON text for an encrypted one),
 * and where each value's slot is in them: a plain value's bytes, an
 * encrypted line whole (journal_load.ts StateValues).
 */
export function encodeStateFile(
  keys: readonly string[],
  valueOf: (key: string) => Uint8Array | string,
  header: { store: string; generation: number; seq: number },
  cipher: RecordCipher | undefined,
): { bytes: Uint8Array; where: [offset: number, length: number][] } {
  const { generation } = header;
  const first = utf8(encodeStateHeader({ ...header, keys: keys.length }, cipher) + "\n");
  const chunks: Uint8Array[] = [first];
  const where: [offset: number, length: number][] = [];
  let offset = first.length;
  for (const key of keys) {
    const value = valueOf(key);
    let line: Uint8Array;
    if (cipher === undefined) {
      const raw = typeof value === "string" ? utf8(value) : value;
      line = plainLine(key, raw);
      const start = line.length - 1 - raw.length; // the value's bytes within the line
      where.push([offset + start, raw.length]);
    } else {
      const text = typeof value === "string" ? value : fromUtf8(value);
      line = utf8(encodeStateLine(key, text, generation, cipher));
      where.push([offset, line.length]);
    }
    chunks.push(line, NEWLINE);
    offset += line.length + 1;
  }
  return { bytes: concatList(chunks), where };
}

/** The state.jsonl line of a value held as raw JSON bytes (plain peers). */
function plainLine(key: string, value: Uint8Array): Uint8Array {
  const head = utf8(`{"key":${JSON.stringify(key)},"value":`);
  const out = new Uint8Array(head.length + value.length + 1);
  out.set(head);
  out.set(value, head.length);
  out[out.length - 1] = 0x7d; // }
  return out;
}
