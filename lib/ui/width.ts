/**
 * Text as a terminal shows it: grapheme clusters (what a person sees as one
 * character, `Intl.Segmenter`: `👍🏽`, `e` + a combining accent, a flag, a
 * family joined with ZWJ) and their width in columns. The rules of
 * {@linkcode clusterWidth}:
 *
 * - a cluster with an emoji-presentation character (or a `U+FE0F`
 *   emoji-style selector after an emoji) is one emoji: 2 columns, however
 *   many code points it joins (skin tones, ZWJ sequences, keycaps, flags);
 * - otherwise, the sum of its code points' widths: 2 for East Asian Wide
 *   and Fullwidth characters (UAX #11), 0 for combining marks, format
 *   characters (ZWJ, ZWSP, bidi marks) and Hangul vowel and final jamo
 *   (they join the syllable before them), 1 for the rest. Ambiguous-width
 *   characters count 1, as terminals outside CJK locales show them.
 *
 * Pure; no terminal. The line editor, the REPL's prompt and its one-row
 * summaries measure with this, never with `string.length`.
 *
 * @module
 */

/** One segmenter for the process (they are costly to build). */
const SEGMENTER = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * East Asian Wide (W) and Fullwidth (F) code points that are not emoji
 * (those are `\p{Emoji_Presentation}`), as inclusive ranges: UAX #11's
 * EastAsianWidth.txt merged over unassigned gaps, with the blocks whose
 * unassigned code points default to W (CJK ideographs, planes 2 and 3).
 */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo leading consonants
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols
  [0x3041, 0x3247], // Hiragana, Katakana, Bopomofo, Hangul compatibility, Kanbun, CJK strokes
  [0x3250, 0x4dbf], // enclosed CJK, compatibility, CJK extension A
  [0x4e00, 0xa4cf], // CJK unified ideographs, Yi
  [0xa960, 0xa97f], // Hangul Jamo extended-A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x1b2ff], // ideographic symbols, Tangut, Khitan, Kana supplement, Nushu
  [0x1f200, 0x1f265], // enclosed ideographic supplement
  [0x20000, 0x3fffd], // CJK extensions B and later (planes 2 and 3)
];

const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const EMOJI = /^\p{Emoji}/u;
/** Code points drawn on the cell of the character before them. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff\ud7b0-\ud7ff]$/u;
/** Printable ASCII: one column per UTF-16 unit (the common case, no segmenter needed). */
const ASCII = /^[\x20-\x7e]*$/;
/** Text that is one cluster per UTF-16 unit (ASCII with line breaks and tabs). */
const ONE_UNIT_CLUSTERS = /^[\x20-\x7e\n\t]*$/;

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = WIDE[mid]!;
    if (cp < from) hi = mid - 1;
    else if (cp > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Columns of one code point (`char` is a single code point). */
export function codePointWidth(char: string): 0 | 1 | 2 {
  const cp = char.codePointAt(0) ?? 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0; // controls: never drawn as text
  if (cp < 0x300) return 1; // Latin: the common case
  if (ZERO_WIDTH.test(char)) return 0;
  return isWide(cp) || EMOJI_PRESENTATION.test(char) ? 2 : 1;
}

/** Columns of one grapheme cluster; see the module header. */
export function clusterWidth(cluster: string): number {
  if (cluster.length === 1) return codePointWidth(cluster);
  if (EMOJI_PRESENTATION.test(cluster)) return 2;
  if (cluster.includes("\ufe0f") && EMOJI.test(cluster)) return 2;
  let width = 0;
  for (const char of cluster) width += codePointWidth(char);
  return width;
}

/** The grapheme clusters of `text`, in order. */
export function graphemes(text: string): string[] {
  if (ONE_UNIT_CLUSTERS.test(text)) return text.split("");
  return Array.from(SEGMENTER.segment(text), (s) => s.segment);
}

/** Columns of `text` (no ANSI styling in it: strip it first). */
export function textWidth(text: string): number {
  if (ASCII.test(text)) return text.length;
  let width = 0;
  for (const s of SEGMENTER.segment(text)) width += clusterWidth(s.segment);
  return width;
}

/**
 * The longest start of `text` that fits in `columns`, whole clusters only,
 * with `…` at the end when something was left out.
 */
export function fitWidth(text: string, columns: number): string {
  if (textWidth(text) <= columns) return text;
  let out = "";
  let width = 0;
  for (const s of SEGMENTER.segment(text)) {
    const w = clusterWidth(s.segment);
    if (width + w > columns - 1) break;
    out += s.segment;
    width += w;
  }
  return `${out}…`;
}
