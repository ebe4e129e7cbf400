/**
 * Where unMessage keeps its files. The configuration root is, in order of
 * precedence: the `--config-dir` flag, the `UNMESSAGE_HOME` environment
 * variable, then `$HOME/.config/unMessage` (`%APPDATA%\unMessage` on
 * Windows), the folder the original unMessage used. Each peer has a folder
 * `<root>/peers/<name>/` holding its profile, conversations and `tor/` data.
 *
 * Peer names become folder names, so they are restricted to a portable,
 * traversal-free alphabet; conversation ids become file names and are
 * restricted further (lower case only, so case-insensitive file systems
 * cannot merge two ids).
 *
 * This module computes paths only; it never touches the disk.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { StoreError } from "./errors.ts";

/** Environment variable that overrides the default configuration root. */
export const HOME_ENV = "UNMESSAGE_HOME";

/** Name of the application folder under `~/.config` or `%APPDATA%`. */
export const APP_FOLDER = "unMessage";

/** Longest peer name: it is a folder name and part of `name@address`. */
export const MAX_PEER_NAME_LENGTH = 32;

/** Letters, digits, `_` and `-`: no dots, no separators, so no traversal. */
export const PEER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Longest conversation id (enough for a base32 SHA-512 digest). */
export const MAX_CONVERSATION_ID_LENGTH = 104;

/** Lower-case hex or base32 (RFC 4648 §6, lower case) conversation ids. */
export const CONVERSATION_ID_PATTERN = /^[a-z0-9]{1,104}$/;

// Windows refuses these as file names whatever the extension
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/** What {@linkcode resolveConfigRoot} reads from the environment. */
export interface ConfigRootOptions {
  /** Value of `--config-dir`, if given (relative paths resolve from the cwd). */
  configDir?: string | undefined;
  /** Reads an environment variable; defaults to `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Operating system; defaults to `Deno.build.os`. */
  os?: string;
}

/**
 * Returns the absolute configuration root (flag, then `UNMESSAGE_HOME`, then
 * the platform default). Empty values count as unset.
 *
 * @throws {StoreError} `no_home` when neither the flag, the variable nor the
 *   home folder (`HOME`, or `APPDATA` on Windows) is set
 */
export function resolveConfigRoot(options: ConfigRootOptions = {}): string {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const os = options.os ?? Deno.build.os;
  const nonEmpty = (v: string | undefined) => (v !== undefined && v !== "" ? v : undefined);
  const explicit = nonEmpty(options.configDir) ?? nonEmpty(env(HOME_ENV));
  if (explicit !== undefined) return isAbsolute(explicit) ? explicit : resolve(explicit);
  if (os === "windows") {
    const appData = nonEmpty(env("APPDATA"));
    if (appData !== undefined) return join(appData, APP_FOLDER);
  } else {
    const home = nonEmpty(env("HOME"));
    if (home !== undefined) return join(home, ".config", APP_FOLDER);
  }
  throw new StoreError(
    "no_home",
    `Cannot find the configuration folder: ${
      os === "windows" ? "APPDATA" : "HOME"
    } is not set; pass --config-dir or set ${HOME_ENV}`,
  );
}

// quotes a user-supplied name safely (control characters escaped) and briefly
function quote(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return JSON.stringify(shown);
}

/**
 * Returns `name` if it is a valid peer name: 1 to 32 letters, digits, `_`
 * or `-`, and not a name Windows reserves (`con`, `nul`, `com1` ...).
 *
 * @throws {StoreError} `bad_name`, saying what is allowed
 */
export function validatePeerName(name: string): string {
  if (typeof name !== "string" || !PEER_NAME_PATTERN.test(name) || WINDOWS_RESERVED.test(name)) {
    throw new StoreError(
      "bad_name",
      `Cannot use peer name ${
        quote(String(name))
      }: use 1 to ${MAX_PEER_NAME_LENGTH} letters, digits, "_" or "-" (not a reserved device name such as "con")`,
    );
  }
  return name;
}

/**
 * Returns `id` if it is a valid conversation id: 1 to 104 lower-case letters
 * or digits (hex or lower-case base32).
 *
 * @throws {StoreError} `bad_name`, saying what is allowed
 */
export function validateConversationId(id: string): string {
  if (typeof id !== "string" || !CONVERSATION_ID_PATTERN.test(id) || WINDOWS_RESERVED.test(id)) {
    throw new StoreError(
      "bad_name",
      `Cannot use conversation id ${
        quote(String(id))
      }: use 1 to ${MAX_CONVERSATION_ID_LENGTH} lower-case letters or digits (hex or base32)`,
    );
  }
  return id;
}

/** Every path of one peer's folder. */
export interface PeerPaths {
  /** `<root>/peers/<name>` */
  readonly dir: string;
  /** `<dir>/tor`: torrc, onion key, tor's data */
  readonly tor: string;
  /** `<dir>/profile.json`: keys and settings (the vault salt when encrypted) */
  readonly profile: string;
  /** `<dir>/state.jsonl`: conversations and requests as of the last compaction */
  readonly state: string;
  /** `<dir>/journal.jsonl`: the commits since */
  readonly journal: string;
  /** `<dir>/conversations`: one `<id>.json` per conversation in the first layout (migrated) */
  readonly conversations: string;
  /** `<dir>/requests.json`: pending requests in the first layout (migrated) */
  readonly requests: string;
  /** `<dir>/peer.lock`: the lock file (never deleted) */
  readonly lock: string;
  /** `<dir>/peer.lock.json`: who holds the lock, for error messages */
  readonly lockInfo: string;
}

/** Paths of a peer folder given the folder itself. */
export function peerPathsOf(dir: string): PeerPaths {
  return {
    dir,
    tor: join(dir, "tor"),
    profile: join(dir, "profile.json"),
    state: join(dir, "state.jsonl"),
    journal: join(dir, "journal.jsonl"),
    conversations: join(dir, "conversations"),
    requests: join(dir, "requests.json"),
    lock: join(dir, "peer.lock"),
    lockInfo: join(dir, "peer.lock.json"),
  };
}

/**
 * Paths of peer `name` under the configuration `root`.
 *
 * @throws {StoreError} `bad_name` for an invalid peer name
 */
export function peerPaths(root: string, name: string): PeerPaths {
  return peerPathsOf(join(root, "peers", validatePeerName(name)));
}

/** Path of one conversation's file inside a peer folder. */
export function conversationPath(paths: PeerPaths, id: string): string {
  return join(paths.conversations, `${validateConversationId(id)}.json`);
}

/** `<root>/config.json`: the last interface and peer used. */
export function appConfigPath(root: string): string {
  return join(root, "config.json");
}
