/**
 * The interactive command line (seed, "Command-line Interface (CLI)"): reads
 * keys from a {@linkcode Terminal}, edits the line, runs `/commands` of the
 * shared registry against the core, and prints the core's events above the
 * input line without disturbing what is being typed (clear the row, print,
 * redraw prompt and line). It never exits the process: {@linkcode Repl.run}
 * resolves with why it ended, and the caller shuts the peer down.
 *
 * Without a TTY (piped input) the same loop reads lines: no prompt, no
 * redraws, no colours.
 *
 * @module
 */

import type { EventSink, IdentityInfo, Level, PeerEvent } from "../peer/types.ts";
import type { CommandPeer } from "./commands.ts";
import { parseArgs } from "./commands.ts";
import { complete } from "./completion.ts";
import { sessionEntry } from "./history.ts";
import { KeyDecoder } from "./keys.ts";
import { CLEAR_ROW, LineEditor } from "./line_editor.ts";
import { parseLine } from "./line_parse.ts";
import { progressLine, readyBanner } from "./progress.ts";
import { type Ask, askSecret, confirmDelete } from "./prompts.ts";
import {
  authMatchLine,
  errorLine,
  eventLine,
  notice,
  paint,
  sanitize,
  type Style,
} from "./render.ts";
import { errorText, resultText } from "./results.ts";
import type { Terminal } from "./terminal.ts";

/** Longest error class name shown when handling a key fails. */
const MAX_ERROR_NAME = 40;

/** Why {@linkcode Repl.run} ended. */
export type ReplExit = "quit" | "interrupt" | "eof";

/** Options of {@linkcode Repl}. */
export interface ReplOptions {
  terminal: Terminal;
  /** Lines recalled with Up (oldest first), e.g. from `loadHistory`. */
  history?: readonly string[];
  /** Called after each remembered line (to persist the history). */
  onHistory?: (history: readonly string[]) => void;
  now?: () => number;
}

interface Question {
  prompt: string;
  hidden: boolean;
  resolve: (answer: string | undefined) => void;
}

/** See the module header. */
export class Repl {
  readonly #term: Terminal;
  readonly #style: Style;
  readonly #editor: LineEditor;
  readonly #now: () => number;
  readonly #onHistory: ((history: readonly string[]) => void) | undefined;
  #peer: CommandPeer | undefined;
  #name = "";
  #question: Question | undefined;
  #commands: Promise<void> = Promise.resolve();
  #finish: ((exit: ReplExit) => void) | undefined;
  #closed = false;
  /** True while the input row holds a progress bar instead of a prompt. */
  #progressShown = false;
  #lastPhase = "";
  /** The SMP match being shown, until the `level` event it may raise has come. */
  #matching: { name: string; raised: boolean } | undefined;

  constructor(options: ReplOptions) {
    this.#term = options.terminal;
    this.#style = { color: options.terminal.color };
    this.#editor = new LineEditor(options.history ?? []);
    this.#now = options.now ?? Date.now;
    this.#onHistory = options.onHistory;
  }

  /** The style in use (colours or level words). */
  get style(): Style {
    return this.#style;
  }

  /** The history of this session (oldest first). */
  get history(): readonly string[] {
    return this.#editor.history;
  }

  /**
   * The event sink to give the core (usable before {@linkcode attach}):
   * resolves once the event's line is written to the terminal, rejects
   * once the REPL has ended (not shown).
   */
  readonly onEvent: EventSink = (event) => this.#event(event);

  /** Connects the started peer; the prompt appears. */
  attach(peer: CommandPeer, identity: IdentityInfo): void {
    this.#peer = peer;
    this.#name = identity.name;
  }

  /** Prints `text` above the input line (the line being typed survives). */
  print(text: string): void {
    this.#show(text).catch(() => {});
  }

  /** Prints `text`; resolves once written, rejects if the REPL has ended. */
  #show(text: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("Cannot print: the REPL has ended"));
    if (!this.#term.isTTY) return this.#term.write(`${text}\n`);
    const body = text.replace(/\r?\n/g, "\r\n");
    this.#progressShown = false;
    return this.#term.write(`${CLEAR_ROW}${body}\r\n${this.#row()}`);
  }

  #levelOf = (name: string): Level | undefined => {
    try {
      return this.#peer?.conversations().find((c) => c.name === name)?.level;
    } catch {
      return undefined;
    }
  };

  #event(e: PeerEvent): void | Promise<void> {
    if (e.event === "bootstrap") return this.#progress(e.progress, e.summary);
    if (e.event === "ready") {
      if (this.#progressShown) void this.#term.write("\r\n");
      this.#progressShown = false;
      this.print(readyBanner(this.#style, e.identity));
      return;
    }
    if (e.event === "auth" && e.status === "match") return this.#match(e.name);
    if (e.event === "level" && e.level === "authenticated" && this.#matching?.name === e.name) {
      this.#matching.raised = true; // shown in the match's line
      return;
    }
    const line = eventLine(this.#style, this.#levelOf, e, this.#now());
    if (line === undefined) return;
    return this.#shown(this.#show(line));
  }

  /**
   * Shows a match and the level it raised as one line. The core emits the
   * `level` event, if the level changed, right after the match and in the
   * same call (`applyAuthStep` in peer/core.ts), so it has come by the next
   * microtask; without it the contact was authenticated already.
   */
  #match(name: string): Promise<void> {
    const pending = { name, raised: false };
    this.#matching = pending;
    return this.#shown(
      Promise.resolve().then(() => {
        if (this.#matching === pending) this.#matching = undefined;
        return this.#show(authMatchLine(this.#style, this.#levelOf, name, pending.raised));
      }),
    );
  }

  /** `shown`, with no unhandled rejection for a caller that ignores it. */
  #shown(shown: Promise<void>): Promise<void> {
    shown.catch(() => {});
    return shown;
  }

  #progress(progress: number, summary: string): void {
    if (this.#closed) return;
    const line = progressLine(this.#style, progress, summary, this.#term.columns());
    if (!this.#term.isTTY) {
      if (summary !== this.#lastPhase) void this.#term.write(`${line}\n`);
    } else {
      this.#progressShown = true;
      void this.#term.write(CLEAR_ROW + line);
    }
    this.#lastPhase = summary;
  }

  /** The prompt and line as drawn (empty before the peer is attached). */
  #row(): string {
    if (!this.#term.isTTY || (!this.#peer && !this.#question)) return "";
    const q = this.#question;
    const plain = q ? q.prompt : `${this.#name}> `;
    const prompt = q ? paint(this.#style, "yellow", plain) : paint(this.#style, "bold", plain);
    return this.#editor.render(prompt, plain.length, this.#term.columns());
  }

  #redraw(): void {
    if (this.#term.isTTY && !this.#closed) void this.#term.write(this.#row());
  }

  /** Asks a question on the input line (see `prompts.ts`). */
  readonly ask: Ask = (question, { hidden }) => {
    if (this.#question) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#editor.set("");
      this.#editor.hidden = hidden;
      this.#question = { prompt: question, hidden, resolve };
      if (!this.#term.isTTY) void this.#term.write(question);
      this.#redraw();
    });
  };

  #answer(answer: string | undefined): void {
    const q = this.#question!;
    this.#question = undefined;
    this.#editor.hidden = false;
    if (this.#term.isTTY) {
      // The question stays on screen; a hidden answer never appears.
      const shown = q.hidden ? (answer === undefined ? "(cancelled)" : "(hidden)") : answer ?? "";
      void this.#term.write(`${CLEAR_ROW}${q.prompt}${shown}\r\n`);
    } else if (q.hidden || answer === undefined) {
      void this.#term.write("\n");
    }
    q.resolve(answer);
    this.#redraw();
  }

  /**
   * Reads the terminal until `/quit`, Ctrl-C, Ctrl-D on an empty line or
   * the end of input; commands run one at a time, in order.
   */
  async run(): Promise<ReplExit> {
    const decoder = new KeyDecoder();
    const reader = this.#term.input.getReader();
    const ended = new Promise<ReplExit>((resolve) => this.#finish = resolve);
    this.#term.setRaw(true);
    this.#redraw();
    const pump = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const key of decoder.push(value)) {
            this.#safeKey(key);
            if (this.#closed) return;
          }
        }
      } catch {
        // The input failed (terminal gone): end as at end of input.
      }
      this.#end("eof");
    })();
    const exit = await ended;
    await this.#commands;
    reader.releaseLock();
    void pump;
    this.#term.setRaw(false);
    return exit;
  }

  #end(exit: ReplExit): void {
    if (this.#finish === undefined) return;
    if (this.#question) this.#answer(undefined);
    const finish = this.#finish;
    this.#finish = undefined;
    // Let queued commands finish before the prompt goes away.
    void this.#commands.then(() => {
      if (this.#term.isTTY) void this.#term.write(`${CLEAR_ROW}`);
      this.#closed = true;
      finish(exit);
    });
  }

  /**
   * Handles one key; a bug in key handling prints a short line (the error's
   * class only: its message could quote the typed line, e.g. a secret) and
   * the REPL goes on. Only a failed input stream ends it (see `run`).
   */
  #safeKey(key: Parameters<LineEditor["handle"]>[0]): void {
    try {
      this.#key(key);
    } catch (e) {
      const kind = sanitize(e instanceof Error ? e.name : typeof e).slice(0, MAX_ERROR_NAME);
      this.print(errorLine(this.#style, `Handling that key failed unexpectedly (${kind})`));
    }
  }

  #key(key: Parameters<LineEditor["handle"]>[0]): void {
    const action = this.#editor.handle(key);
    switch (action.kind) {
      case "none":
        return;
      case "redraw":
        return this.#redraw();
      case "clear-screen":
        void this.#term.write("\x1b[2J\x1b[H");
        return this.#redraw();
      case "interrupt":
      case "eof":
        if (this.#question) return this.#answer(undefined);
        return this.#end(action.kind === "eof" ? "eof" : "interrupt");
      case "complete":
        return this.#complete();
      case "submit":
        if (this.#question) return this.#answer(action.line);
        return this.#submit(action.line);
    }
  }

  #complete(): void {
    const peer = this.#peer;
    const names = {
      conversations: peer ? peer.conversations().map((c) => c.name) : [],
      inbound: peer ? peer.inboundRequests().map((r) => r.name) : [],
    };
    const c = complete(this.#editor.line, this.#editor.cursor, names);
    this.#editor.set(c.line, c.cursor);
    if (c.candidates.length > 0) this.print(c.candidates.join("  "));
    else this.#redraw();
  }

  #submit(line: string): void {
    if (this.#term.isTTY) {
      // Leave the typed line on screen as a record of what ran.
      const plain = `${this.#name}> `;
      const shown = sessionEntry(line) === line ? line : `${sessionEntry(line) ?? ""}(hidden)`;
      void this.#term.write(`${CLEAR_ROW}${paint(this.#style, "dim", plain + shown)}\r\n`);
      this.#redraw();
    }
    const entry = sessionEntry(line);
    if (entry !== undefined) {
      this.#editor.remember(entry);
      this.#onHistory?.(this.#editor.history);
    }
    this.#commands = this.#commands.then(() => this.execute(line)).then((quit) => {
      if (quit) this.#end("quit");
    });
  }

  /** Runs one typed line; resolves true for `/quit`. Never throws. */
  async execute(line: string): Promise<boolean> {
    let name: string | undefined;
    try {
      const parsed = parseLine(line);
      if (parsed.kind === "empty") return false;
      if (parsed.kind === "text") {
        this.print(
          notice(
            this.#style,
            "Commands start with / (/help lists them); to send a message: /msg <name> <text>",
          ),
        );
        return false;
      }
      const { command } = parsed;
      let args = parsed.args;
      name = command.name;
      if (command.quits) {
        parseArgs(command, args);
        return true;
      }
      if (!this.#peer) {
        this.print(notice(this.#style, "Please wait: the peer is still starting"));
        return false;
      }
      if (command.name === "auth" && args.length === 1) {
        const secret = await askSecret(this.ask, args[0]!);
        if (secret === undefined) {
          this.print(notice(this.#style, "Authentication cancelled"));
          return false;
        }
        args = [args[0]!, secret];
      }
      const parsedArgs = parseArgs(command, args);
      command.check?.(this.#peer, parsedArgs); // e.g. `delete nobody` fails before asking
      if (command.name === "delete" && !(await confirmDelete(this.ask, args[0]!))) {
        this.print(notice(this.#style, "Not deleted"));
        return false;
      }
      const result = await command.run(this.#peer, parsedArgs);
      const ctx = { style: this.#style, levelOf: this.#levelOf, args, now: this.#now() };
      const text = resultText(command.name, result, ctx);
      if (text !== "") this.print(text);
    } catch (e) {
      this.print(errorText(this.#style, e, name));
    }
    return false;
  }
}
