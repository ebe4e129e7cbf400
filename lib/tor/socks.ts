/**
 * SOCKS5 CONNECT over `Deno.connect`: the small I/O loop that drives
 * {@linkcode SocksClientHandshake} against a SOCKS port on 127.0.0.1 (tor's)
 * and hands back the connected TCP stream.
 *
 * No stream byte is ever lost: each read is sized to at most what the
 * handshake still needs (`need.bytes`), so the read that completes the reply
 * cannot take bytes past it. A single deadline covers connecting and the
 * whole handshake; when it passes, the socket is closed and a
 * `socks_timeout` error is thrown.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { concatBytes } from "../crypto/bytes.ts";
import { SocksClientHandshake } from "./socks_proto.ts";
import { SocksError } from "./socks_errors.ts";

export { SocksError } from "./socks_errors.ts";

/** The SOCKS port is always local: tor runs on this machine. */
const SOCKS_HOST = "127.0.0.1";
/** Upper bound on a caller's timeout (tor's own SOCKS timeout is 120 s). */
export const MAX_SOCKS_TIMEOUT_MS = 10 * 60_000;

/** Options of {@linkcode socksConnect}. */
export interface SocksConnectOptions {
  /** Tor's SOCKS port on 127.0.0.1. */
  socksPort: number;
  /** Destination host, e.g. an onion name (sent unresolved, ATYP 3). */
  host: string;
  /** Destination port. */
  port: number;
  /** Stream-isolation username (tor isolates streams by credentials). */
  username?: string;
  /** Stream-isolation password; required with `username`. */
  password?: string;
  /** Deadline for connecting plus the whole handshake, in milliseconds. */
  timeoutMs: number;
}

/**
 * Opens a TCP connection to the SOCKS port, runs the handshake and returns
 * the connection, positioned at the first byte of the stream.
 * Every failure is a {@linkcode SocksError}; the socket is closed on failure.
 */
export async function socksConnect(options: SocksConnectOptions): Promise<Deno.TcpConn> {
  const { socksPort, timeoutMs } = options;
  if (!isPort(socksPort)) {
    throw invalid(`SOCKS port ${String(socksPort)} is not between 1 and 65535`);
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_SOCKS_TIMEOUT_MS) {
    throw invalid(`Timeout must be between 1 and ${MAX_SOCKS_TIMEOUT_MS} ms`);
  }
  const handshake = new SocksClientHandshake(options); // validates before any I/O

  const abort = new AbortController();
  let conn: Deno.TcpConn | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
    closeQuietly(conn);
  }, timeoutMs);
  try {
    try {
      conn = await Deno.connect({ hostname: SOCKS_HOST, port: socksPort, signal: abort.signal });
    } catch (e) {
      if (timedOut) throw timeoutError(timeoutMs, e);
      throw new SocksError(
        "socks_connect_failed",
        `Cannot reach tor's SOCKS port ${socksPort}; is tor running?`,
        { retryable: true, cause: e },
      );
    }
    if (timedOut) throw timeoutError(timeoutMs);
    await drive(conn, handshake);
    // the deadline may have passed (and closed the socket) as the reply arrived
    if (timedOut) throw timeoutError(timeoutMs);
    return conn;
  } catch (e) {
    closeQuietly(conn);
    if (timedOut && !(e instanceof SocksError && e.code === "socks_timeout")) {
      throw timeoutError(timeoutMs, e);
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The ten-line loop: perform the machine's actions until it is done. */
async function drive(conn: Deno.TcpConn, handshake: SocksClientHandshake): Promise<void> {
  let pending: Uint8Array = new Uint8Array(0);
  for (;;) {
    const action = handshake.step(pending);
    if ("send" in action) {
      pending = pending.subarray(action.consumed);
      await writeAll(conn, action.send);
    } else if ("need" in action) {
      pending = concatBytes(pending, await readSome(conn, action.bytes));
    } else {
      // reads never exceed `need.bytes`, so nothing follows the reply here
      if (action.done.consumed !== pending.length) {
        throw new SocksError("socks_internal", "The SOCKS reply was misframed", {
          retryable: false,
        });
      }
      return;
    }
  }
}

async function readSome(conn: Deno.TcpConn, max: number): Promise<Uint8Array> {
  const buf = new Uint8Array(max);
  let n: number | null;
  try {
    n = await conn.read(buf);
  } catch (e) {
    throw closedError(e);
  }
  if (n === null) throw closedError();
  return buf.subarray(0, n);
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array): Promise<void> {
  try {
    for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
  } catch (e) {
    throw closedError(e);
  }
}

function closeQuietly(conn: Deno.TcpConn | undefined): void {
  try {
    conn?.close();
  } catch {
    // already closed
  }
}

function closedError(cause?: unknown): SocksError {
  return new SocksError("socks_closed", "Tor closed the SOCKS connection during the handshake", {
    retryable: true,
    cause,
  });
}

function timeoutError(timeoutMs: number, cause?: unknown): SocksError {
  return new SocksError("socks_timeout", `The SOCKS handshake did not finish in ${timeoutMs} ms`, {
    retryable: true,
    cause,
  });
}

function invalid(message: string): SocksError {
  return new SocksError("socks_invalid_request", message, { retryable: false });
}
