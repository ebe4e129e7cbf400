/**
 * Admission control of inbound connections: who may hold a connection to
 * us, for how long, and how much CPU a stranger's frames may take. Anyone
 * who knows our onion address can connect, so nothing here trusts a
 * connection until its consumer (the core) says a packet on it decrypted.
 *
 * - A new connection is **unidentified**. Unidentified connections have a
 *   pool of their own; when it is full the oldest is closed to make room
 *   (the oldest that has not sent a frame yet, if any: one whose frame
 *   waits for the lane is about to be judged), but never one younger than
 *   a grace period: over tor the listener accepts a contact's connection a
 *   rendezvous round trip before its first packet can arrive, and strangers
 *   who connect as fast as we accept would otherwise push every new
 *   connection out before that. When every one is that young, the listener
 *   stops accepting until one leaves or ages ({@linkcode AdmissionControl.nextAccept}):
 *   the kernel's backlog holds the newcomers in order, a contact's first
 *   packet waits in its socket meanwhile and is judged as soon as it is
 *   accepted. Each must identify within a short deadline; one whose first
 *   packet identifies nothing is closed at once.
 * - Once the consumer reports {@linkcode Admission.identified} (a packet
 *   decrypted in a conversation, or a valid request), the connection moves
 *   to the **identified** pool under its owner (a contact's ID): at most a
 *   few per owner (the owner's oldest makes room) and a global cap. An
 *   unidentified connection never displaces an identified one. The sender
 *   of a valid request is identified as a *stranger*: its connection leaves
 *   the unidentified pool (under one shared owner), but its frames stay in
 *   the stranger lane, since anyone can make valid requests.
 * - Frames of unidentified connections are handled one at a time in the
 *   stranger lane, which spends at most a quarter of the time; new
 *   connections are accepted at a bounded rate (pacing.ts). Identified
 *   connections never wait for either, and the lane yields to I/O every few
 *   milliseconds, so strangers cannot starve the sockets of contacts.
 * - An identified connection may carry a few packets that identify
 *   nothing (a deleted conversation, a replay); past a small budget it is
 *   closed too.
 *
 * Closes are logged (`refused` records with a stable code) for the owner of
 * the log to aggregate. Knows nothing of packets or contacts: owners are
 * opaque strings.
 *
 * @module
 */

import type { FramedConn, NetLogger } from "./framed_conn.ts";
import { StrangerLane, TokenBucket, type WakeableDelay, wakeableDelay } from "./pacing.ts";

/**
 * Unidentified connections held at once. With the grace period, a flood of
 * silent strangers lets this many connections in per grace period (about
 * 40 a second), so a contact behind a full kernel backlog (512 here) gets
 * in within about 12 s. Each costs a socket and a 4 KiB buffer, plus what
 * its sender uploads (framed_conn.ts bounds it).
 */
export const DEFAULT_MAX_UNIDENTIFIED = 128;
/**
 * Least time a new connection keeps its unidentified slot (ms): its first
 * frame comes a round trip of a rendezvous circuit after tor connects to us,
 * often a second on the public network, up to a few on a slow circuit (even
 * the private test network's loopback relays took up to 1.7 s under load,
 * tests/e2e/onion_streams_test.ts).
 */
export const DEFAULT_UNIDENTIFIED_GRACE_MS = 3_000;
/** Deadline for a new connection's first identifying packet (a contact sends one at once). */
export const DEFAULT_IDENTIFY_TIMEOUT_MS = 10_000;
/** Identified connections held at once (contacts online with us), well below 1024 file descriptors. */
export const DEFAULT_MAX_IDENTIFIED = 256;
/** Connections of one owner: its link, a redial overlapping a dying one, a close-time send, a spare. */
export const DEFAULT_MAX_PER_OWNER = 4;
/**
 * Frames a stranger's connection reads ahead of the one being handled (the
 * connection's own bound applies once it identified as a contact): its
 * first frame may wait for the lane, and up to 32 frames of 256 KiB each
 * would be 8 MiB per connection, times the unidentified pool.
 */
export const MAX_STRANGER_QUEUED_FRAMES = 1;
/** Packets that identify nothing an identified connection may carry in a burst (replays, a deleted conversation). */
export const BAD_PACKET_BURST = 8;
/** One more such packet is allowed every this many ms. */
export const BAD_PACKET_REFILL_MS = 10_000;
/** Share of the time the stranger lane may spend on unidentified connections' frames. */
export const STRANGER_CPU_SHARE = 0.25;
/**
 * New connections accepted a second: far more than contacts need. Tor does
 * not bound this for us: its PoW queue lets 25 new rendezvous circuits a
 * second through, but one circuit may open streams one after another
 * without limit (MaxStreams counts those open at once). Past it the
 * kernel's backlog holds the rest, at no cost to us.
 */
export const DEFAULT_ACCEPTS_PER_SECOND = 100;
/** New connections accepted at once after a quiet spell (contacts coming online together). */
export const DEFAULT_ACCEPT_BURST = 50;

/** Why admission closed a connection (the `code` of its `refused` log record). */
export type RefusalCode =
  /** The unidentified pool was full; this was its oldest connection. */
  | "unidentified_pool_full"
  /** No identifying packet within the deadline. */
  | "identify_timeout"
  /** Its first packet identified nothing. */
  | "unidentified_packet"
  /** An identified connection carried too many packets that identify nothing. */
  | "too_many_bad_packets"
  /** The identified pool was full. */
  | "too_many_connections"
  /** Its owner opened more connections; this was the owner's oldest. */
  | "owner_connection_limit";

/** Refusals an attacker causes in bulk; the others are logged as debug (reported elsewhere or normal churn). */
const WARN_CODES: ReadonlySet<RefusalCode> = new Set([
  "unidentified_pool_full",
  "identify_timeout",
  "too_many_bad_packets",
  "too_many_connections",
]);

/** Limits of {@linkcode AdmissionControl}; every field has a default above. */
export interface AdmissionLimits {
  /** Unidentified connections held at once ({@linkcode DEFAULT_MAX_UNIDENTIFIED}). */
  maxUnidentified?: number;
  /** Deadline of a new connection to identify, ms ({@linkcode DEFAULT_IDENTIFY_TIMEOUT_MS}). */
  identifyTimeoutMs?: number;
  /** Least time a new connection keeps its slot, ms ({@linkcode DEFAULT_UNIDENTIFIED_GRACE_MS}). */
  unidentifiedGraceMs?: number;
  /** Identified connections held at once ({@linkcode DEFAULT_MAX_IDENTIFIED}). */
  maxIdentified?: number;
  /** Identified connections of one owner ({@linkcode DEFAULT_MAX_PER_OWNER}). */
  maxPerOwner?: number;
  /** New connections accepted a second ({@linkcode DEFAULT_ACCEPTS_PER_SECOND}). */
  acceptsPerSecond?: number;
  /** ... saved up as a burst ({@linkcode DEFAULT_ACCEPT_BURST}). */
  acceptBurst?: number;
}

/** What the consumer of one inbound connection tells admission, and how it runs its frames. */
export interface Admission {
  /**
   * Runs the handling of one received frame when it is this connection's
   * turn: soon once identified, else in the stranger lane. Resolves when
   * `work` has (or, for a connection admission closed meanwhile, without
   * running it).
   */
  run(work: () => Promise<void> | void): Promise<void>;
  /**
   * A packet on this connection decrypted for `owner` (or `owner` vouches
   * for it otherwise). With `stranger`, the owner is someone anyone can be
   * (the sender of a valid request: request keys are free to make): the
   * connection leaves the unidentified pool, but its frames keep going
   * through the stranger lane. A contact's connection never becomes a
   * stranger's again.
   */
  identified(owner: string, stranger?: boolean): void;
  /** A packet on this connection identified nothing: closes it, or spends its budget. */
  unidentified(): void;
}

/**
 * The admission of a connection that no pool polices (one we dialled
 * ourselves): frames run at once. (A contact's frames yield to I/O by
 * themselves: each one that counts is saved to disk before the next.)
 */
export const UNPOLICED: Admission = {
  run: async (work) => {
    await work();
  },
  identified: () => {},
  unidentified: () => {},
};

interface Entry {
  readonly conn: FramedConn;
  owner: string | null;
  /** Its frames go through the stranger lane (unidentified, or a stranger's owner). */
  stranger: boolean;
  /** Closed by admission: its queued frames are not worth running. */
  refused: boolean;
  /** A frame of it was handed to `run` (its first packet is being judged). */
  sentFrame: boolean;
  /** When it was admitted (`performance.now()`). */
  readonly admittedAt: number;
  /** The connection's own bound on queued frames, given back once it identifies as a contact. */
  readonly maxQueuedFrames: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  badTokens: number;
  badRefilledAt: number;
}

/** The pools, deadlines and stranger lane of one listener (see the module header). */
export class AdmissionControl {
  readonly #max: Required<AdmissionLimits>;
  readonly #log: NetLogger;
  /** Unidentified connections, oldest first (Map order). */
  readonly #unidentified = new Map<FramedConn, Entry>();
  /** Identified connections by owner, oldest first. */
  readonly #owners = new Map<string, Entry[]>();
  #identifiedCount = 0;
  readonly #lane = new StrangerLane(STRANGER_CPU_SHARE);
  readonly #accepts: TokenBucket;
  /** The wait of {@linkcode nextAccept} for room in a full unidentified pool. */
  #roomWait: WakeableDelay | null = null;
  #closed = false;

  /** Admission under `limits`, logging its refusals to `log`. */
  constructor(limits: AdmissionLimits, log: NetLogger) {
    this.#max = {
      maxUnidentified: positive(limits.maxUnidentified ?? DEFAULT_MAX_UNIDENTIFIED),
      identifyTimeoutMs: positive(limits.identifyTimeoutMs ?? DEFAULT_IDENTIFY_TIMEOUT_MS),
      unidentifiedGraceMs: positive(limits.unidentifiedGraceMs ?? DEFAULT_UNIDENTIFIED_GRACE_MS),
      maxIdentified: positive(limits.maxIdentified ?? DEFAULT_MAX_IDENTIFIED),
      maxPerOwner: positive(limits.maxPerOwner ?? DEFAULT_MAX_PER_OWNER),
      acceptsPerSecond: positive(limits.acceptsPerSecond ?? DEFAULT_ACCEPTS_PER_SECOND),
      acceptBurst: positive(limits.acceptBurst ?? DEFAULT_ACCEPT_BURST),
    };
    this.#accepts = new TokenBucket(this.#max.acceptsPerSecond, this.#max.acceptBurst);
    this.#log = log;
  }

  /** Unidentified connections open now. */
  get unidentifiedCount(): number {
    return this.#unidentified.size;
  }

  /** Identified connections open now. */
  get identifiedCount(): number {
    return this.#identifiedCount;
  }

  /**
   * Resolves when the listener may accept one more connection: the accept
   * rate allows it, and the unidentified pool has room or a connection past
   * its grace period to make room with. (Or at once after `close()`.)
   */
  async nextAccept(): Promise<void> {
    await this.#accepts.take();
    while (!this.#closed && this.#unidentified.size >= this.#max.maxUnidentified) {
      const oldest = this.#unidentified.values().next().value!;
      const young = oldest.admittedAt + this.#max.unidentifiedGraceMs - performance.now();
      if (young <= 0) return;
      // woken early when a connection leaves the pool
      this.#roomWait = wakeableDelay(young);
      await this.#roomWait.done;
      this.#roomWait = null;
    }
  }

  /** Takes a new connection into the unidentified pool (making room if it is full, see `nextAccept`). */
  admit(conn: FramedConn): Admission {
    const entry: Entry = {
      conn,
      owner: null,
      stranger: true,
      refused: false,
      sentFrame: false,
      admittedAt: performance.now(),
      maxQueuedFrames: conn.maxQueuedFrames,
      timer: undefined,
      badTokens: BAD_PACKET_BURST,
      badRefilledAt: performance.now(),
    };
    if (this.#unidentified.size >= this.#max.maxUnidentified) this.#makeRoom();
    this.#unidentified.set(conn, entry);
    conn.maxQueuedFrames = Math.min(MAX_STRANGER_QUEUED_FRAMES, entry.maxQueuedFrames);
    entry.timer = setTimeout(
      () => this.#refuse(entry, "identify_timeout"),
      this.#max.identifyTimeoutMs,
    );
    void conn.closed.then(() => this.#forget(entry));
    return {
      run: (work) => this.#run(entry, work),
      identified: (owner, stranger = false) => this.#identify(entry, owner, stranger),
      unidentified: () => this.#unidentifiedPacket(entry),
    };
  }

  /** Stops the lane and the accept rate; queued work is released without running. Connections are the listener's to close. */
  close(): void {
    this.#closed = true;
    this.#lane.close();
    this.#accepts.cancel();
    this.#roomWait?.wake();
    for (const entry of this.#unidentified.values()) clearTimeout(entry.timer);
  }

  /**
   * Closes the oldest silent unidentified connection past its grace period,
   * or else the oldest past it (`nextAccept` waited for one), or else (a
   * caller that did not wait) the oldest.
   */
  #makeRoom(): void {
    const graceEnd = performance.now() - this.#max.unidentifiedGraceMs;
    let victim: Entry | undefined;
    for (const entry of this.#unidentified.values()) {
      if (entry.admittedAt > graceEnd) break; // this one and all after it are younger
      victim ??= entry;
      if (!entry.sentFrame) {
        victim = entry;
        break;
      }
    }
    victim ??= this.#unidentified.values().next().value;
    if (victim !== undefined) this.#refuse(victim, "unidentified_pool_full");
  }

  #run(entry: Entry, work: () => Promise<void> | void): Promise<void> {
    if (!entry.stranger) return UNPOLICED.run(work);
    entry.sentFrame = true;
    // identified while it waited (an earlier frame decrypted): it runs as such
    const runAs = () => (!entry.stranger ? UNPOLICED.run(work) : work());
    // a frame that arrived before its sender closed is still handled; one of a refused connection is not
    return this.#lane.run(runAs, () => !entry.refused);
  }

  #identify(entry: Entry, owner: string, stranger: boolean): void {
    if (entry.conn.isClosed) return;
    if (entry.owner !== null && !entry.stranger && stranger) return; // stays the contact's
    if (entry.owner === owner) {
      entry.stranger = stranger;
      if (!stranger) entry.conn.maxQueuedFrames = entry.maxQueuedFrames;
      return;
    }
    if (entry.owner === null) {
      if (this.#identifiedCount >= this.#max.maxIdentified) {
        this.#refuse(entry, "too_many_connections");
        return;
      }
      this.#unidentified.delete(entry.conn);
      this.#roomWait?.wake();
      clearTimeout(entry.timer);
      entry.timer = undefined;
      this.#identifiedCount++;
    } else {
      this.#removeFromOwner(entry);
    }
    entry.owner = owner;
    entry.stranger = stranger;
    if (!stranger) entry.conn.maxQueuedFrames = entry.maxQueuedFrames;
    const list = this.#owners.get(owner) ?? [];
    this.#owners.set(owner, list);
    list.push(entry);
    if (list.length > this.#max.maxPerOwner) this.#refuse(list[0]!, "owner_connection_limit");
  }

  #unidentifiedPacket(entry: Entry): void {
    if (entry.conn.isClosed) return;
    if (entry.owner === null) {
      this.#refuse(entry, "unidentified_packet");
      return;
    }
    const now = performance.now();
    const refill = Math.floor((now - entry.badRefilledAt) / BAD_PACKET_REFILL_MS);
    if (refill > 0) {
      entry.badTokens = Math.min(BAD_PACKET_BURST, entry.badTokens + refill);
      entry.badRefilledAt = now;
    }
    if (entry.badTokens > 0) entry.badTokens--;
    else this.#refuse(entry, "too_many_bad_packets");
  }

  #refuse(entry: Entry, code: RefusalCode): void {
    if (entry.conn.isClosed) return;
    entry.refused = true;
    this.#forget(entry);
    this.#log({
      level: WARN_CODES.has(code) ? "warn" : "debug",
      event: "refused",
      label: entry.conn.label,
      code,
    });
    void entry.conn.close();
  }

  /** Drops `entry` from every pool (idempotent). */
  #forget(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (this.#unidentified.get(entry.conn) === entry) {
      this.#unidentified.delete(entry.conn);
      this.#roomWait?.wake();
    } else if (entry.owner !== null && this.#removeFromOwner(entry)) this.#identifiedCount--;
  }

  /** Removes `entry` from its owner's list; true if it was there. */
  #removeFromOwner(entry: Entry): boolean {
    const list = this.#owners.get(entry.owner!);
    const i = list?.indexOf(entry) ?? -1;
    if (list === undefined || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.#owners.delete(entry.owner!);
    return true;
  }
}

function positive(n: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot admit connections: limit ${n} is not a positive integer`);
  }
  return n;
}
