/**
 * Benchmarks of the REPL's input path on long text: decoding a bracketed
 * paste of 100 KB and of 1 MiB (the longest message) into one key, the
 * line editor inserting it (grapheme segmentation included), a keystroke
 * typed at the end of a 1 MiB line (what each key costs once such a line
 * is there), drawing the row of that line, and the width of a line of CJK
 * and emoji. Run with `deno task bench`.
 *
 * @module
 */

import { KeyDecoder } from "../../lib/ui/keys.ts";
import { LineEditor } from "../../lib/ui/line_editor.ts";
import { textWidth } from "../../lib/ui/width.ts";

/** Numbered words, as a long pasted text. */
function text(chars: number): string {
  let out = "";
  for (let i = 0; out.length < chars; i++) out += `w${i} `;
  return out.slice(0, chars);
}

const encoder = new TextEncoder();
const PASTES = {
  "100 KB": encoder.encode(`\x1b[200~${text(100_000)}\x1b[201~`),
  "1 MiB": encoder.encode(`\x1b[200~${text(1024 * 1024 - 16)}\x1b[201~`),
};
/** Bytes per read, as a terminal delivers a long paste. */
const CHUNK = 4096;

for (const [size, bytes] of Object.entries(PASTES)) {
  Deno.bench(`paste ${size}: decode (4 KiB reads) and insert`, { group: `paste ${size}` }, () => {
    const decoder = new KeyDecoder();
    const editor = new LineEditor();
    for (let i = 0; i < bytes.length; i += CHUNK) {
      for (const key of decoder.push(bytes.subarray(i, i + CHUNK))) editor.handle(key);
    }
    if (editor.line.length < 100_000) throw new Error("the paste was not inserted");
  });
}

const long = new LineEditor();
long.set(text(1024 * 1024 - 16));

Deno.bench("1 MiB line: one key typed at its end, then Backspace", { group: "keys" }, () => {
  long.handle({ kind: "text", text: "x" });
  long.handle({ kind: "backspace" });
});

Deno.bench("1 MiB line: draw the row (120 columns)", { group: "keys" }, () => {
  long.render("alice> ", 7, 120);
});

const wide = "你好世界👍🏽👨‍👩‍👧e\u0301 ".repeat(1000);
Deno.bench("textWidth() of 12,000 mixed CJK, emoji and accents", () => {
  textWidth(wide);
});
