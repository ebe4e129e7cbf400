/**
 * The REPL's line editor: the line being typed, its cursor, the history
 * (Up/Down, with the unfinished line kept as a draft) and a hidden mode for
 * secrets (nothing of what is typed is drawn, not even its length).
 *
 * The line is a list of grapheme clusters (`width.ts`): the cursor moves
 * over, and Backspace and Delete remove, what a person sees as one
 * character (`👍🏽`, `e` + an accent, a flag), and the row is laid out in
 * display columns (a CJK character or an emoji takes two).
 *
 * Typed Enter submits; a line break inside a paste (bracketed paste, see
 * `keys.ts`) or typed with Alt-Enter stays in the line, so a pasted
 * paragraph is one message. The line renders to one screen row, scrolling
 * sideways around the cursor, a line break drawn as `↵`; text printed above
 * it can always be drawn as: clear the row, print, redraw.
 *
 * Bounds: a line holds {@linkcode MAX_LINE_LENGTH} UTF-16 units, enough for
 * the longest message the core sends with its command. Text that would pass
 * it is refused whole (`too-long`), never cut. Pure: keys in, actions and
 * strings out.
 *
 * @module
 */

import { MAX_TEXT_BYTES } from "../peer/records.ts";
import type { Key } from "./keys.ts";
import { clusterWidth, graphemes } from "./width.ts";

/** Room for a command and a contact name before a message's text. */
const MAX_COMMAND_ROOM = 1024;
/**
 * Longest line in UTF-16 units: a message of {@linkcode MAX_TEXT_BYTES}
 * UTF-8 bytes has at most that many units, plus its `/msg <name> `.
 */
export const MAX_LINE_LENGTH: number = MAX_TEXT_BYTES + MAX_COMMAND_ROOM;
/** Entries kept in the history. */
export const MAX_HISTORY = 500;
/** Longest line kept in the history (UTF-16 units): 500 long pastes must not hold 500 MiB. */
export const MAX_RECALLED_LENGTH = 16 * 1024;
/** Most clusters passed as arguments at once (a paste of more is joined by copying). */
const MAX_SPREAD = 10_000;

/** What a key asks the REPL to do. */
export type EditAction =
  | { kind: "none" }
  | { kind: "redraw" }
  | { kind: "submit"; line: string }
  | { kind: "complete" }
  | { kind: "interrupt" }
  | { kind: "eof" }
  | { kind: "clear-screen" }
  /** Text refused whole: the line would pass {@linkcode MAX_LINE_LENGTH} (`length` units). */
  | { kind: "too-long"; length: number };

/** Erase the row and go to its start (ECMA-48 CR + EL). */
export const CLEAR_ROW = "\r\x1b[K";

/** How a line break is drawn in the one-row view. */
export const LINE_BREAK_MARK = "↵";

const isSpace = (c: string | undefined) => c === " " || c === "\n" || c === "\t";

/** A cluster as drawn on the row (a line break or tab must not move the cursor). */
function drawn(cluster: string): string {
  return cluster === "\n" ? LINE_BREAK_MARK : cluster === "\t" ? " " : cluster;
}

/** Columns of a cluster as drawn. */
function drawnWidth(cluster: string): number {
  return cluster === "\n" || cluster === "\t" ? 1 : clusterWidth(cluster);
}

/** Line editing state; see the module header. */
export class LineEditor {
  #clusters: string[] = [];
  /** Cursor, in clusters from the start. */
  #cursor = 0;
  /** UTF-16 units of the line (the bound is on these). */
  #units = 0;
  #history: string[];
  /** Index in history while browsing; history.length = the draft. */
  #browse: number;
  #draft = "";
  /** Hidden input: nothing typed is drawn and the line is not remembered. */
  hidden = false;

  /** Starts empty, with `history` (oldest first) to recall. */
  constructor(history: readonly string[] = []) {
    this.#history = history.slice(-MAX_HISTORY);
    this.#browse = this.#history.length;
  }

  /** The text typed so far. */
  get line(): string {
    return this.#clusters.join("");
  }

  /** The cursor, in UTF-16 units from the start (a string index into {@linkcode line}). */
  get cursor(): number {
    let units = 0;
    for (let i = 0; i < this.#cursor; i++) units += this.#clusters[i]!.length;
    return units;
  }

  /** The history, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * Replaces the line (after completion, from the history); `cursor` is a
   * string index, moved to the end of the cluster it falls in. A line
   * longer than {@linkcode MAX_LINE_LENGTH} leaves the editor unchanged.
   */
  set(line: string, cursor = line.length): boolean {
    if (line.length > MAX_LINE_LENGTH) return false;
    this.#clusters = graphemes(line);
    this.#units = line.length;
    let units = 0;
    let i = 0;
    while (i < this.#clusters.length && units < cursor) units += this.#clusters[i++]!.length;
    this.#cursor = i;
    return true;
  }

  /** Adds a line to the history (no blanks, no immediate repeats, nothing too long). */
  remember(line: string): void {
    if (line.trim() === "" || line.length > MAX_RECALLED_LENGTH) return;
    if (this.#history.at(-1) === line) return;
    this.#history.push(line);
    if (this.#history.length > MAX_HISTORY) this.#history.shift();
    this.#browse = this.#history.length;
  }

  /** Applies one key. */
  handle(key: Key): EditAction {
    const redraw: EditAction = { kind: "redraw" };
    switch (key.kind) {
      case "text":
        return this.#insert(key.text);
      case "paste":
        // A copied line often ends with its line break: that is not part of the text.
        return this.#insert(key.text.replace(/\n+$/, ""));
      case "paste-too-long":
        return { kind: "too-long", length: this.#units + key.length };
      case "newline":
        return this.#insert("\n");
      case "enter": {
        const line = this.line;
        this.set("");
        this.#browse = this.#history.length;
        this.#draft = "";
        return { kind: "submit", line };
      }
      case "backspace":
        if (this.#cursor === 0) return { kind: "none" };
        this.#remove(this.#cursor - 1, this.#cursor);
        return redraw;
      case "delete":
        if (this.#cursor >= this.#clusters.length) return { kind: "none" };
        this.#remove(this.#cursor, this.#cursor + 1);
        return redraw;
      case "eof":
        if (this.#clusters.length === 0) return { kind: "eof" };
        return this.handle({ kind: "delete" });
      case "interrupt":
        return { kind: "interrupt" };
      case "tab":
        return this.hidden ? { kind: "none" } : { kind: "complete" };
      case "left":
        this.#cursor = Math.max(0, this.#cursor - 1);
        return redraw;
      case "right":
        this.#cursor = Math.min(this.#clusters.length, this.#cursor + 1);
        return redraw;
      case "home":
        this.#cursor = 0;
        return redraw;
      case "end":
        this.#cursor = this.#clusters.length;
        return redraw;
      case "word-left":
        this.#cursor = this.#wordStart();
        return redraw;
      case "word-right": {
        let i = this.#cursor;
        while (i < this.#clusters.length && isSpace(this.#clusters[i])) i++;
        while (i < this.#clusters.length && !isSpace(this.#clusters[i])) i++;
        this.#cursor = i;
        return redraw;
      }
      case "kill-line":
        this.#remove(0, this.#cursor);
        return redraw;
      case "kill-end":
        this.#remove(this.#cursor, this.#clusters.length);
        return redraw;
      case "kill-word":
        this.#remove(this.#wordStart(), this.#cursor);
        return redraw;
      case "up":
      case "down":
        return this.hidden ? { kind: "none" } : this.#browseHistory(key.kind === "up" ? -1 : 1);
      case "clear-screen":
        return { kind: "clear-screen" };
    }
  }

  /**
   * Inserts `text` at the cursor, whole or not at all. The clusters on
   * both sides are segmented again with it: an accent or a skin tone typed
   * after its base joins it.
   */
  #insert(text: string): EditAction {
    if (text === "") return { kind: "none" };
    if (this.#units + text.length > MAX_LINE_LENGTH) {
      return { kind: "too-long", length: this.#units + text.length };
    }
    const from = Math.max(0, this.#cursor - 1);
    const to = Math.min(this.#clusters.length, this.#cursor + 1);
    const before = this.#cursor > 0 ? this.#clusters[from]! : "";
    const after = to > this.#cursor ? this.#clusters[this.#cursor]! : "";
    const merged = graphemes(before + text + after);
    this.#replace(from, to, merged);
    this.#units += text.length;
    // The cursor goes after the cluster that ends the inserted text.
    const end = before.length + text.length;
    let units = 0;
    let i = 0;
    while (i < merged.length && units < end) units += merged[i++]!.length;
    this.#cursor = from + i;
    return { kind: "redraw" };
  }

  /** Removes clusters `[from, to)`, joining what meets again (two halves of a flag). */
  #remove(from: number, to: number): void {
    if (to <= from) return;
    for (let i = from; i < to; i++) this.#units -= this.#clusters[i]!.length;
    const a = from > 0 ? this.#clusters[from - 1] : undefined;
    const b = this.#clusters[to];
    if (a !== undefined && b !== undefined) {
      const joined = graphemes(a + b);
      this.#replace(from - 1, to + 1, joined);
      // After `a`, or after the cluster `a` became part of.
      let units = 0;
      let i = 0;
      while (i < joined.length && units < a.length) units += joined[i++]!.length;
      this.#cursor = from - 1 + i;
      return;
    }
    this.#replace(from, to, []);
    this.#cursor = from;
  }

  /** Puts `clusters` in place of `[from, to)`, in place (a key on a long line stays cheap). */
  #replace(from: number, to: number, clusters: string[]): void {
    if (clusters.length <= MAX_SPREAD) this.#clusters.splice(from, to - from, ...clusters);
    else {
      this.#clusters = this.#clusters.slice(0, from).concat(clusters, this.#clusters.slice(to));
    }
  }

  #wordStart(): number {
    let i = this.#cursor;
    while (i > 0 && isSpace(this.#clusters[i - 1])) i--;
    while (i > 0 && !isSpace(this.#clusters[i - 1])) i--;
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
   * width is `promptWidth`. The view keeps the cursor's cell on the row
   * and, when the line is too long, ends at the cursor.
   */
  render(prompt: string, promptWidth: number, columns: number): string {
    if (this.hidden) return CLEAR_ROW + prompt;
    const room = Math.max(8, columns - promptWidth - 1);
    const c = this.#clusters;
    let start = this.#cursor;
    let used = 0;
    while (start > 0 && used + drawnWidth(c[start - 1]!) <= room - 1) {
      used += drawnWidth(c[--start]!);
    }
    let text = "";
    let back = 0;
    for (let i = start; i < c.length; i++) {
      const w = drawnWidth(c[i]!);
      if (used + w > room && i >= this.#cursor) break;
      if (i >= this.#cursor) {
        used += w;
        back += w;
      }
      text += drawn(c[i]!);
    }
    return CLEAR_ROW + prompt + text + (back > 0 ? `\x1b[${back}D` : "");
  }
}
