/**
 * Messages of a conversation after the handshake: sealing a ratchet
 * message into the right packet kind, and decrypting a received one in its
 * conversation. Which conversation or request a received packet belongs to
 * is dispatch.ts's job (the one entry point for received packets); it
 * decrypts with {@linkcode decryptInConversation} from here.
 *
 * Packet kinds (docs/protocol.md §6.2, §6.3):
 * - Alice sends reply packets (her handshake key + the ratchet message)
 *   until a regular packet from Bob decrypts, then regular packets.
 * - Bob sends regular packets only; he opens regular packets and, for the
 *   rest of the conversation, the replies Alice sent before she saw his
 *   first regular packet (they may arrive late or out of order).
 *
 * Every function returns new values; on any failure nothing is returned
 * and the caller keeps its old conversation, which stays valid. Persist the
 * returned conversation before a sealed packet leaves and after an opened
 * one is accepted (docs/architecture.md "Crash safety", rules 2 and 3).
 *
 * @module
 */

import { abytes, equalBytes, type Rng } from "../crypto/bytes.ts";
import { ratchetDecrypt, ratchetEncrypt } from "../crypto/ratchet.ts";
import { MESSAGE_OVERHEAD } from "../crypto/ratchet_header.ts";
import { ProtocolError } from "../errors.ts";
import { ratchetAd } from "./handshake.ts";
import { type Conversation, makeConversation } from "./handshake_state.ts";
import {
  type PacketKeys,
  regularKeys,
  REPLY_OVERHEAD,
  replyKeys,
  sealRegular,
  sealReply,
} from "./packets.ts";
import { maxPaddableLength } from "./padding.ts";

/**
 * Largest plaintext {@linkcode sealMessage} takes: what the largest padding
 * bucket holds in a reply packet (the larger overhead) after the ratchet's
 * header and tag. Longer elements are split by fragment.ts.
 */
export const MAX_SEALED_PLAINTEXT = maxPaddableLength(REPLY_OVERHEAD) - MESSAGE_OVERHEAD;

/** Which packet kind carried a message. */
export type PacketKind = "reply" | "regular";

/**
 * Packet keys derived from a conversation ID or a shared request key, by
 * the identity of that array: the values of handshake_state.ts are frozen
 * and pass the same arrays on from state to state, so each key is derived
 * once, not once per packet sent or received. Weak: entries go with their arrays.
 */
const packetKeyCache = new WeakMap<Uint8Array, PacketKeys>();

function cachedKeys(secret: Uint8Array, derive: (secret: Uint8Array) => PacketKeys): PacketKeys {
  let keys = packetKeyCache.get(secret);
  if (keys === undefined) {
    keys = derive(secret);
    packetKeyCache.set(secret, keys);
  }
  return keys;
}

/** The regular-packet keys of a conversation ID, derived once per array (see above). */
export function regularKeysOf(conversationId: Uint8Array): PacketKeys {
  return cachedKeys(conversationId, regularKeys);
}

/** The reply-packet keys of a shared request key, derived once per array (see above). */
export function replyKeysOf(sharedRequestKey: Uint8Array): PacketKeys {
  return cachedKeys(sharedRequestKey, replyKeys);
}

/** A message opened in a conversation. */
export interface OpenedMessage {
  /** The conversation after the message; persist it. */
  conversation: Conversation;
  /** The decrypted ratchet plaintext. */
  plaintext: Uint8Array;
  /** The packet kind that carried it. */
  kind: PacketKind;
}

/**
 * Encrypts `plaintext` with the conversation's ratchet and seals it in a
 * reply packet (Alice before Stage 3) or a regular packet (otherwise).
 *
 * @throws {ProtocolError} `too_long` beyond {@linkcode MAX_SEALED_PLAINTEXT}
 * @throws {CryptoError} `chain_exhausted` (ratchet.ts)
 */
export function sealMessage(
  conversation: Conversation,
  plaintext: Uint8Array,
  rng: Rng,
): { conversation: Conversation; packet: Uint8Array; kind: PacketKind } {
  abytes(plaintext, undefined, "plaintext");
  if (plaintext.length > MAX_SEALED_PLAINTEXT) {
    throw new ProtocolError(
      "too_long",
      `Cannot seal message: length ${plaintext.length} exceeds ${MAX_SEALED_PLAINTEXT}`,
    );
  }
  const { state, message } = ratchetEncrypt(
    conversation.ratchet,
    plaintext,
    ratchetAd(conversation),
    rng,
  );
  const receiverIdentityKey = conversation.peerIdentityKey;
  const { handshakePublicKey, sharedRequestKey } = conversation;
  // docs/protocol.md §6.2: Alice replies until Bob's first regular packet reaches her
  const asReply = conversation.role === "alice" && !conversation.established;
  const packet = asReply
    ? sealReply({
      sharedRequestKey: sharedRequestKey!,
      keys: replyKeysOf(sharedRequestKey!),
      receiverIdentityKey,
      handshakePublicKey: handshakePublicKey!,
      payload: message,
      rng,
    })
    : sealRegular({
      conversationId: conversation.conversationId,
      keys: regularKeysOf(conversation.conversationId),
      receiverIdentityKey,
      payload: message,
      rng,
    });
  const next = makeConversation({ ...conversation, ratchet: state });
  return { conversation: next, packet, kind: asReply ? "reply" : "regular" };
}

/**
 * Decrypts an already opened packet payload in `conversation`, for
 * dispatch.ts (which identified and opened the packet). For a reply,
 * `handshakePublicKey` is the key it carried.
 *
 * @throws {ProtocolError} `unexpected_reply` for a reply to Alice, or one
 *   whose handshake key differs from Alice's first
 * @throws {CryptoError} `decrypt_failed`, `too_many_skipped`, `too_large`
 */
export function decryptInConversation(
  conversation: Conversation,
  kind: PacketKind,
  payload: Uint8Array,
  handshakePublicKey: Uint8Array | null,
  now: number,
): OpenedMessage {
  if (kind === "reply") {
    const expected = conversation.peerHandshakeKey;
    if (
      conversation.role !== "bob" || expected === null || handshakePublicKey === null ||
      !equalBytes(expected, handshakePublicKey)
    ) {
      throw new ProtocolError("unexpected_reply", "Cannot accept reply: it does not match");
    }
  }
  const { state, plaintext } = ratchetDecrypt(
    conversation.ratchet,
    payload,
    ratchetAd(conversation),
    now,
  );
  // docs/protocol.md §6.3: Bob's regular packet decrypted, so he has our handshake key
  const reachesStage3 = conversation.role === "alice" && kind === "regular" &&
    !conversation.established;
  const next = makeConversation({
    ...conversation,
    ratchet: state,
    ...(reachesStage3
      ? { established: true, handshakePublicKey: null, sharedRequestKey: null }
      : {}),
  });
  return { conversation: next, plaintext, kind };
}
