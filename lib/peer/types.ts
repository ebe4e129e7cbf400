/**
 * The contract between the messenger core (`lib/peer.ts`) and everything
 * that drives it (the JSON interface, the REPL, tests): what the core reports
 * (events) and what its commands return. Plain JSON-safe data only: no key
 * material except public identity keys, no classes.
 *
 * @module
 */

/**
 * Conversation authentication levels, as in unMessage 0.1: unverified, verified (the user
 * checked the contact's identity key with `/verify`), authenticated (an SMP run matched;
 * docs/protocol.md §9.5 says how long it lasts).
 */
export type Level = "unverified" | "verified" | "authenticated";

/** What other people need to contact this peer (unMessage 0.1's `/peer`, `/onion`, `/key`). */
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
  /** Whether they sent it to us (`in`) or we sent it (`out`). */
  direction: "in" | "out";
  /** Their `name@address.onion:port`. */
  address: string;
  /** Their public identity key (base64). */
  key: string;
  /** When it was received or sent (ms since the epoch). */
  at: number;
  /**
   * Inbound: the name of a contact or request that this request's name
   * looks like (a possible impersonation); accepting it needs a new name.
   */
  looksLike?: string;
  /**
   * Inbound: it arrived past the rate or count bound (likely a flood) and is
   * held in memory only (`req-reject --flood` rejects every such request).
   */
  flood?: true;
  /** Outbound: it expired unanswered and is no longer sent; send it again or cancel it. */
  expired?: true;
}

/** One conversation as listed by `convs`. */
export interface ConversationInfo {
  /** Local name of the contact. */
  name: string;
  /** Their `name@address.onion:port` (with the name as we call them). */
  address: string;
  /** Their public identity key (base64). */
  key: string;
  /** How far we trust their identity key. */
  level: Level;
  /** Whether we send them presence notifications (`pres-on`). */
  presence: boolean;
  /** Whether they are known to be online right now (connected). */
  online: boolean;
  /** Stage 3 reached (docs/protocol.md §6.3: both sides have the full conversation). */
  established: boolean;
  /** Messages queued for them and not yet acknowledged. */
  pending: number;
  /** They deleted the conversation (nothing more can be sent; delete it too). */
  ended?: true;
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
  | {
    event: "bootstrap";
    /** 0..100. */
    progress: number;
    /** The phase tor is in, in tor's words ("Handshaking with a relay"). */
    summary: string;
    /** When tor reports a problem: its own words ("Connection refused"). */
    warning?: string;
    /** When tor reports a problem: its stable keyword (CONNECTREFUSED, NOROUTE, TIMEOUT, IDENTITY, PT_MISSING, …). */
    reason?: string;
    /** When tor reports a problem: what it means, in plain words. */
    problem?: string;
  }
  /** A launched tor reaches the network through bridges or a proxy (sent before bootstrap). */
  | {
    event: "tor-network";
    /** How many bridges. */
    bridges: number;
    /** Their transports (`obfs4`, `snowflake`, …; `plain` for a bridge without one). */
    transports: string[];
    /** Built-in sets in use (`obfs4`, `snowflake`). */
    builtin: string[];
    /** The proxy as `scheme://host:port` (never its password). */
    proxy?: string;
    /** The same in a sentence, with how to stop it. */
    message: string;
  }
  /** Bootstrap has not progressed for `seconds`: what is likely wrong and what to do. */
  | {
    event: "bootstrap-stalled";
    progress: number;
    summary: string;
    seconds: number;
    /** tor's keyword for the last problem it reported, if any. */
    reason?: string;
    /** One or two sentences: where it is stuck and why, as far as tor said. */
    message: string;
    /** What to check or try, most likely first (flags included). */
    advice: string[];
    /**
     * Tor's last log lines (oldest first), as `tor-log` returns them: the
     * command cannot run before the peer has started, so they come here.
     */
    log?: TorLogEntry[];
  }
  | { event: "ready"; identity: IdentityInfo }
  | { event: "request-received"; request: RequestInfo }
  | { event: "request-accepted"; name: string }
  | { event: "conversation-established"; name: string }
  /** The contact deleted the conversation on their side: nothing more can be sent to them. */
  | { event: "conversation-ended"; name: string }
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
  | {
    event: "warning";
    code: string;
    message: string;
    /** Aggregated warnings (`packets_dropped`, `connections_refused`, `request_dropped`): how many it stands for. */
    count?: number;
    /** ... from how many distinct connections. */
    connections?: number;
    /** ... by the code of each packet or refusal. */
    reasons?: Record<string, number>;
  }
  | { event: "error"; code: string; message: string };

/**
 * Events an interface may drop (and count) when its output falls behind,
 * rather than hold everything else up: warnings and progress. Every other
 * event, and every command reply, is shown, or makes its producer wait.
 */
export const DROPPABLE_EVENTS: ReadonlySet<PeerEvent["event"]> = new Set([
  "warning",
  "bootstrap",
  "connection",
]);

/**
 * A listener for {@linkcode PeerEvent}s. It may return a promise that
 * resolves once the event is shown (written to the output, printed): the
 * core waits for it (bounded) before it acknowledges a received `message`,
 * so an acknowledged message has been shown. A rejection (or a throw) means
 * "not shown": the message is not acknowledged and its sender re-sends it.
 * While many events wait to be shown, the core stops reading the network
 * (backpressure), so a sink that falls behind never makes memory grow.
 *
 * A crash between showing a message and saving that it was shown makes
 * the restarted peer show it again, with the same `id`: consumers
 * de-duplicate `message` events by `id`.
 */
export type EventSink =
  | ((event: PeerEvent) => void)
  | ((event: PeerEvent) => Promise<void>);

/** One line of tor's log, as `tor-log` returns it. */
export interface TorLogEntry {
  /** When it was received (ms since the epoch). */
  at: number;
  /** tor's severity. */
  severity: "notice" | "warn" | "err";
  /** The message as tor logged it. */
  text: string;
}

/** What the commands need of the core (`lib/peer.ts`'s `Peer` satisfies it). */
export interface CommandPeer {
  /** Our identity address, key and onion. */
  identity(): IdentityInfo;
  /** Sends a request to `name@onion` whose identity key is `identityKey`. */
  sendRequest(identityAddress: string, identityKey: string): Promise<RequestInfo>;
  /** The requests that wait for our answer. */
  inboundRequests(): RequestInfo[];
  /** The requests we sent that are not answered yet (or expired). */
  outboundRequests(): RequestInfo[];
  /** Accepts the request `name`, under `newName` if given. */
  acceptRequest(name: string, newName?: string): Promise<ConversationInfo>;
  /** Rejects one request, a pattern with `*`, `--flood` or `--all`; returns the names rejected. */
  rejectRequest(name: string): Promise<string[]>;
  /** Cancels our request `name`. */
  cancelRequest(name: string): Promise<void>;
  /** Every conversation, with its level and whether the contact is online. */
  conversations(): ConversationInfo[];
  /** Sends `text` to `name`; `queued` when the contact is offline. */
  sendMessage(name: string, text: string): Promise<{ id: string; queued?: boolean }>;
  /** Turns presence notices to `name` on or off. */
  setPresence(name: string, on: boolean): Promise<void>;
  /** Compares `key` with `name`'s identity key; marks the conversation verified on a match. */
  verify(name: string, key: string): Promise<{ verified: boolean }>;
  /** Starts (or answers) an SMP run with `name` on `secret`. */
  authenticate(name: string, secret: string): Promise<void | { connecting: boolean }>;
  /** Throws what {@linkcode CommandPeer.deleteConversation} would for an unknown name, cheaply. */
  checkConversation(name: string): void;
  /** Deletes the conversation with `name` and its keys. */
  deleteConversation(name: string): Promise<void>;
  /**
   * Tor's recent log lines (NOTICE, WARN, ERR; oldest first, at most
   * `count`), or `undefined` when this peer runs without tor.
   */
  torLog?(count: number): TorLogEntry[] | undefined;
}
