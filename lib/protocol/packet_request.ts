/**
 * Request packets (docs/protocol.md §5.3; stage 1, §6.1): Bob's first
 * packet to Alice. Bob draws a fresh request key pair; Diffie-Hellman of
 * its secret with Alice's identity public key gives the shared request key,
 * which keys the hSub and encrypts the handshake data. The handshake data
 * is opaque here: the handshake layer defines it.
 *
 * Wire layout (total length = a padding bucket):
 *
 * ```
 * offset  size      field
 * 0       1         version  1
 * 1       24        IV       random, the AEAD nonce
 * 25      32        hSub     HMAC-SHA256(K_r, IV)
 * 57      32        Bob's request public key (X25519)
 * 89      len-105   ciphertext of pad(handshake, 105) under K_e
 * len-16  16        Poly1305 tag
 *
 * S   = deriveKey(X25519(request secret, Alice identity public)
 *                 ‖ request public key ‖ Alice identity public, "packet/request/shared-key")
 * K_h = deriveKey(S, "packet/request/hsub")
 * K_r = deriveKey(K_h ‖ Alice's identity public key, "packet/hsub/receiver")
 * K_e = deriveKey(S, "packet/request/encrypt")
 * AD  = bytes 0..89 ‖ Alice's identity public key
 * ```
 *
 * S (the shared request key) binds both public keys, so one DH output never
 * serves two key pairs. unMessage 0.1's `keyed_hash(shared request key,
 * encrypted handshake packet)` is the Poly1305 tag here.
 *
 * @module
 */

import { open, seal } from "../crypto/aead.ts";
import { abytes, concatBytes, type Rng, wipe } from "../crypto/bytes.ts";
import { deriveKey } from "../crypto/kdf.ts";
import { dh, generateKeyPair, type KeyPair } from "../crypto/keys.ts";
import { CryptoError } from "../errors.ts";
import { pad, unpad } from "./padding.ts";
import {
  associatedData,
  checkPacket,
  computeHsub,
  HEADER_LENGTH,
  hsubMatches,
  IV_LENGTH,
  ivOf,
  LABELS,
  packetKeys,
  PUBLIC_KEY_LENGTH,
  REQUEST_OVERHEAD,
  writeHeader,
} from "./packet_common.ts";

export type { KeyPair } from "../crypto/keys.ts";

/** Offset of the encrypted handshake (after the request public key). */
const BODY_OFFSET = HEADER_LENGTH + PUBLIC_KEY_LENGTH;

/** Arguments of {@linkcode sealRequest}. */
export interface SealRequestOptions {
  /** Opaque handshake data (defined by the handshake layer). */
  handshake: Uint8Array;
  /** Alice's identity public key. */
  receiverIdentityKey: Uint8Array;
  /** Draws the request key pair (unless `requestKey` is given), then the IV. */
  rng: Rng;
  /**
   * A request key pair made beforehand, e.g. because a signature in the
   * handshake already covers its public key; drawn from `rng` when absent.
   */
  requestKey?: KeyPair;
}

/** What {@linkcode sealRequest} returns. */
export interface SealedRequest {
  /** The packet to send. */
  packet: Uint8Array;
  /** The fresh request key pair. */
  requestKey: KeyPair;
  /** The shared request key; keep it to recognise the replies. */
  sharedRequestKey: Uint8Array;
}

/** What {@linkcode openRequest} returns. */
export interface OpenedRequest {
  /** The opaque handshake data. */
  handshake: Uint8Array;
  /** The shared request key; it keys the replies. */
  sharedRequestKey: Uint8Array;
  /** Bob's request public key. */
  requestPublicKey: Uint8Array;
}

function sharedRequestKeyOf(
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  requestPublicKey: Uint8Array,
  receiverIdentityKey: Uint8Array,
): Uint8Array {
  const shared = dh(secretKey, publicKey);
  const ikm = concatBytes(shared, requestPublicKey, receiverIdentityKey);
  const key = deriveKey(ikm, LABELS.requestSharedKey);
  wipe(shared, ikm);
  return key;
}

/**
 * Builds a request packet to the owner of `receiverIdentityKey`.
 *
 * @throws {CryptoError} `bad_length` for a key of the wrong size, `bad_key`
 *   for a receiver key that gives no shared secret
 * @throws {ProtocolError} `too_long` when the handshake exceeds the largest bucket
 */
export function sealRequest(options: SealRequestOptions): SealedRequest {
  const { handshake, receiverIdentityKey, rng } = options;
  abytes(handshake, undefined, "handshake");
  abytes(receiverIdentityKey, PUBLIC_KEY_LENGTH, "receiverIdentityKey");
  const padded = pad(handshake, REQUEST_OVERHEAD);
  const requestKey = options.requestKey ?? generateKeyPair(rng);
  const sharedRequestKey = sharedRequestKeyOf(
    requestKey.secretKey,
    receiverIdentityKey,
    requestKey.publicKey,
    receiverIdentityKey,
  );
  const keys = packetKeys(sharedRequestKey, LABELS.requestHsub, LABELS.requestEncrypt);
  const iv = abytes(rng(IV_LENGTH), IV_LENGTH, "rng output");
  const packet = writeHeader(
    padded.length + REQUEST_OVERHEAD,
    iv,
    computeHsub(keys.hsub, iv, receiverIdentityKey, false),
    requestKey.publicKey,
  );
  const ad = associatedData(packet, BODY_OFFSET, receiverIdentityKey);
  packet.set(seal(keys.encrypt, iv, padded, ad), BODY_OFFSET);
  wipe(keys.hsub, keys.encrypt);
  return { packet, requestKey, sharedRequestKey };
}

/**
 * Opens a request packet addressed to `ownIdentity`; null when it is not
 * one (no shared secret with its request key, or the hSub does not match).
 *
 * @throws {ProtocolError} `unsupported_version`, `bad_packet_length`, or
 *   `bad_padding` after the tag matched and the AEAD verified
 * @throws {CryptoError} `decrypt_failed` when the hSub matched but the AEAD did
 *   not verify
 */
export function openRequest(packet: Uint8Array, ownIdentity: KeyPair): OpenedRequest | null {
  checkPacket(packet);
  abytes(ownIdentity.publicKey, PUBLIC_KEY_LENGTH, "ownIdentity.publicKey");
  const requestPublicKey = packet.slice(HEADER_LENGTH, BODY_OFFSET);
  let sharedRequestKey: Uint8Array;
  try {
    sharedRequestKey = sharedRequestKeyOf(
      ownIdentity.secretKey,
      requestPublicKey,
      requestPublicKey,
      ownIdentity.publicKey,
    );
  } catch (e) {
    // RFC 7748 §6.1: a low-order request key gives no secret; not a request for us
    if (e instanceof CryptoError && e.code === "bad_key") return null;
    throw e;
  }
  const keys = packetKeys(sharedRequestKey, LABELS.requestHsub, LABELS.requestEncrypt);
  let opened = false;
  try {
    // docs/protocol.md §10: the hSub decides before any decryption
    if (!hsubMatches(packet, keys.hsub, ownIdentity.publicKey, false)) return null;
    const ad = associatedData(packet, BODY_OFFSET, ownIdentity.publicKey);
    const padded = open(keys.encrypt, ivOf(packet), packet.subarray(BODY_OFFSET), ad);
    const handshake = unpad(padded, REQUEST_OVERHEAD);
    opened = true;
    return { handshake, sharedRequestKey, requestPublicKey };
  } finally {
    wipe(keys.hsub, keys.encrypt);
    if (!opened) wipe(sharedRequestKey);
  }
}
