/**
 * What the core persists about conversations and requests, and the JSON
 * forms of both (validated strictly on load; the store names the file and
 * key when a validator throws).
 *
 * A conversation is stored as a head and parts (conversation_json.ts has
 * their JSON forms, stored_conversation.ts how they are loaded and saved).
 *
 * `fileId` is random (16 bytes of hex), never derived from a key: keys are
 * visible even when the store is encrypted.
 *
 * `requests`: `{ "version": 1, "outbound": [...], "inbound": [...],
 * "rejected": ["<base64 request key>", ...], "tombstones": [{ "key":
 * "<base64 identity key>", "before": 1700..., "at": 1700... }, ...] }` (see the JSON types
 * below; a value without "tombstones" has none). Inbound requests held as a
 * flood (requests.ts) live in memory only and are never written.
 *
 * @module
 */

import { fromBase64, toBase64, toHex } from "../crypto/bytes.ts";
import {
  type Conversation,
  deserializeInboundRequest,
  deserializeOutboundRequest,
  type InboundRequest,
  type OutboundRequest,
  serializeInboundRequest,
  serializeOutboundRequest,
} from "../protocol/handshake_state.ts";
import { MAX_PADDED_LENGTH } from "../protocol/padding.ts";
import { array, b64, hex, invalid, object, str, uint } from "./_json.ts";
import { checkContactName } from "./address.ts";
import type { ReceivedDigests, SeenIds } from "./seen_ids.ts";
import { MAX_PORT, MIN_PORT } from "../protocol/handshake_data.ts";

export type { Conversation, InboundRequest, OutboundRequest } from "../protocol/handshake_state.ts";

/** Version of the requests' JSON form (and of the first layout's conversation files). */
export const RECORDS_VERSION = 1;
/** Version of a conversation's head. */
export const CONVERSATION_VERSION = 2;
/** Bytes of a conversation's random file ID. */
export const FILE_ID_BYTES = 16;
/** Most elements waiting for one contact (below the receiver's de-duplication window). */
export const MAX_OUTBOX_ELEMENTS = 1000;
/** Most text bytes waiting for one contact: keeps each file far below the store's 16 MiB. */
export const MAX_OUTBOX_BYTES = 8 * 1024 * 1024;
/** Longest message text in UTF-8 bytes (the 1 MiB elements.ts promises to carry). */
export const MAX_TEXT_BYTES = 1024 * 1024;
/** Most pending inbound requests kept; later ones are dropped (with a warning) until some are handled. */
export const MAX_INBOUND_REQUESTS = 100;
/** Most pending outbound requests. */
export const MAX_OUTBOUND_REQUESTS = 1000;
/** Request keys remembered after a rejection, so a re-sent request stays rejected. */
export const MAX_REJECTED = 256;
/** Most received messages kept until shown (receive.ts): the sink's backlog, bounded. */
export const MAX_INBOX_MESSAGES = 64;
/** Most text bytes kept until shown: four of the longest messages, far below the 16 MiB of a file. */
export const MAX_INBOX_BYTES = 4 * MAX_TEXT_BYTES;
/**
 * `lastActive` is compared at this resolution to tell whether a head must
 * be written again (stored_conversation.ts): every message moves it, and
 * start-up orders contacts by it; at a second, a busy conversation's head
 * is written at most once a second for it.
 */
export const LAST_ACTIVE_STEP_MS = 1_000;
/** Deleted contacts remembered (requests.ts: their old requests stay dead); the oldest go first. */
export const MAX_TOMBSTONES = 1000;

/** An element waiting for the contact's acknowledgement. */
export interface OutboxEntry {
  /** Element ID (16 random bytes). */
  id: Uint8Array;
  /** `id` in hex. */
  key: string;
  /**
   * A probe is a keep-alive its receiver acknowledges (contact.ts): it
   * carries no content, and stands in for what the sending cap holds back.
   */
  body: { type: "message"; text: string } | { type: "request_accepted" } | { type: "probe" };
  /** When it was queued (ms). */
  at: number;
  /** Its packets once sealed: re-sent as these very bytes until acknowledged. */
  sealed?: Uint8Array[];
}

/** A received message kept until the interface has shown it (receive.ts). */
export interface InboxEntry {
  /** Element ID in hex (the `message` event's `id`). */
  id: string;
  /** The message text. */
  text: string;
  /** When it was received (ms). */
  at: number;
}

/** One conversation as held in memory and on disk. */
export interface ConversationRecord {
  /** The conversation's key in the store (hex). */
  fileId: string;
  /** Local name of the contact. */
  name: string;
  /** The contact's onion address. */
  onion: string;
  /** The contact's onion service port. */
  port: number;
  /** The identity key was compared over another channel. */
  verified: boolean;
  /** Presence notifications are on. */
  presence: boolean;
  /** When the conversation was made (ms). */
  createdAt: number;
  /** Alice: the request key of the request she accepted (drops re-sent copies). */
  requestKey: Uint8Array | null;
  /** The Double Ratchet session and the handshake state. */
  session: Conversation;
  /** Elements waiting for the contact's acknowledgement, oldest first. */
  outbox: OutboxEntry[];
  /** IDs of the elements received (for acknowledging copies once only). */
  seen: SeenIds;
  /** Received messages not yet shown, in order. */
  inbox: InboxEntry[];
  /** Wire names of received packets that carried acknowledged elements. */
  digests: ReceivedDigests;
  /** When a message last went either way (ms): recent contacts are dialled first at start. */
  lastActive: number;
  /** The contact told us they deleted the conversation: nothing more is sent. */
  endedByContact?: true;
}

/** A request we sent, until its first reply. */
export interface OutboundEntry {
  /** Random local ID: the connector's key for this contact. */
  id: string;
  /** Local name of the contact. */
  name: string;
  /** The contact's onion address. */
  onion: string;
  /** The contact's onion service port. */
  port: number;
  /** When it was sent (ms). */
  at: number;
  /** The sealed request packet, re-sent as is until a reply comes. */
  packet: Uint8Array;
  /** The handshake state of the request. */
  state: OutboundRequest;
}

/** A request we received, until it is accepted or rejected. */
export interface InboundEntry {
  /** Local name (their suggestion, made unique). */
  name: string;
  /** When it arrived (ms). */
  at: number;
  /** The handshake state of the request. */
  state: InboundRequest;
  /** Arrived past the rate or count bound (requests.ts): kept in memory only. */
  flood?: true;
}

/** A deleted contact: requests it made before `before` are old ones, replayed. */
export interface Tombstone {
  /** The contact's identity key, base64. */
  key: string;
  /** When the deleted conversation was made (ms): requests older than it are old. */
  before: number;
  /** When the conversation was deleted (ms): the tombstone's age. */
  at: number;
}

/** The pending requests (the store's key `requests`). */
export interface RequestsBook {
  /**
   * Requests we sent, until their first reply. The array is replaced on
   * every change, never changed in place: the core's reply candidates are
   * derived from it.
   */
  outbound: readonly OutboundEntry[];
  /** Requests we received, until answered. */
  inbound: InboundEntry[];
  /** Base64 request keys of rejected requests, oldest first. */
  rejected: string[];
  /** Deleted contacts, oldest first. */
  tombstones: Tombstone[];
}

/**
 * A stored onion address in canonical form: 56 characters of lower-case
 * base32 ending in the version 3 ("d"). Its checksum and key passed the
 * full check (parseOnionAddress) when the address entered, from an identity
 * address or a signed request, and are not checked again at each start: a
 * SHA3 per conversation would cost about 20 µs each, 200 ms of start-up at
 * 10,000 conversations (issue 9), for a file we wrote (and authenticate
 * when the peer is encrypted). An address damaged by hand fails when it is
 * dialled (tor checks it again).
 */
export function onionField(value: unknown, where: string): string {
  const onion = str(value, where);
  if (!/^[a-z2-7]{55}d$/.test(onion)) {
    invalid(`${where} is not a v3 onion address in canonical form`);
  }
  return onion;
}

/** A stored port number. */
export function portField(value: unknown, where: string): number {
  const port = uint(value, where);
  if (port < MIN_PORT || port > MAX_PORT) invalid(`${where} is not a port`);
  return port;
}

/** A stored contact name, checked as when it was given. */
export function nameField(value: unknown, where: string): string {
  try {
    return checkContactName(value);
  } catch {
    invalid(`${where} is not a valid contact name`);
  }
}

/** An empty requests book. */
export function emptyRequests(): RequestsBook {
  return { outbound: [], inbound: [], rejected: [], tombstones: [] };
}

/** Checks and rebuilds the pending requests; throws naming the bad field. */
export function requestsFromJson(json: unknown): RequestsBook {
  const hasTombstones = typeof json === "object" && json !== null && "tombstones" in json;
  const o = object(
    json,
    `version outbound inbound rejected${hasTombstones ? " tombstones" : ""}`,
    "requests",
  );
  if (o.version !== RECORDS_VERSION) invalid("requests version is not supported");
  const outbound = array(o.outbound, MAX_OUTBOUND_REQUESTS, "outbound").map((v) => {
    const f = object(v, "id name onion port at packet state", "outbound request");
    const packet = b64Packet(f.packet);
    return {
      id: hex(f.id, FILE_ID_BYTES, "outbound request id"),
      name: nameField(f.name, "outbound request name"),
      onion: onionField(f.onion, "outbound request onion"),
      port: portField(f.port, "outbound request port"),
      at: uint(f.at, "outbound request at"),
      packet,
      state: deserializeOutboundRequest(f.state),
    };
  });
  const inbound = array(o.inbound, MAX_INBOUND_REQUESTS, "inbound").map((v) => {
    const f = object(v, "name at state", "inbound request");
    const at = uint(f.at, "inbound request at");
    return {
      name: nameField(f.name, "inbound request name"),
      at,
      state: deserializeInboundRequest(withCreatedAt(f.state, at)),
    };
  });
  const rejected = array(o.rejected, MAX_REJECTED, "rejected").map((v) => {
    b64(v, 32, "rejected key");
    return v as string;
  });
  const tombstones = hasTombstones
    ? array(o.tombstones, MAX_TOMBSTONES, "tombstones").map((v) => {
      const f = object(v, "key before at", "tombstone");
      b64(f.key, 32, "tombstone key");
      const before = uint(f.before, "tombstone before");
      return { key: f.key as string, before, at: uint(f.at, "tombstone at") };
    })
    : [];
  return { outbound, inbound, rejected, tombstones };
}

/**
 * A request received before requests carried a signed creation time has no
 * `createdAt` in its stored state: it takes the time it was received, so
 * such a file still loads and the request expires a week after it came.
 */
function withCreatedAt(state: unknown, receivedAt: number): unknown {
  if (typeof state !== "object" || state === null || Array.isArray(state)) return state;
  return "createdAt" in state ? state : { ...state, createdAt: receivedAt };
}

/** A stored packet: base64 of 1 byte to the largest padded length. */
export function b64Packet(value: unknown): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(str(value, "packet"));
  } catch {
    invalid("packet is not base64");
  }
  if (bytes.length === 0 || bytes.length > MAX_PADDED_LENGTH) invalid("packet has a bad length");
  return bytes;
}

/** The JSON form of the pending requests (holds secrets). */
export function requestsToJson(book: RequestsBook): unknown {
  return {
    version: RECORDS_VERSION,
    outbound: book.outbound.map((e) => ({
      id: e.id,
      name: e.name,
      onion: e.onion,
      port: e.port,
      at: e.at,
      packet: toBase64(e.packet),
      state: serializeOutboundRequest(e.state),
    })),
    inbound: book.inbound.filter((e) => e.flood !== true).map((e) => ({
      name: e.name,
      at: e.at,
      state: serializeInboundRequest(e.state),
    })),
    rejected: book.rejected,
    tombstones: book.tombstones,
  };
}

/** A new random file or request ID. */
export function newLocalId(rng: (n: number) => Uint8Array): string {
  return toHex(rng(FILE_ID_BYTES));
}
