/**
 * The checks commands run before they change anything: which contact a
 * name means (with the precise error when it is a pending request or a
 * typo), whether a new name is free, and whether a message can be queued.
 *
 * @module
 */

import { utf8, utf8Length } from "../crypto/bytes.ts";
import type { Contact } from "./contact.ts";
import type { PeerCore } from "./core.ts";
import { PeerError, unknownName } from "./errors.ts";
import { MAX_OUTBOX_BYTES, MAX_OUTBOX_ELEMENTS, MAX_TEXT_BYTES } from "./records.ts";

/** `name_taken` unless no contact or request uses `name`. */
export function checkNameFree(core: PeerCore, name: string): void {
  if (core.namesInUse().has(name)) {
    throw new PeerError(
      "name_taken",
      `The name ${name} is already used by another contact or request: pick another name`,
    );
  }
}

/**
 * The conversation named `name`.
 *
 * @throws {PeerError} `not_established` for a pending request of that
 *   name, `unknown_peer` (with a "did you mean") otherwise
 */
export function requireContact(core: PeerCore, name: string): Contact {
  if (typeof name !== "string") {
    throw new PeerError("unknown_peer", "Cannot find the contact: expected a name");
  }
  const contact = core.contactNamed(name);
  if (contact !== undefined) return contact;
  const book = core.requests;
  if (book.outbound.some((r) => r.name === name)) {
    throw new PeerError(
      "not_established",
      `${name} has not accepted your request yet: you can do this once they accept it`,
    );
  }
  if (book.inbound.some((r) => r.name === name)) {
    throw new PeerError(
      "not_established",
      `${name} is a request you received: accept it first (req-accept ${name})`,
    );
  }
  throw unknownName(name, core.namesInUse());
}

/**
 * Checks that `text` can be queued for `contact`.
 *
 * @throws {PeerError} `bad_message` (empty, not Unicode, too long), `outbox_full`
 */
export function checkMessage(contact: Contact, text: unknown): asserts text is string {
  if (typeof text !== "string" || text.length === 0) {
    throw new PeerError("bad_message", "Cannot send an empty message: type some text");
  }
  if (!text.isWellFormed()) {
    throw new PeerError("bad_message", "Cannot send the message: it is not valid Unicode text");
  }
  const size = utf8(text).length;
  if (size > MAX_TEXT_BYTES) {
    throw new PeerError(
      "bad_message",
      `Cannot send a message of ${size} bytes: the limit is ${MAX_TEXT_BYTES}; split it`,
    );
  }
  const outbox = contact.record.outbox;
  let queued = 0;
  for (const e of outbox) if (e.body.type === "message") queued += utf8Length(e.body.text);
  if (outbox.length >= MAX_OUTBOX_ELEMENTS || queued + size > MAX_OUTBOX_BYTES) {
    throw new PeerError(
      "outbox_full",
      `Cannot queue more for ${contact.name}: ${outbox.length} messages wait for them to come online`,
    );
  }
}
