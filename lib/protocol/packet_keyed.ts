/**
 * The sealing and opening shared by the two packet kinds keyed by a secret
 * both sides already hold (regular: the conversation ID; reply: the shared
 * request key): header with the receiver's hSub, then one AEAD over
 * `prefix ‖ padded payload`. Layouts are documented in packet_common.ts and
 * in each kind's module.
 *
 * @module
 */

import { open, seal } from "../crypto/aead.ts";
import { abytes, concatBytes, type Rng } from "../crypto/bytes.ts";
import { pad } from "./padding.ts";
import {
  associatedData,
  checkPacket,
  computeHsub,
  HEADER_LENGTH,
  hsubMatches,
  IV_LENGTH,
  ivOf,
  type PacketKeys,
  PUBLIC_KEY_LENGTH,
  writeHeader,
} from "./packet_common.ts";

/**
 * Builds a keyed packet whose body is the AEAD of `prefix ‖ pad(payload)`;
 * `overhead` counts every byte but the padded payload (header, prefix, tag),
 * so the packet's length is a padding bucket.
 *
 * @throws {ProtocolError} `too_long` when the payload exceeds the largest bucket
 */
export function sealKeyed(
  keys: PacketKeys,
  receiverIdentityKey: Uint8Array,
  prefix: Uint8Array,
  payload: Uint8Array,
  overhead: number,
  rng: Rng,
): Uint8Array {
  abytes(receiverIdentityKey, PUBLIC_KEY_LENGTH, "receiverIdentityKey");
  abytes(payload, undefined, "payload");
  const padded = pad(payload, overhead);
  const iv = abytes(rng(IV_LENGTH), IV_LENGTH, "rng output");
  const packet = writeHeader(
    padded.length + overhead,
    iv,
    computeHsub(keys.hsub, iv, receiverIdentityKey),
  );
  const ad = associatedData(packet, HEADER_LENGTH, receiverIdentityKey);
  const body = prefix.length === 0 ? padded : concatBytes(prefix, padded);
  packet.set(seal(keys.encrypt, iv, body, ad), HEADER_LENGTH);
  return packet;
}

/**
 * Opens a keyed packet: null when its hSub does not match (another
 * conversation or receiver), else the AEAD plaintext (`prefix ‖ padded`).
 *
 * @throws {ProtocolError} `unsupported_version` or `bad_packet_length`
 * @throws {CryptoError} `decrypt_failed` when the hSub matched but the AEAD did not verify
 */
export function openKeyed(
  packet: Uint8Array,
  keys: PacketKeys,
  ownIdentityPublicKey: Uint8Array,
): Uint8Array | null {
  checkPacket(packet);
  abytes(ownIdentityPublicKey, PUBLIC_KEY_LENGTH, "ownIdentityPublicKey");
  // docs/protocol.md §10: the hSub decides before any decryption
  if (!hsubMatches(packet, keys.hsub, ownIdentityPublicKey)) return null;
  const ad = associatedData(packet, HEADER_LENGTH, ownIdentityPublicKey);
  return open(keys.encrypt, ivOf(packet), packet.subarray(HEADER_LENGTH), ad);
}
