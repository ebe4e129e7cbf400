/**
 * One peer's files, behind a small API for the core (`peer.ts`):
 *
 * ```
 * <peer>/profile.json              keys and settings (whatever the core gives)
 * <peer>/conversations/<id>.json   one file per conversation (ratchet state ...)
 * <peer>/outbox.json               packets waiting to be sent
 * <peer>/requests.json             pending requests
 * <peer>/tor/                      tor's folder (created here, used by tor/)
 * <peer>/peer.lock, peer.lock.json the one-process lock (see lock.ts)
 * ```
 *
 * The store owns the lock for its lifetime, writes every file atomically
 * (atomic.ts), serialises writes to one file in call order (so an older
 * state can never land after a newer one), and, when the peer has a
 * passphrase, encrypts every file with the vault (vault.ts); the vault's salt
 * travels in the profile's envelope. It knows nothing of what the values
 * mean: the core passes a validator to each load.
 *
 * Damaged files: a file that fails to load (corrupt, invalid, tampered ...)
 * is reported with its path and is never overwritten by this store: a later
 * save of it throws `refused` until the user fixes it by hand, or the core
 * calls {@linkcode PeerStore.quarantine}, which keeps the bytes as
 * `<file>.corrupt-<timestamp>` and frees the name.
 *
 * Deleting a conversation unlinks its file and fsyncs the folder; it does not
 * overwrite it with zeros first: every save already writes a new file and
 * frees the old blocks, and SSDs and copy-on-write file systems remap writes,
 * so zeroing would promise an erasure it cannot give. Use a passphrase for
 * confidentiality at rest.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import type { Rng } from "../crypto/bytes.ts";
import { wipe } from "../crypto/bytes.ts";
import {
  encodeJson,
  ensureDir,
  parseJson,
  quarantineFile,
  readFileBounded,
  removeTempFiles,
  syncDir,
  validateJson,
  type Validator,
  writeFileAtomic,
} from "./atomic.ts";
import { StoreError, wrapIoError } from "./errors.ts";
import { acquirePeerLock, type PeerLock } from "./lock.ts";
import { CONVERSATION_ID_PATTERN, conversationPath, type PeerPaths, peerPathsOf } from "./paths.ts";
import { isVaultEnvelope, type ScryptParams, Vault } from "./vault.ts";

/** Files read at once by {@linkcode PeerStore.loadConversations}; well under fd limits. */
export const LOAD_CONCURRENCY = 32;

/** Options of {@linkcode PeerStore.open}. */
export interface PeerStoreOptions {
  /** Passphrase of an encrypted peer, or to encrypt a new one. */
  passphrase?: string | undefined;
  /** scrypt parameters for a new encrypted peer (default: vault.ts). */
  scrypt?: ScryptParams;
  /** Source of salts and nonces (default: the system CSPRNG). */
  rng?: Rng;
}

/** Result of {@linkcode PeerStore.loadConversations}. */
export interface LoadedConversations<T> {
  /** Conversations that loaded, by id. */
  loaded: Map<string, T>;
  /** One error per file that did not load (each names its path). */
  failed: StoreError[];
}

/** The files of one peer folder, opened by one process. */
export class PeerStore {
  /** Every path of the peer folder. */
  readonly paths: PeerPaths;
  readonly #lock: PeerLock;
  readonly #vault: Vault | undefined;
  readonly #failed = new Map<string, StoreError>();
  readonly #queues = new Map<string, Promise<unknown>>();
  #closed = false;

  private constructor(paths: PeerPaths, lock: PeerLock, vault: Vault | undefined) {
    this.paths = paths;
    this.#lock = lock;
    this.#vault = vault;
  }

  /**
   * Locks and opens the peer folder `dir` (created 0700 with `tor/` and
   * `conversations/` if missing) and removes temporary files left by
   * interrupted writes. With a passphrase, an existing encrypted profile is
   * unlocked (the key is derived once here) and a new peer is encrypted.
   *
   * @throws {StoreError} `locked`; `passphrase_required` (encrypted profile,
   *   no passphrase: ask for one and retry); `bad_passphrase`;
   *   `not_encrypted` (passphrase given for a plain-text profile); `corrupt`,
   *   `invalid`, `too_large` for a damaged profile; `io`
   */
  static async open(dir: string, options: PeerStoreOptions = {}): Promise<PeerStore> {
    const paths = peerPathsOf(dir);
    const lock = await acquirePeerLock(dir);
    try {
      await ensureDir(paths.conversations);
      await ensureDir(paths.tor);
      // we hold the lock: any temporary file is from a dead writer
      await removeTempFiles(paths.dir);
      await removeTempFiles(paths.conversations);
      const vault = await openVault(paths.profile, options);
      return new PeerStore(paths, lock, vault);
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** True when files are encrypted with a passphrase. */
  get encrypted(): boolean {
    return this.#vault !== undefined;
  }

  /** Loads the profile; undefined if the peer has none yet. */
  loadProfile<T>(validate: Validator<T>): Promise<T | undefined> {
    return this.#load(this.paths.profile, "profile.json", validate);
  }

  /** Atomically saves the profile. */
  saveProfile(value: unknown): Promise<void> {
    return this.#save(this.paths.profile, "profile.json", value);
  }

  /** Loads the outbox; undefined if there is none. */
  loadOutbox<T>(validate: Validator<T>): Promise<T | undefined> {
    return this.#load(this.paths.outbox, "outbox.json", validate);
  }

  /** Atomically saves the outbox. */
  saveOutbox(value: unknown): Promise<void> {
    return this.#save(this.paths.outbox, "outbox.json", value);
  }

  /** Loads the pending requests; undefined if there are none. */
  loadRequests<T>(validate: Validator<T>): Promise<T | undefined> {
    return this.#load(this.paths.requests, "requests.json", validate);
  }

  /** Atomically saves the pending requests. */
  saveRequests(value: unknown): Promise<void> {
    return this.#save(this.paths.requests, "requests.json", value);
  }

  /** Ids of the stored conversations, sorted; other files are ignored. */
  async listConversations(): Promise<string[]> {
    this.#checkOpen();
    const ids: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.paths.conversations)) {
        if (!entry.isFile || !entry.name.endsWith(".json")) continue;
        const id = entry.name.slice(0, -".json".length);
        if (CONVERSATION_ID_PATTERN.test(id)) ids.push(id);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw wrapIoError(e, "list", this.paths.conversations);
    }
    return ids.sort();
  }

  /**
   * Loads one conversation; undefined if it does not exist.
   *
   * @throws {StoreError} `bad_name` for an invalid id, or as the module says
   */
  loadConversation<T>(id: string, validate: Validator<T>): Promise<T | undefined> {
    const path = conversationPath(this.paths, id);
    return this.#load(path, `conversations/${id}.json`, validate);
  }

  /**
   * Loads every conversation, {@linkcode LOAD_CONCURRENCY} files at a time.
   * A damaged file does not stop the others: it is listed in `failed`.
   */
  async loadConversations<T>(validate: Validator<T>): Promise<LoadedConversations<T>> {
    const ids = await this.listConversations();
    const loaded = new Map<string, T>();
    const failed: StoreError[] = [];
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          const value = await this.loadConversation(id, validate);
          if (value !== undefined) loaded.set(id, value);
        } catch (e) {
          if (!(e instanceof StoreError)) throw e;
          failed.push(e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, ids.length) }, worker));
    return { loaded, failed };
  }

  /** Atomically saves one conversation (id: lower-case hex or base32). */
  saveConversation(id: string, value: unknown): Promise<void> {
    const path = conversationPath(this.paths, id);
    return this.#save(path, `conversations/${id}.json`, value);
  }

  /**
   * Deletes one conversation's file (unlink, then fsync of the folder);
   * returns false if it did not exist.
   */
  deleteConversation(id: string): Promise<boolean> {
    const path = conversationPath(this.paths, id);
    this.#checkOpen();
    return this.#serial(path, async () => {
      this.#failed.delete(path);
      try {
        await Deno.remove(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return false;
        throw wrapIoError(e, "delete", path);
      }
      await syncDir(this.paths.conversations).catch((e) => {
        throw wrapIoError(e, "sync folder", this.paths.conversations);
      });
      return true;
    });
  }

  /**
   * Moves a file of this peer that failed to load to
   * `<file>.corrupt-<timestamp>` (returned), so it can be saved afresh. The
   * old bytes are kept for the user; only call it on the user's say-so.
   *
   * @throws {StoreError} `not_found`, `io`; `invalid` for a path that is not
   *   one of this peer's data files
   */
  quarantine(path: string): Promise<string> {
    this.#checkOpen();
    const ours = [this.paths.profile, this.paths.outbox, this.paths.requests];
    const isConversation = dirname(path) === this.paths.conversations &&
      CONVERSATION_ID_PATTERN.test(basename(path).replace(/\.json$/, "")) && path.endsWith(".json");
    if (!ours.includes(path) && !isConversation) {
      throw new StoreError("invalid", `Cannot quarantine ${path}: not a file of this peer`, path);
    }
    return this.#serial(path, async () => {
      const target = await quarantineFile(path);
      this.#failed.delete(path);
      return target;
    });
  }

  /** Waits for pending writes, wipes the key and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#queues.values());
    this.#vault?.destroy();
    await this.#lock.release();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new StoreError("io", `Cannot use peer ${this.paths.dir}: its store is closed`);
    }
  }

  // runs `task` after every earlier task on the same path
  #serial<R>(path: string, task: () => Promise<R>): Promise<R> {
    const previous = this.#queues.get(path) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(() => {}, () => {});
    this.#queues.set(path, settled);
    settled.then(() => {
      if (this.#queues.get(path) === settled) this.#queues.delete(path);
    });
    return run;
  }

  async #load<T>(path: string, name: string, validate: Validator<T>): Promise<T | undefined> {
    this.#checkOpen();
    let bytes: Uint8Array;
    try {
      bytes = await readFileBounded(path);
    } catch (e) {
      if (e instanceof StoreError && e.code === "not_found") return undefined;
      throw this.#remember(path, e);
    }
    try {
      let value = parseJson(bytes, path);
      if (isVaultEnvelope(value)) {
        if (this.#vault === undefined) throw passphraseRequired(path);
        const plain = await this.#vault.open(value, name, path);
        value = parseJson(plain, path);
        wipe(plain);
      } else if (this.#vault !== undefined) {
        // an attacker or a stray copy could plant a plain file to be trusted
        throw new StoreError(
          "invalid",
          `Cannot load ${path}: it is stored in plain text but this peer is encrypted; ` +
            "unMessage leaves it untouched: move it away",
          path,
        );
      }
      return validateJson(value, validate, path);
    } catch (e) {
      throw this.#remember(path, e);
    }
  }

  #remember(path: string, e: unknown): unknown {
    const keep = e instanceof StoreError && e.code !== "io" && e.code !== "passphrase_required";
    if (keep) this.#failed.set(path, e);
    return e;
  }

  #save(path: string, name: string, value: unknown): Promise<void> {
    this.#checkOpen();
    const failure = this.#failed.get(path);
    if (failure !== undefined) {
      return Promise.reject(
        new StoreError(
          "refused",
          `Cannot save ${path}: it failed to load (${failure.code}) and is kept untouched; ` +
            "fix or move it away by hand, or quarantine it, then try again",
          path,
        ),
      );
    }
    // encode now, so the caller may mutate `value` once save() returns
    const plain = encodeJson(value);
    let bytes = plain;
    if (this.#vault !== undefined) {
      bytes = encodeJson(this.#vault.seal(plain, name));
      wipe(plain);
    }
    return this.#serial(path, () => writeFileAtomic(path, bytes));
  }
}

function passphraseRequired(path: string): StoreError {
  return new StoreError(
    "passphrase_required",
    `Cannot open ${path}: it is encrypted; give this peer's passphrase`,
    path,
  );
}

// reads the profile's envelope (if any) to decide whether and how to encrypt
async function openVault(profile: string, options: PeerStoreOptions): Promise<Vault | undefined> {
  let value: unknown;
  try {
    value = parseJson(await readFileBounded(profile), profile);
  } catch (e) {
    if (!(e instanceof StoreError && e.code === "not_found")) throw e;
    if (options.passphrase === undefined) return undefined;
    const vaultOptions = {
      ...(options.scrypt !== undefined ? { params: options.scrypt } : {}),
      ...(options.rng !== undefined ? { rng: options.rng } : {}),
    };
    return await Vault.create(options.passphrase, vaultOptions);
  }
  if (!isVaultEnvelope(value)) {
    if (options.passphrase === undefined) return undefined;
    throw new StoreError(
      "not_encrypted",
      `Cannot use a passphrase for ${profile}: this peer is stored without one; open it without a passphrase`,
      profile,
    );
  }
  if (options.passphrase === undefined) throw passphraseRequired(profile);
  return await Vault.unlock(
    options.passphrase,
    value,
    profile,
    options.rng !== undefined ? { rng: options.rng } : {},
  );
}
