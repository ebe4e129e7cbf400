import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { Connector, type ConnectProgress } from "../lib/net/connector.ts";
import { type FramedListener, listen } from "../lib/net/listener.ts";
import { NetError } from "../lib/net/net_error.ts";
import { DirectTransport } from "../lib/net/transport.ts";

const ALICE = "alice.onion";
const ADDRESS = { host: ALICE, port: 80 };
const quiet = { logger: () => {} };

function echoServer(port = 0): FramedListener {
  return listen({
    port,
    ...quiet,
    onConnection: (c, admission) => {
      admission.identified("echo");
      c.onFrame((p) => c.send(p));
    },
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = echoServer();
  await s.close();
  return s.port;
}

/** A DirectTransport that counts its beforeRetry calls (tor: NEWNYM). */
class CountingTransport extends DirectTransport {
  retries = 0;
  failHook = false;
  beforeRetry(): Promise<void> {
    this.retries++;
    return this.failHook ? Promise.reject(new Error("control port gone")) : Promise.resolve();
  }
}

function setup(
  port: number,
  options: { maxAttempts?: number; minMs?: number; maxMs?: number } = {},
) {
  const events: ConnectProgress[] = [];
  const transport = new CountingTransport({ ports: [[ALICE, port]], ...quiet });
  const connector = new Connector({
    transport,
    rng: seededRng("connector"),
    backoff: { minMs: options.minMs ?? 20, maxMs: options.maxMs ?? 80, jitter: 0 },
    maxAttempts: options.maxAttempts ?? 50,
    onProgress: (e) => events.push(e),
  });
  return { events, transport, connector };
}

Deno.test("Connector keeps one connection per contact and shares a dial in flight", async () => {
  const server = echoServer();
  const { connector, events } = setup(server.port);
  const [a, b] = await Promise.all([
    connector.connect(ALICE, ADDRESS),
    connector.connect(ALICE, ADDRESS),
  ]);
  assert(a === b, "two dials for one contact");
  assert((await connector.connect(ALICE, ADDRESS)) === a);
  assertEquals(connector.get(ALICE), a);
  assertEquals(events.filter((e) => e.type === "attempt").length, 1);
  await a.send(new Uint8Array([1]));
  assertEquals(await a.receive(), new Uint8Array([1]));
  assertEquals(server.activeConnections, 1);
  await connector.close();
  assertEquals(connector.get(ALICE), undefined);
  await server.close();
});

Deno.test("Connector reconnects with back-off after the server restarts on the same port", async () => {
  let server = echoServer();
  const port = server.port;
  const { connector, events, transport } = setup(port);
  const first = await connector.connect(ALICE, ADDRESS);
  await server.close();
  assertEquals(await first.receive(), null);
  await first.closed;
  await Promise.resolve(); // let the connector see the close
  assertEquals(connector.get(ALICE), undefined);

  const redial = connector.connect(ALICE, ADDRESS);
  // Restart once three attempts have been refused.
  while (events.filter((e) => e.type === "retry").length < 3) {
    await new Promise((r) => setTimeout(r, 5));
  }
  server = echoServer(port);
  const second = await redial;
  assert(second !== first);
  await second.send(new Uint8Array([2]));
  assertEquals(await second.receive(), new Uint8Array([2]));

  const retries = events.filter((e) => e.type === "retry");
  assert(retries.every((e) => e.code === "connection_refused"));
  assertEquals(retries.slice(0, 3).map((e) => e.nextDelayMs), [20, 40, 80]);
  assertEquals(transport.retries, retries.length, "beforeRetry not called before each retry");
  assert(events.some((e) => e.type === "disconnected" && e.reason === "peer_closed"));
  const connected = events.filter((e) => e.type === "connected");
  assertEquals(connected.length, 2);
  await connector.close();
  await server.close();
});

Deno.test("Connector gives up after maxAttempts with the last typed error", async () => {
  const { connector, events, transport } = setup(await closedPort(), { maxAttempts: 3, minMs: 5 });
  transport.failHook = true; // a failing NEWNYM does not stop the retries
  const e = await assertRejects(() => connector.connect(ALICE, ADDRESS), NetError);
  assertEquals(e.code, "connection_refused");
  assertEquals(events.map((x) => x.type), [
    "attempt",
    "retry",
    "attempt",
    "retry",
    "attempt",
    "failed",
  ]);
  assertEquals(events.at(-1), {
    type: "failed",
    contact: ALICE,
    attempt: 3,
    code: "connection_refused",
    retryable: true,
  });
  assertEquals(transport.retries, 2);
  await connector.close();
});

Deno.test("Connector does not retry a non-retryable failure", async () => {
  const { connector, events } = setup(1);
  const e = await assertRejects(
    () => connector.connect("nobody.onion", { host: "nobody.onion", port: 1 }),
    NetError,
  );
  assertEquals(e.code, "unknown_host");
  assertEquals(events.map((x) => x.type), ["attempt", "failed"]);
  await connector.close();
});

Deno.test("Aborting stops the retries promptly", async () => {
  const { connector, events } = setup(await closedPort(), { minMs: 10_000, maxMs: 10_000 });
  const ac = new AbortController();
  const dial = connector.connect(ALICE, ADDRESS, { signal: ac.signal });
  while (!events.some((e) => e.type === "retry")) await new Promise((r) => setTimeout(r, 2));
  const start = performance.now();
  ac.abort();
  const e = await assertRejects(() => dial, NetError);
  const elapsed = performance.now() - start;
  assertEquals(e.code, "connect_aborted");
  assert(elapsed < 100, `abort took ${elapsed} ms`);
  assertEquals(events.filter((x) => x.type === "attempt").length, 1);
  await connector.close();
});

Deno.test("Connector.close() cancels dials in progress and refuses new ones", async () => {
  const { connector } = setup(await closedPort(), { minMs: 10_000, maxMs: 10_000 });
  const dial = connector.connect(ALICE, ADDRESS);
  await new Promise((r) => setTimeout(r, 20));
  await connector.close();
  assertEquals((await assertRejects(() => dial, NetError)).code, "connect_aborted");
  assertEquals(
    (await assertRejects(() => connector.connect(ALICE, ADDRESS), NetError)).code,
    "connect_aborted",
  );
});

Deno.test("Connector.disconnect() closes the contact's connection; the next connect redials", async () => {
  const server = echoServer();
  const { connector, events } = setup(server.port);
  const a = await connector.connect(ALICE, ADDRESS);
  await connector.disconnect(ALICE);
  assert(a.isClosed);
  const b = await connector.connect(ALICE, ADDRESS);
  assert(a !== b && !b.isClosed);
  assert(events.some((e) => e.type === "disconnected" && e.reason === "local"));
  await connector.close();
  await server.close();
});
