/**
 * How the REPL shows the core's events (one line each through the
 * {@linkcode Screen}, `render.ts` for the words), with the rules that
 * need memory:
 *
 * - a received message is shown once per `id` (a copy re-sent while the
 *   first waits for the terminal, or after a crash, is not printed again);
 * - an SMP match and the level it raised are one line;
 * - delivery notices name the message by a short excerpt of its text, and
 *   deliveries to one contact in a row collapse into one line with a count
 *   (an offline queue flushed at reconnect is one line, not five);
 * - warnings about the transport (dropped packets, refused connections)
 *   are counted quietly, per code: `/warnings` lists them, and the first one
 *   of a session says so once. Warnings the user can act on are shown.
 *
 * Lines are `event` (never dropped: shown, or the core waits) or `notice`
 * (warnings and connection trouble, droppable when the terminal does not
 * keep up), see `screen.ts`.
 *
 * @module
 */

import type { Level, PeerEvent } from "../peer/types.ts";
import {
  authMatchLine,
  clock,
  eventLine,
  notice,
  paint,
  peerName,
  sanitize,
  type Style,
} from "./render.ts";
import type { LineKind, Screen } from "./screen.ts";
import { fitWidth } from "./width.ts";

/** Warning codes shown as lines: the user can do something about them. */
const SHOWN_WARNINGS: ReadonlySet<string> = new Set([
  "config", // the last peer used could not be remembered
  "descriptor_timeout", // contacts cannot reach us yet
  "too_many_requests", // answer some requests
]);
/** Sent messages remembered for their delivery notice (oldest forgotten first). */
export const MAX_TRACKED_SENT = 1000;
/** Received message IDs remembered to show each message once. */
const MAX_SHOWN_IDS = 4096;
/** Columns of a message excerpt in a delivery notice. */
const EXCERPT_COLUMNS = 24;
/** Warning codes (and reasons per code) counted apart at most; the rest count under `other`. */
const MAX_WARNING_CODES = 64;
/** Longest reason code kept. */
const MAX_REASON_LENGTH = 40;

/** What `/warnings` lists for one code. */
export interface WarningCount {
  /** The warning's stable code (`other` past the codes counted apart). */
  code: string;
  /** How many came since the start. */
  count: number;
  /** For aggregated warnings, how many of each reason (e.g. `unknown_packet`). */
  reasons: Record<string, number>;
  /** The latest message and when it came. */
  last: string;
  /** When the latest came (ms since the epoch). */
  at: number;
}

/** A delivery line that may still grow (the last line printed). */
interface DeliveryRun {
  name: string;
  count: number;
  first: string | undefined;
  last: string | undefined;
}

/** See the module header. */
export class EventView {
  readonly #screen: Screen;
  readonly #style: Style;
  readonly #levelOf: (name: string) => Level | undefined;
  readonly #now: () => number;
  readonly #columns: () => number;
  /** Sent message id → excerpt of its text. */
  readonly #sent = new Map<string, string>();
  /** Received message ids being shown (→ the promise) or shown (→ undefined). */
  readonly #messages = new Map<string, Promise<void> | undefined>();
  readonly #warnings = new Map<string, WarningCount>();
  #toldQuiet = false;
  #run: DeliveryRun | undefined;
  /** The SMP match being shown, until the `level` event it may raise has come. */
  #matching: { name: string; raised: boolean } | undefined;

  /** Prints on `screen`; `levelOf` colours names, `now` times lines, `columns` fits them. */
  constructor(o: {
    screen: Screen;
    style: Style;
    levelOf: (name: string) => Level | undefined;
    now: () => number;
    columns: () => number;
  }) {
    this.#screen = o.screen;
    this.#style = o.style;
    this.#levelOf = o.levelOf;
    this.#now = o.now;
    this.#columns = o.columns;
  }

  /** Warnings counted so far, most frequent first. */
  warnings(): WarningCount[] {
    return [...this.#warnings.values()].sort((a, b) => b.count - a.count);
  }

  /** Remembers a message we sent, to name it when it is delivered. */
  sent(id: string, text: string): void {
    this.#sent.set(id, excerpt(text));
    if (this.#sent.size > MAX_TRACKED_SENT) this.#sent.delete(this.#sent.keys().next().value!);
  }

  /** Prints one line. */
  print(text: string, kind: LineKind = "output"): Promise<void> {
    return this.#screen.print(text, kind);
  }

  /**
   * Shows one event; resolves once its line is written (see `EventSink`),
   * rejects when it was refused or the REPL ended.
   */
  show(e: PeerEvent): void | Promise<void> {
    switch (e.event) {
      case "message":
        return this.#message(e);
      case "auth":
        if (e.status === "match") return this.#match(e.name);
        break;
      case "level":
        if (e.level === "authenticated" && this.#matching?.name === e.name) {
          this.#matching.raised = true; // shown in the match's line
          return;
        }
        break;
      case "delivered":
        return this.#delivered(e);
      case "warning":
        if (!SHOWN_WARNINGS.has(e.code)) return this.#quietWarning(e);
        break;
    }
    const line = eventLine(this.#style, this.#levelOf, e, this.#now());
    if (line === undefined) return;
    return quiet(this.print(line, kindOf(e)));
  }

  #message(e: Extract<PeerEvent, { event: "message" }>): Promise<void> {
    if (this.#messages.has(e.id)) return this.#messages.get(e.id) ?? Promise.resolve();
    const line = eventLine(this.#style, this.#levelOf, e, this.#now())!;
    const shown = this.print(line, "event").then(
      () => void this.#messages.set(e.id, undefined),
      (err) => {
        this.#messages.delete(e.id); // not shown: the re-sent copy must be
        throw err;
      },
    );
    this.#messages.set(e.id, shown);
    if (this.#messages.size > MAX_SHOWN_IDS) {
      for (const [id, pending] of this.#messages) {
        if (pending === undefined) {
          this.#messages.delete(id);
          break;
        }
      }
    }
    return quiet(shown);
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
    return quiet(
      Promise.resolve().then(() => {
        if (this.#matching === pending) this.#matching = undefined;
        const line = authMatchLine(this.#style, this.#levelOf, name, pending.raised);
        return this.print(line, "event");
      }),
    );
  }

  #delivered(e: Extract<PeerEvent, { event: "delivered" }>): Promise<void> {
    const { name, id } = e;
    // The core's excerpt when it gives one (it knows messages of earlier sessions too).
    const given = (e as { excerpt?: unknown }).excerpt;
    const text = typeof given === "string" ? excerpt(given) : this.#sent.get(id);
    this.#sent.delete(id);
    // A run goes on while its line is the last one printed.
    const key = `delivered:${name}`;
    const run = this.#run?.name === name && this.#screen.lastKey === key
      ? this.#run
      : { name, count: 0, first: text, last: undefined };
    run.count++;
    run.last = text;
    this.#run = run;
    return quiet(this.#screen.print(this.#deliveryLine(run), "event", key));
  }

  /** `-- 12:03 delivered to bob: “hello”`, or `delivered 5 messages to bob: “a” … “e”`. */
  #deliveryLine(run: DeliveryRun): string {
    const who = peerName(this.#style, sanitize(run.name), this.#levelOf(run.name));
    const time = paint(this.#style, "dim", clock(this.#now()));
    const quote = (t: string | undefined) => (t === undefined ? "" : `“${t}”`);
    let what: string;
    if (run.count === 1) {
      what = `delivered to ${who}${run.first === undefined ? "" : `: ${quote(run.first)}`}`;
    } else {
      // The first and the last by their excerpt, `…` for the ones between.
      const ends = `${quote(run.first)} … ${quote(run.last)}`.trim();
      what = `delivered ${run.count} messages to ${who}${ends === "…" ? "" : `: ${ends}`}`;
    }
    return notice(this.#style, `${time} ${what}`);
  }

  #quietWarning(e: Extract<PeerEvent, { event: "warning" }>): void | Promise<void> {
    const key = this.#warnings.has(e.code) || this.#warnings.size < MAX_WARNING_CODES
      ? e.code
      : "other";
    const entry = this.#warnings.get(key) ??
      { code: key, count: 0, reasons: {}, last: "", at: 0 };
    // An aggregated warning stands for `count` of them, by `reasons`.
    const { count, reasons } = e as { count?: unknown; reasons?: unknown };
    entry.count += typeof count === "number" && count >= 0 ? count : 1;
    if (typeof reasons === "object" && reasons !== null) {
      for (const [why, n] of Object.entries(reasons)) {
        if (typeof n !== "number") continue;
        const reason = sanitize(why).slice(0, MAX_REASON_LENGTH);
        if (reason in entry.reasons || Object.keys(entry.reasons).length < MAX_WARNING_CODES) {
          entry.reasons[reason] = (entry.reasons[reason] ?? 0) + n;
        }
      }
    }
    entry.last = sanitize(e.message);
    entry.at = this.#now();
    this.#warnings.set(key, entry);
    if (this.#toldQuiet) return;
    this.#toldQuiet = true;
    const text = "Network warnings (such as dropped packets from unknown senders) are counted " +
      "quietly: /warnings lists them";
    return quiet(this.print(notice(this.#style, text), "notice"));
  }

  /** The text of `/warnings`. */
  warningsText(): string {
    const list = this.warnings();
    if (list.length === 0) return notice(this.#style, "No warnings since the start");
    const width = Math.max(...list.map((w) => String(w.count).length));
    const room = Math.max(20, this.#columns() - width - 24);
    return list.map((w) => {
      const reasons = Object.entries(w.reasons).sort((a, b) => b[1] - a[1])
        .map(([why, n]) => `${why} ${n}`).join(", ");
      return `  ${String(w.count).padStart(width)}  ${paint(this.#style, "bold", w.code)}` +
        (reasons ? ` (${reasons})` : "") +
        `  ${paint(this.#style, "dim", `last ${clock(w.at)}:`)} ${fitWidth(w.last, room)}`;
    }).join("\n");
  }
}

/**
 * Events the core lets an interface drop (and count) when its output falls
 * behind: warnings, tor's progress, connection trouble. Every other event
 * is shown, or the core waits for it.
 */
const DROPPABLE: ReadonlySet<PeerEvent["event"]> = new Set(["warning", "bootstrap", "connection"]);

/** How an event's line is queued (see `screen.ts`). */
function kindOf(e: PeerEvent): LineKind {
  return DROPPABLE.has(e.event) ? "notice" : "event";
}

/** A message's text in one short line (line breaks as spaces). */
export function excerpt(text: string): string {
  return fitWidth(sanitize(text.replace(/\s+/g, " ").trim()), EXCERPT_COLUMNS).replace(
    / …$/,
    "…",
  );
}

/** `shown`, with no unhandled rejection for a caller that ignores it. */
function quiet(shown: Promise<void>): Promise<void> {
  shown.catch(() => {});
  return shown;
}
