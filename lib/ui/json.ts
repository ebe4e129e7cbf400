/**
 * The machine interface (`unmessage --json`): one JSON object per line in
 * each direction.
 *
 * - stdin, a command: `{"id": 7, "cmd": "msg", "args": ["bob", "hello"]}`
 *   (`id`: a number or string chosen by the caller; `args` optional).
 * - stdout, a reply: `{"id": 7, "ok": true, "result": ...}` or
 *   `{"id": 7, "ok": false, "error": {"code": "...", "message": "..."}}`.
 * - stdout, an event: `{"event": "message", ...}` (see `PeerEvent`).
 *
 * Bad input never ends the loop: invalid JSON, a missing or wrong field, an
 * oversized line each get an error reply (`id` null when it could not be
 * read). Commands run one at a time, in the order received, so replies come
 * in order. End of input is a clean quit, like the `quit` command. Nothing but
 * protocol lines is written to the output; diagnostics go to `log`. The
 * output is bounded (see {@linkcode LineWriter}): a reader that stops
 * reading stalls replies and messages, and loses only warnings and
 * progress, counted in one `output_dropped` warning.
 *
 * @module
 */

import { isUnmessageError } from "../errors.ts";
import { readLines } from "../lines.ts";
import { MAX_TEXT_BYTES } from "../peer/records.ts";
import { DROPPABLE_EVENTS, type EventSink } from "../peer/types.ts";
import { type CommandPeer, type JsonValue, runCommand } from "./commands.ts";

/**
 * Longest accepted input line in bytes; longer lines get `line_too_long`.
 * Room for the longest message the core sends with every character escaped
 * (`\u0001` is 6 bytes for 1), and for the command around it.
 */
export const MAX_LINE_BYTES: number = 6 * MAX_TEXT_BYTES + 64 * 1024;
/** Longest accepted `id` string. */
const MAX_ID_LENGTH = 128;

/** A reply or event line, as written (without the newline). */
export type JsonLine = Record<string, unknown>;

/**
 * Queued output past which warnings and progress lines are dropped (and
 * counted) rather than queued: a reader that stops reading must not make
 * memory grow. About a thousand lines.
 */
export const DROP_ABOVE_QUEUED_BYTES = 256 * 1024;

interface Queued {
  readonly bytes: Uint8Array;
  readonly done: (written: boolean) => void;
}

/**
 * Serialises lines to one output so they never interleave, in order.
 * Lines written with {@linkcode LineWriter.write} are never dropped: their
 * promise resolves once written, and their producers wait for it (the core
 * stops reading the network while many wait; the command loop waits for
 * each reply). Lines written with {@linkcode LineWriter.writeDroppable}
 * (warnings, progress) are dropped and counted once
 * {@linkcode DROP_ABOVE_QUEUED_BYTES} are queued; when the output catches
 * up, one `output_dropped` warning says how many.
 */
export class LineWriter {
  readonly #write: (bytes: Uint8Array) => Promise<unknown>;
  readonly #encoder = new TextEncoder();
  readonly #queue: Queued[] = [];
  #queuedBytes = 0;
  #pumping: Promise<void> | null = null;
  #broken = false;
  #dropped = 0;
  #droppedTotal = 0;

  /** `write` must write all the bytes given (e.g. a WritableStream writer). */
  constructor(write: (bytes: Uint8Array) => Promise<unknown>) {
    this.#write = write;
  }

  /** Lines dropped so far by {@linkcode writeDroppable}. */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Queues one object as a line; resolves once written (never rejects). */
  send(line: JsonLine): Promise<void> {
    return this.write(line).then(() => {});
  }

  /** Queues one object as a line; resolves once written (true) or lost (false, output gone). */
  write(line: JsonLine): Promise<boolean> {
    if (this.#broken) return Promise.resolve(false);
    const bytes = this.#encode(line);
    return new Promise((done) => this.#enqueue({ bytes, done }));
  }

  /**
   * Queues one droppable line (a warning, progress) unless the queue holds
   * {@linkcode DROP_ABOVE_QUEUED_BYTES} already; then it is dropped and
   * counted. Returns whether it was queued.
   */
  writeDroppable(line: JsonLine): boolean {
    if (this.#broken) return false;
    if (this.#queuedBytes >= DROP_ABOVE_QUEUED_BYTES) {
      this.#dropped++;
      this.#droppedTotal++;
      return false;
    }
    this.#enqueue({ bytes: this.#encode(line), done: () => {} });
    return true;
  }

  /** Resolves once every queued line is written (or lost). */
  async flush(): Promise<void> {
    while (this.#pumping !== null) await this.#pumping;
  }

  #encode(line: JsonLine): Uint8Array {
    return this.#encoder.encode(JSON.stringify(line) + "\n");
  }

  #enqueue(item: Queued): void {
    this.#queue.push(item);
    this.#queuedBytes += item.bytes.length;
    this.#pumping ??= this.#pump();
  }

  async #pump(): Promise<void> {
    for (let item = this.#queue[0]; item !== undefined; item = this.#queue[0]) {
      let written = false;
      if (!this.#broken) {
        try {
          await this.#write(item.bytes);
          written = true;
        } catch {
          // The reader went away (broken pipe): nothing more can be said.
          this.#broken = true;
        }
      }
      this.#queue.shift();
      this.#queuedBytes -= item.bytes.length;
      item.done(written);
      if (this.#queue.length === 0 && this.#dropped > 0 && !this.#broken) {
        // caught up: say what was lost (itself never dropped)
        const count = this.#dropped;
        this.#dropped = 0;
        const message = `Dropped ${count} warning and progress lines: the output was not read ` +
          "fast enough (messages and replies are never dropped)";
        this.#enqueue({
          bytes: this.#encode({ event: "warning", code: "output_dropped", message, count }),
          done: () => {},
        });
      }
    }
    this.#pumping = null;
  }
}

/**
 * An event sink that writes each event as one line. For an event that
 * must not be lost, its promise resolves once the line is written (the
 * core acknowledges a received message only then, and stops reading the
 * network while many wait) and rejects if the output is gone; droppable
 * events (`DROPPABLE_EVENTS`: warnings, progress) are queued without a
 * promise, or dropped and counted when the output falls behind. After a
 * crash a message may be written again with the same `id`: readers
 * de-duplicate by `id`.
 */
export function jsonEventSink(writer: LineWriter): EventSink {
  return (event) => {
    if (DROPPABLE_EVENTS.has(event.event)) {
      writer.writeDroppable({ ...event });
      return;
    }
    const shown = writer.write({ ...event }).then((written) => {
      if (!written) throw new Error("Cannot write the event: the output is closed");
    });
    shown.catch(() => {}); // a caller that ignores the promise gets no unhandled rejection
    return shown;
  };
}

/** Options of {@linkcode runJsonInterface}. */
export interface JsonInterfaceOptions {
  /** Command lines (stdin). */
  input: ReadableStream<Uint8Array>;
  /** Where replies go (the same writer as events). */
  writer: LineWriter;
  /** The core. */
  peer: CommandPeer;
  /** Diagnostics (stderr); default: nothing. */
  log?: (message: string) => void;
}

/** How the loop ended. */
export type JsonExit = "quit" | "eof";

type Id = number | string | null;

/** A reply carrying an error. */
function errorReply(id: Id, code: string, message: string, extra: JsonLine = {}): JsonLine {
  return { id, ok: false, error: { code, message, ...extra } };
}

/**
 * Reads commands until `quit` or end of input, replying to each; see the
 * module header. Resolves once the last reply is written.
 */
export async function runJsonInterface(options: JsonInterfaceOptions): Promise<JsonExit> {
  const { writer, peer } = options;
  const log = options.log ?? (() => {});
  for await (const line of readLines(options.input, MAX_LINE_BYTES)) {
    if (line === null) {
      await writer.send(
        errorReply(null, "line_too_long", `A line exceeds ${MAX_LINE_BYTES} bytes`),
      );
      continue;
    }
    if (line.trim() === "") continue;
    const reply = await handleLine(line, peer, log);
    await writer.send(reply.line);
    if (reply.quit) return "quit";
  }
  await writer.flush();
  return "eof";
}

/** Handles one command line; returns the reply and whether to quit. */
export async function handleLine(
  line: string,
  peer: CommandPeer,
  log: (message: string) => void = () => {},
): Promise<{ line: JsonLine; quit: boolean }> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { line: errorReply(null, "bad_json", "A line is not valid JSON"), quit: false };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      line: errorReply(null, "bad_request", "A command must be a JSON object"),
      quit: false,
    };
  }
  const { id: rawId, cmd, args: rawArgs } = value as Record<string, unknown>;
  const idOk = rawId === undefined || rawId === null ||
    (typeof rawId === "number" && Number.isFinite(rawId)) ||
    (typeof rawId === "string" && rawId.length <= MAX_ID_LENGTH);
  const id: Id = idOk && rawId !== undefined ? rawId as Id : null;
  const bad = (message: string) => ({ line: errorReply(id, "bad_request", message), quit: false });
  if (!idOk) return bad(`"id" must be a number or a string of at most ${MAX_ID_LENGTH} characters`);
  if (typeof cmd !== "string" || cmd === "") return bad(`"cmd" must be a command name`);
  const args = rawArgs ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    return bad(`"args" must be an array of strings`);
  }
  try {
    const { command, result } = await runCommand(peer, cmd, args as string[]);
    return { line: { id, ok: true, result: result as JsonValue }, quit: command.quits === true };
  } catch (e) {
    if (isUnmessageError(e)) {
      const { code, message, ...extra } = e.toJSON() as JsonLine & {
        code: string;
        message: string;
      };
      return { line: errorReply(id, code, message, extra), quit: false };
    }
    // A bug, not a user mistake: keep running, say little, log the rest.
    log(`command ${cmd} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return { line: errorReply(id, "internal", `Command ${cmd} failed unexpectedly`), quit: false };
  }
}
