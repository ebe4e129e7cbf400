/**
 * Control-port authentication helpers (control-spec §3.5, §3.21, §3.24):
 * choosing a method from what PROTOCOLINFO offers, the SAFECOOKIE HMACs, and
 * reading a cookie file safely, and the AUTHENTICATE exchange itself, which
 * talks through a `command` function (`TorControl.command`): this module
 * never touches a socket.
 *
 * @module
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, equalBytes, type Rng, toHex, utf8 } from "../crypto/bytes.ts";
import { systemRng } from "../rng.ts";
import { parseAuthChallenge, type ProtocolInfo } from "./control_parse.ts";
import type { ControlReply } from "./control_reply.ts";
import { TorError } from "./errors.ts";

/** The authentication methods tor offers (control-spec §3.21 AuthMethod). */
export type AuthMethod = "NULL" | "HASHEDPASSWORD" | "COOKIE" | "SAFECOOKIE";

/** How to authenticate; by default the best method tor offers is used. */
export interface AuthOptions {
  /** Control password (for HASHEDPASSWORD). Sent hex-encoded. */
  password?: string;
  /** The 32-byte cookie itself, instead of reading the cookie file. */
  cookie?: Uint8Array;
  /** Cookie file to read instead of the COOKIEFILE tor names. */
  cookieFile?: string;
  /** Use exactly this method (it must be offered). */
  method?: AuthMethod;
  /**
   * Allows plain COOKIE with the file tor's PROTOCOLINFO names, when neither
   * `cookie` nor `cookieFile` is given and SAFECOOKIE is not offered. Off by
   * default: plain COOKIE sends the file's bytes to whatever answers on the
   * port, so a fake control port could make us disclose any 32-byte file.
   */
  allowPlainCookie?: boolean;
  /** Source of the SAFECOOKIE client nonce; default the system CSPRNG. */
  rng?: Rng;
}

/** control-spec §3.21: all authentication cookies are 32 bytes long. */
export const COOKIE_BYTES = 32;
/** Length of our SAFECOOKIE client nonce (the server's is also 32). */
export const CLIENT_NONCE_BYTES = 32;

/** control-spec §3.24: HMAC key of the hash tor proves the cookie with. */
const SERVER_TO_CONTROLLER = "Tor safe cookie authentication server-to-controller hash";
/** control-spec §3.24: HMAC key of the hash we prove the cookie with. */
const CONTROLLER_TO_SERVER = "Tor safe cookie authentication controller-to-server hash";

/**
 * Picks the method: a forced one if offered; otherwise NULL (refused when a
 * password or cookie was given: that tor would not offer it), then the
 * password if the caller gave one, then SAFECOOKIE (it never reveals the
 * cookie to a port that is not tor), then COOKIE, then HASHEDPASSWORD.
 * Plain COOKIE with the file the port names needs `allowPlainCookie` and no
 * SAFECOOKIE on offer (see {@linkcode AuthOptions.allowPlainCookie}).
 */
export function chooseAuthMethod(info: ProtocolInfo, options: AuthOptions): AuthMethod {
  const offered = new Set(info.methods);
  if (options.method !== undefined) {
    if (!offered.has(options.method)) {
      throw new TorError(
        "auth_failed",
        `Tor does not offer ${options.method} authentication (offers ${info.methods.join(", ")})`,
      );
    }
    if (options.method === "COOKIE") checkPlainCookie(offered, options);
    return options.method;
  }
  if (offered.has("NULL")) {
    // A tor set up with a password or a cookie never offers NULL: a port that
    // does, when we were given one, is not that tor (a listener that got the
    // port first), and what follows authentication hands it our onion key.
    if (
      options.password !== undefined || options.cookie !== undefined ||
      options.cookieFile !== undefined
    ) {
      throw new TorError(
        "auth_failed",
        "The control port asks for no authentication, but a password or cookie was given for " +
          "it: it is not the tor set up that way (is that tor running on this port?)",
      );
    }
    return "NULL";
  }
  if (options.password !== undefined && offered.has("HASHEDPASSWORD")) return "HASHEDPASSWORD";
  if (offered.has("SAFECOOKIE")) return "SAFECOOKIE";
  if (offered.has("COOKIE")) {
    checkPlainCookie(offered, options);
    return "COOKIE";
  }
  if (offered.has("HASHEDPASSWORD")) {
    throw new TorError("auth_failed", "Tor requires a control password; pass the password option");
  }
  throw new TorError(
    "auth_failed",
    `Tor offers no supported authentication method (${info.methods.join(", ") || "none"})`,
  );
}

/**
 * Refuses plain COOKIE with the cookie file the port itself names (attach
 * mode) unless the caller allowed it and SAFECOOKIE is not offered: the
 * file's bytes go over the wire before the port proves anything (§3.21),
 * whereas SAFECOOKIE makes tor prove the cookie first (§3.24).
 */
function checkPlainCookie(offered: ReadonlySet<string>, options: AuthOptions): void {
  if (options.cookie !== undefined || options.cookieFile !== undefined) return;
  if (options.allowPlainCookie === true && !offered.has("SAFECOOKIE")) return;
  throw new TorError(
    "auth_failed",
    offered.has("SAFECOOKIE")
      ? "Refusing plain COOKIE authentication with the port's cookie file; use SAFECOOKIE"
      : "Tor offers only plain COOKIE authentication, which would send the file the port " +
        "names; pass a password or use SAFECOOKIE (or set allowPlainCookie)",
  );
}

/**
 * The SAFECOOKIE hashes (control-spec §3.24), each
 * HMAC-SHA256(key constant, CookieString | ClientNonce | ServerNonce).
 */
export function safeCookieHashes(
  cookie: Uint8Array,
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
): { serverHash: Uint8Array; clientHash: Uint8Array } {
  const message = concatBytes(cookie, clientNonce, serverNonce);
  const out = {
    serverHash: hmac(sha256, utf8(SERVER_TO_CONTROLLER), message),
    clientHash: hmac(sha256, utf8(CONTROLLER_TO_SERVER), message),
  };
  message.fill(0);
  return out;
}

/** Checks a cookie given by the caller, or reads it from `path`. */
export async function loadCookie(
  options: AuthOptions,
  path: string | undefined,
): Promise<Uint8Array> {
  if (options.cookie !== undefined) {
    if (!(options.cookie instanceof Uint8Array) || options.cookie.length !== COOKIE_BYTES) {
      throw new TorError("auth_failed", `The control cookie must be ${COOKIE_BYTES} bytes`);
    }
    return options.cookie.slice();
  }
  const file = options.cookieFile ?? path;
  if (file === undefined) throw new TorError("auth_failed", "Tor named no control cookie file");
  try {
    // §3.21: never use a file that is not exactly 32 bytes as a cookie; check
    // the size first so a wrong path cannot make us read a huge file.
    const info = await Deno.stat(file);
    if (!info.isFile || info.size !== COOKIE_BYTES) {
      throw new TorError(
        "auth_failed",
        `Control cookie file is not ${COOKIE_BYTES} bytes: ${file}`,
      );
    }
    const bytes = await Deno.readFile(file);
    if (bytes.length !== COOKIE_BYTES) {
      throw new TorError(
        "auth_failed",
        `Control cookie file is not ${COOKIE_BYTES} bytes: ${file}`,
      );
    }
    return bytes;
  } catch (e) {
    if (e instanceof TorError) throw e;
    throw new TorError("auth_failed", `Cannot read the control cookie file ${file}`, { cause: e });
  }
}

/** Sends one command line and resolves with its 2xx reply (else rejects). */
export type ControlCommand = (line: string) => Promise<ControlReply>;

/**
 * Authenticates with the method `chooseAuthMethod` picks from `info`
 * (control-spec §3.5) and resolves with it. Secrets never appear in errors.
 */
export async function authenticateWith(
  command: ControlCommand,
  info: ProtocolInfo,
  options: AuthOptions,
): Promise<AuthMethod> {
  const method = chooseAuthMethod(info, options);
  if (method === "NULL") {
    await command("AUTHENTICATE");
  } else if (method === "HASHEDPASSWORD") {
    if (options.password === undefined) {
      throw new TorError("auth_failed", "Password authentication needs the password option");
    }
    // §3.5: the password may be sent as hex, which needs no quoting.
    await command(`AUTHENTICATE ${toHex(utf8(options.password))}`);
  } else if (method === "COOKIE") {
    const cookie = await loadCookie(options, info.cookieFile);
    try {
      await command(`AUTHENTICATE ${toHex(cookie)}`);
    } finally {
      cookie.fill(0);
    }
  } else {
    await safeCookie(command, info, options);
  }
  return method;
}

async function safeCookie(
  command: ControlCommand,
  info: ProtocolInfo,
  options: AuthOptions,
): Promise<void> {
  const cookie = await loadCookie(options, info.cookieFile);
  const clientNonce = (options.rng ?? systemRng)(CLIENT_NONCE_BYTES);
  try {
    const challenge = parseAuthChallenge(
      await command(`AUTHCHALLENGE SAFECOOKIE ${toHex(clientNonce)}`),
    );
    const { serverHash, clientHash } = safeCookieHashes(
      cookie,
      clientNonce,
      challenge.serverNonce,
    );
    // §3.24: tor proves it knows the cookie; a port that is not our tor
    // cannot, and it learns nothing it could replay. Compare in constant time.
    if (!equalBytes(serverHash, challenge.serverHash)) {
      throw new TorError(
        "auth_failed",
        "The control port failed the SAFECOOKIE check; it may not be the expected tor",
      );
    }
    await command(`AUTHENTICATE ${toHex(clientHash)}`);
  } finally {
    cookie.fill(0);
  }
}
