/**
 * Keeps at most one outgoing connection per contact and redials with
 * back-off: the piece between the core's "send this to Alice" and a
 * {@linkcode Transport}.
 *
 * `connect(contact, address)` returns the open connection to that contact,
 * joins a dial already under way, or starts one. A dial makes up to
 * `maxAttempts` attempts; retryable failures (`retryable: true`, see
 * `isRetryable`) wait a jittered exponential back-off and call the
 * transport's `beforeRetry` hook (tor: NEWNYM, see app/tor_link.ts) first; a
 * non-retryable failure, the last attempt, an abort signal, `disconnect()` or
 * `close()` end it. Every step is reported as a {@linkcode ConnectProgress}
 * event. A connection that closes is forgotten; the next `connect` redials.
 *
 * It knows nothing of payloads or of inbound connections.
 *
 * @module
 */

import type { Rng } from "../crypto/bytes.ts";
import { systemRng } from "../rng.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import type { CloseReason, FramedConn } from "./framed_conn.ts";
import { errorCode, isRetryable, NetError } from "./net_error.ts";
import type { PeerAddress, Transport } from "./transport.ts";

/** Default attempts per dial: with the default back-off about 1.5 minutes in all. */
export const DEFAULT_MAX_ATTEMPTS = 8;
/** Bound on the `beforeRetry` hook (a NEWNYM answers at once; a dead control port does not). */
export const BEFORE_RETRY_TIMEOUT_MS = 10_000;

/** One step of reaching a contact, for the interface's progress display. */
export type ConnectProgress =
  | { type: "attempt"; contact: string; attempt: number }
  | { type: "retry"; contact: string; attempt: number; code: string; nextDelayMs: number }
  | { type: "connected"; contact: string; attempt: number }
  | { type: "failed"; contact: string; attempt: number; code: string; retryable: boolean }
  | { type: "disconnected"; contact: string; reason: CloseReason };

/** Options of a {@linkcode Connector}. */
export interface ConnectorOptions {
  /** How connections are opened (tor, direct, or the running peer's `TorLink`). */
  transport: Transport;
  /** Delays between attempts. */
  backoff?: BackoffOptions;
  /** Jitter source; the system CSPRNG by default. */
  rng?: Rng;
  /** Attempts per dial (>= 1, or Infinity to retry until aborted). */
  maxAttempts?: number;
  /** Receives every progress event; exceptions it throws are ignored. */
  onProgress?: (event: ConnectProgress) => void;
}

/** Options of one {@linkcode Connector.connect} call. */
export interface ConnectOptions {
  /** Cancels this call; also cancels the dial if this call started it. */
  signal?: AbortSignal;
}

interface Dial {
  promise: Promise<FramedConn>;
  abort: AbortController;
}

function abortedError(reason?: unknown): NetError {
  return new NetError("connect_aborted", "Connecting to the contact was cancelled", {
    cause: reason,
  });
}

/** Resolves after `ms`, or rejects with `connect_aborted` as soon as `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortedError(signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal.reason));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Settles like `promise`, or rejects as soon as `signal` fires (or `ms` pass). */
function race<T>(promise: Promise<T>, signal: AbortSignal, ms = Infinity): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(abortedError(signal.reason));
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(abortedError(signal.reason));
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
        done();
        reject(new NetError("connect_timeout", `Step took longer than ${ms} ms`));
      }, ms)
      : undefined;
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then((v) => (done(), resolve(v)), (e) => (done(), reject(e)));
  });
}

/** One connection per contact, redialled with back-off. */
export class Connector {
  readonly #transport: Transport;
  readonly #backoff: BackoffOptions;
  readonly #rng: Rng;
  readonly #maxAttempts: number;
  readonly #onProgress: (event: ConnectProgress) => void;
  readonly #conns = new Map<string, FramedConn>();
  readonly #dials = new Map<string, Dial>();
  #closed = false;

  /** A connector with no connection yet; `maxAttempts` defaults to {@linkcode DEFAULT_MAX_ATTEMPTS}. */
  constructor(options: ConnectorOptions) {
    const max = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!(max === Infinity || (Number.isInteger(max) && max >= 1))) {
      throw new RangeError(`Cannot create connector: maxAttempts ${max} is not a positive integer`);
    }
    this.#transport = options.transport;
    this.#backoff = options.backoff ?? {};
    new Backoff(systemRng, this.#backoff); // validate now, not at the first retry
    this.#rng = options.rng ?? systemRng;
    this.#maxAttempts = max;
    const sink = options.onProgress;
    this.#onProgress = (event) => {
      try {
        sink?.(event);
      } catch {
        // A broken progress display must not break connecting.
      }
    };
  }

  /** The open connection to `contact`, if any. */
  get(contact: string): FramedConn | undefined {
    const conn = this.#conns.get(contact);
    return conn && !conn.isClosed ? conn : undefined;
  }

  /**
   * The open connection to `contact`, dialling `address` if there is none.
   *
   * @throws the last attempt's typed error (`NetError`, `SocksError`) when the
   *   dial gives up, or `NetError` `connect_aborted` when cancelled
   */
  connect(
    contact: string,
    address: PeerAddress,
    options: ConnectOptions = {},
  ): Promise<FramedConn> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(abortedError("connector closed"));
    if (signal?.aborted) return Promise.reject(abortedError(signal.reason));
    const open = this.get(contact);
    if (open) return Promise.resolve(open);
    const running = this.#dials.get(contact);
    if (running) return signal ? race(running.promise, signal) : running.promise;

    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const promise = this.#dial(contact, address, abort.signal).finally(() => {
      signal?.removeEventListener("abort", onAbort);
      if (this.#dials.get(contact)?.abort === abort) this.#dials.delete(contact);
    });
    this.#dials.set(contact, { promise, abort });
    return promise;
  }

  /** Cancels a dial to `contact` and closes its connection. */
  async disconnect(contact: string): Promise<void> {
    const dial = this.#dials.get(contact);
    dial?.abort.abort("disconnected");
    await dial?.promise.catch(() => {});
    await this.#conns.get(contact)?.close();
  }

  /** Cancels every dial and closes every connection; later connects are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const dials = [...this.#dials.values()];
    for (const d of dials) d.abort.abort("connector closed");
    await Promise.all(dials.map((d) => d.promise.catch(() => {})));
    await Promise.all([...this.#conns.values()].map((c) => c.close()));
  }

  async #dial(contact: string, address: PeerAddress, signal: AbortSignal): Promise<FramedConn> {
    const backoff = new Backoff(this.#rng, this.#backoff);
    for (let attempt = 1;; attempt++) {
      if (attempt > 1 && this.#transport.beforeRetry) {
        try {
          await race(this.#transport.beforeRetry(), signal, BEFORE_RETRY_TIMEOUT_MS);
        } catch {
          if (signal.aborted) throw abortedError(signal.reason);
          // A failed NEWNYM only loses its benefit; the attempt still runs.
        }
      }
      this.#onProgress({ type: "attempt", contact, attempt });
      let conn: FramedConn;
      try {
        const dialing = this.#transport.connect(address, contact, signal);
        // A dial that ignores the signal and finishes late is closed unused.
        dialing.then((c) => {
          if (signal.aborted) void c.close();
        }, () => {});
        conn = await race(dialing, signal);
      } catch (e) {
        if (signal.aborted) throw abortedError(signal.reason);
        const code = errorCode(e);
        const retryable = isRetryable(e);
        if (!retryable || attempt >= this.#maxAttempts) {
          this.#onProgress({ type: "failed", contact, attempt, code, retryable });
          throw e instanceof Error ? e : new NetError("connect_failed", String(e));
        }
        const nextDelayMs = backoff.next();
        this.#onProgress({ type: "retry", contact, attempt, code, nextDelayMs });
        await sleep(nextDelayMs, signal);
        continue;
      }
      if (this.#closed) {
        await conn.close();
        throw abortedError("connector closed");
      }
      this.#adopt(contact, conn);
      this.#onProgress({ type: "connected", contact, attempt });
      return conn;
    }
  }

  #adopt(contact: string, conn: FramedConn): void {
    this.#conns.set(contact, conn);
    void conn.closed.then((info) => {
      if (this.#conns.get(contact) === conn) this.#conns.delete(contact);
      this.#onProgress({ type: "disconnected", contact, reason: info.reason });
    });
  }
}
