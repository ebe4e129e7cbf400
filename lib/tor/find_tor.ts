/**
 * Locating the programs we run: tor and the pluggable transports. An
 * explicit path, else PATH, else the usual install directories (Debian puts
 * tor in /usr/sbin, often not on a user's PATH; Homebrew in
 * /opt/homebrew/bin). A missing program is a user mistake, so the error says
 * how to install it.
 *
 * @module
 */

import { delimiter, join } from "node:path";
import { TorError } from "./errors.ts";

/** How to install tor, for error messages. */
export const TOR_INSTALL_HINT: string =
  "install it with `sudo apt install tor` (Debian, Ubuntu), `brew install tor` (macOS) " +
  "or your system's package manager, or pass the path of the tor executable";

/** Directories searched after PATH. */
const EXTRA_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin"];

/** The directories searched by default: $PATH, then the usual install directories. */
export function programDirs(): string[] {
  return [...(Deno.env.get("PATH") ?? "").split(delimiter), ...EXTRA_DIRS].filter((d) => d !== "");
}

/**
 * The first of `names` (`.exe` added on Windows) found in `dirs` (default
 * {@linkcode programDirs}), or `undefined`.
 */
export async function findProgram(
  names: readonly string[],
  dirs: readonly string[] = programDirs(),
): Promise<string | undefined> {
  for (const name of names) {
    const file = Deno.build.os === "windows" ? `${name}.exe` : name;
    for (const dir of dirs) {
      const candidate = join(dir, file);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Resolves with the path of a tor executable; rejects with
 * `TorError("tor_not_found")` when there is none.
 */
export async function findTor(torPath?: string): Promise<string> {
  if (torPath !== undefined) {
    if (await isExecutable(torPath)) return torPath;
    throw new TorError("tor_not_found", `No tor executable at ${torPath}: ${TOR_INSTALL_HINT}`);
  }
  const found = await findProgram(["tor"]);
  if (found !== undefined) return found;
  throw new TorError("tor_not_found", `Tor is not installed or not on PATH: ${TOR_INSTALL_HINT}`);
}

/** Whether `path` is a file we may execute. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return false;
    // On Windows there is no mode; any file named tor.exe will do.
    return info.mode === null || (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
