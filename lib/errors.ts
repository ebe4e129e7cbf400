/**
 * The one error family of unMessage: every failure a caller is expected to
 * handle is an {@linkcode UnmessageError} with a stable, machine-readable
 * `code` (for the JSON interface and tests) and a message that says what
 * happened and, where useful, what to do. Subclasses group codes by layer.
 *
 * Key material never appears in a message: callers pass names and lengths,
 * never values.
 *
 * @module
 */

/** Base class of every typed unMessage error. */
export class UnmessageError extends Error {
  /** Stable identifier, e.g. `"decrypt_failed"`; never changes wording. */
  readonly code: string;

  /** Makes an error with its stable `code` and a message for the user. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** Plain data for the machine interface and logs. */
  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Cryptographic failure (bad key, failed authentication, bad input size). */
export class CryptoError extends UnmessageError {}

/** Malformed, truncated, oversized or unexpected protocol data. */
export class ProtocolError extends UnmessageError {}

/** The message of a thrown value: an `Error`'s message, anything else as text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Type guard for any {@linkcode UnmessageError}, optionally of one code. */
export function isUnmessageError(e: unknown, code?: string): e is UnmessageError {
  return e instanceof UnmessageError && (code === undefined || e.code === code);
}
