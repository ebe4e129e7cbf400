/**
 * One peer's files, behind a small API for the core (`peer.ts`):
 *
 * ```
 * <peer>/profile.json              keys and settings (whatever the core gives)
 * <peer>/state.jsonl               conversations and requests, compacted (journal.ts)
 * <peer>/journal.jsonl             the commits since, appended
 * <peer>/tor/                      tor's folder (created here, used by tor/)
 * <peer>/peer.lock, peer.lock.json the one-process lock (see lock.ts)
 * ```
 *
 * The store owns the lock for its lifetime. The profile is one file written
 * atomically (atomic.ts). Conversations and requests are keys of the
 * journal: a conversation is a head value (`c/<id>`) and named parts
 * (`c/<id>/<part>`, such as one outbox entry each), so a save writes what
 * changed, not the whole conversation. Saves made at about the same time,
 * on any conversations, share one commit (group commit, journal.ts); a save
 * resolves once a commit holding it is durable, and a later save of the
 * same conversation can never land before an earlier one. When the peer has
 * a passphrase every file is encrypted with the vault (vault.ts); the
 * vault's salt travels in the profile's envelope. The store knows nothing of
 * what the values mean: the core passes a validator to each load.
 *
 * A folder of the first layout (`conversations/<id>.json`, `requests.json`)
 * is migrated at the first open (migrate.ts).
 *
 * Damaged data: a value that fails to load (corrupt, invalid ...) is
 * reported with the file and key and is never overwritten by this store: a
 * later save of it throws `refused`. The profile is never created over
 * existing conversations or over a profile path that exists in any form (a
 * dangling link to an unmounted volume, say): {@linkcode PeerStore.open}
 * refuses. Files of the folder that are not regular files are reported in
 * {@linkcode PeerStore.notices}.
 *
 * Deleting a conversation removes its keys in a commit; compaction later
 * drops them from the files (never overwritten with zeros: docs/threat-model.md).
 *
 * @module
 */

import { join } from "node:path";
import { wipe } from "../crypto/bytes.ts";
import {
  encodeJson,
  ensureDir,
  parseJson,
  quarantineFile,
  removeTempFiles,
  validateJson,
  type Validator,
  writeFileAtomic,
} from "./atomic.ts";
import { StoreError } from "./errors.ts";
import { type Journal, type JournalStats, STATE_FILE } from "./journal.ts";
import { acquirePeerLock, type PeerLock } from "./lock.ts";
import { conversationKey, REQUESTS_KEY } from "./migrate.ts";
import { type PeerPaths, peerPathsOf, validateConversationId } from "./paths.ts";
import { isVaultEnvelope, type Vault } from "./vault.ts";
import {
  openState,
  openVault,
  passphraseRequired,
  plainInEncrypted,
  readProfile,
  type VaultOptions,
} from "./peer_open.ts";
import {
  check,
  conversationKeys,
  type ConversationValidator,
  parseValue,
  type PartChanges,
  partKey,
  partsOf,
  type StoredParts,
  stringify,
} from "./values.ts";

export {
  type ConversationValidator,
  PART_NAME_PATTERN,
  type PartChanges,
  type StoredParts,
} from "./values.ts";

/** Options of {@linkcode PeerStore.open}. */
export type PeerStoreOptions = VaultOptions;

/** Result of {@linkcode PeerStore.loadConversations}. */
export interface LoadedConversations<T> {
  /** Conversations that loaded, by id. */
  loaded: Map<string, T>;
  /** One error per conversation that did not load (each names its file and id). */
  failed: StoreError[];
}

/** One peer's folder, open and locked (see the module header). */
export class PeerStore {
  /** Every path of the peer folder. */
  readonly paths: PeerPaths;
  /** What {@linkcode PeerStore.open} found to report: files that are not regular, old files left. */
  readonly notices: readonly StoreError[];
  readonly #lock: PeerLock;
  readonly #vault: Vault | undefined;
  readonly #journal: Journal;
  readonly #failed = new Map<string, StoreError>();
  /** Saves to encode when the next commit is written (saveConversationLater), by key. */
  readonly #late = new Map<
    string,
    {
      changes: () => { head: unknown; parts: PartChanges } | null;
      staged: PromiseWithResolvers<void>;
    }
  >();
  #profileWrite: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    paths: PeerPaths,
    lock: PeerLock,
    vault: Vault | undefined,
    journal: Journal,
    notices: StoreError[],
  ) {
    this.paths = paths;
    this.#lock = lock;
    this.#vault = vault;
    this.#journal = journal;
    this.notices = notices;
    journal.beforeCommit = () => this.#stageLate();
  }

  /**
   * Locks and opens the peer folder `dir` (created 0700 with `tor/` if
   * missing), removes temporary files left by interrupted writes, and opens
   * (or creates, or migrates) the state files. With a passphrase, an
   * existing encrypted profile is unlocked (the key is derived once here)
   * and a new peer is encrypted.
   *
   * @throws {StoreError} `locked`; `passphrase_required` (encrypted profile,
   *   no passphrase: ask for one and retry); `bad_passphrase`;
   *   `not_encrypted` (passphrase given for a plain-text profile); `refused`
   *   (conversations without a profile, or a profile path that cannot be
   *   read); `rolled_back`; `corrupt`, `invalid`, `too_large`, `tampered`
   *   for damaged files; `io`
   */
  static async open(dir: string, options: PeerStoreOptions = {}): Promise<PeerStore> {
    const paths = peerPathsOf(dir);
    const lock = await acquirePeerLock(dir);
    let vault: Vault | undefined;
    try {
      await ensureDir(paths.tor);
      // we hold the lock: any temporary file is from a dead writer
      await removeTempFiles(paths.dir);
      await removeTempFiles(paths.conversations);
      const profile = await readProfile(paths.profile);
      vault = await openVault(profile, paths.profile, options);
      const { journal, notices } = await openState(paths, profile, vault);
      return new PeerStore(paths, lock, vault, journal, notices);
    } catch (e) {
      vault?.destroy();
      await lock.release();
      throw e;
    }
  }

  /** True when files are encrypted with a passphrase. */
  get encrypted(): boolean {
    return this.#vault !== undefined;
  }

  /** Commits, fsyncs and saves counted so far (benchmarks show fsyncs per message). */
  get stats(): Readonly<JournalStats> {
    return this.#journal.stats;
  }

  /** Loads the profile; undefined if the peer has none yet. */
  async loadProfile<T>(validate: Validator<T>): Promise<T | undefined> {
    this.#checkOpen();
    const path = this.paths.profile;
    const bytes = await readProfile(path);
    if (bytes === undefined) return undefined;
    let value = parseJson(bytes, path);
    if (isVaultEnvelope(value)) {
      if (this.#vault === undefined) throw passphraseRequired(path);
      const plain = await this.#vault.open(value, "profile.json", path);
      value = parseJson(plain, path);
      wipe(plain);
    } else if (this.#vault !== undefined) {
      throw plainInEncrypted(path);
    }
    return validateJson(value, validate, path);
  }

  /** Atomically saves the profile (saves run in call order). */
  saveProfile(value: unknown): Promise<void> {
    this.#checkOpen();
    let bytes: Uint8Array;
    try {
      const plain = encodeJson(value);
      bytes = plain;
      if (this.#vault !== undefined) {
        bytes = encodeJson(this.#vault.seal(plain, "profile.json"));
        wipe(plain);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const write = this.#profileWrite.then(() => writeFileAtomic(this.paths.profile, bytes));
    this.#profileWrite = write.catch(() => {});
    return write;
  }

  /** Loads the pending requests; undefined if there are none. */
  loadRequests<T>(validate: Validator<T>): Promise<T | undefined> {
    try {
      this.#checkOpen();
      const text = this.#journal.get(REQUESTS_KEY);
      if (text === undefined) return Promise.resolve(undefined);
      const where = this.#where(REQUESTS_KEY);
      return Promise.resolve(this.#validate(REQUESTS_KEY, () => {
        const value = parseValue(text, where, this.#statePath);
        return check(() => validate(value), where, this.#statePath);
      }));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Saves the pending requests. */
  saveRequests(value: unknown): Promise<void> {
    return this.#write(REQUESTS_KEY, () => {
      this.#journal.stage(REQUESTS_KEY, stringify(value));
    });
  }

  /** Ids of the stored conversations, sorted. */
  listConversations(): Promise<string[]> {
    try {
      this.#checkOpen();
      const all = conversationKeys(this.#journal);
      return Promise.resolve([...all.keys()].filter((id) => all.get(id)!.head).sort());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Loads one conversation; undefined if it does not exist.
   *
   * @throws {StoreError} `bad_name` for an invalid id; `corrupt` or
   *   `invalid` naming the state file and the id
   */
  loadConversation<T>(id: string, validate: ConversationValidator<T>): Promise<T | undefined> {
    try {
      this.#checkOpen();
      const key = conversationKey(validateConversationId(id));
      const head = this.#journal.get(key);
      if (head === undefined) return Promise.resolve(undefined);
      const names: string[] = [];
      this.#journal.forEachKey(`${key}/`, (k) => names.push(k.slice(key.length + 1)));
      return Promise.resolve(this.#loadOne(id, head, this.#parts(key, names), validate));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Loads every conversation; one that does not load is listed in `failed`
   * and the others load. Then the store stops holding the state file's
   * bytes: parts are read from disk when asked for.
   */
  loadConversations<T>(validate: ConversationValidator<T>): Promise<LoadedConversations<T>> {
    try {
      this.#checkOpen();
      const loaded = new Map<string, T>();
      const failed: StoreError[] = [];
      const all = conversationKeys(this.#journal);
      for (const id of [...all.keys()].sort()) {
        const { head, names } = all.get(id)!;
        if (!head) continue; // parts without a head: left for a compaction to keep
        try {
          const key = conversationKey(id);
          const text = this.#journal.get(key)!;
          loaded.set(id, this.#loadOne(id, text, this.#parts(key, names), validate));
        } catch (e) {
          if (!(e instanceof StoreError)) throw e;
          failed.push(e);
        }
      }
      this.#journal.release();
      return Promise.resolve({ loaded, failed });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Saves one conversation (id: lower-case hex or base32): its head (left
   * as stored when undefined) and the changes of its parts. The values are
   * encoded now, so the caller may change them once this returns.
   */
  saveConversation(id: string, head: unknown, parts: PartChanges = {}): Promise<void> {
    let key: string;
    try {
      key = conversationKey(validateConversationId(id));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#write(key, () => this.#stageConversation(key, head, parts));
  }

  /**
   * Saves one conversation as it is when the next commit is written:
   * `changes` is called then, once for all the saves of this conversation
   * asked for until that commit, and returns its head (undefined: as
   * stored) and the changes of its parts, or null when there is nothing to
   * write any more. Resolves once that commit is durable. So a conversation
   * saved after every one of a burst of packets is encoded and compared
   * once per commit, not once per packet.
   *
   * @throws {StoreError} as {@linkcode saveConversation}; what `changes`
   *   throws rejects the saves of this conversation only
   */
  saveConversationLater(
    id: string,
    changes: () => { head: unknown; parts: PartChanges } | null,
  ): Promise<void> {
    let key: string;
    try {
      key = conversationKey(validateConversationId(id));
    } catch (e) {
      return Promise.reject(e);
    }
    let late = this.#late.get(key);
    if (late === undefined) {
      late = { changes, staged: Promise.withResolvers() };
      // its rejection is the caller's (below); a later one is not left unhandled
      late.staged.promise.catch(() => {});
      this.#late.set(key, late);
    }
    const staged = late.staged.promise;
    return this.#write(key, () => {}).then(
      () => staged,
      (e) => staged.then(() => Promise.reject(e)),
    );
  }

  // stages the saves asked for with saveConversationLater, as the commit is written
  #stageLate(): void {
    const late = [...this.#late];
    this.#late.clear();
    for (const [key, { changes, staged }] of late) {
      try {
        const next = changes();
        if (next !== null) this.#stageConversation(key, next.head, next.parts);
        staged.resolve();
      } catch (e) {
        staged.reject(e);
      }
    }
  }

  #stageConversation(key: string, head: unknown, parts: PartChanges): void {
    const journal = this.#journal;
    const put = new Map<string, string>();
    for (const [name, value] of parts.put ?? []) put.set(partKey(key, name), stringify(value));
    const headText = head === undefined ? undefined : stringify(head);
    if (headText === undefined && journal.get(key) === undefined) {
      throw new StoreError("invalid", `Cannot save ${this.#where(key)}: it has no head yet`);
    }
    if (parts.replace) {
      for (const k of journal.keys(`${key}/`)) if (!put.has(k)) journal.stage(k, null);
    }
    for (const name of parts.delete ?? []) journal.stage(partKey(key, name), null);
    for (const [k, text] of put) journal.stage(k, text);
    if (headText !== undefined) journal.stage(key, headText);
  }

  /** Deletes one conversation with all its parts; false if it did not exist. */
  async deleteConversation(id: string): Promise<boolean> {
    this.#checkOpen();
    const key = conversationKey(validateConversationId(id));
    const journal = this.#journal;
    const existed = journal.get(key) !== undefined;
    this.#failed.delete(key);
    // a save of it asked for meanwhile writes nothing: it is gone
    this.#late.get(key)?.staged.resolve();
    this.#late.delete(key);
    for (const k of journal.keys(`${key}/`)) journal.stage(k, null);
    journal.stage(key, null);
    await journal.commit();
    return existed;
  }

  /**
   * Moves the profile, which failed to load, to `profile.json.corrupt-<timestamp>`
   * (returned), so a fresh one can be made. Only on the user's say-so.
   *
   * @throws {StoreError} `not_found`, `io`; `invalid` for any other path
   */
  quarantine(path: string): Promise<string> {
    this.#checkOpen();
    if (path !== this.paths.profile) {
      throw new StoreError("invalid", `Cannot quarantine ${path}: not a file of this peer`, path);
    }
    const moved = this.#profileWrite.then(() => quarantineFile(path));
    this.#profileWrite = moved.catch(() => {});
    return moved;
  }

  /** Commits what is pending, compacts the journal, wipes the key and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#profileWrite;
    await this.#journal.close();
    this.#vault?.destroy();
    await this.#lock.release();
  }

  get #statePath(): string {
    return join(this.paths.dir, STATE_FILE);
  }

  #where(key: string): string {
    return `${this.#statePath} (${key})`;
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new StoreError("io", `Cannot use peer ${this.paths.dir}: its store is closed`);
    }
  }

  // runs `validate`, remembering a failure so that the key is never overwritten
  #validate<T>(key: string, validate: () => T): T {
    try {
      return validate();
    } catch (e) {
      if (e instanceof StoreError) this.#failed.set(key, e);
      throw e;
    }
  }

  #loadOne<T>(
    id: string,
    head: string,
    parts: StoredParts,
    validate: ConversationValidator<T>,
  ): T {
    const key = conversationKey(id);
    // the messages are built only for a value that fails (start-up loads thousands)
    return this.#validate(key, () => {
      let value: unknown;
      try {
        value = JSON.parse(head);
      } catch {
        return parseValue(head, this.#where(key), this.#statePath) as never;
      }
      try {
        return validate(value, parts, id, head);
      } catch (e) {
        return check(
          () => {
            throw e;
          },
          this.#where(key),
          this.#statePath,
        );
      }
    });
  }

  #parts(key: string, names: string[]): StoredParts {
    return partsOf(this.#journal, key, names);
  }

  #write(key: string, stage: () => void): Promise<void> {
    try {
      this.#checkOpen();
      const failure = this.#failed.get(key);
      if (failure !== undefined) {
        throw new StoreError(
          "refused",
          `Cannot save ${this.#where(key)}: it failed to load (${failure.code}) and is kept ` +
            "untouched; fix it by hand or delete it, then try again",
          this.#statePath,
        );
      }
      stage();
      return this.#journal.commit();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
