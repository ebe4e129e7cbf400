/**
 * What a decrypted element does once its packet is accepted
 * (receive.ts decides that): {@linkcode handleElement} applies it to the
 * contact's record and collects its events and answers as
 * {@linkcode Effects}, which run only once the record is saved (or are
 * undone if the save fails); {@linkcode showInbox} shows a received message
 * and acknowledges it only once the sink has shown it (the order is in
 * receive.ts's header). Also here: reassembly of parts into elements, the
 * inbox bound, the connections held back while the inbox is full, and the
 * answers given at most once per connection (acknowledgements again,
 * `unreadable`).
 *
 * @module
 */

import { fromHex, toHex, utf8 } from "../crypto/bytes.ts";
import { errorMessage, isUnmessageError } from "../errors.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import { decodeElement, type Element } from "../protocol/elements.ts";
import type { Contact } from "./contact.ts";
import { isKeepalive, isProbe } from "./send_elements.ts";
import type { PeerCore } from "./core.ts";
import { type InboxEntry, MAX_INBOX_BYTES, MAX_INBOX_MESSAGES } from "./records.ts";
import { excerptOf } from "./info.ts";

/** Work done after the record is saved: events and answers. */
export type Effect = () => void;

/** What handling a packet decided: run once its state is saved, or undone if the save failed. */
export class Effects {
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
export const MAX_SHOWING = 64;

/**
 * Received messages emitted and not yet shown, per contact: element ID →
 * whether it was shown (resolves within `SINK_FLUSH_TIMEOUT_MS`).
 */
const showing = new WeakMap<Contact, Map<string, Promise<boolean>>>();

/** The messages of `contact` being shown right now (see `showing`). */
export function showingOf(contact: Contact): Map<string, Promise<boolean>> {
  let map = showing.get(contact);
  if (map === undefined) showing.set(contact, map = new Map());
  return map;
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

/** The connections of `contact` on which a message was held back (see `heldOn`). */
export function heldOnOf(contact: Contact): Set<FramedConn> {
  let set = heldOn.get(contact);
  if (set === undefined) heldOn.set(contact, set = new Set());
  return set;
}

/**
 * What was answered per connection (element IDs acknowledged again, packets
 * named unreadable): at most once each, so a copy replayed many times costs
 * one answer per connection, not one per copy (each is a ratchet message,
 * and the sending cap would fill).
 */
const answered = new WeakMap<FramedConn, Set<string>>();

/** True the first time `key` is asked about for `conn`. */
export function once(conn: FramedConn, key: string): boolean {
  let done = answered.get(conn);
  if (done === undefined) answered.set(conn, done = new Set());
  if (done.has(key)) return false;
  done.add(key);
  return true;
}

/**
 * Acknowledges the element `id` again, at most once per connection; a
 * probe's only when nothing waits to go out that would answer it.
 */
export function reack(
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
export function inboxFull(contact: Contact, element: Element): boolean {
  if (element.type !== "message") return false;
  const r = contact.record;
  const id = toHex(element.id);
  if (r.inbox.length === 0 || r.seen.has(id) || r.inbox.some((e) => e.id === id)) return false;
  let bytes = utf8(element.text).length;
  for (const e of r.inbox) bytes += utf8(e.text).length;
  return r.inbox.length >= MAX_INBOX_MESSAGES || bytes > MAX_INBOX_BYTES;
}

/** Reassembles a ratchet plaintext (one part); the element it completes, or null. */
export function completeElement(
  core: PeerCore,
  contact: Contact,
  plaintext: Uint8Array,
): Element | null {
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

/** Applies a completed `element` of `contact`; its events and answers go into `effects`. */
export function handleElement(
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
