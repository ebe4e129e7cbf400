/**
 * The requests we send (docs/protocol.md §6.1), as functions over the core: send
 * one, cancel one, and list them with their state. Each checks everything
 * before it changes anything, and saves the request book before the
 * change can leave the machine.
 *
 * A request is re-sent at every start until it is answered, cancelled
 * (`req-cancel`) or expired: {@linkcode REQUEST_TTL_MS} after it was made
 * it is no longer sent and is listed as expired, because the receiver
 * drops it by then (requests.ts). A rejection is never signalled (see the
 * README's security section: an answer would tell the sender that the
 * address is live and was read), so expiry is what the sender sees. After
 * a cancel or an expiry the same key can be asked again, with a fresh
 * request.
 *
 * @module
 */

import { equalBytes } from "../crypto/bytes.ts";
import { createRequest } from "../protocol/handshake.ts";
import { parseIdentityAddress, parseIdentityKey } from "./address.ts";
import type { PeerCore } from "./core.ts";
import { PeerError, suggestingCommand, unknownName } from "./errors.ts";
import { requestInfo } from "./info.ts";
import { startRequestLink } from "./links.ts";
import { checkNameFree } from "./lookup.ts";
import type { Profile } from "./profile.ts";
import { MAX_OUTBOUND_REQUESTS, newLocalId, type OutboundEntry } from "./records.ts";
import { REQUEST_TTL_MS } from "./requests.ts";
import { saveOrUndo } from "./transaction.ts";
import type { RequestInfo } from "./types.ts";

/** Who sends a request: our profile and our onion service's virtual port. */
export interface RequestSender {
  /** Our identity, onion key and name. */
  profile: Profile;
  /** Our onion service's virtual port. */
  port: number;
}

/** Whether our request `entry` has expired (made more than {@linkcode REQUEST_TTL_MS} ago). */
export function outboundExpired(core: PeerCore, entry: OutboundEntry): boolean {
  return core.now() > entry.at + REQUEST_TTL_MS;
}

/** Our requests, oldest first; expired ones say so. */
export function listOutbound(core: PeerCore): RequestInfo[] {
  return core.requests.outbound.map((e) => {
    const info = requestInfo(e, "out");
    return outboundExpired(core, e) ? { ...info, expired: true } : info;
  });
}

/**
 * Saves and (once started) delivers a request to `identityAddress` with the
 * contact's `identityKey`; see {@linkcode Peer.sendRequest}. An expired
 * request to the same key is replaced.
 *
 * @throws {PeerError} `bad_address`, `bad_key`, `bad_name`, `name_taken`,
 *   `name_confusable`, `own_identity`, `already_contact`, `too_many_requests`
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
  const existing = core.contactWithKey(key);
  if (existing !== undefined) {
    throw new PeerError(
      "already_contact",
      `You already have a conversation with this key, named ${existing.name}`,
    );
  }
  const pending = core.requests.outbound.find((r) => equalBytes(r.state.peerIdentityKey, key));
  if (pending !== undefined && !outboundExpired(core, pending)) {
    throw suggestingCommand(
      "already_contact",
      `A request to this key is pending, named ${pending.name}: ` +
        "wait for their answer, or cancel it first with",
      `req-cancel ${pending.name}`,
    );
  }
  const expiredName = pending?.name;
  checkNameFree(core, address.name, "pick another name before the @ of the address", expiredName);
  const waiting = core.requests.inbound.find((e) => equalBytes(e.state.identityKey, key));
  if (waiting !== undefined) {
    throw new PeerError(
      "already_contact",
      `This key already sent you a request, named ${waiting.name}: accept it instead`,
    );
  }
  const others = core.requests.outbound.length - (pending === undefined ? 0 : 1);
  if (others >= MAX_OUTBOUND_REQUESTS) {
    throw new PeerError(
      "too_many_requests",
      `Cannot send more than ${MAX_OUTBOUND_REQUESTS} requests at once: cancel some pending ones`,
    );
  }
  const at = core.now();
  const { packet, outbound } = createRequest({
    ownName: profile.name,
    ownIdentity: profile.identity,
    onionKey: profile.onionKey,
    port,
    peerIdentityKey: key,
    rng: core.rng,
    now: at,
  });
  const entry: OutboundEntry = {
    id: newLocalId(core.rng),
    name: address.name,
    onion: address.onion,
    port: address.port,
    at,
    packet,
    state: outbound,
  };
  const before = core.requests.outbound;
  core.requests.outbound = [...before.filter((r) => r !== pending), entry];
  // saved before it leaves
  await saveOrUndo(() => core.saveRequests(), () => {
    core.requests.outbound = before;
  });
  if (pending !== undefined) await closeRequestLink(core, pending);
  if (core.started) startRequestLink(core, entry);
  return requestInfo(entry, "out");
}

/**
 * Cancels our request `name` (pending or expired): it is dropped, its
 * delivery stopped, and the book saved; the key can be asked again.
 *
 * @throws {PeerError} `unknown_request` (with a "did you mean" over our requests)
 */
export async function cancelRequest(core: PeerCore, name: string): Promise<void> {
  const entry = core.requests.outbound.find((r) => r.name === name);
  if (entry === undefined) {
    throw unknownName(name, core.requests.outbound.map((r) => r.name), "outbound request");
  }
  core.requests.outbound = core.requests.outbound.filter((r) => r !== entry);
  await closeRequestLink(core, entry);
  await core.saveRequests();
}

async function closeRequestLink(core: PeerCore, entry: OutboundEntry): Promise<void> {
  const link = core.requestLinks.get(entry.id);
  core.requestLinks.delete(entry.id);
  await link?.close();
}
