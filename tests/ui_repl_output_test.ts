/**
 * What the REPL prints, over an in-memory terminal: a terminal that stops
 * reading never grows the output queue without bound and never loses a
 * received message (with a real core: backpressure, then every message
 * shown once, in order, those held back while the inbox was full too); delivery notices name the message and collapse into one
 * line; a message to an offline contact says it is queued; transport
 * warnings are counted quietly (`/warnings`), console output never prints
 * beside the prompt; errors name commands with their slash; `/delete` of
 * nobody does not ask first.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { MemoryTerminal } from "./_memory_terminal.ts";
import { FakePeer, interactivePeer, setup } from "./_repl_fake.ts";
import { connect, TestNet } from "./_peer_harness.ts";
import { MAX_INBOX_MESSAGES } from "../lib/peer/records.ts";
import { Repl } from "../lib/ui/repl.ts";
import { MAX_PENDING_NOTICES, MAX_PENDING_UNITS, Screen } from "../lib/ui/screen.ts";
import { handleLine } from "../lib/ui/json.ts";
import { resultText } from "../lib/ui/results.ts";
import type { PeerEvent } from "../lib/peer.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));
/** Long enough for messages to cross loopback. */
const QUIET_MS = 300;

/** A `delivered` event as a core without excerpts sends it. */
const delivered = (name: string, id: string) => ({ event: "delivered", name, id }) as PeerEvent;

Deno.test("REPL: a terminal that does not drain holds bounded output; messages wait, none is lost", async () => {
  const { term, repl } = setup({ stalled: true });
  await tick();
  // A flood of warnings and connection trouble: counted, not queued without end.
  for (let i = 0; i < 3_000; i++) {
    void repl.onEvent({ event: "warning", code: "too_many_requests", message: `flood ${i}` });
    void repl.onEvent({ event: "connection", name: "bob", state: "failed", error: `e${i}` });
  }
  await tick();
  assert(repl.screen.pendingLines <= MAX_PENDING_NOTICES + 1, `${repl.screen.pendingLines}`);
  assert(term.heldWrites <= 1, `${term.heldWrites} writes waiting`);
  // Messages: queued up to the bound, then refused (not shown: the core does not acknowledge).
  const text = "m".repeat(512 * 1024);
  const outcomes: Promise<"shown" | "refused">[] = [];
  for (let i = 0; i < 16; i++) {
    const shown = repl.onEvent({ event: "message", name: "bob", id: `id${i}`, text, at: 0 });
    outcomes.push(Promise.resolve(shown).then(() => "shown" as const, () => "refused" as const));
  }
  // A copy of a message waiting to be shown is the same wait, not a second line.
  const again = repl.onEvent({ event: "message", name: "bob", id: "id0", text, at: 0 });
  assert(repl.screen.pendingUnits <= MAX_PENDING_UNITS + text.length, "bounded text");
  term.release();
  const results = await Promise.all(outcomes);
  await again;
  const shown = results.filter((r) => r === "shown").length;
  assert(shown >= 4 && shown < 16, `${shown} shown`);
  await repl.screen.flushed();
  await tick();
  const screen = term.screen().join("\n");
  assertEquals(screen.split(text).length - 1, shown, "each shown message once, whole");
  assert(
    /\d+ notices were not shown: the terminal was not keeping up/.test(screen),
    screen.slice(-500),
  );
  assert(repl.screen.droppedTotal > 4_000, `${repl.screen.droppedTotal} dropped`);
  // A refused message, re-sent later, is shown.
  await repl.onEvent({ event: "message", name: "bob", id: "id15", text: "again", at: 0 });
  await repl.screen.flushed();
  assert(term.screen().join("\n").includes("bob [verified]: again"));
});

Deno.test("REPL over a real core: a stalled terminal holds messages back; once it drains, each is shown once and delivered", async () => {
  const net = new TestNet("ui-stalled");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    const term = new MemoryTerminal({ stalled: true });
    const repl = new Repl({ terminal: term });
    await bob.open({ shown: (e) => Promise.resolve(repl.onEvent(e)) });
    const a = alice.mark();
    const texts = ["one", "two", "three", "four", "five"].map((t) => `message ${t}`);
    for (const t of texts) await alice.peer.sendMessage("bob", t);
    for (const t of texts) await bob.waitFor((e) => e.event === "message" && e.text === t);
    assertEquals(alice.all("delivered", a).length, 0, "acknowledged before it was shown");
    term.release();
    await alice.until(() => alice.all("delivered", a).length === texts.length);
    await repl.screen.flushed();
    const screen = term.screen().join("\n");
    for (const t of texts) assertEquals(screen.split(`alice: ${t}`).length - 1, 1, screen);
  } finally {
    await net.close();
  }
});

Deno.test("REPL over a real core: messages held back while the terminal did not read are all shown once it reads, and delivered", async () => {
  const net = new TestNet("ui-held");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    const term = new MemoryTerminal({ stalled: true });
    const repl = new Repl({ terminal: term });
    const b = bob.mark();
    await bob.open({ shown: (e) => Promise.resolve(repl.onEvent(e)) });
    const a = alice.mark();
    // more messages than bob keeps waiting to be shown: the last ones are held back
    const text = (i: number) => `message number ${i}.`;
    const count = MAX_INBOX_MESSAGES + 4;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await alice.peer.sendMessage("bob", text(i))).id);
    await bob.waitFor((e) => e.event === "warning" && e.code === "inbox_full", b);
    await new Promise((r) => setTimeout(r, QUIET_MS)); // the rest is held back too
    term.release();
    for (const id of ids) await alice.waitFor((e) => e.event === "delivered" && e.id === id, a);
    await repl.screen.flushed();
    const screen = term.screen().join("\n");
    for (let i = 0; i < count; i++) {
      assertEquals(screen.split(text(i)).length - 1, 1, `message ${i} shown once`);
    }
    const at = ids.map((_, i) => screen.indexOf(text(i)));
    assertEquals(at, [...at].sort((x, y) => x - y), "shown in order");
  } finally {
    await net.close();
  }
});

Deno.test("REPL: delivery notices name the message, and a flush is one line with a count", async () => {
  const { term, peer, repl, done } = setup();
  term.type("/msg bob hello there, this is a longer message\r");
  await term.waitFor("me → bob [verified]");
  await repl.onEvent(delivered("bob", "m1"));
  assert(
    term.screen().includes("-- 00:00 delivered to bob [verified]: “hello there, this is a…”"),
    term.screen().join("\n"),
  );
  // bob goes offline: messages say they are queued, for whom.
  peer.convs[0]!.online = false;
  for (const t of ["one", "two", "three", "four", "five"]) {
    term.type(`/msg bob ${t}\r`);
    await term.waitFor(`me → bob [verified]: ${t}`);
    await term.waitFor("queued for bob (offline)");
  }
  // bob is back: the five deliveries in a row are one line.
  peer.convs[0]!.online = true;
  await repl.onEvent({ event: "presence", name: "bob", online: true });
  for (let i = 2; i <= 6; i++) await repl.onEvent(delivered("bob", `m${i}`));
  const rows = term.screen();
  assertEquals(rows.filter((r) => r.includes("delivered")).length, 2, rows.join("\n"));
  assert(
    rows.includes("-- 00:00 delivered 5 messages to bob [verified]: “one” … “five”"),
    rows.join("\n"),
  );
  // One more, of a message the REPL does not know: the count grows, in place.
  await repl.onEvent(delivered("bob", "unknown-id"));
  assert(term.screen().includes("-- 00:00 delivered 6 messages to bob [verified]: “one” …"));
  assertEquals(term.screen().filter((r) => r.includes("delivered")).length, 2);
  // After a resize the line may have wrapped: a new line rather than a rewrite.
  term.resize(100);
  await repl.onEvent(delivered("bob", "after-resize"));
  assertEquals(term.screen().filter((r) => r.includes("delivered")).length, 3);
  // Something else printed in between starts a new line too.
  await repl.onEvent({ event: "presence", name: "bob", online: false });
  await repl.onEvent(delivered("bob", "other"));
  assertEquals(term.screen().filter((r) => r.includes("delivered")).length, 4);
  // A core that names the message itself (one queued in an earlier session).
  await repl.onEvent({ event: "presence", name: "bob", online: true });
  const named = { event: "delivered", name: "bob", id: "old", excerpt: "from yesterday" };
  await repl.onEvent(named as PeerEvent);
  assert(term.screen().includes("-- 00:00 delivered to bob [verified]: “from yesterday”"));
  // A core that says whether a message waits, whatever the list shows.
  peer.queued = true;
  term.type("/msg bob are you there\r");
  await term.waitFor("queued for bob (offline)");
  peer.queued = false;
  peer.convs[0]!.online = false;
  term.type("/msg bob sent at once\r");
  await term.waitFor("me → bob [verified]: sent at once");
  await repl.screen.flushed();
  assertEquals(term.screen().filter((r) => r.startsWith("-- queued for bob")).length, 6);
  term.type("/quit\r");
  await done;
});

Deno.test("REPL: transport warnings are counted quietly and listed by /warnings; others show", async () => {
  const { term, repl, done } = setup();
  for (let i = 0; i < 3; i++) {
    await repl.onEvent({
      event: "warning",
      code: "unknown_packet",
      message: `Dropped a packet on in#${i} 127.0.0.1:5602${i}: it matches no conversation`,
    });
  }
  await repl.onEvent({ event: "warning", code: "idle_timeout", message: "in#7 closed" });
  // An aggregated warning of the core stands for many, by reason.
  const aggregated = {
    event: "warning",
    code: "packets_dropped",
    message: "Dropped 57 packets from 3 connections",
    count: 57,
    reasons: { unknown_packet: 50, decrypt_failed: 7 },
  } as PeerEvent;
  await repl.onEvent(aggregated);
  await repl.onEvent({ event: "warning", code: "too_many_requests", message: "Dropped a request" });
  const rows = term.screen();
  assert(!rows.some((r) => r.includes("in#")), rows.join("\n"));
  assertEquals(rows.filter((r) => r.includes("counted quietly")).length, 1);
  assert(rows.includes("warning: Dropped a request"), rows.join("\n"));
  term.type("/warnings\r");
  await term.waitFor("unknown_packet");
  const list = term.screen().join("\n");
  assert(/ 3 {2}unknown_packet {2}last 00:00: Dropped a packet on in#2/.test(list), list);
  assert(/ 1 {2}idle_timeout/.test(list), list);
  assert(/57 {2}packets_dropped \(unknown_packet 50, decrypt_failed 7\) {2}last/.test(list), list);
  term.type("/quit\r");
  await done;
  // The JSON interface has every warning as an event: no such command there.
  const json = await handleLine('{"id":1,"cmd":"warnings"}', new FakePeer());
  assertEquals((json.line["error"] as { code: string }).code, "not_here");
});

Deno.test("interactive: console output of any module never prints beside the prompt", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { term, exit } = await interactivePeer("alice", `${root}/a`, `${root}/registry`);
    console.warn("[net] in#2 127.0.0.1:56020: closed (idle_timeout): no frame");
    term.type("/warnings\r");
    await term.waitFor("console");
    term.type("/quit\r");
    assertEquals(await exit, 0);
    const screen = term.screen();
    assert(!screen.some((r) => r.startsWith("[net]")), screen.join("\n"));
    assert(
      screen.some((r) => /1 {2}console {2}last \d\d:\d\d: \[net\] in#2/.test(r)),
      screen.join("\n"),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("REPL: errors name commands with their slash; JSON keeps the bare name", async () => {
  const { term, peer, done } = setup();
  term.type("/delete nobody\r");
  await term.waitFor('No conversation is named "nobody": list them with /convs');
  assert(!term.output.includes("cannot be undone"), "asked before saying no such conversation");
  term.type("/delete bobb\r");
  await term.waitFor("did you mean bob?");
  assertEquals(peer.calls, [], "nothing deleted, nothing asked");
  term.type("/quit\r");
  await done;
  const json = await handleLine('{"id":1,"cmd":"delete","args":["nobody"]}', new FakePeer());
  assertEquals(json.line["error"], {
    code: "unknown_peer",
    message: 'No conversation is named "nobody": list them with convs',
    command: "convs",
  });
});

Deno.test("REPL: /convs and /reqs-in show each address whole, ready to copy", async () => {
  const { term, peer, done } = setup({ columns: 60 });
  term.type("/convs\r");
  await term.waitFor("└");
  assert(term.screen().includes(peer.convs[0]!.address), term.screen().join("\n"));
  assert(!term.output.includes("…"), "nothing cut");
  term.type("/reqs-in\r");
  await term.waitFor("eve@e.onion:1 E=");
  term.type("/quit\r");
  await done;
});

Deno.test("resultText(): /auth says when the core is still connecting to the contact", () => {
  const ctx = { style: { color: false }, levelOf: () => undefined, args: [], now: 0 };
  const started = resultText("auth", { name: "bob", status: "started" }, ctx);
  assertEquals(started, "-- Authentication with bob started; waiting for them");
  const connecting = resultText("auth", { name: "bob", status: "started", connecting: true }, ctx);
  assertEquals(connecting, "-- Authentication with bob started; connecting to them…");
});

Deno.test("REPL: help and usage say the /auth secret may be left out (it is asked)", async () => {
  const { term, done } = setup();
  term.type("/help auth\r");
  await term.waitFor("/auth <name> [secret...]");
  term.type("/auth\r");
  await term.waitFor("usage: /auth <name> [secret...]");
  term.type("/quit\r");
  await done;
});

Deno.test("Screen: a keyed line printed again while the first is still being written replaces it", async () => {
  const term = new MemoryTerminal({ stalled: true });
  const screen = new Screen(term, { color: false }, () => "alice> ");
  const first = screen.print("-- delivered 2 messages to bob", "event", "delivered:bob");
  await tick(); // taken by the screen: being written, held by the terminal
  assertEquals(term.heldWrites, 1);
  const second = screen.print("-- delivered 4 messages to bob", "event", "delivered:bob");
  term.release();
  await first;
  // one more before the replacement is written: it replaces that one in the queue
  const third = screen.print("-- delivered 5 messages to bob", "event", "delivered:bob");
  await Promise.all([second, third]);
  const rows = term.screen().filter((r) => r.includes("delivered"));
  assertEquals(rows, ["-- delivered 5 messages to bob"], term.screen().join("\n"));
});
