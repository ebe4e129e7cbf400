/**
 * The packet layer's entry point: {@linkcode identifyPacket} tells which of
 * our conversations or requests a received packet belongs to, following the
 * seed's "Identifying conversations": first every conversation ID (regular
 * packet), then every pending outbound request's shared key (reply packet),
 * then the request path with our identity key. A packet none of them claims
 * is dropped (null).
 *
 * The wire layouts are documented in packet_common.ts (shared header),
 * packet_request.ts, packet_reply.ts and packet_regular.ts; this module
 * re-exports their API. It knows nothing of handshakes or ratchets: payloads
 * are opaque bytes, candidates are the caller's records.
 *
 * @module
 */

import type { KeyPair } from "../crypto/keys.ts";
import { checkPacket, hsubProbe, type PacketKeys, probeMatches } from "./packet_common.ts";
import { openRegularWithKeys, regularKeys } from "./packet_regular.ts";
import { openReplyWithKeys, replyKeys } from "./packet_reply.ts";
import { type OpenedRequest, openRequest } from "./packet_request.ts";

export * from "./packet_common.ts";
export * from "./packet_regular.ts";
export * from "./packet_reply.ts";
export * from "./packet_request.ts";

/** A conversation a regular packet may belong to. */
export interface ConversationCandidate {
  /** The conversation ID (32 bytes). */
  readonly conversationId: Uint8Array;
  /** Keys from `regularKeys(conversationId)`, when the caller caches them. */
  readonly keys?: PacketKeys;
}

/** A request we sent whose reply we still expect. */
export interface PendingRequestCandidate {
  /** The shared request key returned by `sealRequest`. */
  readonly sharedRequestKey: Uint8Array;
  /** Keys from `replyKeys(sharedRequestKey)`, when the caller caches them. */
  readonly keys?: PacketKeys;
}

/** Everything a received packet is checked against. */
export interface PacketCandidates<
  C extends ConversationCandidate,
  R extends PendingRequestCandidate,
> {
  /** Our identity key pair (the receiver of every packet we accept). */
  readonly ownIdentity: KeyPair;
  /** Established conversations (tried first). */
  readonly conversations: readonly C[];
  /** Requests we sent and await a reply to (tried second). */
  readonly pendingRequests: readonly R[];
  /** Whether to try the request path (default true). */
  readonly acceptRequests?: boolean;
}

/** Result of {@linkcode identifyPacket}: which kind, whose, and the opened content. */
export type IdentifiedPacket<C, R> =
  | { kind: "regular"; conversation: C; payload: Uint8Array }
  | { kind: "reply"; request: R; handshakePublicKey: Uint8Array; payload: Uint8Array }
  | ({ kind: "request" } & OpenedRequest);

/**
 * Identifies and opens a received packet, or returns null when it belongs to
 * nothing of ours (the seed: such packets are ignored). Tags are compared in
 * constant time before anything is decrypted.
 *
 * @throws {ProtocolError} `unsupported_version` or `bad_packet_length` before
 *   any key is tried; `bad_padding` for a packet whose tag and AEAD verified
 * @throws {CryptoError} `decrypt_failed` when a tag matched but the AEAD did
 *   not verify (tampering by someone who knows the tag key)
 */
export function identifyPacket<C extends ConversationCandidate, R extends PendingRequestCandidate>(
  packet: Uint8Array,
  candidates: PacketCandidates<C, R>,
): IdentifiedPacket<C, R> | null {
  checkPacket(packet);
  const own = candidates.ownIdentity.publicKey;
  // the IV's schedule and the tag's words once; then two SHA-256
  // compressions per candidate (packet_common.ts)
  const probe = hsubProbe(packet, own);
  for (const conversation of candidates.conversations) {
    const keys = conversation.keys ?? regularKeys(conversation.conversationId);
    if (!probeMatches(probe, keys.hsub)) continue;
    const payload = openRegularWithKeys(packet, keys, own);
    if (payload !== null) return { kind: "regular", conversation, payload };
  }
  for (const request of candidates.pendingRequests) {
    const keys = request.keys ?? replyKeys(request.sharedRequestKey);
    if (!probeMatches(probe, keys.hsub)) continue;
    const reply = openReplyWithKeys(packet, keys, own);
    if (reply !== null) return { kind: "reply", request, ...reply };
  }
  if (candidates.acceptRequests === false) return null;
  const request = openRequest(packet, candidates.ownIdentity);
  return request === null ? null : { kind: "request", ...request };
}
