/**
 * Reading a peer's state files (journal.ts): the compacted state, then the
 * commits of the journal replayed over it, with the checks of journal.ts's
 * module header (torn last commit, compaction cut short, rolled-back files).
 *
 * Values that come from `state.jsonl` are not kept as text: only where
 * they are in the file ({@linkcode StateValues}). While the store opens, the
 * file's bytes are at hand and a value is decoded from them; once
 * {@linkcode StateValues.release} is called, a value is read back from the
 * file when asked for. So a peer with 100,000 conversations keeps their
 * state on disk, not in memory, until one of them is used. Values put by
 * the journal's commits are kept as text until the next compaction.
 *
 * @module
 */

import { join } from "node:path";
import { fromUtf8, utf8 } from "../crypto/bytes.ts";
import { describeError, StoreError, wrapIoError } from "./errors.ts";
import {
  type Change,
  decodeCommit,
  decodeJournalHeader,
  decodeStateHeader,
  decodeStateLine,
  isKey,
  MAX_VALUE_BYTES,
  type RecordCipher,
  stateLineContext,
} from "./journal_format.ts";

/** The compacted state, in the peer folder. */
export const STATE_FILE = "state.jsonl";
/** The commits since the state was written, in the peer folder. */
export const JOURNAL_FILE = "journal.jsonl";
/** Largest state or journal file read: V8's longest string is 2^29 - 24 characters. */
export const MAX_FILE_BYTES = 512 * 1024 * 1024 - 1024;

/** A value: its JSON text, or the slot of where it is in state.jsonl. */
export type Value = string | number;

/** What {@linkcode load} found. */
export interface Loaded {
  /** Every key's value. */
  values: Map<string, Value>;
  /** Where the values held as slots are. */
  state: StateValues;
  /** The folder's store ID (both headers). */
  store: string;
  /** Generation of the state file. */
  generation: number;
  /** Generation of the journal file (the state's, or one less while a rotation is due). */
  journalGeneration: number;
  /** The last commit's number. */
  seq: number;
  /** Size of state.jsonl. */
  stateBytes: number;
  /** Bytes of the journal up to its last good line (where appends go). */
  journalBytes: number;
  /**
   * Bytes of the journal up to its last byte that is not zero: past
   * `journalBytes`, a torn commit to be zeroed at open.
   */
  journalEnd: number;
  /** Size of the journal file (its zeros past the last line are space made ahead). */
  journalSize: number;
  /** Commits in the journal (after its header). */
  commitLines: number;
  /** The journal's base is not the state's seq: rotate it at once. */
  rotate: boolean;
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CLOSE = 0x7d;
/** `{"key":"`: how every line of state.jsonl begins. */
const KEY_PREFIX = utf8('{"key":"');
/** `","value":` after a plain line's key, `","nonce":` after a sealed one's. */
const VALUE_AFTER_KEY = utf8('","value":');
const NONCE_AFTER_KEY = utf8('","nonce":');

/** Where the values of one state.jsonl are, and how to read them. */
export class StateValues {
  /** Where state.jsonl is. */
  readonly path: string;
  /** Its generation. */
  readonly generation: number;
  readonly #cipher: RecordCipher | undefined;
  #bytes: Uint8Array | null;
  #file: Deno.FsFile | null = null;
  #offsets: Float64Array;
  #lengths: Int32Array;
  #count = 0;

  /** The values of the file at `path` whose bytes are `bytes` (held until {@linkcode release}). */
  constructor(
    path: string,
    bytes: Uint8Array,
    generation: number,
    cipher: RecordCipher | undefined,
  ) {
    this.path = path;
    this.#bytes = bytes;
    this.generation = generation;
    this.#cipher = cipher;
    this.#offsets = new Float64Array(64);
    this.#lengths = new Int32Array(64);
  }

  /** Notes a value at `offset` (`length` bytes: a plain line's value, a sealed line whole). */
  add(offset: number, length: number): number {
    if (this.#count === this.#offsets.length) {
      const offsets = new Float64Array(2 * this.#count);
      const lengths = new Int32Array(2 * this.#count);
      offsets.set(this.#offsets);
      lengths.set(this.#lengths);
      this.#offsets = offsets;
      this.#lengths = lengths;
    }
    this.#offsets[this.#count] = offset;
    this.#lengths[this.#count] = length;
    return this.#count++;
  }

  /** The raw bytes of slot `slot` (a plain value's JSON, or a sealed line). */
  bytes(slot: number): Uint8Array {
    const offset = this.#offsets[slot]!;
    const length = this.#lengths[slot]!;
    if (this.#bytes !== null) return this.#bytes.subarray(offset, offset + length);
    try {
      this.#file ??= Deno.openSync(this.path, { read: true });
      const out = new Uint8Array(length);
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      for (let read = 0; read < length;) {
        const n = this.#file.readSync(out.subarray(read));
        if (n === null) throw new Error("the file is shorter than when it was read");
        read += n;
      }
      return out;
    } catch (e) {
      throw wrapIoError(e, "read", this.path);
    }
  }

  /**
   * The JSON text of the value of `key` in slot `slot` (opened with the
   * vault for an encrypted peer).
   *
   * @throws {StoreError} `io`; `too_large` past {@linkcode MAX_VALUE_BYTES};
   *   `tampered`, `corrupt` for an encrypted line
   *   (its line damaged where the fast reader does not look)
   */
  text(slot: number, key: string): string {
    // a sealed line is its value and some 60 bytes more
    if (this.#lengths[slot]! > MAX_VALUE_BYTES + (this.#cipher === undefined ? 0 : 1024)) {
      throw new StoreError(
        "too_large",
        `Cannot load ${key} of ${this.path}: ${this.#lengths[slot]} bytes exceeds the limit of ` +
          `${MAX_VALUE_BYTES} for one value; unMessage leaves it untouched`,
        this.path,
      );
    }
    const raw = this.bytes(slot);
    if (this.#cipher === undefined) {
      try {
        return decode(raw, this.path);
      } catch (e) {
        throw e instanceof StoreError ? withKey(e, key) : e;
      }
    }
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(decode(raw, this.path));
    } catch (e) {
      if (e instanceof StoreError) throw withKey(e, key);
      throw new StoreError(
        "corrupt",
        `Cannot load ${key} of ${this.path}: its line is not valid JSON; ` +
          "unMessage leaves it untouched",
        this.path,
      );
    }
    let plain: Uint8Array;
    try {
      plain = this.#cipher.openRecord(
        line.nonce,
        line.sealed,
        stateLineContext(this.generation, key),
        this.path,
      );
    } catch (e) {
      throw e instanceof StoreError ? withKey(e, key) : e;
    }
    try {
      return fromUtf8(plain);
    } finally {
      plain.fill(0);
    }
  }

  /** Drops the file's bytes: values are read from the file from now on. */
  release(): void {
    this.#bytes = null;
  }

  /** Closes the file (values can be read again: it is reopened). */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

/** `e` saying which value failed: its key. */
function withKey(e: StoreError, key: string): StoreError {
  return new StoreError(e.code, `${describeError(e)} (key ${key})`, e.path, { cause: e });
}

function startsWith(bytes: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

/** Reads a regular file of at most {@linkcode MAX_FILE_BYTES}; undefined if it does not exist. */
function readIfExists(path: string): Uint8Array | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw wrapIoError(e, "read", path);
  }
  if (!info.isFile) {
    throw new StoreError(
      "io",
      `Cannot read ${path}: not a regular file (a link, a folder or a device); move it away`,
      path,
    );
  }
  if (info.size > MAX_FILE_BYTES) {
    throw new StoreError(
      "too_large",
      `Cannot load ${path}: ${info.size} bytes exceeds the limit of ${MAX_FILE_BYTES}`,
      path,
    );
  }
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    throw wrapIoError(e, "read", path);
  }
}

/** Replaces what is not UTF-8 with U+FFFD: three times faster than the strict decoder. */
const lenient = new TextDecoder();

/** UTF-8 text of `bytes`, read from `path`. */
export function decode(bytes: Uint8Array, path: string): string {
  try {
    const decoded = lenient.decode(bytes);
    // U+FFFD is rare in real text: only then is the strict decoder asked
    return decoded.includes("\uFFFD") ? fromUtf8(bytes) : decoded;
  } catch {
    throw new StoreError(
      "corrupt",
      `Cannot load ${path}: not UTF-8 text; unMessage leaves it untouched`,
      path,
    );
  }
}

function rolledBack(dir: string, why: string): StoreError {
  return new StoreError(
    "rolled_back",
    `Cannot open the conversations in ${dir}: ${why}. One of ${STATE_FILE} and ${JOURNAL_FILE} ` +
      "was replaced by an older copy (a restored backup?), which could reuse message keys; " +
      "unMessage leaves both untouched: put back the matching copy of the other file, or both " +
      "files of one backup",
    dir,
  );
}

/**
 * Reads the lines of state.jsonl: each key with where its value is (a
 * line not as this code writes it, edited by hand, is parsed and its value
 * kept as text).
 */
function readState(
  dir: string,
  bytes: Uint8Array,
  cipher: RecordCipher | undefined,
): {
  values: Map<string, Value>;
  state: StateValues;
  store: string;
  generation: number;
  seq: number;
} {
  const path = join(dir, STATE_FILE);
  const firstEnd = bytes.indexOf(NEWLINE);
  const headerText = decode(bytes.subarray(0, firstEnd < 0 ? bytes.length : firstEnd), path);
  const header = decodeStateHeader(headerText, path, cipher);
  const state = new StateValues(path, bytes, header.generation, cipher);
  const values = new Map<string, Value>();
  let line = 1;
  for (let start = firstEnd + 1; firstEnd >= 0 && start < bytes.length; line++) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0) end = bytes.length;
    const [key, value] = readLine(bytes, start, end, state, cipher, line + 1);
    if (values.has(key)) {
      throw new StoreError(
        "invalid",
        `Cannot load ${path} line ${line + 1}: key ${key} appears twice`,
        path,
      );
    }
    values.set(key, value);
    start = end + 1;
  }
  if (values.size !== header.keys) {
    throw new StoreError(
      "invalid",
      `Cannot load ${path}: it holds ${values.size} keys, its header says ${header.keys}; ` +
        "unMessage leaves it untouched",
      path,
    );
  }
  return { values, state, store: header.store, generation: header.generation, seq: header.seq };
}

/** One line of state.jsonl (bytes `start` to `end`): its key and its value or slot. */
function readLine(
  bytes: Uint8Array,
  start: number,
  end: number,
  state: StateValues,
  cipher: RecordCipher | undefined,
  line: number,
): [string, Value] {
  if (startsWith(bytes, start, KEY_PREFIX)) {
    const keyStart = start + KEY_PREFIX.length;
    const keyEnd = bytes.indexOf(QUOTE, keyStart);
    if (keyEnd > 0 && keyEnd < end) {
      // ASCII (isKey below); apply() does not build an argument array as a spread does
      const key = String.fromCharCode.apply(null, bytes.subarray(keyStart, keyEnd) as never);
      const after = cipher === undefined ? VALUE_AFTER_KEY : NONCE_AFTER_KEY;
      if (isKey(key) && startsWith(bytes, keyEnd, after) && bytes[end - 1] === CLOSE) {
        // a plain line: its value's bytes; a sealed one: the line, opened when read
        if (cipher === undefined) {
          const from = keyEnd + after.length;
          return [key, state.add(from, end - 1 - from)];
        }
        return [key, state.add(start, end - start)];
      }
    }
  }
  // edited by hand: parsed as a whole, its value kept as text
  const text = decode(bytes.subarray(start, end), state.path);
  return decodeStateLine(text, state.generation, state.path, line, cipher);
}

/** Loads the state files of `dir` (journal.ts's module header says what is accepted). */
export function load(dir: string, cipher: RecordCipher | undefined): Loaded {
  const statePath = join(dir, STATE_FILE);
  const stateBytes = readIfExists(statePath);
  if (stateBytes === undefined) {
    throw new StoreError(
      "not_found",
      `Cannot open the conversations in ${dir}: ${STATE_FILE} is missing`,
      statePath,
    );
  }
  const read = readState(dir, stateBytes, cipher);
  const journalBytes = readIfExists(join(dir, JOURNAL_FILE));
  if (journalBytes === undefined) {
    // only a first generation is ever without a journal (crash while creating it)
    if (read.generation !== 1 || read.seq !== 0) {
      throw rolledBack(dir, `${JOURNAL_FILE} is missing`);
    }
    return {
      ...read,
      journalGeneration: read.generation,
      stateBytes: stateBytes.length,
      journalBytes: 0,
      journalEnd: 0,
      journalSize: 0,
      commitLines: 0,
      rotate: true,
    };
  }
  return replay(dir, journalBytes, { ...read, stateBytes: stateBytes.length }, cipher);
}

function replay(
  dir: string,
  bytes: Uint8Array,
  state: Omit<
    Loaded,
    "journalBytes" | "journalEnd" | "journalSize" | "commitLines" | "rotate" | "journalGeneration"
  >,
  cipher: RecordCipher | undefined,
): Loaded {
  const path = join(dir, JOURNAL_FILE);
  // zeros at the end are space made ahead for commits (journal.ts)
  let content = bytes.length;
  while (content > 0 && bytes[content - 1] === 0) content--;
  // everything after the last newline is a torn commit
  const end = bytes.subarray(0, content).lastIndexOf(NEWLINE) + 1;
  const lines = decode(bytes.subarray(0, end), path).split("\n");
  lines.pop();
  if (lines.length === 0) throw rolledBack(dir, `${JOURNAL_FILE} has no header`);
  const header = decodeJournalHeader(lines[0]!, path, cipher);
  if (header.store !== state.store) {
    // copied from another peer folder (a sync tool, a restore into the wrong folder)
    throw new StoreError(
      "invalid",
      `Cannot open the conversations in ${dir}: ${JOURNAL_FILE} belongs to another ` +
        `${STATE_FILE} (store ${header.store}, not ${state.store}): a file copied from another ` +
        "peer folder? unMessage leaves both untouched: put back this folder's own journal",
      path,
    );
  }
  const current = header.generation === state.generation && header.base === state.seq;
  // compaction wrote the state and crashed before the new journal replaced this one
  const previous = header.generation + 1 === state.generation && header.base <= state.seq;
  if (!current && !previous) {
    throw rolledBack(
      dir,
      `${STATE_FILE} is generation ${state.generation} at commit ${state.seq}, ` +
        `${JOURNAL_FILE} generation ${header.generation} from commit ${header.base}`,
    );
  }
  let seq = header.base;
  let good = end;
  let commitLines = 0;
  for (let i = 1; i < lines.length; i++) {
    let commit;
    try {
      commit = decodeCommit(lines[i]!, header.generation, path, i + 1, cipher);
    } catch (e) {
      // a last line that does not decode is a commit torn by a crash (never acknowledged)
      if (
        i === lines.length - 1 && !(e instanceof StoreError && e.code === "passphrase_required")
      ) {
        good -= utf8(lines[i]!).length + 1;
        break;
      }
      throw e;
    }
    if (commit.seq !== seq + 1) {
      throw new StoreError(
        "invalid",
        `Cannot load ${path} line ${i + 1}: commit ${commit.seq} follows commit ${seq}; ` +
          "unMessage leaves it untouched",
        path,
      );
    }
    seq = commit.seq;
    commitLines++;
    if (seq <= state.seq) continue; // already in the state
    for (const change of commit.changes) apply(state.values, change);
  }
  return {
    ...state,
    journalGeneration: header.generation,
    seq: Math.max(seq, state.seq),
    journalBytes: good,
    journalEnd: content,
    journalSize: bytes.length,
    commitLines,
    rotate: !current,
  };
}

function apply(values: Map<string, Value>, [key, text]: Change): void {
  if (text === null) values.delete(key);
  else values.set(key, text);
}
