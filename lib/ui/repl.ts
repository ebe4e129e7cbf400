/**
 * The interactive command line (README.md, "Commands"): reads keys from a
 * {@linkcode Terminal}, edits the line (`line_editor.ts`), runs `/commands`
 * of the shared registry against the core one at a time, and prints their
 * results and the core's events (`repl_events.ts`) above the input line
 * without disturbing what is being typed, through one bounded output queue
 * (`screen.ts`). It never exits the process: {@linkcode Repl.run} resolves
 * with why it ended, and the caller shuts the peer down.
 *
 * Without a TTY (piped input) the same loop reads lines: no prompt, no
 * redraws, no colours.
 *
 * @module
 */

import { bounded } from "../deadline.ts";
import { MAX_TEXT_BYTES } from "../peer/records.ts";
import type { EventSink, IdentityInfo, Level, PeerEvent } from "../peer/types.ts";
import type { CommandPeer } from "./commands.ts";
import { parseArgs } from "./commands.ts";
import { complete } from "./completion.ts";
import { sessionEntry } from "./history.ts";
import { type Key, KeyDecoder, PASTE_IDLE_MS } from "./keys.ts";
import { LINE_BREAK_MARK, LineEditor, MAX_LINE_LENGTH } from "./line_editor.ts";
import { parseLine } from "./line_parse.ts";
import { progressLine, readyBanner } from "./progress.ts";
import { type Ask, askSecret, confirmDelete } from "./prompts.ts";
import { errorLine, notice, paint, sanitize, type Style } from "./render.ts";
import { EventView } from "./repl_events.ts";
import { errorText, resultText } from "./results.ts";
import { Screen } from "./screen.ts";
import type { Terminal } from "./terminal.ts";
import { fitWidth, textWidth } from "./width.ts";

/** Longest error class name shown when handling a key fails. */
const MAX_ERROR_NAME = 40;
/** Rows at most of the record of a submitted line (the message line shows the text whole). */
const MAX_ECHO_ROWS = 3;
/** Longest wait at the end for queued output to reach a terminal that may not read. */
export const END_FLUSH_TIMEOUT_MS = 2_000;

/**
 * Columns of the line always left beside the prompt (the line editor's
 * least room): a longer name in the prompt is cut, as a row that wraps
 * leaves a row behind at every redraw.
 */
const MIN_TYPED_COLUMNS = 8;

/** `prompt` cut to `columns`, keeping its end (`> `). */
function fitPrompt(prompt: string, columns: number): string {
  if (textWidth(prompt) <= columns) return prompt;
  const tail = /\S?\s*$/.exec(prompt)![0];
  return fitWidth(
    prompt.slice(0, -tail.length || undefined),
    Math.max(1, columns - textWidth(tail)),
  ) +
    tail;
}

/** `/auth <name>` with no secret: the command asks for it (see `execute`). */
const ASKS_SECRET = /^\s*\/auth\s+\S+\s*$/i;

/** Why {@linkcode Repl.run} ended. */
export type ReplExit = "quit" | "interrupt" | "eof";

/** Options of {@linkcode Repl}. */
export interface ReplOptions {
  /** Where keys come from and lines go. */
  terminal: Terminal;
  /** Lines recalled with Up (oldest first), e.g. from `loadHistory`. */
  history?: readonly string[];
  /** Called after each remembered line (to persist the history). */
  onHistory?: (history: readonly string[]) => void;
  /** The clock of the lines' times (default `Date.now`). */
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
  readonly #screen: Screen;
  readonly #view: EventView;
  #peer: CommandPeer | undefined;
  #name = "";
  #question: Question | undefined;
  /**
   * Set from `/auth <name>` Enter until its question is asked: a line typed
   * (or pasted without bracketed paste) meanwhile is the secret, kept here,
   * never drawn, echoed or remembered.
   */
  #early: { answer: string | undefined } | undefined;
  #commands: Promise<void> = Promise.resolve();
  #finish: ((exit: ReplExit) => void) | undefined;
  /** True once the REPL has ended: the row is gone and nothing more is printed. */
  #closed = false;
  /** The progress bar drawn in place of the row, until the peer is ready. */
  #progress: string | undefined;
  #lastPhase = "";

  /** A REPL on `options.terminal`; it reads keys once {@linkcode run} is called. */
  constructor(options: ReplOptions) {
    this.#term = options.terminal;
    this.#style = { color: options.terminal.color };
    this.#editor = new LineEditor(options.history ?? []);
    this.#now = options.now ?? Date.now;
    this.#onHistory = options.onHistory;
    this.#screen = new Screen(this.#term, this.#style, () => this.#row());
    this.#view = new EventView({
      screen: this.#screen,
      style: this.#style,
      levelOf: this.#levelOf,
      now: this.#now,
      columns: () => this.#term.columns(),
    });
  }

  /** The style in use (colours or level words). */
  get style(): Style {
    return this.#style;
  }

  /** The history of this session (oldest first). */
  get history(): readonly string[] {
    return this.#editor.history;
  }

  /** The output queue (its bounds are in `screen.ts`). */
  get screen(): Screen {
    return this.#screen;
  }

  /**
   * The event sink to give the core (usable before {@linkcode attach}):
   * resolves once the event's line is written to the terminal, rejects
   * once the REPL has ended or when the terminal does not keep up (not
   * shown: the core does not acknowledge the message, its sender re-sends).
   */
  readonly onEvent: EventSink = (event) => this.#event(event);

  /** Connects the started peer; the prompt appears. */
  attach(peer: CommandPeer, identity: IdentityInfo): void {
    this.#peer = peer;
    this.#name = identity.name;
    this.#screen.redraw();
  }

  /** Prints `text` above the input line (the line being typed survives). */
  print(text: string): void {
    this.#print(text).catch(() => {});
  }

  /** Prints `text`; resolves once written, rejects if the REPL has ended. */
  #print(text: string): Promise<void> {
    return this.#screen.print(text);
  }

  #levelOf = (name: string): Level | undefined => {
    try {
      return this.#peer?.conversations().find((c) => c.name === name)?.level;
    } catch {
      return undefined;
    }
  };

  #event(e: PeerEvent): void | Promise<void> {
    if (this.#closed) return Promise.reject(new Error("Cannot show the event: the REPL has ended"));
    if (e.event === "bootstrap") {
      // The bar stands in for the prompt until the peer runs; a tor restarted
      // later says so in `tor` events, and the prompt stays.
      if (!this.#peer) this.#showProgress(e.progress, e.summary);
      if (e.problem === undefined) return;
    }
    if (e.event === "ready") {
      // The finished bar stays on screen above the banner.
      if (this.#progress !== undefined) this.print(this.#progress);
      this.#progress = undefined;
      this.print(readyBanner(this.#style, e.identity));
      return;
    }
    return this.#view.show(e);
  }

  #showProgress(progress: number, summary: string): void {
    const line = progressLine(this.#style, progress, summary, this.#term.columns());
    if (this.#term.isTTY) {
      this.#progress = line;
      this.#screen.redraw();
    } else if (summary !== this.#lastPhase) {
      this.#screen.print(line, "notice").catch(() => {});
    }
    this.#lastPhase = summary;
  }

  /** The row as drawn: the progress bar, or the prompt and line (nothing before the peer). */
  #row(): string {
    if (!this.#term.isTTY || this.#closed) return "";
    if (this.#progress !== undefined && !this.#question) return `\r\x1b[K${this.#progress}`;
    if (!this.#peer && !this.#question) return "";
    const q = this.#question;
    const columns = this.#term.columns();
    // A question is shown whole (it is what the user must read); a long name is cut.
    const plain = q ? q.prompt : fitPrompt(`${this.#name}> `, columns - MIN_TYPED_COLUMNS - 1);
    const prompt = q ? paint(this.#style, "yellow", plain) : paint(this.#style, "bold", plain);
    return this.#editor.render(prompt, textWidth(plain), columns);
  }

  /** Asks a question on the input line (see `prompts.ts`). */
  readonly ask: Ask = (question, { hidden }) => {
    if (this.#question) return Promise.resolve(undefined);
    const early = hidden ? this.#early : undefined;
    if (early) {
      this.#early = undefined;
      this.#editor.hidden = false;
      this.#screen.redraw();
      if (early.answer !== undefined) {
        if (this.#term.isTTY) this.print(`${question}(hidden)`);
        return Promise.resolve(early.answer);
      }
    }
    return new Promise((resolve) => {
      this.#editor.set("");
      this.#editor.hidden = hidden;
      this.#question = { prompt: question, hidden, resolve };
      if (!this.#term.isTTY) void this.#screen.control(question).catch(() => {});
      this.#screen.redraw();
    });
  };

  #answer(answer: string | undefined): void {
    const q = this.#question!;
    this.#question = undefined;
    this.#editor.hidden = false;
    if (this.#term.isTTY) {
      // The question stays on screen; a hidden answer never appears.
      const shown = q.hidden ? (answer === undefined ? "(cancelled)" : "(hidden)") : answer ?? "";
      this.print(`${q.prompt}${this.#echo(shown, textWidth(q.prompt))}`);
    } else if (q.hidden || answer === undefined) {
      void this.#screen.control("\n").catch(() => {});
    }
    q.resolve(answer);
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
    this.#screen.redraw();
    // A paste whose end marker does not come is ended after a pause (keys.ts).
    let idle: ReturnType<typeof setTimeout> | undefined;
    const endPaste = () => {
      idle = undefined;
      for (const key of decoder.endPaste()) this.#safeKey(key);
    };
    const pump = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          clearTimeout(idle);
          if (done) break;
          for (const key of decoder.push(value)) {
            this.#safeKey(key);
            if (this.#closed) return;
          }
          if (decoder.pasting) idle = setTimeout(endPaste, PASTE_IDLE_MS);
        }
      } catch {
        // The input failed (terminal gone): end as at end of input.
      }
      this.#end("eof");
    })();
    const exit = await ended;
    clearTimeout(idle);
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
    // Let queued commands finish and their output reach the terminal (bounded)
    // before the prompt goes away.
    void this.#commands.then(async () => {
      this.#closed = true;
      this.#screen.redraw();
      await bounded(this.#screen.flushed(), END_FLUSH_TIMEOUT_MS);
      this.#screen.close();
      if (this.#term.isTTY) await this.#term.write("\r\x1b[K");
      finish(exit);
    });
  }

  /**
   * Handles one key; a bug in key handling prints a short line (the error's
   * class only: its message could quote the typed line, e.g. a secret) and
   * the REPL goes on. Only a failed input stream ends it (see `run`).
   */
  #safeKey(key: Key): void {
    try {
      this.#key(key);
    } catch (e) {
      const kind = sanitize(e instanceof Error ? e.name : typeof e).slice(0, MAX_ERROR_NAME);
      this.print(errorLine(this.#style, `Handling that key failed unexpectedly (${kind})`));
    }
  }

  #key(key: Key): void {
    const action = this.#editor.handle(key);
    switch (action.kind) {
      case "none":
        return;
      case "redraw":
        return this.#screen.redraw();
      case "clear-screen":
        void this.#screen.control("\x1b[2J\x1b[H");
        return this.#screen.redraw();
      case "too-long":
        return this.print(errorLine(
          this.#style,
          `That text was not inserted: the line would have ${action.length} characters, and ` +
            `at most ${MAX_LINE_LENGTH} fit (a message holds up to ${MAX_TEXT_BYTES} bytes ` +
            `of UTF-8); send it in parts`,
        ));
      case "interrupt":
      case "eof":
        if (this.#question) return this.#answer(undefined);
        return this.#end(action.kind === "eof" ? "eof" : "interrupt");
      case "complete":
        return this.#complete();
      case "submit":
        if (this.#question) return this.#answer(action.line);
        if (this.#early && this.#early.answer === undefined) {
          this.#early.answer = action.line; // the secret, typed before it was asked
          return;
        }
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
    else this.#screen.redraw();
  }

  /**
   * `text` after a prompt of `used` columns, line breaks as ↵, in at most
   * {@linkcode MAX_ECHO_ROWS} rows: a longer one is cut with `…` and a count.
   */
  #echo(text: string, used: number): string {
    const flat = sanitize(text.replace(/\r?\n/g, LINE_BREAK_MARK));
    const room = Math.max(8, this.#term.columns() * MAX_ECHO_ROWS - used - 1);
    if (textWidth(flat) <= room) return flat;
    const more = ` (${flat.length} characters)`;
    return fitWidth(flat, room - more.length) + more;
  }

  #submit(line: string): void {
    const entry = sessionEntry(line);
    const early = ASKS_SECRET.test(line) ? { answer: undefined } : undefined;
    if (early) {
      // What is typed from now on, until the question comes, is the secret.
      this.#early = early;
      this.#editor.hidden = true;
    }
    if (this.#term.isTTY) {
      // Leave the typed line on screen as a record of what ran (never an
      // /auth secret; a long paste in a few rows: its message line shows it whole).
      const plain = `${this.#name}> `;
      const shown = entry === line ? line : line.trim() === "" ? "" : `${entry}(hidden)`;
      const row = plain + this.#echo(shown, textWidth(plain));
      this.print(paint(this.#style, "dim", row.trimEnd()));
    }
    if (entry !== undefined) {
      this.#editor.remember(entry);
      this.#onHistory?.(this.#editor.history);
    }
    this.#commands = this.#commands.then(() => this.execute(line)).then((quit) => {
      if (early && this.#early === early) {
        // The command ended without asking (the peer was still starting ...).
        this.#early = undefined;
        if (!this.#question) this.#editor.hidden = false;
        this.#screen.redraw();
      }
      if (quit) this.#end("quit");
    });
  }

  /** Runs one typed line; resolves true for `/quit`. Never throws. */
  async execute(line: string): Promise<boolean> {
    let name: string | undefined;
    const say = (text: string) => this.#print(text).catch(() => {});
    try {
      const parsed = parseLine(line);
      if (parsed.kind === "empty") return false;
      if (parsed.kind === "text") {
        await say(notice(
          this.#style,
          "Commands start with / (/help lists them); to send a message: /msg <name> <text>",
        ));
        return false;
      }
      const { command } = parsed;
      let args = parsed.args;
      name = command.name;
      if (command.quits) {
        parseArgs(command, args);
        return true;
      }
      if (command.only === "repl") {
        parseArgs(command, args);
        await say(this.#view.warningsText());
        return false;
      }
      const peer = this.#peer;
      if (!peer) {
        await say(notice(this.#style, "Please wait: the peer is still starting"));
        return false;
      }
      if (command.name === "auth" && args.length === 1) {
        const secret = await askSecret(this.ask, args[0]!);
        if (secret === undefined) {
          await say(notice(this.#style, "Authentication cancelled"));
          return false;
        }
        args = [args[0]!, secret];
      }
      const parsedArgs = parseArgs(command, args);
      command.check?.(peer, parsedArgs); // e.g. `delete nobody` fails before asking
      if (command.name === "delete" && !(await confirmDelete(this.ask, args[0]!))) {
        await say(notice(this.#style, "Not deleted"));
        return false;
      }
      const result = await command.run(peer, parsedArgs);
      // Before anything waits: its delivery may come back at once.
      const queued = command.name === "msg" ? this.#sentMessage(peer, args, result) : false;
      const ctx = { style: this.#style, levelOf: this.#levelOf, args, now: this.#now() };
      const text = resultText(command.name, result, ctx);
      if (text !== "") await say(text);
      if (queued) {
        await say(notice(
          this.#style,
          `queued for ${paint(this.#style, "bold", sanitize(args[0] ?? ""))} (offline): ` +
            "it goes when they are back online",
        ));
      }
    } catch (e) {
      await say(errorText(this.#style, e, name));
    }
    return false;
  }

  /** After `/msg`: remembers the message for its delivery notice; true when it waits. */
  #sentMessage(peer: CommandPeer, args: readonly string[], result: unknown): boolean {
    const [to = "", text = ""] = args;
    const r = result as { id?: unknown; queued?: unknown };
    if (typeof r.id === "string") this.#view.sent(r.id, text);
    if (typeof r.queued === "boolean") return r.queued;
    const conv = peer.conversations().find((c) => c.name === to);
    return conv !== undefined && !conv.online;
  }
}
