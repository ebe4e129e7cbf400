/**
 * Raw terminal bytes → key presses (ECMA-48 / xterm sequences): printable
 * text (UTF-8, across chunk boundaries), Enter, Backspace, Delete, Tab,
 * arrows, Home/End, word moves and the control keys the line editor uses.
 * Unknown escape sequences are dropped whole, never inserted as text.
 *
 * @module
 */

/** One key press. */
export type Key = { kind: "text"; text: string } | { kind: KeyName };

/** Every key that is not text. */
export type KeyName =
  | "enter"
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
};

/** Turns chunks of bytes into keys; keeps partial sequences between chunks. */
export class KeyDecoder {
  readonly #utf8 = new TextDecoder("utf-8", { fatal: false });
  #pending = "";

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
      const c = text[i]!;
      if (c === "\x1b") {
        flush();
        const end = escapeEnd(text, i + 1);
        if (end === undefined) {
          // Incomplete: wait for the rest (bounded).
          if (text.length - i <= MAX_ESCAPE_LENGTH) this.#pending = text.slice(i);
          break;
        }
        const kind = ESCAPES[text.slice(i + 1, end)];
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
