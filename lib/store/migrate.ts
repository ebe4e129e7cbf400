/**
 * Migration of a peer folder from the first layout (one atomically
 * rewritten file per conversation, plus `requests.json`) to the journal
 * (journal.ts): on the first start with this version, each file is read
 * (decrypted with the peer's vault when encrypted), its JSON becomes the
 * value of its key (`c/<id>` for `conversations/<id>.json`, `requests` for
 * `requests.json`), the state files are created with them, and only then
 * are the old files removed. The values keep their own format; the core
 * reads the old conversation format and writes its current one at the
 * conversation's next save.
 *
 * A crash at any point is safe: before the state files exist nothing has
 * changed; after, the old files whose keys are in the state are leftovers
 * and the next start removes them. An old file that fails to load (damaged,
 * tampered, not a regular file ...) is not migrated, stays where it is, and
 * is reported at every start; so is any file there that the state does not
 * hold, which is never imported later (a conversation file put back after
 * the migration would bring back old keys).
 *
 * @module
 */

import { join } from "node:path";
import { wipe } from "../crypto/bytes.ts";
import { parseJson, readFileBounded, syncDirSync } from "./atomic.ts";
import { isStoreError, StoreError, wrapIoError } from "./errors.ts";
import { CONVERSATION_ID_PATTERN, type PeerPaths } from "./paths.ts";
import { isVaultEnvelope, type Vault } from "./vault.ts";

/** Key of the pending requests in the journal. */
export const REQUESTS_KEY = "requests";

/** The journal key of a conversation's head. */
export function conversationKey(id: string): string {
  return `c/${id}`;
}

/** What was found in the first layout. */
export interface OldLayout {
  /** Key → JSON text of every file that loaded. */
  values: Map<string, string>;
  /** Files that exist and did not load (each names its path). */
  failed: StoreError[];
}

/** One old file: its path, its name in the folder (bound by the vault) and its key. */
interface OldFile {
  path: string;
  name: string;
  key: string;
}

/** Lists the files of the first layout in `paths` (none when it was never used). */
function oldFiles(paths: PeerPaths, notRegular: StoreError[]): OldFile[] {
  const files: OldFile[] = [];
  try {
    Deno.lstatSync(paths.requests);
    files.push({ path: paths.requests, name: "requests.json", key: REQUESTS_KEY });
  } catch {
    // no requests.json
  }
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(paths.conversations)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return files;
    throw wrapIoError(e, "list", paths.conversations);
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const id = entry.name.endsWith(".json") ? entry.name.slice(0, -".json".length) : "";
    const path = join(paths.conversations, entry.name);
    if (!CONVERSATION_ID_PATTERN.test(id)) continue; // quarantined copies, notes ...
    if (!entry.isFile) {
      notRegular.push(
        new StoreError(
          "io",
          `Cannot read ${path}: not a regular file (a link, a folder or a device); move it away`,
          path,
        ),
      );
      continue;
    }
    files.push({ path, name: `conversations/${entry.name}`, key: conversationKey(id) });
  }
  return files;
}

/** Reads and decrypts one old file into compact JSON text. */
async function readOld(file: OldFile, vault: Vault | undefined): Promise<string> {
  let value = parseJson(await readFileBounded(file.path), file.path);
  if (isVaultEnvelope(value)) {
    if (vault === undefined) {
      throw new StoreError(
        "passphrase_required",
        `Cannot open ${file.path}: it is encrypted; give this peer's passphrase`,
        file.path,
      );
    }
    const plain = await vault.open(value, file.name, file.path);
    value = parseJson(plain, file.path);
    wipe(plain);
  } else if (vault !== undefined) {
    throw new StoreError(
      "invalid",
      `Cannot load ${file.path}: it is stored in plain text but this peer is encrypted; ` +
        "unMessage leaves it untouched: move it away",
      file.path,
    );
  }
  return JSON.stringify(value);
}

/**
 * Reads every file of the first layout that loads.
 *
 * @throws {StoreError} `passphrase_required` (an encrypted file, no
 *   passphrase), `io` when the folder cannot be listed
 */
export async function readOldLayout(
  paths: PeerPaths,
  vault: Vault | undefined,
): Promise<OldLayout> {
  const failed: StoreError[] = [];
  const values = new Map<string, string>();
  for (const file of oldFiles(paths, failed)) {
    try {
      values.set(file.key, await readOld(file, vault));
    } catch (e) {
      if (isStoreError(e, "passphrase_required")) throw e;
      if (!(e instanceof StoreError)) throw e;
      failed.push(e);
    }
  }
  return { values, failed };
}

/**
 * Removes the old files whose keys `has` holds (migrated), and the
 * conversations folder once empty; returns one error per remaining file of
 * the first layout (not migrated, never imported now).
 */
export function removeOldLayout(paths: PeerPaths, has: (key: string) => boolean): StoreError[] {
  const notices: StoreError[] = [];
  let removed = false;
  for (const file of oldFiles(paths, notices)) {
    if (has(file.key)) {
      try {
        Deno.removeSync(file.path);
        removed = true;
      } catch (e) {
        notices.push(wrapIoError(e, "remove the migrated", file.path));
      }
      continue;
    }
    notices.push(
      new StoreError(
        "invalid",
        `Cannot use ${file.path}: it is left from an older layout and was not migrated ` +
          "(it did not load, or it came back after the migration); unMessage ignores it: " +
          "move it away",
        file.path,
      ),
    );
  }
  try {
    if (removed) syncDirSync(paths.conversations);
  } catch {
    // the folder is gone already
  }
  try {
    if (removed) syncDirSync(paths.dir);
    Deno.removeSync(paths.conversations); // only when empty
    syncDirSync(paths.dir);
  } catch {
    // not empty, or never there
  }
  return notices;
}
