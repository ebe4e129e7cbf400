/**
 * Locating the system's tor executable: an explicit path, else PATH, else the
 * usual install directories (Debian puts tor in /usr/sbin, often not on a
 * user's PATH; Homebrew in /opt/homebrew/bin). A missing tor is a user
 * mistake, so the error says how to install it.
 *
 * @module
 */

import { delimiter, join } from "node:path";
import { TorError } from "./errors.ts";

/** How to install tor, for error messages. */
export const TOR_INSTALL_HINT =
  "install it with `sudo apt install tor` (Debian, Ubuntu), `brew install tor` (macOS) " +
  "or your system's package manager, or pass the path of the tor executable";

/** Directories searched after PATH. */
const EXTRA_TOR_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin"];

/**
 * Resolves with the path of a tor executable; rejects with
 * `TorError("tor_not_found")` when there is none.
 */
export async function findTor(torPath?: string): Promise<string> {
  if (torPath !== undefined) {
    if (await isExecutable(torPath)) return torPath;
    throw new TorError("tor_not_found", `No tor executable at ${torPath}: ${TOR_INSTALL_HINT}`);
  }
  const name = Deno.build.os === "windows" ? "tor.exe" : "tor";
  const dirs = [...(Deno.env.get("PATH") ?? "").split(delimiter), ...EXTRA_TOR_DIRS];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  throw new TorError("tor_not_found", `Tor is not installed or not on PATH: ${TOR_INSTALL_HINT}`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return false;
    // On Windows there is no mode; any file named tor.exe will do.
    return info.mode === null || (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
