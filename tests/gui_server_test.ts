/**
 * The GUI's local web server as an attacker meets it, at the HTTP and
 * WebSocket level: raw requests over TCP (so the Host header is ours to
 * forge) and WebSockets with forged Origin and cookies, against the real
 * server, the real GUI application and a real peer (in-process, no tor).
 * Each defence has its attack: no token, a wrong token, a wrong Host (DNS
 * rebinding), a foreign or missing Origin on the socket, state-changing
 * methods, CORS pre-flights, and the headers that forbid framing and
 * foreign code. Then a whole session over the socket: the token, the
 * passphrase and the SMP secret never reach a log line or a line sent to
 * a page.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { MAX_BACKLOG_LINES, MAX_UNREAD_BYTES } from "../lib/gui/app.ts";
import { cookieName, CSP, hostAllowed, originAllowed, sameToken } from "../lib/gui/guard.ts";
import { GUI_HOST, type GuiServer } from "../lib/gui/server.ts";
import type { PeerEvent } from "../lib/peer.ts";
import { SINK_FLUSH_TIMEOUT_MS } from "../lib/peer/core.ts";
import { storedPeer } from "../lib/runtime.ts";
import { guiSetup } from "./_gui_app.ts";
/** Bound on any answer awaited here. */
const WAIT_MS = 15_000;

/** One raw HTTP/1.1 exchange; returns the status and the headers (lower-case names). */
async function raw(
  port: number,
  lines: string[],
): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode([...lines, "Connection: close", "", ""].join("\r\n")),
    );
    let text = "";
    const buf = new Uint8Array(64 * 1024);
    const deadline = Date.now() + WAIT_MS;
    for (let n; (n = await conn.read(buf)) !== null && Date.now() < deadline;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
      if (/^HTTP\/1\.1 101/.test(text) && text.includes("\r\n\r\n")) break;
    }
    const [head, ...rest] = text.split("\r\n\r\n");
    const [statusLine, ...headerLines] = head!.split("\r\n");
    const headers = new Map<string, string>();
    for (const l of headerLines) {
      const i = l.indexOf(":");
      headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    return { status: Number(statusLine!.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    conn.close();
  }
}

/** A GUI with a real peer in direct mode; peers of one test share `registry`. */
const setup = guiSetup;

const host = (s: GuiServer) => `Host: 127.0.0.1:${s.port}`;
const cookie = (s: GuiServer, value: string) => `Cookie: ${cookieName(s.port)}=${value}`;
/** The cookie the browser gets on the first load (the address with the token). */
async function pageCookie(s: GuiServer): Promise<string> {
  const first = await raw(s.port, [`GET /?token=${s.token} HTTP/1.1`, host(s)]);
  const value = new RegExp(`^${cookieName(s.port)}=([^;]+);`).exec(
    first.headers.get("set-cookie") ?? "",
  )?.[1];
  if (value === undefined) throw new Error("the first load set no cookie");
  return cookie(s, value);
}

Deno.test("guard: Host, Origin and token comparisons accept only the exact loopback forms", () => {
  assert(hostAllowed("127.0.0.1:8000", 8000) && hostAllowed("localhost:8000", 8000));
  for (const h of [null, "127.0.0.1", "127.0.0.1:8001", "evil.example:8000", "127.0.0.2:8000"]) {
    assert(!hostAllowed(h, 8000), String(h));
  }
  assert(originAllowed("http://127.0.0.1:8000", 8000));
  for (
    const o of [
      null,
      "null",
      "http://evil.example",
      "https://127.0.0.1:8000",
      "http://127.0.0.1:8001",
    ]
  ) {
    assert(!originAllowed(o, 8000), String(o));
  }
  assert(sameToken("abc", "abc") && !sameToken("abc", "abd") && !sameToken("abc", "ab"));
});

Deno.test("the GUI server listens on 127.0.0.1 only and answers only with its token", async () => {
  const s = await setup();
  try {
    assertEquals(GUI_HOST, "127.0.0.1");
    // Another local address of this machine reaches nothing (127.0.0.2 is loopback too).
    let refused = false;
    try {
      (await Deno.connect({ hostname: "127.0.0.2", port: s.server.port })).close();
    } catch {
      refused = true;
    }
    assert(refused, "the server answered on 127.0.0.2");

    // No token at all, a wrong one, one of the right length: 403 for every path.
    const wrong = s.server.token.replace(/^./, (c) => (c === "A" ? "B" : "A"));
    for (const path of ["/", "/app.js", "/ws", "/identity.svg", "/favicon.ico", "/nope"]) {
      assertEquals(
        (await raw(s.server.port, [`GET ${path} HTTP/1.1`, host(s.server)])).status,
        403,
        path,
      );
      const r = await raw(s.server.port, [`GET ${path}?token=${wrong} HTTP/1.1`, host(s.server)]);
      assertEquals(r.status, 403, `${path} with a wrong token`);
      const c = await raw(s.server.port, [
        `GET ${path} HTTP/1.1`,
        host(s.server),
        cookie(s.server, wrong),
      ]);
      assertEquals(c.status, 403, `${path} with a wrong cookie`);
      // Another port's cookie (another unMessage on this machine) does not open this one.
      const other = `Cookie: ${cookieName(s.server.port + 1)}=${s.server.token}`;
      assertEquals(
        (await raw(s.server.port, [`GET ${path} HTTP/1.1`, host(s.server), other])).status,
        403,
      );
    }

    // The token in the URL: the page, and the cookie that carries it from then on.
    const first = await raw(s.server.port, [
      `GET /?token=${s.server.token} HTTP/1.1`,
      host(s.server),
    ]);
    assertEquals(first.status, 200);
    const set = first.headers.get("set-cookie") ?? "";
    assert(set.startsWith(`${cookieName(s.server.port)}=`), set);
    for (const flag of ["HttpOnly", "SameSite=Strict", "Path=/"]) assert(set.includes(flag), set);
    const withCookie = await raw(s.server.port, [
      "GET /app.js HTTP/1.1",
      host(s.server),
      await pageCookie(s.server),
    ]);
    assertEquals(withCookie.status, 200);
    assert(withCookie.headers.get("content-type")!.startsWith("text/javascript"));
    assertEquals(withCookie.headers.get("set-cookie"), undefined, "the cookie is set only once");
  } finally {
    await s.close();
  }
});

Deno.test("the GUI server refuses a foreign Host (DNS rebinding), even with the token", async () => {
  const s = await setup();
  try {
    const p = s.server.port;
    const pc = await pageCookie(s.server);
    for (
      const h of [
        `evil.example:${p}`,
        "127.0.0.1",
        `127.0.0.1:${p + 1}`,
        `localhost.evil.example:${p}`,
        "",
      ]
    ) {
      const r = await raw(p, [
        `GET /?token=${s.server.token} HTTP/1.1`,
        `Host: ${h}`,
        pc,
      ]);
      assertEquals(r.status, 403, `Host ${h}`);
      assertEquals(r.headers.get("set-cookie"), undefined);
    }
    const ok = await raw(p, ["GET / HTTP/1.1", `Host: localhost:${p}`, pc]);
    assertEquals(ok.status, 200);
  } finally {
    await s.close();
  }
});

Deno.test("every answer forbids framing, foreign code and CORS; only GET and HEAD exist", async () => {
  const s = await setup();
  try {
    const p = s.server.port;
    const pc = await pageCookie(s.server);
    for (const path of ["/", "/app.css", "/nope", "/favicon.ico"]) {
      for (const c of [pc, "X-Nothing: 1"]) {
        const r = await raw(p, [
          `GET ${path} HTTP/1.1`,
          host(s.server),
          c,
          "Origin: http://evil.example",
        ]);
        assertEquals(r.headers.get("x-frame-options"), "DENY", path);
        assertEquals(r.headers.get("content-security-policy"), CSP, path);
        assertEquals(r.headers.get("referrer-policy"), "no-referrer", path);
        assertEquals(r.headers.get("x-content-type-options"), "nosniff", path);
        for (const name of r.headers.keys()) assert(!name.startsWith("access-control-"), name);
      }
    }
    assert(CSP.includes("frame-ancestors 'none'") && CSP.includes("script-src 'self'"));
    assert(!/unsafe|\*|http:|https:|data:/.test(CSP), CSP);
    // The page has no inline script or style for the CSP to allow.
    const page = await raw(p, ["GET / HTTP/1.1", host(s.server), pc]);
    assert(
      !/<script(?![^>]*\bsrc=)/.test(page.body) && !/\bstyle=|<style/.test(page.body),
      page.body,
    );
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const r = await raw(p, [
        `${method} / HTTP/1.1`,
        host(s.server),
        pc,
        "Content-Length: 0",
      ]);
      assertEquals(r.status, 405, method);
      const anon = await raw(p, [`${method} / HTTP/1.1`, host(s.server), "Content-Length: 0"]);
      assertEquals(anon.status, 403, `${method} without the token`);
    }
  } finally {
    await s.close();
  }
});

/** A WebSocket upgrade request over raw TCP (with the token in its URL if `withToken`). */
function upgrade(s: GuiServer, extra: string[], withToken = false): string[] {
  return [
    `GET /ws${withToken ? `?token=${s.token}` : ""} HTTP/1.1`,
    host(s),
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...extra,
  ];
}

Deno.test("the WebSocket refuses a foreign or missing Origin and a missing token", async () => {
  const s = await setup();
  try {
    const p = s.server.port;
    const origin = `Origin: http://127.0.0.1:${p}`;
    const pc = await pageCookie(s.server);
    for (
      const o of [
        "Origin: http://evil.example",
        `Origin: http://127.0.0.1:${p + 1}`,
        "Origin: null",
        "",
      ]
    ) {
      const r = await raw(p, upgrade(s.server, [pc, ...(o ? [o] : [])], true));
      assertEquals(r.status, 403, o || "no Origin");
    }
    assertEquals((await raw(p, upgrade(s.server, [origin, pc]))).status, 403, "no token");
    assertEquals((await raw(p, upgrade(s.server, [origin], true))).status, 101);

    // A browser page of another site: its socket never opens.
    const foreign = new WebSocket(`ws://127.0.0.1:${p}/ws?token=${s.server.token}`, {
      headers: { Origin: "http://evil.example" },
    } as unknown as string);
    const outcome = await new Promise<string>((resolve) => {
      foreign.onopen = () => resolve("open");
      foreign.onerror = () => resolve("refused");
      foreign.onclose = () => resolve("refused");
    });
    assertEquals(outcome, "refused");
  } finally {
    await s.close();
  }
});

Deno.test("the cookie alone opens no socket and no identity: browsers send it to every port of 127.0.0.1", async () => {
  const s = await setup();
  try {
    const p = s.server.port;
    const origin = `Origin: http://127.0.0.1:${p}`;
    // What the browser gives the cookie for (the first load): the page sets it.
    const first = await raw(p, [`GET /?token=${s.server.token} HTTP/1.1`, host(s.server)]);
    const set = first.headers.get("set-cookie") ?? "";
    const given = /^unmessage_\d+=([^;]+);/.exec(set)?.[1] ?? "";
    assert(given !== "", set);
    // Cookies are not kept apart by port (RFC 6265 section 8.5): any server another local
    // user runs on 127.0.0.1, once the browser visits it, receives this value. It must not
    // be the token, and it must not open the socket or show the identity.
    assert(!sameToken(given, s.server.token), "the cookie carries the token itself");
    const stolen = `Cookie: ${cookieName(p)}=${given}`;
    assertEquals((await raw(p, upgrade(s.server, [origin, stolen]))).status, 403, "socket");
    assertEquals(
      (await raw(p, ["GET /identity.svg HTTP/1.1", host(s.server), stolen])).status,
      403,
      "identity",
    );
    // The page's files still load with it, and the page's socket carries the token.
    assertEquals((await raw(p, ["GET /app.js HTTP/1.1", host(s.server), stolen])).status, 200);
    assertEquals((await raw(p, upgrade(s.server, [origin, stolen], true))).status, 101);
  } finally {
    await s.close();
  }
});

/**
 * A page's socket with the right Origin and the token; collects every line,
 * and says it showed each message as the page does (unless `acks` is false).
 */
async function pageSocket(s: GuiServer, acks = true) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws?token=${s.token}`, {
    headers: { Origin: `http://127.0.0.1:${s.port}` },
  } as unknown as string);
  const lines: Record<string, unknown>[] = [];
  const texts: string[] = [];
  const waiters = new Set<() => void>();
  ws.onmessage = (e) => {
    texts.push(e.data);
    const line = JSON.parse(e.data);
    lines.push(line);
    if (acks && line.event === "message") {
      ws.send(JSON.stringify({ app: "shown", message: line.id }));
    }
    for (const w of [...waiters]) w();
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const until = (pred: (l: Record<string, unknown>) => boolean, what: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what}: ${texts.slice(-5)}`)), WAIT_MS);
      const check = () => {
        const l = lines.find(pred);
        if (l) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(l);
        }
      };
      waiters.add(check);
      check();
    });
  const send = async (body: Record<string, unknown>) => {
    const n = ++id;
    ws.send(JSON.stringify({ id: n, ...body }));
    return await until((l) => l["id"] === n, `reply ${n}`);
  };
  return { ws, lines, texts, send, until };
}

Deno.test("the token, the passphrase and the SMP secret never reach a log or a page", async () => {
  const registry = await Deno.makeTempDir({ prefix: "um-gui-registry-" });
  const a = await setup(registry);
  const b = await setup(registry);
  const PASS = "gui-passphrase-7c1f";
  const SECRET = "gui-smp-secret-93ab";
  try {
    const pa = await pageSocket(a.server);
    const pb = await pageSocket(b.server);
    assertEquals(pa.lines[0], { gui: "phase", phase: "choose" });
    // Wrong first: an empty name and a bad one are typed errors, nothing starts.
    const bad = await pa.send({ app: "start", name: "../x" });
    assertEquals((bad["error"] as { code: string }).code, "bad_name");
    const started = await pa.send({ app: "start", name: "alice", passphrase: PASS });
    assert(started["ok"], JSON.stringify(started));
    await pb.send({ app: "start", name: "bob" });
    assertEquals(await storedPeer(a.root, "alice"), "encrypted");

    // Commands and replies: the same lines as --json.
    const idA = (await pa.send({ cmd: "identity" }))["result"] as { address: string; key: string };
    const sent = await pb.send({ cmd: "req-send", args: [idA.address, idA.key] });
    assert(sent["ok"], JSON.stringify(sent));
    await pa.until((l) => l["event"] === "request-received", "request");
    assert((await pa.send({ cmd: "req-accept", args: ["bob"] }))["ok"]);
    await pb.until((l) => l["event"] === "request-accepted", "accepted");
    await pb.send({ cmd: "msg", args: ["alice", "hello"] });
    await pa.until((l) => l["event"] === "message", "message");
    await pb.until((l) => l["gui"] === "outgoing", "outgoing line");
    assertEquals((await pa.send({ cmd: "nope" }))["error"], {
      code: "unknown_command",
      message: 'Unknown command "nope"; "help" lists the commands',
    });
    // SMP with the secret typed on both sides.
    await pa.until((l) => l["event"] === "connection" && l["state"] === "connected", "connected");
    assert((await pa.send({ cmd: "auth", args: ["bob", SECRET] }))["ok"]);
    await pb.until((l) => l["event"] === "auth" && l["status"] === "requested", "auth requested");
    assert((await pb.send({ cmd: "auth", args: ["alice", SECRET] }))["ok"]);
    await pa.until((l) => l["event"] === "auth" && l["status"] === "match", "match");
    await pb.until((l) => l["event"] === "level" && l["level"] === "authenticated", "level");

    // A page opened later gets the backlog: the message, the outcome.
    const late = await pageSocket(a.server);
    await late.until((l) => l["event"] === "message" && l["text"] === "hello", "backlog");

    const everything = [...a.logs, ...b.logs, ...pa.texts, ...pb.texts, ...late.texts].join("\n");
    for (const secret of [PASS, SECRET, a.server.token, b.server.token]) {
      assert(!everything.includes(secret), `a secret reached a log or a page`);
    }
    // The pages' replies to auth say nothing of the secret either.
    assert(!JSON.stringify(pa.lines).includes("secret-93ab"));

    // Quit from a page: the peer stops, every page is told.
    const q = await pb.send({ cmd: "quit" });
    assertEquals(q["result"], { quit: true });
    await pb.until((l) => l["gui"] === "phase" && l["phase"] === "stopped", "stopped");
    await b.app.done;
    pa.ws.close();
    pb.ws.close();
    late.ws.close();
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(registry, { recursive: true });
  }
});

/** A received message as the core emits it. */
function messageEvent(id: string, text = "hi"): PeerEvent {
  return { event: "message", name: "bob", id, text, at: 1 };
}

Deno.test("a received message counts as shown only once a page says it showed it", async () => {
  const s = await setup();
  try {
    const page = await pageSocket(s.server, false);
    let shown = false;
    const outcome = s.app.sink(messageEvent("m1"));
    assert(outcome instanceof Promise);
    void outcome.then(() => shown = true, () => {});
    await page.until((l) => l["event"] === "message" && l["id"] === "m1", "the message");
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(shown, false, "counted as shown before the page showed it");
    page.ws.send(JSON.stringify({ app: "shown", message: "m1" }));
    await outcome;
    // with no page open, a message is not shown at all
    page.ws.close();
    await new Promise((r) => setTimeout(r, 100));
    let refused = false;
    await (s.app.sink(messageEvent("m2")) as Promise<void>).catch(() => refused = true);
    assert(refused, "a message with no page open counted as shown");
  } finally {
    await s.close();
  }
});

Deno.test("a page that never reads is dropped once its unread lines pass the bound; memory stays bounded", async () => {
  const s = await setup();
  const p = s.server.port;
  // a page that opens its socket and then reads nothing
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: p });
  try {
    const head = upgrade(s.server, [`Origin: http://127.0.0.1:${p}`], true);
    await stuck.write(new TextEncoder().encode([...head, "", ""].join("\r\n")));
    const big = "x".repeat(1024 * 1024);
    // the socket opens on the server's side once the handshake is through: a message
    // then reaches a page (and waits for it) instead of being refused at once
    let reached = false;
    for (let i = 0; i < 100 && !reached; i++) {
      await new Promise((r) => setTimeout(r, 20));
      reached = await Promise.race([
        (s.app.sink(messageEvent(`probe${i}`)) as Promise<void>).then(() => true, () => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 20)),
      ]);
    }
    assert(reached, "the stuck page's socket never opened");
    for (let i = 0; i < (MAX_UNREAD_BYTES >> 20) + 8; i++) {
      s.app.sink({ event: "warning", code: "big", message: big });
    }
    // the stuck page was dropped: a message now reaches no page (so it is not acknowledged)
    let refused = false;
    await (s.app.sink(messageEvent("after")) as Promise<void>).catch(() => refused = true);
    assert(refused, "a page that reads nothing still counts as showing messages");
  } finally {
    stuck.close();
    await s.close();
  }
});

Deno.test("a stranger's flood of warnings and requests does not push messages out of the replay", async () => {
  const s = await setup();
  try {
    const page = await pageSocket(s.server);
    await (s.app.sink(messageEvent("m1", "from a contact")) as Promise<void>);
    // what anyone who knows the address can cause: warnings (dropped packets), requests
    for (let i = 0; i < MAX_BACKLOG_LINES + 100; i++) {
      s.app.sink({ event: "warning", code: "unknown_packet", message: `dropped ${i}` });
      s.app.sink({
        event: "request-received",
        request: { name: `spam${i}`, direction: "in", address: "spam@x.onion", key: "k", at: 1 },
      });
    }
    page.ws.close();
    const late = await pageSocket(s.server);
    await late.until((l) => l["gui"] === "replay" && l["state"] === "end", "the replay");
    assert(
      late.lines.some((l) => l["event"] === "message" && l["id"] === "m1"),
      "the contact's message left the replay",
    );
    assert(!late.lines.some((l) => l["event"] === "warning"), "old warnings replayed");
    late.ws.close();
  } finally {
    await s.close();
  }
});

Deno.test("a message no page showed is shown, and acknowledged, when a page opens", async () => {
  const registry = await Deno.makeTempDir({ prefix: "um-gui-registry-" });
  const a = await setup(registry);
  const b = await setup(registry);
  try {
    const pa = await pageSocket(a.server);
    const pb = await pageSocket(b.server);
    await pa.send({ app: "start", name: "alice" });
    await pb.send({ app: "start", name: "bob" });
    const idA = (await pa.send({ cmd: "identity" }))["result"] as { address: string; key: string };
    await pb.send({ cmd: "req-send", args: [idA.address, idA.key] });
    await pa.until((l) => l["event"] === "request-received", "request");
    await pa.send({ cmd: "req-accept", args: ["bob"] });
    await pb.until((l) => l["event"] === "request-accepted", "accepted");
    // alice's only page now never says it showed a message, and goes
    pa.ws.close();
    const mute = await pageSocket(a.server, false);
    const sent = await pb.send({ cmd: "msg", args: ["alice", "while away"] });
    const id = (sent["result"] as { id: string }).id;
    await mute.until((l) => l["event"] === "message" && l["id"] === id, "the message");
    mute.ws.close();
    // past the core's wait, the message counts as not shown
    await new Promise((r) => setTimeout(r, SINK_FLUSH_TIMEOUT_MS + 500));
    // a page opens: the message is shown there, and so acknowledged
    const back = await pageSocket(a.server);
    await pb.until((l) => l["event"] === "delivered" && l["id"] === id, "delivered");
    await back.until((l) => l["event"] === "message" && l["id"] === id, "shown again");
    back.ws.close();
    pb.ws.close();
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(registry, { recursive: true });
  }
});
