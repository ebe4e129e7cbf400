/**
 * The packet layer's entry point: {@linkcode identifyPacket} tells which of
 * our conversations or requests a received packet belongs to, in the order of
 * docs/protocol.md, "10. Identifying a received packet": first every conversation ID (regular
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
import {
  checkPacket,
  hsubProbe,
  HsubTable,
  type PacketKeys,
  probeMatches,
} from "./packet_common.ts";
import { openRegularWithKeys, regularKeys } from "./packet_regular.ts";
import { openReplyWithKeys, replyKeys } from "./packet_reply.ts";
import { type OpenedRequest, openRequest } from "./packet_request.ts";

export type { KeyPair } from "../crypto/keys.ts";

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
  /**
   * Established conversations (tried first): a list, or a table of their
   * K_r for our identity key (scanned at once, packet_common.ts).
   */
  readonly conversations: readonly C[] | HsubTable<C>;
  /** A conversation tried before all others (the one a connection already carries). */
  readonly first?: C;
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
 * nothing of ours (such packets are dropped: docs/protocol.md, "10. Identifying a received packet"). Tags are compared in
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
  const regular = (conversation: C) => {
    const keys = conversation.keys ?? regularKeys(conversation.conversationId);
    if (!probeMatches(probe, keys.hsub)) return null;
    const payload = openRegularWithKeys(packet, keys, own);
    return payload === null ? null : { kind: "regular" as const, conversation, payload };
  };
  const first = candidates.first !== undefined ? regular(candidates.first) : null;
  if (first !== null) return first;
  const conversations = candidates.conversations;
  if (conversations instanceof HsubTable) {
    for (
      let slot = conversations.find(probe);
      slot >= 0;
      slot = conversations.find(probe, slot + 1)
    ) {
      const found = regular(conversations.owner(slot)!);
      if (found !== null) return found;
    }
  } else {
    for (const conversation of conversations) {
      const found = regular(conversation);
      if (found !== null) return found;
    }
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
