/**
 * Tor's recent log messages, kept in memory for `/tor-log`: the NOTICE, WARN
 * and ERR events (control-spec §4.1.5) of every control connection it
 * follows, in one bounded ring, so the lines of a tor that died stay
 * readable after it was restarted. Works the same for a tor we launched and
 * one we attached to (which may log to a file we cannot read). Owns no
 * connection: it subscribes to a {@linkcode TorControl}.
 *
 * @module
 */

import type { ControlEvent, TorControl } from "./control.ts";

/** Lines kept (enough for a stuck bootstrap's story, small in memory). */
export const MAX_TOR_LOG_LINES = 200;
/** Longest line kept; the rest is cut (tor's own lines are far shorter). */
export const MAX_TOR_LOG_LINE_CHARS = 1000;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
/** The severities followed (INFO and DEBUG would flood the ring). */
const SEVERITIES = ["NOTICE", "WARN", "ERR"] as const;

/** One line of tor's log. */
export interface TorLogLine {
  /** When we received it (ms since the epoch). */
  at: number;
  /** tor's severity. */
  severity: "notice" | "warn" | "err";
  /** The message, as tor logged it (cut to `MAX_TOR_LOG_LINE_CHARS`). */
  text: string;
}

/** The ring of recent lines; see the module header. */
export class TorLog {
  readonly #lines: TorLogLine[] = [];
  readonly #now: () => number;

  /** An empty log; `now` stamps the lines. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Adds a line (cut to {@linkcode MAX_TOR_LOG_LINE_CHARS}), dropping the oldest past the bound. */
  add(severity: TorLogLine["severity"], text: string): void {
    const cut = text.length > MAX_TOR_LOG_LINE_CHARS
      ? `${text.slice(0, MAX_TOR_LOG_LINE_CHARS - 1)}…`
      : text;
    // A copy, not a slice: V8 keeps the whole string a slice was cut from, so
    // 200 lines of 1 MiB replies would hold 200 MiB. (A surrogate pair split
    // by the cut becomes U+FFFD.)
    const kept = utf8Decoder.decode(utf8Encoder.encode(cut));
    this.#lines.push({ at: this.#now(), severity, text: kept });
    if (this.#lines.length > MAX_TOR_LOG_LINES) this.#lines.shift();
  }

  /** The last `count` lines (at most {@linkcode MAX_TOR_LOG_LINES}), oldest first. */
  recent(count: number = MAX_TOR_LOG_LINES): TorLogLine[] {
    return this.#lines.slice(-Math.max(0, Math.floor(count))).map((l) => ({ ...l }));
  }

  /** The most recent WARN or ERR line, if any. */
  lastWarning(): TorLogLine | undefined {
    for (let i = this.#lines.length - 1; i >= 0; i--) {
      if (this.#lines[i]!.severity !== "notice") return { ...this.#lines[i]! };
    }
    return undefined;
  }

  /**
   * Follows `control`'s log events until it closes (events are enabled in
   * addition to those already on). Resolves once tor has accepted SETEVENTS.
   */
  async follow(control: TorControl): Promise<void> {
    const offs = SEVERITIES.map((name) => control.onEvent(name, (e) => this.#onEvent(name, e)));
    const off = control.onClose(() => {
      for (const f of offs) f();
      off();
    });
    await control.addEvents(...SEVERITIES);
  }

  #onEvent(name: (typeof SEVERITIES)[number], e: ControlEvent): void {
    const severity = name === "NOTICE" ? "notice" : name === "WARN" ? "warn" : "err";
    // A one-line event carries its text after the name; a long one (650+) as data.
    const texts = e.text !== ""
      ? [e.text]
      : e.reply.lines.flatMap((l) => (l.data ?? "").split(/\r?\n/)).filter((t) => t !== "");
    for (const text of texts) this.add(severity, text);
  }
}
