/**
 * A conversation record and its place in the store (records.ts has the
 * JSON forms): loaded lazily, saved by difference.
 *
 * Lazy loading: at start-up only the head is parsed (its own fields and the
 * {@linkcode ConversationIndex}, what identifying packets and listing
 * conversations need, kept as base64 text); the session (part `r`, ratchet
 * keys included) is parsed and rebuilt the first time it is used, the
 * outbox and the received IDs from their parts likewise. A conversation
 * nobody writes to costs a few hundred bytes and no key derivation.
 *
 * Saving by difference ({@linkcode conversationToStore}): the head when one
 * of its fields changed, the session when the ratchet moved, outbox entries
 * and received-ID blocks when added, changed or removed since the last
 * save. An outbox entry counts as changed when one of its fields is
 * replaced (compared by identity): replace a field to change it, never
 * mutate one in place. After a failed commit anywhere in the store, the
 * next save of each conversation writes all its parts again.
 *
 * @module
 */

import {
  type Conversation,
  deserializeConversation,
  serializeConversation,
} from "../protocol/handshake_state.ts";
import { fromBase64, toBase64 } from "../crypto/bytes.ts";
import { regularReceiverMidstate } from "../protocol/packet_regular.ts";
import type { PartChanges, StoredParts } from "../store/peer_store.ts";
import { hex, invalid, key64 } from "./_json.ts";
import {
  type ConversationRecord,
  headFromJson,
  headToJson,
  type IndexJson,
  legacyParts,
  MAX_OUTBOX_ELEMENTS,
  midstateFromBase64,
  type OutboxEntry,
  outboxFromJson,
  outboxToJson,
} from "./records.ts";
import { SeenIds } from "./seen_ids.ts";
import { ELEMENT_ID_LENGTH } from "../protocol/elements.ts";

/** Part name of the session (handshake_state.ts ConversationJson). */
const SESSION = "r";
/** Part name prefix of outbox entries. */
const OUTBOX = "o/";
/** Part name prefix of received-ID blocks. */
const SEEN = "s/";
/** Digits of a part's number: zero-padded, so names sort as numbers. */
const PART_DIGITS = 10;

/** What identifies a conversation without its ratchet: kept in memory for every conversation. */
export interface ConversationIndex {
  /** Who made the request: Bob; who accepted it: Alice. */
  readonly role: "alice" | "bob";
  /** Whether regular packets are sent (handshake_state.ts). */
  readonly established: boolean;
  /** The contact's identity public key. */
  readonly peerIdentityKey: Uint8Array;
  /** The conversation ID: keys the regular packets. */
  readonly conversationId: Uint8Array;
  /** Alice before Stage 3, and Bob while he still opens replies. */
  readonly sharedRequestKey: Uint8Array | null;
}

/** What the last save wrote of a record's parts. */
interface Saved {
  /** The store's failed-commit count then: a later failure means "write everything again". */
  epoch: number;
  /** Outbox entry → its part and a shallow copy of it when saved. */
  outbox: Map<OutboxEntry, { part: string; fields: Record<string, unknown>; count: number }>;
  /** Number of the next outbox part. */
  next: number;
  /** The record's own fields and stage when the head was saved. */
  head: unknown[];
  /** The session when it was saved (undefined: as stored, not rebuilt). */
  session: Conversation | undefined;
}

const saved = new WeakMap<ConversationRecord, Saved>();

/** The saved outbox of a record loaded with none (read only: a save makes a new map). */
const NO_OUTBOX: Saved["outbox"] = new Map();

/** Session JSON by session (sessions are immutable): a save that changed no ratchet encodes none. */
const sessionJson = new WeakMap<Conversation, unknown>();

function partName(prefix: string, n: number): string {
  return prefix + String(n).padStart(PART_DIGITS, "0");
}

function sameFields(
  entry: OutboxEntry,
  saved: { fields: Record<string, unknown>; count: number },
): boolean {
  let n = 0;
  for (const k in entry) {
    if ((entry as unknown as Record<string, unknown>)[k] !== saved.fields[k]) return false;
    n++;
  }
  return n === saved.count;
}

function snapshot(entry: OutboxEntry): { fields: Record<string, unknown>; count: number } {
  const fields = { ...entry } as unknown as Record<string, unknown>;
  return { fields, count: Object.keys(fields).length };
}

/** The record fields that are not its head's (they are parts). */
const NOT_HEAD = new Set(["session", "outbox", "seen"]);

/** The values that make up a record's head, compared by identity between saves. */
function headFields(record: ConversationRecord): unknown[] {
  const out: unknown[] = [];
  for (const k in record) {
    if (!NOT_HEAD.has(k)) out.push((record as unknown as Record<string, unknown>)[k]);
  }
  if (record instanceof StoredConversation && !record.loaded) {
    out.push(record.index.established, !record.index.hasSharedRequestKey);
  } else {
    out.push(record.session.established, record.session.sharedRequestKey === null);
  }
  return out;
}

function sameValues(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A record whose session, outbox and received IDs are read from the store when first used. */
class StoredConversation implements ConversationRecord {
  readonly fileId: string;
  name: string;
  onion: string;
  port: number;
  verified: boolean;
  presence: boolean;
  createdAt: number;
  requestKey: Uint8Array | null;
  declare endedByContact?: true;
  readonly index: StoredIndex;
  /** K_r of its regular packets to us, in base64, when the head holds it. */
  readonly hsub: string | null;
  /** A version 1 file's whole text, the session's until it is rebuilt. */
  #text: string | undefined;
  #session: Conversation | undefined;
  #outbox: OutboxEntry[] | undefined;
  #seen: SeenIds | undefined;
  /** Where its parts are read from (the store) until they are loaded. */
  #parts: StoredParts;
  #legacy: Record<string, unknown> | undefined;
  /** Whether `#text` is a version 1 file (its session inside). */
  readonly #v1: boolean;

  constructor(
    fileId: string,
    head: ReturnType<typeof headFromJson>,
    text: string,
    parts: StoredParts,
  ) {
    const fields = head.fields;
    this.fileId = fileId;
    this.name = fields.name;
    this.onion = fields.onion;
    this.port = fields.port;
    this.verified = fields.verified;
    this.presence = fields.presence;
    this.createdAt = fields.createdAt;
    this.requestKey = fields.requestKey;
    if (fields.endedByContact) this.endedByContact = true;
    this.hsub = head.hsub;
    this.index = new StoredIndex(head.index);
    this.#v1 = head.version === 1;
    this.#legacy = this.#v1 ? head.o : undefined;
    this.#text = this.#v1 ? text : undefined;
    if (!this.#v1 && !parts.names.includes(SESSION)) {
      invalid("conversation has no session (part r)");
    }
    this.#parts = parts;
  }

  /** Whether the session was rebuilt (then it, not {@linkcode index}, is current). */
  get loaded(): boolean {
    return this.#session !== undefined;
  }

  /** The stored session's JSON (read again from the head's text), while not rebuilt. */
  storedSession(): unknown {
    if (this.#v1) return JSON.parse(this.#text!).session;
    const text = this.#parts.text(SESSION);
    if (text === undefined) invalid("conversation has no session (part r)");
    return JSON.parse(text);
  }

  get session(): Conversation {
    if (this.#session === undefined) {
      this.#session = deserializeConversation(this.storedSession());
      this.#text = undefined;
    }
    return this.#session;
  }

  set session(session: Conversation) {
    this.#session = session;
    this.#text = undefined;
  }

  get outbox(): OutboxEntry[] {
    if (this.#outbox === undefined) this.#loadOutbox();
    return this.#outbox!;
  }

  set outbox(outbox: OutboxEntry[]) {
    if (this.#outbox === undefined) this.#loadOutbox();
    this.#outbox = outbox;
  }

  get seen(): SeenIds {
    if (this.#seen === undefined) this.#loadSeen();
    return this.#seen!;
  }

  /** Whether the outbox was read (else nothing of it changed). */
  get outboxLoaded(): boolean {
    return this.#outbox !== undefined;
  }

  /** Whether the received IDs were read (else none was added). */
  get seenLoaded(): boolean {
    return this.#seen !== undefined;
  }

  #loadLegacy(): void {
    const { outbox, seen } = legacyParts(this.#legacy!);
    this.#outbox = outbox;
    this.#seen = seen;
    this.#legacy = undefined;
  }

  #loadOutbox(): void {
    if (this.#legacy !== undefined) return this.#loadLegacy();
    const entries: [string, OutboxEntry][] = [];
    for (const name of this.#parts.names) {
      if (name.startsWith(OUTBOX)) entries.push([name, outboxFromJson(this.#part(name))]);
    }
    if (entries.length > MAX_OUTBOX_ELEMENTS) {
      invalid(`outbox has more than ${MAX_OUTBOX_ELEMENTS} items`);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    this.#outbox = entries.map(([, e]) => e);
    const outbox = new Map(entries.map(([part, e]) => [e, { part, ...snapshot(e) }]));
    const last = entries.at(-1)?.[0];
    const next = last === undefined ? 0 : Number(last.slice(OUTBOX.length)) + 1;
    const s = saved.get(this);
    if (s !== undefined) saved.set(this, { ...s, outbox, next });
  }

  #part(name: string): unknown {
    const text = this.#parts.text(name);
    if (text === undefined) invalid(`part ${name} is gone`);
    return JSON.parse(text);
  }

  #loadSeen(): void {
    if (this.#legacy !== undefined) return this.#loadLegacy();
    const blocks: [number, string[]][] = [];
    for (const name of this.#parts.names) {
      if (name.startsWith(SEEN)) {
        blocks.push([Number(name.slice(SEEN.length)), seenBlock(this.#part(name))]);
      }
    }
    if (blocks.length > SeenIds.MAX_BLOCKS) invalid("seen has too many blocks");
    this.#seen = SeenIds.fromBlocks(blocks);
  }
}

/** The index of a stored record: its keys in base64, decoded when first asked for. */
class StoredIndex implements ConversationIndex {
  readonly role: "alice" | "bob";
  readonly established: boolean;
  /** `peerIdentityKey` in base64 (compared without decoding). */
  readonly peerKey64: string;
  readonly #conversationId: string;
  readonly #shared: string | null;
  #peer: Uint8Array | undefined;
  #id: Uint8Array | undefined;
  #sharedKey: Uint8Array | undefined;

  constructor(json: unknown) {
    const s = json as Record<string, unknown> | null;
    if (typeof s !== "object" || s === null) invalid("session is not an object");
    if (s.role !== "alice" && s.role !== "bob") invalid("session role is not alice or bob");
    if (typeof s.established !== "boolean") invalid("session established is not a boolean");
    this.role = s.role;
    this.established = s.established;
    this.peerKey64 = key64(s.peerIdentityKey, "session peerIdentityKey");
    this.#conversationId = key64(s.conversationId, "session conversationId");
    this.#shared = s.sharedRequestKey === null
      ? null
      : key64(s.sharedRequestKey, "session sharedRequestKey");
  }

  get peerIdentityKey(): Uint8Array {
    return this.#peer ??= fromBase64(this.peerKey64);
  }

  get conversationId(): Uint8Array {
    return this.#id ??= fromBase64(this.#conversationId);
  }

  /** Whether there is a shared request key (told without decoding it). */
  get hasSharedRequestKey(): boolean {
    return this.#shared !== null;
  }

  get sharedRequestKey(): Uint8Array | null {
    if (this.#shared === null) return null;
    return this.#sharedKey ??= fromBase64(this.#shared);
  }

  /** The index as a head writes it. */
  toJson(): IndexJson {
    return {
      role: this.role,
      established: this.established,
      peerIdentityKey: this.peerKey64,
      conversationId: this.#conversationId,
      sharedRequestKey: this.#shared,
    };
  }
}

function seenBlock(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.length > 64) invalid("a seen block is not a list of at most 64");
  return ids.map((v) => hex(v, ELEMENT_ID_LENGTH, "seen id"));
}

/**
 * Checks a stored conversation's head and rebuilds the record (its session,
 * outbox and received IDs are read when first used); throws naming the bad
 * field. `epoch` is the store's failed-commit count now.
 */
export function conversationFromStore(
  fileId: string,
  head: unknown,
  parts: StoredParts,
  epoch: number,
  text: string = JSON.stringify(head),
): ConversationRecord {
  const parsed = headFromJson(head);
  const record = new StoredConversation(fileId, parsed, text, parts);
  // a version 1 file has no parts yet: its first save writes them all
  if (parsed.version !== 1) {
    saved.set(record, {
      epoch,
      outbox: NO_OUTBOX,
      next: 0,
      head: headFields(record),
      session: undefined,
    });
  }
  return record;
}

/** Midstates derived for records whose head did not hold them (saved with the next head). */
const hsubMidstates = new WeakMap<ConversationRecord, Int32Array>();

/**
 * The HMAC midstates of the K_r of `record`'s regular packets to us
 * (packet_common.ts), for the receive path's table: as stored in its head,
 * else derived once.
 */
export function conversationHsub(record: ConversationRecord): Int32Array {
  if (record instanceof StoredConversation && record.hsub !== null) {
    return midstateFromBase64(record.hsub);
  }
  let midstate = hsubMidstates.get(record);
  if (midstate === undefined) {
    const session = record.session;
    midstate = regularReceiverMidstate(session.conversationId, session.ownIdentityKey);
    hsubMidstates.set(record, midstate);
  }
  return midstate;
}

/** Whether `record`'s head on disk lacks what a save would write now (its K_r, its format). */
export function conversationNeedsSave(record: ConversationRecord): boolean {
  return !(record instanceof StoredConversation) || record.hsub === null;
}

/** The contact's identity key of `record` in base64 (no key decoded for a stored one). */
export function conversationPeerKey64(record: ConversationRecord): string {
  if (record instanceof StoredConversation && !record.loaded) return record.index.peerKey64;
  return toBase64(record.session.peerIdentityKey);
}

/** The identifying part of `record`, without rebuilding its session. */
export function conversationIndex(record: ConversationRecord): ConversationIndex {
  if (record instanceof StoredConversation && !record.loaded) return record.index;
  const s = record.session;
  return {
    role: s.role,
    established: s.established,
    peerIdentityKey: s.peerIdentityKey,
    conversationId: s.conversationId,
    sharedRequestKey: s.sharedRequestKey,
  };
}

/**
 * What a save of `record` writes: its head, and its parts that changed
 * since the last save (all of them the first time, or after a failed
 * commit: `epoch` is the store's failed-commit count now). Marks them saved.
 */
export function conversationToStore(
  record: ConversationRecord,
  epoch: number,
): { head: unknown; parts: PartChanges } {
  const lazy = record instanceof StoredConversation ? record : undefined;
  const last = saved.get(record);
  const full = last === undefined || last.epoch !== epoch;
  const put: [string, unknown][] = [];
  const del: string[] = [];
  // the session, when the ratchet moved (or everything is written)
  const session = lazy !== undefined && !lazy.loaded ? undefined : record.session;
  if (full || (session !== undefined && session !== last.session)) {
    put.push([SESSION, session === undefined ? lazy!.storedSession() : sessionJsonOf(session)]);
  }
  // the head, when a field or the stage changed
  const fields = headFields(record);
  const head = full || !sameValues(fields, last.head)
    ? headToJson(record, indexJson(record), conversationHsub(record))
    : undefined;
  const next: Saved = {
    epoch,
    outbox: full ? new Map() : last.outbox,
    next: full ? 0 : last.next,
    head: head !== undefined ? fields : last!.head,
    session: session ?? last?.session,
  };
  if (full || lazy === undefined || lazy.outboxLoaded) outboxChanges(record, full, next, put, del);
  if (full || lazy === undefined || lazy.seenLoaded) seenChanges(record, full, put, del);
  saved.set(record, next);
  return { head, parts: full ? { put, replace: true } : { put, delete: del } };
}

/** Writes what changed of the outbox into `put` and `del`. */
function outboxChanges(
  record: ConversationRecord,
  full: boolean,
  next: Saved,
  put: [string, unknown][],
  del: string[],
): void {
  const before = next.outbox;
  const outbox: Saved["outbox"] = new Map();
  for (const entry of record.outbox) {
    const was = full ? undefined : before.get(entry);
    if (was !== undefined && sameFields(entry, was)) {
      outbox.set(entry, was);
      continue;
    }
    const part = was?.part ?? partName(OUTBOX, next.next++);
    outbox.set(entry, { part, ...snapshot(entry) });
    put.push([part, outboxToJson(entry)]);
  }
  if (!full) { for (const [entry, { part }] of before) if (!outbox.has(entry)) del.push(part); }
  next.outbox = outbox;
}

/** Writes what changed of the received IDs into `put` and `del`. */
function seenChanges(
  record: ConversationRecord,
  full: boolean,
  put: [string, unknown][],
  del: string[],
): void {
  const seen = record.seen;
  if (full) seen.unsaved();
  const changes = seen.changes();
  for (const [n, ids] of changes.put) put.push([partName(SEEN, n), ids]);
  for (const n of changes.delete) del.push(partName(SEEN, n));
}

/** The session's JSON, once per session (sessions are immutable). */
function sessionJsonOf(session: Conversation): unknown {
  let json = sessionJson.get(session);
  if (json === undefined) sessionJson.set(session, json = serializeConversation(session));
  return json;
}

/** What a head repeats of its session, in base64. */
function indexJson(record: ConversationRecord): IndexJson {
  if (record instanceof StoredConversation && !record.loaded) return record.index.toJson();
  const s = record.session;
  return {
    role: s.role,
    established: s.established,
    peerIdentityKey: toBase64(s.peerIdentityKey),
    conversationId: toBase64(s.conversationId),
    sharedRequestKey: s.sharedRequestKey === null ? null : toBase64(s.sharedRequestKey),
  };
}

/** A save of `record` failed: its next one writes every part again. */
export function conversationSaveFailed(record: ConversationRecord): void {
  saved.delete(record);
}
