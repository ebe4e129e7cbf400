/**
 * Typed errors of the SOCKS5 client: every reply code a SOCKS server (tor)
 * can send, every malformed server message and every I/O failure of a
 * handshake becomes a {@linkcode SocksError} with a stable `code`, a message
 * that says what it means to a user, and whether retrying can help.
 *
 * This module owns the table of reply codes (RFC 1928 §6 and tor's extended
 * codes of proposal 304, `socks-extensions.txt` "Extended error codes"); it
 * knows nothing about sockets or the handshake's states.
 *
 * @module
 */

import { UnmessageError } from "../errors.ts";

/** Options of a {@linkcode SocksError} beyond code and message. */
export interface SocksErrorOptions extends ErrorOptions {
  /** Whether the same request may succeed if tried again later. */
  retryable: boolean;
  /** The REP byte of the server's reply, when the error came from one. */
  replyCode?: number;
}

/** A failed SOCKS5 handshake (protocol, reply code, timeout or I/O). */
export class SocksError extends UnmessageError {
  /** Whether the same request may succeed if tried again later. */
  readonly retryable: boolean;
  /** The REP byte of the server's reply, when the error came from one. */
  readonly replyCode: number | undefined;

  /** An error with a stable `code`, saying whether a retry may succeed. */
  constructor(code: string, message: string, options: SocksErrorOptions) {
    super(code, message, options);
    this.retryable = options.retryable;
    this.replyCode = options.replyCode;
  }

  /** Plain data for the machine interface and logs. */
  override toJSON(): { code: string; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** One entry of the reply-code table. */
export interface SocksReplyInfo {
  /** Stable error code. */
  code: string;
  /** What the reply means to a user (sentence case, no final period). */
  message: string;
  /** Whether the same request may succeed later. */
  retryable: boolean;
}

/**
 * Every known non-success REP value. RFC 1928 §6 defines 0x01–0x08; tor adds
 * 0xF0–0xF7 for onion services when the SocksPort has `ExtendedErrors`
 * (socks-extensions.txt, "Extended error codes").
 */
export const SOCKS_REPLIES: ReadonlyMap<number, SocksReplyInfo> = new Map([
  [0x01, {
    code: "socks_general_failure",
    message: "Tor could not open the connection (general failure); try again shortly",
    retryable: true,
  }],
  [0x02, {
    code: "socks_not_allowed",
    message: "Tor's rules do not allow this connection",
    retryable: false,
  }],
  [0x03, {
    code: "socks_network_unreachable",
    message: "Tor cannot reach the network; check that tor is connected",
    retryable: true,
  }],
  [0x04, {
    code: "socks_host_unreachable",
    message: "The destination could not be reached through Tor",
    retryable: true,
  }],
  [0x05, {
    code: "socks_connection_refused",
    message: "The contact's onion service refused the connection; they may not be running",
    retryable: true,
  }],
  [0x06, {
    code: "socks_ttl_expired",
    message: "The connection through Tor timed out; the contact may be offline",
    retryable: true,
  }],
  [0x07, {
    code: "socks_command_not_supported",
    message: "Tor does not support the requested SOCKS command",
    retryable: false,
  }],
  [0x08, {
    code: "socks_address_type_not_supported",
    message: "Tor does not support the requested address type",
    retryable: false,
  }],
  // socks-extensions.txt, extended error codes (needs SocksPort ExtendedErrors)
  [0xf0, {
    code: "socks_onion_not_found",
    message: "The contact's onion service was not found; they are offline or not yet published",
    retryable: true,
  }],
  [0xf1, {
    code: "socks_onion_invalid_descriptor",
    message: "The contact's onion service published an invalid descriptor",
    retryable: false,
  }],
  [0xf2, {
    code: "socks_onion_intro_failed",
    message: "Tor could not introduce us to the contact's onion service; they may be offline",
    retryable: true,
  }],
  [0xf3, {
    code: "socks_onion_rendezvous_failed",
    message: "Tor could not complete the rendezvous with the contact's onion service",
    retryable: true,
  }],
  [0xf4, {
    code: "socks_onion_missing_client_auth",
    message: "The contact's onion service requires client authorization that we do not have",
    retryable: false,
  }],
  [0xf5, {
    code: "socks_onion_bad_client_auth",
    message: "The contact's onion service rejected our client authorization",
    retryable: false,
  }],
  [0xf6, {
    code: "socks_onion_bad_address",
    message: "The onion address is not valid; check the contact's address",
    retryable: false,
  }],
  [0xf7, {
    code: "socks_onion_intro_timeout",
    message: "Introduction to the contact's onion service timed out; they may be offline",
    retryable: true,
  }],
]);

/** The error for a non-success REP byte (known or not). */
export function replyError(rep: number): SocksError {
  const info = SOCKS_REPLIES.get(rep);
  if (info === undefined) {
    return new SocksError(
      "socks_unknown_reply",
      `Tor refused the connection with unknown reply code 0x${rep.toString(16).padStart(2, "0")}`,
      { retryable: false, replyCode: rep },
    );
  }
  return new SocksError(info.code, info.message, { retryable: info.retryable, replyCode: rep });
}

/** A server message that breaks the protocol (never retryable). */
export function protocolError(code: string, message: string): SocksError {
  return new SocksError(code, message, { retryable: false });
}
