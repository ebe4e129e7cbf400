/**
 * Triple Diffie-Hellman key agreement (docs/protocol.md §6.2 "Stage 2:
 * accepting"), as in unMessage 0.1 (after Open Whisper Systems'
 * "Simplifying OTR deniability"): the secret key that starts a
 * conversation's Double Ratchet.
 *
 * Bob is the one who sends the request, Alice the one who receives it. The
 * three DH outputs are taken in one fixed, role-defined order, so both sides
 * compute the same bytes, and the result is bound to both identity keys.
 *
 * This module owns only the key schedule; it knows nothing of packets.
 *
 * @module
 */

import { abytes, concatBytes, wipe } from "./bytes.ts";
import { hkdfSha256, KDF_LABEL_PREFIX } from "./kdf.ts";
import { dh, KEY_LENGTH, type KeyPair } from "./keys.ts";

/** Which side of the conversation we are: Bob requests, Alice accepts. */
export type Role = "alice" | "bob";

/** Length of the agreed secret key in bytes. */
export const TRIPLE_DH_KEY_LENGTH = 32;

/** Our two key pairs in the agreement. */
export interface TripleDhOwnKeys {
  /** Our long-term identity key pair. */
  readonly identity: KeyPair;
  /** Our handshake key pair, fresh for this conversation. */
  readonly handshake: KeyPair;
}

/** The peer's two public keys in the agreement. */
export interface TripleDhPeerKeys {
  /** The peer's long-term identity public key. */
  readonly identityKey: Uint8Array;
  /** The peer's handshake public key for this conversation. */
  readonly handshakeKey: Uint8Array;
}

/** HKDF info of the agreement: "unMessage/v1/tripledh". */
const TRIPLE_DH_INFO = "tripledh";

function checkKeyPair(pair: unknown, name: string): KeyPair {
  if (typeof pair !== "object" || pair === null) {
    throw new TypeError(`Cannot use ${name}: expected key pair`);
  }
  const { secretKey, publicKey } = pair as Partial<KeyPair>;
  abytes(secretKey, KEY_LENGTH, `${name}.secretKey`);
  abytes(publicKey, KEY_LENGTH, `${name}.publicKey`);
  return pair as KeyPair;
}

/**
 * Computes the 32-byte secret key of a conversation:
 *
 *     ikm  = DH(Bob identity, Alice handshake)
 *          ‖ DH(Bob handshake, Alice identity)
 *          ‖ DH(Bob handshake, Alice handshake)
 *     salt = Bob identity public key ‖ Alice identity public key
 *     key  = HKDF-SHA256(ikm, salt, "unMessage/v1/tripledh", 32)
 *
 * Each DH is computed from our own perspective (our secret, their public
 * key), so Alice and Bob reach the same key.
 *
 * @throws {TypeError} a wrong role or an argument of the wrong type
 * @throws {CryptoError} `bad_length` for a key of the wrong length, `bad_key`
 *   for a low-order peer key
 */
export function tripleDh(
  role: Role,
  own: TripleDhOwnKeys,
  peer: TripleDhPeerKeys,
): Uint8Array {
  if (role !== "alice" && role !== "bob") {
    throw new TypeError('Cannot use role: expected "alice" or "bob"');
  }
  if (typeof own !== "object" || own === null) {
    throw new TypeError("Cannot use own: expected object");
  }
  if (typeof peer !== "object" || peer === null) {
    throw new TypeError("Cannot use peer: expected object");
  }
  const identity = checkKeyPair(own.identity, "own.identity");
  const handshake = checkKeyPair(own.handshake, "own.handshake");
  const peerIdentity = abytes(peer.identityKey, KEY_LENGTH, "peer.identityKey");
  const peerHandshake = abytes(peer.handshakeKey, KEY_LENGTH, "peer.handshakeKey");

  // docs/protocol.md §6.2: the same three products from either side
  const isBob = role === "bob";
  const bobIdentityAliceHandshake = isBob
    ? dh(identity.secretKey, peerHandshake)
    : dh(handshake.secretKey, peerIdentity);
  const bobHandshakeAliceIdentity = isBob
    ? dh(handshake.secretKey, peerIdentity)
    : dh(identity.secretKey, peerHandshake);
  const bothHandshakes = dh(handshake.secretKey, peerHandshake);

  const ikm = concatBytes(bobIdentityAliceHandshake, bobHandshakeAliceIdentity, bothHandshakes);
  // bind the identities, Bob's first: fixed lengths, so the split is unambiguous
  const salt = isBob
    ? concatBytes(identity.publicKey, peerIdentity)
    : concatBytes(peerIdentity, identity.publicKey);
  const key = hkdfSha256(ikm, salt, KDF_LABEL_PREFIX + TRIPLE_DH_INFO, TRIPLE_DH_KEY_LENGTH);
  wipe(bobIdentityAliceHandshake, bobHandshakeAliceIdentity, bothHandshakes, ikm);
  return key;
}
