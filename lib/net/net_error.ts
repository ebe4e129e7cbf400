/**
 * Typed errors of the transport layer (`lib/net/`): a framed connection that
 * closed, timed out or broke the framing, a dial that failed or was aborted.
 *
 * Every {@linkcode NetError} says whether retrying the same operation later
 * can help (`retryable`), so the connector can tell a contact that is offline
 * for now from a mistake that no retry will fix. Errors from other layers
 * that carry the same flag (tor's `SocksError`) are classified the same way
 * by {@linkcode isRetryable}.
 *
 * @module
 */

import { isUnmessageError, UnmessageError } from "../errors.ts";

/** Stable codes of {@linkcode NetError}. */
export type NetErrorCode =
  | "connection_closed"
  | "connection_refused"
  | "connect_failed"
  | "connect_timeout"
  | "connect_aborted"
  | "write_timeout"
  | "write_failed"
  | "idle_timeout"
  | "unknown_host"
  | "too_many_connections"
  | "frame_handler_failed";

/** Options of a {@linkcode NetError} beyond code and message. */
export interface NetErrorOptions extends ErrorOptions {
  /** Whether the same operation may succeed if tried again later. */
  retryable?: boolean;
}

/** A failure of the transport layer. */
export class NetError extends UnmessageError {
  /** Whether the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  /** An error with `code`, `message`, and whether retrying may help (`options.retryable`). */
  constructor(code: NetErrorCode, message: string, options: NetErrorOptions = {}) {
    super(code, message, options);
    this.retryable = options.retryable ?? false;
  }

  /** Plain data for the machine interface and logs. */
  override toJSON(): { code: string; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** Deno's I/O errors after which a later attempt may well succeed. */
const RETRYABLE_IO_ERRORS: readonly (new (...args: never[]) => Error)[] = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.TimedOut,
  Deno.errors.BrokenPipe,
  Deno.errors.UnexpectedEof,
  Deno.errors.AddrNotAvailable,
];

/**
 * Whether a dial failure is worth retrying: a typed error's own `retryable`
 * flag (ours or tor's `SocksError`), a transient socket error, and nothing
 * else (an unknown failure is a bug, retrying hides it).
 */
export function isRetryable(e: unknown): boolean {
  if (isUnmessageError(e)) {
    const flag = (e as { retryable?: unknown }).retryable;
    return typeof flag === "boolean" ? flag : false;
  }
  return RETRYABLE_IO_ERRORS.some((cls) => e instanceof cls);
}

/** The stable code of any failure, for progress events and logs. */
export function errorCode(e: unknown): string {
  if (isUnmessageError(e)) return e.code;
  if (e instanceof Error) {
    return `io_${e.name.replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase())}`;
  }
  return "unknown_error";
}
