/**
 * Admission control of inbound connections: who may hold a connection to
 * us, for how long, and how much CPU a stranger's frames may take. Anyone
 * who knows our onion address can connect, so nothing here trusts a
 * connection until its consumer (the core) says a packet on it decrypted.
 *
 * - A new connection is **unidentified**. Unidentified connections have a
 *   small pool of their own; when it is full the oldest is closed to make
 *   room (the oldest that has not sent a frame yet, if any: a contact sends
 *   its first packet at once, and one whose frame waits for the lane is
 *   about to be judged), and each must identify within a short deadline.
 *   One whose first packet identifies nothing is closed at once.
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
import { StrangerLane, TokenBucket } from "./pacing.ts";

/** Unidentified connections held at once; a contact identifies with its first packet, so few are needed. */
export const DEFAULT_MAX_UNIDENTIFIED = 16;
/** Deadline for a new connection's first identifying packet (a contact sends one at once). */
export const DEFAULT_IDENTIFY_TIMEOUT_MS = 10_000;
/** Identified connections held at once (contacts online with us), well below 1024 file descriptors. */
export const DEFAULT_MAX_IDENTIFIED = 256;
/** Connections of one owner: its link, a redial overlapping a dying one, a close-time send, a spare. */
export const DEFAULT_MAX_PER_OWNER = 4;
/** Packets that identify nothing an identified connection may carry in a burst (replays, a deleted conversation). */
export const BAD_PACKET_BURST = 8;
/** One more such packet is allowed every this many ms. */
export const BAD_PACKET_REFILL_MS = 10_000;
/** Share of the time the stranger lane may spend on unidentified connections' frames. */
export const STRANGER_CPU_SHARE = 0.25;
/**
 * New connections accepted a second: far more than contacts need, and half
 * of what tor lets through to us under load (the PoW queue's 25 rendezvous
 * a second, 8 streams each); past it the kernel's backlog holds the rest,
 * at no cost to us.
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

  /** Admission under `limits`, logging its refusals to `log`. */
  constructor(limits: AdmissionLimits, log: NetLogger) {
    this.#max = {
      maxUnidentified: positive(limits.maxUnidentified ?? DEFAULT_MAX_UNIDENTIFIED),
      identifyTimeoutMs: positive(limits.identifyTimeoutMs ?? DEFAULT_IDENTIFY_TIMEOUT_MS),
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

  /** Resolves when the listener may accept one more connection (the accept rate). */
  nextAccept(): Promise<void> {
    return this.#accepts.take();
  }

  /** Takes a new connection into the unidentified pool (closing its oldest if full). */
  admit(conn: FramedConn): Admission {
    const entry: Entry = {
      conn,
      owner: null,
      stranger: true,
      refused: false,
      sentFrame: false,
      timer: undefined,
      badTokens: BAD_PACKET_BURST,
      badRefilledAt: performance.now(),
    };
    if (this.#unidentified.size >= this.#max.maxUnidentified) this.#makeRoom();
    this.#unidentified.set(conn, entry);
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
    this.#lane.close();
    this.#accepts.cancel();
    for (const entry of this.#unidentified.values()) clearTimeout(entry.timer);
  }

  /** Closes the oldest silent unidentified connection, or else the oldest one. */
  #makeRoom(): void {
    let victim: Entry | undefined;
    for (const entry of this.#unidentified.values()) {
      victim ??= entry;
      if (!entry.sentFrame) {
        victim = entry;
        break;
      }
    }
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
      return;
    }
    if (entry.owner === null) {
      if (this.#identifiedCount >= this.#max.maxIdentified) {
        this.#refuse(entry, "too_many_connections");
        return;
      }
      this.#unidentified.delete(entry.conn);
      clearTimeout(entry.timer);
      entry.timer = undefined;
      this.#identifiedCount++;
    } else {
      this.#removeFromOwner(entry);
    }
    entry.owner = owner;
    entry.stranger = stranger;
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
    if (this.#unidentified.get(entry.conn) === entry) this.#unidentified.delete(entry.conn);
    else if (entry.owner !== null && this.#removeFromOwner(entry)) this.#identifiedCount--;
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
