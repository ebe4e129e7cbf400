/**
 * An in-memory {@linkcode Terminal} for tests: type keys, read the screen
 * text, wait for output.
 *
 * @module
 */

import { DEFAULT_COLUMNS, type Terminal } from "../lib/ui/terminal.ts";

/** An in-memory terminal for tests: feed keys, read the screen text. */
export class MemoryTerminal implements Terminal {
  readonly input: ReadableStream<Uint8Array>;
  readonly isTTY: boolean;
  readonly color: boolean;
  /** Everything written so far. */
  output = "";
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #width: number;
  #waiters: { text: string | RegExp; resolve: () => void }[] = [];

  constructor(options: { isTTY?: boolean; color?: boolean; columns?: number } = {}) {
    this.isTTY = options.isTTY ?? true;
    this.color = options.color ?? false;
    this.#width = options.columns ?? DEFAULT_COLUMNS;
    this.input = new ReadableStream({ start: (c) => void (this.#controller = c) });
  }

  write(text: string): Promise<void> {
    this.output += text;
    this.#waiters = this.#waiters.filter((w) => {
      const hit = typeof w.text === "string"
        ? this.output.includes(w.text)
        : w.text.test(this.output);
      if (hit) w.resolve();
      return !hit;
    });
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

  /** Ends the input (like Ctrl-D on a closed pipe). */
  end(): void {
    this.#controller.close();
  }

  /** Resolves once the output contains `text` (or matches it). */
  waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<void> {
    const hit = typeof text === "string" ? this.output.includes(text) : text.test(this.output);
    if (hit) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Timed out waiting for ${String(text)}; screen: ${this.output}`)),
        timeoutMs,
      );
      this.#waiters.push({
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}
