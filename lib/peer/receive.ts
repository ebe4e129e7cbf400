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
 * A received `message` is shown before it counts as received: the ratchet
 * state is saved without its ID in the conversation's `seen` set, the
 * event is emitted and the sink's promise awaited (bounded), and only then
 * is the ID added to `seen` and the acknowledgement queued; the link saves
 * the record (with that `seen`) before the acknowledgement leaves. So a
 * crash (kill -9) at any point never loses a message whose sender saw it
 * acknowledged: before it was shown, nothing records it as received and the
 * sender re-sends it; after it was shown and before `seen` was saved, the
 * re-sent copy is shown again with the same event `id` (consumers
 * de-duplicate by `id`). Messages are emitted in the order they are
 * decrypted; waiting for the sink holds neither the connection (other
 * elements go on) nor a re-sent copy (it waits for the first one).
 *
 * Nothing here throws: a packet that is malformed, forged, replayed or
 * belongs to nothing of ours is dropped and counted into the aggregated
 * `packets_dropped` warning (warnings.ts; seed: "When unMessage fails to
 * identify or check the integrity of packets, they are ignored"); its
 * admission then closes a connection that has not identified, and a
 * malformed packet (wrong version or length) closes any connection. A
 * connection's owner is the contact whose packet decrypted on it
 * (`contact:<file ID>`) or {@linkcode REQUEST_OWNER}.
 *
 * @module
 */

import { equalBytes, toHex } from "../crypto/bytes.ts";
import { isUnmessageError, ProtocolError } from "../errors.ts";
import { type Admission, UNPOLICED } from "../net/admission.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import { type Dispatched, dispatchPacket } from "../protocol/dispatch.ts";
import { decodeElement, type Element } from "../protocol/elements.ts";
import type { Conversation, InboundRequest } from "../protocol/handshake_state.ts";
import { isStoreError } from "../store/errors.ts";
import { type Contact, KEEPALIVE_ID } from "./contact.ts";
import type { PeerCore } from "./core.ts";
import type { OutboundEntry } from "./records.ts";
import { receiveRequest } from "./requests.ts";
import { SeenIds } from "./seen_ids.ts";
import type { PeerEvent } from "./types.ts";

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
 * Handles the frames of `conn` one at a time: each waits for room in the
 * event sink (backpressure) and for its turn from `admission` (the
 * listener's for an inbound connection; one we dialled is not policed).
 */
export function receiveFrames(core: PeerCore, conn: FramedConn, admission = UNPOLICED): void {
  conn.onFrame((packet) =>
    core.track((async () => {
      await core.sinkRoom();
      await admission.run(() => receivePacket(core, packet, conn, admission));
    })())
  );
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
        return await onFirstReply(core, got.outbound, got.conversation, got.plaintext, conn);
      case "message":
        return await onMessage(
          core,
          got.handle,
          got.previous,
          got.conversation,
          got.plaintext,
          conn,
        );
    }
  } catch (e) {
    if (isStoreError(e)) core.error(e, "Cannot save a received packet");
    else core.warn(isUnmessageError(e) ? e.code : "bad_packet", `Dropped a packet: ${describe(e)}`);
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

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Stage 2 (Alice): a verified request (its key is new: dispatch.ts checked); requests.ts decides whether it is kept. */
async function onRequest(core: PeerCore, request: InboundRequest): Promise<void> {
  await receiveRequest(core, request);
}

/** Stage 3 (Bob): Alice's first reply turns our request into a conversation. */
async function onFirstReply(
  core: PeerCore,
  outbound: OutboundEntry,
  conversation: Conversation,
  plaintext: Uint8Array,
  conn: FramedConn,
): Promise<void> {
  // everything up to the first await is synchronous: no other packet sees a half-made contact
  core.requests.outbound = core.requests.outbound.filter((r) => r !== outbound);
  core.requestsChanged();
  const contact = core.addContact({
    fileId: outbound.id,
    name: outbound.name,
    onion: outbound.onion,
    port: outbound.port,
    verified: false,
    presence: false,
    createdAt: core.now(),
    requestKey: null,
    session: conversation,
    outbox: [],
    seen: new SeenIds(),
  });
  core.adoptInbound(contact, conn);
  const effects = new Effects();
  handlePlaintext(core, contact, plaintext, effects);
  const requestLink = core.requestLinks.get(outbound.id);
  core.requestLinks.delete(outbound.id);
  try {
    await core.saveContact(contact);
    await core.saveRequests();
  } catch (e) {
    effects.fail();
    throw e;
  }
  core.emit({ event: "request-accepted", name: contact.name });
  core.emit({ event: "conversation-established", name: contact.name });
  effects.run();
  // the request is answered: stop re-sending it
  await requestLink?.close();
}

/** A message decrypted in an existing conversation (regular packet, or a reply to Bob). */
async function onMessage(
  core: PeerCore,
  contact: Contact,
  previous: Conversation,
  next: Conversation,
  plaintext: Uint8Array,
  conn: FramedConn,
): Promise<void> {
  contact.setSession(next);
  core.adoptInbound(contact, conn);
  const effects = new Effects();
  handlePlaintext(core, contact, plaintext, effects);
  try {
    await core.saveContact(contact);
  } catch (e) {
    effects.fail();
    throw e;
  }
  // seed Stage 3: Bob's first regular packet reached Alice
  if (!previous.established && next.established) {
    core.emit({ event: "conversation-established", name: contact.name });
  }
  effects.run();
  // backpressure: a sink that falls behind slows this connection down
  const waiting = showingOf(contact);
  while (waiting.size > MAX_SHOWING) await waiting.values().next().value;
}

/** Reassembles a ratchet plaintext (one part) and handles the element it completes. */
function handlePlaintext(
  core: PeerCore,
  contact: Contact,
  plaintext: Uint8Array,
  effects: Effects,
): void {
  let element: Element;
  try {
    const encoded = contact.reassembler.push(plaintext, core.now());
    if (encoded === null) return;
    element = decodeElement(encoded);
  } catch (e) {
    core.warn(
      isUnmessageError(e) ? e.code : "bad_element",
      `Dropped an element from ${contact.name}: ${describe(e)}`,
    );
    return;
  }
  handleElement(core, contact, element, effects);
}

function handleElement(
  core: PeerCore,
  contact: Contact,
  element: Element,
  effects: Effects,
): void {
  const name = contact.name;
  switch (element.type) {
    case "message": {
      const id = toHex(element.id);
      const event = { event: "message" as const, name, id, text: element.text, at: core.now() };
      handleMessage(core, contact, element.id, event, effects);
      return;
    }
    case "request_accepted": {
      // re-sent elements (their acknowledgement was lost) are handled once
      contact.record.seen.add(toHex(element.id));
      const ackedId = element.id;
      effects.push(() => core.queue(contact, { type: "ack", ackedId }));
      return;
    }
    case "ack": {
      if (equalBytes(element.ackedId, KEEPALIVE_ID)) return;
      const entry = contact.acknowledge(element.ackedId);
      if (entry?.body.type === "message") {
        effects.push(() => core.emit({ event: "delivered", name: contact.name, id: entry.key }));
      }
      effects.push(() => contact.link?.wake());
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
 * A received message: shown once (re-sent copies are recognised by ID),
 * acknowledged only once shown and recorded as seen (see the module header).
 */
function handleMessage(
  core: PeerCore,
  contact: Contact,
  ackedId: Uint8Array,
  event: Extract<PeerEvent, { event: "message" }>,
  effects: Effects,
): void {
  const id = event.id;
  const ack = () => core.queue(contact, { type: "ack", ackedId });
  // a re-sent copy (its acknowledgement was lost) of a message shown before
  if (contact.record.seen.has(id)) return effects.push(ack);
  const waiting = showingOf(contact);
  const first = waiting.get(id);
  if (first !== undefined) {
    // a copy of one being shown right now: acknowledged once that one is shown
    effects.push(() => void core.track(first.then((shown) => shown && ack())));
    return;
  }
  // claimed now, synchronously: a copy decrypted meanwhile is not shown twice
  const outcome = Promise.withResolvers<boolean>();
  waiting.set(id, outcome.promise);
  const settle = (shown: boolean) => {
    waiting.delete(id);
    outcome.resolve(shown);
  };
  effects.onFailure(() => settle(false));
  effects.push(() => {
    const done = core.emitShown(event).then(async (shown) => {
      if (shown) {
        contact.record.seen.add(id);
        // the link saves the record (now with `id` in seen) before the ack leaves
        ack();
        // without a connection (or closing) that save may be far off: make `seen` durable now
        if (core.closed || contact.link?.conn === undefined) {
          await core.saveContact(contact).catch((e) =>
            core.error(e, "Cannot save a received message")
          );
        }
      }
      settle(shown);
    });
    void core.track(done);
  });
}
