/**
 * Where the password of an attached tor's control port comes from, in the
 * order tried: `--control-password <p>` (visible to every local user in
 * `/proc/<pid>/cmdline` and `ps`, so it earns a warning),
 * `--control-password-file <file>` (the first line of a file, which should be
 * readable by its owner only), then `$UNMESSAGE_CONTROL_PASSWORD` (an
 * environment is readable by the same user and root only). None of them:
 * cookie authentication. The password itself never appears in a message.
 *
 * @module
 */

import { UnmessageError } from "../errors.ts";
import { readUserFile, UserFileError } from "./user_file.ts";

/** Environment variable holding the control port password. */
export const CONTROL_PASSWORD_ENV = "UNMESSAGE_CONTROL_PASSWORD";
/** Longest password file read (a password is a line, not a document). */
export const MAX_PASSWORD_FILE_BYTES = 4096;

/** What {@linkcode resolveControlPassword} is given. */
export interface ControlPasswordSources {
  /** `--control-password`. */
  flag?: string | undefined;
  /** `--control-password-file`. */
  file?: string | undefined;
  /** The value of {@linkcode CONTROL_PASSWORD_ENV}, if set. */
  env?: string | undefined;
}

/** The password found (if any) and warnings to show the user. */
export interface ResolvedControlPassword {
  /** The password, when one of the sources gave it. */
  password?: string;
  /** What to tell the user (a password on the command line, a readable file). */
  warnings: string[];
}

/** A password file that cannot be used (exit status 1, with the path and why). */
export class ControlPasswordError extends UnmessageError {
  /** An error with code `control_password` and `message`. */
  constructor(message: string, options?: ErrorOptions) {
    super("control_password", message, options);
  }
}

/** The warning shown when the password was given on the command line. */
export const CMDLINE_PASSWORD_WARNING: string =
  "--control-password can be read by every local user (in /proc/<pid>/cmdline and ps); " +
  `use --control-password-file <file> or $${CONTROL_PASSWORD_ENV} instead`;

/**
 * Picks the password; reads the file if that is the source.
 *
 * @throws {ControlPasswordError} for a file that is missing, unreadable, too
 *   large, empty, or holds more than one line
 */
export async function resolveControlPassword(
  sources: ControlPasswordSources,
): Promise<ResolvedControlPassword> {
  if (sources.flag !== undefined) {
    return { password: sources.flag, warnings: [CMDLINE_PASSWORD_WARNING] };
  }
  if (sources.file !== undefined) return await readPasswordFile(sources.file);
  if (sources.env !== undefined && sources.env !== "") {
    return { password: sources.env, warnings: [] };
  }
  return { warnings: [] };
}

async function readPasswordFile(path: string): Promise<ResolvedControlPassword> {
  let text: string;
  const warnings: string[] = [];
  try {
    const file = await readUserFile(path, MAX_PASSWORD_FILE_BYTES);
    text = file.text;
    if (file.mode !== null && (file.mode & 0o077) !== 0) {
      warnings.push(
        `The control password file ${path} can be read by other users; chmod 600 it`,
      );
    }
  } catch (e) {
    if (!(e instanceof UserFileError)) throw e;
    throw new ControlPasswordError(
      e.reason === "unreadable"
        ? `Cannot read the control password file ${path}: ${e.message}`
        : `Cannot use the control password file ${path}: ${e.message}`,
      { cause: e },
    );
  }
  // One line: a final line break (as editors write) is not part of the password.
  const password = text.replace(/\r?\n$/, "");
  if (/[\r\n\0]/.test(password)) {
    throw new ControlPasswordError(
      `The control password file ${path} must hold the password on one line`,
    );
  }
  if (password === "") throw new ControlPasswordError(`The control password file ${path} is empty`);
  return { password, warnings };
}
