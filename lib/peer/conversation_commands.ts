/**
 * The commands of `Peer` (lib/peer.ts) on one established
 * conversation: send a message, presence notifications on or off, verify
 * the contact's key, authenticate with SMP, and delete the conversation
 * (with the check an interface runs before asking for confirmation).
 * `Peer` checks that it is open and documents each command; these do the
 * work on the core's state (core.ts), saving before anything is reported,
 * and leave the state as it was when a save fails.
 *
 * @module
 */

import { equalBytes, toHex } from "../crypto/bytes.ts";
import { bounded } from "../deadline.ts";
import { newElementId } from "../protocol/elements.ts";
import { parseIdentityKey } from "./address.ts";
import type { PeerCore } from "./core.ts";
import { PeerError } from "./errors.ts";
import { sendNow } from "./links.ts";
import { checkMessage, requireContact } from "./lookup.ts";
import { tombstone } from "./requests.ts";
import type { SentMessage } from "./types.ts";

/** Queues a message to `name` (`Peer.sendMessage`). */
export async function sendMessage(
  core: PeerCore,
  name: string,
  text: string,
): Promise<SentMessage> {
  const contact = requireContact(core, name);
  checkMessage(contact, text);
  const id = newElementId(core.rng);
  const entry = {
    id,
    key: toHex(id),
    body: { type: "message" as const, text },
    at: core.now(),
  };
  const lastActive = contact.record.lastActive;
  contact.record.outbox.push(entry);
  contact.record.lastActive = entry.at;
  try {
    await core.saveContact(contact);
  } catch (e) {
    contact.record.outbox = contact.record.outbox.filter((x) => x !== entry);
    contact.record.lastActive = lastActive;
    throw e;
  }
  // the user waits for this one: no start turn, no back-off pause (start_order.ts, link.ts)
  contact.link?.hurry();
  return { id: entry.key, queued: !contact.online };
}

/** Turns presence notifications to `name` on or off (`Peer.setPresence`). */
export async function setPresence(core: PeerCore, name: string, on: boolean): Promise<void> {
  const contact = requireContact(core, name);
  if (contact.record.presence === on) return;
  contact.record.presence = on;
  try {
    await core.saveContact(contact);
  } catch (e) {
    // all or nothing; unless a later command changed it meanwhile
    if (contact.record.presence === on) contact.record.presence = !on;
    throw e;
  }
}

/** Compares `key` with the identity key of `name` (`Peer.verify`). */
export async function verify(
  core: PeerCore,
  name: string,
  key: string,
): Promise<{ verified: boolean }> {
  const contact = requireContact(core, name);
  const pasted = parseIdentityKey(key);
  if (!equalBytes(pasted, contact.record.session.peerIdentityKey)) return { verified: false };
  if (!contact.record.verified) {
    const before = contact.level;
    contact.record.verified = true;
    try {
      await core.saveContact(contact);
    } catch (e) {
      contact.record.verified = false; // all or nothing: not verified unless saved
      throw e;
    }
    if (contact.level !== before) core.emit({ event: "level", name, level: contact.level });
  }
  return { verified: true };
}

/** Starts or answers an SMP run with `name` (`Peer.authenticate`). */
export async function authenticate(
  core: PeerCore,
  name: string,
  secret: string,
): Promise<{ connecting: boolean }> {
  const contact = requireContact(core, name);
  const step = contact.auth.start(secret);
  const connecting = !contact.online;
  if (connecting) {
    contact.authWaitsForLink = true;
    contact.link?.contactSeen();
  }
  core.applyAuthStep(contact, step);
  await Promise.resolve();
  return { connecting };
}

/** Throws what deleting the conversation `name` would throw first (`Peer.checkConversation`). */
export function checkConversation(core: PeerCore, name: string): void {
  const outbound = core.requests.outbound.find((r) => r.name === name);
  if (outbound !== undefined) {
    throw new PeerError(
      "not_established",
      `${name} is a request you sent, not a conversation: cancel it with req-cancel ${name}`,
    );
  }
  requireContact(core, name);
}

/**
 * Deletes the conversation `name` (`Peer.deleteConversation`, which checked
 * it): the contact is told first, bounded by `closeTimeoutMs`.
 */
export async function deleteConversation(
  core: PeerCore,
  name: string,
  closeTimeoutMs: number,
): Promise<void> {
  const contact = requireContact(core, name);
  if (core.started && !contact.record.endedByContact) {
    const notice = sendNow(core, contact, { type: "conversation_deleted" }).catch(() => {});
    await bounded(notice, closeTimeoutMs);
  }
  if (core.contacts.get(contact.record.fileId) !== contact) return; // deleted meanwhile
  tombstone(core, contact.record);
  // saves queued before this point land first; later ones are skipped (store order)
  await core.removeContact(contact);
  await core.saveRequests();
  await core.store.deleteConversation(contact.record.fileId);
}
