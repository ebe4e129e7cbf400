/**
 * The sending side of one contact: a loop that keeps (at most) one outbound
 * connection through the shared {@linkcode Connector} and writes whatever
 * its owner has to send, one batch at a time, in order.
 *
 * - It dials only when there is something to send or the owner asked for a
 *   connection (`want()`: at start, when the contact showed up on an
 *   inbound connection, or to stay connected). While something waits it
 *   redials every `redialMs` after each failed dial (the connector backs off
 *   within one dial); with nothing to send, one failed dial ends the attempt.
 * - A connection that closes before any frame came back on it counts as a
 *   failed dial: the next dial waits a growing back-off (`deadBackoff`), so
 *   a listener that accepts and at once closes costs a dial now and then,
 *   not a dial per round trip. So does one that closes within `stableMs`
 *   although it was answered. A connection that was answered and lasted
 *   resets it.
 * - When the contact shows up on an inbound connection while we have none
 *   ({@linkcode Link.contactSeen}), a dial in progress (which may be waiting
 *   out a long timeout from when the contact was down) or a back-off pause
 *   is cut short and the link dials at once. A message the user queued
 *   ({@linkcode Link.hurry}) skips the start turn and a back-off pause.
 * - `hooks.next(conn)` produces the next packets (the owner encrypts and
 *   saves the ratchet there, so a ciphertext never leaves before its state
 *   is on disk) and is called only with a live connection. Frames that come
 *   back go to `hooks.frame`.
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

import type { Rng } from "../crypto/bytes.ts";
import { Backoff, type BackoffOptions } from "../net/backoff.ts";
import type { Connector } from "../net/connector.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import type { PeerAddress } from "../net/transport.ts";

export type { BackoffOptions } from "../net/backoff.ts";
export type { FramedConn } from "../net/framed_conn.ts";

/** Default time an answered connection must last before its close resets the back-off. */
export const DEFAULT_STABLE_MS = 10_000;

/** What a {@linkcode Link} asks of its owner. */
export interface LinkHooks {
  /** Whether anything waits to be sent. */
  hasWork(): boolean;
  /** The next packets to write on `conn`, or null when nothing waits. */
  next(conn: FramedConn): Promise<Uint8Array[] | null>;
  /** A frame came back on `conn` (a connection of this link). */
  frame?(conn: FramedConn, packet: Uint8Array): Promise<void> | void;
  /** A connection this link used has closed; `answered`: a frame had come back on it. */
  disconnected(conn: FramedConn, answered: boolean): void;
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

/**
 * A turn to make the first dial (start_order.ts): the link waits for
 * `granted` before it, and calls `done` once that dial connected or failed.
 */
export interface StartTicket {
  /** Resolves when the link may dial (or the ticket was given up). */
  readonly granted: Promise<void>;
  /** The dial was made (or is not needed): the next ticket may go. */
  done(): void;
}

/** Timing of a {@linkcode Link}. */
export interface LinkOptions {
  /** Pause between two failed dials while something waits (ms). */
  redialMs: number;
  /** Connected and silent this long: `hooks.idle()` (ms). */
  idleMs: number;
  /** Close the connection once nothing waits (for one-shot request delivery). */
  closeWhenDone?: boolean;
  /** Back-off after connections that closed unanswered (or answered but short-lived). */
  deadBackoff?: BackoffOptions;
  /** How long an answered connection must last to reset that back-off (ms). */
  stableMs?: number;
  /** Jitter of the back-off. */
  rng: Rng;
}

/** One contact's outbound connection and send loop. */
export class Link {
  /** The connector's key for this contact (the conversation's file ID). */
  readonly key: string;
  readonly #address: PeerAddress;
  readonly #connector: Connector;
  readonly #hooks: LinkHooks;
  readonly #options: LinkOptions;
  readonly #abort = new AbortController();
  /** start() was called: the loop runs once there is something to do (see start). */
  #started = false;
  readonly #deadBackoff: Backoff;
  /** Connections a frame came back on. */
  #answeredSet: WeakSet<FramedConn> | undefined;
  #conn: FramedConn | undefined;
  #wanted = false;
  #wake: (() => void) | null = null;
  #woken = false;
  #done: Promise<void> | null = null;
  /** Wait before the next dial (ms): set when a connection closed unanswered. */
  #deadDelay = 0;
  /** Aborts the dial in progress (to cut it short). */
  #dialAbort: AbortController | null = null;
  /** Ends a back-off pause early. */
  #cutPause: (() => void) | null = null;
  #restart = false;
  /** The turn of the first dial at start, until it is made. */
  #ticket: StartTicket | null = null;

  /** A link to `address` through `connector`, stopped until {@linkcode Link.start}. */
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
    this.#deadBackoff = new Backoff(options.rng, options.deadBackoff);
  }

  /** The live outbound connection, if any. */
  get conn(): FramedConn | undefined {
    return this.#conn !== undefined && !this.#conn.isClosed ? this.#conn : undefined;
  }

  /** Whether a frame came back on `conn`. */
  answered(conn: FramedConn): boolean {
    return this.#answeredSet?.has(conn) ?? false;
  }

  /** Connections a frame came back on (made when the first one does). */
  get #answered(): WeakSet<FramedConn> {
    return this.#answeredSet ??= new WeakSet();
  }

  /**
   * Starts the loop (idempotent); its first dial waits for `ticket` if
   * given. With nothing to send and no dial asked for, the loop would only
   * wait to be woken: it is started by the first {@linkcode Link.wake}
   * instead (a suspended loop per idle contact costs about a kilobyte).
   */
  start(ticket?: StartTicket): void {
    if (this.#started) return ticket?.done();
    this.#started = true;
    this.#ticket = ticket ?? null;
    if (ticket !== undefined || this.#wanted || this.#hooks.hasWork()) this.#run();
  }

  /** Something new waits, or the contact may be reachable now: look again. */
  wake(): void {
    this.#woken = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    if (this.#started && this.#done === null && !this.#abort.signal.aborted) this.#run();
  }

  /**
   * Something the user asked for waits (a message): dial without waiting
   * for the start turn or a back-off pause (a dial in progress goes on).
   */
  hurry(): void {
    this.#passTicket();
    this.#cutPause?.();
    this.wake();
  }

  /** Asks for a connection even with nothing to send (one dial). */
  want(): void {
    this.#wanted = true;
    this.wake();
  }

  /**
   * The contact showed up (a packet of theirs on an inbound connection):
   * without a connection, cut short a dial or a back-off pause and dial now.
   */
  contactSeen(): void {
    this.#passTicket();
    if (this.conn !== undefined) return;
    this.#deadBackoff.reset();
    this.#deadDelay = 0;
    this.#wanted = true;
    if (this.#dialAbort !== null) {
      this.#restart = true;
      this.#dialAbort.abort("the contact is back");
    }
    this.#cutPause?.();
    this.wake();
  }

  /** Stops the loop and closes its connection. */
  async close(): Promise<void> {
    this.#passTicket();
    this.#abort.abort("link closed");
    this.#cutPause?.();
    this.wake();
    await this.#done;
    await this.#connector.disconnect(this.key);
  }

  #run(): void {
    // the loop's first steps may wake the link: it is running from here on
    this.#done = Promise.resolve();
    // a stored part that fails to load when first read (hasWork): the link stops, reported
    this.#done = this.#loop().catch((e) => this.#hooks.failed(e, "next"));
  }

  async #loop(): Promise<void> {
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
      if (this.conn === undefined && this.#deadDelay > 0) {
        const delay = this.#deadDelay;
        this.#deadDelay = 0;
        await this.#pause(delay);
        continue;
      }
      if (this.#ticket !== null && this.conn === undefined) {
        // a start dial waits its turn (contactSeen or close() end the wait)
        await this.#ticket.granted;
        if (signal.aborted) break;
      }
      let conn: FramedConn;
      const dialAbort = this.#dialAbort = new AbortController();
      try {
        conn = await this.#dial(AbortSignal.any([signal, dialAbort.signal]));
      } catch (e) {
        if (signal.aborted) break;
        if (this.#restart) {
          this.#restart = false;
          continue;
        }
        this.#wanted = false;
        this.#hooks.failed(e, "dial");
        if (this.#hooks.hasWork()) await this.#sleep(this.#options.redialMs);
        continue;
      } finally {
        this.#dialAbort = null;
        this.#passTicket();
      }
      this.#restart = false;
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
   * Dials, and while the dial is under way (over tor it can take a minute)
   * goes on writing replies on the contact's connection to us, so that what
   * they send meanwhile is acknowledged and answered.
   */
  async #dial(signal: AbortSignal): Promise<FramedConn> {
    const dialing = this.#connector.connect(this.key, this.#address, { signal });
    let settled = false;
    void dialing.then(() => {}, () => {}).finally(() => {
      settled = true;
      this.wake();
    });
    while (!settled) {
      const reply = this.#hooks.replyConn?.();
      if (reply !== undefined && await this.#sendReplies(reply)) continue;
      await this.#sleep(Infinity);
    }
    return dialing;
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
    const opened = Date.now();
    conn.onFrame((packet) => {
      this.#answered.add(conn);
      return this.#hooks.frame?.(conn, packet);
    });
    void conn.closed.then(() => {
      const answered = this.#answered.has(conn);
      const stable = Date.now() - opened >= (this.#options.stableMs ?? DEFAULT_STABLE_MS);
      if (answered && stable) {
        this.#deadBackoff.reset();
      } else if (!this.#abort.signal.aborted) {
        // closed unanswered or soon: a failed dial, whatever TCP said
        this.#deadDelay = this.#deadBackoff.next();
      }
      this.#hooks.disconnected(conn, answered);
      this.wake();
    });
  }

  /** Gives up the start turn (made, no longer needed, or bypassed). */
  #passTicket(): void {
    const ticket = this.#ticket;
    this.#ticket = null;
    ticket?.done();
  }

  /** A back-off pause: only the contact's return or close() end it early. */
  #pause(ms: number): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#cutPause = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#cutPause = done;
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
