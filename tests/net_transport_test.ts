import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { SocksError } from "../lib/tor/socks.ts";
import { listen } from "../lib/net/listener.ts";
import { FramedConn } from "../lib/net/framed_conn.ts";
import { isRetryable, NetError } from "../lib/net/net_error.ts";
import { DirectTransport, TorTransport } from "../lib/net/transport.ts";

const ALICE = "alice.onion";
const quiet = { logger: () => {} };

/** A listener whose connections echo every frame. */
function echoServer() {
  return listen({
    ...quiet,
    onConnection: (c, admission) => {
      admission.identified("echo");
      c.onFrame((p) => c.send(p));
    },
  });
}

/** Exact reads from a socket. */
function reader(conn: Deno.Conn) {
  let buf = new Uint8Array(0);
  return async (n: number): Promise<Uint8Array> => {
    while (buf.length < n) {
      const chunk = new Uint8Array(512);
      const got = await conn.read(chunk);
      if (got === null) throw new Error("socks test server: client closed");
      const next = new Uint8Array(buf.length + got);
      next.set(buf);
      next.set(chunk.subarray(0, got), buf.length);
      buf = next;
    }
    const out = buf.slice(0, n);
    buf = buf.slice(n);
    return out;
  };
}

interface SocksRequest {
  username: string;
  password: string;
  host: string;
  port: number;
}

/**
 * A minimal SOCKS5 server (RFC 1928 + RFC 1929) on loopback: records each
 * request, answers with `reply` (0 = success) and then echoes frames, like a
 * tor whose onion service forwards to an echo peer.
 */
function socksServer(reply: number) {
  const requests: SocksRequest[] = [];
  const framed = new Set<FramedConn>();
  const raw = new Set<Deno.Conn>();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dec = new TextDecoder();
  const serve = async (conn: Deno.Conn) => {
    raw.add(conn);
    const read = reader(conn);
    const [, nMethods] = await read(2);
    const methods = await read(nMethods!);
    assert(methods.includes(2), "client did not offer username/password");
    await conn.write(new Uint8Array([5, 2]));
    const [, ulen] = await read(2);
    const username = dec.decode(await read(ulen!));
    const [plen] = await read(1);
    const password = dec.decode(await read(plen!));
    await conn.write(new Uint8Array([1, 0]));
    const [, , , atyp, hlen] = await read(5);
    assertEquals(atyp, 3);
    const host = dec.decode(await read(hlen!));
    const p = await read(2);
    requests.push({ username, password, host, port: (p[0]! << 8) | p[1]! });
    await conn.write(new Uint8Array([5, reply, 0, 1, 127, 0, 0, 1, 0, 0]));
    if (reply !== 0) return;
    raw.delete(conn);
    const f = new FramedConn(conn, quiet);
    framed.add(f);
    f.onFrame((payload) => f.send(payload));
  };
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) served.push(serve(conn).catch(() => {}));
  })();
  return {
    port: listener.addr.port,
    requests,
    async close() {
      listener.close();
      await loop;
      await Promise.all(served);
      for (const c of raw) c.close();
      await Promise.all([...framed].map((f) => f.close()));
    },
  };
}

Deno.test("DirectTransport dials the local port mapped to a host and carries frames", async () => {
  const server = echoServer();
  const transport = new DirectTransport({ ports: [[ALICE, server.port]], ...quiet });
  const conn = await transport.connect({ host: ALICE, port: 80 }, "alice");
  await conn.send(new Uint8Array([1, 2, 3]));
  assertEquals(await conn.receive(), new Uint8Array([1, 2, 3]));
  await conn.close();
  await server.close();
});

Deno.test("DirectTransport rejects an unknown host as not retryable", async () => {
  const transport = new DirectTransport();
  const e = await assertRejects(
    () => transport.connect({ host: "x.onion", port: 80 }, "x"),
    NetError,
  );
  assertEquals(e.code, "unknown_host");
  assertEquals(isRetryable(e), false);
});

Deno.test("DirectTransport reports a closed port as retryable connection_refused", async () => {
  const server = echoServer();
  const port = server.port;
  await server.close();
  const transport = new DirectTransport({ ports: [[ALICE, port]] });
  const e = await assertRejects(() => transport.connect({ host: ALICE, port: 80 }, "a"), NetError);
  assertEquals(e.code, "connection_refused");
  assert(isRetryable(e));
});

Deno.test("DirectTransport honours an aborted signal and follows setPort()", async () => {
  const server = echoServer();
  const transport = new DirectTransport();
  transport.setPort(ALICE, server.port);
  const ac = new AbortController();
  ac.abort();
  const e = await assertRejects(
    () => transport.connect({ host: ALICE, port: 80 }, "a", ac.signal),
    NetError,
  );
  assertEquals(e.code, "connect_aborted");
  const conn = await transport.connect(
    { host: ALICE, port: 80 },
    "a",
    new AbortController().signal,
  );
  await conn.send(new Uint8Array([9]));
  assertEquals(await conn.receive(), new Uint8Array([9]));
  transport.deletePort(ALICE);
  assertEquals(
    (await assertRejects(() => transport.connect({ host: ALICE, port: 80 }, "a"), NetError)).code,
    "unknown_host",
  );
  await conn.close();
  await server.close();
});

Deno.test("Transports refuse an isolation key that SOCKS cannot carry", async () => {
  const transport = new DirectTransport({ ports: [[ALICE, 1]] });
  await assertRejects(() => transport.connect({ host: ALICE, port: 80 }, ""), RangeError);
  await assertRejects(
    () => transport.connect({ host: ALICE, port: 80 }, "é".repeat(128)),
    RangeError,
  );
});

Deno.test("TorTransport isolates contacts by SOCKS credentials and carries frames", async () => {
  const socks = socksServer(0);
  const transport = new TorTransport({ socksPort: socks.port, connectTimeoutMs: 5000, ...quiet });
  const a = await transport.connect({ host: "aaaa.onion", port: 9000 }, "alice@aaaa.onion");
  const b = await transport.connect({ host: "bbbb.onion", port: 9001 }, "bob@bbbb.onion");
  await a.send(new Uint8Array([1]));
  await b.send(new Uint8Array([2]));
  assertEquals(await a.receive(), new Uint8Array([1]));
  assertEquals(await b.receive(), new Uint8Array([2]));
  assertEquals(socks.requests, [
    { username: "alice@aaaa.onion", password: "alice@aaaa.onion", host: "aaaa.onion", port: 9000 },
    { username: "bob@bbbb.onion", password: "bob@bbbb.onion", host: "bbbb.onion", port: 9001 },
  ]);
  await Promise.all([a.close(), b.close()]);
  await socks.close();
});

Deno.test("TorTransport passes tor's refusals on with their retryable flag", async () => {
  for (
    const [rep, code, retryable] of [
      [0xf0, "socks_onion_not_found", true],
      [0xf6, "socks_onion_bad_address", false],
    ] as const
  ) {
    const socks = socksServer(rep);
    const transport = new TorTransport({ socksPort: socks.port, connectTimeoutMs: 5000 });
    const e = await assertRejects(
      () => transport.connect({ host: "c.onion", port: 1 }, "c"),
      SocksError,
    );
    assertEquals(e.code, code);
    assertEquals(isRetryable(e), retryable);
    await socks.close();
  }
});
