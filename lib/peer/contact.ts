/**
 * One conversation at run time: its persisted record (records.ts) and what
 * lives only in memory: the queue of unacknowledged-free elements
 * (acknowledgements, presence, authentication, keep-alives), which outbox
 * entries went out on which connection, the reassembly of fragmented
 * elements, the SMP session, and the connections that show the contact is
 * online.
 *
 * Sending order: queued control elements first (they are small and
 * time-sensitive), then the outbox in order. Every element is fragmented
 * to fit one packet (fragment.ts) and each part is one ratchet message; the
 * caller saves the record between {@linkcode Contact.seal} and the send.
 *
 * @module
 */

import { type Rng, toHex } from "../crypto/bytes.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import {
  type Element,
  ELEMENT_ID_LENGTH,
  type ElementBody,
  encodeElement,
  newElementId,
} from "../protocol/elements.ts";
import { fragmentElement, Reassembler } from "../protocol/fragment.ts";
import { MAX_SEALED_PLAINTEXT, sealMessage } from "../protocol/session.ts";
import { AuthSession } from "./auth.ts";
import type { Link } from "./link.ts";
import type { ConversationRecord, OutboxEntry } from "./records.ts";
import { conversationIndex, conversationPeerKey64 } from "./stored_conversation.ts";
import { formatIdentityAddress } from "./address.ts";
import type { ConversationInfo, Level } from "./types.ts";

/** Most control elements held for a contact; the oldest go first (acks are re-sent on demand). */
export const MAX_CONTROL_QUEUE = 256;

/** The ID of a keep-alive: an acknowledgement of nothing (all zero). */
export const KEEPALIVE_ID = new Uint8Array(ELEMENT_ID_LENGTH);

/** What {@linkcode Contact.nextElement} picked. */
export interface NextElement {
  element: Element;
  /** Set when the element is an outbox entry (to be acknowledged). */
  entry?: OutboxEntry;
}

/** A conversation with its run-time state. */
export class Contact {
  record: ConversationRecord;
  readonly #rng: Rng;
  #auth: AuthSession | undefined;
  readonly reassembler = new Reassembler();
  /** Inbound connections on which packets of this contact arrived (still open). */
  readonly inbound = new Set<FramedConn>();
  /** The connections alive when SMP matched; the level lasts while they do. */
  authConns: Set<FramedConn> | null = null;
  link: Link | null = null;
  readonly #control: Element[] = [];
  /** Outbox entry key -> the connection it was last written on. */
  readonly #sentOn = new Map<string, FramedConn>();

  constructor(record: ConversationRecord, rng: Rng) {
    this.record = record;
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

  get name(): string {
    return this.record.name;
  }

  /** Connected either way. */
  get online(): boolean {
    return this.link?.conn !== undefined || this.inbound.size > 0;
  }

  /** The seed's authentication level. */
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

  /** Queues a keep-alive unless something else waits. */
  queueKeepalive(): void {
    if (this.#control.length > 0) return;
    this.#control.push({ type: "ack", ackedId: KEEPALIVE_ID, id: KEEPALIVE_ID });
  }

  /**
   * Whether the next element is a reply (a queued control element other
   * than a keep-alive, which belongs to the outbound connection it keeps up).
   */
  get replyWaits(): boolean {
    const next = this.#control[0];
    return next !== undefined && next.id !== KEEPALIVE_ID;
  }

  /**
   * The connection replies go back on: the newest open connection on which
   * the contact's packets arrived, other than our own outbound one (the
   * contact's outbound connection, so a reply takes the circuit its packet
   * came on), or undefined (then the outbound link carries them).
   *
   * Only a packet that decrypted in this conversation binds a connection to
   * the contact (receive.ts), so a replayed or forged packet never makes one
   * carry our replies.
   */
  replyConn(): FramedConn | undefined {
    const own = this.link?.conn;
    let found: FramedConn | undefined;
    for (const conn of this.inbound) if (conn !== own && !conn.isClosed) found = conn;
    return found;
  }

  /** The next reply (control element) to write on a reply connection, or null. */
  nextReply(): Element | null {
    if (!this.replyWaits) return null;
    return this.#control.shift() ?? null;
  }

  /** Whether anything waits for `conn` (the current outbound connection, if any). */
  hasWork(conn: FramedConn | undefined): boolean {
    if (this.#control.length > 0) return true;
    return this.record.outbox.some((e) => conn === undefined || this.#sentOn.get(e.key) !== conn);
  }

  /** The next element to write on `conn`, or null. */
  nextElement(conn: FramedConn): NextElement | null {
    const control = this.#control.shift();
    if (control !== undefined) return { element: control };
    const entry = this.record.outbox.find((e) => this.#sentOn.get(e.key) !== conn);
    if (entry === undefined) return null;
    return { element: { ...entry.body, id: entry.id } as Element, entry };
  }

  /** Remembers that `entry` went out on `conn` (re-sent on any other). */
  markSent(entry: OutboxEntry, conn: FramedConn): void {
    this.#sentOn.set(entry.key, conn);
  }

  /**
   * Encrypts `element` (one ratchet message per part) and advances the
   * in-memory ratchet; returns the packets. Save the record before sending.
   */
  seal(element: Element, rng: Rng): Uint8Array[] {
    const parts = fragmentElement(encodeElement(element), MAX_SEALED_PLAINTEXT, element.id);
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
    const conn = this.#sentOn.get(key);
    this.#sentOn.delete(key);
    for (const earlier of this.record.outbox.slice(0, index)) {
      if (conn !== undefined && this.#sentOn.get(earlier.key) === conn) {
        this.#sentOn.delete(earlier.key);
      }
    }
    return entry;
  }

  /** Replaces the session (after a decryption). */
  setSession(session: ConversationRecord["session"]): void {
    this.record.session = session;
  }

  /** Forgets which entries went out on `conn` (it closed). */
  forget(conn: FramedConn): void {
    for (const [key, c] of this.#sentOn) if (c === conn) this.#sentOn.delete(key);
  }
}
