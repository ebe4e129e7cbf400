/**
 * The one entry point for a received packet: {@linkcode dispatchPacket}
 * tells which of our conversations or requests it belongs to (every
 * conversation ID first, then the reply keys, then the request path with our
 * identity key; docs/protocol.md "Identifying a received packet") and runs
 * the matching stage. The messenger core (`lib/peer/receive.ts`) drives it for every
 * frame, and the handshake model test drives it the same way.
 *
 * The caller's records stay the caller's: a {@linkcode PacketBook} names
 * them by opaque handles (the core's contacts and outbound entries, a
 * test's names) and says how to read each one's current state, and the
 * result names the handle to update. Nothing in the book changes here.
 *
 * Cheap checks come before expensive ones: a request whose request key the
 * book already knows (re-sent, replayed, rejected, accepted) is recognised
 * right after its AEAD opened, before its signature is verified, which is
 * most of a request's cost.
 *
 * @module
 */

import type { KeyPair } from "../crypto/keys.ts";
import { CryptoError } from "../errors.ts";
import { inboundFromOpened, startBob } from "./handshake.ts";
import type { Conversation, InboundRequest, OutboundRequest } from "./handshake_state.ts";
import {
  type ConversationCandidate,
  identifyPacket,
  type PacketCandidates,
  type PendingRequestCandidate,
} from "./packets.ts";
import { decryptInConversation, type PacketKind, regularKeysOf, replyKeysOf } from "./session.ts";

/**
 * Everything a peer holds that a received packet may belong to, by the
 * caller's handles: `H` for a conversation, `O` for an outbound request.
 */
export interface PacketBook<H, O> {
  /** Our identity key pair. */
  readonly ownIdentity: KeyPair;
  /** Our conversations (both roles). */
  readonly conversations: Iterable<H>;
  /** Requests we sent and whose first reply we still await. */
  readonly outbound: Iterable<O>;
  /** The current state of a conversation (read at each dispatch: it changes with every message). */
  conversationOf(handle: H): Conversation;
  /** The state of an outbound request. */
  requestOf(handle: O): OutboundRequest;
  /**
   * Whether a request with this request public key was seen already
   * (pending, rejected or accepted); asked before the signature is checked.
   */
  knownRequest?(requestPublicKey: Uint8Array): boolean;
  /** Whether to open new requests (default true). */
  readonly acceptRequests?: boolean;
}

/** A conversation as a candidate of `identifyPacket`. */
export interface ConversationEntry<H> extends ConversationCandidate {
  /** The caller's handle of the conversation. */
  readonly handle: H;
}

/** A reply key as a candidate: a Bob conversation (late replies) or an outbound request. */
export type ReplyEntry<H, O> =
  & PendingRequestCandidate
  & ({ readonly conversation: H } | { readonly outbound: O });

/** The candidates of a {@linkcode PacketBook}, as {@linkcode candidatesFor} builds them. */
export type BookCandidates<H, O> = PacketCandidates<ConversationEntry<H>, ReplyEntry<H, O>>;

/**
 * The `identifyPacket` candidates of a book: every conversation by its ID;
 * then, as reply keys, Bob's conversations (late replies) before the
 * outbound requests (first replies), so a request that already became a
 * conversation is never started twice. Valid until the book gains or loses
 * a conversation or request: the IDs and keys it holds never change within
 * a conversation, so a caller may keep it that long.
 */
export function candidatesFor<H, O>(book: PacketBook<H, O>): BookCandidates<H, O> {
  const conversations: ConversationEntry<H>[] = [];
  const pendingRequests: ReplyEntry<H, O>[] = [];
  for (const handle of book.conversations) {
    const conversation = book.conversationOf(handle);
    const { conversationId, sharedRequestKey } = conversation;
    conversations.push({ conversationId, keys: regularKeysOf(conversationId), handle });
    if (conversation.role === "bob" && sharedRequestKey !== null) {
      pendingRequests.push({
        sharedRequestKey,
        keys: replyKeysOf(sharedRequestKey),
        conversation: handle,
      });
    }
  }
  for (const outbound of book.outbound) {
    const { sharedRequestKey } = book.requestOf(outbound);
    pendingRequests.push({ sharedRequestKey, keys: replyKeysOf(sharedRequestKey), outbound });
  }
  return {
    ownIdentity: book.ownIdentity,
    conversations,
    pendingRequests,
    acceptRequests: book.acceptRequests ?? true,
  };
}

/** What {@linkcode dispatchPacket} found, naming the book's handles. */
export type Dispatched<H, O> =
  /** A verified request (Alice): show it to the user, then `acceptRequest`. */
  | { kind: "request"; request: InboundRequest }
  /** A request the book already knows (its signature was not checked again): ignore it. */
  | { kind: "known_request"; requestPublicKey: Uint8Array }
  /** Alice's first reply to `outbound` (Bob): replace it with `conversation`. */
  | {
    kind: "first_reply";
    outbound: O;
    conversation: Conversation;
    plaintext: Uint8Array;
    /** The ratchet message it carried (its digest names a re-sent copy). */
    payload: Uint8Array;
  }
  /** A message in `handle`'s conversation, which was `previous`: replace it. */
  | {
    kind: "message";
    handle: H;
    previous: Conversation;
    conversation: Conversation;
    plaintext: Uint8Array;
    packetKind: PacketKind;
    /** The ratchet message it carried (its digest names a re-sent copy). */
    payload: Uint8Array;
  };

/**
 * A packet identified as `handle`'s whose ratchet message did not decrypt
 * (`decrypt_failed`, kept as the code): tampered, replayed, or a copy that
 * its sender re-sent as the same bytes after we read the first one. The
 * caller may know the copy by `payload`'s digest.
 */
export class UnreadableMessage<H = unknown> extends CryptoError {
  /** The conversation the packet was identified as. */
  readonly handle: H;
  /** Its ratchet message. */
  readonly payload: Uint8Array;

  /** Wraps the ratchet's `decrypt_failed` for a packet of `handle`. */
  constructor(handle: H, payload: Uint8Array, cause: CryptoError) {
    super(cause.code, cause.message, { cause });
    this.handle = handle;
    this.payload = payload;
  }
}

/**
 * Identifies a received packet against `book` and runs the matching step.
 * Returns null when the packet is none of ours (including the packets we
 * sent ourselves: their hSub names the receiver). Pass `candidates` when
 * the caller keeps them (see {@linkcode candidatesFor}); their order is the
 * order of the tries.
 *
 * @throws {ProtocolError | CryptoError} for a packet of ours that must be
 *   dropped (malformed, tampered, forged request, replay ...): the codes of
 *   `identifyPacket`, `inboundFromOpened`, `decryptInConversation`, `startBob`;
 *   a conversation's message that does not decrypt is an
 *   {@linkcode UnreadableMessage} naming it
 */
export function dispatchPacket<H, O>(
  packet: Uint8Array,
  book: PacketBook<H, O>,
  now: number,
  candidates: BookCandidates<H, O> = candidatesFor(book),
): Dispatched<H, O> | null {
  const found = identifyPacket(packet, candidates);
  if (found === null) return null;
  if (found.kind === "request") {
    if (book.knownRequest?.(found.requestPublicKey) === true) {
      return { kind: "known_request", requestPublicKey: found.requestPublicKey };
    }
    return { kind: "request", request: inboundFromOpened(found, book.ownIdentity) };
  }
  if (found.kind === "regular") {
    const handle = found.conversation.handle;
    return message(book, handle, "regular", found.payload, null, now);
  }
  const entry = found.request;
  if ("conversation" in entry) {
    const { payload, handshakePublicKey } = found;
    return message(book, entry.conversation, "reply", payload, handshakePublicKey, now);
  }
  const started = startBob(
    book.requestOf(entry.outbound),
    found.handshakePublicKey,
    found.payload,
    {
      ownIdentity: book.ownIdentity,
      now,
    },
  );
  return { kind: "first_reply", outbound: entry.outbound, ...started, payload: found.payload };
}

function message<H, O>(
  book: PacketBook<H, O>,
  handle: H,
  kind: PacketKind,
  payload: Uint8Array,
  handshakePublicKey: Uint8Array | null,
  now: number,
): Dispatched<H, O> {
  const previous = book.conversationOf(handle);
  let opened;
  try {
    opened = decryptInConversation(previous, kind, payload, handshakePublicKey, now);
  } catch (e) {
    if (e instanceof CryptoError && e.code === "decrypt_failed") {
      throw new UnreadableMessage(handle, payload, e);
    }
    throw e;
  }
  return {
    kind: "message",
    handle,
    previous,
    conversation: opened.conversation,
    plaintext: opened.plaintext,
    packetKind: kind,
    payload,
  };
}
