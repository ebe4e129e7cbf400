/**
 * Sans-IO framer for replies on Tor's control port (control-spec §2.3): bytes
 * in, complete replies out. It owns line splitting, reply grouping, data
 * blocks with dot-stuffing, and the size bound; it knows nothing of sockets,
 * commands or the meaning of replies (see `control_parse.ts` for that).
 *
 * Grammar (control-spec §2.3):
 *
 *     Reply         = *(MidReplyLine / DataReplyLine) EndReplyLine
 *     MidReplyLine  = StatusCode "-" ReplyLine
 *     DataReplyLine = StatusCode "+" ReplyLine CmdData
 *     EndReplyLine  = StatusCode SP ReplyLine
 *
 * Asynchronous events (status 6xx, `650 ...`) are replies of the same shape;
 * tor writes each reply whole, so events arrive between replies, never inside
 * one. Truncated input means "need more" (`next()` returns `undefined`);
 * input that can never become a valid reply throws a `TorError`
 * (`control_malformed` or `control_too_large`), after which the framer is
 * failed and refuses further use.
 *
 * @module
 */

import { TorError } from "./errors.ts";

/**
 * Default bound on one reply (all its lines and data, line endings included).
 * The replies we ask for (PROTOCOLINFO, GETINFO of short keys, ADD_ONION,
 * events) are under a few KiB; 1 MiB leaves room for `GETINFO config-text` and
 * the like while keeping a broken or hostile peer from growing our memory.
 */
export const MAX_REPLY_BYTES = 1 << 20;

/** Smallest valid line: three digits and a separator (`"250 "`). */
const MIN_STATUS_LINE = 4;
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** One line of a reply; `data` is set on a DataReplyLine (`250+`). */
export interface ReplyLine {
  /** The ReplyText after the status code and separator. */
  readonly text: string;
  /** The un-dot-stuffed data block lines, joined with "\n". */
  readonly data?: string;
}

/** A complete reply: every line shares `status`; the last is the end line. */
export interface ControlReply {
  /** Three-digit status, e.g. 250, 552, 650. */
  readonly status: number;
  /** Lines in order; `lines[lines.length - 1]` is the EndReplyLine. */
  readonly lines: readonly ReplyLine[];
}

/** True for an asynchronous event reply (status 6xx, control-spec §4.1). */
export function isAsyncReply(reply: ControlReply): boolean {
  return reply.status >= 600 && reply.status < 700;
}

/** The text of a reply's end line (e.g. "OK" or tor's error message). */
export function endText(reply: ControlReply): string {
  return reply.lines[reply.lines.length - 1]?.text ?? "";
}

/** Options of {@linkcode ReplyFramer}. */
export interface ReplyFramerOptions {
  /** Bound on one reply in bytes; default {@linkcode MAX_REPLY_BYTES}. */
  maxReplyBytes?: number;
}

const textDecoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Incremental reply framer. Feed bytes with {@linkcode ReplyFramer.push},
 * then call {@linkcode ReplyFramer.next} until it returns `undefined`.
 */
export class ReplyFramer {
  readonly #max: number;
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  /** Index from which to look for the next LF (bytes before have none). */
  #scan = 0;
  /** "line": expecting a status line; "data": inside a `+` data block. */
  #state: "line" | "data" = "line";
  #status = 0;
  #lines: ReplyLine[] = [];
  #dataLines: string[] = [];
  #replyBytes = 0;
  #failure: TorError | undefined;

  /** A framer with an empty buffer. */
  constructor(options: ReplyFramerOptions = {}) {
    const max = options.maxReplyBytes ?? MAX_REPLY_BYTES;
    if (!Number.isSafeInteger(max) || max < MIN_STATUS_LINE + 2) {
      throw new RangeError(`Cannot create framer: maxReplyBytes ${max} is too small`);
    }
    this.#max = max;
  }

  /** Appends received bytes; callers drain with `next()` after each push. */
  push(bytes: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (bytes.length === 0) return;
    const used = this.#end - this.#start;
    if (this.#end + bytes.length > this.#buf.length) {
      let size = this.#buf.length;
      while (size < used + bytes.length) size *= 2;
      if (size === this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(size);
        grown.set(this.#buf.subarray(this.#start, this.#end), 0);
        this.#buf = grown;
      }
      this.#scan -= this.#start;
      this.#start = 0;
      this.#end = used;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  /**
   * The next complete reply, or `undefined` when more bytes are needed.
   * Throws a `TorError` when the input is malformed or too large.
   */
  next(): ControlReply | undefined {
    if (this.#failure) throw this.#failure;
    try {
      return this.#next();
    } catch (e) {
      if (e instanceof TorError) this.#failure = e;
      throw e;
    }
  }

  /** True when no partial reply is buffered (a clean place to stop). */
  get idle(): boolean {
    return this.#end === this.#start && this.#lines.length === 0 && this.#state === "line";
  }

  #next(): ControlReply | undefined {
    for (;;) {
      const lf = this.#buf.subarray(this.#scan, this.#end).indexOf(LF);
      if (lf < 0) {
        this.#scan = this.#end;
        this.#checkSize(this.#end - this.#start);
        return undefined;
      }
      const lineEnd = this.#scan + lf;
      const consumed = lineEnd + 1 - this.#start;
      this.#checkSize(consumed);
      this.#replyBytes += consumed;
      // control-spec §2.1: tor ends lines with CRLF; a bare LF is tolerated.
      const contentEnd = lineEnd > this.#start && this.#buf[lineEnd - 1] === CR
        ? lineEnd - 1
        : lineEnd;
      const line = this.#buf.subarray(this.#start, contentEnd);
      this.#start = lineEnd + 1;
      this.#scan = this.#start;
      const reply = this.#state === "data" ? this.#dataLine(line) : this.#statusLine(line);
      if (reply) return reply;
    }
  }

  #checkSize(pending: number): void {
    if (this.#replyBytes + pending > this.#max) {
      throw new TorError(
        "control_too_large",
        `Control reply exceeds ${this.#max} bytes`,
      );
    }
  }

  #statusLine(line: Uint8Array): ControlReply | undefined {
    if (line.length < MIN_STATUS_LINE) throw malformed("a status line is too short");
    const [d0, d1, d2, sep] = [line[0]!, line[1]!, line[2]!, line[3]!];
    // control-spec §4: status classes 2xx (ok), 4xx/5xx (errors), 6xx (async).
    if (d0 < 0x32 || d0 > 0x36 || !isDigit(d1) || !isDigit(d2)) {
      throw malformed("a line does not start with a status code");
    }
    const status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
    // control-spec §2.3: all lines of one reply share the same status code.
    if (this.#lines.length > 0 && status !== this.#status) {
      throw malformed(`status ${status} inside a reply with status ${this.#status}`);
    }
    this.#status = status;
    const text = textDecoder.decode(line.subarray(MIN_STATUS_LINE));
    if (sep === 0x2d /* - */) {
      this.#lines.push({ text });
      return undefined;
    }
    if (sep === 0x2b /* + */) {
      this.#lines.push({ text });
      this.#state = "data";
      this.#dataLines = [];
      return undefined;
    }
    if (sep !== 0x20 /* SP */) throw malformed("a status code is followed by an unknown separator");
    this.#lines.push({ text });
    const reply: ControlReply = { status, lines: this.#lines };
    this.#lines = [];
    this.#replyBytes = 0;
    return reply;
  }

  #dataLine(line: Uint8Array): undefined {
    // control-spec §2.4 CmdData: ends with "." CRLF; leading dots are doubled.
    if (line.length === 1 && line[0] === DOT) {
      const last = this.#lines.pop()!;
      this.#lines.push({ text: last.text, data: this.#dataLines.join("\n") });
      this.#dataLines = [];
      this.#state = "line";
      return undefined;
    }
    const unstuffed = line.length > 0 && line[0] === DOT ? line.subarray(1) : line;
    this.#dataLines.push(textDecoder.decode(unstuffed));
    return undefined;
  }
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function malformed(what: string): TorError {
  return new TorError("control_malformed", `Malformed control reply: ${what}`);
}
