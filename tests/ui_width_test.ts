/**
 * Grapheme clusters and display widths (`lib/ui/width.ts`): known strings
 * (emoji with skin tones, ZWJ families, flags, keycaps, CJK, Hangul,
 * combining accents), properties over random text, and every assigned code
 * point against an independent table: Python's `unicodedata` (UAX #11), when
 * `python3` is installed.
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals } from "./_assert.ts";
import { clusterWidth, codePointWidth, fitWidth, graphemes, textWidth } from "../lib/ui/width.ts";

Deno.test("graphemes() keeps what a person sees as one character together", () => {
  assertEquals(graphemes("👍🏽"), ["👍🏽"]);
  assertEquals(graphemes("a👍🏽b"), ["a", "👍🏽", "b"]);
  assertEquals(graphemes("👨‍👩‍👧"), ["👨‍👩‍👧"]);
  assertEquals(graphemes("🇫🇷🇩🇪"), ["🇫🇷", "🇩🇪"]);
  assertEquals(graphemes("e\u0301x"), ["e\u0301", "x"]);
  assertEquals(graphemes("1\ufe0f\u20e3"), ["1\ufe0f\u20e3"]);
  assertEquals(graphemes("\u1112\u1161\u11ab"), ["\u1112\u1161\u11ab"]); // 한 as jamo
  assertEquals(graphemes("a\nb\t"), ["a", "\n", "b", "\t"]);
  assertEquals(graphemes(""), []);
});

Deno.test("clusterWidth() and textWidth() give the columns a terminal uses", () => {
  const cases: [string, number][] = [
    ["a", 1],
    ["é", 1],
    ["e\u0301", 1], // combining accent
    ["你", 2],
    ["ｶ", 1], // halfwidth katakana
    ["Ａ", 2], // fullwidth A
    ["한", 2],
    ["\u1112\u1161\u11ab", 2], // the same syllable as jamo
    ["👍", 2],
    ["👍🏽", 2],
    ["👨‍👩‍👧", 2],
    ["🇫🇷", 2],
    ["1\ufe0f\u20e3", 2], // keycap
    ["❤\ufe0f", 2], // text-default emoji made emoji-style
    ["❤", 1], // text-default emoji alone
    ["\u200b", 0], // zero-width space
    ["\u200d", 0],
    ["\u0301", 0], // a lone combining mark
    ["\u3000", 2], // ideographic space
    ["α", 1], // ambiguous width: narrow outside CJK locales
  ];
  for (const [text, width] of cases) {
    assertEquals(clusterWidth(text), width, `${JSON.stringify(text)}`);
  }
  assertEquals(textWidth("alice> 你好 👍🏽 e\u0301!"), 7 + 4 + 1 + 2 + 1 + 1 + 1);
  assertEquals(textWidth("plain ascii"), 11);
});

Deno.test("fitWidth() cuts at whole clusters and marks the cut", () => {
  assertEquals(fitWidth("hello", 5), "hello");
  assertEquals(fitWidth("hello world", 6), "hello…");
  assertEquals(fitWidth("你好世界", 5), "你好…"); // 4 + 1: the third character would not fit
  assertEquals(fitWidth("👍🏽👍🏽👍🏽", 4), "👍🏽…");
});

/** Text mixing the hard cases: ASCII, marks, CJK, emoji parts, joiners. */
const TRICKY = fc.array(
  fc.constantFrom(
    "a",
    " ",
    "\u0301",
    "你",
    "한",
    "\u1161",
    "👍",
    "\u{1f3fd}",
    "\u200d",
    "👩",
    "\ufe0f",
    "🇫",
    "🇷",
    "\n",
    "\u20e3",
  ),
  { maxLength: 30 },
).map((parts) => parts.join(""));

Deno.test("graphemes() and widths: properties over random text", () => {
  fc.assert(
    fc.property(TRICKY, (text) => {
      const clusters = graphemes(text);
      assertEquals(clusters.join(""), text);
      // A cluster never spreads over a letter: widths add up across copies.
      const unit = `a${text.replace(/\n/g, " ")}`;
      assertEquals(textWidth(unit.repeat(3)), 3 * textWidth(unit));
      for (const c of clusters) {
        const w = clusterWidth(c);
        assert(w >= 0 && w <= 2 * [...c].length, `${JSON.stringify(c)} ${w}`);
      }
    }),
  );
  fc.assert(
    fc.property(TRICKY, fc.integer({ min: 1, max: 20 }), (text, columns) => {
      const flat = text.replace(/\n/g, " ");
      const fitted = fitWidth(flat, columns);
      if (fitted === flat) return assert(textWidth(flat) <= columns);
      assert(textWidth(fitted) <= columns, `${JSON.stringify(fitted)} > ${columns}`);
      assert(flat.startsWith(fitted.slice(0, -1)), "a start of the text");
    }),
  );
});

const hasPython = await new Deno.Command("python3", {
  args: ["-c", "import unicodedata"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name: "codePointWidth() agrees with Python's unicodedata (UAX #11) on every assigned character",
  ignore: !hasPython,
  async fn() {
    // Categories drawn as their own cell: not marks, formats, controls,
    // surrogates, private use (ambiguous) or unassigned.
    const script = `
import unicodedata as u, sys
out = []
for cp in range(0x110000):
    cat = u.category(chr(cp))
    if cat[0] in "MC" or cat == "Zl" or cat == "Zp":
        continue
    out.append("%x%s" % (cp, "w" if u.east_asian_width(chr(cp)) in "WF" else "n"))
sys.stdout.write(" ".join(out))
`;
    const out = await new Deno.Command("python3", { args: ["-c", script], stdout: "piped" })
      .output();
    const mismatches: string[] = [];
    let checked = 0;
    for (const entry of new TextDecoder().decode(out.stdout).split(" ")) {
      const cp = parseInt(entry.slice(0, -1), 16);
      // Hangul vowel and final jamo join the syllable before them (zero
      // width here); a lone regional indicator is half a flag (2 here).
      if ((cp >= 0x1160 && cp <= 0x11ff) || (cp >= 0xd7b0 && cp <= 0xd7ff)) continue;
      if (cp >= 0x1f1e6 && cp <= 0x1f1ff) continue;
      const expected = entry.endsWith("w") ? 2 : 1;
      checked++;
      const got = codePointWidth(String.fromCodePoint(cp));
      if (got !== expected) mismatches.push(`U+${cp.toString(16)}: ${got}, expected ${expected}`);
    }
    assert(checked > 100_000, `only ${checked} code points checked`);
    assertEquals(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`);
  },
});
