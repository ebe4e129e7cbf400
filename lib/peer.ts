/**
 * The messenger core: one peer with its identity, requests and
 * conversations, the behaviour README.md describes for the CLI and the
 * GUI, without any terminal code. Interfaces (the JSON-lines
 * interface, the REPL) call the commands of {@linkcode Peer} and render its
 * events (`lib/peer/types.ts`); the runtime launches tor, publishes the
 * onion service with {@linkcode Peer.onionKey}, hands every inbound
 * connection of the listener to {@linkcode Peer.acceptConnection} with its
 * admission, and the listener's log to {@linkcode Peer.netLogger} (refused
 * connections become an aggregated `warning`).
 *
 * What lives where:
 * - peer/core.ts: shared state, persistence, links, events
 * - peer/receive.ts: network input (dispatch, admission, stages)
 * - peer/receive_element.ts: what a received element does (shown, answered)
 * - peer/conversation_commands.ts: the commands on one conversation
 * - peer/warnings.ts: the aggregated warnings of network input
 * - peer/contact.ts, peer/link.ts: one conversation and its send loop
 * - peer/requests.ts: received requests (the flood policy, accept, reject)
 * - peer/requests_out.ts: sent requests (send, cancel, expiry)
 * - peer/auth.ts: SMP; peer/records.ts, peer/profile.ts: the files
 *
 * Delivery: a message is queued in the conversation's persisted outbox and
 * sent over our outbound connection to the contact; the contact saves it,
 * shows it, and acknowledges it; the acknowledgement removes it from the
 * outbox (`delivered`). An entry is sealed once, when it first leaves, and
 * re-sent as the same bytes on every new connection, in order, until
 * acknowledged; the contact recognises a copy it has read and acknowledges
 * it again, and names one it can no longer read (`unreadable`), which is
 * then sealed anew, so each arrives once, across restarts and crashes.
 * How far sealing may run ahead of the contact: peer/send_cap.ts.
 *
 * @module
 */

import type { Rng } from "./crypto/bytes.ts";
import { encodePublicKey } from "./crypto/keys.ts";
import type { OnionKey } from "./crypto/onion.ts";
import type { BackoffOptions } from "./net/backoff.ts";
import { DEFAULT_BACKOFF_MAX_MS } from "./net/backoff.ts";
import { Connector, DEFAULT_MAX_ATTEMPTS } from "./net/connector.ts";
import type { Admission } from "./net/admission.ts";
import type { FramedConn, NetLogger } from "./net/framed_conn.ts";
import type { Transport } from "./net/transport.ts";
import { systemRng } from "./rng.ts";
import { bounded } from "./deadline.ts";
import type { PeerStore } from "./store/peer_store.ts";
import { checkContactName, formatIdentityAddress } from "./peer/address.ts";
import { PeerCore } from "./peer/core.ts";
import { PeerError } from "./peer/errors.ts";
import { contactLink, reportProgress, sendNow, startRequestLink } from "./peer/links.ts";
import {
  authenticate,
  checkConversation,
  deleteConversation,
  sendMessage,
  setPresence,
  verify,
} from "./peer/conversation_commands.ts";
import { loadState } from "./peer/load.ts";
import { checkSendCap } from "./peer/send_cap.ts";
import { START_DIALS_AT_ONCE, StartGate, startOrder } from "./peer/start_order.ts";
import { loadOrCreateProfile, type Profile } from "./peer/profile.ts";
import { receiveFrames } from "./peer/receive.ts";
import { showInbox } from "./peer/receive_element.ts";
import { guardedSink } from "./peer/sink.ts";
import { acceptRequest, listInbound, rejectRequests } from "./peer/requests.ts";
import { cancelRequest, listOutbound, outboundExpired, sendRequest } from "./peer/requests_out.ts";
import type {
  ConversationInfo,
  EventSink,
  IdentityInfo,
  RequestInfo,
  SentMessage,
  TorLogEntry,
} from "./peer/types.ts";

export * from "./peer/types.ts";
export { isPeerError, PeerError, type PeerErrorCode } from "./peer/errors.ts";
export { DEFAULT_ONION_PORT } from "./peer/address.ts";

/** Default interval of keep-alives on an idle outbound connection (well below the 5-minute idle timeout). */
export const DEFAULT_KEEPALIVE_MS = 60_000;
/** Default bound on sending "offline" presence when closing. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 3_000;

/** Options of {@linkcode Peer.open}. */
export interface PeerOptions {
  /** The peer's name (its folder's name). */
  name: string;
  /** The peer's files, opened and locked by the caller (closed by the caller after `close()`). */
  store: PeerStore;
  /** How to reach contacts (tor, or loopback in tests). */
  transport: Transport;
  /** Our onion service's virtual port (part of our identity address). */
  port: number;
  /** Receives every event. */
  events: EventSink;
  /** Randomness (default: the system CSPRNG; SMP and keys need a CSPRNG). */
  rng?: Rng;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /**
   * Back-off between dial attempts, and after connections that closed
   * unanswered; its maxMs is also the pause between dials while messages wait.
   */
  backoff?: BackoffOptions;
  /** How long an answered connection must last to reset the back-off (ms; link.ts). */
  stableMs?: number;
  /**
   * Most ratchet messages per sending chain (default and largest: SEND_CAP,
   * peer/send_cap.ts); a smaller cap lets tests reach it quickly.
   */
  sendCap?: number;
  /** Attempts per dial (default the connector's). */
  maxAttempts?: number;
  /** Keep-alive interval of idle outbound connections (ms). */
  keepaliveMs?: number;
  /** Bound on close()'s "offline" presence and on delete's notice to the contact (ms). */
  closeTimeoutMs?: number;
  /** Dial every contact at start() to learn who is online (default true). */
  dialOnStart?: boolean;
  /** Start dials in flight at once (default START_DIALS_AT_ONCE, peer/start_order.ts). */
  startDials?: number;
  /** Aggregation interval of network warnings (ms; default warnings.ts). */
  warningIntervalMs?: number;
  /** Tor's recent log lines, from the runtime (absent without tor): see `torLog()`. */
  torLog?: (count: number) => TorLogEntry[];
}

/** One running peer. */
export class Peer {
  readonly #core: PeerCore;
  readonly #profile: Profile;
  readonly #port: number;
  readonly #options: PeerOptions;
  readonly #inbound = new Set<FramedConn>();
  #closing: Promise<void> | null = null;

  private constructor(core: PeerCore, profile: Profile, options: PeerOptions) {
    this.#core = core;
    this.#profile = profile;
    this.#port = options.port;
    this.#options = options;
    core.makeLink = (contact) => contactLink(core, contact);
  }

  /**
   * Loads the peer's profile, conversations and requests from
   * `options.store`, creating the profile (identity and onion keys) on the
   * first open. A damaged conversation file is reported as an `error`
   * event naming its path and left untouched; the others load.
   *
   * @throws {PeerError} `bad_name`; {@linkcode StoreError} for a damaged profile
   */
  static async open(options: PeerOptions): Promise<Peer> {
    const name = checkContactName(options.name);
    const rng = options.rng ?? systemRng;
    const now = options.now ?? Date.now;
    const store = options.store;
    const { profile } = await loadOrCreateProfile(store, name, rng, now());
    const emit = guardedSink(options.events); // the sink's problems are its own
    const { requests, records } = await loadState(store, emit);
    const ref: { core?: PeerCore } = {};
    const connector = new Connector({
      transport: options.transport,
      ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
      rng,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      onProgress: (p) => ref.core && !ref.core.closed && reportProgress(ref.core, p),
    });
    const core = ref.core = new PeerCore({
      store,
      identity: profile.identity,
      rng,
      now,
      connector,
      timing: {
        redialMs: options.backoff?.maxMs ?? DEFAULT_BACKOFF_MAX_MS,
        keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
        ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
        ...(options.stableMs !== undefined ? { stableMs: options.stableMs } : {}),
        ...(options.sendCap !== undefined ? { sendCap: checkSendCap(options.sendCap) } : {}),
        ...(options.warningIntervalMs !== undefined
          ? { warningIntervalMs: options.warningIntervalMs }
          : {}),
      },
      events: options.events,
      requests,
    });
    const peer = new Peer(core, profile, options);
    for (const record of records) core.addContact(record);
    return peer;
  }

  /** What others need to contact us (the `/peer`, `/onion` and `/key` commands). */
  identity(): IdentityInfo {
    const onion = this.#profile.onionKey.address;
    return {
      name: this.#profile.name,
      onion: `${onion}.onion`,
      port: this.#port,
      address: formatIdentityAddress(this.#profile.name, onion, this.#port),
      key: encodePublicKey(this.#profile.identity.publicKey),
    };
  }

  /** Our onion service key, for the runtime to publish (`torKeyBlob(onionKey().seed)`). */
  onionKey(): OnionKey {
    return this.#profile.onionKey;
  }

  /**
   * Starts delivering: dials contacts (to learn who is online; those with
   * messages waiting and the most recently active first, a few at a time:
   * peer/start_order.ts), tells those with presence on that we are online,
   * re-sends pending requests and queued messages, and shows messages
   * received before and not shown yet.
   */
  async start(): Promise<void> {
    this.#checkOpen();
    const core = this.#core;
    if (core.started) return;
    core.started = true;
    // messages waiting and recent contacts first, a few dials at a time (start_order.ts)
    const gate = new StartGate(this.#options.startDials ?? START_DIALS_AT_ONCE);
    const dialAll = this.#options.dialOnStart ?? true;
    for (const contact of startOrder(core.contacts.values())) {
      if (contact.record.presence) core.queue(contact, { type: "presence", status: "online" });
      const dials = dialAll || contact.hasWork(undefined);
      contact.link?.start(dials ? gate.ticket() : undefined);
      if (dialAll) contact.link?.want();
      // received before a crash or a failed display, and not shown yet
      for (const entry of contact.record.inbox) showInbox(core, contact, entry.id);
    }
    for (const entry of core.requests.outbound) {
      if (!outboundExpired(core, entry)) startRequestLink(core, entry);
    }
    await Promise.resolve();
  }

  /**
   * A `NetLogger` for the listener (the runtime wires it): refused
   * connections and broken framing are counted into the aggregated
   * `connections_refused` warning, other records are dropped.
   */
  readonly netLogger: NetLogger = (entry) => {
    if (entry.level !== "warn") return;
    this.#core.dropped("connections_refused", entry.code ?? entry.event, entry);
  };

  /**
   * Takes an inbound connection from the listener with its admission: its
   * packets are dispatched and handled, and the admission learns whether
   * they identify (without one, the connection is not policed).
   */
  acceptConnection(conn: FramedConn, admission?: Admission): void {
    if (this.#core.closed || this.#closing !== null) {
      void conn.close();
      return;
    }
    this.#inbound.add(conn);
    void conn.closed.then(() => this.#inbound.delete(conn));
    receiveFrames(this.#core, conn, admission);
  }

  /**
   * Sends a request (docs/protocol.md "6.1 Stage 1: the signed request")
   * to `name@address.onion[:port]` with the
   * contact's identity key; `name` becomes their local name. The request is
   * saved first and delivered (re-sent on every start) until they answer.
   *
   * @throws {PeerError} `bad_address`, `bad_key`, `bad_name`, `name_taken`,
   *   `own_identity`, `already_contact`, `too_many_requests`
   */
  async sendRequest(identityAddress: string, identityKey: string): Promise<RequestInfo> {
    this.#checkOpen();
    const own = { profile: this.#profile, port: this.#port };
    return await sendRequest(this.#core, own, identityAddress, identityKey);
  }

  /**
   * Requests received and not answered yet (inbound requests), the
   * ones held as a flood included (marked `flood`); expired ones are gone.
   */
  inboundRequests(): RequestInfo[] {
    return listInbound(this.#core);
  }

  /** Requests sent and not answered yet; expired ones are marked `expired`. */
  outboundRequests(): RequestInfo[] {
    return listOutbound(this.#core);
  }

  /**
   * Accepts an inbound request (docs/protocol.md "6.2 Stage 2:
   * accepting"), optionally under another
   * local name: the conversation exists at once and can carry messages.
   *
   * A request from a key we already have a conversation with (or sent a
   * pending request to) is refused and stays listed, so it can be rejected.
   * A failed save changes nothing and is thrown.
   *
   * @throws {PeerError} `unknown_request`, `bad_name`, `name_taken`,
   *   `already_contact`; {@linkcode StoreError}
   */
  async acceptRequest(name: string, newName?: string): Promise<ConversationInfo> {
    this.#checkOpen();
    return await acceptRequest(this.#core, this.#profile.identity, name, newName);
  }

  /**
   * Rejects inbound requests: `name`, every request (`--all`), the flood
   * ones (`--flood`), or the names a pattern matches (`*` stands for any
   * text). They are dropped, and re-sent copies ignored; nothing is sent to
   * their senders. Returns the names rejected.
   *
   * @throws {PeerError} `unknown_request`
   */
  async rejectRequest(name: string): Promise<string[]> {
    this.#checkOpen();
    return await rejectRequests(this.#core, name);
  }

  /**
   * Cancels a request we sent (pending or expired): it is no longer
   * delivered, and the same key can be asked again.
   *
   * @throws {PeerError} `unknown_request`
   */
  async cancelRequest(name: string): Promise<void> {
    this.#checkOpen();
    await cancelRequest(this.#core, name);
  }

  /** Every conversation, sorted by name (the `/convs` command). */
  conversations(): ConversationInfo[] {
    return [...this.#core.contacts.values()]
      .map((c) => c.record.endedByContact ? { ...c.info(), ended: true as const } : c.info())
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /**
   * Queues a message (any text, newlines included) and returns its ID; the
   * `delivered` event with that ID follows the contact's acknowledgement.
   *
   * @throws {PeerError} `unknown_peer`, `not_established`, `bad_message`, `outbox_full`
   */
  async sendMessage(name: string, text: string): Promise<SentMessage> {
    this.#checkOpen();
    return await sendMessage(this.#core, name, text);
  }

  /**
   * Turns presence notifications to `name` on or off (the `/pres-on`
   * and `/pres-off` commands): with it on, they are told when we come
   * online and go offline.
   * A failed save leaves the setting as it was and is thrown.
   *
   * @throws {PeerError} `unknown_peer`, `not_established`; {@linkcode StoreError}
   */
  async setPresence(name: string, on: boolean): Promise<void> {
    this.#checkOpen();
    await setPresence(this.#core, name, on);
  }

  /**
   * Compares a key obtained over another channel with the contact's
   * identity key (constant time): a match marks the conversation verified
   * for good once saved (a failed save leaves it unverified and is
   * thrown); a mismatch changes nothing.
   *
   * @throws {PeerError} `unknown_peer`, `not_established`, `bad_key`;
   *   {@linkcode StoreError} when the save fails
   */
  async verify(name: string, key: string): Promise<{ verified: boolean }> {
    this.#checkOpen();
    return await verify(this.#core, name, key);
  }

  /**
   * Starts SMP with `secret`, or answers the contact's run (docs/protocol.md
   * "9.5 The run between two peers"); the outcome comes as `auth` and
   * `level` events.
   *
   * When the contact is not connected, it is dialled now (`connecting`
   * true) and the run starts once they are reached; if they cannot be
   * reached, an `auth` event `aborted` says so.
   *
   * @throws {PeerError} `unknown_peer`, `not_established`, `bad_secret`
   */
  async authenticate(name: string, secret: string): Promise<{ connecting: boolean }> {
    this.#checkOpen();
    return await authenticate(this.#core, name, secret);
  }

  /**
   * What {@linkcode Peer.deleteConversation} throws for `name` before it
   * changes anything, without changing anything (an interface checks it
   * before it asks for confirmation).
   *
   * @throws {PeerError} `unknown_peer`, `not_established`
   */
  checkConversation(name: string): void {
    this.#checkOpen();
    checkConversation(this.#core, name);
  }

  /**
   * Deletes a conversation with its keys and queued messages. The contact
   * is told first, best effort (a `conversation_deleted` element, bounded by
   * `closeTimeoutMs`; lost when they cannot be reached), so that their side
   * stops queuing messages. The contact leaves a tombstone
   * (peer/requests.ts), so that an old request of theirs, replayed, does not
   * bring it back.
   *
   * @throws {PeerError} `unknown_peer`, `not_established` (a request of that name)
   */
  async deleteConversation(name: string): Promise<void> {
    this.checkConversation(name);
    const timeout = this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    await deleteConversation(this.#core, name, timeout);
  }

  /**
   * Emits again every received message that the interface has not shown
   * yet (its sink refused or dropped it: a GUI with no page open), with
   * the same event IDs; each is acknowledged once shown. An interface calls
   * this when it can show messages again.
   */
  showUnread(): void {
    if (this.#core.closed || this.#closing !== null) return;
    for (const contact of this.#core.contacts.values()) {
      for (const entry of contact.record.inbox) showInbox(this.#core, contact, entry.id);
    }
  }

  /** Tor's recent log lines (oldest first, at most `count`); `undefined` without tor. */
  torLog(count: number): TorLogEntry[] | undefined {
    return this.#options.torLog?.(count);
  }

  /**
   * Tells contacts with presence on that we go offline (bounded by
   * `closeTimeoutMs`), stops every loop and connection, and waits for
   * pending saves. The store stays open (the caller closes it).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const core = this.#core;
    if (core.started) {
      const contacts = [...core.contacts.values()].filter((c) => c.record.presence);
      await bounded(
        Promise.allSettled(
          contacts.map((c) => sendNow(this.#core, c, { type: "presence", status: "offline" })),
        ),
        this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      );
    }
    core.shutdown();
    const links = [...core.requestLinks.values()];
    for (const c of core.contacts.values()) if (c.link) links.push(c.link);
    await Promise.all(links.map((l) => l.close()));
    await core.connector.close();
    await Promise.all([...this.#inbound].map((c) => c.close()));
    await core.settle();
  }

  #checkOpen(): void {
    if (this.#core.closed || this.#closing !== null) {
      throw new PeerError("closed", "Cannot run the command: this peer is closed; start it again");
    }
  }
}
