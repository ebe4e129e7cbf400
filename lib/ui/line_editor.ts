/**
 * The REPL's line editor: the line being typed, its cursor, the history
 * (Up/Down, with the unfinished line kept as a draft) and a hidden mode for
 * secrets (nothing of what is typed is drawn, not even its length). It
 * renders to one screen row, scrolling sideways around the cursor, so text
 * printed above it can always be drawn as: clear the row, print, redraw.
 * Pure: keys in, actions and strings out.
 *
 * @module
 */

import type { Key } from "./keys.ts";

/** Longest line accepted (typing stops there). */
export const MAX_LINE_LENGTH = 64 * 1024;
/** Entries kept in the history. */
export const MAX_HISTORY = 500;

/** What a key asks the REPL to do. */
export type EditAction =
  | { kind: "none" }
  | { kind: "redraw" }
  | { kind: "submit"; line: string }
  | { kind: "complete" }
  | { kind: "interrupt" }
  | { kind: "eof" }
  | { kind: "clear-screen" };

/** Erase the row and go to its start (ECMA-48 CR + EL). */
export const CLEAR_ROW = "\r\x1b[K";

/** Line editing state; see the module header. */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[];
  /** Index in history while browsing; history.length = the draft. */
  #browse: number;
  #draft = "";
  /** Hidden input: nothing typed is drawn and the line is not remembered. */
  hidden = false;

  constructor(history: readonly string[] = []) {
    this.#history = history.slice(-MAX_HISTORY);
    this.#browse = this.#history.length;
  }

  /** The text typed so far. */
  get line(): string {
    return this.#chars.join("");
  }

  /** The cursor, in characters from the start. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The history, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Replaces the line (e.g. after completion). */
  set(line: string, cursor = line.length): void {
    this.#chars = [...line].slice(0, MAX_LINE_LENGTH);
    this.#cursor = Math.min(Math.max(0, cursor), this.#chars.length);
  }

  /** Adds a line to the history (no blanks, no immediate repeats). */
  remember(line: string): void {
    if (line.trim() === "" || this.#history.at(-1) === line) return;
    this.#history.push(line);
    if (this.#history.length > MAX_HISTORY) this.#history.shift();
    this.#browse = this.#history.length;
  }

  /** Applies one key. */
  handle(key: Key): EditAction {
    const redraw: EditAction = { kind: "redraw" };
    switch (key.kind) {
      case "text": {
        const add = [...key.text].slice(0, MAX_LINE_LENGTH - this.#chars.length);
        this.#chars.splice(this.#cursor, 0, ...add);
        this.#cursor += add.length;
        return redraw;
      }
      case "enter": {
        const line = this.line;
        this.set("");
        this.#browse = this.#history.length;
        this.#draft = "";
        return { kind: "submit", line };
      }
      case "backspace":
        if (this.#cursor === 0) return { kind: "none" };
        this.#chars.splice(--this.#cursor, 1);
        return redraw;
      case "delete":
        if (this.#cursor >= this.#chars.length) return { kind: "none" };
        this.#chars.splice(this.#cursor, 1);
        return redraw;
      case "eof":
        if (this.#chars.length === 0) return { kind: "eof" };
        return this.handle({ kind: "delete" });
      case "interrupt":
        return { kind: "interrupt" };
      case "tab":
        return this.hidden ? { kind: "none" } : { kind: "complete" };
      case "left":
        this.#cursor = Math.max(0, this.#cursor - 1);
        return redraw;
      case "right":
        this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
        return redraw;
      case "home":
        this.#cursor = 0;
        return redraw;
      case "end":
        this.#cursor = this.#chars.length;
        return redraw;
      case "word-left":
        this.#cursor = this.#wordStart();
        return redraw;
      case "word-right": {
        let i = this.#cursor;
        while (i < this.#chars.length && this.#chars[i] === " ") i++;
        while (i < this.#chars.length && this.#chars[i] !== " ") i++;
        this.#cursor = i;
        return redraw;
      }
      case "kill-line":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return redraw;
      case "kill-end":
        this.#chars.splice(this.#cursor);
        return redraw;
      case "kill-word": {
        const start = this.#wordStart();
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return redraw;
      }
      case "up":
      case "down":
        return this.hidden ? { kind: "none" } : this.#browseHistory(key.kind === "up" ? -1 : 1);
      case "clear-screen":
        return { kind: "clear-screen" };
    }
  }

  #wordStart(): number {
    let i = this.#cursor;
    while (i > 0 && this.#chars[i - 1] === " ") i--;
    while (i > 0 && this.#chars[i - 1] !== " ") i--;
    return i;
  }

  #browseHistory(step: -1 | 1): EditAction {
    const next = this.#browse + step;
    if (next < 0 || next > this.#history.length) return { kind: "none" };
    if (this.#browse === this.#history.length) this.#draft = this.line;
    this.#browse = next;
    this.set(next === this.#history.length ? this.#draft : this.#history[next]!);
    return { kind: "redraw" };
  }

  /**
   * The row as drawn: clear, prompt, the visible part of the line, and the
   * cursor put back in place. `prompt` may contain ANSI styling; its visible
   * width is `promptWidth`.
   */
  render(prompt: string, promptWidth: number, columns: number): string {
    if (this.hidden) return CLEAR_ROW + prompt;
    const room = Math.max(8, columns - promptWidth - 1);
    let start = 0;
    if (this.#cursor > room - 1) start = this.#cursor - (room - 1);
    const visible = this.#chars.slice(start, start + room);
    const back = start + visible.length - this.#cursor;
    return CLEAR_ROW + prompt + visible.join("") + (back > 0 ? `\x1b[${back}D` : "");
  }
}
