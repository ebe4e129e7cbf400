/**
 * The GUI's local web server as an attacker meets it, at the HTTP and
 * WebSocket level: raw requests over TCP (so the Host header is ours to
 * forge) and WebSockets with forged Origin and cookies, against the real
 * server, the real GUI application and a real peer (in-process, no tor).
 * Each defence has its attack: no token, a wrong token, a wrong Host (DNS
 * rebinding), a foreign or missing Origin on the socket, state-changing
 * methods, CORS pre-flights, and the headers that forbid framing and
 * foreign code. A whole session over the socket, and how messages reach
 * pages: gui_socket_test.ts.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { cookieName, CSP, hostAllowed, originAllowed, sameToken } from "../lib/gui/guard.ts";
import { GUI_HOST, type GuiServer } from "../lib/gui/server.ts";
import { guiSetup, host, upgrade } from "./_gui_app.ts";
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
