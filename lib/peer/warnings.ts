/**
 * Aggregated warnings of the network input: packets dropped because they
 * belong to nothing of ours (or are malformed, forged or replayed),
 * inbound connections closed by admission control, and signed requests
 * dropped by the request policy. A stranger can cause
 * these by the thousand, so each becomes a count, not a line: the first
 * after a quiet interval is reported at once (count 1), the rest of the
 * interval are summed into one warning at its end, and a quiet interval
 * ends the run. At most two `warning` events per code and interval,
 * whatever the flood.
 *
 * Stable codes (the `code` of the `warning` event; `count`, `connections`
 * and `reasons` give the detail, `reasons` keyed by the codes of the
 * packet or refusal):
 * - `packets_dropped`: packets ignored (`unknown_packet`, `decrypt_failed`,
 *   `unsupported_version`, `bad_packet_length`, `bad_signature` ...);
 * - `connections_refused`: inbound connections closed before they
 *   identified, or past their limits (admission.ts's `RefusalCode`s, and
 *   connections that broke the framing, such as `frame_too_large`);
 * - `request_dropped`: valid requests that requests.ts drops
 *   ({@linkcode REQUEST_DROP_REASONS}); the sender chooses the creation
 *   time it signs, and a dropped request is not remembered, so one expired
 *   request replayed made a warning each time. The first one names the
 *   sender's onion address (a genuine sender's clock may be wrong).
 *
 * None names a contact: contacts that are connected are not affected.
 *
 * @module
 */

import type { PeerEvent } from "./types.ts";

/** Length of one aggregation interval (ms). */
export const WARNING_INTERVAL_MS = 10_000;
/** Distinct connections counted per interval; past it the count says "at least". */
const MAX_COUNTED_CONNECTIONS = 1024;

/** The aggregated warning codes. */
export type AggregatedCode = "packets_dropped" | "connections_refused" | "request_dropped";

/** Why requests.ts drops a valid request: the reasons of `request_dropped`, in words. */
export const REQUEST_DROP_REASONS = {
  expired: "it expired (made over a week ago)",
  dated_ahead: "it is dated in the future (check both clocks)",
  deleted_contact: "it is an old request of a conversation you deleted, replayed",
} as const;

/** A reason of `request_dropped`. */
export type RequestDropReason = keyof typeof REQUEST_DROP_REASONS;

type Warning = Extract<PeerEvent, { event: "warning" }>;

interface Tally {
  count: number;
  reasons: Map<string, number>;
  connections: Set<string>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Counts drops and refusals and emits them as aggregated warnings (see the module header). */
export class WarningBatcher {
  readonly #emit: (warning: Warning) => void;
  readonly #intervalMs: number;
  readonly #tallies = new Map<AggregatedCode, Tally>();
  #closed = false;

  /** Emits through `emit`, aggregating over `intervalMs`. */
  constructor(emit: (warning: Warning) => void, intervalMs = WARNING_INTERVAL_MS) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
  }

  /**
   * One packet dropped, one connection refused, or one request dropped, for
   * `reason` on `connection` (a connection's label; a request's onion address).
   */
  add(code: AggregatedCode, reason: string, connection: string): void {
    if (this.#closed) return;
    let tally = this.#tallies.get(code);
    if (tally === undefined) {
      tally = { count: 0, reasons: new Map(), connections: new Set(), timer: undefined };
      this.#tallies.set(code, tally);
    }
    if (tally.timer === undefined) {
      // quiet until now: say so at once, then count for one interval
      this.#emit(warning(code, 1, new Map([[reason, 1]]), 1, 0, connection));
      tally.timer = setTimeout(() => this.#flush(code), this.#intervalMs);
      return;
    }
    tally.count++;
    tally.reasons.set(reason, (tally.reasons.get(reason) ?? 0) + 1);
    if (tally.connections.size < MAX_COUNTED_CONNECTIONS) tally.connections.add(connection);
  }

  /** Emits what was counted and stops (the peer is closing). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const code of this.#tallies.keys()) this.#flush(code);
  }

  #flush(code: AggregatedCode): void {
    const tally = this.#tallies.get(code)!;
    clearTimeout(tally.timer);
    tally.timer = undefined;
    if (tally.count === 0) return; // a quiet interval: the next one is reported at once
    const { count, reasons, connections } = tally;
    this.#emit(warning(code, count, reasons, connections.size, this.#intervalMs));
    this.#tallies.set(code, {
      count: 0,
      reasons: new Map(),
      connections: new Set(),
      timer: undefined,
    });
    if (!this.#closed) {
      this.#tallies.get(code)!.timer = setTimeout(() => this.#flush(code), this.#intervalMs);
    }
  }
}

function warning(
  code: AggregatedCode,
  count: number,
  reasons: Map<string, number>,
  connections: number,
  intervalMs: number,
  first?: string,
): Warning {
  const why = [...reasons].map(([r, n]) => (count === 1 ? r : `${r} ${n}`)).join(", ");
  const span = intervalMs > 0 ? ` in the last ${Math.round(intervalMs / 1000)} s` : "";
  const many = (what: string) =>
    ` from ${connections >= MAX_COUNTED_CONNECTIONS ? "at least " : ""}${connections} ${what}`;
  const from = connections > 1 ? many("connections") : "";
  let message: string;
  if (code === "packets_dropped") {
    message =
      `Ignored ${count === 1 ? "a packet" : `${count} packets`}${from}${span} that belong to ` +
      `no conversation or request of ours (${why})`;
  } else if (code === "connections_refused") {
    message =
      `Closed ${count === 1 ? "an inbound connection" : `${count} inbound connections`}${span} ` +
      `that did not identify as a contact in time or broke its limits (${why}); ` +
      "connected contacts are not affected";
  } else {
    const words = (r: string) => REQUEST_DROP_REASONS[r as RequestDropReason] ?? r;
    message = count === 1
      ? `Dropped a request${first !== undefined ? ` from ${first}.onion` : ""}: ${
        words([...reasons.keys()][0]!)
      }`
      : `Dropped ${count} requests${connections > 1 ? many("senders") : ""}${span}: ` +
        [...reasons].map(([r, n]) => `${n} as ${words(r)}`).join("; ");
  }
  return {
    event: "warning",
    code,
    message,
    count,
    ...(connections > 0 ? { connections } : {}),
    reasons: Object.fromEntries(reasons),
  };
}
