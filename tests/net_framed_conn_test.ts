import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { isUnmessageError, ProtocolError } from "../lib/errors.ts";
import { MAX_FRAME_LENGTH } from "../lib/protocol/frame.ts";
import { FramedConn, type FramedConnOptions, type NetLogEntry } from "../lib/net/framed_conn.ts";
import { NetError } from "../lib/net/net_error.ts";

/** Two real loopback sockets: [client, server]. */
async function socketPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    return [client, server];
  } finally {
    listener.close();
  }
}

/** A FramedConn on one end, a raw socket on the other (to send anything). */
async function rawPair(options: FramedConnOptions = {}) {
  const [raw, server] = await socketPair();
  const logs: NetLogEntry[] = [];
  const conn = new FramedConn(server, { logger: (e) => logs.push(e), ...options });
  return { raw, conn, logs };
}

async function framedPair(options: FramedConnOptions = {}) {
  const [a, b] = await socketPair();
  const logs: NetLogEntry[] = [];
  const logger = (e: NetLogEntry) => logs.push(e);
  return {
    a: new FramedConn(a, { logger, label: "a", ...options }),
    b: new FramedConn(b, { logger, label: "b", ...options }),
    logs,
  };
}

function header(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length, false);
  return h;
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("FramedConn carries frames both ways and keeps them intact", async () => {
  const { a, b } = await framedPair();
  await a.send(new Uint8Array([1, 2, 3]));
  assertEquals(await b.receive(), new Uint8Array([1, 2, 3]));
  await b.send(new Uint8Array([9]));
  assertEquals(await a.receive(), new Uint8Array([9]));
  await a.close();
  assertEquals(await b.receive(), null);
  assertEquals((await b.closed).reason, "peer_closed");
  assertEquals((await a.closed).reason, "local");
});

Deno.test("FramedConn keeps 2000 concurrent sends in order without interleaving", async () => {
  const { a, b } = await framedPair();
  const rng = seededRng("many");
  const sizes = Array.from(rng(2000), (x, i) => 1 + x * 37 + (i % 7) * 1000);
  const payloads = sizes.map((n, i) => new Uint8Array(n).fill(i & 0xff));
  const sent = Promise.all(payloads.map((p) => a.send(p)));
  const got: Uint8Array[] = [];
  for await (const frame of b) {
    got.push(frame);
    if (got.length === payloads.length) break;
  }
  await sent;
  assertEquals(got, payloads);
  await Promise.all([a.close(), b.close()]);
});

Deno.test("FramedConn round-trips a frame of exactly MAX_FRAME_LENGTH bytes", async () => {
  const { a, b } = await framedPair();
  const big = seededRng("big")(MAX_FRAME_LENGTH);
  await Promise.all([a.send(big), a.send(big.subarray(0, 1))]);
  assertEquals(await b.receive(), big);
  assertEquals(await b.receive(), big.subarray(0, 1));
  await Promise.all([a.close(), b.close()]);
});

Deno.test("FramedConn.send() rejects an oversized or empty payload and stays open", async () => {
  const { a, b } = await framedPair();
  const e = await assertRejects(() => a.send(new Uint8Array(MAX_FRAME_LENGTH + 1)), ProtocolError);
  assertEquals(e.code, "frame_too_large");
  assertEquals(
    (await assertRejects(() => a.send(new Uint8Array(0)), ProtocolError)).code,
    "frame_empty",
  );
  assert(!a.isClosed);
  await a.send(new Uint8Array([7]));
  assertEquals(await b.receive(), new Uint8Array([7]));
  await Promise.all([a.close(), b.close()]);
});

Deno.test("FramedConn closes with a logged frame_too_large when a header announces too much", async () => {
  const { raw, conn, logs } = await rawPair();
  await raw.write(header(MAX_FRAME_LENGTH + 1));
  assertEquals(await conn.receive(), null);
  const info = await conn.closed;
  assertEquals(info.reason, "protocol_error");
  assertEquals(info.error?.code, "frame_too_large");
  assert(logs.some((l) => l.level === "warn" && l.code === "frame_too_large"));
  closeQuietly(raw);
});

Deno.test("FramedConn delivers the frames before garbage, then drops the connection", async () => {
  const { raw, conn } = await rawPair();
  await raw.write(new Uint8Array([...header(2), 0xaa, 0xbb]));
  assertEquals(await conn.receive(), new Uint8Array([0xaa, 0xbb]));
  await raw.write(new Uint8Array([...header(0), 0xde, 0xad, 0xbe, 0xef]));
  assertEquals(await conn.receive(), null);
  assertEquals((await conn.closed).error?.code, "frame_empty");
  // The peer sees the close: its next read ends (or resets).
  const buf = new Uint8Array(16);
  const n = await raw.read(buf).catch(() => null);
  assertEquals(n, null);
  closeQuietly(raw);
});

Deno.test("FramedConn ends cleanly when the peer closes mid-frame", async () => {
  const { raw, conn, logs } = await rawPair();
  await raw.write(new Uint8Array([...header(1), 5, ...header(100), 1, 2, 3]));
  raw.close();
  assertEquals(await conn.receive(), new Uint8Array([5]));
  assertEquals(await conn.receive(), null);
  const info = await conn.closed;
  assertEquals(info.reason, "peer_closed_mid_frame");
  assertEquals(info.error, undefined);
  assert(!logs.some((l) => l.level === "warn"), "a peer closing is not a warning");
});

Deno.test("FramedConn closes an idle connection after idleTimeoutMs", async () => {
  const { a, b } = await framedPair({ idleTimeoutMs: 100 });
  const start = performance.now();
  const info = await a.closed;
  const elapsed = performance.now() - start;
  assertEquals(info.reason, "idle_timeout");
  assert(info.error instanceof NetError && info.error.code === "idle_timeout");
  assert(elapsed >= 90 && elapsed < 1000, `closed after ${elapsed} ms`);
  await b.closed;
});

Deno.test("FramedConn idle timer is reset by complete frames", async () => {
  // 8 x 80 ms of traffic spans well over one 400 ms idle timeout.
  const { a, b } = await framedPair({ idleTimeoutMs: 400 });
  for (let i = 0; i < 8; i++) {
    await sleep(80);
    await a.send(new Uint8Array([i]));
    assertEquals(await b.receive(), new Uint8Array([i]));
  }
  assert(!a.isClosed && !b.isClosed, "closed despite traffic");
  await Promise.all([a.close(), b.close()]);
});

Deno.test("FramedConn closes a slowloris peer that trickles bytes without finishing a frame", async () => {
  const { raw, conn } = await rawPair({ idleTimeoutMs: 10_000, firstFrameTimeoutMs: 150 });
  await raw.write(header(1000));
  let trickled = 0;
  while (!conn.isClosed && trickled < 100) {
    await raw.write(new Uint8Array([trickled++])).catch(() => 0);
    await sleep(20);
  }
  assertEquals((await conn.closed).reason, "idle_timeout");
  assert(trickled < 30, `still open after ${trickled} trickled bytes`);
  closeQuietly(raw);
});

Deno.test("FramedConn pauses reading when its queue is full and loses nothing", async () => {
  const { a, b } = await framedPair({ maxQueuedFrames: 4 });
  const payloads = Array.from({ length: 300 }, (_, i) => new Uint8Array(3000).fill(i & 0xff));
  const sent = Promise.all(payloads.map((p) => a.send(p)));
  await sleep(50); // let b's queue fill up and reading stop
  const got: Uint8Array[] = [];
  while (got.length < payloads.length) {
    const f = await b.receive();
    assert(f !== null);
    got.push(f);
  }
  await sent;
  assertEquals(got, payloads);
  await Promise.all([a.close(), b.close()]);
});

Deno.test("FramedConn stops reading from a peer whose frames are not consumed", async () => {
  const [x, y] = await socketPair();
  const sender = new FramedConn(x, { writeTimeoutMs: 300, logger: () => {} });
  const receiver = new FramedConn(y, { maxQueuedFrames: 4, logger: () => {} });
  const frame = new Uint8Array(64 * 1024);
  let sentFrames = 0;
  let error: unknown;
  // 2000 x 64 KiB = 128 MiB: far more than socket buffers hold.
  while (sentFrames < 2000 && error === undefined) {
    await sender.send(frame).then(() => sentFrames++, (e) => (error = e));
  }
  assert(isUnmessageError(error, "write_timeout"), `receiver read all ${sentFrames} frames`);
  assert(sentFrames < 500, `${sentFrames} frames were accepted`);
  await Promise.all([sender.close(), receiver.close()]);
});

Deno.test("FramedConn.send() times out against a peer that never reads", async () => {
  const { raw, conn } = await rawPair({ writeTimeoutMs: 200 });
  const chunk = new Uint8Array(MAX_FRAME_LENGTH);
  let error: unknown;
  for (let i = 0; i < 400 && error === undefined; i++) {
    await conn.send(chunk).catch((e) => (error = e));
  }
  assert(isUnmessageError(error, "write_timeout"), `got ${String(error)}`);
  assertEquals((await conn.closed).reason, "write_timeout");
  const after = await assertRejects(() => conn.send(new Uint8Array([1])), NetError);
  assertEquals(after.code, "write_timeout");
  closeQuietly(raw);
});

Deno.test("FramedConn.onFrame() handler errors close only that connection", async () => {
  const { a, b, logs } = await framedPair();
  const seen: number[] = [];
  b.onFrame((p) => {
    if (p[0] === 2) throw new Error("handler bug");
    seen.push(p[0]!);
  });
  await a.send(new Uint8Array([1]));
  await a.send(new Uint8Array([2]));
  const info = await b.closed;
  assertEquals(info.reason, "handler_failed");
  assertEquals(info.error?.code, "frame_handler_failed");
  assertEquals(seen, [1]);
  assert(logs.some((l) => l.label === "b" && l.code === "frame_handler_failed"));
  await a.close();
});

Deno.test("FramedConn.close() releases a pending receive and refuses later sends", async () => {
  const { a, b } = await framedPair();
  const pending = a.receive();
  await a.close();
  await a.close(); // idempotent
  assertEquals(await pending, null);
  const e = await assertRejects(() => a.send(new Uint8Array([1])), NetError);
  assertEquals(e.code, "connection_closed");
  assert(e.retryable);
  await b.close();
});

Deno.test("FramedConn is created and works when setNoDelay throws (a socket reset early)", async () => {
  const [a, b] = await socketPair();
  // macOS reports EINVAL for TCP_NODELAY on a socket the peer already reset
  Object.defineProperty(b, "setNoDelay", {
    value: () => {
      throw new Error("Invalid argument (os error 22)");
    },
  });
  const conn = new FramedConn(b, { logger: () => {} });
  const peer = new FramedConn(a, { logger: () => {} });
  await peer.send(new Uint8Array([7]));
  assertEquals(await conn.receive(), new Uint8Array([7]));
  await peer.close();
  await conn.close();
});
