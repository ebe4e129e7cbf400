/**
 * What identifies a conversation without its ratchet
 * ({@linkcode ConversationIndex}), kept in memory for every conversation:
 * for a stored one, read from its head as base64 text and decoded when
 * first asked for ({@linkcode StoredIndex}), so that start-up decodes no
 * key (stored_conversation.ts).
 *
 * @module
 */

import { fromBase64 } from "../crypto/bytes.ts";
import { invalid, key64 } from "./_json.ts";
import type { IndexJson } from "./conversation_json.ts";

/** What identifies a conversation without its ratchet: kept in memory for every conversation. */
export interface ConversationIndex {
  /** Who made the request: Bob; who accepted it: Alice. */
  readonly role: "alice" | "bob";
  /** Whether regular packets are sent (handshake_state.ts). */
  readonly established: boolean;
  /** The contact's identity public key. */
  readonly peerIdentityKey: Uint8Array;
  /** The conversation ID: keys the regular packets. */
  readonly conversationId: Uint8Array;
  /** Alice before Stage 3, and Bob while he still opens replies. */
  readonly sharedRequestKey: Uint8Array | null;
}

/** The index of a stored record: its keys in base64, decoded when first asked for. */
export class StoredIndex implements ConversationIndex {
  /** The session's role. */
  readonly role: "alice" | "bob";
  /** Whether regular packets are sent. */
  readonly established: boolean;
  /** `peerIdentityKey` in base64 (compared without decoding). */
  readonly peerKey64: string;
  readonly #conversationId: string;
  readonly #shared: string | null;
  #peer: Uint8Array | undefined;
  #id: Uint8Array | undefined;
  #sharedKey: Uint8Array | undefined;

  /** Reads the index fields of a head (or of a first-layout file's session); throws naming a bad one. */
  constructor(json: unknown) {
    const s = json as Record<string, unknown> | null;
    if (typeof s !== "object" || s === null) invalid("session is not an object");
    if (s.role !== "alice" && s.role !== "bob") invalid("session role is not alice or bob");
    if (typeof s.established !== "boolean") invalid("session established is not a boolean");
    this.role = s.role;
    this.established = s.established;
    this.peerKey64 = key64(s.peerIdentityKey, "session peerIdentityKey");
    this.#conversationId = key64(s.conversationId, "session conversationId");
    this.#shared = s.sharedRequestKey === null
      ? null
      : key64(s.sharedRequestKey, "session sharedRequestKey");
  }

  get peerIdentityKey(): Uint8Array {
    return this.#peer ??= fromBase64(this.peerKey64);
  }

  get conversationId(): Uint8Array {
    return this.#id ??= fromBase64(this.#conversationId);
  }

  /** Whether there is a shared request key (told without decoding it). */
  get hasSharedRequestKey(): boolean {
    return this.#shared !== null;
  }

  get sharedRequestKey(): Uint8Array | null {
    if (this.#shared === null) return null;
    return this.#sharedKey ??= fromBase64(this.#shared);
  }

  /** The index as a head writes it. */
  toJson(): IndexJson {
    return {
      role: this.role,
      established: this.established,
      peerIdentityKey: this.peerKey64,
      conversationId: this.#conversationId,
      sharedRequestKey: this.#shared,
    };
  }
}
