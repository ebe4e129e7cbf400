/**
 * The dispatch candidates of one peer (lib/protocol/dispatch.ts's
 * `BookCandidates`), kept by the core (core.ts) as its contacts and
 * outbound requests come and go: the table of every contact's hSub (its
 * K_r, scanned at once for a packet, nothing built per packet), each
 * contact's slot in it, and the reply-key candidates (Bob's conversations
 * before the outbound requests), rebuilt only after a change.
 *
 * @module
 */

import type { KeyPair } from "../crypto/keys.ts";
import type { BookCandidates, ConversationEntry, ReplyEntry } from "../protocol/dispatch.ts";
import type { PacketKeys } from "../protocol/packet_common.ts";
import { HsubTable } from "../protocol/packets.ts";
import { regularKeysOf, replyKeysOf } from "../protocol/session.ts";
import type { Contact } from "./contact.ts";
import type { OutboundEntry } from "./records.ts";
import { conversationHsub, conversationIndex } from "./stored_conversation.ts";

/** A contact as a candidate of the dispatcher: its keys derived when a packet first needs them. */
class ContactEntry implements ConversationEntry<Contact> {
  readonly handle: Contact;
  #keys: PacketKeys | undefined;

  constructor(contact: Contact) {
    this.handle = contact;
  }

  get conversationId(): Uint8Array {
    return conversationIndex(this.handle.record).conversationId;
  }

  get keys(): PacketKeys {
    return this.#keys ??= regularKeysOf(this.conversationId);
  }
}

/** The candidates a received packet is identified against, kept up to date by the core. */
export class Candidates {
  readonly #identity: KeyPair;
  readonly #contacts: () => Iterable<Contact>;
  /** Every contact's K_r, scanned at once for a packet's hSub (packet_common.ts). */
  readonly #table: HsubTable<ConversationEntry<Contact>>;
  /** Each contact's slot in the table and its candidate. */
  readonly #slots = new Map<Contact, { slot: number; candidate: ConversationEntry<Contact> }>();
  /** Reply-key candidates: null once a contact came or went ... */
  #replies: ReplyEntry<Contact, OutboundEntry>[] | null = null;
  /** ... and stale once `requests.outbound` is another array than this one. */
  #repliesOutbound: readonly OutboundEntry[] | null = null;

  /** Candidates of the peer `identity` whose contacts are `contacts` (a live view). */
  constructor(identity: KeyPair, contacts: () => Iterable<Contact>) {
    this.#identity = identity;
    this.#contacts = contacts;
    this.#table = new HsubTable(identity.publicKey);
  }

  /** A contact came: its slot in the table. */
  add(contact: Contact): void {
    const candidate = new ContactEntry(contact);
    const slot = this.#table.add(candidate, conversationHsub(contact.record));
    this.#slots.set(contact, { slot, candidate });
    this.#replies = null;
  }

  /** A contact went: its slot is freed. */
  remove(contact: Contact): void {
    const held = this.#slots.get(contact);
    if (held !== undefined) this.#table.remove(held.slot);
    this.#slots.delete(contact);
    this.#replies = null;
  }

  /**
   * The candidates, with `first` (the contact an inbound connection already
   * belongs to) tried before the table, then the reply keys of our
   * conversations and of `outbound` (the outbound requests: their array is
   * replaced on every change, so a new array means new candidates).
   */
  of(outbound: readonly OutboundEntry[], first?: Contact): BookCandidates<Contact, OutboundEntry> {
    if (this.#replies === null || this.#repliesOutbound !== outbound) {
      this.#repliesOutbound = outbound;
      this.#replies = this.#buildReplies(outbound);
    }
    const mine = first !== undefined ? this.#slots.get(first)?.candidate : undefined;
    return {
      ownIdentity: this.#identity,
      conversations: this.#table,
      ...(mine !== undefined ? { first: mine } : {}),
      pendingRequests: this.#replies,
      acceptRequests: true,
    };
  }

  #buildReplies(outbound: readonly OutboundEntry[]): ReplyEntry<Contact, OutboundEntry>[] {
    const pendingRequests: ReplyEntry<Contact, OutboundEntry>[] = [];
    for (const contact of this.#contacts()) {
      const { role, sharedRequestKey } = conversationIndex(contact.record);
      if (role === "bob" && sharedRequestKey !== null) {
        pendingRequests.push({
          sharedRequestKey,
          keys: replyKeysOf(sharedRequestKey),
          conversation: contact,
        });
      }
    }
    for (const entry of outbound) {
      const { sharedRequestKey } = entry.state;
      pendingRequests.push({
        sharedRequestKey,
        keys: replyKeysOf(sharedRequestKey),
        outbound: entry,
      });
    }
    return pendingRequests;
  }
}
