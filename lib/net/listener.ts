/**
 * The local listener that our onion service forwards to: accepts TCP
 * connections on loopback and hands each one out as a {@linkcode FramedConn}.
 *
 * Its job is containment. A cap on concurrent inbound connections (excess
 * ones are closed at once, logged), and per-connection limits inherited by
 * every `FramedConn` (frame size, unread-frame queue, a short deadline for
 * the first frame, idle and write timeouts), so that garbage, slowloris or
 * oversized frames cost one connection and never harm the others.
 *
 * It does not know who a peer is: inbound connections over Tor all come from
 * 127.0.0.1 and are identified later by the protocol.
 *
 * @module
 */

import {
  type ConnectionLimits,
  defaultNetLogger,
  FramedConn,
  type NetLogger,
} from "./framed_conn.ts";
import { errorCode } from "./net_error.ts";

/** Only loopback by default: the onion service forwards to it, nothing else may. */
export const LOOPBACK_HOSTNAME = "127.0.0.1";
/** Default cap on simultaneous inbound connections. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Default deadline for an inbound connection's first complete frame. */
export const DEFAULT_FIRST_FRAME_TIMEOUT_MS = 30_000;
/** Pause after an unexpected accept failure (e.g. out of file descriptors). */
const ACCEPT_ERROR_PAUSE_MS = 100;

export type { ConnectionLimits } from "./framed_conn.ts";

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  /** Address to bind; {@linkcode LOOPBACK_HOSTNAME} unless a test says otherwise. */
  hostname?: string;
  /** Port to bind; 0 (the default) picks a free one, read it from `port`. */
  port?: number;
  /** Cap on connections open at once; further ones are closed on accept. */
  maxConnections?: number;
  /** Limits of each accepted connection. */
  limits?: ConnectionLimits;
  /**
   * Called with each accepted connection. When set, `connections` yields
   * nothing. A callback that throws gets its connection closed (logged).
   */
  onConnection?: (conn: FramedConn) => void;
  logger?: NetLogger;
}

/** A listening socket that yields framed connections. */
export class FramedListener {
  /** The bound port. */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** Accepted connections (unless `onConnection` was given), until `close()`. */
  readonly connections: AsyncIterable<FramedConn>;

  readonly #listener: Deno.TcpListener;
  readonly #max: number;
  readonly #limits: ConnectionLimits;
  readonly #onConnection: ((conn: FramedConn) => void) | undefined;
  readonly #logger: NetLogger;
  readonly #active = new Set<FramedConn>();
  readonly #pending: FramedConn[] = [];
  readonly #waiters: ((conn: FramedConn | null) => void)[] = [];
  #closing = false;
  #count = 0;
  #cancelPause: (() => void) | null = null;
  readonly #acceptDone: Promise<void>;

  constructor(options: ListenOptions = {}) {
    const max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot listen: maxConnections ${max} is not a positive integer`);
    }
    this.#max = max;
    this.#limits = { firstFrameTimeoutMs: DEFAULT_FIRST_FRAME_TIMEOUT_MS, ...options.limits };
    this.#onConnection = options.onConnection;
    this.#logger = options.logger ?? defaultNetLogger;
    this.#listener = Deno.listen({
      hostname: options.hostname ?? LOOPBACK_HOSTNAME,
      port: options.port ?? 0,
      transport: "tcp",
    });
    this.hostname = this.#listener.addr.hostname;
    this.port = this.#listener.addr.port;
    this.connections = { [Symbol.asyncIterator]: () => this.#iterate() };
    this.#acceptDone = this.#acceptLoop();
  }

  /** Connections currently open (handed out or waiting to be). */
  get activeConnections(): number {
    return this.#active.size;
  }

  /** The next accepted connection, or `null` once the listener is closed. */
  accept(): Promise<FramedConn | null> {
    const conn = this.#pending.shift();
    if (conn !== undefined) return Promise.resolve(conn);
    if (this.#closing) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stops listening and closes every open connection; idempotent. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      this.#cancelPause?.();
      for (const waiter of this.#waiters.splice(0)) waiter(null);
    }
    await this.#acceptDone;
    this.#pending.length = 0;
    await Promise.all([...this.#active].map((c) => c.close()));
  }

  async *#iterate(): AsyncGenerator<FramedConn> {
    for (;;) {
      const conn = await this.accept();
      if (conn === null) return;
      yield conn;
    }
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing) return;
        this.#log(
          "warn",
          "accept_failed",
          errorCode(e),
          e instanceof Error ? e.message : undefined,
        );
        await this.#pause();
        continue;
      }
      const label = `in#${++this.#count} ${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
      if (this.#closing || this.#active.size >= this.#max) {
        // Cap reached: refuse this one so the open ones keep their resources.
        try {
          conn.close();
        } catch {
          // Already closed by the peer.
        }
        this.#log("warn", "connection_rejected", "too_many_connections", undefined, label);
        continue;
      }
      this.#admit(new FramedConn(conn, { ...this.#limits, label, logger: this.#logger }));
    }
  }

  #admit(conn: FramedConn): void {
    this.#active.add(conn);
    void conn.closed.then(() => {
      this.#active.delete(conn);
      const i = this.#pending.indexOf(conn);
      if (i >= 0) this.#pending.splice(i, 1);
    });
    this.#log("debug", "accepted", undefined, undefined, conn.label);
    if (this.#onConnection) {
      try {
        this.#onConnection(conn);
      } catch (e) {
        this.#log("warn", "connection_handler_failed", errorCode(e), undefined, conn.label);
        void conn.close();
      }
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(conn);
    else this.#pending.push(conn);
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#cancelPause = null;
        resolve();
      };
      const timer = setTimeout(done, ACCEPT_ERROR_PAUSE_MS);
      this.#cancelPause = done;
    });
  }

  #log(
    level: "debug" | "warn",
    event: string,
    code?: string,
    message?: string,
    label = `listener ${this.hostname}:${this.port}`,
  ): void {
    this.#logger({
      level,
      event,
      label,
      ...(code !== undefined ? { code } : {}),
      ...(message !== undefined ? { message } : {}),
    });
  }
}

/** Starts a {@linkcode FramedListener} (loopback, free port by default). */
export function listen(options: ListenOptions = {}): FramedListener {
  return new FramedListener(options);
}
