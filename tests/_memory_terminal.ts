/**
 * An in-memory {@linkcode Terminal} for tests: type keys, read the screen
 * text, wait for output. Waits consume: each `waitFor` searches only the
 * output after the previous match, so a sequence of waits follows the
 * screen in order (a question asked twice needs two waits).
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

  constructor(options: { isTTY?: boolean; color?: boolean; columns?: number } = {}) {
    this.isTTY = options.isTTY ?? true;
    this.color = options.color ?? false;
    this.#width = options.columns ?? DEFAULT_COLUMNS;
    this.input = new ReadableStream({ start: (c) => void (this.#controller = c) });
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
    return Promise.resolve();
  }

  columns(): number {
    return this.#width;
  }

  setRaw(_on: boolean): void {}

  /** Types `text` (keys as bytes). */
  type(text: string): void {
    this.#controller.enqueue(new TextEncoder().encode(text));
  }

  /** Ends the input (like a closed pipe). */
  end(): void {
    this.#controller.close();
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
