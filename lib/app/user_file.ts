/**
 * Reading a small text file that the user names on the command line (the
 * control password file, a bridges file, `--torrc-extra`): a regular file
 * only, at most a given size, UTF-8. The type is checked with `stat` before
 * the file is opened, because opening a FIFO blocks until someone writes to
 * it (the start would hang with no word), and again on the open file. A
 * symbolic link is followed: what counts is the file it leads to.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";

/** A file that cannot be used; the message says why, without the path (callers add it). */
export class UserFileError extends Error {
  /** What is wrong: the OS error, or the file's kind, size or encoding. */
  readonly reason: "unreadable" | "not_regular" | "too_large" | "not_utf8";

  /** An error for `reason`, saying `message`. */
  constructor(reason: UserFileError["reason"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** The text of a user-given file, and its permission bits (null where the OS has none). */
export interface UserFile {
  /** The file's text. */
  text: string;
  /** `stat`'s mode, for a check such as "readable by others". */
  mode: number | null;
}

/**
 * Reads `path` (see the module header).
 *
 * @throws {UserFileError} for a missing or unreadable file, one that is not a
 *   regular file, one larger than `maxBytes`, or one that is not UTF-8
 */
export async function readUserFile(path: string, maxBytes: number): Promise<UserFile> {
  let bytes: Uint8Array;
  let mode: number | null;
  try {
    if (!(await Deno.stat(path)).isFile) throw notRegular();
    using file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) throw notRegular();
    if (info.size > maxBytes) throw tooLarge(maxBytes);
    mode = info.mode;
    // One byte more than allowed, to notice a file that grew meanwhile.
    bytes = new Uint8Array(maxBytes + 1);
    let length = 0;
    for (let n; length < bytes.length && (n = await file.read(bytes.subarray(length))) !== null;) {
      length += n;
    }
    if (length > maxBytes) throw tooLarge(maxBytes);
    bytes = bytes.subarray(0, length);
  } catch (e) {
    if (e instanceof UserFileError) throw e;
    throw new UserFileError("unreadable", errorMessage(e), { cause: e });
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), mode };
  } catch {
    throw new UserFileError("not_utf8", "it is not UTF-8 text");
  }
}

function notRegular(): UserFileError {
  return new UserFileError("not_regular", "it is not a regular file");
}

function tooLarge(maxBytes: number): UserFileError {
  return new UserFileError("too_large", `it is larger than ${maxBytes} bytes`);
}
