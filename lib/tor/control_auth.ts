/**
 * Control-port authentication helpers (control-spec §3.5, §3.21, §3.24):
 * choosing a method from what PROTOCOLINFO offers, the SAFECOOKIE HMACs, and
 * reading a cookie file safely. The conversation itself lives in
 * `control.ts`; this module never touches a socket.
 *
 * @module
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, type Rng, utf8 } from "../crypto/bytes.ts";
import type { ProtocolInfo } from "./control_parse.ts";
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
 * Picks the method: a forced one if offered; otherwise NULL, then the
 * password if the caller gave one, then SAFECOOKIE (it never reveals the
 * cookie to a port that is not tor), then COOKIE, then HASHEDPASSWORD.
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
    return options.method;
  }
  if (offered.has("NULL")) return "NULL";
  if (options.password !== undefined && offered.has("HASHEDPASSWORD")) return "HASHEDPASSWORD";
  if (offered.has("SAFECOOKIE")) return "SAFECOOKIE";
  if (offered.has("COOKIE")) return "COOKIE";
  if (offered.has("HASHEDPASSWORD")) {
    throw new TorError("auth_failed", "Tor requires a control password; pass the password option");
  }
  throw new TorError(
    "auth_failed",
    `Tor offers no supported authentication method (${info.methods.join(", ") || "none"})`,
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
