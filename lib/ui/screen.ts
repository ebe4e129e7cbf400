/**
 * The REPL's output: lines printed above the input row, and the row itself
 * (prompt and line, or the progress bar), written to the terminal by one
 * loop in order. On a terminal the row is redrawn after each batch (clear
 * the row, print, redraw); without one, lines are written plain.
 *
 * Bounded (a terminal that stops reading must not grow memory without
 * limit):
 * - the row is a state, not a queue: any number of redraws while the
 *   terminal is busy cost one write;
 * - `notice` lines (warnings, connection trouble, progress: what the core
 *   lets an interface drop) past {@linkcode MAX_PENDING_NOTICES} queued,
 *   or past {@linkcode MAX_PENDING_UNITS} of queued text, are dropped and
 *   counted; the count is printed once the terminal has caught up. Their
 *   promise resolves at once: the core need not wait for them;
 * - `event` lines (a received message, every other event) are never
 *   dropped: their promise resolves once written, and the core waits for
 *   it (it acknowledges a message only then, and stops reading the network
 *   while many wait). Past {@linkcode MAX_PENDING_UNITS} the line is
 *   refused (its promise rejects): the core counts a message as not shown
 *   and does not acknowledge it, so its sender re-sends it later:
 *   backpressure, not loss (see `EventSink` in `peer/types.ts`);
 * - `output` lines (a command's echo and result, answers) are always
 *   queued: commands run one at a time and wait for their output.
 *
 * @module
 */

import { CLEAR_ROW } from "./line_editor.ts";
import { notice, stripAnsi, type Style } from "./render.ts";
import type { Terminal } from "./terminal.ts";
import { textWidth } from "./width.ts";

/** Up one row (ECMA-48 CUU). */
const ROW_UP = "\x1b[1A";

/** How a line may be treated when the terminal does not keep up. */
export type LineKind = "output" | "event" | "notice";

/** Droppable lines queued at most (a flood of warnings is counted, not stored). */
export const MAX_PENDING_NOTICES = 1000;
/** Text queued at most, in UTF-16 units: room for a few of the longest messages. */
export const MAX_PENDING_UNITS = 4 * 1024 * 1024;

interface Pending {
  text: string;
  kind: LineKind;
  /** Set for a line a later one may replace (see {@linkcode Screen.print}). */
  key: string | undefined;
  /** Written as is (no row handling, no line end): screen control. */
  raw: boolean;
  /** Replaces the keyed line that was being written when this one came. */
  replaces?: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Refused or never written: the REPL ended or the terminal is not keeping up. */
export class NotShownError extends Error {}

/** See the module header. */
export class Screen {
  readonly #term: Terminal;
  readonly #style: Style;
  readonly #row: () => string;
  #queue: Pending[] = [];
  #units = 0;
  #notices = 0;
  #rowDirty = false;
  #draining = false;
  #closed = false;
  /** Notices dropped since the last report. */
  #dropped = 0;
  /** Notices dropped in all (for tests and `/warnings`). */
  droppedTotal = 0;
  /** Key of the last line printed, while it can still be replaced. */
  #lastKey: string | undefined;
  /** Terminal width when the keyed line was written (it took one row then). */
  #lastColumns = 0;
  /** The keyed line is on screen already (not only queued). */
  #lastWritten = false;
  /** Key of the last line of the batch being written, while it is. */
  #writingKey: string | undefined;

  /** `row` gives the input row as drawn now ("" for none). */
  constructor(term: Terminal, style: Style, row: () => string) {
    this.#term = term;
    this.#style = style;
    this.#row = row;
  }

  /** UTF-16 units queued and not yet written. */
  get pendingUnits(): number {
    return this.#units;
  }

  /** Lines queued and not yet written. */
  get pendingLines(): number {
    return this.#queue.length;
  }

  /**
   * Prints `text` above the row; resolves once written (a `notice` once
   * queued or dropped and counted). Rejects with {@linkcode NotShownError}
   * for a refused `event` line or after close.
   *
   * With a `key`, when the last line printed had the same key, `text`
   * replaces that line instead (in the queue, or on screen when it took one
   * row and nothing came after it, also once it is written when it was
   * being written): a growing count stays one line.
   */
  print(text: string, kind: LineKind = "output", key?: string): Promise<void> {
    if (key !== undefined && key === this.#lastKey && !this.#closed) {
      const last = this.#queue.at(-1);
      if (last !== undefined && last.key === key && (!this.#lastWritten || last.replaces)) {
        this.#units += text.length - last.text.length;
        last.text = text;
        return Promise.resolve();
      }
      // The line must be right above the row: same width as written, and a row of one line.
      const columns = this.#term.columns();
      const above = columns === this.#lastColumns &&
        textWidth(stripAnsi(this.#row())) < columns;
      if (this.#lastWritten && this.#term.isTTY && this.#queue.length === 0 && above) {
        // Both in this tick, so that nothing comes between the move up and the line.
        this.#enqueue(`${CLEAR_ROW}${ROW_UP}`, "output", true).catch(() => {});
      } else if (this.#writingKey === key && this.#queue.length === 0) {
        // the line is being written: replaced once it is, if it took one row
        return this.#enqueue(text, kind, false, key, true);
      }
    }
    return this.#enqueue(text, kind, false, key);
  }

  /** Writes screen control (e.g. clear the screen) in order with the lines. */
  control(text: string): Promise<void> {
    return this.#enqueue(text, "output", true);
  }

  /** Key of the last line printed, if it can still be replaced. */
  get lastKey(): string | undefined {
    return this.#lastKey;
  }

  /** The row changed: redraw it once the terminal is free. */
  redraw(): void {
    if (this.#closed || !this.#term.isTTY) return;
    this.#rowDirty = true;
    this.#drain();
  }

  /** Resolves once everything queued so far is written. */
  flushed(): Promise<void> {
    if (this.#queue.length === 0 && !this.#draining) return Promise.resolve();
    return this.#enqueue("", "output", true).catch(() => {});
  }

  /** Stops printing; what is still queued is not shown (its promises reject). */
  close(): void {
    this.#closed = true;
    const left = this.#queue;
    this.#queue = [];
    this.#units = 0;
    for (const p of left) p.reject(new NotShownError("Not shown: the REPL has ended"));
  }

  #enqueue(
    text: string,
    kind: LineKind,
    raw: boolean,
    key?: string,
    replaces = false,
  ): Promise<void> {
    if (this.#closed) return Promise.reject(new NotShownError("Not shown: the REPL has ended"));
    const full = this.#units + text.length > MAX_PENDING_UNITS && this.#queue.length > 0;
    if (kind === "notice" && (full || this.#notices >= MAX_PENDING_NOTICES)) {
      this.#dropped++;
      this.droppedTotal++;
      return Promise.resolve();
    }
    if (kind === "event" && full) {
      return Promise.reject(new NotShownError("Not shown: the terminal is not keeping up"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ text, kind, key, raw, resolve, reject, replaces });
    if (!raw || text !== "") {
      this.#lastKey = key;
      this.#lastWritten = false;
    }
    this.#units += text.length;
    if (kind === "notice") this.#notices++;
    this.#drain();
    return kind === "notice" ? Promise.resolve() : promise;
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    for (;;) {
      // Let this tick's prints join one write.
      await Promise.resolve();
      if (this.#queue.length === 0 && this.#dropped > 0) this.#reportDropped();
      const batch = this.#queue;
      if (this.#closed || (batch.length === 0 && !this.#rowDirty)) {
        // In the same tick as the check: a print after it starts a new loop.
        this.#draining = false;
        return;
      }
      this.#queue = [];
      this.#rowDirty = false;
      const columns = this.#term.columns();
      if (
        batch[0]?.replaces === true && this.#lastWritten && this.#term.isTTY &&
        columns === this.#lastColumns && textWidth(stripAnsi(this.#row())) < columns
      ) {
        // as print() does for a line already written: up onto it, then the new one
        const up = `${CLEAR_ROW}${ROW_UP}`;
        const none = () => {};
        batch.unshift({
          text: up,
          kind: "output",
          key: undefined,
          raw: true,
          resolve: none,
          reject: none,
        });
        this.#units += up.length;
      }
      const text = this.#compose(batch);
      const last = batch.at(-1);
      this.#writingKey = last?.key !== undefined && last.key === this.#lastKey
        ? last.key
        : undefined;
      let failed: unknown;
      try {
        if (text !== "") await this.#term.write(text);
      } catch (e) {
        failed = e; // the terminal is gone: nothing more can be shown
      }
      this.#writingKey = undefined;
      const replacing = this.#queue.length === 1 && this.#queue[0]!.replaces === true;
      if (
        last?.key !== undefined && last.key === this.#lastKey &&
        (this.#queue.length === 0 || replacing)
      ) {
        // Replaceable on screen only if it took one row.
        this.#lastWritten = textWidth(stripAnsi(last.text)) < this.#term.columns();
        this.#lastColumns = this.#term.columns();
        if (!this.#lastWritten) this.#lastKey = undefined;
      }
      for (const p of batch) {
        this.#units -= p.text.length;
        if (p.kind === "notice") this.#notices--;
        if (failed === undefined) p.resolve();
        else p.reject(new NotShownError("Not shown: the terminal cannot be written"));
      }
      if (failed !== undefined) {
        this.#draining = false;
        return this.close();
      }
    }
  }

  #reportDropped(): void {
    const n = this.#dropped;
    this.#dropped = 0;
    const text = `${n} notice${n === 1 ? " was" : "s were"} not shown: the terminal was not ` +
      `keeping up (/warnings lists warnings)`;
    this.#queue.push({
      text: notice(this.#style, text),
      kind: "output",
      key: undefined,
      raw: false,
      resolve: () => {},
      reject: () => {},
    });
    this.#units += text.length;
  }

  /** One write for a batch: the lines, then the row drawn again. */
  #compose(batch: readonly Pending[]): string {
    const tty = this.#term.isTTY;
    let out = "";
    let lines = false;
    for (const p of batch) {
      if (p.raw) {
        out += p.text;
        continue;
      }
      if (tty && !lines) out += CLEAR_ROW;
      lines = true;
      out += tty ? `${p.text.replace(/\r?\n/g, "\r\n")}\r\n` : `${p.text}\n`;
    }
    if (tty) out += this.#row();
    return out;
  }
}
