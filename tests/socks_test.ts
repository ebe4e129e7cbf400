/**
 * Tests of the SOCKS5 client: the sans-IO handshake (byte transcripts,
 * truncation, every reply code, malformed servers, fuzzing) and
 * `socksConnect` over loopback against a tiny SOCKS server written here.
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { fromHex, toHex } from "../lib/crypto/bytes.ts";
import {
  type SocksAction,
  SocksClientHandshake,
  type SocksRequest,
} from "../lib/tor/socks_proto.ts";
import { SOCKS_REPLIES, SocksError } from "../lib/tor/socks_errors.ts";
import { socksConnect } from "../lib/tor/socks.ts";
import { isUnmessageError } from "../lib/errors.ts";

/** Hex with spaces between fields, for readable transcripts. */
const h = (fields: string): Uint8Array => fromHex(fields.replace(/\s+/g, ""));

const ONION = "a".repeat(56) + ".onion"; // 62 bytes = 0x3e
const ONION_HEX = toHex(new TextEncoder().encode(ONION));
const SUCCESS_V4 = h("05 00 00 01  00000000  0000"); // VER REP RSV ATYP BND.ADDR BND.PORT

function sendOf(action: SocksAction): Uint8Array {
  assert("send" in action, `expected send, got ${JSON.stringify(action)}`);
  return action.send;
}

Deno.test("handshake without credentials matches the RFC 1928 transcript", () => {
  const m = new SocksClientHandshake({ host: ONION, port: 80 });
  assertEquals(m.state, "start");
  // RFC 1928 §3: VER NMETHODS METHODS(no auth)
  assertEquals(sendOf(m.step(new Uint8Array(0))), h("05 01 00"));
  assertEquals(m.state, "awaitMethod");
  // §4: VER CMD(connect) RSV ATYP(domain) LEN NAME PORT(80)
  const request = m.step(h("05 00"));
  assertEquals(sendOf(request), h(`05 01 00 03  3e ${ONION_HEX}  0050`));
  assertEquals("send" in request && request.consumed, 2);
  assertEquals(m.state, "awaitReply");
  const done = m.step(SUCCESS_V4);
  assertEquals(done, { done: { consumed: 10, bound: { host: "0.0.0.0", port: 0 } } });
  assertEquals(m.state, "done");
});

Deno.test("handshake with credentials sends RFC 1929 username/password", () => {
  const m = new SocksClientHandshake({
    host: "ab.onion",
    port: 9999,
    username: "u1",
    password: "pw",
  });
  assertEquals(sendOf(m.step(new Uint8Array(0))), h("05 01 02")); // only USERNAME/PASSWORD
  // RFC 1929 §2: VER(1) ULEN UNAME PLEN PASSWD
  assertEquals(sendOf(m.step(h("05 02"))), h("01  02 7531  02 7077"));
  assertEquals(m.state, "awaitAuth");
  assertEquals(sendOf(m.step(h("01 00"))), h("05 01 00 03  08 61622e6f6e696f6e  270f"));
  const done = m.step(h("05 00 00 03  04 686f7374  1234 ff")); // domain reply + 1 stream byte
  assertEquals(done, { done: { consumed: 11, bound: { host: "host", port: 0x1234 } } });
});

Deno.test("handshake parses an IPv6 bound address", () => {
  const m = connected();
  const reply = h("05 00 00 04  20010db8000000000000000000000001  01bb");
  assertEquals(m.step(reply), {
    done: { consumed: 22, bound: { host: "2001:db8:0:0:0:0:0:1", port: 443 } },
  });
});

/** A machine that has sent its CONNECT request (no credentials). */
function connected(): SocksClientHandshake {
  const m = new SocksClientHandshake({ host: ONION, port: 80 });
  m.step(new Uint8Array(0));
  m.step(h("05 00"));
  return m;
}

Deno.test("every truncated prefix of every server message asks for more", () => {
  const replies = [
    SUCCESS_V4,
    h("05 00 00 03  04 686f7374  1234"),
    h("05 00 00 03  00  0000"),
    h("05 00 00 04  00000000000000000000000000000000  0000"),
  ];
  for (const reply of replies) {
    for (let n = 0; n < reply.length; n++) {
      const action = connected().step(reply.subarray(0, n));
      assert("need" in action, `prefix ${n} of ${toHex(reply)}`);
      // never asks for more than the rest of this reply: no over-read
      assert(
        action.bytes >= 1 && action.bytes <= reply.length - n,
        `bytes ${action.bytes} at ${n}`,
      );
    }
  }
  for (const n of [0, 1]) {
    const m = new SocksClientHandshake({ host: "x", port: 1, username: "u", password: "p" });
    m.step(new Uint8Array(0));
    assertEquals(m.step(h("05 02").subarray(0, n)), { need: "more", bytes: 2 - n });
    m.step(h("05 02"));
    assertEquals(m.step(h("01 00").subarray(0, n)), { need: "more", bytes: 2 - n });
  }
});

Deno.test("a finished or failed machine refuses further calls", () => {
  const m = connected();
  m.step(SUCCESS_V4);
  assertEquals(assertThrows(() => m.step(SUCCESS_V4), SocksError).code, "socks_handshake_over");
  const f = connected();
  assertThrows(() => f.step(h("05 01")), SocksError);
  assertEquals(f.state, "failed");
  assertEquals(assertThrows(() => f.step(SUCCESS_V4), SocksError).code, "socks_handshake_over");
});

/**
 * An in-memory SOCKS5 server: checks each client message and answers the
 * CONNECT with `rep`. Returns the handshake's outcome.
 */
function runInMemory(request: SocksRequest, rep: number): SocksAction | SocksError {
  const m = new SocksClientHandshake(request);
  const server = [
    (msg: Uint8Array) => {
      assertEquals(msg.subarray(0, 2), h("05 01"));
      return Uint8Array.of(5, msg[2]!);
    },
    (msg: Uint8Array) => {
      if (msg[0] === 0x01) return h("01 00"); // auth accepted
      assertEquals(msg[3], 0x03);
      return Uint8Array.of(5, rep, 0, 1, 0, 0, 0, 0, 0, 0);
    },
  ];
  let input: Uint8Array = new Uint8Array(0);
  try {
    for (let i = 0;; i++) {
      const action = m.step(input);
      if (!("send" in action)) return action;
      const answer = server[Math.min(i, server.length - 1)]!;
      input = answer(action.send);
    }
  } catch (e) {
    if (e instanceof SocksError) return e;
    throw e;
  }
}

Deno.test("every reply code maps to a typed SocksError with a stable code", () => {
  const expected: Record<number, [string, boolean]> = {
    0x01: ["socks_general_failure", true],
    0x02: ["socks_not_allowed", false],
    0x03: ["socks_network_unreachable", true],
    0x04: ["socks_host_unreachable", true],
    0x05: ["socks_connection_refused", true],
    0x06: ["socks_ttl_expired", true],
    0x07: ["socks_command_not_supported", false],
    0x08: ["socks_address_type_not_supported", false],
    0xf0: ["socks_onion_not_found", true],
    0xf1: ["socks_onion_invalid_descriptor", false],
    0xf2: ["socks_onion_intro_failed", true],
    0xf3: ["socks_onion_rendezvous_failed", true],
    0xf4: ["socks_onion_missing_client_auth", false],
    0xf5: ["socks_onion_bad_client_auth", false],
    0xf6: ["socks_onion_bad_address", false],
    0xf7: ["socks_onion_intro_timeout", true],
  };
  assertEquals(SOCKS_REPLIES.size, Object.keys(expected).length);
  for (const creds of [{}, { username: "c", password: "d" }]) {
    for (let rep = 1; rep < 256; rep++) {
      const e = runInMemory({ host: ONION, port: 80, ...creds }, rep);
      assert(e instanceof SocksError, `rep ${rep}`);
      const [code, retryable] = expected[rep] ?? ["socks_unknown_reply", false];
      assertEquals([e.code, e.retryable, e.replyCode], [code, retryable, rep]);
      assert(isUnmessageError(e, code));
      assert(e.message.length > 0 && !e.message.endsWith("."));
    }
    assert("done" in runInMemory({ host: ONION, port: 80, ...creds }, 0));
  }
});

Deno.test("malformed server bytes give typed errors", () => {
  const cases: [string, (m: SocksClientHandshake) => void, string][] = [
    ["method reply version", (m) => m.step(h("04 00")), "socks_bad_version"],
    ["no acceptable method", (m) => m.step(h("05 ff")), "socks_no_acceptable_method"],
    ["method not offered", (m) => m.step(h("05 02")), "socks_unexpected_method"],
    ["reply version", (m) => (m.step(h("05 00")), m.step(h("04"))), "socks_bad_version"],
    ["reserved byte", (m) => (m.step(h("05 00")), m.step(h("05 00 01"))), "socks_bad_reserved"],
    [
      "unknown atyp",
      (m) => (m.step(h("05 00")), m.step(h("05 00 00 02"))),
      "socks_bad_address_type",
    ],
  ];
  for (const [name, act, code] of cases) {
    const m = new SocksClientHandshake({ host: ONION, port: 80 });
    m.step(new Uint8Array(0));
    assertEquals(assertThrows(() => act(m), SocksError).code, code, name);
    assertEquals(m.state, "failed");
  }
  const early = new SocksClientHandshake({ host: ONION, port: 80 });
  assertEquals(assertThrows(() => early.step(h("05")), SocksError).code, "socks_unexpected_data");
  const auth = (reply: string) => {
    const m = new SocksClientHandshake({ host: "x", port: 1, username: "u", password: "p" });
    m.step(new Uint8Array(0));
    m.step(h("05 02"));
    return assertThrows(() => m.step(h(reply)), SocksError).code;
  };
  assertEquals(auth("05 00"), "socks_bad_auth_version");
  assertEquals(auth("01 01"), "socks_auth_failed");
});

Deno.test("bad requests are refused before any byte is sent", () => {
  const bad: SocksRequest[] = [
    { host: "", port: 80 },
    { host: "x".repeat(256), port: 80 },
    { host: "a\0b", port: 80 },
    { host: ONION, port: 0 },
    { host: ONION, port: 65536 },
    { host: ONION, port: 1.5 },
    { host: ONION, port: 80, username: "u" },
    { host: ONION, port: 80, username: "", password: "p" },
    { host: ONION, port: 80, username: "u", password: "p".repeat(256) },
  ];
  for (const request of bad) {
    const e = assertThrows(() => new SocksClientHandshake(request), SocksError);
    assertEquals(e.code, "socks_invalid_request");
  }
  assertEquals(new SocksClientHandshake({ host: "x".repeat(255), port: 65535 }).state, "start");
});

Deno.test("fuzz: random server bytes in random chunks only ever give SocksError", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 24 }), { maxLength: 8 }),
      (creds, chunks) => {
        const m = new SocksClientHandshake(
          creds
            ? { host: ONION, port: 80, username: "u", password: "p" }
            : { host: ONION, port: 80 },
        );
        let pending = new Uint8Array(0);
        try {
          m.step(pending);
          for (const chunk of chunks) {
            pending = Uint8Array.from([...pending, ...chunk]);
            for (;;) {
              const action = m.step(pending);
              if ("need" in action) {
                assert(action.bytes >= 1);
                break;
              }
              if ("done" in action) {
                assert(action.done.consumed <= pending.length);
                return;
              }
              pending = pending.subarray(action.consumed);
            }
          }
        } catch (e) {
          if (!(e instanceof SocksError)) throw e;
          assertEquals(m.state, "failed");
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("fuzz: a valid reply delivered in any chunks gives the same result", () => {
  const reply = h("05 00 00 03  04 686f7374  1234");
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: reply.length - 1 })), (cuts) => {
    const m = connected();
    for (const cut of cuts.sort((x, y) => x - y)) {
      assert("need" in m.step(reply.subarray(0, cut)));
      assertEquals(m.state, "awaitReply");
    }
    assertEquals(m.step(reply), { done: { consumed: 11, bound: { host: "host", port: 0x1234 } } });
  }));
});

// ---- over loopback ----------------------------------------------------

interface TinyServer {
  port: number;
  /** Credentials and target each accepted client asked for. */
  seen: { user?: string; host: string; port: number }[];
  /** How many refused clients closed their socket (read gave EOF). */
  closed(): number;
  close(): Promise<void>;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads exactly `n` bytes or fails after a bound (a lost byte must not hang). */
async function readExactly(conn: Deno.Conn, n: number, ms = 5000): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`read of ${n} bytes timed out`)), ms);
  });
  try {
    return await Promise.race([readFully(conn, n), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readFully(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error("eof");
    off += got;
  }
  return out;
}

/**
 * A tiny SOCKS5 server on 127.0.0.1: answers `rep`; on success it sends the
 * reply and a greeting in ONE write, then echoes. `silent` never answers.
 */
function tinyServer(opts: { rep?: number; silent?: boolean } = {}): TinyServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: TinyServer["seen"] = [];
  const conns = new Set<Deno.Conn>();
  let closedByClient = 0;
  const handle = async (conn: Deno.Conn): Promise<void> => {
    conns.add(conn);
    try {
      const [, nMethods] = await readExactly(conn, 2);
      const methods = await readExactly(conn, nMethods!);
      if (opts.silent) {
        await conn.read(new Uint8Array(1));
        return;
      }
      const useAuth = methods.includes(2);
      await conn.write(Uint8Array.of(5, useAuth ? 2 : 0));
      let user: string | undefined;
      if (useAuth) {
        const [, ulen] = await readExactly(conn, 2);
        user = new TextDecoder().decode(await readExactly(conn, ulen!));
        const [plen] = await readExactly(conn, 1);
        await readExactly(conn, plen!);
        await conn.write(h("01 00"));
      }
      const [, , , , len] = await readExactly(conn, 5);
      const host = new TextDecoder().decode(await readExactly(conn, len!));
      const port = new DataView((await readExactly(conn, 2)).buffer).getUint16(0);
      seen.push(user === undefined ? { host, port } : { user, host, port });
      const rep = opts.rep ?? 0;
      const reply = Uint8Array.of(5, rep, 0, 1, 0, 0, 0, 0, 0, 0);
      if (rep !== 0) {
        await conn.write(reply);
        if (await conn.read(new Uint8Array(1)) === null) closedByClient++;
        return;
      }
      await conn.write(Uint8Array.from([...reply, ...new TextEncoder().encode("hello")]));
      const buf = new Uint8Array(1024);
      for (let n; (n = await conn.read(buf)) !== null;) await conn.write(buf.subarray(0, n));
    } catch {
      // client went away
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const loop = (async () => {
    for await (const conn of listener) handle(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    seen,
    closed: () => closedByClient,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
    },
  };
}

Deno.test("socksConnect() keeps the bytes after the reply and data flows both ways", async () => {
  const server = tinyServer();
  try {
    const conn = await socksConnect({
      socksPort: server.port,
      host: ONION,
      port: 80,
      username: "contact-1",
      password: "x",
      timeoutMs: 5000,
    });
    try {
      assertEquals(new TextDecoder().decode(await readExactly(conn, 5)), "hello");
      const payload = new Uint8Array(100_000).map((_, i) => i & 0xff);
      const echoed = readExactly(conn, payload.length);
      for (let off = 0; off < payload.length;) off += await conn.write(payload.subarray(off));
      assertEquals(await echoed, payload);
    } finally {
      conn.close();
    }
    assertEquals(server.seen, [{ user: "contact-1", host: ONION, port: 80 }]);
  } finally {
    await server.close();
  }
});

Deno.test("socksConnect() turns a refusal into a typed error and closes the socket", async () => {
  const server = tinyServer({ rep: 0xf0 });
  try {
    const e = await assertRejects(
      () => socksConnect({ socksPort: server.port, host: ONION, port: 80, timeoutMs: 5000 }),
      SocksError,
    );
    assertEquals([e.code, e.retryable], ["socks_onion_not_found", true]);
    for (let i = 0; i < 100 && server.closed() === 0; i++) await delay(10);
    assertEquals(server.closed(), 1);
  } finally {
    await server.close();
  }
});

Deno.test("socksConnect() times out against a silent server in bounded time", async () => {
  const server = tinyServer({ silent: true });
  try {
    const start = performance.now();
    const e = await assertRejects(
      () => socksConnect({ socksPort: server.port, host: ONION, port: 80, timeoutMs: 300 }),
      SocksError,
    );
    const elapsed = performance.now() - start;
    assertEquals([e.code, e.retryable], ["socks_timeout", true]);
    assert(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
  } finally {
    await server.close();
  }
});

Deno.test("socksConnect() reports a SOCKS port with nothing listening", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const e = await assertRejects(
    () => socksConnect({ socksPort: port, host: ONION, port: 80, timeoutMs: 2000 }),
    SocksError,
  );
  assertEquals(e.code, "socks_connect_failed");
  for (const bad of [{ socksPort: 0, timeoutMs: 10 }, { socksPort: port, timeoutMs: 0 }]) {
    const err = await assertRejects(
      () => socksConnect({ host: ONION, port: 80, ...bad }),
      SocksError,
    );
    assertEquals(err.code, "socks_invalid_request");
  }
});
