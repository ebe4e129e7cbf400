/**
 * The error family of the persistence layer: every failure to find, read,
 * parse, decrypt, lock or write a file under the configuration folder is a
 * {@linkcode StoreError} with a stable `code`, the path concerned, and a
 * message that says what happened and what the user can do.
 *
 * Messages never contain file contents, passphrases or keys: only paths,
 * sizes, process ids and the validator's own description of what is wrong.
 *
 * @module
 */

import { errorMessage, UnmessageError } from "../errors.ts";

export type { UnmessageError } from "../errors.ts";

/**
 * Stable codes of {@linkcode StoreError}:
 * - `not_found`: the file or folder does not exist
 * - `corrupt`: the file is not valid JSON (or not UTF-8)
 * - `invalid`: the JSON does not have the expected shape
 * - `too_large`: the file exceeds the size any unMessage file can have
 * - `refused`: a save would replace a file that failed to load
 * - `locked`: another live process holds the peer's lock
 * - `bad_name`: a peer name or conversation id that is not allowed
 * - `no_home`: the configuration folder cannot be determined
 * - `bad_passphrase`: the passphrase does not open the vault
 * - `passphrase_required`: the file is encrypted and no passphrase was given
 * - `not_encrypted`: a passphrase was given for a peer stored in plain text
 * - `tampered`: an encrypted file fails authentication under the right key
 * - `rolled_back`: a state file is older than the other one it must match
 * - `io`: any other operating-system failure (permissions, disk full ...)
 */
export type StoreErrorCode =
  | "not_found"
  | "corrupt"
  | "invalid"
  | "too_large"
  | "refused"
  | "locked"
  | "bad_name"
  | "no_home"
  | "bad_passphrase"
  | "passphrase_required"
  | "not_encrypted"
  | "tampered"
  | "rolled_back"
  | "io";

/** A failure of the persistence layer; `path` names the file or folder. */
export class StoreError extends UnmessageError {
  /** What went wrong. */
  declare readonly code: StoreErrorCode;
  /** The file or folder concerned, when there is one. */
  readonly path: string | undefined;

  /** An error `code` of `path` (when there is one), with a message that says what to do. */
  constructor(
    code: StoreErrorCode,
    message: string,
    path?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.path = path;
  }
}

/** Type guard for a {@linkcode StoreError}, optionally of one code. */
export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}

/** A thrown value's message ({@linkcode errorMessage}) without its closing period, to quote in ours. */
export function describeError(e: unknown): string {
  return errorMessage(e).replace(/[.\s]+$/, "");
}

/**
 * Wraps an operating-system error from `Deno.*` in a {@linkcode StoreError}:
 * `NotFound` becomes `not_found`, anything else `io`; a StoreError passes
 * through unchanged. `action` says what was attempted ("read", "write" ...).
 */
export function wrapIoError(e: unknown, action: string, path: string): StoreError {
  if (e instanceof StoreError) return e;
  if (e instanceof Deno.errors.NotFound) {
    return new StoreError("not_found", `Cannot ${action} ${path}: no such file or folder`, path, {
      cause: e,
    });
  }
  const hint = e instanceof Deno.errors.PermissionDenied
    ? "check that you own it and that its folder is writable"
    : "check the disk and the folder's permissions";
  return new StoreError(
    "io",
    `Cannot ${action} ${path}: ${describeError(e)}; ${hint}`,
    path,
    { cause: e },
  );
}
