/**
 * The receive steps of the handshake tests, vectors and benchmarks, each
 * through the real receive path: `dispatchPacket` (lib/protocol/dispatch.ts)
 * over a book of one party's identity key pair and at most one outbound
 * request or conversation, the book `lib/peer/core.ts` builds for a peer
 * holding only that. Each returns what the dispatcher found there, or null
 * when it found the packet to be none of the book's.
 *
 * The dispatcher's errors pass through unchanged (`outcome` of
 * `_handshake_fixtures.ts` reads their codes; a conversation's message that
 * does not decrypt is its `UnreadableMessage`, code `decrypt_failed`). A
 * packet that the dispatcher finds to be something other than the step
 * expects (a request where a reply was due ...) fails the test.
 *
 * @module
 */

import { equalBytes } from "../lib/crypto/bytes.ts";
import type { KeyPair } from "../lib/crypto/keys.ts";
import { type Dispatched, dispatchPacket } from "../lib/protocol/dispatch.ts";
import type {
  Conversation,
  InboundRequest,
  OutboundRequest,
} from "../lib/protocol/handshake_state.ts";
import type { PacketKind } from "../lib/protocol/session.ts";
import { assert } from "./_assert.ts";
import { bookOf } from "./_handshake_fixtures.ts";

type Found = Dispatched<Conversation, OutboundRequest>;

/** Fails the test unless the dispatcher found `want`. */
function expectKind<K extends Found["kind"]>(got: Found, want: K): Extract<Found, { kind: K }> {
  assert(got.kind === want, `the dispatcher found a ${got.kind}, not a ${want}`);
  return got as Extract<Found, { kind: K }>;
}

/**
 * Stage 2, first half (Alice, holding no conversation): the verified
 * request `packet` carries, or null when it is not a request for
 * `ownIdentity`. The request path reads no clock.
 */
export function dispatchRequest(packet: Uint8Array, ownIdentity: KeyPair): InboundRequest | null {
  const got = dispatchPacket(packet, bookOf(ownIdentity, []), 0);
  return got === null ? null : expectKind(got, "request").request;
}

/**
 * Stage 3 (Bob, holding only `outbound`): the conversation that Alice's
 * first reply starts and the plaintext it carried, or null when `packet`
 * is none of his.
 */
export function dispatchFirstReply(
  packet: Uint8Array,
  ownIdentity: KeyPair,
  outbound: OutboundRequest,
  now: number,
): { conversation: Conversation; plaintext: Uint8Array } | null {
  const got = dispatchPacket(packet, bookOf(ownIdentity, [], [outbound]), now);
  if (got === null) return null;
  const first = expectKind(got, "first_reply");
  assert(first.outbound === outbound, "the reply was taken for another request");
  return { conversation: first.conversation, plaintext: first.plaintext };
}

/**
 * A message of `conversation` (the only one `ownIdentity`'s holder has):
 * the conversation after it, its plaintext and the packet kind that carried
 * it, or null when `packet` is none of theirs.
 */
export function dispatchMessage(
  packet: Uint8Array,
  ownIdentity: KeyPair,
  conversation: Conversation,
  now: number,
): { conversation: Conversation; plaintext: Uint8Array; kind: PacketKind } | null {
  assert(equalBytes(ownIdentity.publicKey, conversation.ownIdentityKey), "not their conversation");
  const got = dispatchPacket(packet, bookOf(ownIdentity, [conversation]), now);
  if (got === null) return null;
  const message = expectKind(got, "message");
  assert(message.handle === conversation && message.previous === conversation);
  return {
    conversation: message.conversation,
    plaintext: message.plaintext,
    kind: message.packetKind,
  };
}
