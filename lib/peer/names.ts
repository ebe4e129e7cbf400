/**
 * Look-alike contact names (issue 8 item 6). A name is the only thing the
 * user sees of a contact in a list or a message line, and a request chooses
 * its own suggested name, so a stranger can ask to be listed as "bob" with
 * an invisible character, a Cyrillic о or a right-to-left override. This
 * module owns the two defences:
 *
 * 1. **Invisible and direction-changing characters are not allowed in a
 *    name** ({@linkcode hiddenCharacter}): format characters (general
 *    category Cf: U+200B, U+2060, U+FEFF, U+00AD ...), bidirectional
 *    controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C), every other
 *    default-ignorable code point (variation selectors, Hangul fillers,
 *    tags ...), private-use and unassigned code points (they render as
 *    anything a font wants), and the blank U+2800 (a braille pattern with
 *    no dots, a favourite "invisible character" of name spoofers). One exception keeps emoji names working: a
 *    zero-width joiner between two pictographs (👩‍💻) and the emoji
 *    variation selector U+FE0F right after one (❤️) are allowed; neither
 *    can hide or reorder letters.
 *
 * 2. **Names that look alike are detected** ({@linkcode nameSkeleton},
 *    {@linkcode confusableWith}): two names are confusable when their
 *    skeletons are equal, after Unicode TS #39 §4 ("skeleton(X) =
 *    NFD(map(NFD(X)))": equal skeletons mean the strings may look the same).
 *    The full confusables.txt has about 6,300 mappings; this module builds
 *    a compact subset ({@linkcode LOOKALIKES}, about 180 code points) that
 *    covers what a name attack reaches for, and is stricter than TS #39
 *    elsewhere:
 *    - NFKD instead of NFD, so compatibility forms fold too: fullwidth
 *      (ｂｏｂ), mathematical alphanumerics (𝐛𝐨𝐛), circled, superscript
 *      and ligature forms;
 *    - every combining mark is dropped ("bȯb", "bób" look like "bob" at a
 *      glance);
 *    - case is folded ("Bob" and "bob" are one name to a user typing it);
 *    - the table maps the Cyrillic, Greek and Armenian letters that look
 *      like Latin ones (а е о р с у х ѕ і ј һ ԁ ԛ ԝ, Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ
 *      Τ Υ Χ, ο ρ ν ι γ, օ ո ս հ զ ա ...), the Hebrew and Arabic ones (ו ן
 *      ס ט, ا ه), the digits of other scripts that pass for o, l or v (the
 *      zeros of Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil,
 *      Telugu, Kannada, Malayalam, Thai, Lao and Myanmar; Arabic-Indic ١ ٥
 *      ٧), Latin variants (ı ɑ ɡ ɩ, small capitals ᴏ ɪ ᴄ ...), letters with a
 *      stroke that does not decompose (ø ł đ ħ ŧ: TS #39 maps them to the
 *      letter and an overlay mark, which is dropped here), digits and
 *      symbols that pass for letters (0 → o; 1, I, |, ǀ, ∣ → l), dashes and
 *      apostrophes;
 *    - the multi-letter look-alikes of TS #39 ("m" → "rn", "d" → "cl") and
 *      "w" → "vv".
 *    Not covered: the other scripts' rarer look-alikes (Cherokee, Lisu,
 *    Coptic, Canadian syllabics ...), and names that merely differ by one
 *    letter ("bob" and "bop"). A false positive costs the user one more
 *    word (a new name on accept), a false negative a spoofed contact, so
 *    the rules err on the strict side.
 *
 * Pure and small: no I/O, no state; {@linkcode PeerError} for refusals.
 *
 * @module
 */

import { PeerError } from "./errors.ts";

/**
 * The look-alike table: each Latin letter, digit or symbol (key) and the
 * characters (value, written as escapes so that this file cannot itself
 * mislead a reviewer) whose skeleton is that key. Upper-case sources sit
 * with their lower-case look-alike because case is folded afterwards.
 */
export const LOOKALIKES: Readonly<Record<string, string>> = {
  a: "\u0430\u0410\u0251\u03b1\u0391",
  b: "\u0412\u0392\u0432\u042c\u0184",
  c: "\u0441\u0421\u03f2\u03c2\u03f9\u1d04\u023c",
  d: "\u0501\u0111\u0110",
  e: "\u0435\u0415\u0395\u04bd",
  f: "\u0584",
  g: "\u0261\u0581",
  h: "\u04bb\u041d\u0397\u0570\u043d\u0127",
  i: "\u0456\u0131\u03b9\u0269\u026a\u0268",
  j: "\u0458\u0408\u03f3\u037f",
  k: "\u041a\u039a\u03ba\u043a",
  l: "I1|\u01c0\u2223\u04c0\u04cf\u0406\u0399\u05c0\u05d5\u05df\u0627\u0661\u06f1\u07ca\u0142\u0141",
  m: "\u041c\u039c\u043c",
  n: "\u0578\u039d\u03b7\u043f\u057c",
  o: "0\u043e\u041e\u03bf\u039f\u0585\u0555\u03c3\u00f8\u00d8\u1d0f\u1d11\u05e1\u0647\u06be\u06c1\u06d5\u0665\u06f5\u07c0\u0966\u09e6\u0a66\u0ae6\u0b66\u0b20\u0be6\u0c66\u0ce6\u0d66\u0d20\u0e50\u0ed0\u1040\u101d\u0c02\u0c82\u0d02\u0d82",
  p: "\u0440\u0420\u03c1\u03a1",
  q: "\u051b\u0566\u0563",
  r: "\u0433\u1d26",
  s: "\u0455\u0405\u054f",
  t: "\u0422\u03a4\u0442\u0167",
  u: "\u057d\u03c5\u1d1c\u054d",
  v: "\u03bd\u0475\u0474\u1d20\u05d8\u0667\u06f7",
  w: "\u051d\u051c\u0461\u03c9\u026f\u0561\u1d21",
  x: "\u0445\u0425\u03c7\u03a7\u00d7",
  y: "\u0443\u0423\u03b3\u03a5\u04af\u04ae\u028f\u0263\u10e7",
  z: "\u0396\u1d22\u01b6",
  "3": "\u0417\u0437",
  "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u02d7",
  "'": "\u02bc\u2018\u2019\u2032\u0060",
};

/** Multi-letter look-alikes, applied after the table (TS #39 maps m → rn and d → cl). */
const SEQUENCES: readonly (readonly [string, string])[] = [["m", "rn"], ["w", "vv"], ["d", "cl"]];

/** Code point → its skeleton, built once from {@linkcode LOOKALIKES}. */
const MAP: ReadonlyMap<number, string> = new Map(
  Object.entries(LOOKALIKES).flatMap(([to, from]) =>
    [...from].map((c) => [c.codePointAt(0)!, to] as const)
  ),
);

/** Characters that are invisible, reorder text, or render as a font pleases. */
const HIDDEN = /[\p{Cf}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}\p{Co}\p{Cn}\u2800]/u; // U+2800: a blank
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
const MARKS = /\p{M}/gu;
const ZWJ = 0x200d;
const EMOJI_VS = 0xfe0f;
/** Rounds of the skeleton until it is stable (one is almost always enough). */
const MAX_SKELETON_ROUNDS = 4;

/**
 * The first character of `name` that may not be in a name (see the module
 * header), as its index in code points and its code point; undefined when
 * there is none.
 */
export function hiddenCharacter(name: string): { index: number; codePoint: number } | undefined {
  const chars = [...name];
  for (const [index, c] of chars.entries()) {
    if (!HIDDEN.test(c)) continue;
    const codePoint = c.codePointAt(0)!;
    const before = chars[index - 1] ?? "";
    const after = chars[index + 1] ?? "";
    const emojiBefore = PICTOGRAPH.test(before) ||
      (before.codePointAt(0) === EMOJI_VS && PICTOGRAPH.test(chars[index - 2] ?? ""));
    if (codePoint === ZWJ && emojiBefore && PICTOGRAPH.test(after)) continue;
    if (codePoint === EMOJI_VS && PICTOGRAPH.test(before)) continue;
    return { index, codePoint };
  }
  return undefined;
}

/** `U+200B` for a code point. */
export function codePointLabel(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * A name as an error message may quote it: in quotes, with every
 * character outside printable ASCII also named by its code point, so the
 * user sees that "bоb" is not "bob".
 */
export function showName(name: string): string {
  const quoted = JSON.stringify(name).replace(
    /[^\x20-\x7e]/gu,
    (c) => HIDDEN.test(c) ? `\\u{${c.codePointAt(0)!.toString(16)}}` : c,
  );
  const foreign = [...new Set([...name].filter((c) => !/[\x20-\x7e]/.test(c)))];
  if (foreign.length === 0) return quoted;
  const MAX_LISTED = 4; // a name of 64 bytes could list dozens: the first few say enough
  const listed = foreign.slice(0, MAX_LISTED).map((c) => codePointLabel(c.codePointAt(0)!));
  return `${quoted} (with ${listed.join(", ")}${foreign.length > MAX_LISTED ? ", ..." : ""})`;
}

/**
 * Refuses a name with a hidden character.
 *
 * @throws {PeerError} `bad_name` naming the character's code point
 */
export function checkNameCharacters(name: string): string {
  const hidden = hiddenCharacter(name);
  if (hidden !== undefined) {
    throw new PeerError(
      "bad_name",
      `Cannot use the name ${showName(name)}: it contains the invisible or direction-changing ` +
        `character ${codePointLabel(hidden.codePoint)}; remove it`,
    );
  }
  return name;
}

/** `name` without its hidden characters (for a suggestion, which is cleaned, not refused). */
export function removeHiddenCharacters(name: string): string {
  let rest = name;
  for (let hidden = hiddenCharacter(rest); hidden !== undefined; hidden = hiddenCharacter(rest)) {
    const chars = [...rest];
    chars.splice(hidden.index, 1);
    rest = chars.join("");
  }
  return rest;
}

/** Each character through the table; hidden ones are dropped. */
function mapCharacters(text: string): string {
  let out = "";
  for (const c of text) if (!HIDDEN.test(c)) out += MAP.get(c.codePointAt(0)!) ?? c;
  return out;
}

/** NFKD without combining marks. */
function decompose(text: string): string {
  return text.normalize("NFKD").replace(MARKS, "");
}

function skeletonRound(text: string): string {
  // the table first (some compatibility characters decompose into another look:
  // U+03F9 "Ϲ" into "Σ"), then after decomposition, then after case folding
  // ("I" became "l" before it could fold to "i")
  let out = mapCharacters(decompose(mapCharacters(text)));
  out = mapCharacters(decompose(out.toLowerCase()));
  for (const [from, to] of SEQUENCES) out = out.replaceAll(from, to);
  return out;
}

/**
 * Skeletons remembered (name → skeleton): a check compares one name with
 * every name in use, and the names in use rarely change. 131,072 entries
 * hold every name at the 100,000 conversations the store is built for (a
 * skeleton costs about 4 µs, so without the cache listing requests there
 * would take 0.4 s); about 100 bytes an entry for a 10-character name, 13
 * MiB at the bound. Cleared when full.
 */
const MAX_CACHED_SKELETONS = 131_072;
const cache = new Map<string, string>();

/**
 * The skeleton of a name: equal skeletons mean the names may look the
 * same (see the module header). For comparison only, never for display.
 */
export function nameSkeleton(name: string): string {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  let skeleton = skeletonRound(name);
  for (let round = 1; round < MAX_SKELETON_ROUNDS; round++) {
    const next = skeletonRound(skeleton);
    if (next === skeleton) break;
    skeleton = next;
  }
  if (cache.size >= MAX_CACHED_SKELETONS) cache.clear();
  cache.set(name, skeleton);
  return skeleton;
}

/**
 * The first of `names` that looks like `name` (equal names included),
 * other than `except` (default: `name` itself), if any.
 */
export function confusableWith(
  name: string,
  names: Iterable<string>,
  except: string = name,
): string | undefined {
  const skeleton = nameSkeleton(name);
  for (const other of names) {
    if (other !== except && nameSkeleton(other) === skeleton) return other;
  }
  return undefined;
}

/** The first name of an index that looks like `name`, other than `except` (lookalikeIndex). */
export type LookalikeIndex = (name: string, except: string) => string | undefined;

/**
 * An index of `names` by skeleton, for many {@linkcode confusableWith}
 * questions over the same names (listing requests among 10,000 contacts):
 * returns the first name that looks like `name`, other than `except`.
 * Each `[alias, name]` of `aliases` also finds `name` when `alias` looks
 * like the name asked about (a request under the name it suggested).
 */
export function lookalikeIndex(
  names: Iterable<string>,
  aliases: Iterable<readonly [string, string]> = [],
): LookalikeIndex {
  const bySkeleton = new Map<string, string[]>();
  const add = (skeleton: string, other: string) => {
    const list = bySkeleton.get(skeleton);
    if (list === undefined) bySkeleton.set(skeleton, [other]);
    else list.push(other);
  };
  for (const other of names) add(nameSkeleton(other), other);
  for (const [alias, other] of aliases) add(nameSkeleton(alias), other);
  return (name, except) => bySkeleton.get(nameSkeleton(name))?.find((n) => n !== except);
}

/**
 * Refuses `name` when it looks like one of `names` (another contact or
 * request): the user picks another name.
 *
 * @throws {PeerError} `name_confusable` naming both
 */
export function checkNotConfusable(name: string, names: Iterable<string>, hint: string): void {
  const other = confusableWith(name, names);
  if (other === undefined) return;
  throw new PeerError(
    "name_confusable",
    `The name ${showName(name)} looks like ${showName(other)}, which you already use: ${hint}`,
  );
}
