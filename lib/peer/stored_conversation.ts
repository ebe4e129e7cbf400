/**
 * A conversation record and its place in the store (records.ts has the
 * JSON forms): loaded lazily, saved by difference.
 *
 * Lazy loading: at start-up only the head is parsed (its own fields and the
 * {@linkcode ConversationIndex}, what identifying packets and listing
 * conversations need, kept as base64 text); the session (part `r`, ratchet
 * keys included) is parsed and rebuilt the first time it is used, the
 * outbox, the inbox, the received IDs and digests from their parts
 * likewise (stored_parts.ts). A conversation
 * nobody writes to costs a few hundred bytes and no key derivation.
 *
 * Saving by difference ({@linkcode conversationToStore}): the head when one
 * of its fields changed, the session when the ratchet moved, outbox and
 * inbox entries and blocks of received IDs and digests when added, changed
 * or removed since the last save (stored_parts.ts). After a failed commit
 * anywhere in the store, the next save of each conversation writes all its
 * parts again.
 *
 * @module
 */

import {
  type Conversation,
  deserializeConversation,
  serializeConversation,
} from "../protocol/handshake_state.ts";
import { toBase64 } from "../crypto/bytes.ts";
import { regularReceiverMidstate } from "../protocol/packet_regular.ts";
import type { PartChanges, StoredParts } from "../store/peer_store.ts";
import { hex, invalid } from "./_json.ts";
import {
  digestFromJson,
  headFromJson,
  headToJson,
  inboxFromJson,
  inboxToJson,
  type IndexJson,
  legacyParts,
  midstateFromBase64,
  outboxFromJson,
  outboxToJson,
} from "./conversation_json.ts";
import {
  type ConversationRecord,
  type InboxEntry,
  LAST_ACTIVE_STEP_MS,
  MAX_INBOX_MESSAGES,
  MAX_OUTBOX_ELEMENTS,
  type OutboxEntry,
} from "./records.ts";
import { type ConversationIndex, StoredIndex } from "./conversation_index.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";

import {
  blockChanges,
  DIGEST_PARTS,
  emptyList,
  INBOX_PARTS,
  listChanges,
  type ListSaved,
  loadBlocks,
  loadList,
  OUTBOX_PARTS,
  type PartWrites,
  SEEN_PARTS,
  SESSION_PART as SESSION,
} from "./stored_parts.ts";
import { ELEMENT_ID_LENGTH } from "../protocol/elements.ts";
import { describeError, StoreError } from "../store/errors.ts";
import { JOURNAL_FILE, STATE_FILE } from "../store/journal_load.ts";

/** What the last save wrote of a record's parts. */
interface Saved {
  /** The store's failed-commit count then: a later failure means "write everything again". */
  epoch: number;
  /** The outbox as saved (stored_parts.ts). */
  outbox: ListSaved<OutboxEntry>;
  /** The inbox as saved. */
  inbox: ListSaved<InboxEntry>;
  /** The record's own fields and stage when the head was saved. */
  head: unknown[];
  /** The session when it was saved (undefined: as stored, not rebuilt). */
  session: Conversation | undefined;
}

const saved = new WeakMap<ConversationRecord, Saved>();

/** Session JSON by session (sessions are immutable): a save that changed no ratchet encodes none. */
const sessionJson = new WeakMap<Conversation, unknown>();

/** The record fields that are not its head's (they are parts). */
const NOT_HEAD = new Set(["session", "outbox", "seen", "inbox", "digests", "lastActive"]);

/** The values that make up a record's head, compared by identity between saves. */
function headFields(record: ConversationRecord): unknown[] {
  const out: unknown[] = [];
  for (const k in record) {
    if (!NOT_HEAD.has(k)) out.push((record as unknown as Record<string, unknown>)[k]);
  }
  out.push(Math.floor(record.lastActive / LAST_ACTIVE_STEP_MS));
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
  lastActive: number;
  declare endedByContact?: true;
  readonly index: StoredIndex;
  /** K_r of its regular packets to us, in base64, when the head holds it. */
  readonly hsub: string | null;
  /** A version 1 file's whole text, the session's until it is rebuilt. */
  #text: string | undefined;
  #session: Conversation | undefined;
  #outbox: OutboxEntry[] | undefined;
  #inbox: InboxEntry[] | undefined;
  #seen: SeenIds | undefined;
  #digests: ReceivedDigests | undefined;
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
    this.lastActive = fields.lastActive;
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
    return this.#lazy(SESSION, () => {
      if (this.#v1) return JSON.parse(this.#text!).session;
      const text = this.#parts.text(SESSION);
      if (text === undefined) invalid("conversation has no session (part r)");
      return JSON.parse(text);
    });
  }

  get session(): Conversation {
    if (this.#session === undefined) {
      this.#session = this.#lazy(SESSION, () => deserializeConversation(this.storedSession()));
      this.#text = undefined;
    }
    return this.#session;
  }

  set session(session: Conversation) {
    this.#session = session;
    this.#text = undefined;
  }

  get outbox(): OutboxEntry[] {
    if (this.#outbox === undefined) this.#lazy(OUTBOX_PARTS, () => this.#loadOutbox());
    return this.#outbox!;
  }

  set outbox(outbox: OutboxEntry[]) {
    if (this.#outbox === undefined) this.#lazy(OUTBOX_PARTS, () => this.#loadOutbox());
    this.#outbox = outbox;
  }

  get inbox(): InboxEntry[] {
    if (this.#inbox === undefined) this.#lazy(INBOX_PARTS, () => this.#loadInbox());
    return this.#inbox!;
  }

  set inbox(inbox: InboxEntry[]) {
    if (this.#inbox === undefined) this.#lazy(INBOX_PARTS, () => this.#loadInbox());
    this.#inbox = inbox;
  }

  get seen(): SeenIds {
    if (this.#seen === undefined) this.#lazy(SEEN_PARTS, () => this.#loadSeen());
    return this.#seen!;
  }

  get digests(): ReceivedDigests {
    if (this.#digests === undefined) this.#lazy(DIGEST_PARTS, () => this.#loadDigests());
    return this.#digests!;
  }

  /** Whether the outbox was read (else nothing of it changed). */
  get outboxLoaded(): boolean {
    return this.#outbox !== undefined;
  }

  /** Whether the inbox was read (else nothing of it changed). */
  get inboxLoaded(): boolean {
    return this.#inbox !== undefined;
  }

  /** Whether the received IDs were read (else none was added). */
  get seenLoaded(): boolean {
    return this.#seen !== undefined;
  }

  /** Whether the digests were read (else none was added). */
  get digestsLoaded(): boolean {
    return this.#digests !== undefined;
  }

  #loadLegacy(): void {
    const { outbox, seen, inbox, digests } = legacyParts(this.#legacy!);
    this.#outbox ??= outbox;
    this.#seen ??= seen;
    this.#inbox ??= inbox;
    this.#digests ??= digests;
    this.#legacy = undefined;
  }

  /** Runs `load` of part `part`: a failure becomes a StoreError naming the conversation and part. */
  #lazy<T>(part: string, load: () => T): T {
    try {
      return load();
    } catch (e) {
      if (e instanceof StoreError) throw e; // the store's, naming its key
      throw new StoreError(
        e instanceof SyntaxError ? "corrupt" : "invalid",
        `Cannot load part ${part} of conversation ${this.fileId} (${STATE_FILE} or ` +
          `${JOURNAL_FILE}): ${describeError(e)}; unMessage leaves it untouched: fix it by hand ` +
          "or delete the conversation",
        undefined,
        { cause: e },
      );
    }
  }

  #read(name: string): unknown {
    const text = this.#parts.text(name);
    if (text === undefined) invalid(`part ${name} is gone`);
    return JSON.parse(text);
  }

  #loadOutbox(): void {
    if (this.#legacy !== undefined) return this.#loadLegacy();
    const names = this.#parts.names;
    // none stored (most conversations): nothing to read or remember
    if (!names.some((name) => name.startsWith(OUTBOX_PARTS))) return void (this.#outbox = []);
    const list = loadList(
      names,
      (name) => this.#read(name),
      OUTBOX_PARTS,
      outboxFromJson,
      MAX_OUTBOX_ELEMENTS,
      "outbox",
    );
    this.#outbox = list.entries;
    const s = saved.get(this);
    if (s !== undefined) saved.set(this, { ...s, outbox: list.saved });
  }

  #loadInbox(): void {
    if (this.#legacy !== undefined) return this.#loadLegacy();
    const names = this.#parts.names;
    if (!names.some((name) => name.startsWith(INBOX_PARTS))) return void (this.#inbox = []);
    const list = loadList(
      names,
      (name) => this.#read(name),
      INBOX_PARTS,
      inboxFromJson,
      MAX_INBOX_MESSAGES,
      "inbox",
    );
    this.#inbox = list.entries;
    const s = saved.get(this);
    if (s !== undefined) saved.set(this, { ...s, inbox: list.saved });
  }

  #loadSeen(): void {
    if (this.#legacy !== undefined) return this.#loadLegacy();
    const blocks = loadBlocks(
      this.#parts.names,
      (name) => this.#read(name),
      SEEN_PARTS,
      seenBlock,
      SeenIds.MAX_BLOCKS,
      "seen",
    );
    this.#seen = SeenIds.fromBlocks(blocks);
  }

  #loadDigests(): void {
    if (this.#legacy !== undefined) return this.#loadLegacy();
    const blocks = loadBlocks(
      this.#parts.names,
      (name) => this.#read(name),
      DIGEST_PARTS,
      digestBlock,
      ReceivedDigests.MAX_BLOCKS,
      "digests",
    );
    this.#digests = ReceivedDigests.fromBlocks(blocks);
  }
}

function seenBlock(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.length > 64) invalid("a seen block is not a list of at most 64");
  return ids.map((v) => hex(v, ELEMENT_ID_LENGTH, "seen id"));
}

function digestBlock(pairs: unknown): [string, string][] {
  if (!Array.isArray(pairs) || pairs.length > 64) {
    invalid("a digest block is not a list of at most 64");
  }
  return pairs.map(digestFromJson);
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
      outbox: emptyList(),
      inbox: emptyList(),
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
  const out: PartWrites = { put: [], del: [] };
  // the session, when the ratchet moved (or everything is written)
  const session = lazy !== undefined && !lazy.loaded ? undefined : record.session;
  if (full || (session !== undefined && session !== last.session)) {
    out.put.push([
      SESSION,
      session === undefined ? lazy!.storedSession() : sessionJsonOf(session),
    ]);
  }
  // the head, when a field or the stage changed
  const fields = headFields(record);
  const head = full || !sameValues(fields, last.head)
    ? headToJson(record, indexJson(record), conversationHsub(record))
    : undefined;
  const next: Saved = {
    epoch,
    outbox: full ? emptyList() : last.outbox,
    inbox: full ? emptyList() : last.inbox,
    head: head !== undefined ? fields : last!.head,
    session: session ?? last?.session,
  };
  const before = <E>(list: ListSaved<E>) => (full ? undefined : list);
  if (full || lazy === undefined || lazy.outboxLoaded) {
    next.outbox = listChanges(record.outbox, OUTBOX_PARTS, before(next.outbox), outboxToJson, out);
  }
  if (full || lazy === undefined || lazy.inboxLoaded) {
    next.inbox = listChanges(record.inbox, INBOX_PARTS, before(next.inbox), inboxToJson, out);
  }
  if (full || lazy === undefined || lazy.seenLoaded) {
    blockChanges(record.seen, full, SEEN_PARTS, out);
  }
  if (full || lazy === undefined || lazy.digestsLoaded) {
    blockChanges(record.digests, full, DIGEST_PARTS, out);
  }
  saved.set(record, next);
  const { put, del } = out;
  return { head, parts: full ? { put, replace: true } : { put, delete: del } };
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
