/**
 * Network input of the messenger core: every frame received on a
 * connection goes through {@linkcode receivePacket}, which dispatches it
 * (lib/protocol/dispatch.ts: conversations first, then reply keys, then the
 * request path), tells the connection's admission whether it identified
 * (lib/net/admission.ts), handles the elements it completes
 * (receive_element.ts), saves, and only then reports events and queues
 * answers (acknowledgements, SMP replies).
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

import { equalBytes, fromHex, toHex } from "../crypto/bytes.ts";
import { messageDigest } from "../crypto/ratchet_header.ts";
import { errorMessage, isUnmessageError, ProtocolError } from "../errors.ts";
import { type Admission, UNPOLICED } from "../net/admission.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import { type Dispatched, dispatchPacket, UnreadableMessage } from "../protocol/dispatch.ts";
import { type Element, packetName } from "../protocol/elements.ts";
import { decodePart } from "../protocol/fragment.ts";
import type { InboundRequest } from "../protocol/handshake_state.ts";
import { isStoreError } from "../store/errors.ts";
import type { Contact } from "./contact.ts";
import { isProbe } from "./send_elements.ts";
import type { PeerCore } from "./core.ts";
import { MAX_INBOX_MESSAGES, type OutboundEntry } from "./records.ts";
import { receiveRequest } from "./requests.ts";
import {
  completeElement,
  Effects,
  handleElement,
  heldOnOf,
  inboxFull,
  MAX_SHOWING,
  once,
  reack,
  showInbox,
  showingOf,
} from "./receive_element.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";
import { saveOrUndo } from "./transaction.ts";

export type { Admission } from "../net/admission.ts";
export type { FramedConn } from "../net/framed_conn.ts";

/** Packet-level codes after which the connection is closed: the sender does not speak our protocol. */
const FATAL_PACKET_CODES = new Set(["unsupported_version", "bad_packet_length"]);

/** The admission owner of connections that carried a request (requests share one owner's quota). */
export const REQUEST_OWNER = "requests";

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
