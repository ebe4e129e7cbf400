/**
 * The local listener that our onion service forwards to: accepts TCP
 * connections on loopback and hands each one out as a {@linkcode FramedConn}
 * with its {@linkcode Admission}.
 *
 * Its job is containment. Who may hold a connection is admission.ts's
 * (pools for unidentified and identified connections, an identification
 * deadline, the stranger lane, the accept rate); each connection also inherits limits of
 * `FramedConn` (frame size, unread-frame queue, idle and write timeouts), so
 * that garbage, silence, slowloris or oversized frames cost one connection
 * and never harm the others.
 *
 * It does not know who a peer is: inbound connections over Tor all come from
 * 127.0.0.1 and are identified later by the protocol, whose consumer reports
 * it through the admission.
 *
 * @module
 */

import { type Admission, AdmissionControl, type AdmissionLimits } from "./admission.ts";
import { type WakeableDelay, wakeableDelay } from "./pacing.ts";
import {
  type ConnectionLimits,
  defaultNetLogger,
  FramedConn,
  type NetLogger,
} from "./framed_conn.ts";
import { errorCode } from "./net_error.ts";

/** Only loopback by default: the onion service forwards to it, nothing else may. */
export const LOOPBACK_HOSTNAME = "127.0.0.1";
/** Pause after an unexpected accept failure (e.g. out of file descriptors). */
const ACCEPT_ERROR_PAUSE_MS = 100;

export type { ConnectionLimits } from "./framed_conn.ts";
export type { Admission, AdmissionLimits } from "./admission.ts";

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  /** Address to bind; {@linkcode LOOPBACK_HOSTNAME} unless a test says otherwise. */
  hostname?: string;
  /** Port to bind; 0 (the default) picks a free one, read it from `port`. */
  port?: number;
  /**
   * Called with each accepted connection and its admission; the consumer
   * reports through it whether the connection's packets identify. A callback
   * that throws gets its connection closed (logged).
   */
  onConnection: (conn: FramedConn, admission: Admission) => void;
  /** Pool sizes and the identification deadline (admission.ts defaults). */
  admission?: AdmissionLimits;
  /** Limits of each accepted connection. */
  limits?: ConnectionLimits;
  /** Receives refusals, closes and accept failures (default: warnings on stderr). */
  logger?: NetLogger;
}

/** A listening socket that hands out framed connections. */
export class FramedListener {
  /** The bound port. */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;

  readonly #listener: Deno.TcpListener;
  readonly #admission: AdmissionControl;
  readonly #limits: ConnectionLimits;
  readonly #onConnection: (conn: FramedConn, admission: Admission) => void;
  readonly #logger: NetLogger;
  readonly #active = new Set<FramedConn>();
  #closing = false;
  #count = 0;
  #pauseTimer: WakeableDelay | null = null;
  readonly #acceptDone: Promise<void>;

  /** Binds and starts accepting (see {@linkcode listen}). */
  constructor(options: ListenOptions) {
    this.#limits = { ...options.limits };
    this.#onConnection = options.onConnection;
    this.#logger = options.logger ?? defaultNetLogger;
    this.#admission = new AdmissionControl(options.admission ?? {}, this.#logger);
    this.#listener = Deno.listen({
      hostname: options.hostname ?? LOOPBACK_HOSTNAME,
      port: options.port ?? 0,
      transport: "tcp",
    });
    this.hostname = this.#listener.addr.hostname;
    this.port = this.#listener.addr.port;
    this.#acceptDone = this.#acceptLoop();
  }

  /** Connections currently open. */
  get activeConnections(): number {
    return this.#active.size;
  }

  /** Open connections by pool: not yet identified, and identified. */
  get pools(): { unidentified: number; identified: number } {
    return {
      unidentified: this.#admission.unidentifiedCount,
      identified: this.#admission.identifiedCount,
    };
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
      this.#pauseTimer?.wake();
      this.#admission.close();
    }
    await this.#acceptDone;
    await Promise.all([...this.#active].map((c) => c.close()));
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closing) {
      await this.#admission.nextAccept();
      if (this.#closing) return;
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
      if (this.#closing) {
        try {
          conn.close();
        } catch {
          // Already closed by the peer.
        }
        return;
      }
      const label = `in#${++this.#count} ${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
      this.#admit(new FramedConn(conn, { ...this.#limits, label, logger: this.#logger }));
    }
  }

  #admit(conn: FramedConn): void {
    this.#active.add(conn);
    void conn.closed.then(() => this.#active.delete(conn));
    const admission = this.#admission.admit(conn);
    this.#log("debug", "accepted", undefined, undefined, conn.label);
    try {
      this.#onConnection(conn, admission);
    } catch (e) {
      this.#log("warn", "connection_handler_failed", errorCode(e), undefined, conn.label);
      void conn.close();
    }
  }

  async #pause(): Promise<void> {
    this.#pauseTimer = wakeableDelay(ACCEPT_ERROR_PAUSE_MS);
    await this.#pauseTimer.done;
    this.#pauseTimer = null;
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
export function listen(options: ListenOptions): FramedListener {
  return new FramedListener(options);
}
