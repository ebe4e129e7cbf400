/**
 * An upstream proxy for a tor we launch: `socks5://[user:pass@]host:port`,
 * `socks4://host:port` or `https://[user:pass@]host:port` (an HTTP proxy
 * that takes CONNECT), checked and turned into tor's `Socks5Proxy`
 * (`Socks5ProxyUsername`, `Socks5ProxyPassword`), `Socks4Proxy` or
 * `HTTPSProxy` (`HTTPSProxyAuthenticator`) lines. Tor then makes every
 * connection through it, its pluggable transports' included.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { TorError } from "./errors.ts";
import { MAX_FIELD_LENGTH } from "./socks_proto.ts";
/** Longest proxy URL accepted. */
const MAX_PROXY_URL_CHARS = 1024;

/** A checked proxy. */
export interface Proxy {
  /** The proxy protocol. */
  readonly kind: "socks5" | "socks4" | "https";
  /** `host:port` (an IPv6 host in brackets). */
  readonly hostPort: string;
  /** The user name, when the proxy needs one. */
  readonly username?: string;
  /** The password, when the proxy needs one. */
  readonly password?: string;
}

function invalid(why: string): TorError {
  return new TorError(
    "invalid_proxy",
    `Not a proxy (${why}); use socks5://host:port, ` +
      "socks4://host:port or https://host:port, with user:password@ before the host if needed",
  );
}

/**
 * Checks a proxy URL (the credentials never appear in an error).
 *
 * @throws {TorError} `invalid_proxy`
 */
export function parseProxy(text: string): Proxy {
  if (text.length > MAX_PROXY_URL_CHARS) throw invalid("too long");
  const m = /^(socks5|socks4|https?):\/\/(?:([^@/]*)@)?([^@/]+?)\/?$/i.exec(text.trim());
  if (!m) throw invalid("not a scheme://host:port URL");
  const scheme = m[1]!.toLowerCase();
  // An HTTP proxy reached with CONNECT is what tor's HTTPSProxy means.
  const kind = scheme === "http" ? "https" : scheme as Proxy["kind"];
  const host = /^(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(m[3]!);
  if (!host || !isPort(Number(host[2]))) {
    throw invalid("the host must be host:port with a port from 1 to 65535");
  }
  const hostPort = `${host[1]}:${Number(host[2])}`;
  if (m[2] === undefined) return { kind, hostPort };
  if (kind === "socks4") throw invalid("socks4 takes no password");
  const colon = m[2].indexOf(":");
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(colon < 0 ? m[2] : m[2].slice(0, colon));
    password = decodeURIComponent(colon < 0 ? "" : m[2].slice(colon + 1));
  } catch {
    throw invalid("badly escaped credentials");
  }
  // deno-lint-ignore no-control-regex -- control characters are what is refused
  if (/[\0-\x1f\x7f]/.test(username + password)) throw invalid("control characters in credentials");
  if (kind === "socks5") {
    const enc = new TextEncoder();
    const size = (s: string) => enc.encode(s).length;
    if (size(username) < 1 || size(username) > MAX_FIELD_LENGTH) {
      throw invalid(`a SOCKS5 user name has 1 to ${MAX_FIELD_LENGTH} bytes`);
    }
    if (size(password) < 1 || size(password) > MAX_FIELD_LENGTH) {
      throw invalid(`a SOCKS5 password has 1 to ${MAX_FIELD_LENGTH} bytes`);
    }
  } else if (username.includes(":")) {
    throw invalid("an HTTPS proxy user name cannot contain ':'");
  }
  return { kind, hostPort, username, password };
}

/** A torrc value in quotes (tor unescapes `\\` and `\"` in quoted values). */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The torrc lines that send every connection of tor through `proxy`. */
export function proxyTorrc(proxy: Proxy): string[] {
  switch (proxy.kind) {
    case "socks4":
      return [`Socks4Proxy ${proxy.hostPort}`];
    case "socks5":
      return [
        `Socks5Proxy ${proxy.hostPort}`,
        ...(proxy.username !== undefined
          ? [
            `Socks5ProxyUsername ${quote(proxy.username)}`,
            `Socks5ProxyPassword ${quote(proxy.password!)}`,
          ]
          : []),
      ];
    case "https":
      return [
        `HTTPSProxy ${proxy.hostPort}`,
        ...(proxy.username !== undefined
          ? [`HTTPSProxyAuthenticator ${quote(`${proxy.username}:${proxy.password}`)}`]
          : []),
      ];
  }
}

/** The proxy as shown to the user: scheme and host:port, never the credentials. */
export function describeProxy(proxy: Proxy): string {
  return `${proxy.kind}://${proxy.hostPort}${
    proxy.username !== undefined ? " (with a password)" : ""
  }`;
}
