/**
 * A framed connection: one `Deno.Conn` carrying length-prefixed frames
 * (`lib/protocol/frame.ts`) in both directions. This is the only place the
 * transport layer reads or writes a socket.
 *
 * What it owns and guarantees:
 * - writes are serialised (frames never interleave) and bounded in time by a
 *   write timeout; a timed-out write closes the connection, because the
 *   stream may hold half a frame;
 * - reads go through a {@linkcode FrameDecoder}, so one connection never
 *   buffers more than one frame of at most `MAX_FRAME_LENGTH`, and at most
 *   `maxQueuedFrames` unread frames (admission narrows it for a stranger):
 *   past that it stops reading and TCP pushes back on the peer;
 * - an idle timeout that only complete frames (sent or received) reset, so a
 *   peer that trickles bytes without finishing a frame (slowloris) is closed;
 * - a protocol violation (oversized, empty or garbage frame) closes this
 *   connection with a typed error, logged as a warning (other closes are
 *   logged as debug records); nothing is ever thrown into
 *   unrelated code. Frames completed earlier in the same socket read as the
 *   violation are dropped with it (the decoder fails the whole chunk).
 *   A peer that closes mid-frame ends the stream cleanly.
 *
 * It does not know what the payloads mean, who the peer is, or how to dial.
 *
 * @module
 */

import {
  errorMessage,
  isUnmessageError,
  type ProtocolError,
  type UnmessageError,
} from "../errors.ts";
import { encodeFrame, FrameDecoder } from "../protocol/frame.ts";
import { NetError } from "./net_error.ts";

/** Default idle timeout: no complete frame either way for 5 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Default bound on one frame's write (256 KiB over a slow Tor circuit). */
export const DEFAULT_WRITE_TIMEOUT_MS = 60_000;
/** Default bound on received frames not yet consumed. */
export const DEFAULT_MAX_QUEUED_FRAMES = 32;
/** Size of a connection's first socket reads: a stranger's connection costs little. */
const FIRST_READ_BYTES = 4 * 1024;
/** Largest socket read: reads that fill the buffer double it up to this size. */
const MAX_READ_BYTES = 64 * 1024;

/** Why a {@linkcode FramedConn} closed. */
export type CloseReason =
  | "local"
  | "peer_closed"
  | "peer_closed_mid_frame"
  | "idle_timeout"
  | "protocol_error"
  | "read_failed"
  | "write_timeout"
  | "write_failed"
  | "handler_failed";

/**
 * Close reasons logged as warnings: the peer broke the framing, or our own
 * handler failed. The others (timeouts, resets, closes) are ordinary churn of
 * a network, logged as debug; the owner of the connection sees them anyway.
 */
const WARN_REASONS: ReadonlySet<CloseReason> = new Set(["protocol_error", "handler_failed"]);

/** How a connection ended; `error` is set for every abnormal end. */
export interface CloseInfo {
  /** Why it closed. */
  reason: CloseReason;
  /** The typed error of an abnormal end. */
  error?: UnmessageError;
}

/** One log record of the transport layer (never contains payload bytes). */
export interface NetLogEntry {
  /** `warn`: a protocol violation or a refusal (an attack or a bug); `debug`: the rest. */
  level: "debug" | "warn";
  /** What happened, e.g. `"closed"`, `"connection_rejected"`. */
  event: string;
  /** Which connection or listener, e.g. `"in#3 127.0.0.1:40312"`. */
  label: string;
  /** Stable code of the error or close reason, when there is one. */
  code?: string;
  /** What went wrong, in words (never payload bytes). */
  message?: string;
}

/** Receives the transport layer's log records. */
export type NetLogger = (entry: NetLogEntry) => void;

/** Writes warnings to stderr and drops debug records. */
export const defaultNetLogger: NetLogger = (entry) => {
  if (entry.level !== "warn") return;
  console.warn(
    `[net] ${entry.label}: ${entry.event}${entry.code ? ` (${entry.code})` : ""}${
      entry.message ? `: ${entry.message}` : ""
    }`,
  );
};

/** Limits and hooks of one {@linkcode FramedConn}. */
export interface FramedConnOptions {
  /** Close after this long without a complete frame either way (ms; Infinity = never). */
  idleTimeoutMs?: number;
  /** Tighter deadline for the first received frame (ms); defaults to idleTimeoutMs. */
  firstFrameTimeoutMs?: number;
  /** Bound on writing one frame (ms). */
  writeTimeoutMs?: number;
  /** Received frames held for the consumer before reading pauses. */
  maxQueuedFrames?: number;
  /** Name used in log records. */
  label?: string;
  /** Receives the log records; none are kept without it. */
  logger?: NetLogger;
}

/** The limits of {@linkcode FramedConnOptions} without naming and logging. */
export type ConnectionLimits = Omit<FramedConnOptions, "label" | "logger">;

function positive(value: number, name: string): number {
  if (!(value > 0)) {
    throw new RangeError(`Cannot create connection: ${name} ${value} is not positive`);
  }
  return value;
}

/** A connection that sends and receives whole frames (opaque payloads). */
export class FramedConn implements AsyncIterable<Uint8Array> {
  /** Name used in log records. */
  readonly label: string;
  /** Resolves once the connection is closed and all its socket operations ended. */
  readonly closed: Promise<CloseInfo>;

  readonly #conn: Deno.Conn;
  readonly #decoder = new FrameDecoder();
  readonly #logger: NetLogger;
  readonly #idleMs: number;
  readonly #firstFrameMs: number;
  readonly #writeMs: number;
  #maxQueued: number;
  readonly #queue: Uint8Array[] = [];
  readonly #receivers: ((frame: Uint8Array | null) => void)[] = [];
  #resumeReading: (() => void) | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #receivedAny = false;
  #closeInfo: CloseInfo | null = null;
  #writeChain: Promise<void> = Promise.resolve();
  #readDone: Promise<void>;
  #consumed = false;
  #resolveClosed!: (info: CloseInfo) => void;

  /** Frames `conn`, which it owns from now on (it closes it). */
  constructor(conn: Deno.Conn, options: FramedConnOptions = {}) {
    this.#conn = conn;
    // Frames are small and latency-bound: without TCP_NODELAY, Nagle's
    // algorithm and delayed ACKs hold a frame back for up to ~40 ms.
    if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") {
      try {
        conn.setNoDelay(true);
      } catch {
        // Best effort: macOS fails it (EINVAL) on a socket the peer already
        // reset; the read loop then reports the close like any other.
      }
    }
    this.#logger = options.logger ?? defaultNetLogger;
    this.#idleMs = positive(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, "idleTimeoutMs");
    this.#firstFrameMs = positive(
      options.firstFrameTimeoutMs ?? this.#idleMs,
      "firstFrameTimeoutMs",
    );
    this.#writeMs = positive(options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, "writeTimeoutMs");
    this.#maxQueued = positive(
      options.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES,
      "maxQueuedFrames",
    );
    this.label = options.label ?? "conn";
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#armIdle();
    this.#readDone = this.#readLoop();
  }

  /** True once the connection is closing or closed. */
  get isClosed(): boolean {
    return this.#closeInfo !== null;
  }

  /**
   * Received frames held for the consumer before reading pauses. It may
   * change while the connection is open (admission keeps a stranger's at one
   * until it identifies); frames already queued stay.
   */
  get maxQueuedFrames(): number {
    return this.#maxQueued;
  }

  set maxQueuedFrames(n: number) {
    this.#maxQueued = positive(n, "maxQueuedFrames");
    this.#resumeIfRoom();
  }

  /**
   * Sends one payload as a frame, after every earlier `send` has been written.
   *
   * @throws {ProtocolError} `frame_too_large` / `frame_empty` (connection stays open)
   * @throws {NetError} `connection_closed`, `write_timeout`, `write_failed`
   */
  send(payload: Uint8Array): Promise<void> {
    let frame: Uint8Array;
    try {
      frame = encodeFrame(payload);
    } catch (e) {
      return Promise.reject(e as ProtocolError);
    }
    const written = this.#writeChain.then(() => this.#write(frame));
    this.#writeChain = written.catch(() => {});
    return written;
  }

  /** The next received payload, or `null` once the connection has ended. */
  receive(): Promise<Uint8Array | null> {
    const frame = this.#queue.shift();
    if (frame !== undefined) {
      this.#resumeIfRoom();
      return Promise.resolve(frame);
    }
    if (this.#closeInfo !== null) return Promise.resolve(null);
    return new Promise((resolve) => this.#receivers.push(resolve));
  }

  /** Iterates over received payloads until the connection ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const frame = await this.receive();
      if (frame === null) return;
      yield frame;
    }
  }

  /**
   * Calls `handler` for each received payload, one at a time. A handler that
   * throws closes this connection (`handler_failed`, logged); the error goes
   * no further. Only one consumer: call this or iterate, not both.
   */
  onFrame(handler: (payload: Uint8Array) => void | Promise<void>): void {
    if (this.#consumed) throw new TypeError("Cannot consume frames twice: onFrame was already set");
    this.#consumed = true;
    void (async () => {
      for await (const frame of this) {
        try {
          await handler(frame);
        } catch (e) {
          const msg = errorMessage(e);
          this.#terminate({
            reason: "handler_failed",
            error: new NetError("frame_handler_failed", `Frame handler failed: ${msg}`, {
              cause: e,
            }),
          });
          return;
        }
      }
    })();
  }

  /** Closes the connection (idempotent); resolves once its socket operations ended. */
  async close(): Promise<void> {
    this.#queue.length = 0;
    this.#terminate({ reason: "local" });
    await this.closed;
  }

  async #write(frame: Uint8Array): Promise<void> {
    if (this.#closeInfo !== null) throw this.#closedError();
    const timer = setTimeout(() => {
      this.#terminate({
        reason: "write_timeout",
        error: new NetError(
          "write_timeout",
          `Writing a frame took longer than ${this.#writeMs} ms; the connection was closed`,
          { retryable: true },
        ),
      });
    }, this.#writeMs);
    try {
      let offset = 0;
      while (offset < frame.length) offset += await this.#conn.write(frame.subarray(offset));
    } catch (e) {
      if (this.#closeInfo !== null) throw this.#closedError();
      const error = new NetError("write_failed", "Writing to the connection failed", {
        cause: e,
        retryable: true,
      });
      this.#terminate({ reason: "write_failed", error });
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.#armIdle();
  }

  #closedError(): UnmessageError {
    const info = this.#closeInfo;
    if (info?.error && isUnmessageError(info.error, "write_timeout")) return info.error;
    return new NetError(
      "connection_closed",
      `Cannot send: the connection is closed (${info?.reason ?? "unknown"})`,
      { retryable: true },
    );
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(FIRST_READ_BYTES);
    while (this.#closeInfo === null) {
      if (this.#queue.length >= this.#maxQueued) {
        // Backpressure: stop reading until the consumer catches up.
        await new Promise<void>((resolve) => (this.#resumeReading = resolve));
        continue;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch (e) {
        if (this.#closeInfo !== null) return; // our own close interrupted the read
        this.#terminate({
          reason: "read_failed",
          error: new NetError("connection_closed", "Reading from the connection failed", {
            cause: e,
            retryable: true,
          }),
        });
        return;
      }
      if (n === null) {
        // A peer closing mid-frame loses only its unfinished frame.
        this.#terminate({
          reason: this.#decoder.pending ? "peer_closed_mid_frame" : "peer_closed",
        });
        return;
      }
      let frames: Uint8Array[];
      try {
        frames = this.#decoder.push(buf.subarray(0, n)); // copies what it keeps
      } catch (e) {
        this.#terminate({ reason: "protocol_error", error: e as ProtocolError });
        return;
      }
      if (frames.length > 0) {
        this.#receivedAny = true;
        this.#armIdle();
      }
      for (const frame of frames) this.#deliver(frame);
      if (n === buf.length && buf.length < MAX_READ_BYTES) buf = new Uint8Array(buf.length * 2);
    }
  }

  #deliver(frame: Uint8Array): void {
    const receiver = this.#receivers.shift();
    if (receiver) receiver(frame);
    else this.#queue.push(frame);
  }

  #resumeIfRoom(): void {
    if (this.#resumeReading && this.#queue.length < this.#maxQueued) {
      const resume = this.#resumeReading;
      this.#resumeReading = null;
      resume();
    }
  }

  #armIdle(): void {
    if (this.#closeInfo !== null) return;
    clearTimeout(this.#idleTimer);
    const ms = this.#receivedAny ? this.#idleMs : Math.min(this.#idleMs, this.#firstFrameMs);
    if (!Number.isFinite(ms)) return;
    this.#idleTimer = setTimeout(() => {
      this.#terminate({
        reason: "idle_timeout",
        error: new NetError(
          "idle_timeout",
          `No complete frame for ${ms} ms; the connection was closed`,
          {
            retryable: true,
          },
        ),
      });
    }, ms);
  }

  /** Moves to the closed state once; the socket is closed and waiters released. */
  #terminate(info: CloseInfo): void {
    if (this.#closeInfo !== null) return;
    this.#closeInfo = info;
    clearTimeout(this.#idleTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime: nothing left to release.
    }
    for (const receiver of this.#receivers.splice(0)) receiver(null);
    this.#resumeReading?.();
    this.#resumeReading = null;
    this.#logger({
      level: WARN_REASONS.has(info.reason) ? "warn" : "debug",
      event: "closed",
      label: this.label,
      code: info.error?.code ?? info.reason,
      ...(info.error ? { message: info.error.message } : {}),
    });
    void Promise.all([this.#readDone, this.#writeChain]).then(() => this.#resolveClosed(info));
  }
}
