/**
 * Helpers for test files that need real tor: one private network per test
 * file (started once, stopped in a finally, with a check that none of its
 * processes survive), a loopback echo server to publish as an onion
 * service, a SOCKS connect that retries while a fresh descriptor is not yet
 * uploaded, process measurements (CPU, RSS) from /proc, and a torrc that
 * reaches nothing (a stuck bootstrap).
 *
 * @module
 */

import { startTornet, type Tornet } from "../scripts/tornet.ts";
import { socksConnect, SocksError } from "../lib/tor/socks.ts";
import { TorControl } from "../lib/tor/control.ts";
import type { TornetClient } from "../scripts/tornet.ts";

/** Bound on a network's start (docs/architecture.md "The private Tor network": ~10–15 s). */
export const TEST_START_TIMEOUT_MS = 60_000;
/** Pause between connect attempts while a descriptor is being published. */
const RETRY_PAUSE_MS = 500;

/** Whether a PID is still a live process (not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // proc(5): field 3, after the parenthesised command name, is the state
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Defines ONE Deno test that starts a network with `clients` client tors
 * (and an obfs4 bridge if `options.bridge`), runs `fn` (use `t.step` for
 * sub-tests), then stops the network and fails if any of its PIDs is still
 * alive.
 */
export function tornetTest(
  name: string,
  clients: number,
  fn: (net: Tornet, t: Deno.TestContext) => Promise<void>,
  options: { bridge?: boolean } = {},
): void {
  Deno.test({ name, ignore: Deno.env.get("UNMESSAGE_SKIP_TOR") === "1" }, async (t) => {
    const net = await startTornet({
      clients,
      timeoutMs: TEST_START_TIMEOUT_MS,
      log: (m) => console.error(m),
      ...options,
    });
    try {
      await fn(net, t);
    } finally {
      await net.stop();
    }
    const alive = net.pids.filter(isAlive);
    if (alive.length > 0) throw new Error(`Tor processes survived stop(): ${alive.join(" ")}`);
  });
}

/**
 * A loopback TCP echo server; `close()` ends it and every connection.
 * `firstByteMs` gets, per connection, the ms from its accept to its first
 * byte (over tor: a round trip of the rendezvous circuit).
 */
export function echoServer(): { port: number; firstByteMs: number[]; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const firstByteMs: number[] = [];
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    const accepted = performance.now();
    const buf = new Uint8Array(16 * 1024);
    try {
      for (let n, first = true; (n = await conn.read(buf)) !== null; first = false) {
        if (first) firstByteMs.push(performance.now() - accepted);
        for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
      }
    } catch {
      // peer went away
    } finally {
      conns.delete(conn);
      closeQuietly(conn);
    }
  };
  const loop = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    firstByteMs,
    async close() {
      closeQuietly(listener);
      for (const c of conns) closeQuietly(c);
      await loop;
    },
  };
}

/** An authenticated control connection to a client tor of the network. */
export async function controlOf(c: TornetClient): Promise<TorControl> {
  const ctl = await TorControl.connect({ port: c.controlPort });
  await ctl.authenticate({ cookieFile: c.cookiePath });
  return ctl;
}

/** Closes `c`, ignoring that it may be closed already. */
export function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}

/**
 * Connects through SOCKS, retrying retryable errors (a fresh descriptor
 * gives 0xF0 for a few seconds) until `deadlineMs` has passed.
 */
export async function connectWithRetry(
  socksPort: number,
  host: string,
  port: number,
  deadlineMs: number,
  creds: { username?: string; password?: string } = {},
): Promise<{ conn: Deno.TcpConn; attempts: number; codes: string[] }> {
  const end = performance.now() + deadlineMs;
  const codes: string[] = [];
  for (let attempts = 1;; attempts++) {
    const timeoutMs = Math.max(1, Math.min(30_000, end - performance.now()));
    try {
      const conn = await socksConnect({ socksPort, host, port, timeoutMs, ...creds });
      return { conn, attempts, codes };
    } catch (e) {
      if (!(e instanceof SocksError) || !e.retryable || performance.now() >= end) throw e;
      codes.push(e.code);
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    }
  }
}

/** Reads exactly `n` bytes. */
export async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`Connection closed after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

/** Writes `data` to `conn` and checks it comes back unchanged (echo). */
export async function echoRoundTrip(conn: Deno.Conn, data: Uint8Array): Promise<Uint8Array> {
  const back = readExactly(conn, data.length);
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
  return await back;
}

/** Total CPU seconds and resident memory of the given PIDs (from /proc). */
export function usage(pids: number[]): { cpuSeconds: number; rssMiB: number } {
  const ticksPerSecond = 100; // Linux USER_HZ
  let ticks = 0;
  let rssKiB = 0;
  for (const pid of pids) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // proc(5): utime, stime
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      rssKiB += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return { cpuSeconds: ticks / ticksPerSecond, rssMiB: Math.round(rssKiB / 1024) };
}

/** A tor that can reach nothing: its only directory authority is `port` on 127.0.0.1. */
export function deadEnd(port: number): string[] {
  return [
    "TestingTorNetwork 1",
    "UseDefaultFallbackDirs 0",
    `DirAuthority deadend orport=${port} no-v2 v3ident=${"B".repeat(40)} ` +
    `127.0.0.1:${port} ${"A".repeat(40)}`,
  ];
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}
