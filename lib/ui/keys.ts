/**
 * Raw terminal bytes → key presses (ECMA-48 / xterm sequences): printable
 * text (UTF-8, across chunk boundaries), Enter, Backspace, Delete, Tab,
 * arrows, Home/End, word moves and the control keys the line editor uses.
 * Unknown escape sequences are dropped whole, never inserted as text.
 *
 * Bracketed paste (xterm; the terminal sends it once asked with
 * `ESC[?2004h`, see `terminal.ts`): everything between `ESC[200~` and
 * `ESC[201~` is one `paste` key, its line breaks (CR, LF, CR LF) kept as
 * `\n` and its tabs kept, every other control character dropped. A paste
 * is held whole up to {@linkcode MAX_PASTE_LENGTH}; past it the rest is
 * counted, not stored, and the key is `paste-too-long`. A paste whose end
 * marker never comes (a terminal that dropped it, `Alt-[` then `200~`
 * typed) would take every later key as pasted text: the reader calls
 * {@linkcode KeyDecoder.endPaste} once no byte has come for
 * {@linkcode PASTE_IDLE_MS}, which ends it as the marker would have.
 *
 * @module
 */

import { MAX_LINE_LENGTH } from "./line_editor.ts";

/** One key press. */
export type Key =
  | { kind: "text"; text: string }
  /** Text pasted at once (bracketed paste), line breaks as `\n`. */
  | { kind: "paste"; text: string }
  /** A paste longer than {@linkcode MAX_PASTE_LENGTH}: `length` UTF-16 units, none kept. */
  | { kind: "paste-too-long"; length: number }
  | { kind: KeyName };

/** Every key that is not text. */
export type KeyName =
  | "enter"
  /** Alt-Enter: a line break in the line, not a submit. */
  | "newline"
  | "backspace"
  | "delete"
  | "tab"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "word-left"
  | "word-right"
  | "interrupt"
  | "eof"
  | "kill-line"
  | "kill-end"
  | "kill-word"
  | "clear-screen";

/** Longest escape sequence kept while waiting for its end. */
const MAX_ESCAPE_LENGTH = 16;
/** Longest paste held: more could not fit in a line anyway. */
export const MAX_PASTE_LENGTH: number = MAX_LINE_LENGTH;
/**
 * Quiet time after which an open paste is taken as ended: a terminal sends a
 * paste in one burst (over a slow link, in chunks a few hundred ms apart at
 * worst), so a pause this long means its end marker was lost.
 */
export const PASTE_IDLE_MS = 1_000;
/** Bracketed paste markers (xterm "Bracketed Paste Mode"). */
const PASTE_START = "[200~";
const PASTE_END = "\x1b[201~";

const CONTROL: Readonly<Record<string, KeyName>> = {
  "\r": "enter",
  "\n": "enter",
  "\x7f": "backspace",
  "\b": "backspace",
  "\t": "tab",
  "\x01": "home",
  "\x05": "end",
  "\x02": "left",
  "\x06": "right",
  "\x10": "up",
  "\x0e": "down",
  "\x03": "interrupt",
  "\x04": "eof",
  "\x15": "kill-line",
  "\x0b": "kill-end",
  "\x17": "kill-word",
  "\x0c": "clear-screen",
};

const ESCAPES: Readonly<Record<string, KeyName>> = {
  "[A": "up",
  "[B": "down",
  "[C": "right",
  "[D": "left",
  "[H": "home",
  "[F": "end",
  "OA": "up",
  "OB": "down",
  "OC": "right",
  "OD": "left",
  "OH": "home",
  "OF": "end",
  "[1~": "home",
  "[7~": "home",
  "[4~": "end",
  "[8~": "end",
  "[3~": "delete",
  "[1;5C": "word-right",
  "[1;5D": "word-left",
  "[1;3C": "word-right",
  "[1;3D": "word-left",
  "b": "word-left",
  "f": "word-right",
  "\x7f": "kill-word",
  "\r": "newline",
};

/** Turns chunks of bytes into keys; keeps partial sequences between chunks. */
export class KeyDecoder {
  readonly #utf8 = new TextDecoder("utf-8", { fatal: false });
  #pending = "";
  /** The paste being received (between its markers). */
  #paste: { parts: string[]; length: number } | undefined;

  /** Whether a paste has begun and its end marker has not come yet. */
  get pasting(): boolean {
    return this.#paste !== undefined;
  }

  /**
   * Ends an open paste as if its end marker had come (see the module
   * header); what was held of a possible marker counts as pasted text.
   * Returns its key, or nothing when no paste is open.
   */
  endPaste(): Key[] {
    if (!this.#paste) return [];
    const keys: Key[] = [];
    const held = this.#pending;
    this.#pending = "";
    this.#pasted(held + PASTE_END, 0, keys);
    return keys;
  }

  /** Decodes one chunk. */
  push(bytes: Uint8Array): Key[] {
    const text = this.#pending + this.#utf8.decode(bytes, { stream: true });
    this.#pending = "";
    const keys: Key[] = [];
    let plain = "";
    const flush = () => {
      if (plain !== "") keys.push({ kind: "text", text: plain });
      plain = "";
    };
    for (let i = 0; i < text.length;) {
      if (this.#paste) {
        i = this.#pasted(text, i, keys);
        continue;
      }
      const c = text[i]!;
      if (c === "\x1b") {
        flush();
        const end = escapeEnd(text, i + 1);
        if (end === undefined) {
          // Incomplete: wait for the rest (bounded).
          if (text.length - i <= MAX_ESCAPE_LENGTH) this.#pending = text.slice(i);
          break;
        }
        const sequence = text.slice(i + 1, end);
        if (sequence === PASTE_START) this.#paste = { parts: [], length: 0 };
        const kind = ESCAPES[sequence];
        if (kind) keys.push({ kind });
        i = end;
        continue;
      }
      const kind = CONTROL[c];
      if (kind) {
        flush();
        keys.push({ kind });
        // \r\n counts as one Enter.
        i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
        continue;
      }
      if (c < " " || (c >= "\x80" && c <= "\x9f")) {
        i++; // Other control characters are ignored.
        continue;
      }
      plain += c;
      i++;
    }
    flush();
    return keys;
  }

  /** Takes pasted text from `i` up to the end marker; returns where to go on. */
  #pasted(text: string, i: number, keys: Key[]): number {
    const paste = this.#paste!;
    const end = text.indexOf(PASTE_END, i);
    let stop = end;
    if (end < 0) {
      // Keep what may be the start of a marker split between chunks.
      let keep = Math.min(PASTE_END.length - 1, text.length - i);
      while (keep > 0 && !PASTE_END.startsWith(text.slice(text.length - keep))) keep--;
      stop = text.length - keep;
      this.#pending = text.slice(stop);
    }
    const part = text.slice(i, stop);
    paste.length += part.length;
    if (paste.length <= MAX_PASTE_LENGTH) paste.parts.push(part);
    else paste.parts = [];
    if (end < 0) return text.length;
    this.#paste = undefined;
    keys.push(
      paste.length > MAX_PASTE_LENGTH
        ? { kind: "paste-too-long", length: paste.length }
        : { kind: "paste", text: pasteText(paste.parts.join("")) },
    );
    return end + PASTE_END.length;
  }
}

/** Pasted text with line breaks as `\n`, tabs kept and other control characters dropped. */
function pasteText(raw: string): string {
  // deno-lint-ignore no-control-regex
  return raw.replace(/\r\n?/g, "\n").replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "");
}

/** Index after the escape sequence starting at `i` (after ESC), or undefined if incomplete. */
function escapeEnd(text: string, i: number): number | undefined {
  const first = text[i];
  if (first === undefined) return undefined;
  if (first === "[") {
    for (let j = i + 1; j < text.length; j++) {
      const code = text.charCodeAt(j);
      if (code >= 0x40 && code <= 0x7e) return j + 1; // CSI final byte
      if (j - i > MAX_ESCAPE_LENGTH) return j + 1;
    }
    return undefined;
  }
  if (first === "O") return text[i + 1] === undefined ? undefined : i + 2;
  return i + 1; // ESC + one character (Alt-b, Alt-f, Alt-Backspace)
}
