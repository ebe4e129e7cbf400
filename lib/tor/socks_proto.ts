/**
 * SOCKS5 client handshake as a sans-IO state machine (RFC 1928 with
 * RFC 1929 username/password), in the style of arti's tor-socksproto: it
 * never touches a socket. The I/O layer (`socks.ts`) feeds it the server's
 * unconsumed bytes and performs the returned action.
 *
 * Addresses are always sent as DOMAINNAME (ATYP 3) so that onion names reach
 * tor unresolved. Credentials are used by tor for stream isolation
 * (socks-extensions.txt, "Stream isolation"): with credentials we offer only
 * the username/password method, so a server cannot silently drop isolation.
 *
 * The machine never asks for more bytes than the current message can still
 * need, so a caller that reads at most `need.bytes` never reads past the
 * final reply: every byte after it belongs to the stream.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { protocolError, replyError, SocksError } from "./socks_errors.ts";

/** RFC 1928 §3: protocol version byte. */
const SOCKS_VERSION = 0x05;
/** RFC 1928 §3: "NO AUTHENTICATION REQUIRED". */
const METHOD_NO_AUTH = 0x00;
/** RFC 1928 §3: "USERNAME/PASSWORD" (RFC 1929). */
const METHOD_USER_PASS = 0x02;
/** RFC 1928 §3: "NO ACCEPTABLE METHODS". */
const METHOD_NONE_ACCEPTABLE = 0xff;
/** RFC 1929 §2: version of the username/password subnegotiation. */
const USER_PASS_VERSION = 0x01;
/** RFC 1928 §4: CONNECT command. */
const CMD_CONNECT = 0x01;
/** RFC 1928 §5: address types. */
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;
/** RFC 1928 §5 / RFC 1929 §2: a length byte bounds names and credentials. */
export const MAX_FIELD_LENGTH = 255;
/** RFC 1928 §6: VER REP RSV ATYP, then the shortest address (empty name), port. */
const REPLY_MIN_LENGTH = 4 + 1 + 2;

/**
 * Named states of the handshake:
 * - `start`: nothing sent yet; the next step sends the greeting.
 * - `awaitMethod`: greeting sent, waiting for the server's method choice.
 * - `awaitAuth`: username/password sent, waiting for its status.
 * - `awaitReply`: CONNECT request sent, waiting for the reply.
 * - `done`: connected; the machine refuses further calls.
 * - `failed`: a step threw; the machine refuses further calls.
 */
export type SocksState = "start" | "awaitMethod" | "awaitAuth" | "awaitReply" | "done" | "failed";

/** The address the server reports as bound (tor reports 0.0.0.0:0). */
export interface SocksBound {
  /** The host (a name, an IPv4 or an IPv6 address). */
  host: string;
  /** The port. */
  port: number;
}

/** What the I/O layer must do next. */
export type SocksAction =
  /** Drop `consumed` input bytes, then write `send` to the server. */
  | { send: Uint8Array; consumed: number }
  /** Read more: at least one and at most `bytes` further bytes are needed. */
  | { need: "more"; bytes: number }
  /** Handshake complete; input after `consumed` belongs to the stream. */
  | { done: { consumed: number; bound: SocksBound } };

/** Destination and optional credentials of a CONNECT. */
export interface SocksRequest {
  /** The host (a name, an IPv4 or an IPv6 address). */
  host: string;
  /** The port. */
  port: number;
  /** RFC 1929 user name (tor uses the pair to isolate circuits). */
  username?: string;
  /** RFC 1929 password. */
  password?: string;
}

/** SOCKS5 client handshake; see the module documentation. */
export class SocksClientHandshake {
  #state: SocksState = "start";
  readonly #host: Uint8Array;
  readonly #port: number;
  readonly #user: Uint8Array | undefined;
  readonly #pass: Uint8Array | undefined;

  /** Validates the request; throws `socks_invalid_request` on bad input. */
  constructor(request: SocksRequest) {
    this.#host = field(request.host, "host");
    if (!isPort(request.port)) {
      throw invalid(`Port ${String(request.port)} is not between 1 and 65535`);
    }
    this.#port = request.port;
    if ((request.username === undefined) !== (request.password === undefined)) {
      throw invalid("Username and password must be given together");
    }
    this.#user = request.username === undefined ? undefined : field(request.username, "username");
    this.#pass = request.password === undefined ? undefined : field(request.password, "password");
  }

  /** The current state (see {@linkcode SocksState}). */
  get state(): SocksState {
    return this.#state;
  }

  /**
   * Advances the handshake with all server bytes not yet consumed.
   * Throws a {@linkcode SocksError} on a failure reply or malformed input,
   * after which the machine is `failed`.
   */
  step(input: Uint8Array): SocksAction {
    if (this.#state === "done" || this.#state === "failed") {
      throw protocolError("socks_handshake_over", "The SOCKS handshake is already over");
    }
    try {
      return this.#advance(input);
    } catch (e) {
      this.#state = "failed";
      throw e instanceof SocksError
        ? e
        : protocolError("socks_internal", "The SOCKS handshake failed unexpectedly");
    }
  }

  #advance(input: Uint8Array): SocksAction {
    switch (this.#state) {
      case "start":
        if (input.length > 0) {
          throw protocolError(
            "socks_unexpected_data",
            "The SOCKS server spoke before our greeting",
          );
        }
        this.#state = "awaitMethod";
        // RFC 1928 §3: VER NMETHODS METHODS; offer only user/pass when isolating
        return { send: Uint8Array.of(SOCKS_VERSION, 1, this.#method()), consumed: 0 };
      case "awaitMethod":
        return this.#onMethod(input);
      case "awaitAuth":
        return this.#onAuth(input);
      case "awaitReply":
        return this.#onReply(input);
      default:
        throw protocolError("socks_handshake_over", "The SOCKS handshake is already over");
    }
  }

  #method(): number {
    return this.#user === undefined ? METHOD_NO_AUTH : METHOD_USER_PASS;
  }

  // RFC 1928 §3: the server answers VER METHOD
  #onMethod(input: Uint8Array): SocksAction {
    checkVersion(input[0]);
    if (input.length < 2) return { need: "more", bytes: 2 - input.length };
    const method = input[1];
    if (method === METHOD_NONE_ACCEPTABLE) {
      throw protocolError(
        "socks_no_acceptable_method",
        "The SOCKS server accepted none of our authentication methods",
      );
    }
    if (method !== this.#method()) {
      throw protocolError(
        "socks_unexpected_method",
        "The SOCKS server chose a method we did not offer",
      );
    }
    if (this.#user !== undefined && this.#pass !== undefined) {
      this.#state = "awaitAuth";
      // RFC 1929 §2: VER ULEN UNAME PLEN PASSWD
      return { send: lengthPrefixed(USER_PASS_VERSION, this.#user, this.#pass), consumed: 2 };
    }
    return this.#sendRequest(2);
  }

  // RFC 1929 §2: the server answers VER STATUS; 0x00 is success
  #onAuth(input: Uint8Array): SocksAction {
    if (input.length >= 1 && input[0] !== USER_PASS_VERSION) {
      throw protocolError(
        "socks_bad_auth_version",
        "The SOCKS server sent a bad auth reply version",
      );
    }
    if (input.length < 2) return { need: "more", bytes: 2 - input.length };
    if (input[1] !== 0x00) {
      throw protocolError(
        "socks_auth_failed",
        "The SOCKS server rejected our username and password",
      );
    }
    return this.#sendRequest(2);
  }

  #sendRequest(consumed: number): SocksAction {
    this.#state = "awaitReply";
    const request = new Uint8Array(4 + 1 + this.#host.length + 2);
    // RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT (network byte order)
    request.set([SOCKS_VERSION, CMD_CONNECT, 0x00, ATYP_DOMAIN, this.#host.length]);
    request.set(this.#host, 5);
    new DataView(request.buffer).setUint16(5 + this.#host.length, this.#port);
    return { send: request, consumed };
  }

  // RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT; fields are checked as
  // soon as they arrive, and the length is known once ATYP (and for a
  // DOMAINNAME its length byte) has arrived.
  #onReply(input: Uint8Array): SocksAction {
    checkVersion(input[0]);
    const rep = input[1];
    if (rep !== undefined && rep !== 0x00) throw replyError(rep);
    if (input.length >= 3 && input[2] !== 0x00) {
      throw protocolError("socks_bad_reserved", "The SOCKS server set the reserved byte");
    }
    const atyp = input[3];
    let total = REPLY_MIN_LENGTH;
    if (atyp === ATYP_IPV4) total = 4 + 4 + 2;
    else if (atyp === ATYP_IPV6) total = 4 + 16 + 2;
    else if (atyp === ATYP_DOMAIN) total = 4 + 1 + (input[4] ?? 0) + 2;
    else if (atyp !== undefined) {
      throw protocolError(
        "socks_bad_address_type",
        "The SOCKS server sent an unknown address type",
      );
    }
    if (atyp === undefined || input.length < total) {
      return { need: "more", bytes: total - input.length };
    }
    this.#state = "done";
    const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    const port = view.getUint16(total - 2);
    return { done: { consumed: total, bound: { host: boundHost(atyp, input, total), port } } };
  }
}

function checkVersion(version: number | undefined): void {
  if (version !== undefined && version !== SOCKS_VERSION) {
    throw protocolError("socks_bad_version", "The server did not answer as a SOCKS5 server");
  }
}

function boundHost(atyp: number, input: Uint8Array, total: number): string {
  if (atyp === ATYP_IPV4) return Array.from(input.subarray(4, 8)).join(".");
  if (atyp === ATYP_IPV6) {
    const view = new DataView(input.buffer, input.byteOffset + 4, 16);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(view.getUint16(i).toString(16));
    return groups.join(":");
  }
  // a DOMAINNAME is only reported, never trusted: decode bytes one to one
  return String.fromCharCode(...input.subarray(5, total - 2));
}

function lengthPrefixed(version: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + a.length + b.length);
  out[0] = version;
  out[1] = a.length;
  out.set(a, 2);
  out[2 + a.length] = b.length;
  out.set(b, 3 + a.length);
  return out;
}

function field(value: string, name: string): Uint8Array {
  if (typeof value !== "string") throw invalid(`The ${name} must be a string`);
  const bytes = new TextEncoder().encode(value);
  // RFC 1928 §5 / RFC 1929 §2: one length byte, and an empty field is not allowed
  if (bytes.length < 1 || bytes.length > MAX_FIELD_LENGTH) {
    throw invalid(`The ${name} must be 1 to ${MAX_FIELD_LENGTH} bytes long`);
  }
  if (bytes.includes(0)) throw invalid(`The ${name} must not contain a NUL byte`);
  return bytes;
}

function invalid(message: string): SocksError {
  return new SocksError("socks_invalid_request", message, { retryable: false });
}
