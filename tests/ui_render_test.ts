/**
 * Unit tests of the REPL's pure parts: level colours and words, event lines,
 * tables, the progress bar, command-line parsing, completion, key decoding,
 * the line editor and the history's privacy rules.
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { COMMANDS, UnknownCommandError, UsageError } from "../lib/ui/commands.ts";
import { commonPrefix, complete } from "../lib/ui/completion.ts";
import { diskEntry, loadHistory, saveHistory, sessionEntry } from "../lib/ui/history.ts";
import { type Key, KeyDecoder } from "../lib/ui/keys.ts";
import { LineEditor, MAX_HISTORY } from "../lib/ui/line_editor.ts";
import { parseLine } from "../lib/ui/line_parse.ts";
import { progressLine } from "../lib/ui/progress.ts";
import { eventLine, peerName, sanitize, stripAnsi } from "../lib/ui/render.ts";
import { errorText, helpText } from "../lib/ui/results.ts";
import { conversationsTable, requestsTable } from "../lib/ui/table.ts";
import { colorWanted } from "../lib/ui/terminal.ts";
import type { ConversationInfo } from "../lib/peer/types.ts";

const COLOR = { color: true };
const PLAIN = { color: false };
const ESC = "\x1b";

Deno.test("peerName() colours each level as unMessage 0.1 does: red, green, cyan", () => {
  assertEquals(peerName(COLOR, "bob", "unverified"), `${ESC}[1m${ESC}[31mbob${ESC}[39m${ESC}[22m`);
  assertEquals(peerName(COLOR, "bob", "verified"), `${ESC}[1m${ESC}[32mbob${ESC}[39m${ESC}[22m`);
  assertEquals(
    peerName(COLOR, "bob", "authenticated"),
    `${ESC}[1m${ESC}[36mbob${ESC}[39m${ESC}[22m`,
  );
});

Deno.test("peerName() writes the level as a word without colours", () => {
  assertEquals(peerName(PLAIN, "bob", "unverified"), "bob [unverified]");
  assertEquals(peerName(PLAIN, "bob", "verified"), "bob [verified]");
  assertEquals(peerName(PLAIN, "bob", "authenticated"), "bob [authenticated]");
  assertEquals(peerName(PLAIN, "carol", undefined), "carol");
});

Deno.test("colorWanted() is off with NO_COLOR set or without a terminal", () => {
  assertEquals(colorWanted(true, undefined), true);
  assertEquals(colorWanted(true, ""), true);
  assertEquals(colorWanted(true, "1"), false);
  assertEquals(colorWanted(false, undefined), false);
});

Deno.test("eventLine() colours the sender of a message and neutralises control characters", () => {
  const levelOf = () => "verified" as const;
  const e = { event: "message", name: "bob", id: "1", text: "hi\x1b[2J", at: 0 } as const;
  const colored = eventLine(COLOR, levelOf, e, 0)!;
  assert(colored.includes(`${ESC}[32mbob`), colored);
  assert(!colored.includes(`${ESC}[2J`), "the peer's escape sequence is not passed through");
  assertEquals(
    stripAnsi(eventLine(PLAIN, levelOf, e, 0)!).endsWith("bob [verified]: hi\uFFFD[2J"),
    true,
  );
});

Deno.test("eventLine() has a line for every event but bootstrap and ready", () => {
  const levelOf = () => undefined;
  const events = [
    {
      event: "request-received",
      request: { name: "b", direction: "in", address: "b@x.onion:1", key: "k", at: 0 },
    },
    { event: "request-accepted", name: "b" },
    { event: "conversation-established", name: "b" },
    { event: "delivered", name: "b", id: "1", excerpt: "hi", queuedAt: 0 },
    { event: "presence", name: "b", online: true },
    { event: "level", name: "b", level: "verified" },
    { event: "auth", name: "b", status: "nomatch", reason: "r" },
    { event: "connection", name: "b", state: "failed", attempt: 2, error: "e" },
    { event: "connection", name: "b", state: "disconnected", error: "write_timeout" },
    { event: "tor", state: "exited", message: "m" },
    { event: "warning", code: "w", message: "m" },
    { event: "error", code: "e", message: "m" },
  ] as const;
  for (const e of events) assert(eventLine(PLAIN, levelOf, e, 0)!.length > 0, e.event);
  assertEquals(
    eventLine(PLAIN, levelOf, { event: "bootstrap", progress: 5, summary: "s" }, 0),
    undefined,
  );
  assert(eventLine(PLAIN, levelOf, events[6], 0)!.includes("FAILED"));
});

Deno.test("sanitize() replaces C0 and C1 control characters but keeps text", () => {
  assertEquals(sanitize("a\x07b\x9bc\tdé\n"), "a\uFFFDb\uFFFDc dé\uFFFD");
});

function conv(name: string, level: ConversationInfo["level"]): ConversationInfo {
  return {
    name,
    address: `${name}@${"a".repeat(56)}.onion:50001`,
    key: "K".repeat(43) + "=",
    level,
    presence: false,
    online: true,
    established: true,
    pending: 0,
  };
}

Deno.test("conversationsTable() lists each conversation with its level colour or word", () => {
  const convs = [
    conv("bob", "unverified"),
    conv("carol", "verified"),
    conv("dave", "authenticated"),
  ];
  const plain = conversationsTable(PLAIN, convs);
  assert(plain.includes("bob [unverified]") && plain.includes("dave [authenticated]"), plain);
  assert(!plain.includes(ESC), "no escape codes without colours");
  const colored = conversationsTable(COLOR, convs);
  assert(colored.includes(`${ESC}[31mbob`) && colored.includes(`${ESC}[32mcarol`));
  assert(colored.includes(`${ESC}[36mdave`));
  // cli-table3 measures without escape codes: every row has the same visible width.
  const rows = stripAnsi(colored).split("\n").filter((l) => /^[│┌├└]/.test(l));
  assertEquals(new Set(rows.map((l) => l.length)).size, 1);
  // Each address follows the table whole, on a line of its own, ready to copy.
  const lines = plain.split("\n");
  for (const c of convs) assert(lines.includes(c.address), `${c.address} in\n${plain}`);
  assertEquals(conversationsTable(PLAIN, []).startsWith("No conversations"), true);
});

Deno.test("requestsTable() lists requests and says when there are none", () => {
  const r = { name: "eve", direction: "in" as const, address: "eve@x.onion:1", key: "KEY=", at: 0 };
  assert(requestsTable(PLAIN, "in", [r]).split("\n").includes("eve@x.onion:1 KEY="));
  assertEquals(requestsTable(PLAIN, "out", []), "No outbound requests");
});

Deno.test("progressLine() draws a clamped bar with the phase and fits the width", () => {
  assertEquals(
    progressLine(PLAIN, 50, "Loading relay descriptors", 80),
    `Tor [${"#".repeat(12)}${"-".repeat(12)}]  50% Loading relay descriptors`,
  );
  assert(progressLine(PLAIN, 250, "x", 80).includes("100%"));
  assert(progressLine(PLAIN, -3, "x", 80).includes("  0%"));
  assert(progressLine(PLAIN, NaN, "x", 80).includes("  0%"));
  assert(stripAnsi(progressLine(COLOR, 10, "y".repeat(500), 60)).length <= 60);
});

Deno.test("parseLine() splits words, keeps a message's spacing and honours quotes", () => {
  const p = parseLine("/msg bob hello   there  ");
  assert(p.kind === "command");
  assertEquals([p.command.name, p.args], ["msg", ["bob", "hello   there"]]);
  const q = parseLine(`/auth bob "two words"`);
  assert(q.kind === "command");
  assertEquals(q.args, ["bob", "two words"]);
  const r = parseLine(`/msg "bob" say "hi" now`);
  assert(r.kind === "command");
  assertEquals(r.args, ["bob", `say "hi" now`]);
  const s = parseLine(`/verify bob 'a b' extra`);
  assert(s.kind === "command");
  assertEquals(s.args, ["bob", "a b", "extra"]);
  const t = parseLine(`/msg bob "esc \\" q"`);
  assert(t.kind === "command");
  assertEquals(t.args, ["bob", `esc " q`]);
  assertEquals(parseLine("   "), { kind: "empty" });
  assertEquals(parseLine("hello"), { kind: "text", text: "hello" });
});

Deno.test("parseLine() rejects unknown commands with a suggestion and unclosed quotes", () => {
  const e = assertThrows(() => parseLine("/mgs bob hi"), UnknownCommandError);
  assertEquals((e as UnknownCommandError).suggestion, "msg");
  assertThrows(() => parseLine(`/verify "bob`), UsageError, "quote");
});

Deno.test("errorText() shows the usage line with a slash and a did-you-mean", () => {
  const usage = new UsageError(
    "Wrong arguments for msg: <text> is missing; usage: msg <name> <text...>",
    "msg <name> <text...>",
  );
  assertEquals(
    errorText(PLAIN, usage),
    "error: Wrong arguments for /msg: <text> is missing\nusage: /msg <name> <text...>",
  );
  const unknown = new UnknownCommandError("/convz", "convs");
  assertEquals(
    errorText(PLAIN, unknown),
    "error: Unknown command /convz: did you mean /convs? (/help lists the commands)",
  );
});

Deno.test("helpText() lists the usage of every command", () => {
  const text = helpText(PLAIN);
  for (const c of COMMANDS) assert(text.includes(`/${c.usage}`), c.name);
});

Deno.test("complete() completes commands, then names, and lists ambiguities", () => {
  const names = { conversations: ["bob", "bobby", "carol"], inbound: ["eve"] };
  assertEquals(complete("/co", 3, names), { line: "/convs ", cursor: 7, candidates: [] });
  const pres = complete("/pres", 5, names);
  assertEquals([pres.line, pres.candidates], ["/pres-o", ["/pres-off", "/pres-on"]]);
  assertEquals(complete("/msg c", 6, names).line, "/msg carol ");
  assertEquals(complete("/msg b", 6, names), {
    line: "/msg bob",
    cursor: 8,
    candidates: ["bob", "bobby"],
  });
  assertEquals(complete("/req-accept ", 12, names).line, "/req-accept eve ");
  assertEquals(complete("/peer x", 7, names).candidates, []);
  assertEquals(complete("/msg bob hel", 12, names).line, "/msg bob hel");
  assertEquals(commonPrefix(["abc", "abd"]), "ab");
});

Deno.test("complete() treats Object's own property names as unknown commands", () => {
  const names = { conversations: ["bob"], inbound: [] };
  for (const word of ["constructor", "__proto__", "toString", "valueOf"]) {
    const line = `/${word} b`;
    assertEquals(complete(line, line.length, names), { line, cursor: line.length, candidates: [] });
  }
});

function keys(...chunks: string[]): Key[] {
  const d = new KeyDecoder();
  return chunks.flatMap((c) => d.push(new TextEncoder().encode(c)));
}

Deno.test("KeyDecoder decodes text, control keys and escape sequences split across chunks", () => {
  assertEquals(keys("hé\r"), [{ kind: "text", text: "hé" }, { kind: "enter" }]);
  assertEquals(keys("\x1b[", "A\x1b[3~\t\x03"), [
    { kind: "up" },
    { kind: "delete" },
    { kind: "tab" },
    { kind: "interrupt" },
  ]);
  assertEquals(keys("\x1b[99Zx"), [{ kind: "text", text: "x" }]);
  // A UTF-8 character split between chunks.
  const d = new KeyDecoder();
  const bytes = new TextEncoder().encode("é");
  assertEquals([...d.push(bytes.subarray(0, 1)), ...d.push(bytes.subarray(1))], [{
    kind: "text",
    text: "é",
  }]);
});

Deno.test("KeyDecoder never yields control characters as text", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const k of new KeyDecoder().push(bytes)) {
        // deno-lint-ignore no-control-regex
        if (k.kind === "text") assert(!/[\x00-\x1f\x7f-\x9f]/.test(k.text));
      }
    }),
    { seed: 5, numRuns: 500 },
  );
});

Deno.test("LineEditor edits in the middle, recalls history and keeps the draft", () => {
  const ed = new LineEditor(["/convs", "/peer"]);
  for (const k of keys("helo", "\x1b[D", "l")) ed.handle(k);
  assertEquals([ed.line, ed.cursor], ["hello", 4]);
  ed.handle({ kind: "up" });
  assertEquals(ed.line, "/peer");
  ed.handle({ kind: "up" });
  ed.handle({ kind: "up" });
  assertEquals(ed.line, "/convs");
  ed.handle({ kind: "down" });
  ed.handle({ kind: "down" });
  assertEquals(ed.line, "hello");
  for (const k of keys(" world\x17")) ed.handle(k);
  assertEquals(ed.line, "hello ");
  assertEquals(ed.handle({ kind: "enter" }), { kind: "submit", line: "hello " });
  assertEquals(ed.handle({ kind: "eof" }), { kind: "eof" });
});

Deno.test("LineEditor draws nothing of a hidden line and scrolls long lines", () => {
  const ed = new LineEditor();
  ed.hidden = true;
  ed.handle({ kind: "text", text: "s3cret" });
  assertEquals(ed.render("Secret: ", 8, 80), "\r\x1b[KSecret: ");
  ed.hidden = false;
  ed.set("x".repeat(200));
  const row = ed.render("> ", 2, 40);
  // The prompt, then as much of the line as fits with the cursor's cell.
  assertEquals(stripAnsi(row).replace("\r", "").length, 2 + 36);
  const bounded = new LineEditor();
  for (let i = 0; i < MAX_HISTORY + 10; i++) bounded.remember(`/m ${i}`);
  assertEquals(bounded.history.length, MAX_HISTORY);
});

Deno.test("history never keeps an /auth secret, and keeps no message text on disk", () => {
  assertEquals(sessionEntry("/auth bob my secret"), "/auth bob ");
  assertEquals(sessionEntry("/msg bob hi"), "/msg bob hi");
  assertEquals(diskEntry("/msg bob hello there"), "/msg bob ");
  assertEquals(diskEntry("/AUTH bob x"), "/AUTH bob ");
  assertEquals(diskEntry("/convs"), "/convs");
  assertEquals(diskEntry("  /req-accept bob  bobby "), "/req-accept bob bobby");
  assertEquals(diskEntry("/help msg"), "/help msg");
  // Typos of /msg and /auth, and lines that are no command, never reach the disk.
  assertEquals(diskEntry("/mgs bob hello there"), undefined);
  assertEquals(diskEntry("/auht bob my secret"), undefined);
  assertEquals(diskEntry("hello there"), undefined);
  // More words than the command takes, or an unclosed quote: not written.
  assertEquals(diskEntry("/delete bob my secret words"), undefined);
  assertEquals(diskEntry('/delete "bob'), undefined);
  // A quoted name argument with spaces is cut like any non-name.
  assertEquals(diskEntry('/delete "two words"'), "/delete ");
});

/** An address and key as a contact would paste them (what the history must never keep). */
const PASTED_ADDRESS = `bob@${"q".repeat(56)}.onion:50001`;
const PASTED_KEY = "LrI9vyyxHBWrNlhpuTzlboNMQKxEIMSwSxhWOQdSIS8=";

Deno.test("history on disk drops the address and key of /req-send and the key of /verify (issue 8 item 7)", async () => {
  assertEquals(diskEntry(`/req-send ${PASTED_ADDRESS} ${PASTED_KEY}`), "/req-send ");
  assertEquals(diskEntry(`/verify bob ${PASTED_KEY}`), "/verify bob ");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/profile.json`, JSON.stringify({ version: 1 }));
    const path = `${dir}/repl_history`;
    const typed = [
      "/convs",
      `/req-send ${PASTED_ADDRESS} ${PASTED_KEY}`,
      "/msg bob private words",
      "/msg bob other",
      `/verify bob ${PASTED_KEY}`,
      "/peer",
    ];
    await saveHistory(path, typed, (w) => w === "bob");
    const text = await Deno.readTextFile(path);
    for (const secret of ["private", "qqqq", PASTED_KEY, "@"]) {
      assert(!text.includes(secret), `${secret} leaked: ${text}`);
    }
    assertEquals(text, "/convs\n/req-send \n/msg bob \n/verify bob \n/peer\n");
    assertEquals(await loadHistory(path), [
      "/convs",
      "/req-send ",
      "/msg bob ",
      "/verify bob ",
      "/peer",
    ]);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    // an old file with whole lines is cleaned on load
    await Deno.writeTextFile(path, `/req-send ${PASTED_ADDRESS} ${PASTED_KEY}\n/convs\n`);
    assertEquals(await loadHistory(path), ["/req-send ", "/convs"]);
    assertEquals(await loadHistory(`${dir}/missing`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("history on disk keeps a word in a name's place only if it is a name in use", async () => {
  const names = new Set(["bob", "bobby"]);
  const isName = (w: string) => names.has(w);
  // a secret or a message typed where the name goes, as the typos of a hurried user
  assertEquals(diskEntry("/auth hunter2-secret", isName), "/auth ");
  assertEquals(diskEntry("/msg meet-me-at-noon", isName), "/msg ");
  assertEquals(diskEntry("/pres-on correct-horse", isName), "/pres-on ");
  assertEquals(diskEntry("/req-accept bob correct-horse", isName), "/req-accept bob ");
  assertEquals(diskEntry("/help correct-horse", isName), "/help ");
  assertEquals(diskEntry("/req-reject correct-horse", isName), "/req-reject ");
  // names, commands and the bulk words stay
  assertEquals(diskEntry("/msg bob hello", isName), "/msg bob ");
  assertEquals(diskEntry("/req-accept bob bobby", isName), "/req-accept bob bobby");
  assertEquals(diskEntry("/help msg", isName), "/help msg");
  assertEquals(diskEntry("/req-reject --flood", isName), "/req-reject --flood");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/profile.json`, JSON.stringify({ version: 1 }));
    const path = `${dir}/repl_history`;
    await saveHistory(path, ["/auth hunter2-secret", "/msg bob hi", "/delete carol"], isName);
    const text = await Deno.readTextFile(path);
    assert(!text.includes("hunter2") && !text.includes("carol"), text);
    assertEquals(text, "/auth \n/msg bob \n/delete \n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("history of a passphrase-encrypted peer stays in memory: no file, a leftover removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const envelope = { "unmessage-vault": 1, kdf: {}, nonce: "", ciphertext: "" };
    await Deno.writeTextFile(`${dir}/profile.json`, JSON.stringify(envelope));
    const path = `${dir}/repl_history`;
    await Deno.writeTextFile(path, "/convs\n/delete bob\n"); // left by an older version
    assertEquals(await loadHistory(path), []);
    await saveHistory(path, ["/convs", "/msg bob hi", `/verify bob ${PASTED_KEY}`], () => true);
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
    // no readable profile (missing or damaged): fail closed, nothing written
    await Deno.remove(`${dir}/profile.json`);
    await saveHistory(path, ["/convs"], () => true);
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
    await Deno.writeTextFile(`${dir}/profile.json`, "{ not json");
    await saveHistory(path, ["/convs"], () => true);
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eventLine() keeps routine connection progress quiet and shows trouble", () => {
  const levelOf = () => undefined;
  const quiet = [
    { event: "connection", name: "b", state: "connecting", attempt: 1 },
    { event: "connection", name: "b", state: "connected", attempt: 1 },
    { event: "connection", name: "b", state: "disconnected", error: "local" },
  ] as const;
  for (const e of quiet) assertEquals(eventLine(PLAIN, levelOf, e, 0), undefined);
  const retry = { event: "connection", name: "b", state: "connecting", attempt: 3 } as const;
  assertEquals(eventLine(PLAIN, levelOf, retry, 0), "-- Connection to b: connecting (attempt 3)");
});
