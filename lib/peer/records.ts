/**
 * What the core persists about conversations and requests, and the JSON
 * forms of both (validated strictly on load; the store names the file and
 * key when a validator throws).
 *
 * A conversation is stored as a head and parts (the store's keys
 * `c/<fileId>` and `c/<fileId>/<part>`, stored_conversation.ts), so a save
 * writes what changed, not the whole conversation:
 *
 * ```json
 * head:  { "version": 2, "name": "bob", "onion": "<56>", "port": 50001,
 *          "verified": false, "presence": false, "createdAt": 1700000000000,
 *          "requestKey": "<base64 32>" | null,      // Alice: the request she accepted
 *          "hsub": "<base64 64>",                   // midstates of K_r of its packets to us
 *          "role": "bob", "established": true,      // repeated from the session, for
 *          "peerIdentityKey": "<base64 32>",        // a start-up that reads no session
 *          "conversationId": "<base64 32>", "sharedRequestKey": "<base64 32>" | null,
 *          "lastActive": 1700000000000,             // last message either way (start order)
 *          "endedByContact": true }                 // only once the contact deleted it
 * r:     { ...handshake_state.ts ConversationJson, ratchet included }
 * o/<n>: { "id": "<hex 16>", "type": "message", "text": "hi", "at": 1700...,
 *          "sealed": [ "<base64 packet>", ... ] }   // once sealed (contact.ts)
 *        { "id": "<hex 16>", "type": "request_accepted" | "probe", "at": 1700... }
 *                                                   // one outbox entry, n gives the order
 * i/<n>: { "id": "<hex 16>", "text": "hi", "at": 1700... } // received, not yet shown
 * s/<n>: [ "<hex 16>", ... ]                        // one block of received IDs (seen_ids.ts)
 * d/<n>: [ [ "<hex 16 message digest>", "<hex 16 element id>" ], ... ] // one block of digests
 * ```
 *
 * Version 1, the first layout's one file per conversation, holds the same
 * head fields with `"session"`, `"outbox"` and `"seen"` (and `"inbox"`,
 * `"digests"`, `"lastActive"` when present) inside; it still loads, and the
 * next save writes version 2. A head without `lastActive` counts from
 * `createdAt`.
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

import { fromBase64, fromHex, toBase64, toHex } from "../crypto/bytes.ts";
import { ELEMENT_ID_LENGTH } from "../protocol/elements.ts";
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
import { array, b64, bool, hex, invalid, object, str, uint } from "./_json.ts";
import { checkContactName } from "./address.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";
import { MAX_PARTS } from "../protocol/fragment.ts";
import { MESSAGE_DIGEST_LENGTH } from "../crypto/ratchet_header.ts";
import { MAX_PORT, MIN_PORT } from "../protocol/handshake_data.ts";

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
  text: string;
  /** When it was received (ms). */
  at: number;
}

/** One conversation as held in memory and on disk. */
export interface ConversationRecord {
  fileId: string;
  name: string;
  onion: string;
  port: number;
  verified: boolean;
  presence: boolean;
  createdAt: number;
  /** Alice: the request key of the request she accepted (drops re-sent copies). */
  requestKey: Uint8Array | null;
  session: Conversation;
  outbox: OutboxEntry[];
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
  name: string;
  onion: string;
  port: number;
  at: number;
  /** The sealed request packet, re-sent as is until a reply comes. */
  packet: Uint8Array;
  state: OutboundRequest;
}

/** A request we received, until it is accepted or rejected. */
export interface InboundEntry {
  /** Local name (their suggestion, made unique). */
  name: string;
  at: number;
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
  outbound: OutboundEntry[];
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
function onionField(value: unknown, where: string): string {
  const onion = str(value, where);
  if (!/^[a-z2-7]{55}d$/.test(onion)) {
    invalid(`${where} is not a v3 onion address in canonical form`);
  }
  return onion;
}

function portField(value: unknown, where: string): number {
  const port = uint(value, where);
  if (port < MIN_PORT || port > MAX_PORT) invalid(`${where} is not a port`);
  return port;
}

function nameField(value: unknown, where: string): string {
  try {
    return checkContactName(value);
  } catch {
    invalid(`${where} is not a valid contact name`);
  }
}

/**
 * Checks and rebuilds a stored outbox entry (a part `o/<n>`, or an item of
 * a version 1 file's outbox); throws naming the bad field.
 */
export function outboxFromJson(value: unknown): OutboxEntry {
  const o = value as Record<string, unknown>;
  const isMessage = typeof o === "object" && o !== null && o.type === "message";
  const isSealed = typeof o === "object" && o !== null && Object.hasOwn(o, "sealed");
  const names = (isMessage ? "id type text at" : "id type at") + (isSealed ? " sealed" : "");
  const f = object(value, names, "outbox entry");
  const key = hex(f.id, ELEMENT_ID_LENGTH, "outbox entry id");
  const at = uint(f.at, "outbox entry at");
  let body: OutboxEntry["body"];
  if (isMessage) body = { type: "message", text: str(f.text, "text") };
  else if (f.type === "request_accepted" || f.type === "probe") body = { type: f.type };
  else invalid("outbox entry type is not supported");
  const entry: OutboxEntry = { id: fromHex(key), key, body, at };
  if (isSealed) entry.sealed = array(f.sealed, MAX_PARTS, "sealed").map(b64Packet);
  if (entry.sealed?.length === 0) invalid("sealed has no packet");
  return entry;
}

/** Checks and rebuilds a stored inbox entry (a part `i/<n>`); throws naming the bad field. */
export function inboxFromJson(value: unknown): InboxEntry {
  const f = object(value, "id text at", "inbox entry");
  return {
    id: hex(f.id, ELEMENT_ID_LENGTH, "inbox entry id"),
    text: str(f.text, "inbox entry text"),
    at: uint(f.at, "inbox entry at"),
  };
}

/** Checks a stored digest pair (message digest, element ID); throws naming the bad field. */
export function digestFromJson(value: unknown): [string, string] {
  const pair = array(value, 2, "digest");
  if (pair.length !== 2) invalid("digest is not a pair");
  return [
    hex(pair[0], MESSAGE_DIGEST_LENGTH, "digest"),
    hex(pair[1], ELEMENT_ID_LENGTH, "digest id"),
  ];
}

/** The JSON form of an outbox entry (a part `o/<n>`). */
export function outboxToJson(e: OutboxEntry): unknown {
  return {
    id: e.key,
    type: e.body.type,
    ...(e.body.type === "message" ? { text: e.body.text } : {}),
    at: e.at,
    ...(e.sealed !== undefined ? { sealed: e.sealed.map(toBase64) } : {}),
  };
}

/** The JSON form of an inbox entry (a part `i/<n>`). */
export function inboxToJson(e: InboxEntry): unknown {
  return { id: e.id, text: e.text, at: e.at };
}

/** The parts of a record (stored under keys of their own, not in its head). */
export type PartFields = "session" | "outbox" | "seen" | "inbox" | "digests";

/** A conversation's fields other than its session, outbox, inbox and what it received. */
export type HeadFields = Omit<ConversationRecord, "fileId" | PartFields>;

/** The head's fields besides `version` and its session's (version 1 adds `outbox` and `seen`). */
const HEAD_FIELDS = "name onion port verified presence createdAt requestKey";

/** What a version 2 head repeats of its session, so that start-up reads no session. */
const INDEX_FIELDS = "role established peerIdentityKey conversationId sharedRequestKey";

/** The index fields of a head (base64 keys), as {@linkcode headToJson} writes them. */
export interface IndexJson {
  role: "alice" | "bob";
  established: boolean;
  peerIdentityKey: string;
  conversationId: string;
  sharedRequestKey: string | null;
}

/**
 * Checks a stored head (version 2, or a whole version 1 file) and returns
 * its version, its parsed fields, and the object its index fields are read
 * from (the head itself; a version 1 file's session).
 */
export function headFromJson(json: unknown): {
  version: 1 | 2;
  fields: HeadFields;
  index: unknown;
  hsub: string | null;
  o: Record<string, unknown>;
} {
  const v = (json as { version?: unknown } | null)?.version;
  const ended = typeof json === "object" && json !== null && "endedByContact" in json;
  const active = typeof json === "object" && json !== null && "lastActive" in json;
  const more = (active ? " lastActive" : "") + (ended ? " endedByContact" : "");
  const v1More = ["inbox", "digests"].filter((k) =>
    typeof json === "object" && json !== null && k in json
  ).map((k) => ` ${k}`).join("");
  const o = v === RECORDS_VERSION
    ? object(json, `version ${HEAD_FIELDS} session outbox seen${v1More}${more}`, "conversation")
    : object(json, `version ${HEAD_FIELDS} hsub ${INDEX_FIELDS}${more}`, "conversation");
  if (o.version !== RECORDS_VERSION && o.version !== CONVERSATION_VERSION) {
    invalid("conversation version is not supported");
  }
  if (ended && o.endedByContact !== true) invalid("endedByContact is not true");
  const fields: HeadFields = {
    name: nameField(o.name, "name"),
    onion: onionField(o.onion, "onion"),
    port: portField(o.port, "port"),
    verified: bool(o.verified, "verified"),
    presence: bool(o.presence, "presence"),
    createdAt: uint(o.createdAt, "createdAt"),
    requestKey: o.requestKey === null ? null : b64(o.requestKey, 32, "requestKey"),
    lastActive: active ? uint(o.lastActive, "lastActive") : uint(o.createdAt, "createdAt"),
    ...(ended ? { endedByContact: true as const } : {}),
  };
  const legacy = o.version === RECORDS_VERSION;
  const hsub = legacy ? null : midstate64(o.hsub, "hsub");
  return { version: o.version as 1 | 2, fields, index: legacy ? o.session : o, hsub, o };
}

/**
 * The JSON form of a conversation's head: its fields, what it repeats of
 * its session (`index`), and `hsub`, the HMAC midstates of the K_r its
 * regular packets to us are tagged under (packet_common.ts; 16 words, big
 * endian), kept so that start-up derives no key and computes no hash. The
 * session itself is the part `r`. It holds secrets (hsub).
 */
export function headToJson(record: HeadFields, index: IndexJson, hsub: Int32Array): unknown {
  return {
    version: CONVERSATION_VERSION,
    name: record.name,
    onion: record.onion,
    port: record.port,
    verified: record.verified,
    presence: record.presence,
    createdAt: record.createdAt,
    requestKey: record.requestKey === null ? null : toBase64(record.requestKey),
    hsub: toBase64(wordBytes(hsub)),
    ...index,
    lastActive: record.lastActive,
    ...(record.endedByContact ? { endedByContact: true } : {}),
  };
}

/** The 16 words of a midstate as 64 big-endian bytes. */
function wordBytes(words: Int32Array): Uint8Array {
  const out = new Uint8Array(4 * words.length);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setInt32(4 * i, w));
  return out;
}

/** A stored midstate: base64 of 64 bytes (88 characters ending "=="), checked without decoding. */
function midstate64(value: unknown, where: string): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]{85}[AQgw]==$/.test(value)) {
    invalid(`${where} is not 64 bytes of base64`);
  }
  return value;
}

/** Decodes a midstate stored by {@linkcode headToJson}. */
export function midstateFromBase64(text: string): Int32Array {
  const bytes = fromBase64(text);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const words = new Int32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = view.getInt32(4 * i);
  bytes.fill(0);
  return words;
}

/** What a version 1 file holds besides its head fields and session. */
export interface LegacyParts {
  outbox: OutboxEntry[];
  seen: SeenIds;
  inbox: InboxEntry[];
  digests: ReceivedDigests;
}

/** The outbox, received IDs, inbox and digests of a version 1 file. */
export function legacyParts(o: Record<string, unknown>): LegacyParts {
  const outbox = array(o.outbox, MAX_OUTBOX_ELEMENTS, "outbox").map(outboxFromJson);
  const seen = new SeenIds(
    array(o.seen, SeenIds.MAX, "seen").map((v) => hex(v, ELEMENT_ID_LENGTH, "seen id")),
  );
  const inbox = o.inbox === undefined
    ? []
    : array(o.inbox, MAX_INBOX_MESSAGES, "inbox").map(inboxFromJson);
  const digests = new ReceivedDigests(
    o.digests === undefined
      ? []
      : array(o.digests, ReceivedDigests.MAX, "digests").map(digestFromJson),
  );
  return { outbox, seen, inbox, digests };
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

function b64Packet(value: unknown): Uint8Array {
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
