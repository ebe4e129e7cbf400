/**
 * What {@linkcode PeerStore.open} (peer_store.ts) settles before it opens
 * the state files: the profile read without ever making a new identity
 * over a profile path that exists in some other form (a dangling link to
 * an unmounted volume, a folder) or over existing conversations, the vault
 * decided from the profile's envelope, and the known files of the folder
 * that are not regular files (reported, not followed).
 *
 * @module
 */

import { join } from "node:path";
import type { Rng } from "../crypto/bytes.ts";
import { parseJson, readFileBounded } from "./atomic.ts";
import { StoreError } from "./errors.ts";
import type { PeerPaths } from "./paths.ts";
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
