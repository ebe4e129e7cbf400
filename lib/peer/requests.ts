/**
 * The request commands of {@linkcode Peer} (seed Stages 1 and 2), as
 * functions over the core: send a request, accept or reject one received,
 * cancel one sent. Each checks everything before it changes anything, and
 * saves the request book before the change can leave the machine.
 *
 * Owns no state of its own (the book is `core.requests`); knows nothing of
 * the network beyond starting a request's link or waking a contact's.
 *
 * @module
 */

import { equalBytes, toBase64, toHex } from "../crypto/bytes.ts";
import type { KeyPair } from "../crypto/keys.ts";
import { newElementId } from "../protocol/elements.ts";
import { acceptRequest as acceptHandshake, createRequest } from "../protocol/handshake.ts";
import { checkContactName, parseIdentityAddress, parseIdentityKey } from "./address.ts";
import type { PeerCore } from "./core.ts";
import { PeerError, unknownName } from "./errors.ts";
import { requestInfo } from "./info.ts";
import { startRequestLink } from "./links.ts";
import { checkNameFree } from "./lookup.ts";
import type { Profile } from "./profile.ts";
import {
  type ConversationRecord,
  MAX_OUTBOUND_REQUESTS,
  MAX_REJECTED,
  newLocalId,
  type OutboundEntry,
} from "./records.ts";
import { ReceivedDigests, SeenIds } from "./seen_ids.ts";
import type { ConversationInfo, RequestInfo } from "./types.ts";

/** Who sends a request: our profile and our onion service's virtual port. */
export interface RequestSender {
  profile: Profile;
  port: number;
}

/**
 * Saves and (once started) delivers a request to `identityAddress` with the
 * contact's `identityKey`; see {@linkcode Peer.sendRequest}.
 *
 * @throws {PeerError} `bad_address`, `bad_key`, `bad_name`, `name_taken`,
 *   `own_identity`, `already_contact`, `too_many_requests`
 */
export async function sendRequest(
  core: PeerCore,
  own: RequestSender,
  identityAddress: string,
  identityKey: string,
): Promise<RequestInfo> {
  const { profile, port } = own;
  const address = parseIdentityAddress(identityAddress);
  const key = parseIdentityKey(identityKey);
  if (equalBytes(key, profile.identity.publicKey) || address.onion === profile.onionKey.address) {
    throw new PeerError(
      "own_identity",
      "Cannot send a request to yourself: use your contact's address and key",
    );
  }
  checkNameFree(core, address.name);
  const existing = core.contactWithKey(key);
  if (existing !== undefined) {
    throw new PeerError(
      "already_contact",
      `You already have a conversation with this key, named ${existing.name}`,
    );
  }
  const pending = core.requests.outbound.find((r) => equalBytes(r.state.peerIdentityKey, key));
  if (pending !== undefined) {
    throw new PeerError(
      "already_contact",
      `A request to this key is pending, named ${pending.name}`,
    );
  }
  const waiting = core.requests.inbound.find((e) => equalBytes(e.state.identityKey, key));
  if (waiting !== undefined) {
    throw new PeerError(
      "already_contact",
      `This key already sent you a request, named ${waiting.name}: accept it instead`,
    );
  }
  if (core.requests.outbound.length >= MAX_OUTBOUND_REQUESTS) {
    throw new PeerError(
      "too_many_requests",
      `Cannot send more than ${MAX_OUTBOUND_REQUESTS} requests at once: delete some pending ones`,
    );
  }
  const { packet, outbound } = createRequest({
    ownName: profile.name,
    ownIdentity: profile.identity,
    onionKey: profile.onionKey,
    port,
    peerIdentityKey: key,
    rng: core.rng,
  });
  const entry: OutboundEntry = {
    id: newLocalId(core.rng),
    name: address.name,
    onion: address.onion,
    port: address.port,
    at: core.now(),
    packet,
    state: outbound,
  };
  core.requests.outbound.push(entry);
  core.requestsChanged();
  try {
    await core.saveRequests(); // before it leaves
  } catch (e) {
    core.requests.outbound = core.requests.outbound.filter((r) => r !== entry);
    core.requestsChanged();
    throw e;
  }
  if (core.started) startRequestLink(core, entry);
  return requestInfo(entry, "out");
}

/**
 * Accepts the inbound request `name` (seed Stage 2), under `newName` if
 * given; see {@linkcode Peer.acceptRequest}. All or nothing: when a save
 * fails, the request is back in the book, the conversation is gone (from
 * memory and, as far as the disk allows, from disk) and the error is thrown.
 *
 * @throws {PeerError} `unknown_request`, `bad_name`, `name_taken`,
 *   `already_contact`; {@linkcode StoreError} when a save fails
 */
export async function acceptRequest(
  core: PeerCore,
  ownIdentity: KeyPair,
  name: string,
  newName?: string,
): Promise<ConversationInfo> {
  const entry = core.requests.inbound.find((e) => e.name === name);
  if (entry === undefined) {
    throw unknownName(name, core.requests.inbound.map((e) => e.name), "request");
  }
  checkNotContact(core, entry.state.identityKey);
  const finalName = newName === undefined ? name : checkContactName(newName);
  if (finalName !== name) checkNameFree(core, finalName);
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
    // tells Bob (seed Stage 2) and carries Alice's handshake key to him
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
  try {
    await core.saveContact(contact);
    contactSaved = true;
    await core.saveRequests();
  } catch (e) {
    await core.removeContact(contact);
    const book = core.requests.inbound;
    core.requests.inbound = [...book.slice(0, index), entry, ...book.slice(index)];
    // a file left behind is reconciled at the next open (load.ts: the conversation wins)
    if (contactSaved) await core.store.deleteConversation(record.fileId).catch(() => {});
    throw e;
  }
  if (core.started) contact.link?.start();
  contact.link?.wake();
  return contact.info();
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
    throw new PeerError(
      "already_contact",
      `A request to this key is pending, named ${pending.name}: ` +
        "wait for their answer, or delete it first to accept this one",
    );
  }
}

/**
 * Drops the inbound request `name` and remembers its key (bounded by
 * {@linkcode MAX_REJECTED}) so that a re-sent copy is ignored.
 *
 * @throws {PeerError} `unknown_request`
 */
export async function rejectRequest(core: PeerCore, name: string): Promise<void> {
  const book = core.requests;
  const entry = book.inbound.find((e) => e.name === name);
  if (entry === undefined) throw unknownName(name, book.inbound.map((e) => e.name), "request");
  book.inbound = book.inbound.filter((e) => e !== entry);
  book.rejected.push(toBase64(entry.state.requestPublicKey));
  if (book.rejected.length > MAX_REJECTED) book.rejected.shift();
  await core.saveRequests();
}

/**
 * Cancels the pending outbound request `name`: it is dropped, its link
 * closed, and the book saved.
 *
 * @throws {PeerError} `unknown_peer` (with a "did you mean" over every name in use)
 */
export async function cancelRequest(core: PeerCore, name: string): Promise<void> {
  const entry = core.requests.outbound.find((r) => r.name === name);
  if (entry === undefined) throw unknownName(name, core.namesInUse());
  core.requests.outbound = core.requests.outbound.filter((r) => r !== entry);
  core.requestsChanged();
  const link = core.requestLinks.get(entry.id);
  core.requestLinks.delete(entry.id);
  await link?.close();
  await core.saveRequests();
}
