/**
 * Shared fixtures of the handshake tests: parties with identity and onion
 * keys, a request sealed around arbitrary handshake bytes (to forge), a
 * dispatch book over plain states, and an error-code probe.
 *
 * @module
 */

import { fromUtf8, type Rng, utf8 } from "../lib/crypto/bytes.ts";
import { generateKeyPair, type KeyPair, keyPairFromSecret } from "../lib/crypto/keys.ts";
import { generateOnionKey, type OnionKey } from "../lib/crypto/onion.ts";
import { UnmessageError } from "../lib/errors.ts";
import { createRequest } from "../lib/protocol/handshake.ts";
import type { PacketBook } from "../lib/protocol/dispatch.ts";
import type { Conversation, OutboundRequest } from "../lib/protocol/handshake_state.ts";
import { sealRequest } from "../lib/protocol/packets.ts";

/** One peer of a test. */
export interface Party {
  readonly name: string;
  readonly identity: KeyPair;
  readonly onion: OnionKey;
  readonly port: number;
}

/** A fresh party drawn from `rng`. */
export function party(name: string, rng: Rng, port = 50000): Party {
  return { name, identity: generateKeyPair(rng), onion: generateOnionKey(rng), port };
}

/** The creation time the fixtures' requests sign (14 November 2023). */
export const REQUEST_TIME = 1_700_000_000_000;

/** `from` requests a conversation with `to`. */
export function request(
  from: Party,
  to: Party,
  rng: Rng,
): { packet: Uint8Array; outbound: OutboundRequest } {
  return createRequest({
    ownName: from.name,
    ownIdentity: from.identity,
    onionKey: from.onion,
    port: from.port,
    peerIdentityKey: to.identity.publicKey,
    rng,
    now: REQUEST_TIME,
  });
}

/**
 * A request packet to `receiverKey` around the handshake bytes `build`
 * returns for the packet's request public key (drawn here, then handed to
 * sealRequest, which draws its key pair first).
 */
export function sealedAround(
  build: (requestPublicKey: Uint8Array) => Uint8Array,
  receiverKey: Uint8Array,
  rng: Rng,
): Uint8Array {
  const secret = rng(32);
  const requestPublicKey = keyPairFromSecret(secret).publicKey;
  let first = true;
  const sealRng: Rng = (n) => {
    if (!first) return rng(n);
    first = false;
    return secret.slice();
  };
  return sealRequest({
    handshake: build(requestPublicKey),
    receiverIdentityKey: receiverKey,
    rng: sealRng,
  })
    .packet;
}

/**
 * A book of `dispatchPacket` whose handles are the states themselves (for
 * tests that dispatch one packet against fixed states); no request is known.
 */
export function bookOf(
  ownIdentity: KeyPair,
  conversations: readonly Conversation[],
  outbound: readonly OutboundRequest[] = [],
): PacketBook<Conversation, OutboundRequest> {
  return {
    ownIdentity,
    conversations,
    outbound,
    conversationOf: (c) => c,
    requestOf: (o) => o,
  };
}

/** UTF-8 bytes of `s`. */
export const text = (s: string): Uint8Array => utf8(s);

/** The text of UTF-8 bytes. */
export const read = (b: Uint8Array): string => fromUtf8(b);

/**
 * Runs `fn`: "null" when it returns null, "ok" for any other value, or the
 * `code` of the UnmessageError it throws (anything else is rethrown).
 */
export function outcome(fn: () => unknown): string {
  try {
    return fn() === null ? "null" : "ok";
  } catch (e) {
    if (e instanceof UnmessageError) return e.code;
    throw e;
  }
}

/** Returns a copy of `bytes` with byte `index` XORed with `mask` (default 1). */
export function flip(bytes: Uint8Array, index: number, mask = 1): Uint8Array {
  const out = bytes.slice();
  out[index] = out[index]! ^ mask;
  return out;
}
