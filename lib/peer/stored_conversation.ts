/**
 * A conversation record and its place in the store (records.ts has the
 * JSON forms): loaded lazily, saved by difference.
 *
 * Lazy loading: at start-up only the head's own fields and the
 * {@linkcode ConversationIndex} (what identifying packets and listing
 * conversations need) are read; the session (ratchet keys included) is
 * rebuilt from its JSON the first time it is used, the outbox and the
 * received IDs from their parts likewise. A conversation nobody writes to
 * costs a few hundred bytes and no key derivation.
 *
 * Saving by difference ({@linkcode conversationToStore}): the head is
 * written whole (it is small: the ratchet state), outbox entries and
 * received-ID blocks as parts, only those added, changed or removed since
 * the last save. An outbox entry counts as changed when one of its fields
 * is replaced (compared by identity): replace a field to change it, never
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
import { regularReceiverHsubKey } from "../protocol/packet_regular.ts";
import type { PartChanges } from "../store/peer_store.ts";
import { b64, hex, invalid } from "./_json.ts";
import {
  type ConversationRecord,
  headFromJson,
  headToJson,
  legacyParts,
  MAX_OUTBOX_ELEMENTS,
  type OutboxEntry,
  outboxFromJson,
  outboxToJson,
} from "./records.ts";
import { SEEN_BLOCK, SeenIds } from "./seen_ids.ts";
import { ELEMENT_ID_LENGTH } from "../protocol/elements.ts";

/** Part name prefix of outbox entries. */
const OUTBOX = "o/";
/** Part name prefix of received-ID blocks. */
const SEEN = "s/";
/** Digits of a part's number: zero-padded, so names sort as numbers. */
const PART_DIGITS = 10;
/** Most received-ID blocks read (the window holds MAX / 64 of them, plus one partly filled). */
const MAX_SEEN_BLOCKS = SeenIds.MAX / SEEN_BLOCK + 2;

/** What identifies a conversation without its ratchet: kept in memory for every conversation. */
export interface ConversationIndex {
  /** Who made the request: Bob; who accepted it: Alice. */
  readonly role: "alice" | "bob";
  /** Whether regular packets are sent (handshake_state.ts). */
  readonly established: boolean;
  /** Our identity public key. */
  readonly ownIdentityKey: Uint8Array;
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
  /** The record's own fields (and session) when the head was saved; empty: not saved. */
  head: unknown[];
}

const saved = new WeakMap<ConversationRecord, Saved>();

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

/** The values that make up a record's head, compared by identity between saves. */
function headFields(record: ConversationRecord, lazy: StoredConversation | undefined): unknown[] {
  const out: unknown[] = [];
  for (const k in record) out.push((record as unknown as Record<string, unknown>)[k]);
  if (lazy?.loaded) out.push(lazy.session);
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
  readonly index: StoredIndex;
  /** K_r of its regular packets to us, in base64, when the head holds it. */
  readonly hsub: string | null;
  /** The head's JSON text, where the session is read from until it is rebuilt. */
  #text: string | undefined;
  #session: Conversation | undefined;
  #outbox: OutboxEntry[] | undefined;
  #seen: SeenIds | undefined;
  #parts: ReadonlyMap<string, string>;
  #legacy: Record<string, unknown> | undefined;

  constructor(
    fileId: string,
    head: ReturnType<typeof headFromJson>,
    text: string,
    parts: ReadonlyMap<string, string>,
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
    this.hsub = head.hsub;
    this.index = new StoredIndex(head.session);
    this.#text = text;
    this.#parts = parts;
    this.#legacy = head.version === 1 ? head.o : undefined;
  }

  /** Whether the session was rebuilt (then it, not {@linkcode index}, is current). */
  get loaded(): boolean {
    return this.#session !== undefined;
  }

  /** The stored session's JSON (read again from the head's text), while not rebuilt. */
  storedSession(): unknown {
    return JSON.parse(this.#text!).session;
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
    if (this.#outbox === undefined) this.#loadParts();
    return this.#outbox!;
  }

  set outbox(outbox: OutboxEntry[]) {
    if (this.#outbox === undefined) this.#loadParts();
    this.#outbox = outbox;
  }

  get seen(): SeenIds {
    if (this.#seen === undefined) this.#loadParts();
    return this.#seen!;
  }

  /** Whether the outbox and received IDs were read (else nothing of them changed). */
  get partsLoaded(): boolean {
    return this.#outbox !== undefined;
  }

  #loadParts(): void {
    if (this.#legacy !== undefined) {
      const { outbox, seen } = legacyParts(this.#legacy);
      this.#outbox = outbox;
      this.#seen = seen;
      this.#legacy = undefined;
      return;
    }
    const entries: [string, OutboxEntry][] = [];
    const blocks: [number, string[]][] = [];
    for (const [name, text] of this.#parts) {
      if (name.startsWith(OUTBOX)) entries.push([name, outboxFromJson(JSON.parse(text))]);
      else if (name.startsWith(SEEN)) {
        blocks.push([Number(name.slice(SEEN.length)), seenBlock(text)]);
      }
    }
    if (entries.length > MAX_OUTBOX_ELEMENTS) {
      invalid(`outbox has more than ${MAX_OUTBOX_ELEMENTS} items`);
    }
    if (blocks.length > MAX_SEEN_BLOCKS) invalid("seen has too many blocks");
    entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    this.#outbox = entries.map(([, e]) => e);
    this.#seen = SeenIds.fromBlocks(blocks);
    const outbox = new Map(entries.map(([part, e]) => [e, { part, ...snapshot(e) }]));
    const last = entries.at(-1)?.[0];
    const next = last === undefined ? 0 : Number(last.slice(OUTBOX.length)) + 1;
    const s = saved.get(this);
    if (s !== undefined) saved.set(this, { ...s, outbox, next });
    this.#parts = new Map();
  }
}

/** The index of a stored record: its keys in base64, decoded when first asked for. */
class StoredIndex implements ConversationIndex {
  readonly role: "alice" | "bob";
  readonly established: boolean;
  /** `peerIdentityKey` in base64 (compared without decoding). */
  readonly peerKey64: string;
  readonly #own: string;
  readonly #conversationId: string;
  readonly #shared: string | null;
  #decoded: { peer?: Uint8Array; id?: Uint8Array; shared?: Uint8Array } = {};

  constructor(json: unknown) {
    const s = json as Record<string, unknown> | null;
    if (typeof s !== "object" || s === null) invalid("session is not an object");
    if (s.role !== "alice" && s.role !== "bob") invalid("session role is not alice or bob");
    if (typeof s.established !== "boolean") invalid("session established is not a boolean");
    this.role = s.role;
    this.established = s.established;
    this.#own = key64(s.ownIdentityKey, "session ownIdentityKey");
    this.peerKey64 = key64(s.peerIdentityKey, "session peerIdentityKey");
    this.#conversationId = key64(s.conversationId, "session conversationId");
    this.#shared = s.sharedRequestKey === null
      ? null
      : key64(s.sharedRequestKey, "session sharedRequestKey");
  }

  get ownIdentityKey(): Uint8Array {
    return ownKey(this.#own);
  }

  get peerIdentityKey(): Uint8Array {
    return this.#decoded.peer ??= fromBase64(this.peerKey64);
  }

  get conversationId(): Uint8Array {
    return this.#decoded.id ??= fromBase64(this.#conversationId);
  }

  get sharedRequestKey(): Uint8Array | null {
    if (this.#shared === null) return null;
    return this.#decoded.shared ??= fromBase64(this.#shared);
  }
}

/** A base64 key of 32 bytes, checked and kept as text. */
function key64(value: unknown, where: string): string {
  if (typeof value !== "string" || value.length !== 44 || !value.endsWith("=")) {
    invalid(`${where} is not 32 bytes of base64`);
  }
  b64(value, 32, where);
  return value;
}

function seenBlock(text: string): string[] {
  const ids = JSON.parse(text);
  if (!Array.isArray(ids) || ids.length > 64) invalid("a seen block is not a list of at most 64");
  return ids.map((v) => hex(v, ELEMENT_ID_LENGTH, "seen id"));
}

// every conversation of a peer holds the same own key: one array for all
let lastOwn: { text: string; key: Uint8Array } | undefined;

function ownKey(text: string): Uint8Array {
  if (lastOwn !== undefined && lastOwn.text === text) return lastOwn.key;
  const key = fromBase64(text);
  lastOwn = { text, key };
  return key;
}

/**
 * Checks a stored conversation's head and rebuilds the record (its session,
 * outbox and received IDs are read when first used); throws naming the bad
 * field. `epoch` is the store's failed-commit count now.
 */
export function conversationFromStore(
  fileId: string,
  head: unknown,
  parts: ReadonlyMap<string, string>,
  epoch: number,
  text: string = JSON.stringify(head),
): ConversationRecord {
  const parsed = headFromJson(head);
  const record = new StoredConversation(fileId, parsed, text, parts);
  // a version 1 file has no parts yet: its first save writes them all
  if (parsed.version !== 1) {
    saved.set(record, { epoch, outbox: new Map(), next: 0, head: headFields(record, record) });
  }
  return record;
}

/** K_r derived for records whose head did not hold it (saved with the next head). */
const hsubKeys = new WeakMap<ConversationRecord, Uint8Array>();

/**
 * K_r of `record`'s regular packets to us (packet_common.ts), for the
 * receive path's table: as stored in its head, else derived once.
 */
export function conversationHsubKey(record: ConversationRecord): Uint8Array {
  if (record instanceof StoredConversation && record.hsub !== null) return fromBase64(record.hsub);
  let key = hsubKeys.get(record);
  if (key === undefined) {
    const index = conversationIndex(record);
    key = regularReceiverHsubKey(index.conversationId, index.ownIdentityKey);
    hsubKeys.set(record, key);
  }
  return key;
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
    ownIdentityKey: s.ownIdentityKey,
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
  const fields = headFields(record, lazy);
  let head: unknown = undefined;
  if (full || !sameValues(fields, last.head)) {
    let session = lazy !== undefined && !lazy.loaded ? lazy.storedSession() : undefined;
    if (session === undefined) {
      session = sessionJson.get(record.session) ?? serializeConversation(record.session);
      sessionJson.set(record.session, session);
    }
    head = headToJson(record, session, conversationHsubKey(record));
  }
  if (!full && lazy !== undefined && !lazy.partsLoaded) {
    if (head !== undefined) last.head = fields;
    return { head, parts: {} };
  }
  const put: [string, unknown][] = [];
  const del: string[] = [];
  const outbox: Saved["outbox"] = new Map();
  let next = full ? 0 : last.next;
  for (const entry of record.outbox) {
    const before = full ? undefined : last.outbox.get(entry);
    if (before !== undefined && sameFields(entry, before)) {
      outbox.set(entry, before);
      continue;
    }
    const part = before?.part ?? partName(OUTBOX, next++);
    outbox.set(entry, { part, ...snapshot(entry) });
    put.push([part, outboxToJson(entry)]);
  }
  if (!full) {
    for (const [entry, { part }] of last.outbox) if (!outbox.has(entry)) del.push(part);
  }
  const seen = record.seen;
  if (full) seen.unsaved();
  const changes = seen.changes();
  for (const [n, ids] of changes.put) put.push([partName(SEEN, n), ids]);
  for (const n of changes.delete) del.push(partName(SEEN, n));
  saved.set(record, { epoch, outbox, next, head: head !== undefined ? fields : last!.head });
  return { head, parts: full ? { put, replace: true } : { put, delete: del } };
}

/** A save of `record` failed: its next one writes every part again. */
export function conversationSaveFailed(record: ConversationRecord): void {
  saved.delete(record);
}
