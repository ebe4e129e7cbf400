/**
 * The one place where the interactive interface touches the real terminal
 * (`Deno.*`): standard input as a byte stream, raw mode (with xterm's
 * bracketed paste mode, so a paste arrives marked as one, see `keys.ts`),
 * the output, the width, the colour decision and the signals. Everything else in `ui/` works
 * on the {@linkcode Terminal} interface, so the REPL runs over in-memory
 * streams in tests (the cliffy habit: no process-wide side effects in the
 * command layer).
 *
 * @module
 */

/** What the REPL needs of a terminal. */
export interface Terminal {
  /** Bytes typed (raw keys when {@linkcode Terminal.isTTY}, else lines). */
  readonly input: ReadableStream<Uint8Array>;
  /** Writes text to the screen (whole string, in order). */
  write(text: string): Promise<void>;
  /** True for an interactive terminal: line editing, raw keys, redraws. */
  readonly isTTY: boolean;
  /** True to colour peer names; false writes the level as a word. */
  readonly color: boolean;
  /** Current width in columns. */
  columns(): number;
  /**
   * Turns raw key input on or off, with bracketed paste mode (no-op when
   * not a TTY).
   */
  setRaw(on: boolean): void;
}

/** Width used when the terminal cannot tell. */
export const DEFAULT_COLUMNS = 80;

/** xterm: mark pastes with `ESC[200~` … `ESC[201~` from now on. */
export const BRACKETED_PASTE_ON = "\x1b[?2004h";
/** xterm: send pastes as typed keys again. */
export const BRACKETED_PASTE_OFF = "\x1b[?2004l";

/**
 * The colour decision: colours only on a terminal, and never when
 * `NO_COLOR` is set to anything non-empty (https://no-color.org).
 */
export function colorWanted(isTTY: boolean, noColor: string | undefined): boolean {
  return isTTY && (noColor === undefined || noColor === "");
}

/** The process's own terminal (standard input and output). */
export function denoTerminal(): Terminal {
  const isTTY = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const encoder = new TextEncoder();
  let queue: Promise<void> = Promise.resolve();
  let raw = false;
  const term: Terminal = {
    input: Deno.stdin.readable,
    isTTY,
    color: colorWanted(isTTY, Deno.env.get("NO_COLOR")),
    write(text: string): Promise<void> {
      const bytes = encoder.encode(text);
      queue = queue.then(async () => {
        for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
      }).catch(() => {
        // The terminal went away; nothing more can be shown.
      });
      return queue;
    },
    columns(): number {
      try {
        return Deno.consoleSize().columns || DEFAULT_COLUMNS;
      } catch {
        return DEFAULT_COLUMNS;
      }
    },
    setRaw(on: boolean): void {
      if (!isTTY || raw === on) return;
      try {
        Deno.stdin.setRaw(on);
        raw = on;
      } catch {
        // Not a terminal after all (e.g. closed): keep cooked input.
        return;
      }
      void term.write(on ? BRACKETED_PASTE_ON : BRACKETED_PASTE_OFF);
    },
  };
  return term;
}

/** The console methods that write to the terminal. */
const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"] as const;
/** Handlers of {@linkcode captureConsole}, newest last (the newest gets the text). */
const consoleHandlers: ((text: string) => void)[] = [];
let savedConsole: ((...args: unknown[]) => void)[] = [];

/**
 * Sends what would be written through `console` (by any module, e.g. a
 * transport logger) to `handler` instead, so that nothing prints beside
 * the prompt; returns an undo. Captures nest (the newest handler gets the
 * text); the console is itself again once every one is undone.
 */
export function captureConsole(handler: (text: string) => void): () => void {
  if (consoleHandlers.length === 0) {
    savedConsole = CONSOLE_METHODS.map((name) => console[name]);
    for (const name of CONSOLE_METHODS) {
      console[name] = (...args: unknown[]) => {
        const text = args.map((a) => (typeof a === "string" ? a : Deno.inspect(a))).join(" ");
        consoleHandlers.at(-1)?.(text);
      };
    }
  }
  consoleHandlers.push(handler);
  return () => {
    const i = consoleHandlers.lastIndexOf(handler);
    if (i < 0) return;
    consoleHandlers.splice(i, 1);
    if (consoleHandlers.length === 0) {
      CONSOLE_METHODS.forEach((name, j) => console[name] = savedConsole[j]!);
    }
  };
}

/** Calls `handler` on SIGTERM/SIGHUP (not on Windows); returns an undo. */
export function onTerminationSignal(handler: () => void): () => void {
  if (Deno.build.os === "windows") return () => {};
  const signals: Deno.Signal[] = ["SIGTERM", "SIGHUP"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  return () => {
    for (const s of signals) {
      try {
        Deno.removeSignalListener(s, handler);
      } catch {
        // Already removed.
      }
    }
  };
}

/** Calls `handler` on SIGINT (Ctrl-C in cooked mode); returns an undo. */
export function onInterruptSignal(handler: () => void): () => void {
  Deno.addSignalListener("SIGINT", handler);
  return () => {
    try {
      Deno.removeSignalListener("SIGINT", handler);
    } catch {
      // Already removed.
    }
  };
}

/** Ends the process (after a signal asked for it). */
export function exitProcess(code: number): never {
  Deno.exit(code);
}
