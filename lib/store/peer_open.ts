/**
 * How {@linkcode PeerStore.open} (peer_store.ts) opens a peer folder, once
 * it holds the lock: the profile read without ever making a new identity
 * over a profile path that exists in some other form (a dangling link to
 * an unmounted volume, a folder) or over existing conversations, the vault
 * decided from the profile's envelope, and then the state files opened,
 * created or migrated from the first layout ({@linkcode openState}; an
 * empty pair left by a crash before the profile was written is removed), with
 * what there is to report: known files of the folder that are not regular
 * files (reported, not followed), old files that failed to migrate, keys
 * that no conversation owns.
 *
 * @module
 */

import { join } from "node:path";
import { fromUtf8, type Rng } from "../crypto/bytes.ts";
import { parseJson, readFileBounded } from "./atomic.ts";
import { StoreError, wrapIoError } from "./errors.ts";
import { Journal, JOURNAL_FILE, STATE_FILE } from "./journal.ts";
import { readOldLayout, removeOldLayout, REQUESTS_KEY } from "./migrate.ts";
import type { PeerPaths } from "./paths.ts";
import { strayKeys } from "./values.ts";
import { isVaultEnvelope, type ScryptParams, Vault } from "./vault.ts";

/** How the vault of a peer is opened or made. */
export interface VaultOptions {
  /** Passphrase of an encrypted peer, or to encrypt a new one. */
  passphrase?: string | undefined;
  /** scrypt parameters for a new encrypted peer (default: vault.ts). */
  scrypt?: ScryptParams;
  /** Source of salts and nonces (default: the system CSPRNG). */
  rng?: Rng;
}

/** An encrypted file opened without the passphrase. */
export function passphraseRequired(path: string): StoreError {
  return new StoreError(
    "passphrase_required",
    `Cannot open ${path}: it is encrypted; give this peer's passphrase`,
    path,
  );
}

/** A plain file where an encrypted peer keeps encrypted ones. */
export function plainInEncrypted(path: string): StoreError {
  // an attacker or a stray copy could plant a plain file to be trusted
  return new StoreError(
    "invalid",
    `Cannot load ${path}: it is stored in plain text but this peer is encrypted; ` +
      "unMessage leaves it untouched: move it away",
    path,
  );
}

/** The profile is missing but `what` holds the peer's conversations or requests. */
export function noProfile(paths: PeerPaths, what: string): StoreError {
  return new StoreError(
    "refused",
    `Cannot open ${paths.dir}: profile.json is missing but ${what} holds this peer's ` +
      "conversations or requests; restore profile.json (is a volume unmounted?): unMessage will " +
      "not make a new identity over them",
    paths.profile,
  );
}

/**
 * The profile's bytes, or undefined when no profile path exists at all. A
 * path that exists in any other form (a link to a missing file, a folder, a
 * device) is refused, so a new identity is never made over it.
 */
export async function readProfile(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFileBounded(path);
  } catch (e) {
    if (!(e instanceof StoreError && e.code === "not_found")) throw e;
    try {
      Deno.lstatSync(path);
    } catch {
      return undefined;
    }
    throw new StoreError(
      "refused",
      `Cannot read ${path}: it is a link to a missing file (is a volume unmounted?); ` +
        "unMessage will not make a new identity over it: mount it, or remove the link",
      path,
      { cause: e },
    );
  }
}

/** The profile's envelope (if any) decides whether and how to encrypt. */
export async function openVault(
  bytes: Uint8Array | undefined,
  profile: string,
  options: VaultOptions,
): Promise<Vault | undefined> {
  if (bytes === undefined) {
    if (options.passphrase === undefined) return undefined;
    const vaultOptions = {
      ...(options.scrypt !== undefined ? { params: options.scrypt } : {}),
      ...(options.rng !== undefined ? { rng: options.rng } : {}),
    };
    return await Vault.create(options.passphrase, vaultOptions);
  }
  const value = parseJson(bytes, profile);
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

/** Known files of the peer folder that exist but are not regular files. */
export function notRegular(paths: PeerPaths): StoreError[] {
  const notices: StoreError[] = [];
  for (const name of ["requests.json", "outbox.json", "repl_history", "peer.lock.json"]) {
    const path = join(paths.dir, name);
    try {
      if (Deno.lstatSync(path).isFile) continue;
    } catch {
      continue;
    }
    notices.push(
      new StoreError(
        "io",
        `Cannot use ${path}: not a regular file (a link, a folder or a device); move it away`,
        path,
      ),
    );
  }
  return notices;
}

/**
 * Opens the state files of `paths` (or creates them, migrating a folder of
 * the first layout), given the profile's bytes (undefined: none yet) and
 * the vault. Returns the journal and the notices to report, one per file
 * (the first, which says most).
 *
 * @throws {StoreError} `refused` for conversations without a profile, and
 *   the errors of `Journal.open` and `readOldLayout`
 */
export async function openState(
  paths: PeerPaths,
  profile: Uint8Array | undefined,
  vault: Vault | undefined,
): Promise<{ journal: Journal; notices: StoreError[] }> {
  const dir = paths.dir;
  const notices = notRegular(paths);
  let journal: Journal;
  const cipher = vault !== undefined ? { cipher: vault } : {};
  // a crash between creating the state files and the profile leaves them empty
  if (profile === undefined && stateIsEmpty(dir)) removeState(dir);
  if (stateExists(dir)) {
    if (profile === undefined) throw noProfile(paths, STATE_FILE);
    journal = Journal.open(dir, cipher);
  } else {
    const old = await readOldLayout(paths, vault);
    if (profile === undefined && (old.values.size > 0 || old.failed.length > 0)) {
      throw noProfile(paths, "conversations/ or requests.json");
    }
    journal = Journal.create(dir, old.values, cipher);
    notices.push(...old.failed);
  }
  notices.push(...removeOldLayout(paths, (key) => journal.get(key) !== undefined));
  notices.push(...strayKeys(journal, REQUESTS_KEY, join(dir, STATE_FILE)));
  const reported = new Set<string | undefined>();
  return {
    journal,
    notices: notices.filter((n) => !reported.has(n.path) && reported.add(n.path)),
  };
}

function lexists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` holds a state or a journal file (in any form, even a dangling link). */
export function stateExists(dir: string): boolean {
  return lexists(join(dir, STATE_FILE)) || lexists(join(dir, JOURNAL_FILE));
}

/**
 * Whether the state files of `dir` exist and hold nothing (no key, no
 * commit); told from their structure alone, without decrypting.
 */
export function stateIsEmpty(dir: string): boolean {
  const lines = (name: string): string[] | undefined => {
    try {
      // zeros at the end are space made ahead
      const text = fromUtf8(Deno.readFileSync(join(dir, name))).replace(/\0+$/, "");
      return text.split("\n").filter((l) => l !== "");
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  };
  try {
    const state = lines(STATE_FILE);
    const journal = lines(JOURNAL_FILE) ?? [];
    return state !== undefined && state.length === 1 && JSON.parse(state[0]!)?.keys === 0 &&
      journal.length <= 1;
  } catch {
    return false;
  }
}

/** Removes the state files of `dir` (only ever when {@linkcode stateIsEmpty}). */
export function removeState(dir: string): void {
  for (const name of [JOURNAL_FILE, STATE_FILE]) {
    try {
      Deno.removeSync(join(dir, name));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw wrapIoError(e, "remove", join(dir, name));
    }
  }
}
