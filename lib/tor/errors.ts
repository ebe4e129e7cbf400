/**
 * Typed failures of the Tor layer (launcher and control-port client). Every
 * error a caller of `lib/tor/` is expected to handle is a {@linkcode TorError}
 * with a stable `code`; a refusal by tor itself (`control_reply`) also carries
 * tor's three-digit status and its reply text.
 *
 * Messages never contain key material or credentials: commands that carry a
 * secret (ADD_ONION, AUTHENTICATE) are named by their keyword only.
 *
 * @module
 */

import { UnmessageError } from "../errors.ts";

/** The stable codes of {@linkcode TorError}. */
export type TorErrorCode =
  /** No tor executable on PATH or at the given path. */
  | "tor_not_found"
  /** The tor process exited (or could not start) before it was ready. */
  | "tor_exited"
  /** The control connection could not be opened. */
  | "control_connect_failed"
  /** The control connection closed; pending commands fail with this. */
  | "control_closed"
  /** A control command got no reply in time. */
  | "control_timeout"
  /** Tor answered a command with a non-2xx status (see `status`). */
  | "control_reply"
  /** Tor sent bytes that are not a valid control-port reply. */
  | "control_malformed"
  /** A reply exceeded the size bound of the framer. */
  | "control_too_large"
  /** Authentication to the control port failed or was impossible. */
  | "auth_failed"
  /** Tor did not reach 100% bootstrap in time. */
  | "bootstrap_timeout"
  /** Tor did not report an uploaded onion descriptor in time. */
  | "descriptor_timeout"
  /** The data directory for a launched tor cannot be created or written. */
  | "data_dir_unusable"
  /** Tor did not write its control port file in time. */
  | "launch_timeout"
  /** The tor has no SOCKS listener we could dial through. */
  | "tor_no_socks"
  /** A bridge line (or bridges file) that tor could not use. */
  | "invalid_bridge"
  /** A proxy URL that is not socks5://, socks4:// or https://host:port. */
  | "invalid_proxy"
  /** The pluggable transport program a bridge needs is not installed. */
  | "pt_not_found"
  /** A caller passed a value that cannot be sent to tor. */
  | "invalid_argument"
  /** The peer is stopping: a tor still being started is let go. */
  | "stopped";

/** Extra fields of a {@linkcode TorError}. */
export interface TorErrorOptions extends ErrorOptions {
  /** Tor's three-digit reply status (for `control_reply`). */
  status?: number;
  /** Tor's reply text (for `control_reply`). */
  torText?: string;
}

/** A failure of the Tor layer, with a stable {@linkcode TorErrorCode}. */
export class TorError extends UnmessageError {
  /** What went wrong, stable for callers and the machine interface. */
  override readonly code: TorErrorCode;
  /** Tor's reply status, e.g. 550, when tor refused a command. */
  readonly status: number | undefined;
  /** Tor's reply text when tor refused a command. */
  readonly torText: string | undefined;

  /** An error with a stable `code` and a message that says what to do. */
  constructor(code: TorErrorCode, message: string, options: TorErrorOptions = {}) {
    const { status, torText, ...errorOptions } = options;
    super(code, message, errorOptions);
    this.code = code;
    this.status = status;
    this.torText = torText;
  }

  /** Plain data for the machine interface and logs. */
  override toJSON(): { code: string; message: string; status?: number } {
    return this.status === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, status: this.status };
  }
}

/** Type guard for a {@linkcode TorError}, optionally of one code and status. */
export function isTorError(e: unknown, code?: TorErrorCode, status?: number): e is TorError {
  return e instanceof TorError && (code === undefined || e.code === code) &&
    (status === undefined || e.status === status);
}
