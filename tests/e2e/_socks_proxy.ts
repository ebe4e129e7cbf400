/**
 * A small SOCKS5 proxy on 127.0.0.1 for tests (RFC 1928 CONNECT, with the
 * RFC 1929 user name and password it is given): it records every CONNECT
 * and relays bytes, and it connects nowhere but 127.0.0.1. Every wait is
 * bounded by the peer closing; `close()` ends it and every connection.
 *
 * @module
 */

import { closeQuietly, readExactly } from "../_tornet.ts";

/** One CONNECT the proxy served. */
export interface ProxiedConnect {
  target: string;
  username: string;
}

/** A running proxy. */
export interface SocksProxy {
  port: number;
  /** Every CONNECT so far, in order. */
  readonly connects: ProxiedConnect[];
  close(): Promise<void>;
}

/** Starts a proxy that accepts only `username`/`password`. */
export function socksProxy(username: string, password: string): SocksProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const connects: ProxiedConnect[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (let n; (n = await from.read(buf)) !== null;) {
        for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // either side went away
    } finally {
      for (const c of [from, to]) closeQuietly(c);
    }
  };
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    try {
      const [version, count] = await readExactly(conn, 2);
      const methods = await readExactly(conn, count!);
      if (version !== 5 || !methods.includes(2)) {
        await conn.write(Uint8Array.of(5, 0xff));
        return closeQuietly(conn);
      }
      await conn.write(Uint8Array.of(5, 2));
      const [, ulen] = await readExactly(conn, 2);
      const user = new TextDecoder().decode(await readExactly(conn, ulen!));
      const [plen] = await readExactly(conn, 1);
      const pass = new TextDecoder().decode(await readExactly(conn, plen!));
      const ok = user === username && pass === password;
      await conn.write(Uint8Array.of(1, ok ? 0 : 1));
      if (!ok) return closeQuietly(conn);
      const [, cmd, , atyp] = await readExactly(conn, 4);
      if (cmd !== 1 || atyp !== 1) {
        await conn.write(Uint8Array.of(5, 7, 0, 1, 0, 0, 0, 0, 0, 0));
        return closeQuietly(conn);
      }
      const addr = await readExactly(conn, 6);
      const host = [...addr.subarray(0, 4)].join(".");
      const port = (addr[4]! << 8) | addr[5]!;
      connects.push({ target: `${host}:${port}`, username: user });
      if (host !== "127.0.0.1") {
        await conn.write(Uint8Array.of(5, 2, 0, 1, 0, 0, 0, 0, 0, 0)); // not allowed
        return closeQuietly(conn);
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await conn.write(Uint8Array.of(5, 5, 0, 1, 0, 0, 0, 0, 0, 0));
        return closeQuietly(conn);
      }
      conns.add(upstream);
      await conn.write(Uint8Array.of(5, 0, 0, 1, 127, 0, 0, 1, 0, 0));
      await Promise.all([pipe(conn, upstream), pipe(upstream, conn)]);
      conns.delete(upstream);
    } catch {
      closeQuietly(conn);
    } finally {
      conns.delete(conn);
    }
  };
  const loop = (async () => {
    for await (const conn of listener) void serve(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    connects,
    async close() {
      closeQuietly(listener);
      for (const c of conns) closeQuietly(c);
      await loop;
    },
  };
}
