/**
 * The handshake, stages 1-3 (docs/protocol.md §6 "The handshake"), as pure
 * functions over the values of handshake_state.ts:
 *
 * ```
 * Bob                                           Alice
 * createRequest()   ── request packet ──▶       inboundFromOpened() → InboundRequest
 *   → OutboundRequest                           acceptRequest()   → Conversation (Stage 2)
 * startBob()        ◀── reply packets ──        sealMessage()     (replies until Stage 3)
 *   → Conversation
 * sealMessage()     ── regular packets ─▶       decryptInConversation() → established (Stage 3)
 * ```
 *
 * The secret key is the Triple DH of both identity and handshake keys
 * (tripledh.ts); the conversation ID is derived from it with its own label;
 * Alice runs initAlice with Bob's ratchet key, Bob initBob with his ratchet
 * key pair. Unlike unMessage 0.1, the request is signed by Bob's onion key
 * (handshake_data.ts; docs/protocol.md §6.1).
 *
 * Randomness and time are arguments; every function returns new values and
 * never changes its inputs, so a failure leaves the caller's state as it
 * was. Sealing and opening messages live in session.ts. Every received
 * packet goes through dispatch.ts, which identifies it first (packets.ts
 * opens it) and then runs {@linkcode inboundFromOpened},
 * {@linkcode startBob} or session.ts's `decryptInConversation`.
 *
 * @module
 */

import { abytes, concatBytes, equalBytes, type Rng, wipe } from "../crypto/bytes.ts";
import { deriveKey } from "../crypto/kdf.ts";
import { generateKeyPair, isLowOrderPublicKey, KEY_LENGTH, type KeyPair } from "../crypto/keys.ts";
import type { OnionKey } from "../crypto/onion.ts";
import { initAlice, initBob, ratchetDecrypt } from "../crypto/ratchet.ts";
import { tripleDh } from "../crypto/tripledh.ts";
import { CryptoError, ProtocolError } from "../errors.ts";
import { decodeHandshake, encodeHandshake } from "./handshake_data.ts";
import {
  type Conversation,
  type InboundRequest,
  makeConversation,
  makeInboundRequest,
  makeOutboundRequest,
  type OutboundRequest,
} from "./handshake_state.ts";
import { type OpenedRequest, sealRequest } from "./packets.ts";

/** deriveKey label of the conversation ID (docs/protocol.md §3); it keys regular packets. */
const LABEL_CONVERSATION_ID = "handshake/conversation-id";

/** Arguments of {@linkcode createRequest}. */
export interface CreateRequestOptions {
  /** The name Bob suggests Alice calls him (1 to 64 UTF-8 bytes, no "@"). */
  ownName: string;
  /** Bob's identity key pair. */
  ownIdentity: KeyPair;
  /** Bob's onion service key: signs the request. */
  onionKey: OnionKey;
  /** The port of Bob's onion service. */
  port: number;
  /** Alice's identity public key. */
  peerIdentityKey: Uint8Array;
  /** Draws the handshake, ratchet and request key pairs and the IV. */
  rng: Rng;
  /** The creation time to sign, in ms since the Unix epoch (the caller's clock). */
  now: number;
}

/** Arguments of {@linkcode acceptRequest}. */
export interface AcceptRequestOptions {
  /** Alice's identity key pair (the one the request was addressed to). */
  ownIdentity: KeyPair;
  /** Draws her handshake and first ratchet key pairs. */
  rng: Rng;
}

/** Arguments of {@linkcode startBob}. */
export interface StartBobOptions {
  /** Bob's identity key pair. */
  ownIdentity: KeyPair;
  /** The caller's clock in milliseconds (timestamps skipped ratchet keys). */
  now: number;
}

/**
 * The ratchet's associated data: Bob's identity public key ‖ Alice's, in
 * this fixed order on both sides, so a ratchet message cannot be moved to
 * another conversation (Signal's Double Ratchet §3.4: AD binds identities).
 */
export function ratchetAd(conversation: Conversation): Uint8Array {
  return conversation.role === "bob"
    ? concatBytes(conversation.ownIdentityKey, conversation.peerIdentityKey)
    : concatBytes(conversation.peerIdentityKey, conversation.ownIdentityKey);
}

/** The conversation ID of a Triple DH secret (its own label: independent of the ratchet keys). */
function conversationIdOf(secret: Uint8Array): Uint8Array {
  return deriveKey(secret, LABEL_CONVERSATION_ID);
}

function checkRng(rng: unknown): Rng {
  if (typeof rng !== "function") throw new TypeError("Cannot use rng: expected function");
  return rng as Rng;
}

function checkPeerKey(key: Uint8Array, own: KeyPair): Uint8Array {
  abytes(key, KEY_LENGTH, "peerIdentityKey");
  // RFC 7748 §6.1: a low-order identity key gives no shared secret
  if (isLowOrderPublicKey(key)) {
    throw new CryptoError("bad_key", "Cannot use peerIdentityKey: it is a low-order point");
  }
  if (equalBytes(key, own.publicKey)) {
    throw new ProtocolError("own_identity", "Cannot start a conversation with ourselves");
  }
  return key;
}

/**
 * Stage 1 (Bob): builds a signed request to the owner of `peerIdentityKey`.
 * Send `packet` to Alice's onion service; persist `outbound` (it holds
 * secrets) before it leaves.
 *
 * @throws {ProtocolError} `bad_name`, `bad_port`, `bad_time`, `own_identity`
 * @throws {CryptoError} `bad_key` for a low-order peer key, `bad_length`
 */
export function createRequest(
  options: CreateRequestOptions,
): { packet: Uint8Array; outbound: OutboundRequest } {
  const { ownName, ownIdentity, onionKey, port } = options;
  const rng = checkRng(options.rng);
  const peerIdentityKey = checkPeerKey(options.peerIdentityKey, ownIdentity);
  const handshakeKeyPair = generateKeyPair(rng);
  const ratchetKeyPair = generateKeyPair(rng);
  // the signature covers the request public key, so the pair is made here
  // and handed to sealRequest
  const requestKey = generateKeyPair(rng);
  const requestPublicKey = requestKey.publicKey;
  let sealed: ReturnType<typeof sealRequest>;
  try {
    const handshake = encodeHandshake(
      {
        name: ownName,
        onionPublicKey: onionKey.publicKey,
        port,
        identityKey: ownIdentity.publicKey,
        handshakeKey: handshakeKeyPair.publicKey,
        ratchetKey: ratchetKeyPair.publicKey,
        createdAt: options.now,
      },
      { receiverIdentityKey: peerIdentityKey, requestPublicKey },
      onionKey.seed,
    );
    sealed = sealRequest({ handshake, receiverIdentityKey: peerIdentityKey, rng, requestKey });
  } finally {
    wipe(requestKey.secretKey);
  }
  const outbound = makeOutboundRequest({
    peerIdentityKey: peerIdentityKey.slice(),
    sharedRequestKey: sealed.sharedRequestKey,
    handshakeKeyPair,
    ratchetKeyPair,
  });
  return { packet: sealed.packet, outbound };
}

/**
 * Stage 2, first half (Alice): verifies a request addressed to
 * `ownIdentity` that `identifyPacket` (packets.ts) opened.
 *
 * @throws {ProtocolError} for a request that must be dropped:
 *   `bad_signature` (forged, altered, or meant for someone else),
 *   `own_identity`, and the codes of `decodeHandshake`
 * @throws {CryptoError} `bad_key` for a low-order key, `bad_address` for an
 *   invalid onion key
 */
export function inboundFromOpened(opened: OpenedRequest, ownIdentity: KeyPair): InboundRequest {
  const data = decodeHandshake(opened.handshake, {
    receiverIdentityKey: ownIdentity.publicKey,
    requestPublicKey: opened.requestPublicKey,
  });
  checkPeerKey(data.identityKey, ownIdentity);
  return makeInboundRequest({
    name: data.name,
    onionAddress: data.onionAddress,
    port: data.port,
    identityKey: data.identityKey,
    handshakeKey: data.handshakeKey,
    ratchetKey: data.ratchetKey,
    createdAt: data.createdAt,
    sharedRequestKey: opened.sharedRequestKey,
    requestPublicKey: opened.requestPublicKey,
  });
}

/**
 * Stage 2, second half (Alice): accepts a request. The returned
 * conversation can send at once (reply packets until Stage 3). Her
 * handshake secret key is used once, here, and wiped.
 *
 * @throws {CryptoError} `bad_key` for a low-order key in the request
 * @throws {ProtocolError} `own_identity`
 */
export function acceptRequest(
  inbound: InboundRequest,
  options: AcceptRequestOptions,
): Conversation {
  const { ownIdentity } = options;
  const rng = checkRng(options.rng);
  checkPeerKey(inbound.identityKey, ownIdentity);
  const handshake = generateKeyPair(rng);
  const secret = tripleDh("alice", { identity: ownIdentity, handshake }, {
    identityKey: inbound.identityKey,
    handshakeKey: inbound.handshakeKey,
  });
  try {
    return makeConversation({
      role: "alice",
      ownIdentityKey: ownIdentity.publicKey.slice(),
      peerIdentityKey: inbound.identityKey.slice(),
      conversationId: conversationIdOf(secret),
      ratchet: initAlice(secret, inbound.ratchetKey, rng),
      established: false,
      handshakePublicKey: handshake.publicKey.slice(),
      sharedRequestKey: inbound.sharedRequestKey.slice(),
      peerHandshakeKey: null,
    });
  } finally {
    wipe(secret, handshake.secretKey);
  }
}

/**
 * Stage 3 (Bob): from Alice's first reply to `outbound`, which
 * `identifyPacket` (packets.ts) opened into her `handshakePublicKey` and
 * ratchet message `payload`, agrees on the secret key with her handshake
 * key and decrypts her message. Afterwards the outbound request is spent:
 * keep the conversation instead (it also opens Alice's later replies, see
 * session.ts).
 *
 * @throws {CryptoError} `decrypt_failed` for a ratchet message that does
 *   not decrypt, `bad_key` for a low-order handshake key, `too_many_skipped`
 */
export function startBob(
  outbound: OutboundRequest,
  handshakePublicKey: Uint8Array,
  payload: Uint8Array,
  options: StartBobOptions,
): { conversation: Conversation; plaintext: Uint8Array } {
  const { ownIdentity, now } = options;
  const secret = tripleDh("bob", { identity: ownIdentity, handshake: outbound.handshakeKeyPair }, {
    identityKey: outbound.peerIdentityKey,
    handshakeKey: handshakePublicKey,
  });
  try {
    const fresh = makeConversation({
      role: "bob",
      ownIdentityKey: ownIdentity.publicKey.slice(),
      peerIdentityKey: outbound.peerIdentityKey.slice(),
      conversationId: conversationIdOf(secret),
      ratchet: initBob(secret, outbound.ratchetKeyPair),
      established: true,
      handshakePublicKey: null,
      sharedRequestKey: outbound.sharedRequestKey.slice(),
      peerHandshakeKey: handshakePublicKey.slice(),
    });
    const { state, plaintext } = ratchetDecrypt(fresh.ratchet, payload, ratchetAd(fresh), now);
    return { conversation: makeConversation({ ...fresh, ratchet: state }), plaintext };
  } finally {
    wipe(secret);
  }
}
