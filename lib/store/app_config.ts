/**
 * The application's own settings, `<root>/config.json`: which interface and
 * which peer were used last, so `unmessage` with no flags starts where the
 * user left off. Also lists the peers under the root.
 *
 * Several processes (one per peer) may write this file; each write is
 * atomic, so the last one wins and none corrupts it. A damaged file is
 * reported (with its path) and never overwritten unless the caller says so.
 *
 * @module
 */

import { join } from "node:path";
import { readJson, writeJsonAtomic } from "./atomic.ts";
import { isStoreError, StoreError, wrapIoError } from "./errors.ts";
import { appConfigPath, PEER_NAME_PATTERN, validatePeerName } from "./paths.ts";

/** Interfaces unMessage can start. */
export const INTERFACES = ["cli", "json", "gui"] as const;

/** One of {@linkcode INTERFACES}. */
export type InterfaceName = typeof INTERFACES[number];

/** Contents of `config.json`. */
export interface AppConfig {
  /** Interface used last. */
  lastInterface?: InterfaceName;
  /** Peer used last (a valid peer name). */
  lastPeer?: string;
}

/**
 * Checks parsed `config.json`; unknown keys are ignored (a newer version may
 * add some).
 *
 * @throws {TypeError} naming the bad field
 */
export function validateAppConfig(value: unknown): AppConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("expected a JSON object");
  }
  const { lastInterface, lastPeer } = value as Record<string, unknown>;
  const config: AppConfig = {};
  if (lastInterface !== undefined) {
    if (!INTERFACES.includes(lastInterface as InterfaceName)) {
      throw new TypeError(`lastInterface must be one of ${INTERFACES.join(", ")}`);
    }
    config.lastInterface = lastInterface as InterfaceName;
  }
  if (lastPeer !== undefined) {
    if (typeof lastPeer !== "string" || !PEER_NAME_PATTERN.test(lastPeer)) {
      throw new TypeError("lastPeer must be a peer name (letters, digits, _ or -)");
    }
    config.lastPeer = lastPeer;
  }
  return config;
}

/**
 * Reads `<root>/config.json`; an empty config if the file does not exist.
 *
 * @throws {StoreError} `corrupt`, `invalid`, `too_large` or `io`, with the path
 */
export async function loadAppConfig(root: string): Promise<AppConfig> {
  try {
    return await readJson(appConfigPath(root), validateAppConfig);
  } catch (e) {
    if (isStoreError(e, "not_found")) return {};
    throw e;
  }
}

/** Options of {@linkcode saveAppConfig}. */
export interface SaveAppConfigOptions {
  /** Replace an existing `config.json` even if it does not load (default false). */
  replaceDamaged?: boolean;
}

/**
 * Atomically writes `<root>/config.json` (root created 0700 if missing).
 * Refuses to replace an existing file that does not load, unless
 * `replaceDamaged` is set: the user may be mid-edit.
 *
 * @throws {StoreError} `refused` (damaged file), `bad_name` (invalid
 *   `lastPeer`), `io`
 */
export async function saveAppConfig(
  root: string,
  config: AppConfig,
  options: SaveAppConfigOptions = {},
): Promise<void> {
  const path = appConfigPath(root);
  if (config.lastPeer !== undefined) validatePeerName(config.lastPeer);
  if (config.lastInterface !== undefined && !INTERFACES.includes(config.lastInterface)) {
    throw new TypeError(`Cannot save lastInterface: must be one of ${INTERFACES.join(", ")}`);
  }
  if (!options.replaceDamaged) {
    try {
      await loadAppConfig(root);
    } catch (e) {
      if (!(e instanceof StoreError) || e.code === "io") throw e;
      throw new StoreError(
        "refused",
        `Cannot save ${path}: the existing file does not load (${e.code}) and is kept untouched; ` +
          "fix or remove it by hand",
        path,
        { cause: e },
      );
    }
  }
  const out: AppConfig = {};
  if (config.lastInterface !== undefined) out.lastInterface = config.lastInterface;
  if (config.lastPeer !== undefined) out.lastPeer = config.lastPeer;
  await writeJsonAtomic(path, out);
}

/** Names of the peers under `<root>/peers`, sorted; other entries are ignored. */
export async function listPeers(root: string): Promise<string[]> {
  const dir = join(root, "peers");
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && PEER_NAME_PATTERN.test(entry.name)) names.push(entry.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw wrapIoError(e, "list", dir);
  }
  return names.sort();
}
