/**
 * The GUI's WebSocket as a page meets it, against the real server, the
 * real GUI application and a real peer (in-process, no tor): a whole
 * session over the socket, in which the token, the passphrase and the SMP
 * secret never reach a log line or a line sent to a page; and how received
 * messages reach pages: counted as shown only once a page says so, a page
 * that never reads dropped at the bound, no flood pushing messages out of
 * the replay, and a message no page showed shown when one opens. The
 * server's HTTP and socket guards: gui_server_test.ts.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { MAX_BACKLOG_LINES, MAX_UNREAD_BYTES } from "../lib/gui/app.ts";
import type { GuiServer } from "../lib/gui/server.ts";
import type { PeerEvent } from "../lib/peer.ts";
import { SINK_FLUSH_TIMEOUT_MS } from "../lib/peer/core.ts";
import { storedPeer } from "../lib/runtime.ts";
import { guiSetup, upgrade } from "./_gui_app.ts";

/** Bound on any answer awaited here. */
const WAIT_MS = 15_000;

/** A GUI with a real peer in direct mode; peers of one test share `registry`. */
const setup = guiSetup;

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
