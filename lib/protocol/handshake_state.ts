/**
 * The values of the handshake's stage machines (docs/protocol.md §6 "The
 * handshake", stages 1-3) and their JSON form for the store:
 *
 * - {@linkcode OutboundRequest}: Bob after Stage 1, waiting for a reply;
 * - {@linkcode InboundRequest}: Alice after receiving a request, before she
 *   accepts it;
 * - {@linkcode Conversation}: either side once the ratchet runs (Alice from
 *   Stage 2, Bob from his first reply).
 *
 * Every value is frozen, never shows key material when printed, inspected
 * or passed to `JSON.stringify`; only the `serialize*` functions export it,
 * for the (encrypted) store, and the `deserialize*` functions check every
 * field and invariant on the way back.
 *
 * This module owns shapes and invariants; the transitions live in
 * handshake.ts and session.ts, and dispatch.ts picks which one a received
 * packet runs.
 *
 * @module
 */

import { equalBytes, toBase64 } from "../crypto/bytes.ts";
import { type KeyPair, keyPairFromSecret } from "../crypto/keys.ts";
import {
  deserializeRatchetState,
  type RatchetState,
  type RatchetStateJson,
  serializeRatchetState,
} from "../crypto/ratchet_state.ts";
import { parseOnionAddress } from "../crypto/onion.ts";
import {
  checkPortNumber,
  createdAtOf,
  fail,
  fields,
  key,
  keyOrNull,
  nameOf,
} from "./_handshake_json.ts";

/** Version of every JSON form of this module; bump on any change of shape. */
export const HANDSHAKE_STATE_VERSION = 1;

/** Bob after sending a request: what he needs to open Alice's first reply. */
export interface OutboundRequest {
  /** Alice's identity public key. */
  readonly peerIdentityKey: Uint8Array;
  /** The shared request key of the packet; it keys Alice's replies. */
  readonly sharedRequestKey: Uint8Array;
  /** Bob's handshake key pair for this request (Triple DH). */
  readonly handshakeKeyPair: KeyPair;
  /** Bob's ratchet key pair for this request (initBob). */
  readonly ratchetKeyPair: KeyPair;
}

/** A verified request Alice received, until she accepts or rejects it. */
export interface InboundRequest {
  /** Bob's suggested contact name. */
  readonly name: string;
  /** Bob's v3 onion address, 56 characters without ".onion". */
  readonly onionAddress: string;
  /** The port of Bob's onion service. */
  readonly port: number;
  /** Bob's identity public key. */
  readonly identityKey: Uint8Array;
  /** Bob's handshake public key. */
  readonly handshakeKey: Uint8Array;
  /** Bob's ratchet public key. */
  readonly ratchetKey: Uint8Array;
  /** When Bob made the request (signed; ms since the Unix epoch, his clock). */
  readonly createdAt: number;
  /** The shared request key; it keys Alice's replies. */
  readonly sharedRequestKey: Uint8Array;
  /** The packet's request public key (the same request delivered twice has the same). */
  readonly requestPublicKey: Uint8Array;
}

/**
 * One side of a conversation.
 *
 * - Alice, `established: false` (Stage 2): she sends reply packets carrying
 *   `handshakePublicKey` under `sharedRequestKey`.
 * - Alice, `established: true` (Stage 3, after Bob's first regular packet):
 *   she sends regular packets; both fields are null.
 * - Bob is always `established: true` and sends regular packets; he keeps
 *   `sharedRequestKey` and Alice's `peerHandshakeKey` to open the replies
 *   she sent before she saw his first regular packet.
 */
export interface Conversation {
  /** Which side we are: Alice accepted the request, Bob sent it. */
  readonly role: "alice" | "bob";
  /** Our identity public key. */
  readonly ownIdentityKey: Uint8Array;
  /** The peer's identity public key. */
  readonly peerIdentityKey: Uint8Array;
  /** The conversation ID: keys the regular packets (docs/protocol.md §5.5, §6.3). */
  readonly conversationId: Uint8Array;
  /** The Double Ratchet state. */
  readonly ratchet: RatchetState;
  /** Whether we send regular packets (see above). */
  readonly established: boolean;
  /** Alice before Stage 3: her handshake public key, sent in every reply. */
  readonly handshakePublicKey: Uint8Array | null;
  /** The shared request key: Alice before Stage 3 seals replies, Bob opens them. */
  readonly sharedRequestKey: Uint8Array | null;
  /** Bob: Alice's handshake public key, which every later reply must repeat. */
  readonly peerHandshakeKey: Uint8Array | null;
}

/** Gives `value` a print form and JSON form of `summary` (no secrets), and freezes it. */
function redact<T extends object>(value: T, label: string, summary: object): T {
  const show = () => `${label} ${JSON.stringify(summary)}`;
  for (const name of ["Deno.customInspect", "nodejs.util.inspect.custom"]) {
    Object.defineProperty(value, Symbol.for(name), { value: show, enumerable: false });
  }
  Object.defineProperty(value, "toJSON", { value: () => summary, enumerable: false });
  return Object.freeze(value);
}

function checkConversation(c: Conversation): void {
  const isAlice = c.role === "alice";
  if (!isAlice && c.role !== "bob") fail("role is not alice or bob");
  if (typeof c.established !== "boolean") fail("established is not a boolean");
  if (!isAlice && !c.established) fail("Bob's conversation is not established");
  if (isAlice && c.peerHandshakeKey !== null) fail("Alice keeps no peer handshake key");
  if (isAlice && c.established !== (c.sharedRequestKey === null)) {
    fail("Alice's request key does not match her stage");
  }
  if ((c.handshakePublicKey === null) !== (!isAlice || c.established)) {
    fail("handshake public key does not match the stage");
  }
  if (!isAlice && (c.sharedRequestKey === null) !== (c.peerHandshakeKey === null)) {
    fail("Bob's request key and peer handshake key go together");
  }
}

/**
 * Builds a checked, frozen {@linkcode Conversation}.
 *
 * @throws {ProtocolError} `bad_state` when the fields break an invariant
 */
export function makeConversation(c: Conversation): Conversation {
  checkConversation(c);
  const value: Conversation = {
    role: c.role,
    ownIdentityKey: c.ownIdentityKey,
    peerIdentityKey: c.peerIdentityKey,
    conversationId: c.conversationId,
    ratchet: c.ratchet,
    established: c.established,
    handshakePublicKey: c.handshakePublicKey,
    sharedRequestKey: c.sharedRequestKey,
    peerHandshakeKey: c.peerHandshakeKey,
  };
  return redact(value, "Conversation", {
    role: c.role,
    established: c.established,
    peerIdentityKey: toBase64(c.peerIdentityKey),
  });
}

/** Builds a frozen {@linkcode OutboundRequest}. */
export function makeOutboundRequest(o: OutboundRequest): OutboundRequest {
  const { peerIdentityKey, sharedRequestKey, handshakeKeyPair, ratchetKeyPair } = o;
  return redact(
    { peerIdentityKey, sharedRequestKey, handshakeKeyPair, ratchetKeyPair },
    "OutboundRequest",
    { peerIdentityKey: toBase64(peerIdentityKey) },
  );
}

/** Builds a frozen {@linkcode InboundRequest}. */
export function makeInboundRequest(i: InboundRequest): InboundRequest {
  const value: InboundRequest = {
    name: i.name,
    onionAddress: i.onionAddress,
    port: i.port,
    identityKey: i.identityKey,
    handshakeKey: i.handshakeKey,
    ratchetKey: i.ratchetKey,
    createdAt: i.createdAt,
    sharedRequestKey: i.sharedRequestKey,
    requestPublicKey: i.requestPublicKey,
  };
  return redact(value, "InboundRequest", {
    name: i.name,
    onionAddress: i.onionAddress,
    port: i.port,
    identityKey: toBase64(i.identityKey),
  });
}

/** JSON form of an {@linkcode OutboundRequest} (secrets in base64). */
export interface OutboundRequestJson {
  /** {@linkcode HANDSHAKE_STATE_VERSION}. */
  version: number;
  /** `peerIdentityKey`, base64. */
  peerIdentityKey: string;
  /** `sharedRequestKey`, base64 (secret). */
  sharedRequestKey: string;
  /** The secret key of `handshakeKeyPair`, base64 (the public key is derived). */
  handshakeSecretKey: string;
  /** The secret key of `ratchetKeyPair`, base64 (the public key is derived). */
  ratchetSecretKey: string;
}

/** JSON form of an {@linkcode InboundRequest}. */
export interface InboundRequestJson {
  /** {@linkcode HANDSHAKE_STATE_VERSION}. */
  version: number;
  /** `name`, as received. */
  name: string;
  /** `onionAddress`, 56 lower-case characters. */
  onionAddress: string;
  /** `port`. */
  port: number;
  /** `identityKey`, base64. */
  identityKey: string;
  /** `handshakeKey`, base64. */
  handshakeKey: string;
  /** `ratchetKey`, base64. */
  ratchetKey: string;
  /** `createdAt`, ms since the Unix epoch. */
  createdAt: number;
  /** `sharedRequestKey`, base64 (secret). */
  sharedRequestKey: string;
  /** `requestPublicKey`, base64. */
  requestPublicKey: string;
}

/** JSON form of a {@linkcode Conversation}; `null` for an absent key. */
export interface ConversationJson {
  /** {@linkcode HANDSHAKE_STATE_VERSION}. */
  version: number;
  /** `role`. */
  role: "alice" | "bob";
  /** `ownIdentityKey`, base64. */
  ownIdentityKey: string;
  /** `peerIdentityKey`, base64. */
  peerIdentityKey: string;
  /** `conversationId`, base64 (secret). */
  conversationId: string;
  /** `established`. */
  established: boolean;
  /** `handshakePublicKey`, base64, or null. */
  handshakePublicKey: string | null;
  /** `sharedRequestKey`, base64 (secret), or null. */
  sharedRequestKey: string | null;
  /** `peerHandshakeKey`, base64, or null. */
  peerHandshakeKey: string | null;
  /** The Double Ratchet state's own JSON form (secrets). */
  ratchet: RatchetStateJson;
}

const b64OrNull = (v: Uint8Array | null): string | null => v === null ? null : toBase64(v);

/** Exports an outbound request. The result holds secrets: store it encrypted. */
export function serializeOutboundRequest(o: OutboundRequest): OutboundRequestJson {
  return {
    version: HANDSHAKE_STATE_VERSION,
    peerIdentityKey: toBase64(o.peerIdentityKey),
    sharedRequestKey: toBase64(o.sharedRequestKey),
    handshakeSecretKey: toBase64(o.handshakeKeyPair.secretKey),
    ratchetSecretKey: toBase64(o.ratchetKeyPair.secretKey),
  };
}

/**
 * Rebuilds an outbound request from its JSON form.
 *
 * @throws {ProtocolError} `bad_state` naming the bad field, never its value
 */
export function deserializeOutboundRequest(json: unknown): OutboundRequest {
  const o = fields(
    json,
    "version peerIdentityKey sharedRequestKey handshakeSecretKey ratchetSecretKey",
  );
  if (o.version !== HANDSHAKE_STATE_VERSION) fail("version is not supported");
  return makeOutboundRequest({
    peerIdentityKey: key(o.peerIdentityKey, "peerIdentityKey", true),
    sharedRequestKey: key(o.sharedRequestKey, "sharedRequestKey"),
    handshakeKeyPair: keyPairFromSecret(key(o.handshakeSecretKey, "handshakeSecretKey")),
    ratchetKeyPair: keyPairFromSecret(key(o.ratchetSecretKey, "ratchetSecretKey")),
  });
}

/** Exports an inbound request. The result holds a secret: store it encrypted. */
export function serializeInboundRequest(i: InboundRequest): InboundRequestJson {
  return {
    version: HANDSHAKE_STATE_VERSION,
    name: i.name,
    onionAddress: i.onionAddress,
    port: i.port,
    identityKey: toBase64(i.identityKey),
    handshakeKey: toBase64(i.handshakeKey),
    ratchetKey: toBase64(i.ratchetKey),
    createdAt: i.createdAt,
    sharedRequestKey: toBase64(i.sharedRequestKey),
    requestPublicKey: toBase64(i.requestPublicKey),
  };
}

/**
 * Rebuilds an inbound request from its JSON form (the signature was checked
 * when it arrived; the address, name, port and keys are checked again).
 *
 * @throws {ProtocolError} `bad_state` naming the bad field, never its value
 */
export function deserializeInboundRequest(json: unknown): InboundRequest {
  const o = fields(
    json,
    "version name onionAddress port identityKey handshakeKey ratchetKey createdAt " +
      "sharedRequestKey requestPublicKey",
  );
  if (o.version !== HANDSHAKE_STATE_VERSION) fail("version is not supported");
  if (typeof o.onionAddress !== "string") fail("onionAddress is not a string");
  try {
    parseOnionAddress(o.onionAddress as string);
  } catch {
    fail("onionAddress is not a valid v3 onion address");
  }
  if (/[^a-z2-7]/.test(o.onionAddress as string)) fail("onionAddress is not in canonical form");
  return makeInboundRequest({
    name: nameOf(o.name),
    onionAddress: o.onionAddress as string,
    port: checkPortNumber(o.port),
    identityKey: key(o.identityKey, "identityKey", true),
    handshakeKey: key(o.handshakeKey, "handshakeKey", true),
    ratchetKey: key(o.ratchetKey, "ratchetKey", true),
    createdAt: createdAtOf(o.createdAt),
    sharedRequestKey: key(o.sharedRequestKey, "sharedRequestKey"),
    requestPublicKey: key(o.requestPublicKey, "requestPublicKey"),
  });
}

/** Exports a conversation with its ratchet. The result holds secrets: store it encrypted. */
export function serializeConversation(c: Conversation): ConversationJson {
  return {
    version: HANDSHAKE_STATE_VERSION,
    role: c.role,
    ownIdentityKey: toBase64(c.ownIdentityKey),
    peerIdentityKey: toBase64(c.peerIdentityKey),
    conversationId: toBase64(c.conversationId),
    established: c.established,
    handshakePublicKey: b64OrNull(c.handshakePublicKey),
    sharedRequestKey: b64OrNull(c.sharedRequestKey),
    peerHandshakeKey: b64OrNull(c.peerHandshakeKey),
    ratchet: serializeRatchetState(c.ratchet),
  };
}

/**
 * Rebuilds a conversation from its JSON form, checking every key, the
 * stage invariants and the ratchet state.
 *
 * @throws {ProtocolError} `bad_state` naming the bad field, never its value
 * @throws {CryptoError} `bad_state` for a malformed ratchet state
 */
export function deserializeConversation(json: unknown): Conversation {
  const o = fields(
    json,
    "version role ownIdentityKey peerIdentityKey conversationId established " +
      "handshakePublicKey sharedRequestKey peerHandshakeKey ratchet",
  );
  if (o.version !== HANDSHAKE_STATE_VERSION) fail("version is not supported");
  if (o.role !== "alice" && o.role !== "bob") fail("role is not alice or bob");
  const ownIdentityKey = key(o.ownIdentityKey, "ownIdentityKey", true);
  const peerIdentityKey = key(o.peerIdentityKey, "peerIdentityKey", true);
  if (equalBytes(ownIdentityKey, peerIdentityKey)) fail("peer identity key is our own");
  return makeConversation({
    role: o.role as "alice" | "bob",
    ownIdentityKey,
    peerIdentityKey,
    conversationId: key(o.conversationId, "conversationId"),
    ratchet: deserializeRatchetState(o.ratchet),
    established: o.established as boolean,
    handshakePublicKey: keyOrNull(o.handshakePublicKey, "handshakePublicKey", true),
    sharedRequestKey: keyOrNull(o.sharedRequestKey, "sharedRequestKey"),
    peerHandshakeKey: keyOrNull(o.peerHandshakeKey, "peerHandshakeKey", true),
  });
}
