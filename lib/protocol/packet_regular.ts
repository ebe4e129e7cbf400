/**
 * Regular packets (seed Stage 3): the packets of an established
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
 * The seed's separate `keyed_hash(conversation ID, encrypted payload)` is
 * subsumed by the AEAD tag: Poly1305 under a key derived from the
 * conversation ID already authenticates the ciphertext and, through the AD,
 * the header and the receiver, and it is checked before anything is
 * decrypted. A second MAC would add 32 bytes and nothing else. The packet
 * layer encrypts the (already encrypted) ratchet message once more so that
 * its padding is inside the ciphertext.
 *
 * @module
 */

import { open, seal } from "../crypto/aead.ts";
import { abytes, type Rng } from "../crypto/bytes.ts";
import { pad, unpad } from "./padding.ts";
import {
  associatedData,
  checkPacket,
  computeHsub,
  CONVERSATION_ID_LENGTH,
  HEADER_LENGTH,
  hsubMatches,
  IV_LENGTH,
  ivOf,
  LABELS,
  type PacketKeys,
  packetKeys,
  PUBLIC_KEY_LENGTH,
  REGULAR_OVERHEAD,
  writeHeader,
} from "./packet_common.ts";

/** Derives the keys of regular packets; callers may cache them per conversation. */
export function regularKeys(conversationId: Uint8Array): PacketKeys {
  abytes(conversationId, CONVERSATION_ID_LENGTH, "conversationId");
  return packetKeys(conversationId, LABELS.regularHsub, LABELS.regularEncrypt);
}

/** Arguments of {@linkcode sealRegular}. */
export interface SealRegularOptions {
  /** The conversation's ID (32 bytes, from the handshake). */
  conversationId: Uint8Array;
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
  abytes(receiverIdentityKey, PUBLIC_KEY_LENGTH, "receiverIdentityKey");
  abytes(payload, undefined, "payload");
  const keys = regularKeys(options.conversationId);
  const padded = pad(payload, REGULAR_OVERHEAD);
  const iv = abytes(rng(IV_LENGTH), IV_LENGTH, "rng output");
  const packet = writeHeader(
    padded.length + REGULAR_OVERHEAD,
    iv,
    computeHsub(keys.hsub, iv, receiverIdentityKey),
  );
  const ad = associatedData(packet, HEADER_LENGTH, receiverIdentityKey);
  packet.set(seal(keys.encrypt, iv, padded, ad), HEADER_LENGTH);
  return packet;
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
  checkPacket(packet);
  abytes(ownIdentityPublicKey, PUBLIC_KEY_LENGTH, "ownIdentityPublicKey");
  // seed "Identifying conversations": check the IV hash before decrypting
  if (!hsubMatches(packet, keys.hsub, ownIdentityPublicKey)) return null;
  const ad = associatedData(packet, HEADER_LENGTH, ownIdentityPublicKey);
  const padded = open(keys.encrypt, ivOf(packet), packet.subarray(HEADER_LENGTH), ad);
  return unpad(padded, REGULAR_OVERHEAD);
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
