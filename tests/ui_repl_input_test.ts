/**
 * What the REPL makes of what is typed and pasted, over an in-memory
 * terminal: a long paste is sent whole or refused whole, a multi-line paste
 * is one message, Backspace and the cursor work on what a person sees as
 * one character and on display columns, and an empty Enter stays quiet.
 * The same through the real terminal is in `e2e/repl_input_test.ts`.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { setup } from "./_repl_fake.ts";
import { type Key, KeyDecoder } from "../lib/ui/keys.ts";
import { LineEditor, MAX_LINE_LENGTH, MAX_RECALLED_LENGTH } from "../lib/ui/line_editor.ts";
import { stripAnsi } from "../lib/ui/render.ts";
import { handleLine, LineWriter, runJsonInterface } from "../lib/ui/json.ts";
import { MAX_TEXT_BYTES } from "../lib/peer/records.ts";
import { FakePeer } from "./_repl_fake.ts";

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

/** Numbered words: a cut, a drop or a reordering shows. */
function longText(chars: number): string {
  let text = "";
  for (let i = 0; text.length < chars; i++) text += `w${i} `;
  return text.slice(0, chars).trimEnd() + ".";
}

function keys(...chunks: string[]): Key[] {
  const d = new KeyDecoder();
  return chunks.flatMap((c) => d.push(new TextEncoder().encode(c)));
}

Deno.test("REPL: a 100 KB paste is sent whole as one message", async () => {
  const { term, peer, repl, done } = setup();
  const text = longText(102_403);
  term.type(`/msg bob ${PASTE_START}`);
  // The terminal sends a long paste in chunks; the markers may split too.
  for (let i = 0; i < text.length; i += 4096) term.type(text.slice(i, i + 4096));
  term.type(`${PASTE_END.slice(0, 3)}`);
  term.type(`${PASTE_END.slice(3)}\r`);
  await term.waitFor("me → bob [verified]");
  assertEquals(peer.sent.length, 1);
  assertEquals(peer.sent[0]!.text.length, text.length);
  assertEquals(peer.sent[0]!.text, text);
  // Sent, not kept for Up: a session of long pastes must not fill memory.
  assert(!repl.history.some((l) => l.length > MAX_RECALLED_LENGTH), "a 100 KB line recalled");
  term.type("/quit\r");
  await done;
});

Deno.test("REPL: a paste longer than a line can hold is refused whole, with a clear error", async () => {
  const { term, peer, done } = setup();
  term.type("/msg bob before ");
  term.type(PASTE_START);
  const chunk = "x".repeat(64 * 1024);
  for (let n = 0; n <= MAX_LINE_LENGTH; n += chunk.length) term.type(chunk);
  term.type(`${PASTE_END}`);
  await term.waitFor("That text was not inserted");
  await term.waitFor("send it in parts");
  // The line is as it was: Enter sends what was typed before the paste.
  term.type("after\r");
  await term.waitFor("me → bob [verified]: before after");
  assertEquals(peer.sent.map((m) => m.text), ["before after"]);
  term.type("/quit\r");
  await done;
});

Deno.test("REPL: a pasted paragraph is one message; typed Enter sends, Alt-Enter breaks the line", async () => {
  const { term, peer, done } = setup();
  // tmux and most terminals send a pasted line break as CR.
  term.type(`/msg bob ${PASTE_START}first line\rsecond line\r\nthird line\r${PASTE_END}`);
  await term.waitFor("alice> /msg bob first line↵second line↵third line");
  term.type("\r");
  await term.waitFor("me → bob [verified]: first line");
  term.type("/msg bob one\x1b\rtwo\r");
  await term.waitFor("me → bob [verified]: one");
  assertEquals(peer.sent.map((m) => m.text), [
    "first line\nsecond line\nthird line",
    "one\ntwo",
  ]);
  // No line of the paste ran on its own.
  assert(!term.output.includes("Commands start with /"), "a pasted line ran as a command");
  term.type("/quit\r");
  await done;
});

Deno.test("REPL: Backspace removes a whole emoji with its skin tone, and a whole flag", async () => {
  const { term, peer, done } = setup();
  term.type("/msg bob ok👍🏽");
  term.type("\x7f");
  term.type("🇫🇷\x7f!\r");
  await term.waitFor("me → bob [verified]: ok!");
  // An accent typed after its letter joins it: one Backspace removes both.
  term.type("/msg bob cafe\u0301\x7f\u00e9\r");
  await term.waitFor("me → bob [verified]: caf");
  assertEquals(peer.sent.map((m) => m.text), ["ok!", "café"]);
  term.type("/quit\r");
  await done;
});

Deno.test("LineEditor: the cursor moves by clusters and is drawn in display columns", () => {
  const ed = new LineEditor();
  for (const k of keys("你好世界", "\x1b[D", "\x1b[D")) ed.handle(k);
  // Two wide characters after the cursor: four columns back.
  assertEquals(ed.render("> ", 2, 80), "\r\x1b[K> 你好世界\x1b[4D");
  ed.handle({ kind: "text", text: "X" });
  assertEquals(ed.line, "你好X世界");
  assertEquals(ed.cursor, 3);
  ed.set("👍🏽a", 0);
  ed.handle({ kind: "right" });
  assertEquals(ed.cursor, "👍🏽".length, "one Right passes the whole emoji");
  ed.handle({ kind: "delete" });
  assertEquals(ed.line, "👍🏽");
});

Deno.test("LineEditor: a long wide line scrolls in columns and keeps the cursor's cell", () => {
  const ed = new LineEditor();
  ed.set("你".repeat(100));
  const row = stripAnsi(ed.render("> ", 2, 40)).replace("\r", "");
  // room = 40 - 2 - 1 = 37 columns; the cursor's cell is one of them: 18 wide characters.
  assertEquals(row, `> ${"你".repeat(18)}`);
  ed.handle({ kind: "home" });
  // From the start, as much as fits (the cursor moved back over it: not text).
  const start = stripAnsi(ed.render("> ", 2, 40)).replace("\r", "");
  assertEquals(start, `> ${"你".repeat(18)}`);
});

Deno.test("REPL: Enter on an empty line shows the bare prompt, never (hidden)", async () => {
  const { term, done } = setup();
  term.type("\r   \r/convs\r");
  await term.waitFor("│ bob [verified]");
  assert(!term.output.includes("(hidden)"), stripAnsi(term.output));
  assert(stripAnsi(term.output).includes("alice>\r\n"), "the empty line's record");
  term.type("/quit\r");
  await done;
});

Deno.test("JSON: a 100 KB message is sent whole, one over the core's limit refused by its size", async () => {
  const peer = new FakePeer();
  const text = longText(102_403);
  const ok = await handleLine(JSON.stringify({ id: 1, cmd: "msg", args: ["bob", text] }), peer);
  assertEquals(ok.line["ok"], true, JSON.stringify(ok.line).slice(0, 300));
  assertEquals(peer.sent[0]!.text, text);
  // The registry lets through every text the core may take (the core counts bytes).
  const max = "x".repeat(MAX_TEXT_BYTES);
  const big = await handleLine(JSON.stringify({ id: 2, cmd: "msg", args: ["bob", max] }), peer);
  assertEquals(big.line["ok"], true);
  const over = await handleLine(
    JSON.stringify({ id: 3, cmd: "msg", args: ["bob", max + "x"] }),
    peer,
  );
  assertEquals((over.line["error"] as { code: string }).code, "usage");
});

Deno.test("JSON: a line holding the longest message, every character escaped, is read whole", async () => {
  const peer = new FakePeer();
  const text = "\x01".repeat(MAX_TEXT_BYTES); // 6 bytes each in JSON
  const line = JSON.stringify({ id: 1, cmd: "msg", args: ["bob", text] }) + "\n";
  const bytes = new TextEncoder().encode(line);
  const input = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 65536) c.enqueue(bytes.subarray(i, i + 65536));
      c.close();
    },
  });
  const out: string[] = [];
  const writer = new LineWriter((b) => Promise.resolve(out.push(new TextDecoder().decode(b))));
  await runJsonInterface({ input, writer, peer });
  assertEquals(JSON.parse(out[0]!).ok, true, out[0]!.slice(0, 200));
  assertEquals(peer.sent[0]!.text, text);
});
