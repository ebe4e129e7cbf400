/**
 * What a conversation remembers of what it received, persisted with it,
 * both bounded with the oldest entries falling out first:
 *
 * - {@linkcode SeenIds}: the element IDs received and handled, so that an
 *   element that comes again under another ratchet message (a sender
 *   re-seals an entry its receiver could not read, see contact.ts) is
 *   delivered once. The bound ({@linkcode SeenIds.MAX}) is four times the
 *   sender's outbox bound (`MAX_OUTBOX_ELEMENTS`), and a sender re-sends an
 *   unacknowledged element as soon as a later one is acknowledged, so a
 *   re-sent element is always still in the window.
 * - {@linkcode ReceivedDigests}: the wire name (`messageDigest`) of each
 *   received ratchet message that carried (part of) an element its sender
 *   keeps until acknowledged, with that element's ID. A sender re-sends such
 *   an element as the very same bytes, whose message key the receiver
 *   already used, so the copy no longer decrypts: this map is how the
 *   receiver recognises it and acknowledges it again (receive.ts).
 *
 * @module
 */

/** Drops the oldest keys of `items` (insertion order) beyond `max`. */
function evictOldest(items: Set<string> | Map<string, string>, max: number): void {
  while (items.size > max) items.delete(items.keys().next().value as string);
}

/** Insertion-ordered set of hex IDs with a size bound. */
export class SeenIds {
  /** Most IDs kept. */
  static readonly MAX = 4096;
  readonly #ids = new Set<string>();

  /** A set holding `ids` (the newest {@linkcode SeenIds.MAX} of them). */
  constructor(ids: Iterable<string> = []) {
    for (const id of ids) this.add(id);
  }

  /** Whether `id` was received. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Records `id`, dropping the oldest beyond the bound. */
  add(id: string): void {
    this.#ids.delete(id);
    this.#ids.add(id);
    evictOldest(this.#ids, SeenIds.MAX);
  }

  /** How many IDs are kept. */
  get size(): number {
    return this.#ids.size;
  }

  /** The IDs, oldest first (the persisted form). */
  toArray(): string[] {
    return [...this.#ids];
  }
}

/** Insertion-ordered map from hex message digests to hex element IDs, with a size bound. */
export class ReceivedDigests {
  /**
   * Most digests kept: about a sending chain's worth of packets (the
   * sender's SEND_CAP) twice over. A copy comes when its acknowledgement was
   * lost, and its sender re-sends it first on the next connection, so it
   * comes back long before this many later packets have arrived; past that,
   * its sender re-seals it (contact.ts) and the element ID finds it.
   */
  static readonly MAX = 1024;
  readonly #ids = new Map<string, string>();

  /** A map holding `entries` (the newest {@linkcode ReceivedDigests.MAX} of them). */
  constructor(entries: Iterable<[digest: string, id: string]> = []) {
    for (const [digest, id] of entries) this.add(digest, id);
  }

  /** The element ID of the message named `digest`, if it was received. */
  get(digest: string): string | undefined {
    return this.#ids.get(digest);
  }

  /** Records that the message named `digest` carried element `id`. */
  add(digest: string, id: string): void {
    this.#ids.delete(digest);
    this.#ids.set(digest, id);
    evictOldest(this.#ids, ReceivedDigests.MAX);
  }

  /** Forgets `digest` (its packet was not accepted after all). */
  delete(digest: string): void {
    this.#ids.delete(digest);
  }

  /** How many digests are kept. */
  get size(): number {
    return this.#ids.size;
  }

  /** The pairs, oldest first (the persisted form). */
  toArray(): [digest: string, id: string][] {
    return [...this.#ids];
  }
}
