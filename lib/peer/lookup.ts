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
import { PeerError, suggestingCommand, unknownName } from "./errors.ts";
import { sanitizeSuggestedName } from "./address.ts";
import { checkNotConfusable, type LookalikeIndex, lookalikeIndex } from "./names.ts";
import {
  type InboundEntry,
  MAX_OUTBOX_BYTES,
  MAX_OUTBOX_ELEMENTS,
  MAX_TEXT_BYTES,
} from "./records.ts";

export type { LookalikeIndex } from "./names.ts";

/**
 * `name_taken` when a contact or request uses `name`, `name_confusable`
 * when one uses a name that looks like it (names.ts); `except` is a name
 * about to go (the request being accepted under a new name).
 */
export function checkNameFree(core: PeerCore, name: string, hint: string, except?: string): void {
  const names = core.namesInUse();
  if (except !== undefined) names.delete(except);
  if (names.has(name)) {
    throw new PeerError(
      "name_taken",
      `The name ${name} is already used by another contact or request: ${hint}`,
    );
  }
  checkNotConfusable(name, names, hint);
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
    throw suggestingCommand(
      "not_established",
      `${name} is a request you received: accept it first with`,
      `req-accept ${name}`,
    );
  }
  throw unknownName(name, core.namesInUse());
}

/**
 * Checks that `text` can be queued for `contact`.
 *
 * @throws {PeerError} `conversation_ended`, `bad_message` (empty, not
 *   Unicode, too long), `outbox_full`
 */
export function checkMessage(contact: Contact, text: unknown): asserts text is string {
  if (contact.record.endedByContact) {
    throw new PeerError(
      "conversation_ended",
      `Cannot send to ${contact.name}: they deleted this conversation on their side; ` +
        `delete it too (delete ${contact.name}) and send a new request to talk again`,
    );
  }
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

/**
 * The name in use that the inbound request `entry` tries to look like, if
 * any (names.ts): its suggested name as cleaned, before it was made unique
 * ("bob" + U+200B is listed as "bob-2", and still looks like "bob"). Two
 * inbound requests that suggest look-alike names look like each other,
 * whichever came first: the first comer is listed under the plain name,
 * and must not pass for the genuine one. Pass an index
 * ({@linkcode requestLookalikes}) to ask about many requests.
 */
export function lookalikeOf(
  core: PeerCore,
  entry: InboundEntry,
  index: LookalikeIndex = requestLookalikes(core),
): string | undefined {
  return index(sanitizeSuggestedName(entry.state.name), entry.name);
}

/** The names in use, and each inbound request under what it suggested, for lookalikeOf. */
export function requestLookalikes(core: PeerCore): LookalikeIndex {
  const suggested = core.requests.inbound.map((e) =>
    [sanitizeSuggestedName(e.state.name), e.name] as const
  );
  return lookalikeIndex(core.namesInUse(), suggested);
}
