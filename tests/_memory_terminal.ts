/**
 * An in-memory {@linkcode Terminal} for tests: type keys, read the screen
 * text, wait for output. Waits consume: each `waitFor` searches only the
 * output after the previous match, so a sequence of waits follows the
 * screen in order (a question asked twice needs two waits). A stalled
 * terminal takes no output (each write waits) until `release()`, like a
 * terminal that stopped reading.
 *
 * @module
 */

import { DEFAULT_COLUMNS, type Terminal } from "../lib/ui/terminal.ts";
import { stripAnsi } from "../lib/ui/render.ts";

interface Waiter {
  text: string | RegExp;
  resolve: () => void;
}

/** See the module header. */
export class MemoryTerminal implements Terminal {
  readonly input: ReadableStream<Uint8Array>;
  readonly isTTY: boolean;
  readonly color: boolean;
  /** Everything written so far. */
  output = "";
  #seen = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #width: number;
  #waiter: Waiter | undefined;
  /** Writes waiting while stalled, in order. */
  #held: { text: string; done: () => void }[] = [];
  #stalled: boolean;
  /** Whether raw mode is on (as the REPL asked). */
  raw = false;

  constructor(
    options: { isTTY?: boolean; color?: boolean; columns?: number; stalled?: boolean } = {},
  ) {
    this.isTTY = options.isTTY ?? true;
    this.color = options.color ?? false;
    this.#width = options.columns ?? DEFAULT_COLUMNS;
    this.#stalled = options.stalled ?? false;
    this.input = new ReadableStream({ start: (c) => void (this.#controller = c) });
  }

  /** Characters written while stalled and not yet taken. */
  get heldLength(): number {
    return this.#held.reduce((n, h) => n + h.text.length, 0);
  }

  /** Writes waiting while stalled. */
  get heldWrites(): number {
    return this.#held.length;
  }

  /** Takes what is held and goes on taking output at once. */
  release(): void {
    this.#stalled = false;
    const held = this.#held;
    this.#held = [];
    for (const h of held) {
      this.#take(h.text);
      h.done();
    }
  }

  /** Index just after `text` in the unseen output (ANSI kept), or -1. */
  #find(text: string | RegExp): number {
    const rest = this.output.slice(this.#seen);
    if (typeof text === "string") {
      const i = rest.indexOf(text);
      return i < 0 ? -1 : this.#seen + i + text.length;
    }
    const m = text.exec(rest);
    return m ? this.#seen + m.index + m[0].length : -1;
  }

  write(text: string): Promise<void> {
    if (this.#stalled) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#held.push({ text, done: resolve });
      return promise;
    }
    this.#take(text);
    return Promise.resolve();
  }

  #take(text: string): void {
    this.output += text;
    const w = this.#waiter;
    if (w) {
      const end = this.#find(w.text);
      if (end >= 0) {
        this.#seen = end;
        this.#waiter = undefined;
        w.resolve();
      }
    }
  }

  columns(): number {
    return this.#width;
  }

  /** Changes the width (as a resized window). */
  resize(columns: number): void {
    this.#width = columns;
  }

  setRaw(on: boolean): void {
    this.raw = on;
  }

  /** Types `text` (keys as bytes). */
  type(text: string): void {
    this.#controller.enqueue(new TextEncoder().encode(text));
  }

  /** Ends the input (like a closed pipe). */
  end(): void {
    this.#controller.close();
  }

  /**
   * The screen as a person sees it (rows of text), from the whole output:
   * CR, LF, erase to the end of the row (`ESC[K`), cursor up and back
   * (`ESC[nA`, `ESC[nD`) and clear screen are applied, styling dropped.
   * Columns are UTF-16 units (enough for the rows' text, not for layout).
   */
  screen(): string[] {
    const rows: string[] = [""];
    let row = 0;
    let col = 0;
    const text = this.output;
    for (let i = 0; i < text.length;) {
      const c = text[i]!;
      if (c === "\x1b") {
        // deno-lint-ignore no-control-regex
        const m = /^\x1b\[([0-9;?]*)([A-Za-z~])/.exec(text.slice(i, i + 16));
        if (!m) {
          i++;
          continue;
        }
        const n = Number(m[1] || "1");
        if (m[2] === "K") rows[row] = rows[row]!.slice(0, col);
        else if (m[2] === "A") row = Math.max(0, row - n);
        else if (m[2] === "D") col = Math.max(0, col - n);
        else if (m[2] === "J") rows.splice(0, rows.length, "");
        if (m[2] === "J" || m[2] === "H") [row, col] = [0, 0];
        i += m[0].length;
        continue;
      }
      if (c === "\r") col = 0;
      else if (c === "\n") {
        row++;
        if (rows.length <= row) rows.push("");
      } else {
        const line = rows[row]!.padEnd(col);
        rows[row] = line.slice(0, col) + c + line.slice(col + 1);
        col++;
      }
      i++;
    }
    return rows;
  }

  /** The output not yet consumed by a wait, without ANSI styling. */
  unseen(): string {
    return stripAnsi(this.output.slice(this.#seen));
  }

  /** Resolves once the output after the last match contains `text`. */
  waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<void> {
    const end = this.#find(text);
    if (end >= 0) {
      this.#seen = end;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      // The waiter is in place before setTimeout: under `deno test`, starting
      // a timer can run pending microtasks (and so the REPL's writes).
      const timer: { id?: ReturnType<typeof setTimeout> } = {};
      this.#waiter = {
        text,
        resolve: () => {
          clearTimeout(timer.id);
          resolve();
        },
      };
      timer.id = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`Timed out waiting for ${String(text)}; unseen: ${this.unseen()}`));
      }, timeoutMs);
    });
  }
}
