/**
 * One conversation at run time: its persisted record (records.ts) and what
 * lives only in memory: the queue of unacknowledged control elements
 * (acknowledgements, presence, authentication, keep-alives), which outbox
 * entries went out on which connection, the reassembly of fragmented
 * elements, the SMP session, and the connections that show the contact is
 * online.
 *
 * What goes out, and in which order ({@linkcode Contact.next}):
 * - The first packet on a new connection identifies it at once: the first
 *   outbox entry, or a fresh probe when the outbox is empty (the probe is a
 *   keep-alive the contact acknowledges, so a healthy connection always
 *   gets an answer back).
 * - Then queued control elements (small and time-sensitive), then the
 *   outbox in order. Replies (control elements other than keep-alives) go
 *   on the connection the contact reached us on when there is one
 *   ({@linkcode Contact.nextReply}).
 * - Every element is fragmented to fit one packet (fragment.ts) and each
 *   part is one ratchet message. An outbox entry is sealed once, when it
 *   first leaves, and re-sent as the same bytes until acknowledged: a dial
 *   that fails, however often, seals nothing new. The receiver names a copy
 *   it already read by its digest and acknowledges it again (receive.ts).
 * - Sealing obeys the sending cap (send_cap.ts, which also argues why it
 *   holds and cannot deadlock): what does not fit waits, unsealed, and a
 *   probe goes in its place.
 * - An entry whose bytes the contact can no longer use (their skipped
 *   message key expired or was evicted, or it read a part of the entry
 *   whose other parts it lost in a restart) is named back to us in an
 *   `unreadable` element ({@linkcode Contact.unreadable}) and sealed anew;
 *   the element ID keeps it from being shown twice.
 *
 * The caller saves the record after a step that sealed and before its
 * packets leave ({@linkcode SendStep.sealed}).
 *
 * @module
 */

import { type Rng, toHex } from "../crypto/bytes.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import { type Element, type ElementBody, newElementId } from "../protocol/elements.ts";
import { Reassembler } from "../protocol/fragment.ts";
import { sealMessage } from "../protocol/session.ts";
import { AuthSession } from "./auth.ts";
import type { Link } from "./link.ts";
import type { ConversationRecord, OutboxEntry } from "./records.ts";
import { conversationIndex, conversationPeerKey64 } from "./stored_conversation.ts";
import { SeenIds } from "./seen_ids.ts";
import { formatIdentityAddress } from "./address.ts";
import type { ConversationInfo, Level } from "./types.ts";
import { chainRoom, fitsOrdinary, MAX_SEALED_BYTES, SEND_CAP } from "./send_cap.ts";
import { elementOf, isKeepalive, KEEPALIVE_ID, nameOf, partsOf } from "./send_elements.ts";

export type { FramedConn } from "../net/framed_conn.ts";
export type { Element, ElementBody } from "../protocol/elements.ts";
export type { Reassembler } from "../protocol/fragment.ts";
export type { AuthSession } from "./auth.ts";
export type { ConversationInfo, Level } from "./types.ts";

/** Most control elements held for a contact; the oldest go first (acks are re-sent on demand). */
export const MAX_CONTROL_QUEUE = 256;

/** What {@linkcode Contact.next} decided to write. */
export interface SendStep {
  /** What to write, in order. */
  packets: Uint8Array[];
  /** Whether it sealed (then save the record before the packets leave). */
  sealed: boolean;
  /** The outbox entry it writes, if any. */
  entry?: OutboxEntry;
  /** Whether the entry is a probe created by this step. */
  newProbe?: boolean;
}

type Plan =
  | { kind: "entry"; entry: OutboxEntry }
  | { kind: "control"; element: Element }
  | { kind: "probe" };

/** A conversation with its run-time state. */
export class Contact {
  /** The persisted conversation. */
  record: ConversationRecord;
  readonly #rng: Rng;
  #auth: AuthSession | undefined;
  // what a contact holds at run time is made when first needed: most of
  // thousands of contacts never need it (issue 9: memory per conversation)
  #reassembler: Reassembler | undefined;
  #inbound: Set<FramedConn> | undefined;
  #probes: SeenIds | undefined;
  #sentOnMap: Map<string, Set<FramedConn>> | undefined;
  #usedSet: WeakSet<FramedConn> | undefined;
  #partsMap: Map<string, Uint8Array[]> | undefined;
  /** The connections alive when SMP matched; the level lasts while they do. */
  authConns: Set<FramedConn> | null = null;
  /** The send loop (none once the contact deleted the conversation). */
  link: Link | null = null;
  /** The contact said it went offline (presence) and sent nothing since. */
  saidOffline = false;
  /** An SMP run was started while the contact was not connected: the link is dialling. */
  authWaitsForLink = false;
  readonly #control: Element[] = [];
  readonly #cap: number;

  /** `cap`: the sending cap (send_cap.ts; smaller only in tests). */
  constructor(record: ConversationRecord, rng: Rng, cap: number = SEND_CAP) {
    this.record = record;
    this.#cap = cap;
    this.#rng = rng;
  }

  /** The SMP session (made when first used: a contact is made without loading its ratchet). */
  get auth(): AuthSession {
    if (this.#auth === undefined) {
      const s = this.record.session;
      this.#auth = new AuthSession(
        s.ownIdentityKey,
        s.peerIdentityKey,
        s.conversationId,
        this.#rng,
      );
    }
    return this.#auth;
  }

  /** Parts of fragmented elements received so far. */
  get reassembler(): Reassembler {
    return this.#reassembler ??= new Reassembler();
  }

  /** Inbound connections on which packets of this contact arrived (still open). */
  get inbound(): Set<FramedConn> {
    return this.#inbound ??= new Set();
  }

  /** IDs of the contact's probes received in this run (how their copies are answered). */
  get probes(): SeenIds {
    return this.#probes ??= new SeenIds();
  }

  /** Outbox entry key -> the open connections it was written on. */
  get #sentOn(): Map<string, Set<FramedConn>> {
    return this.#sentOnMap ??= new Map();
  }

  /** Connections something was written on (a new one starts with an identifying packet). */
  get #used(): WeakSet<FramedConn> {
    return this.#usedSet ??= new WeakSet();
  }

  /** Parts of unsealed outbox entries, computed once. */
  get #parts(): Map<string, Uint8Array[]> {
    return this.#partsMap ??= new Map();
  }

  /** The contact's local name. */
  get name(): string {
    return this.record.name;
  }

  /**
   * Known to be online: a connection either way on which the contact
   * answered, and no "offline" presence since its last packet.
   */
  get online(): boolean {
    if (this.saidOffline) return false;
    const own = this.link?.conn;
    return (own !== undefined && this.link?.answered(own) === true) ||
      (this.#inbound?.size ?? 0) > 0;
  }

  /** The authentication level: SMP matched, or the user verified the key, or neither. */
  get level(): Level {
    if (this.#auth?.authenticated) return "authenticated";
    return this.record.verified ? "verified" : "unverified";
  }

  /** What `convs` shows. */
  info(): ConversationInfo {
    const r = this.record;
    return {
      name: r.name,
      address: formatIdentityAddress(r.name, r.onion, r.port),
      key: conversationPeerKey64(r),
      level: this.level,
      presence: r.presence,
      online: this.online,
      established: conversationIndex(r).established,
      pending: r.outbox.filter((e) => e.body.type === "message").length,
    };
  }

  /** Queues a control element (not persisted, not acknowledged). */
  queueControl(body: ElementBody, rng: Rng): void {
    this.#control.push({ ...body, id: newElementId(rng) } as Element);
    if (this.#control.length > MAX_CONTROL_QUEUE) this.#control.shift();
  }

  /**
   * Whether something waits to be sealed that goes out without a dial (a
   * control element other than a keep-alive, which a reply connection
   * carries too, or an outbox entry not sealed yet while our own connection
   * is up): the next packet we seal answers a probe as well as an
   * acknowledgement of it would. An entry that waits for a dial does not: a
   * contact whose probe reaches us may be one we cannot reach.
   */
  get sealWaits(): boolean {
    return this.#control.some((e) => !isKeepalive(e)) ||
      (this.link?.conn !== undefined && this.record.outbox.some((e) => e.sealed === undefined));
  }

  /** Queues a keep-alive unless something else waits. */
  queueKeepalive(): void {
    if (this.#control.length > 0) return;
    this.#control.push({ type: "ack", ackedId: KEEPALIVE_ID, id: KEEPALIVE_ID });
  }

  /**
   * The connection replies go back on: the newest open connection on which
   * the contact's packets arrived, other than our own outbound one (the
   * contact's outbound connection, so a reply takes the circuit its packet
   * came on), or undefined (then the outbound link carries them).
   *
   * Only a packet of this conversation binds a connection to the contact
   * (receive.ts), so a forged packet never makes one carry our replies.
   */
  replyConn(): FramedConn | undefined {
    const own = this.link?.conn;
    let found: FramedConn | undefined;
    for (const conn of this.inbound) if (conn !== own && !conn.isClosed) found = conn;
    return found;
  }

  /** The reply connection, if a reply waits for it. */
  replyTarget(): FramedConn | undefined {
    const conn = this.replyConn();
    return conn !== undefined && this.#pickReply(conn) !== null ? conn : undefined;
  }

  /**
   * Whether anything waits for `conn` (the current outbound connection, if
   * any) or for the reply connection. Without a connection: whether there is
   * anything to dial for; a keep-alive or a probe alone is not (they only
   * keep a connection busy; a probe that stands for something held back
   * by the sending cap has that something beside it), so a contact who
   * went offline is not dialled for them.
   */
  hasWork(conn: FramedConn | undefined): boolean {
    if (conn === undefined) {
      return this.#control.some((e) => !isKeepalive(e)) ||
        this.record.outbox.some((e) => e.body.type !== "probe");
    }
    return this.#pick(conn) !== null || this.replyTarget() !== undefined;
  }

  /** The next packets to write on our outbound connection `conn`, or null. */
  next(conn: FramedConn, rng: Rng, now: number): SendStep | null {
    const plan = this.#pick(conn);
    return plan === null ? null : this.#run(plan, conn, rng, now);
  }

  /** The next reply packets to write on the reply connection `conn`, or null. */
  nextReply(conn: FramedConn, rng: Rng, now: number): SendStep | null {
    const plan = this.#pickReply(conn);
    return plan === null ? null : this.#run(plan, conn, rng, now);
  }

  /**
   * Undoes what a step whose save failed changed, so that nothing that is
   * not on disk ever leaves: its sealed bytes are dropped (the entry is
   * sealed anew, at a later ratchet position, next time) and a probe it
   * created goes. The ratchet is not wound back: the unused position is
   * skipped, like a lost packet.
   */
  unsend(step: SendStep): void {
    const entry = step.entry;
    if (entry === undefined) return;
    delete entry.sealed;
    this.#sentOn.delete(entry.key);
    if (step.newProbe) this.record.outbox = this.record.outbox.filter((e) => e !== entry);
  }

  /**
   * Encrypts `element` (one ratchet message per part) and advances the
   * in-memory ratchet; returns the packets, or null when the sending cap
   * leaves no room for it. Save the record before sending.
   */
  seal(element: Element, rng: Rng): Uint8Array[] | null {
    const parts = partsOf(element);
    return fitsOrdinary(this.record.session, parts.length, this.#cap)
      ? this.#sealParts(parts, rng)
      : null;
  }

  /**
   * Removes the acknowledged outbox entry; returns it, or undefined for an
   * unknown or repeated acknowledgement. Entries before it that went out on
   * the same connection lost their acknowledgement: they are re-sent.
   */
  acknowledge(ackedId: Uint8Array): OutboxEntry | undefined {
    const key = toHex(ackedId);
    const index = this.record.outbox.findIndex((e) => e.key === key);
    if (index < 0) return undefined;
    const [entry] = this.record.outbox.splice(index, 1);
    const conns = this.#sentOn.get(key) ?? new Set();
    this.#forgetEntry(key);
    for (const earlier of this.record.outbox.slice(0, index)) {
      const on = this.#sentOn.get(earlier.key);
      for (const conn of conns) on?.delete(conn);
    }
    return entry;
  }

  /**
   * The contact's new ratchet key arrived (our sending chain starts over):
   * probes sealed before it did their job and go.
   */
  chainStepped(): void {
    for (const e of this.record.outbox) if (e.body.type === "probe") this.#forgetEntry(e.key);
    this.record.outbox = this.record.outbox.filter((e) => e.body.type !== "probe");
  }

  /** Replaces the session (after a decryption). */
  setSession(session: ConversationRecord["session"]): void {
    this.record.session = session;
  }

  /** `conn` closed: what went out on it is re-sent (as the same bytes) on the next one. */
  forget(conn: FramedConn): void {
    for (const on of this.#sentOnMap?.values() ?? []) on.delete(conn);
  }

  /**
   * The contact could not use our packet named `name` (an `unreadable`
   * element, receive.ts): the outbox entry that packet belongs to is sealed
   * anew when it next goes out (a probe is dropped instead: a new one is
   * made when one is needed). Returns whether such an entry was waiting.
   */
  unreadable(name: Uint8Array): boolean {
    const wanted = toHex(name);
    const entry = this.record.outbox.find((e) => e.sealed?.some((p) => nameOf(p) === wanted));
    if (entry === undefined) return false;
    this.#forgetEntry(entry.key);
    if (entry.body.type === "probe") {
      this.record.outbox = this.record.outbox.filter((e) => e !== entry);
    } else {
      delete entry.sealed;
    }
    return true;
  }

  #forgetEntry(key: string): void {
    this.#sentOn.delete(key);
    this.#parts.delete(key);
  }

  /**
   * Whether `entry` went out on `conn`, or, for a probe, on any open
   * connection: one copy in flight asks for one answer (two would keep
   * both chains busy answering each other).
   */
  #sentOnConn(entry: OutboxEntry, conn: FramedConn): boolean {
    const on = this.#sentOn.get(entry.key);
    if (on === undefined) return false;
    return entry.body.type === "probe" ? on.size > 0 : on.has(conn);
  }

  /**
   * The plan for our outbound connection: an identifying packet first, then
   * control elements, then the outbox; a probe when something waits that
   * the cap holds back.
   */
  #pick(conn: FramedConn): Plan | null {
    if (!this.#used.has(conn)) {
      const first = this.#pickEntry(conn);
      if (first.entry !== undefined) return { kind: "entry", entry: first.entry };
      if (!this.#probeWaiting() && chainRoom(this.record.session, this.#cap) >= 1) {
        return { kind: "probe" };
      }
    }
    let blocked = false;
    while (this.#control.length > 0) {
      const head = this.#control[0]!;
      if (fitsOrdinary(this.record.session, partsOf(head).length, this.#cap)) {
        return { kind: "control", element: head };
      }
      if (!isKeepalive(head)) {
        blocked = true;
        break;
      }
      this.#control.shift(); // a keep-alive that does not fit is not needed
    }
    const found = this.#pickEntry(conn);
    if (found.entry !== undefined) return { kind: "entry", entry: found.entry };
    if ((blocked || found.blocked) && !this.#probeWaiting()) {
      if (chainRoom(this.record.session, this.#cap) >= 1) return { kind: "probe" };
    }
    return null;
  }

  /**
   * The first outbox entry not yet written on `conn` that can go: sealed
   * already, or fitting the cap and the sealed-bytes bound. A sealed entry
   * may overtake one that waits unsealed: it is a probe, or an entry sealed
   * anew, whose order was lost already.
   */
  #pickEntry(conn: FramedConn): { entry?: OutboxEntry; blocked: boolean } {
    let blocked = false;
    let sealedBytes = 0;
    for (const e of this.record.outbox) for (const p of e.sealed ?? []) sealedBytes += p.length;
    for (const entry of this.record.outbox) {
      if (this.#sentOnConn(entry, conn)) continue;
      if (entry.sealed !== undefined) return { entry, blocked };
      if (blocked) continue;
      const parts = this.#partsOfEntry(entry);
      let size = 0;
      for (const p of parts) size += p.length;
      const bytesFit = sealedBytes === 0 || sealedBytes + size <= MAX_SEALED_BYTES;
      if (bytesFit && fitsOrdinary(this.record.session, parts.length, this.#cap)) {
        return { entry, blocked };
      }
      blocked = true;
    }
    return { blocked };
  }

  /** The plan for a reply connection: the next reply, or the waiting probe in its place. */
  #pickReply(conn: FramedConn): Plan | null {
    const head = this.#control[0];
    if (head === undefined || isKeepalive(head)) return null;
    if (fitsOrdinary(this.record.session, partsOf(head).length, this.#cap)) {
      return { kind: "control", element: head };
    }
    const probe = this.record.outbox.find((e) => e.body.type === "probe");
    if (probe !== undefined) {
      return this.#sentOnConn(probe, conn) ? null : { kind: "entry", entry: probe };
    }
    return chainRoom(this.record.session, this.#cap) >= 1 ? { kind: "probe" } : null;
  }

  #probeWaiting(): boolean {
    return this.record.outbox.some((e) => e.body.type === "probe");
  }

  #run(plan: Plan, conn: FramedConn, rng: Rng, now: number): SendStep {
    this.#used.add(conn);
    if (plan.kind === "control") {
      this.#control.shift();
      return { packets: this.#sealParts(partsOf(plan.element), rng), sealed: true };
    }
    let entry: OutboxEntry;
    let newProbe = false;
    if (plan.kind === "probe") {
      const id = newElementId(rng);
      entry = { id, key: toHex(id), body: { type: "probe" }, at: now };
      this.record.outbox.push(entry);
      newProbe = true;
    } else {
      entry = plan.entry;
    }
    let sealed = false;
    if (entry.sealed === undefined) {
      entry.sealed = this.#sealParts(this.#partsOfEntry(entry), rng);
      this.#parts.delete(entry.key);
      sealed = true;
    }
    let on = this.#sentOn.get(entry.key);
    if (on === undefined) this.#sentOn.set(entry.key, on = new Set());
    on.add(conn);
    return { packets: entry.sealed, sealed, entry, ...(newProbe ? { newProbe } : {}) };
  }

  #partsOfEntry(entry: OutboxEntry): Uint8Array[] {
    let parts = this.#parts.get(entry.key);
    if (parts === undefined) {
      parts = partsOf(elementOf(entry));
      this.#parts.set(entry.key, parts);
    }
    return parts;
  }

  #sealParts(parts: Uint8Array[], rng: Rng): Uint8Array[] {
    let session = this.record.session;
    const packets: Uint8Array[] = [];
    for (const part of parts) {
      const sealed = sealMessage(session, part, rng);
      session = sealed.conversation;
      packets.push(sealed.packet);
    }
    this.record.session = session;
    return packets;
  }
}
