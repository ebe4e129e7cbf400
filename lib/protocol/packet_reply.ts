/**
 * Reply packets (docs/protocol.md §5.4; stage 2, §6.2): what Alice sends after accepting Bob's
 * request and until she receives a regular packet from him. They carry her
 * handshake public key (Bob needs it for the Triple Diffie-Hellman) and an
 * opaque ratchet message, both under the shared request key.
 *
 * Wire layout (total length = a padding bucket):
 *
 * ```
 * offset  size      field
 * 0       1         version  1
 * 1       24        IV       random, the AEAD nonce
 * 25      32        hSub     HMAC-SHA256(K_r, IV)
 * 57      32        Alice's encrypted handshake public key  ┐ one XChaCha20-Poly1305
 * 89      len-105   encrypted pad(payload, 105)             │ ciphertext under K_e
 * len-16  16        Poly1305 tag                            ┘
 *
 * K_h = deriveKey(shared request key, "packet/reply/hsub")
 * K_r = deriveKey(K_h ‖ Bob's identity public key, "packet/hsub/receiver")
 * K_e = deriveKey(shared request key, "packet/reply/encrypt")
 * AD  = bytes 0..57 ‖ Bob's identity public key
 * ```
 *
 * unMessage 0.1's encrypted handshake key and encrypted payload are the two
 * parts of one AEAD ciphertext here, and its `keyed_hash(shared request key,
 * ...)` is the Poly1305 tag over both (checked before decryption).
 *
 * @module
 */

import { abytes, type Rng } from "../crypto/bytes.ts";
import { unpad } from "./padding.ts";
import {
  LABELS,
  type PacketKeys,
  packetKeys,
  PUBLIC_KEY_LENGTH,
  REPLY_OVERHEAD,
} from "./packet_common.ts";
import { openKeyed, sealKeyed } from "./packet_keyed.ts";

/** Length of a shared request key. */
export const SHARED_REQUEST_KEY_LENGTH = 32;

/** Derives the keys of reply packets; callers may cache them per pending request. */
export function replyKeys(sharedRequestKey: Uint8Array): PacketKeys {
  abytes(sharedRequestKey, SHARED_REQUEST_KEY_LENGTH, "sharedRequestKey");
  return packetKeys(sharedRequestKey, LABELS.replyHsub, LABELS.replyEncrypt);
}

/** Arguments of {@linkcode sealReply}. */
export interface SealReplyOptions {
  /** The key of the request being answered (from `openRequest`). */
  sharedRequestKey: Uint8Array;
  /** Keys from `replyKeys(sharedRequestKey)`, when the caller caches them. */
  keys?: PacketKeys;
  /** Bob's identity public key. */
  receiverIdentityKey: Uint8Array;
  /** Alice's handshake public key for this conversation. */
  handshakePublicKey: Uint8Array;
  /** Opaque ratchet message. */
  payload: Uint8Array;
  /** Draws the IV (24 bytes). */
  rng: Rng;
}

/** What {@linkcode openReply} returns. */
export interface OpenedReply {
  /** Alice's handshake public key. */
  handshakePublicKey: Uint8Array;
  /** Opaque ratchet message. */
  payload: Uint8Array;
}

/**
 * Builds a reply packet.
 *
 * @throws {CryptoError} `bad_length` for keys of the wrong size
 * @throws {ProtocolError} `too_long` when the payload exceeds the largest bucket
 */
export function sealReply(options: SealReplyOptions): Uint8Array {
  const { receiverIdentityKey, handshakePublicKey, payload, rng } = options;
  abytes(handshakePublicKey, PUBLIC_KEY_LENGTH, "handshakePublicKey");
  const keys = options.keys ?? replyKeys(options.sharedRequestKey);
  return sealKeyed(keys, receiverIdentityKey, handshakePublicKey, payload, REPLY_OVERHEAD, rng);
}

/**
 * Opens a reply packet with already derived keys (see {@linkcode replyKeys});
 * null when the hSub does not match.
 *
 * @throws {ProtocolError} `unsupported_version`, `bad_packet_length`, or
 *   `bad_padding` after the tag matched and the AEAD verified
 * @throws {CryptoError} `decrypt_failed` when the hSub matched but the AEAD
 *   did not verify
 */
export function openReplyWithKeys(
  packet: Uint8Array,
  keys: PacketKeys,
  ownIdentityPublicKey: Uint8Array,
): OpenedReply | null {
  const plain = openKeyed(packet, keys, ownIdentityPublicKey);
  if (plain === null) return null;
  return {
    handshakePublicKey: plain.slice(0, PUBLIC_KEY_LENGTH),
    payload: unpad(plain.subarray(PUBLIC_KEY_LENGTH), REPLY_OVERHEAD),
  };
}

/**
 * Opens a reply to the request whose key is `sharedRequestKey`, addressed to
 * `ownIdentityPublicKey` (Bob's); null when it is not one. Errors as
 * {@linkcode openReplyWithKeys}.
 */
export function openReply(
  packet: Uint8Array,
  sharedRequestKey: Uint8Array,
  ownIdentityPublicKey: Uint8Array,
): OpenedReply | null {
  return openReplyWithKeys(packet, replyKeys(sharedRequestKey), ownIdentityPublicKey);
}
