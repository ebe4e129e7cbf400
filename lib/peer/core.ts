/**
 * The state the messenger core shares between its commands (peer.ts) and
 * its network input (receive.ts): contacts and requests, their persistence,
 * their send loops, the event sink (with its backpressure and the
 * aggregated network warnings), and the book a received packet is
 * dispatched against (lib/protocol/dispatch.ts).
 *
 * Persistence rules (docs/architecture.md, "Crash safety"): a conversation's
 * record is saved ({@linkcode PeerCore.saveContact}: what changed, in the
 * store's next journal commit) before a ciphertext of it leaves and after a
 * received packet changed it; a save resolves only once its commit is
 * durable, and commits are written in order, so the state on disk is always
 * one the peer really had.
 *
 * @module
 */

import { equalBytes, type Rng, toBase64 } from "../crypto/bytes.ts";
import type { KeyPair } from "../crypto/keys.ts";
import { deadline } from "../deadline.ts";
import { errorMessage } from "../errors.ts";
import { errorCode } from "../net/net_error.ts";
import type { BackoffOptions } from "../net/backoff.ts";
import type { Connector } from "../net/connector.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import type {
  BookCandidates,
  ConversationEntry,
  PacketBook,
  ReplyEntry,
} from "../protocol/dispatch.ts";
import type { PacketKeys } from "../protocol/packet_common.ts";
import type { ElementBody } from "../protocol/elements.ts";
import { HsubTable } from "../protocol/packets.ts";
import { regularKeysOf, replyKeysOf } from "../protocol/session.ts";
import type { PeerStore } from "../store/peer_store.ts";
import { MAX_NAME_BYTES } from "../protocol/handshake_data.ts";
import { utf8 } from "../crypto/bytes.ts";
import { Contact } from "./contact.ts";
import type { Link } from "./link.ts";
import {
  type ConversationRecord,
  type OutboundEntry,
  type RequestsBook,
  requestsToJson,
} from "./records.ts";
import {
  conversationHsub,
  conversationIndex,
  conversationPeerKey64,
  conversationSaveFailed,
  conversationToStore,
} from "./stored_conversation.ts";
import type { EventSink, PeerEvent } from "./types.ts";
import { type AggregatedCode, WarningBatcher } from "./warnings.ts";

export type { KeyPair } from "../crypto/keys.ts";
export type { BackoffOptions } from "../net/backoff.ts";
export type { Connector } from "../net/connector.ts";
export type { FramedConn } from "../net/framed_conn.ts";
export type { BookCandidates, PacketBook } from "../protocol/dispatch.ts";
export type { ElementBody } from "../protocol/elements.ts";
export type { PeerEvent } from "./types.ts";
export type { AggregatedCode, WarningBatcher } from "./warnings.ts";

/** A contact as a candidate of the dispatcher: its keys derived when a packet first needs them. */
class ContactEntry implements ConversationEntry<Contact> {
  readonly handle: Contact;
  #keys: PacketKeys | undefined;

  constructor(contact: Contact) {
    this.handle = contact;
  }

  get conversationId(): Uint8Array {
    return conversationIndex(this.handle.record).conversationId;
  }

  get keys(): PacketKeys {
    return this.#keys ??= regularKeysOf(this.conversationId);
  }
}

/** Prefix of the connector key (and stream isolation key) of a request's delivery. */
export const REQUEST_KEY_PREFIX = "request-";

/**
 * Events handed to the sink and not shown yet past which network input
 * waits (backpressure): a stuck interface holds the network, not memory.
 */
export const MAX_UNSHOWN_EVENTS = 256;
/**
 * Message text (UTF-16 code units) handed to the sink and not shown yet past
 * which network input waits too: four of the longest messages. Counting
 * events alone let 256 messages of 1 MiB wait (6 MiB each as a JSON line
 * with every character escaped).
 */
export const MAX_UNSHOWN_CHARS = 4 * 1024 * 1024;

/**
 * Longest wait for the event sink to show a received message before it is
 * acknowledged; past it the message counts as not shown (not acknowledged,
 * so its sender re-sends it) and a stuck interface cannot hold the peer.
 */
export const SINK_FLUSH_TIMEOUT_MS = 5_000;

/** Timing and retry settings shared by every link. */
export interface CoreTiming {
  /** How long to wait before dialling a contact again (ms). */
  redialMs: number;
  /** Idle time after which a keep-alive is sent (ms). */
  keepaliveMs: number;
  /** Back-off after connections that closed unanswered (link.ts). */
  backoff?: BackoffOptions;
  /** How long an answered connection must last to reset that back-off (ms). */
  stableMs?: number;
  /** The sending cap (send_cap.ts); smaller only in tests. */
  sendCap?: number;
  /** Aggregation interval of network warnings (warnings.ts). */
  warningIntervalMs?: number;
}

/** Shared state of one running peer. */
export class PeerCore {
  /** The peer's store (its profile, conversations and requests). */
  readonly store: PeerStore;
  /** Our identity key pair. */
  readonly identity: KeyPair;
  /** Randomness of this peer. */
  readonly rng: Rng;
  /** The clock (ms). */
  readonly now: () => number;
  /** Opens connections to contacts. */
  readonly connector: Connector;
  /** Timing and retry settings of every link. */
  readonly timing: CoreTiming;
  /** Conversations by file ID. */
  readonly contacts = new Map<string, Contact>();
  /** The pending requests. */
  requests: RequestsBook;
  /** One-shot delivery loops of outbound requests, by request ID. */
  readonly requestLinks = new Map<string, Link>();
  /** Which contact an inbound connection belongs to (learned from its packets). */
  readonly owners = new WeakMap<FramedConn, Contact>();
  /** `start()` ran. */
  started = false;
  /** `close()` ran. */
  closed = false;
  /** What a received packet may belong to: our contacts and outbound requests. */
  readonly book: PacketBook<Contact, OutboundEntry>;
  /** Aggregated warnings of the network input. */
  readonly warnings: WarningBatcher;
  readonly #events: EventSink;
  readonly #pending = new Set<Promise<unknown>>();
  /** Every contact's K_r, scanned at once for a packet's hSub (packet_common.ts). */
  readonly #table: HsubTable<ConversationEntry<Contact>>;
  /** Each contact's slot in the table and its candidate. */
  readonly #slots = new Map<Contact, { slot: number; candidate: ConversationEntry<Contact> }>();
  /** Reply-key candidates: null once a contact came or went ... */
  #replies: ReplyEntry<Contact, OutboundEntry>[] | null = null;
  /** ... and stale once `requests.outbound` is another array than this one. */
  #repliesOutbound: readonly OutboundEntry[] | null = null;
  /** Events given to the sink whose promise has not settled. */
  #unshown = 0;
  /** ... and the text of those that are messages. */
  #unshownChars = 0;
  #sinkWaiters: (() => void)[] = [];
  /** Set by peer.ts: builds the link of a contact. */
  makeLink!: (contact: Contact) => Link;

  /** Builds the core of a peer whose state was loaded. */
  constructor(
    init: {
      store: PeerStore;
      identity: KeyPair;
      rng: Rng;
      now: () => number;
      connector: Connector;
      timing: CoreTiming;
      events: EventSink;
      requests: RequestsBook;
    },
  ) {
    this.store = init.store;
    this.identity = init.identity;
    this.rng = init.rng;
    this.now = init.now;
    this.connector = init.connector;
    this.timing = init.timing;
    this.#events = init.events;
    this.requests = init.requests;
    this.#table = new HsubTable(init.identity.publicKey);
    this.warnings = new WarningBatcher((w) => this.emit(w), init.timing.warningIntervalMs);
    this.book = {
      ownIdentity: init.identity,
      // live views: the candidates are rebuilt from them when they change
      conversations: { [Symbol.iterator]: () => this.contacts.values() },
      outbound: { [Symbol.iterator]: () => this.requests.outbound.values() },
      conversationOf: (contact) => contact.record.session,
      requestOf: (entry) => entry.state,
      knownRequest: (key) => this.knownRequest(key),
    };
  }

  /** Emits an event; a throwing sink is ignored (an interface bug must not stop the core). */
  emit(event: PeerEvent): void {
    try {
      const shown = this.#events(event);
      // a rejection is the sink's own problem too (never an unhandled one)
      if (shown instanceof Promise) this.#count(shown);
    } catch {
      // the sink's own problem
    }
  }

  /** Counts `shown` (of an event with `chars` of text) as unshown until it settles (see {@linkcode sinkRoom}). */
  #count(shown: Promise<unknown>, chars = 0): void {
    this.#unshown++;
    this.#unshownChars += chars;
    const settled = () => {
      this.#unshown--;
      this.#unshownChars -= chars;
      if (this.#hasRoom()) {
        for (const wake of this.#sinkWaiters.splice(0)) wake();
      }
    };
    shown.then(settled, settled);
  }

  #hasRoom(): boolean {
    return this.#unshown < MAX_UNSHOWN_EVENTS && this.#unshownChars < MAX_UNSHOWN_CHARS;
  }

  /**
   * Resolves once fewer than {@linkcode MAX_UNSHOWN_EVENTS} events, and less
   * than {@linkcode MAX_UNSHOWN_CHARS} of message text, wait for the sink:
   * network input waits here before each frame, so an interface that falls
   * behind slows the network down instead of queueing without bound (a
   * message is then delivered later, never lost).
   */
  sinkRoom(): Promise<void> {
    if (this.#hasRoom() || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#sinkWaiters.push(resolve));
  }

  /**
   * Emits an event and waits until the sink has shown it (see `EventSink`),
   * at most {@linkcode SINK_FLUSH_TIMEOUT_MS}: true once shown, false if
   * the sink threw, rejected or took too long (then treat it as not shown).
   * When it took too long and the sink shows it after all (a consumer that
   * stopped reading for a while), `late` is called then, unless the core
   * closed meanwhile.
   */
  async emitShown(event: PeerEvent, late?: () => void): Promise<boolean> {
    let shown: void | Promise<void>;
    try {
      shown = this.#events(event);
    } catch {
      return false;
    }
    if (!(shown instanceof Promise)) return true;
    this.#count(shown, event.event === "message" ? event.text.length : 0);
    const outcome = shown.then(() => true, () => false);
    const first = await deadline(outcome, SINK_FLUSH_TIMEOUT_MS, () => null);
    if (first !== null) return first;
    if (late !== undefined) void outcome.then((ok) => ok && !this.closed && late());
    return false;
  }

  /** Emits a `warning` (something about a contact or a request worth a line of its own). */
  warn(code: string, message: string): void {
    this.emit({ event: "warning", code, message });
  }

  /** Counts a dropped packet or a refused connection into the aggregated warnings. */
  dropped(code: AggregatedCode, reason: string, conn: { label: string }): void {
    if (!this.closed) this.warnings.add(code, reason, conn.label);
  }

  /** Emits an `error` for a failure the user should know about (disk ...). */
  error(e: unknown, what: string): void {
    this.emit({ event: "error", code: errorCode(e), message: `${what}: ${errorMessage(e)}` });
  }

  /**
   * Marks the core closed: network input stops (waiters of
   * {@linkcode sinkRoom} go on and find it closed), counted warnings are
   * reported.
   */
  shutdown(): void {
    this.closed = true;
    for (const wake of this.#sinkWaiters.splice(0)) wake();
    this.warnings.close();
  }

  /** Tracks `promise` so that close() can wait for it. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const done = () => this.#pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** Waits for every tracked promise (handlers and saves). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /**
   * Saves a contact's record (skipped once the conversation is deleted):
   * what changed since its last save, in the store's next commit.
   */
  saveContact(contact: Contact): Promise<void> {
    const fileId = contact.record.fileId;
    if (this.contacts.get(fileId) !== contact) return Promise.resolve();
    // what changed is told when the commit is written: once for all the
    // saves of this contact until then (a burst of packets costs one)
    const save = this.store.saveConversationLater(
      fileId,
      () =>
        this.contacts.get(fileId) === contact
          ? conversationToStore(contact.record, this.store.stats.failed)
          : null,
    );
    // the next save writes every part again (this one's changes may be missing)
    save.catch(() => conversationSaveFailed(contact.record));
    return this.track(save);
  }

  /** Saves the pending requests. */
  saveRequests(): Promise<void> {
    return this.track(this.store.saveRequests(requestsToJson(this.requests)));
  }

  /**
   * Adds a contact; its link starts now if the peer has started and
   * `startLink` (default true) holds: a command that may still roll the
   * contact back passes false and starts the link once its saves landed.
   */
  addContact(record: ConversationRecord, startLink = true): Contact {
    const contact = new Contact(record, this.rng, this.timing.sendCap);
    this.contacts.set(record.fileId, contact);
    // a conversation its contact deleted sends nothing more (receive.ts)
    contact.link = record.endedByContact ? null : this.makeLink(contact);
    if (this.started && startLink) contact.link?.start();
    const candidate = new ContactEntry(contact);
    const slot = this.#table.add(candidate, conversationHsub(record));
    this.#slots.set(contact, { slot, candidate });
    this.#replies = null;
    return contact;
  }

  /** Removes a contact from memory and stops its link. */
  async removeContact(contact: Contact): Promise<void> {
    this.contacts.delete(contact.record.fileId);
    const held = this.#slots.get(contact);
    if (held !== undefined) this.#table.remove(held.slot);
    this.#slots.delete(contact);
    this.#replies = null;
    await contact.link?.close();
  }

  /** The contact named `name`, if any. */
  contactNamed(name: string): Contact | undefined {
    for (const c of this.contacts.values()) if (c.record.name === name) return c;
    return undefined;
  }

  /** The contact whose identity key is `key`, if any. */
  contactWithKey(key: Uint8Array): Contact | undefined {
    const key64 = toBase64(key);
    for (const c of this.contacts.values()) if (conversationPeerKey64(c.record) === key64) return c;
    return undefined;
  }

  /** Every local name in use: conversations and requests both ways. */
  namesInUse(): Set<string> {
    const names = new Set<string>();
    for (const c of this.contacts.values()) names.add(c.record.name);
    for (const r of this.requests.outbound) names.add(r.name);
    for (const r of this.requests.inbound) names.add(r.name);
    return names;
  }

  /** `base`, or `base-2`, `base-3` ... whichever is free. */
  uniqueName(base: string): string {
    const used = this.namesInUse();
    if (!used.has(base)) return base;
    for (let i = 2;; i++) {
      const suffix = `-${i}`;
      let stem = base;
      while (utf8(stem + suffix).length > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join("");
      if (!used.has(stem + suffix)) return stem + suffix;
    }
  }

  /** The name a link key (file or request ID) stands for, for connection events. */
  nameOfKey(key: string): string | undefined {
    if (key.startsWith(REQUEST_KEY_PREFIX)) {
      const id = key.slice(REQUEST_KEY_PREFIX.length);
      return this.requests.outbound.find((r) => r.id === id)?.name;
    }
    return this.contacts.get(key)?.record.name;
  }

  /** Whether a request with this request key was already seen (pending, rejected or accepted). */
  knownRequest(requestPublicKey: Uint8Array): boolean {
    const b64 = toBase64(requestPublicKey);
    if (this.requests.rejected.includes(b64)) return true;
    if (this.requests.inbound.some((e) => equalBytes(e.state.requestPublicKey, requestPublicKey))) {
      return true;
    }
    return this.acceptedRequest(requestPublicKey);
  }

  /** Whether a conversation was made from the request with this request key. */
  acceptedRequest(requestPublicKey: Uint8Array): boolean {
    for (const c of this.contacts.values()) {
      const key = c.record.requestKey;
      if (key !== null && equalBytes(key, requestPublicKey)) return true;
    }
    return false;
  }

  /**
   * The dispatch candidates of {@linkcode book}: the table of every
   * contact (scanned at once, nothing built per packet) with `first` (the
   * contact an inbound connection already belongs to) tried before it, then
   * the reply keys (Bob's conversations before the outbound requests, as
   * dispatch.ts's `candidatesFor` orders them), cached until a contact or an
   * outbound request comes or goes (the requests' array is replaced on
   * every change, so a new array means new candidates).
   */
  candidates(first?: Contact): BookCandidates<Contact, OutboundEntry> {
    if (this.#replies === null || this.#repliesOutbound !== this.requests.outbound) {
      this.#repliesOutbound = this.requests.outbound;
      this.#replies = this.#buildReplies();
    }
    const mine = first !== undefined ? this.#slots.get(first)?.candidate : undefined;
    return {
      ownIdentity: this.identity,
      conversations: this.#table,
      ...(mine !== undefined ? { first: mine } : {}),
      pendingRequests: this.#replies,
      acceptRequests: true,
    };
  }

  #buildReplies(): ReplyEntry<Contact, OutboundEntry>[] {
    const pendingRequests: ReplyEntry<Contact, OutboundEntry>[] = [];
    for (const contact of this.contacts.values()) {
      const { role, sharedRequestKey } = conversationIndex(contact.record);
      if (role === "bob" && sharedRequestKey !== null) {
        pendingRequests.push({
          sharedRequestKey,
          keys: replyKeysOf(sharedRequestKey),
          conversation: contact,
        });
      }
    }
    for (const outbound of this.requests.outbound) {
      const { sharedRequestKey } = outbound.state;
      pendingRequests.push({ sharedRequestKey, keys: replyKeysOf(sharedRequestKey), outbound });
    }
    return pendingRequests;
  }

  /**
   * Records that `conn` carries `contact`'s packets. Without an outbound
   * connection of our own, the contact is evidently back: the link dials at
   * once, cutting short a dial or pause from when the contact was down.
   */
  adoptInbound(contact: Contact, conn: FramedConn): void {
    if (this.owners.get(conn) === contact) return;
    this.owners.set(conn, contact);
    contact.inbound.add(conn);
    if (contact.link?.conn === undefined) contact.link?.contactSeen();
    void conn.closed.then(() => {
      contact.inbound.delete(conn);
      contact.forget(conn);
      this.connectionGone(contact, conn);
    });
  }

  /**
   * A connection of `contact` closed: the authenticated level ends when it
   * was one of the connections SMP ran over, and any run ends when the
   * contact is now offline (an SMP result holds only while a peer stays
   * connected).
   */
  connectionGone(contact: Contact, conn: FramedConn): void {
    if (this.closed) return;
    const authConn = contact.authConns?.has(conn) ?? false;
    if (!authConn && contact.online) return;
    this.endAuth(contact, "the contact disconnected");
  }

  /** Ends the authentication session of `contact`, with events. */
  endAuth(contact: Contact, reason: string): void {
    contact.authConns = null;
    const { levelChanged, aborted } = contact.auth.reset();
    if (aborted) this.emit({ event: "auth", name: contact.name, status: "aborted", reason });
    if (levelChanged) this.emit({ event: "level", name: contact.name, level: contact.level });
  }

  /** Applies an SMP step: queues its messages, reports its statuses and level. */
  applyAuthStep(
    contact: Contact,
    step: {
      send: Uint8Array[];
      statuses: { status: string; reason?: string }[];
      levelChanged: boolean;
    },
  ): void {
    for (const data of step.send) this.queue(contact, { type: "authentication", data });
    for (const s of step.statuses) {
      this.emit({
        event: "auth",
        name: contact.name,
        status: s.status as "match",
        ...(s.reason !== undefined ? { reason: s.reason } : {}),
      });
    }
    if (step.levelChanged) {
      const conns = [...contact.inbound];
      const own = contact.link?.conn;
      if (own !== undefined && contact.link?.answered(own)) conns.push(own);
      // a failed run dropped the level: no connection holds it any more
      contact.authConns = contact.auth.authenticated ? new Set(conns) : null;
      this.emit({ event: "level", name: contact.name, level: contact.level });
    }
  }

  /** Queues a control element for `contact` and wakes its link. */
  queue(contact: Contact, body: ElementBody): void {
    contact.queueControl(body, this.rng);
    contact.link?.wake();
  }
}
