/**
 * The contract between the messenger core (`lib/peer.ts`) and everything
 * that drives it (the JSON interface, the REPL, tests): what the core reports
 * (events) and what its commands return. Plain JSON-safe data only: no key
 * material except public identity keys, no classes.
 *
 * @module
 */

/** Conversation authentication levels of the seed ("Authentication Levels"). */
export type Level = "unverified" | "verified" | "authenticated";

/** What other people need to contact this peer (seed: `/peer`, `/onion`, `/key`). */
export interface IdentityInfo {
  /** The local peer name, e.g. `alice`. */
  name: string;
  /** The 56-character v3 onion address with `.onion`. */
  onion: string;
  /** The onion service's virtual port. */
  port: number;
  /** `name@address.onion:port`, what `req-send` takes. */
  address: string;
  /** The public identity key in base64 (44 characters). */
  key: string;
}

/** A pending request, inbound or outbound. */
export interface RequestInfo {
  /** Local name of the other peer (inbound: the name they suggested). */
  name: string;
  direction: "in" | "out";
  /** Their `name@address.onion:port`. */
  address: string;
  /** Their public identity key (base64). */
  key: string;
  /** When it was received or sent (ms since the epoch). */
  at: number;
}

/** One conversation as listed by `convs`. */
export interface ConversationInfo {
  /** Local name of the contact. */
  name: string;
  /** Their `name@address.onion:port` (with the name as we call them). */
  address: string;
  /** Their public identity key (base64). */
  key: string;
  level: Level;
  /** Whether we send them presence notifications (`pres-on`). */
  presence: boolean;
  /** Whether they are known to be online right now (connected). */
  online: boolean;
  /** Seed stage 3 reached (both sides have the full conversation). */
  established: boolean;
  /** Messages queued for them and not yet acknowledged. */
  pending: number;
}

/** What `msg` returns. */
export interface SentMessage {
  /** The message's ID (the `delivered` event names it). */
  id: string;
  /**
   * True when the contact was not known to be online: the message waits in
   * the outbox and goes when they are reachable (`delivered` follows).
   */
  queued: boolean;
}

/** Every event the core emits. `event` names are stable. */
export type PeerEvent =
  | { event: "bootstrap"; progress: number; summary: string }
  | { event: "ready"; identity: IdentityInfo }
  | { event: "request-received"; request: RequestInfo }
  | { event: "request-accepted"; name: string }
  | { event: "conversation-established"; name: string }
  | { event: "message"; name: string; id: string; text: string; at: number }
  | {
    event: "delivered";
    name: string;
    /** The `id` that `msg` returned. */
    id: string;
    /** The message's start on one line (at most 40 characters, "…" when cut). */
    excerpt: string;
    /** When it was queued (ms since the epoch). */
    queuedAt: number;
  }
  | { event: "presence"; name: string; online: boolean }
  | { event: "level"; name: string; level: Level }
  | {
    event: "auth";
    name: string;
    status: "requested" | "started" | "match" | "nomatch" | "aborted";
    reason?: string;
  }
  | {
    event: "connection";
    name: string;
    state: "connecting" | "connected" | "disconnected" | "failed";
    attempt?: number;
    error?: string;
  }
  | { event: "tor"; state: "exited" | "restarting" | "restarted" | "failed"; message: string }
  | { event: "warning"; code: string; message: string }
  | { event: "error"; code: string; message: string };

/**
 * A listener for {@linkcode PeerEvent}s. It may return a promise that
 * resolves once the event is shown (written to the output, printed): the
 * core waits for it (bounded) before it acknowledges a received `message`,
 * so an acknowledged message has been shown. A rejection (or a throw) means
 * "not shown": the message is not acknowledged and its sender re-sends it.
 *
 * A crash between showing a message and saving that it was shown makes
 * the restarted peer show it again, with the same `id`: consumers
 * de-duplicate `message` events by `id`.
 */
export type EventSink =
  | ((event: PeerEvent) => void)
  | ((event: PeerEvent) => Promise<void>);

/** What the commands need of the core (`lib/peer.ts`'s `Peer` satisfies it). */
export interface CommandPeer {
  identity(): IdentityInfo;
  sendRequest(identityAddress: string, identityKey: string): Promise<RequestInfo>;
  inboundRequests(): RequestInfo[];
  outboundRequests(): RequestInfo[];
  acceptRequest(name: string, newName?: string): Promise<ConversationInfo>;
  rejectRequest(name: string): Promise<void>;
  conversations(): ConversationInfo[];
  sendMessage(name: string, text: string): Promise<{ id: string; queued?: boolean }>;
  setPresence(name: string, on: boolean): Promise<void>;
  verify(name: string, key: string): Promise<{ verified: boolean }>;
  authenticate(name: string, secret: string): Promise<void | { connecting: boolean }>;
  deleteConversation(name: string): Promise<void>;
}
