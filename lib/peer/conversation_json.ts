/**
 * The JSON forms of a conversation's head and parts (validated strictly on
 * load; the store names the file and key when a validator throws).
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
 * @module
 */

import { fromBase64, fromHex, toBase64 } from "../crypto/bytes.ts";
import { MESSAGE_DIGEST_LENGTH } from "../crypto/ratchet_header.ts";
import { ELEMENT_ID_LENGTH } from "../protocol/elements.ts";
import { MAX_PARTS } from "../protocol/fragment.ts";
import { array, b64, bool, hex, invalid, object, str, uint } from "./_json.ts";
import {
  b64Packet,
  CONVERSATION_VERSION,
  type ConversationRecord,
  type InboxEntry,
  MAX_INBOX_MESSAGES,
  MAX_OUTBOX_ELEMENTS,
  nameField,
  onionField,
  type OutboxEntry,
  portField,
  RECORDS_VERSION,
} from "./records.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";

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
  /** The session's role. */
  role: "alice" | "bob";
  /** Whether regular packets are sent. */
  established: boolean;
  /** The contact's identity key, base64. */
  peerIdentityKey: string;
  /** The conversation ID, base64. */
  conversationId: string;
  /** The shared request key, base64, while replies are still opened. */
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
  /** The outbox, in order. */
  outbox: OutboxEntry[];
  /** The received IDs. */
  seen: SeenIds;
  /** Received messages not yet shown (none in files older than the inbox). */
  inbox: InboxEntry[];
  /** Digests of received packets (none in files older than them). */
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
