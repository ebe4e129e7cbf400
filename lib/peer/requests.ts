/**
 * The requests we receive (docs/protocol.md §6.1, §6.2): which ones are kept
 * ({@linkcode receiveRequest}, the one policy receive.ts calls once a
 * request's signature verified), and the user's answers: accept one,
 * reject one, some or all. Each command checks everything before it
 * changes anything, and saves the request book before the change can leave
 * the machine.
 *
 * Why this policy (issue 8 item 5): an identity address is handed out, and
 * nothing distinguishes a genuine request from a flood: any onion key and
 * identity key are free to make, and 100 signed requests take under a
 * second. So the policy never lets a later request push out an earlier
 * one, and leaves the choice to the user:
 *
 * - **Pending** requests (persisted, announced by a `request-received`
 *   event) are at most {@linkcode MAX_INBOUND_REQUESTS}, and at most
 *   {@linkcode MAX_REQUESTS_PER_WINDOW} new ones are admitted per
 *   {@linkcode REQUEST_WINDOW_MS}. Nothing evicts a pending request but the
 *   user's answer or its expiry.
 * - Past either bound a request is held as a **flood** request: in memory
 *   only (no disk write, no event each), the newest
 *   {@linkcode MAX_FLOOD_REQUESTS}, the oldest of them dropped first. One
 *   `request_flood` warning per window says how many are held; `reqs-in`
 *   lists them marked `flood`, they can be accepted like any other, and
 *   `req-reject --flood` (or `--all`) clears them; the next flood request
 *   after that warns again (the user cleared the flood: a new one is news). A genuine request that
 *   arrives during a flood, and is pushed out of the flood list or
 *   rejected with `--flood`, comes back when its sender re-sends it (every
 *   start of theirs) while it lives.
 * - Requests **expire** {@linkcode REQUEST_TTL_MS} after the creation time
 *   their sender signed (handshake_data.ts); one dated more than
 *   {@linkcode MAX_REQUEST_CLOCK_SKEW_MS} ahead of our clock is refused
 *   (it would never expire).
 * - **Known** request keys (pending, flood, rejected, or the one a
 *   conversation came from) are dropped silently: senders re-send.
 * - A deleted conversation leaves a **tombstone** of the contact's identity
 *   key and the time the conversation was made, and its request key joins
 *   the rejected ones: a request that contact made before the conversation
 *   existed is an old one replayed and is dropped; a later one is a new
 *   request (comparing with the creation rather than the deletion keeps a
 *   new request after a quick delete working when the two clocks differ by
 *   minutes). Such old requests already waiting are dropped with the
 *   conversation. A tombstone lasts {@linkcode TOMBSTONE_TTL_MS} after the
 *   deletion (by then every request made before it has expired), at most
 *   {@linkcode MAX_TOMBSTONES} of them, the oldest dropped first.
 *
 * @module
 */

import { equalBytes, toBase64, toHex } from "../crypto/bytes.ts";
import type { KeyPair } from "../crypto/keys.ts";
import { newElementId } from "../protocol/elements.ts";
import { acceptRequest as acceptHandshake } from "../protocol/handshake.ts";
import type { InboundRequest } from "../protocol/handshake_state.ts";
import { checkContactName, sanitizeSuggestedName } from "./address.ts";
import type { PeerCore } from "./core.ts";
import { PeerError, suggestingCommand, unknownName } from "./errors.ts";
import { requestInfo } from "./info.ts";
import { checkNameFree, lookalikeOf, requestLookalikes } from "./lookup.ts";
import { showName } from "./names.ts";
import {
  type ConversationRecord,
  type InboundEntry,
  MAX_INBOUND_REQUESTS,
  MAX_REJECTED,
  MAX_TOMBSTONES,
  newLocalId,
} from "./records.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";
import { saveOrUndo } from "./transaction.ts";
import type { ConversationInfo, RequestInfo } from "./types.ts";
import type { RequestDropReason } from "./warnings.ts";

/** A request lives a week: long enough for a contact who is offline for days. */
export const REQUEST_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** How far a sender's clock may run ahead of ours (tor itself needs clocks within hours). */
export const MAX_REQUEST_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;
/** A tombstone outlives every request made before it: their lifetime plus the skew. */
export const TOMBSTONE_TTL_MS: number = REQUEST_TTL_MS + MAX_REQUEST_CLOCK_SKEW_MS;
/** The window of the admission rate. */
export const REQUEST_WINDOW_MS = 10 * 60 * 1000;
/** New pending requests per window: far above what people send, far below a flood. */
export const MAX_REQUESTS_PER_WINDOW = 10;
/** Flood requests held in memory (the newest). */
export const MAX_FLOOD_REQUESTS = 50;

/** What `req-reject` takes besides a name for every request. */
export const REJECT_ALL = "--all";
/** What `req-reject` takes besides a name for the flood requests. */
export const REJECT_FLOOD = "--flood";

/** The admission rate of one running peer (memory only: a restart starts a fresh window). */
interface Gate {
  /** When the last pending requests were admitted (ms), oldest first. */
  admitted: number[];
  /** When the last `request_flood` warning went out (ms). */
  warnedAt: number;
}

const gates = new WeakMap<PeerCore, Gate>();

function gateOf(core: PeerCore): Gate {
  let gate = gates.get(core);
  if (gate === undefined) gates.set(core, gate = { admitted: [], warnedAt: -Infinity });
  return gate;
}

/** Drops expired requests and tombstones from memory (the next save writes the change). */
export function pruneRequests(core: PeerCore): void {
  const now = core.now();
  const book = core.requests;
  book.inbound = book.inbound.filter((e) => e.state.createdAt + REQUEST_TTL_MS >= now);
  book.tombstones = book.tombstones.filter((t) => t.at + TOMBSTONE_TTL_MS >= now);
}

/** Why a verified request is dropped, or undefined to keep it. */
function dropReason(core: PeerCore, request: InboundRequest): RequestDropReason | undefined {
  const now = core.now();
  if (request.createdAt > now + MAX_REQUEST_CLOCK_SKEW_MS) return "dated_ahead";
  if (request.createdAt + REQUEST_TTL_MS < now) return "expired";
  if (core.requests.tombstones.some((t) => buried(t, request))) return "deleted_contact";
  return undefined;
}

/** Whether `request` is one the tombstone `stone` stands for: that contact's, made before. */
function buried(stone: { key: string; before: number }, request: InboundRequest): boolean {
  return stone.key === toBase64(request.identityKey) && request.createdAt < stone.before;
}

/**
 * Stage 2 (Alice): keeps a verified request or drops it, by the policy of
 * the module header. Never throws but for a failed save.
 */
export async function receiveRequest(core: PeerCore, request: InboundRequest): Promise<void> {
  // Bob re-sends a request until it is answered: the same request key is the same request
  if (core.knownRequest(request.requestPublicKey)) return;
  pruneRequests(core);
  const reason = dropReason(core, request);
  if (reason !== undefined) {
    // its sender chooses what it signs: counted into one warning, not one each (warnings.ts)
    core.dropped("request_dropped", reason, { label: request.onionAddress });
    return;
  }
  const now = core.now();
  const book = core.requests;
  const gate = gateOf(core);
  gate.admitted = gate.admitted.filter((t) => t + REQUEST_WINDOW_MS > now);
  const pending = book.inbound.filter((e) => e.flood !== true).length;
  const entry: InboundEntry = {
    name: core.uniqueName(localRequestName(request.name)),
    at: now,
    state: request,
  };
  if (pending >= MAX_INBOUND_REQUESTS || gate.admitted.length >= MAX_REQUESTS_PER_WINDOW) {
    entry.flood = true;
    book.inbound.push(entry);
    const flood = book.inbound.filter((e) => e.flood === true);
    if (flood.length > MAX_FLOOD_REQUESTS) {
      book.inbound = book.inbound.filter((e) => e !== flood[0]);
    }
    if (gate.warnedAt + REQUEST_WINDOW_MS <= now) {
      gate.warnedAt = now;
      core.warn(
        "request_flood",
        `Requests arrive faster than ${MAX_REQUESTS_PER_WINDOW} in ${REQUEST_WINDOW_MS / 60_000} ` +
          `minutes, or ${MAX_INBOUND_REQUESTS} wait already (likely a flood): the newest ` +
          `${MAX_FLOOD_REQUESTS} are held in memory; reqs-in lists them as flood, ` +
          `req-reject ${REJECT_FLOOD} rejects them`,
      );
    }
    return;
  }
  gate.admitted.push(now);
  book.inbound.push(entry);
  await core.saveRequests();
  const looksLike = lookalikeOf(core, entry);
  core.emit({ event: "request-received", request: requestInfo(entry, "in", looksLike) });
}

/**
 * The name a request is listed under: the one it suggests, made valid,
 * but never what `req-reject` takes for many: not a word of it (a
 * stranger who calls itself "--all" would make a reject of its one
 * request reject them all), and no `*` ("spam*" would be a pattern as soon
 * as that request is gone, and a second reject of it, from a window left
 * open, would reject every "spam…"); each `*` becomes "_".
 */
function localRequestName(suggested: string): string {
  const name = sanitizeSuggestedName(suggested).replaceAll("*", "_");
  return name === REJECT_ALL || name === REJECT_FLOOD ? "contact" : name;
}

/** Pending and flood requests, oldest first, after dropping expired ones. */
export function listInbound(core: PeerCore): RequestInfo[] {
  pruneRequests(core);
  const index = requestLookalikes(core);
  return core.requests.inbound.map((e) => {
    const info = requestInfo(e, "in", lookalikeOf(core, e, index));
    return e.flood === true ? { ...info, flood: true } : info;
  });
}

function findInbound(core: PeerCore, name: string): InboundEntry {
  pruneRequests(core);
  const entry = core.requests.inbound.find((e) => e.name === name);
  if (entry === undefined) {
    throw unknownName(name, core.requests.inbound.map((e) => e.name), "request");
  }
  return entry;
}

/**
 * Accepts the inbound request `name` (docs/protocol.md §6.2), under `newName` if
 * given; see {@linkcode Peer.acceptRequest}. All or nothing: when a save
 * fails, the request is back in the book, the conversation is gone (from
 * memory and, as far as the disk allows, from disk) and the error is thrown.
 *
 * @throws {PeerError} `unknown_request`, `bad_name`, `name_taken`,
 *   `name_confusable`, `already_contact`; {@linkcode StoreError} when a save fails
 */
export async function acceptRequest(
  core: PeerCore,
  ownIdentity: KeyPair,
  name: string,
  newName?: string,
): Promise<ConversationInfo> {
  const entry = findInbound(core, name);
  checkNotContact(core, entry.state.identityKey);
  const finalName = newName === undefined ? name : checkContactName(newName);
  if (finalName !== name) checkNameFree(core, finalName, "pick another name", name);
  else checkNotLookalike(core, entry);
  const session = acceptHandshake(entry.state, { ownIdentity, rng: core.rng });
  const id = newElementId(core.rng);
  const record: ConversationRecord = {
    fileId: newLocalId(core.rng),
    name: finalName,
    onion: entry.state.onionAddress,
    port: entry.state.port,
    verified: false,
    presence: false,
    createdAt: core.now(),
    requestKey: entry.state.requestPublicKey,
    session,
    // tells Bob (docs/protocol.md §6.2) and carries Alice's handshake key to him
    outbox: [{ id, key: toHex(id), body: { type: "request_accepted" }, at: core.now() }],
    seen: new SeenIds(),
    inbox: [],
    digests: new ReceivedDigests(),
    lastActive: core.now(),
  };
  // claimed in memory before the first await (no second accept, name stays taken);
  // the link waits for both saves, so nothing leaves before the change is final
  const index = core.requests.inbound.indexOf(entry);
  core.requests.inbound = core.requests.inbound.filter((e) => e !== entry);
  const contact = core.addContact(record, false);
  let contactSaved = false;
  await saveOrUndo(async () => {
    await core.saveContact(contact);
    contactSaved = true;
    await core.saveRequests();
  }, async () => {
    await core.removeContact(contact);
    const book = core.requests.inbound;
    core.requests.inbound = [...book.slice(0, index), entry, ...book.slice(index)];
    // a file left behind is reconciled at the next open (load.ts: the conversation wins)
    if (contactSaved) await core.store.deleteConversation(record.fileId).catch(() => {});
  });
  if (core.started) contact.link?.start();
  contact.link?.wake();
  return contact.info();
}

/**
 * Refuses to accept `entry` under the name it came with when its suggested
 * name looks like a name in use (names.ts): the user picks another one.
 *
 * @throws {PeerError} `name_confusable`
 */
function checkNotLookalike(core: PeerCore, entry: InboundEntry): void {
  const other = lookalikeOf(core, entry);
  if (other === undefined) return;
  throw suggestingCommand(
    "name_confusable",
    `The request ${showName(entry.name)} suggested the name ${showName(entry.state.name)}, ` +
      `which looks like ${showName(other)}, a name you already use: accept it under another ` +
      `name with`,
    `req-accept ${entry.name} <new-name>`,
  );
}

/**
 * Refuses a request from `key` when a conversation with that key, or our
 * own pending request to it, exists: accepting would make a second
 * conversation with the same person (the user deletes or rejects first).
 *
 * @throws {PeerError} `already_contact`
 */
function checkNotContact(core: PeerCore, key: Uint8Array): void {
  const existing = core.contactWithKey(key);
  if (existing !== undefined) {
    throw new PeerError(
      "already_contact",
      `You already have a conversation with this key, named ${existing.name}: ` +
        "reject this request, or delete that conversation first to start over",
    );
  }
  const pending = core.requests.outbound.find((r) => equalBytes(r.state.peerIdentityKey, key));
  if (pending !== undefined) {
    throw suggestingCommand(
      "already_contact",
      `A request to this key is pending, named ${pending.name}: wait for their answer, or, ` +
        "to accept this one, cancel yours first with",
      `req-cancel ${pending.name}`,
    );
  }
}

/** The requests `what` names: one name, `--all`, `--flood`, or a pattern with `*`. */
function selectInbound(core: PeerCore, what: string): InboundEntry[] {
  const inbound = core.requests.inbound;
  if (what === REJECT_ALL) return [...inbound];
  if (what === REJECT_FLOOD) return inbound.filter((e) => e.flood === true);
  const exact = inbound.find((e) => e.name === what);
  if (exact !== undefined) return [exact];
  if (what.includes("*")) {
    const escaped = what.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
    const pattern = new RegExp(`^${escaped}$`, "su");
    const matched = inbound.filter((e) => pattern.test(e.name));
    if (matched.length > 0) return matched;
    throw suggestingCommand(
      "unknown_request",
      `No inbound request matches ${showName(what)}: list them with`,
      "reqs-in",
    );
  }
  throw unknownName(what, inbound.map((e) => e.name), "request");
}

/**
 * Rejects the inbound request `what` names (one name, `--all`, `--flood`,
 * or a pattern where `*` stands for any text) and returns the names
 * rejected. Each one's request key is remembered (bounded by
 * {@linkcode MAX_REJECTED}) so that a re-sent copy is ignored; except for
 * `--flood`, which only forgets them: whoever fills the rate window first
 * makes every later request a flood one, genuine ones included, so a
 * genuine request rejected with the flood comes back when its sender
 * re-sends it (a flooder gains nothing from a re-send: new requests cost
 * it as little).
 *
 * @throws {PeerError} `unknown_request` when a name or pattern matches none
 */
export async function rejectRequests(core: PeerCore, what: string): Promise<string[]> {
  pruneRequests(core);
  const book = core.requests;
  const chosen = new Set(selectInbound(core, what));
  if (chosen.size === 0) return [];
  book.inbound = book.inbound.filter((e) => !chosen.has(e));
  const remember = what !== REJECT_FLOOD;
  for (const e of chosen) if (remember) book.rejected.push(toBase64(e.state.requestPublicKey));
  book.rejected.splice(0, Math.max(0, book.rejected.length - MAX_REJECTED));
  if (what === REJECT_FLOOD || what === REJECT_ALL) gateOf(core).warnedAt = -Infinity;
  await core.saveRequests();
  return [...chosen].map((e) => e.name);
}

/**
 * Leaves the tombstone of a deleted conversation (see the module header)
 * in the book; the caller saves it.
 */
export function tombstone(core: PeerCore, record: ConversationRecord): void {
  const book = core.requests;
  const key = toBase64(record.session.peerIdentityKey);
  const stone = { key, before: record.createdAt, at: core.now() };
  // the tombstone's rule also holds for their old requests already waiting here (one
  // delivered late, or replayed while the conversation lived): accepted, it would make a
  // conversation whose every reply they drop
  book.inbound = book.inbound.filter((e) => !buried(stone, e.state));
  book.tombstones.push(stone);
  book.tombstones.splice(0, Math.max(0, book.tombstones.length - MAX_TOMBSTONES));
  if (record.requestKey !== null) {
    book.rejected.push(toBase64(record.requestKey));
    book.rejected.splice(0, Math.max(0, book.rejected.length - MAX_REJECTED));
  }
}
