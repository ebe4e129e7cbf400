import { assert, assertEquals } from "./_assert.ts";
import { MAX_FRAME_LENGTH } from "../lib/protocol/frame.ts";
import { FramedConn, type NetLogEntry } from "../lib/net/framed_conn.ts";
import { listen, type ListenOptions } from "../lib/net/listener.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function header(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length, false);
  return h;
}

/** A listener whose connections echo every frame back, plus its logs. */
function echoServer(options: ListenOptions = {}) {
  const logs: NetLogEntry[] = [];
  const server = listen({
    logger: (e) => logs.push(e),
    onConnection: (conn) => conn.onFrame((p) => conn.send(p)),
    ...options,
  });
  return { server, logs };
}

async function client(port: number): Promise<FramedConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  return new FramedConn(conn, { label: "client", logger: () => {} });
}

async function echo(c: FramedConn, payload: Uint8Array): Promise<Uint8Array | null> {
  await c.send(payload);
  return await c.receive();
}

/** Reads a raw socket until it ends: true if the server closed it within 2 s. */
async function closedByServer(raw: Deno.Conn): Promise<boolean> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    raw.close();
  }, 2000);
  const buf = new Uint8Array(1024);
  try {
    while ((await raw.read(buf)) !== null) { /* discard */ }
  } catch {
    // A reset also means closed (or our own deadline closed it).
  }
  clearTimeout(timer);
  if (!timedOut) raw.close();
  return !timedOut;
}

Deno.test("listen() binds loopback on a free port and yields framed connections", async () => {
  const server = listen({ logger: () => {} });
  assertEquals(server.hostname, "127.0.0.1");
  assert(server.port > 0);
  const c = await client(server.port);
  const it = server.connections[Symbol.asyncIterator]();
  const accepted = (await it.next()).value as FramedConn;
  await c.send(new Uint8Array([1, 2]));
  assertEquals(await accepted.receive(), new Uint8Array([1, 2]));
  await accepted.send(new Uint8Array([3]));
  assertEquals(await c.receive(), new Uint8Array([3]));
  assertEquals(server.activeConnections, 1);
  await server.close();
  assertEquals((await it.next()).done, true);
  assertEquals(await c.receive(), null);
  await c.close();
});

Deno.test("An oversized frame closes only its own connection; another keeps working", async () => {
  const { server, logs } = echoServer();
  const good = await client(server.port);
  assertEquals(await echo(good, new Uint8Array([1])), new Uint8Array([1]));
  const bad = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await bad.write(header(MAX_FRAME_LENGTH + 1));
  assert(await closedByServer(bad));
  assert(logs.some((l) => l.level === "warn" && l.code === "frame_too_large"));
  const big = new Uint8Array(MAX_FRAME_LENGTH).fill(0x5a);
  assertEquals(await echo(good, big), big);
  await good.close();
  await server.close();
});

Deno.test("Garbage bytes close only the sender's connection", async () => {
  const { server, logs } = echoServer();
  const good = await client(server.port);
  const bad = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await bad.write(new Uint8Array([0, 0, 0, 0, 0xff, 0xfe, 0xfd]));
  assert(await closedByServer(bad));
  assert(logs.some((l) => l.code === "frame_empty"));
  assertEquals(await echo(good, new Uint8Array([42])), new Uint8Array([42]));
  await good.close();
  await server.close();
});

Deno.test("The listener refuses connections beyond maxConnections and admits again when one closes", async () => {
  const { server, logs } = echoServer({ maxConnections: 2 });
  const a = await client(server.port);
  const b = await client(server.port);
  assertEquals(await echo(a, new Uint8Array([1])), new Uint8Array([1]));
  assertEquals(await echo(b, new Uint8Array([2])), new Uint8Array([2]));
  const third = await client(server.port);
  await third.send(new Uint8Array([3])).catch(() => {});
  assertEquals(await third.receive(), null, "third connection was served");
  assert(logs.some((l) => l.event === "connection_rejected" && l.code === "too_many_connections"));
  await third.close();
  await a.close();
  for (let i = 0; i < 50 && server.activeConnections > 1; i++) await sleep(10);
  assertEquals(server.activeConnections, 1);
  const d = await client(server.port);
  assertEquals(await echo(d, new Uint8Array([4])), new Uint8Array([4]));
  assertEquals(await echo(b, new Uint8Array([5])), new Uint8Array([5]));
  await Promise.all([b.close(), d.close()]);
  await server.close();
});

Deno.test("Silent and slowloris connections are closed by the first-frame deadline, freeing the cap", async () => {
  const { server } = echoServer({ maxConnections: 2, limits: { firstFrameTimeoutMs: 150 } });
  const good = await client(server.port);
  assertEquals(await echo(good, new Uint8Array([1])), new Uint8Array([1]));
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const slow = (async () => {
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await raw.write(header(100));
      for (let i = 0; i < 40; i++) {
        await raw.write(new Uint8Array([i]));
        await sleep(20);
      }
    } catch {
      // closed by the server, as expected
    }
    return raw;
  })();
  const start = performance.now();
  assert(await closedByServer(silent));
  assert(performance.now() - start < 1000);
  assert(await closedByServer(await slow));
  assertEquals(
    await echo(good, new Uint8Array([2])),
    new Uint8Array([2]),
    "good connection harmed",
  );
  await good.close();
  await server.close();
});

Deno.test("FramedListener.close() closes every open connection and is idempotent", async () => {
  const { server } = echoServer();
  const clients = await Promise.all([
    client(server.port),
    client(server.port),
    client(server.port),
  ]);
  for (const c of clients) assertEquals(await echo(c, new Uint8Array([7])), new Uint8Array([7]));
  await server.close();
  await server.close();
  assertEquals(server.activeConnections, 0);
  for (const c of clients) {
    assertEquals(await c.receive(), null);
    await c.close();
  }
  const refused = await Deno.connect({ hostname: "127.0.0.1", port: server.port }).then(
    (c) => (c.close(), false),
    () => true,
  );
  assert(refused, "port still accepting after close");
});
