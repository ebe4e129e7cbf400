/**
 * The sending side of one contact: a loop that keeps (at most) one outbound
 * connection through the shared {@linkcode Connector} and writes whatever
 * its owner has to send, one batch at a time, in order.
 *
 * - It dials only when there is something to send or the owner asked for a
 *   connection (`want()`: at start, or when the contact showed up on an
 *   inbound connection). While something waits it redials every
 *   `redialMs` after each failed dial (the connector backs off within one
 *   dial); with nothing to send, one failed dial ends the attempt.
 * - `hooks.next(conn)` produces the next packets (the owner encrypts and
 *   saves the ratchet there, so a ciphertext never leaves before its state
 *   is on disk) and is called only with a live connection.
 * - With a connection and nothing to send for `idleMs`, it calls
 *   `hooks.idle()` (the owner queues a keep-alive).
 * - Replies (`hooks.replyConn()`: the owner names an open connection on
 *   which the contact reached us) are written there, not dialled for: an
 *   acknowledgement then takes the circuit its packet came on, as a reply
 *   over one socket would, instead of a second rendezvous circuit that may
 *   be cold, redialling, or stalled by a delayed TCP ACK (tor leaves Nagle
 *   on, and a socket whose data flows one way only waits for that ACK).
 *
 * It knows nothing of elements, ratchets or files.
 *
 * @module
 */

import type { Connector } from "../net/connector.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import type { PeerAddress } from "../net/transport.ts";

/** What a {@linkcode Link} asks of its owner. */
export interface LinkHooks {
  /** Whether anything waits to be sent. */
  hasWork(): boolean;
  /** The next packets to write on `conn`, or null when nothing waits. */
  next(conn: FramedConn): Promise<Uint8Array[] | null>;
  /** A new connection is up. */
  connected(conn: FramedConn): void;
  /** A connection this link used has closed. */
  disconnected(conn: FramedConn): void;
  /** A dial or a `next` failed (already reported by the connector for dials). */
  failed(error: unknown, during: "dial" | "next"): void;
  /** Connected and nothing sent for `idleMs`. */
  idle(): void;
  /** The packets of the last `next` were all written on `conn`. */
  written?(conn: FramedConn): void;
  /** An open connection to write waiting replies on instead of dialling, if any. */
  replyConn?(): FramedConn | undefined;
  /** The next reply packets to write on `conn` (from `replyConn`), or null. */
  nextReply?(conn: FramedConn): Promise<Uint8Array[] | null>;
}

/** Timing of a {@linkcode Link}. */
export interface LinkOptions {
  /** Pause between two failed dials while something waits (ms). */
  redialMs: number;
  /** Connected and silent this long: `hooks.idle()` (ms). */
  idleMs: number;
  /** Close the connection once nothing waits (for one-shot request delivery). */
  closeWhenDone?: boolean;
}

/** One contact's outbound connection and send loop. */
export class Link {
  readonly key: string;
  readonly #address: PeerAddress;
  readonly #connector: Connector;
  readonly #hooks: LinkHooks;
  readonly #options: LinkOptions;
  readonly #abort = new AbortController();
  #conn: FramedConn | undefined;
  #wanted = false;
  #wake: (() => void) | null = null;
  #woken = false;
  #done: Promise<void> | null = null;

  constructor(
    key: string,
    address: PeerAddress,
    connector: Connector,
    hooks: LinkHooks,
    options: LinkOptions,
  ) {
    this.key = key;
    this.#address = address;
    this.#connector = connector;
    this.#hooks = hooks;
    this.#options = options;
  }

  /** The live outbound connection, if any. */
  get conn(): FramedConn | undefined {
    return this.#conn !== undefined && !this.#conn.isClosed ? this.#conn : undefined;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    this.#done ??= this.#run();
  }

  /** Something new waits, or the contact may be reachable now: look again. */
  wake(): void {
    this.#woken = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Asks for a connection even with nothing to send (one dial). */
  want(): void {
    this.#wanted = true;
    this.wake();
  }

  /** Stops the loop and closes its connection. */
  async close(): Promise<void> {
    this.#abort.abort("link closed");
    this.wake();
    await this.#done;
    await this.#connector.disconnect(this.key);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      if (!this.#hooks.hasWork() && !(this.#wanted && this.conn === undefined)) {
        if (this.conn !== undefined && this.#options.closeWhenDone) {
          await this.#connector.disconnect(this.key);
        }
        const timedOut = await this.#sleep(
          this.conn !== undefined ? this.#options.idleMs : Infinity,
        );
        if (timedOut && this.conn !== undefined && !signal.aborted) this.#hooks.idle();
        continue;
      }
      const reply = this.#hooks.replyConn?.();
      if (reply !== undefined && await this.#sendReplies(reply)) continue;
      let conn: FramedConn;
      try {
        conn = await this.#connector.connect(this.key, this.#address, { signal });
      } catch (e) {
        if (signal.aborted) break;
        this.#wanted = false;
        this.#hooks.failed(e, "dial");
        if (this.#hooks.hasWork()) await this.#sleep(this.#options.redialMs);
        continue;
      }
      this.#wanted = false;
      if (conn !== this.#conn) this.#adopt(conn);
      let packets: Uint8Array[] | null;
      try {
        packets = await this.#hooks.next(conn);
      } catch (e) {
        if (signal.aborted) break;
        this.#hooks.failed(e, "next");
        await this.#sleep(this.#options.redialMs);
        continue;
      }
      if (packets === null) {
        // nothing after all (acknowledged meanwhile): wait for news
        if (await this.#sleep(this.#options.idleMs)) this.#hooks.idle();
        continue;
      }
      try {
        for (const packet of packets) await conn.send(packet);
        this.#hooks.written?.(conn);
      } catch {
        // the connection closed: the loop redials and the owner re-sends
      }
    }
  }

  /**
   * Writes the next replies on `conn`; false when there were none (then the
   * own connection carries whatever waits). A failed write loses them, as
   * on the own connection.
   */
  async #sendReplies(conn: FramedConn): Promise<boolean> {
    let packets: Uint8Array[] | null;
    try {
      packets = (await this.#hooks.nextReply?.(conn)) ?? null;
    } catch (e) {
      if (this.#abort.signal.aborted) return true;
      this.#hooks.failed(e, "next");
      await this.#sleep(this.#options.redialMs);
      return true;
    }
    if (packets === null) return false;
    try {
      for (const packet of packets) await conn.send(packet);
    } catch {
      // that connection closed: what follows goes on another one
    }
    return true;
  }

  #adopt(conn: FramedConn): void {
    this.#conn = conn;
    this.#hooks.connected(conn);
    void conn.closed.then(() => {
      this.#hooks.disconnected(conn);
      this.wake();
    });
  }

  /** Sleeps until woken or `ms` pass; true when the time ran out. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#woken || this.#abort.signal.aborted) {
      this.#woken = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms)
        ? setTimeout(() => {
          this.#wake = null;
          resolve(true);
        }, ms)
        : undefined;
      this.#wake = () => {
        clearTimeout(timer);
        this.#woken = false;
        resolve(false);
      };
    });
  }
}
