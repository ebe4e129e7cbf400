/**
 * Network input of the messenger core: every frame received on a
 * connection goes through {@linkcode receivePacket}, which dispatches it
 * (lib/protocol/dispatch.ts: conversations first, then reply keys, then the
 * request path), tells the connection's admission whether it identified
 * (lib/net/admission.ts), handles the elements it completes, saves, and only
 * then reports events and queues answers (acknowledgements, SMP replies).
 * {@linkcode receiveFrames} feeds it one frame at a time per connection,
 * after the event sink has room and when the admission gives the turn.
 *
 * A received `message` is shown before it counts as received: it is saved
 * in the conversation's `inbox` together with the ratchet state that read
 * it, the event is emitted and the sink's promise awaited (bounded), and
 * only then does its ID move from `inbox` to `seen` and the acknowledgement
 * get queued; the link saves the record (with that `seen`) before the
 * acknowledgement leaves. So a crash (kill -9) at any point never loses a
 * message whose sender saw it acknowledged: before the first save nothing
 * records it and its sender re-sends it; after it, the restarted peer shows
 * it from its `inbox`, with the same event `id` (consumers de-duplicate by
 * `id`). Messages are emitted in the order they are decrypted; waiting for
 * the sink holds neither the connection (other elements go on) nor a
 * re-sent copy (it waits for the first one).
 *
 * Copies: a sender re-sends an unacknowledged entry as the same bytes
 * (contact.ts), whose message key we used, so a copy does not decrypt. A
 * packet of this conversation that fails to decrypt is looked up by its
 * digest in `digests` (saved with the ratchet that read the original): a
 * copy of something shown is acknowledged again, a copy of something not
 * yet shown is shown, and a copy of a part of an element still being
 * reassembled is left alone. Any other packet of the conversation that does
 * not decrypt (its skipped key expired or was evicted; a part of an element
 * whose other parts a restart lost) is named back in an `unreadable`
 * element, and its sender seals what it carried anew. Each answer is given
 * at most once per packet per connection, so replaying one packet many
 * times cannot make us seal many. A probe (a keep-alive with an ID) is
 * acknowledged the same way. Such a packet identifies its connection as
 * the contact's: only the two peers hold the conversation's packet keys.
 *
 * Nothing here throws: a packet that is malformed, forged or belongs to
 * nothing of ours is dropped and counted into the aggregated
 * `packets_dropped` warning (warnings.ts); its
 * admission then closes a connection that has not identified, and a
 * malformed packet (wrong version or length) closes any connection. A
 * connection's owner is the contact whose packet decrypted on it
 * (`contact:<file ID>`) or {@linkcode REQUEST_OWNER}.
 *
 * @module
 */

import { equalBytes, fromHex, toHex, utf8 } from "../crypto/bytes.ts";
import { messageDigest } from "../crypto/ratchet_header.ts";
import { errorMessage, isUnmessageError, ProtocolError } from "../errors.ts";
import { type Admission, UNPOLICED } from "../net/admission.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import { type Dispatched, dispatchPacket, UnreadableMessage } from "../protocol/dispatch.ts";
import { decodeElement, type Element, packetName } from "../protocol/elements.ts";
import { decodePart } from "../protocol/fragment.ts";
import type { InboundRequest } from "../protocol/handshake_state.ts";
import { isStoreError } from "../store/errors.ts";
import { type Contact, isKeepalive, isProbe } from "./contact.ts";
import type { PeerCore } from "./core.ts";
import {
  type InboxEntry,
  MAX_INBOX_BYTES,
  MAX_INBOX_MESSAGES,
  type OutboundEntry,
} from "./records.ts";
import { receiveRequest } from "./requests.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";
import { saveOrUndo } from "./transaction.ts";
import { excerptOf } from "./info.ts";

export type { Admission } from "../net/admission.ts";
export type { FramedConn } from "../net/framed_conn.ts";

/** Packet-level codes after which the connection is closed: the sender does not speak our protocol. */
const FATAL_PACKET_CODES = new Set(["unsupported_version", "bad_packet_length"]);

/** The admission owner of connections that carried a request (requests share one owner's quota). */
export const REQUEST_OWNER = "requests";

/** Work done after the record is saved: events and answers. */
type Effect = () => void;

/** What handling a packet decided: run once its state is saved, or undone if the save failed. */
class Effects {
  readonly #run: Effect[] = [];
  readonly #undo: Effect[] = [];

  /** Adds work for after the save. */
  push(effect: Effect): void {
    this.#run.push(effect);
  }

  /** Adds what to undo if the save fails. */
  onFailure(undo: Effect): void {
    this.#undo.push(undo);
  }

  /** The save succeeded. */
  run(): void {
    for (const effect of this.#run) effect();
  }

  /** The save failed. */
  fail(): void {
    for (const undo of this.#undo) undo();
  }
}

/**
 * Most messages of one contact waiting for the event sink; past it the
 * connection that brings more waits too (backpressure, bounded memory).
 */
const MAX_SHOWING = 64;

/**
 * Received messages emitted and not yet shown, per contact: element ID →
 * whether it was shown (resolves within `SINK_FLUSH_TIMEOUT_MS`).
 */
const showing = new WeakMap<Contact, Map<string, Promise<boolean>>>();

function showingOf(contact: Contact): Map<string, Promise<boolean>> {
  let map = showing.get(contact);
  if (map === undefined) showing.set(contact, map = new Map());
  return map;
}

/**
 * Most accepted packets of one contact whose commit is still under way: the
 * frames after them are read meanwhile and join the next commit (one write
 * for many), and what they cause waits for their own.
 */
const MAX_UNSAVED = 16;

/** Saves of accepted packets under way, per contact, oldest first. */
const unsaved = new WeakMap<Contact, Set<Promise<void>>>();

function unsavedOf(contact: Contact): Set<Promise<void>> {
  let set = unsaved.get(contact);
  if (set === undefined) unsaved.set(contact, set = new Set());
  return set;
}

/**
 * Connections on which a message of the contact was held back (its inbox
 * was full), per contact. Its sender re-sends what went out on a
 * connection only on its next one, so each is closed as soon as the inbox
 * has room again, and not before (a sender that reconnected at once would
 * re-send everything unacknowledged, again and again, while the interface
 * shows nothing).
 */
const heldOn = new WeakMap<Contact, Set<FramedConn>>();

function heldOnOf(contact: Contact): Set<FramedConn> {
  let set = heldOn.get(contact);
  if (set === undefined) heldOn.set(contact, set = new Set());
  return set;
}

/**
 * Handles the frames of `conn` one at a time: each waits for room in the
 * event sink (backpressure) and for its turn from `admission` (the
 * listener's for an inbound connection; one we dialled is not policed).
 */
export function receiveFrames(core: PeerCore, conn: FramedConn, admission = UNPOLICED): void {
  conn.onFrame((packet) => receiveFrame(core, packet, conn, admission));
}

/** One frame of `conn`, as {@linkcode receiveFrames} handles it (a link feeds its own frames here). */
export function receiveFrame(
  core: PeerCore,
  packet: Uint8Array,
  conn: FramedConn,
  admission: Admission = UNPOLICED,
): Promise<void> {
  return core.track((async () => {
    await core.sinkRoom();
    await admission.run(() => receivePacket(core, packet, conn, admission));
  })());
}

/** Handles one received frame; never throws. */
export async function receivePacket(
  core: PeerCore,
  packet: Uint8Array,
  conn: FramedConn,
  admission: Admission = UNPOLICED,
): Promise<void> {
  if (core.closed) return;
  let got: Dispatched<Contact, OutboundEntry> | null;
  try {
    const candidates = core.candidates(core.owners.get(conn));
    got = dispatchPacket(packet, core.book, core.now(), candidates);
  } catch (e) {
    // a copy of a packet we read (its sender re-sends it until acknowledged), or a
    // packet of the contact's we cannot read: it identifies the connection (only the
    // contact holds the conversation's packet keys), and is answered
    if (e instanceof UnreadableMessage) {
      const contact = e.handle as Contact;
      admission.identified(`contact:${contact.record.fileId}`, false);
      return onUnreadable(core, contact, packet, e.payload, conn);
    }
    core.dropped("packets_dropped", isUnmessageError(e) ? e.code : "bad_packet", conn);
    admission.unidentified();
    if (e instanceof ProtocolError && FATAL_PACKET_CODES.has(e.code)) void conn.close();
    return;
  }
  if (got === null) {
    core.dropped("packets_dropped", "unknown_packet", conn);
    admission.unidentified();
    return;
  }
  // a request's sender is anyone (request keys are free): identified, but still a stranger
  admission.identified(ownerOf(got), got.kind === "request" || got.kind === "known_request");
  try {
    switch (got.kind) {
      case "request":
        return await onRequest(core, got.request);
      case "known_request":
        // Bob re-sends a request until it is answered: the same request key is the same request
        return;
      case "first_reply":
        return await onFirstReply(core, got, conn);
      case "message":
        return await onMessage(core, got, conn);
    }
  } catch (e) {
    if (isStoreError(e)) core.error(e, "Cannot save a received packet");
    else {core.warn(
        isUnmessageError(e) ? e.code : "bad_packet",
        `Dropped a packet: ${errorMessage(e)}`,
      );}
  }
}

/** The admission owner of the connection a dispatched packet came on. */
function ownerOf(got: Dispatched<Contact, OutboundEntry>): string {
  switch (got.kind) {
    case "request":
    case "known_request":
      return REQUEST_OWNER;
    case "first_reply":
      return `contact:${got.outbound.id}`; // the conversation's file ID is the request's
    case "message":
      return `contact:${got.handle.record.fileId}`;
  }
}

/** Stage 2 (Alice): a verified request (its key is new: dispatch.ts checked); requests.ts decides whether it is kept. */
async function onRequest(core: PeerCore, request: InboundRequest): Promise<void> {
  await receiveRequest(core, request);
}

/** Stage 3 (Bob): Alice's first reply turns our request into a conversation. */
async function onFirstReply(
  core: PeerCore,
  got: Extract<Dispatched<Contact, OutboundEntry>, { kind: "first_reply" }>,
  conn: FramedConn,
): Promise<void> {
  const outbound = got.outbound;
  // everything up to the first await is synchronous: no other packet sees a half-made contact
  core.requests.outbound = core.requests.outbound.filter((r) => r !== outbound);
  const contact = core.addContact({
    fileId: outbound.id,
    name: outbound.name,
    onion: outbound.onion,
    port: outbound.port,
    verified: false,
    presence: false,
    createdAt: core.now(),
    requestKey: null,
    session: got.conversation,
    outbox: [],
    seen: new SeenIds(),
    inbox: [],
    digests: new ReceivedDigests(),
    lastActive: core.now(),
  });
  core.adoptInbound(contact, conn);
  const effects = new Effects();
  const element = completeElement(core, contact, got.plaintext);
  remember(contact, got.payload, got.plaintext, element);
  if (element !== null) handleElement(core, contact, element, effects, conn);
  const requestLink = core.requestLinks.get(outbound.id);
  core.requestLinks.delete(outbound.id);
  await saveOrUndo(async () => {
    await core.saveContact(contact);
    await core.saveRequests();
  }, () => effects.fail());
  core.emit({ event: "request-accepted", name: contact.name });
  core.emit({ event: "conversation-established", name: contact.name });
  effects.run();
  // the request is answered: stop re-sending it
  await requestLink?.close();
}

/** A message decrypted in an existing conversation (regular packet, or a reply to Bob). */
async function onMessage(
  core: PeerCore,
  got: Extract<Dispatched<Contact, OutboundEntry>, { kind: "message" }>,
  conn: FramedConn,
): Promise<void> {
  const { handle: contact, previous, conversation: next, plaintext } = got;
  const element = completeElement(core, contact, plaintext);
  if (element !== null && inboxFull(contact, element)) {
    // not accepted (the ratchet is left as it was); its sender re-sends it on its next
    // connection, which it makes when this one closes: once the inbox has room
    core.warn(
      "inbox_full",
      `Held back a message from ${contact.name}: ${MAX_INBOX_MESSAGES} wait to be shown`,
    );
    heldOnOf(contact).add(conn);
    return;
  }
  contact.setSession(next);
  contact.saidOffline = false;
  contact.authWaitsForLink = false;
  if (!sameKey(previous.ratchet.dhr, next.ratchet.dhr)) {
    // the contact's new ratchet key: our next message starts a new sending chain
    contact.chainStepped();
    contact.link?.wake();
  }
  core.adoptInbound(contact, conn);
  remember(contact, got.payload, plaintext, element);
  const effects = new Effects();
  if (element !== null) handleElement(core, contact, element, effects, conn);
  // the next frames are read while this commit is under way (they join the
  // next one); what this packet causes happens once its commit is durable,
  // in the order the packets came (saves resolve in order)
  const established = !previous.established && next.established;
  const pending = unsavedOf(contact);
  const saved: Promise<void> = core.track(
    core.saveContact(contact).then(() => {
      // docs/protocol.md "6.3 Stage 3": Bob's first regular packet reached Alice
      if (established) core.emit({ event: "conversation-established", name: contact.name });
      effects.run();
    }, (e) => {
      effects.fail();
      core.error(e, "Cannot save a received packet");
    }).finally(() => pending.delete(saved)),
  );
  pending.add(saved);
  while (pending.size > MAX_UNSAVED) await pending.values().next().value;
  // backpressure: a sink that falls behind slows this connection down (what
  // waits for its commit is on its way to the sink too)
  const waiting = showingOf(contact);
  while (waiting.size + pending.size > MAX_SHOWING) {
    await (waiting.size > 0 ? waiting.values().next().value : pending.values().next().value);
  }
}

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === b || (a !== null && b !== null && equalBytes(a, b));
}

/**
 * Remembers the digest of the ratchet message `payload` under its element's
 * ID, for copies of it: every part of a fragmented element, and the single
 * part of an element that its sender keeps until acknowledged.
 */
function remember(
  contact: Contact,
  payload: Uint8Array,
  plaintext: Uint8Array,
  element: Element | null,
): void {
  let id: Uint8Array;
  if (element === null) {
    try {
      id = decodePart(plaintext).elementId;
    } catch {
      return;
    }
  } else {
    const kept = element.type === "message" || element.type === "request_accepted" ||
      isProbe(element);
    if (!kept) return;
    id = element.id;
  }
  contact.record.digests.add(toHex(messageDigest(payload)), toHex(id));
}

/**
 * A packet of this conversation that did not decrypt. A copy of one we read
 * before (its sender re-sends the same bytes until it hears an
 * acknowledgement) is acknowledged again, or shown if it waits in the
 * inbox, or left alone while the element's other parts are being
 * reassembled. Any other (its skipped key expired or was evicted, or it is
 * a part of an element whose other parts we lost in a restart) is named
 * back in an `unreadable` element, and its sender seals what it carried
 * anew. Either answer is given at most once per packet per connection.
 */
function onUnreadable(
  core: PeerCore,
  contact: Contact,
  packet: Uint8Array,
  payload: Uint8Array,
  conn: FramedConn,
): void {
  core.adoptInbound(contact, conn);
  let id: string | undefined;
  try {
    id = contact.record.digests.get(toHex(messageDigest(payload)));
  } catch {
    // shorter than a ratchet header: read as nothing we know
  }
  const r = contact.record;
  if (id !== undefined && r.seen.has(id)) {
    return reack(core, contact, id, conn, contact.probes.has(id));
  }
  if (id !== undefined && r.inbox.some((e) => e.id === id)) return showInbox(core, contact, id);
  if (id !== undefined && contact.reassembler.holds(fromHex(id))) return;
  const name = packetName(packet);
  if (once(conn, `unreadable ${toHex(name)}`)) {
    core.queue(contact, { type: "unreadable", packet: name });
  }
}

/**
 * What was answered per connection (element IDs acknowledged again, packets
 * named unreadable): at most once each, so a copy replayed many times costs
 * one answer per connection, not one per copy (each is a ratchet message,
 * and the sending cap would fill).
 */
const answered = new WeakMap<FramedConn, Set<string>>();

/** True the first time `key` is asked about for `conn`. */
function once(conn: FramedConn, key: string): boolean {
  let done = answered.get(conn);
  if (done === undefined) answered.set(conn, done = new Set());
  if (done.has(key)) return false;
  done.add(key);
  return true;
}

function reack(
  core: PeerCore,
  contact: Contact,
  id: string,
  conn: FramedConn,
  probe = false,
): void {
  if (!once(conn, id)) return;
  // a probe asks for any packet of our next chain: what waits already will do
  // if it goes out without a dial (acknowledging every probe as well would
  // keep two full chains busy for good; Contact.sealWaits)
  if (probe && contact.sealWaits) return contact.link?.wake();
  core.queue(contact, { type: "ack", ackedId: fromHex(id) });
}

/** Whether a new message `element` would overfill the contact's inbox. */
function inboxFull(contact: Contact, element: Element): boolean {
  if (element.type !== "message") return false;
  const r = contact.record;
  const id = toHex(element.id);
  if (r.inbox.length === 0 || r.seen.has(id) || r.inbox.some((e) => e.id === id)) return false;
  let bytes = utf8(element.text).length;
  for (const e of r.inbox) bytes += utf8(e.text).length;
  return r.inbox.length >= MAX_INBOX_MESSAGES || bytes > MAX_INBOX_BYTES;
}

/** Reassembles a ratchet plaintext (one part); the element it completes, or null. */
function completeElement(core: PeerCore, contact: Contact, plaintext: Uint8Array): Element | null {
  try {
    const encoded = contact.reassembler.push(plaintext, core.now());
    return encoded === null ? null : decodeElement(encoded);
  } catch (e) {
    core.warn(
      isUnmessageError(e) ? e.code : "bad_element",
      `Dropped an element from ${contact.name}: ${errorMessage(e)}`,
    );
    return null;
  }
}

function handleElement(
  core: PeerCore,
  contact: Contact,
  element: Element,
  effects: Effects,
  conn: FramedConn,
): void {
  const name = contact.name;
  switch (element.type) {
    case "message":
      handleMessage(core, contact, element.id, element.text, effects);
      return;
    case "request_accepted": {
      // re-sent elements (their acknowledgement was lost) are handled once
      contact.record.seen.add(toHex(element.id));
      const ackedId = element.id;
      effects.push(() => core.queue(contact, { type: "ack", ackedId }));
      return;
    }
    case "ack": {
      if (isKeepalive(element)) return;
      if (isProbe(element)) {
        // answered at once (its copies: by digest, once per connection)
        const id = toHex(element.id);
        contact.record.seen.add(id);
        contact.probes.add(id);
        effects.push(() => reack(core, contact, id, conn, true));
        return;
      }
      const entry = contact.acknowledge(element.ackedId);
      if (entry?.body.type === "message") {
        const text = entry.body.text;
        effects.push(() =>
          core.emit({
            event: "delivered",
            name: contact.name,
            id: entry.key,
            excerpt: excerptOf(text),
            queuedAt: entry.at,
          })
        );
      }
      effects.push(() => contact.link?.wake());
      return;
    }
    case "unreadable": {
      // our packet it names went stale for the contact: sealed anew
      if (contact.unreadable(element.packet)) effects.push(() => contact.link?.wake());
      return;
    }
    case "conversation_deleted": {
      // their keys are gone: nothing we send could be read; the user deletes it too
      if (contact.record.endedByContact) return;
      contact.record.endedByContact = true;
      effects.onFailure(() => delete contact.record.endedByContact);
      effects.push(() => {
        const link = contact.link;
        contact.link = null;
        void core.track(link?.close() ?? Promise.resolve());
        core.endAuth(contact, "the contact deleted the conversation");
        core.emit({ event: "conversation-ended", name: contact.name });
      });
      return;
    }
    case "presence": {
      const online = element.status === "online";
      contact.saidOffline = !online;
      effects.push(() => {
        core.emit({ event: "presence", name: contact.name, online });
        if (!online) core.endAuth(contact, "the contact went offline");
      });
      return;
    }
    case "authentication": {
      const data = element.data;
      effects.push(() => core.applyAuthStep(contact, contact.auth.receive(data)));
      return;
    }
    default:
      core.warn(
        "unsupported_element",
        `Dropped a ${element.type} element from ${name}: not supported yet`,
      );
  }
}

/**
 * A received message: kept in the inbox (saved with the ratchet that read
 * it), shown, and acknowledged only once shown and recorded as seen (see
 * the module header). A copy of one seen before is acknowledged again.
 */
function handleMessage(
  core: PeerCore,
  contact: Contact,
  elementId: Uint8Array,
  text: string,
  effects: Effects,
): void {
  const id = toHex(elementId);
  const r = contact.record;
  // sealed anew by its sender (it could not tell that we had read it)
  if (r.seen.has(id)) {
    return effects.push(() => core.queue(contact, { type: "ack", ackedId: elementId }));
  }
  if (!r.inbox.some((e) => e.id === id)) {
    const entry: InboxEntry = { id, text, at: core.now() };
    r.inbox.push(entry);
    r.lastActive = entry.at;
    effects.onFailure(() => (r.inbox = r.inbox.filter((e) => e !== entry)));
  }
  effects.push(() => showInbox(core, contact, id));
}

/**
 * Shows the inbox message `id` (unless it is being shown right now) and,
 * once the sink has shown it, moves it to `seen` and queues its
 * acknowledgement; the link saves the record before the acknowledgement
 * leaves. Not shown (the sink failed or timed out): it stays in the inbox,
 * and is shown again when a copy comes or at the next start; a sink that
 * timed out and shows it later gets it acknowledged then.
 */
export function showInbox(core: PeerCore, contact: Contact, id: string): void {
  const waiting = showingOf(contact);
  const entry = contact.record.inbox.find((e) => e.id === id);
  if (entry === undefined || waiting.has(id)) return;
  const outcome = Promise.withResolvers<boolean>();
  waiting.set(id, outcome.promise);
  const event = {
    event: "message" as const,
    name: contact.name,
    id,
    text: entry.text,
    at: entry.at,
  };
  const wasShown = async () => {
    const r = contact.record;
    if (!r.inbox.includes(entry)) return;
    r.inbox = r.inbox.filter((e) => e !== entry);
    r.seen.add(id);
    // the inbox has room: what was held back comes again on a new connection
    const held = heldOn.get(contact);
    heldOn.delete(contact);
    for (const conn of held ?? []) void conn.close();
    core.queue(contact, { type: "ack", ackedId: fromHex(id) });
    // without a connection (or closing) that save may be far off: make `seen` durable now
    if (core.closed || contact.link?.conn === undefined) {
      await core.saveContact(contact).catch((e) => core.error(e, "Cannot save a received message"));
    }
  };
  const late = () => void core.track(wasShown());
  const done = core.emitShown(event, late).then(async (shown) => {
    if (shown) await wasShown();
    waiting.delete(id);
    outcome.resolve(shown);
  });
  void core.track(done);
}
