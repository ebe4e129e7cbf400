/**
 * Regular packets (docs/protocol.md, "6.3 Stage 3"): the packets of an established
 * conversation, identified by the conversation ID. The payload is an opaque
 * Double Ratchet message; this module never looks inside it.
 *
 * Wire layout (total length = a padding bucket):
 *
 * ```
 * offset  size     field
 * 0       1        version  1
 * 1       24       IV       random, the AEAD nonce
 * 25      32       hSub     HMAC-SHA256(K_r, IV)
 * 57      len-73   ciphertext of pad(payload, 73) under K_e
 * len-16  16       Poly1305 tag
 *
 * K_h = deriveKey(conversation ID, "packet/regular/hsub")
 * K_r = deriveKey(K_h ‖ receiver identity public key, "packet/hsub/receiver")
 * K_e = deriveKey(conversation ID, "packet/regular/encrypt")
 * AD  = bytes 0..57 ‖ receiver identity public key
 * ```
 *
 * unMessage 0.1's separate `keyed_hash(conversation ID, encrypted payload)` is
 * subsumed by the AEAD tag: Poly1305 under a key derived from the
 * conversation ID already authenticates the ciphertext and, through the AD,
 * the header and the receiver, and it is checked before anything is
 * decrypted. A second MAC would add 32 bytes and nothing else. The packet
 * layer encrypts the (already encrypted) ratchet message once more so that
 * its padding is inside the ciphertext.
 *
 * @module
 */

import { abytes, type Rng } from "../crypto/bytes.ts";
import { unpad } from "./padding.ts";
import { deriveKey } from "../crypto/kdf.ts";
import {
  CONVERSATION_ID_LENGTH,
  LABELS,
  type PacketKeys,
  packetKeys,
  receiverMidstate,
  REGULAR_OVERHEAD,
} from "./packet_common.ts";
import { openKeyed, sealKeyed } from "./packet_keyed.ts";

/** A regular packet's body has no prefix before the padded payload. */
const EMPTY = new Uint8Array(0);

/** Derives the keys of regular packets; callers may cache them per conversation. */
export function regularKeys(conversationId: Uint8Array): PacketKeys {
  abytes(conversationId, CONVERSATION_ID_LENGTH, "conversationId");
  return packetKeys(conversationId, LABELS.regularHsub, LABELS.regularEncrypt);
}

/**
 * The HMAC midstates of K_r for the regular packets of `conversationId`
 * addressed to `receiverKey` (packet_common.ts): what a receiver's
 * `HsubTable` keeps.
 */
export function regularReceiverMidstate(
  conversationId: Uint8Array,
  receiverKey: Uint8Array,
): Int32Array {
  abytes(conversationId, CONVERSATION_ID_LENGTH, "conversationId");
  const hsub = deriveKey(conversationId, LABELS.regularHsub);
  const midstate = receiverMidstate(hsub, receiverKey);
  hsub.fill(0);
  return midstate;
}

/** Arguments of {@linkcode sealRegular}. */
export interface SealRegularOptions {
  /** The conversation's ID (32 bytes, from the handshake). */
  conversationId: Uint8Array;
  /** Keys from `regularKeys(conversationId)`, when the caller caches them. */
  keys?: PacketKeys;
  /** The receiver's identity public key. */
  receiverIdentityKey: Uint8Array;
  /** Opaque ratchet message. */
  payload: Uint8Array;
  /** Draws the IV (24 bytes). */
  rng: Rng;
}

/**
 * Builds a regular packet.
 *
 * @throws {CryptoError} `bad_length` for keys of the wrong size
 * @throws {ProtocolError} `too_long` when the payload exceeds the largest bucket
 */
export function sealRegular(options: SealRegularOptions): Uint8Array {
  const { receiverIdentityKey, payload, rng } = options;
  const keys = options.keys ?? regularKeys(options.conversationId);
  return sealKeyed(keys, receiverIdentityKey, EMPTY, payload, REGULAR_OVERHEAD, rng);
}

/**
 * Opens a regular packet with already derived keys (see {@linkcode regularKeys}).
 * Returns null when the hSub does not match (not this conversation, or not
 * addressed to `ownIdentityPublicKey`).
 *
 * @throws {ProtocolError} `unsupported_version`, `bad_packet_length`, or
 *   `bad_padding` (after the tag matched and the AEAD verified)
 * @throws {CryptoError} `decrypt_failed` when the hSub matched but the AEAD did
 *   not verify (a tampered packet)
 */
export function openRegularWithKeys(
  packet: Uint8Array,
  keys: PacketKeys,
  ownIdentityPublicKey: Uint8Array,
): Uint8Array | null {
  const padded = openKeyed(packet, keys, ownIdentityPublicKey);
  return padded === null ? null : unpad(padded, REGULAR_OVERHEAD);
}

/**
 * Opens a regular packet of the conversation `conversationId` addressed to
 * `ownIdentityPublicKey`; null when it is not one. Errors as
 * {@linkcode openRegularWithKeys}.
 */
export function openRegular(
  packet: Uint8Array,
  conversationId: Uint8Array,
  ownIdentityPublicKey: Uint8Array,
): Uint8Array | null {
  return openRegularWithKeys(packet, regularKeys(conversationId), ownIdentityPublicKey);
}
