/**
 * The durable key-value store of a peer's conversations and requests: a
 * compacted `state.jsonl` and an append-only `journal.jsonl` of the commits
 * since (formats in journal_format.ts, reading in journal_load.ts), with
 * group commit. docs/architecture.md "Where state lives" and "Crash safety"
 * give the whole argument; in short:
 *
 * - Writers stage changes ({@linkcode Journal.stage}) and ask for a commit
 *   ({@linkcode Journal.commit}); everything staged until the commit runs
 *   (one `setImmediate` later) goes into one journal line, written and
 *   fdatasync'd, and every promise waiting for it resolves once that line
 *   is durable. A key staged twice is written once, with its last value.
 * - File calls are synchronous (a write and its fdatasync take about 0.15
 *   ms here; Deno's asynchronous calls add about 0.05 ms and twice the CPU
 *   each), but for the fdatasync of a commit that follows the last one
 *   within {@linkcode BUSY_COMMIT_MS}: it runs asynchronously, the peer goes
 *   on reading and sealing, and what is staged meanwhile goes into the next
 *   commit. At most one fdatasync runs at a time, so only the last line can
 *   be not yet durable: after a crash, at most that line is torn (no
 *   newline, a line that does not decode, zeros where a page was lost); it
 *   is dropped and zeroed at open.
 * - The journal is extended {@linkcode JOURNAL_EXTENT_BYTES} at a time with
 *   zeros ahead of its last line, and commits are written over them, so a
 *   commit's fdatasync writes no metadata. Zeros after the last line are
 *   free space to a reader.
 * - Compaction (when the journal outgrows the state, and at close) writes
 *   the state as of the last commit `S` as `state.jsonl` of generation
 *   `G+1`, then a new empty `journal.jsonl` of `G+1` based at `S` (each
 *   atomically). Open accepts the pair a crash between the two leaves and
 *   finishes the rotation; any other pairing is refused (`rolled_back`),
 *   authenticated for an encrypted peer (docs/threat-model.md says what it
 *   cannot detect).
 *
 * @module
 */

import { join } from "node:path";
import { setImmediate } from "node:timers";
import { concatBytes, utf8 } from "../crypto/bytes.ts";
import { writeAllSync, writeFileAtomicSync } from "./atomic.ts";
import { StoreError, wrapIoError } from "./errors.ts";
import {
  encodeCommit,
  encodeJournalHeader,
  encodeStateFile,
  isKey,
  MAX_VALUE_BYTES,
  newStoreId,
  type RecordCipher,
} from "./journal_format.ts";
import {
  JOURNAL_FILE,
  load,
  type Loaded,
  STATE_FILE,
  StateValues,
  type Value,
} from "./journal_load.ts";

export { JOURNAL_FILE, MAX_FILE_BYTES, STATE_FILE } from "./journal_load.ts";
export { MAX_VALUE_BYTES } from "./journal_format.ts";

/** Journal size below which it is never compacted: a rewrite costs about as much as 4 MiB of commits. */
export const MIN_COMPACT_BYTES = 4 * 1024 * 1024;
/** Compact once the journal is this many times the state: rewrites stay a fixed share of the writes. */
export const COMPACT_RATIO = 2;
/**
 * A commit this long after the last one ended is made with a blocking
 * fdatasync (the lowest latency: one message at a time); one sooner, while
 * saves keep coming, with an asynchronous one, so that the peer goes on
 * with its other work meanwhile and what is saved during it joins the next
 * commit. 2 ms: more than a loopback round trip of one message.
 */
export const BUSY_COMMIT_MS = 2;
/**
 * Space the journal is extended by, ahead of its last line, as zeros: a
 * commit written over them changes no file size, so its fdatasync writes
 * no metadata (about half the time of one that grows the file, and far
 * fewer slow ones). 256 KiB: about 150 commits of a message each.
 */
export const JOURNAL_EXTENT_BYTES = 256 * 1024;

/** What a store counts, for benchmarks (fsyncs per message) and tests. */
export interface JournalStats {
  /** Commits written (one line and one fdatasync each). */
  commits: number;
  /** fsync and fdatasync calls, compaction included. */
  syncs: number;
  /** Compactions done. */
  compactions: number;
  /** Changes staged (saves before merging). */
  staged: number;
  /** Commits that failed (their changes were not written). */
  failed: number;
}

/** Options of {@linkcode Journal.open} and {@linkcode Journal.create}. */
export interface JournalOptions {
  /** Seals every line (encrypted peers). */
  cipher?: RecordCipher;
}

/** A peer's state files, opened by the process that holds the peer's lock. */
export class Journal {
  /** What this journal counted since it was opened. */
  readonly stats: JournalStats = {
    commits: 0,
    syncs: 0,
    compactions: 0,
    staged: 0,
    failed: 0,
  };
  readonly #dir: string;
  readonly #cipher: RecordCipher | undefined;
  readonly #values: Map<string, Value>;
  #state: StateValues;
  #pending = new Map<string, string | null>();
  /**
   * Called when a commit is about to be written, before what is staged is
   * taken: a writer that stages only then (PeerStore's saves that encode
   * their value at commit time) joins this commit.
   */
  beforeCommit: (() => void) | undefined = undefined;
  #waiters: PromiseWithResolvers<void>[] = [];
  #scheduled = false;
  #file: Deno.FsFile | null = null;
  /** The folder's store ID, in both files' headers. */
  readonly #store: string;
  /** Generation of the journal file (its commits are bound to it). */
  #generation: number;
  /** Generation of the state file (one more than the journal's while a rotation is due). */
  #stateGeneration: number;
  #seq: number;
  #stateBytes: number;
  /** Where the next commit is written: the end of the journal's last line. */
  #journalBytes: number;
  /** The end of a torn commit after the last line, zeroed when the file is opened. */
  #journalEnd: number;
  /** Size of the journal file: past `#journalBytes`, zeros made ahead. */
  #journalSize = 0;
  #commitLines: number;
  #compactAt: number;
  #broken: StoreError | null = null;
  /** The asynchronous fdatasync of the last commit, while it runs. */
  #syncing: Promise<void> | null = null;
  /** When the last commit was durable (performance.now()). */
  #lastCommit = -Infinity;

  private constructor(dir: string, cipher: RecordCipher | undefined, loaded: Loaded) {
    this.#dir = dir;
    this.#cipher = cipher;
    this.#values = loaded.values;
    this.#state = loaded.state;
    this.#store = loaded.store;
    this.#generation = loaded.journalGeneration;
    this.#stateGeneration = loaded.generation;
    this.#seq = loaded.seq;
    this.#stateBytes = loaded.stateBytes;
    this.#journalBytes = loaded.journalBytes;
    this.#journalEnd = loaded.journalEnd;
    this.#commitLines = loaded.commitLines;
    this.#compactAt = compactThreshold(loaded.stateBytes);
  }

  /**
   * Creates the state files of `dir` holding `values` (key → JSON text):
   * a new peer (empty) or one migrated from an older layout.
   *
   * @throws {StoreError} `io`
   */
  static create(dir: string, values: Map<string, string>, options: JournalOptions = {}): Journal {
    const journal = new Journal(dir, options.cipher, {
      values: new Map(values),
      state: new StateValues(join(dir, STATE_FILE), new Uint8Array(), 0, options.cipher),
      store: newStoreId(),
      generation: 0,
      journalGeneration: 0,
      seq: 0,
      stateBytes: 0,
      journalBytes: 0,
      journalEnd: 0,
      journalSize: 0,
      commitLines: 0,
      rotate: true,
    });
    journal.#compact();
    return journal;
  }

  /**
   * Opens the state files of `dir` (see the module header for what is
   * accepted), cutting a torn last commit off the journal.
   *
   * @throws {StoreError} `not_found` (no state file), `rolled_back`,
   *   `corrupt`, `invalid`, `tampered`, `too_large`, `passphrase_required`, `io`
   */
  static open(dir: string, options: JournalOptions = {}): Journal {
    const loaded = load(dir, options.cipher);
    const journal = new Journal(dir, options.cipher, loaded);
    if (loaded.rotate) {
      journal.#compact();
    } else {
      journal.#openFile();
    }
    return journal;
  }

  /**
   * The current value of `key` (staged or committed), as JSON text; a
   * value as it is in state.jsonl is read from there.
   *
   * @throws {StoreError} `io` (reading state.jsonl), `tampered`
   */
  get(key: string): string | undefined {
    if (this.#pending.has(key)) return this.#pending.get(key) ?? undefined;
    const value = this.#values.get(key);
    return typeof value === "number" ? this.#state.text(value, key) : value;
  }

  /** Calls `fn` with every current key that starts with `prefix`. */
  forEachKey(prefix: string, fn: (key: string) => void): void {
    for (const key of this.#values.keys()) {
      if (key.startsWith(prefix) && !this.#pending.has(key)) fn(key);
    }
    for (const [key, text] of this.#pending) {
      if (text !== null && key.startsWith(prefix)) fn(key);
    }
  }

  /**
   * Stops holding the bytes state.jsonl was read from (after the peer has
   * loaded what it needs at start-up): its values are read from the file
   * when asked for.
   */
  release(): void {
    this.#state.release();
  }

  /** The current keys that start with `prefix`, sorted. */
  keys(prefix = ""): string[] {
    const out: string[] = [];
    for (const key of this.#values.keys()) {
      if (key.startsWith(prefix) && this.#pending.get(key) !== null) out.push(key);
    }
    for (const [key, text] of this.#pending) {
      if (text !== null && key.startsWith(prefix) && !this.#values.has(key)) out.push(key);
    }
    return out.sort();
  }

  /**
   * Stages a change for the next commit: `text` (JSON) for `key`, or null to
   * delete it. A later change of the same key replaces it.
   *
   * @throws {StoreError} `bad_name` for an invalid key; `too_large`
   */
  stage(key: string, text: string | null): void {
    if (!isKey(key)) {
      throw new StoreError("bad_name", `Cannot store key ${JSON.stringify(key)}: not a valid key`);
    }
    if (text !== null && text.length > MAX_VALUE_BYTES) {
      throw new StoreError(
        "too_large",
        `Cannot store ${key}: ${text.length} characters exceeds the limit of ${MAX_VALUE_BYTES}`,
      );
    }
    this.stats.staged++;
    // a delete of a key that exists nowhere is a no-op
    if (text === null && !this.#values.has(key)) this.#pending.delete(key);
    else this.#pending.set(key, text);
  }

  /**
   * Resolves once everything staged so far is durable (one commit for all
   * that is staged until it runs).
   *
   * @throws {StoreError} `io` when the write fails (nothing of it counts)
   */
  commit(): Promise<void> {
    if (this.#broken !== null) return Promise.reject(this.#broken);
    const waiter = Promise.withResolvers<void>();
    this.#waiters.push(waiter);
    if (!this.#scheduled && this.#syncing === null) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return waiter.promise;
  }

  /** Commits what is staged, compacts if the journal holds anything, and closes the file. */
  async close(): Promise<void> {
    if (this.#file === null) return;
    while (this.#syncing !== null) await this.#syncing;
    this.#flush(true);
    while (this.#syncing !== null) await this.#syncing;
    if (this.#file === null) return;
    if (this.#broken === null && this.#commitLines > 0) {
      try {
        this.#compact();
      } catch {
        // the journal is intact: the next open replays it
      }
    }
    this.#file?.close();
    this.#file = null;
    this.#state.close();
    this.#broken ??= new StoreError("io", `Cannot write ${this.#dir}: its store is closed`);
  }

  /**
   * Writes what is staged as one commit; its waiters resolve once it is
   * durable. While an asynchronous fdatasync runs, nothing is written: the
   * staged changes wait for it and go together into the next commit.
   */
  #flush(blocking = false): void {
    if (this.#syncing !== null) {
      this.#scheduled = false;
      return; // the running sync flushes again when it ends
    }
    // late writers stage now (a commit they ask for is this one)
    this.beforeCommit?.();
    this.#scheduled = false;
    const waiters = this.#waiters;
    const changes = this.#pending;
    this.#waiters = [];
    this.#pending = new Map();
    if (changes.size === 0) {
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      this.#append(changes);
    } catch (e) {
      this.stats.failed++;
      for (const w of waiters) w.reject(e);
      return;
    }
    for (const [key, text] of changes) {
      if (text === null) this.#values.delete(key);
      else this.#values.set(key, text);
    }
    this.stats.syncs++;
    if (blocking || performance.now() - this.#lastCommit >= BUSY_COMMIT_MS) {
      try {
        this.#file!.syncDataSync();
      } catch (e) {
        this.#fail(e, waiters);
        return;
      }
      this.#durable(waiters);
      return;
    }
    this.#syncing = this.#file!.syncData().then(
      () => {
        this.#syncing = null;
        this.#durable(waiters);
        if (this.#pending.size > 0 || this.#waiters.length > 0) this.#flush();
      },
      (e) => {
        this.#syncing = null;
        this.#fail(e, waiters);
      },
    );
  }

  /** A commit is durable: its waiters resolve, and the journal is compacted if it is due. */
  #durable(waiters: PromiseWithResolvers<void>[]): void {
    this.#lastCommit = performance.now();
    this.stats.commits++;
    for (const w of waiters) w.resolve();
    if (this.#journalBytes >= this.#compactAt) {
      try {
        this.#compact();
      } catch {
        // retried after as many bytes again; the journal stays valid meanwhile
        this.#compactAt = this.#journalBytes + compactThreshold(this.#stateBytes);
      }
    }
  }

  /**
   * An fdatasync failed: what the file holds is not known to be durable, so
   * the journal takes no more commits (a restart reads what is on disk).
   */
  #fail(e: unknown, waiters: PromiseWithResolvers<void>[]): void {
    this.stats.failed++;
    this.#broken = wrapIoError(e, "sync", join(this.#dir, JOURNAL_FILE));
    for (const w of waiters) w.reject(this.#broken);
    for (const w of this.#waiters.splice(0)) w.reject(this.#broken);
  }

  #append(changes: Map<string, string | null>): void {
    if (this.#broken !== null) throw this.#broken;
    const file = this.#file!;
    const seq = this.#seq + 1;
    const line = utf8(encodeCommit(seq, changes, this.#generation, this.#cipher) + "\n");
    const end = this.#journalBytes + line.length;
    // past the space made ahead: the line and the next extent of zeros in one write
    const size = end > this.#journalSize ? end + JOURNAL_EXTENT_BYTES : this.#journalSize;
    const bytes = size > this.#journalSize ? concatBytes(line, new Uint8Array(size - end)) : line;
    const path = join(this.#dir, JOURNAL_FILE);
    try {
      file.seekSync(this.#journalBytes, Deno.SeekMode.Start);
      writeAllSync(file, bytes);
    } catch (e) {
      try {
        // zero the partial line, so the next commit starts a clean line
        file.seekSync(this.#journalBytes, Deno.SeekMode.Start);
        writeAllSync(file, new Uint8Array(line.length));
        file.syncDataSync();
        this.#journalSize = file.statSync().size;
      } catch (e2) {
        this.#broken = wrapIoError(e2, "repair", path);
      }
      throw wrapIoError(e, "write", path);
    }
    this.#seq = seq;
    this.#journalBytes = end;
    this.#journalSize = size;
    this.#commitLines++;
  }

  /**
   * Writes the state as of the last commit as the next generation and
   * starts a new journal; every value is then held as where it is in the
   * new state file, not as text.
   */
  #compact(): void {
    const generation = Math.max(this.#generation, this.#stateGeneration) + 1;
    const cipher = this.#cipher;
    const keys = [...this.#values.keys()].sort();
    const { bytes: state, where } = encodeStateFile(
      keys,
      (key: string) => {
        const value = this.#values.get(key)!;
        if (cipher !== undefined) {
          return typeof value === "number" ? this.#state.text(value, key) : value;
        }
        return typeof value === "number" ? this.#state.bytes(value) : utf8(value);
      },
      { store: this.#store, generation, seq: this.#seq },
      cipher,
    );
    const statePath = join(this.#dir, STATE_FILE);
    writeFileAtomicSync(statePath, state);
    this.stats.syncs += 2;
    // from here the values are where the new state file has them
    this.#state.close();
    this.#state = new StateValues(statePath, state, generation, cipher);
    keys.forEach((key, i) => this.#values.set(key, this.#state.add(where[i]![0], where[i]![1])));
    this.#state.release();
    this.#stateGeneration = generation;
    this.#stateBytes = state.length;
    // a failure here leaves the old journal, which open() accepts with this state
    const journalHeader = utf8(
      encodeJournalHeader({ store: this.#store, generation, base: this.#seq }, cipher) + "\n",
    );
    writeFileAtomicSync(join(this.#dir, JOURNAL_FILE), journalHeader);
    this.stats.syncs += 2;
    this.stats.compactions++;
    this.#generation = generation;
    this.#journalBytes = journalHeader.length;
    this.#commitLines = 0;
    this.#compactAt = compactThreshold(state.length);
    this.#file?.close();
    this.#file = null;
    this.#openFile();
  }

  #openFile(): void {
    const path = join(this.#dir, JOURNAL_FILE);
    try {
      this.#file = Deno.openSync(path, { read: true, write: true });
      this.#journalSize = this.#file.statSync().size;
      // zero a torn last line (anything past the last good one)
      if (this.#journalEnd > this.#journalBytes) {
        this.#file.seekSync(this.#journalBytes, Deno.SeekMode.Start);
        writeAllSync(this.#file, new Uint8Array(this.#journalEnd - this.#journalBytes));
        this.#file.syncDataSync();
      }
      this.#journalEnd = 0;
    } catch (e) {
      this.#file?.close();
      this.#file = null;
      throw wrapIoError(e, "open", path);
    }
  }
}

function compactThreshold(stateBytes: number): number {
  return Math.max(MIN_COMPACT_BYTES, COMPACT_RATIO * stateBytes);
}
