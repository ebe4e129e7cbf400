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
 * Both are persisted in blocks of 64 (block_window.ts): a save writes the
 * last block and any new one, and the oldest entries fall out a block at a
 * time, so each holds between `MAX - 64` and `MAX` entries.
 *
 * @module
 */

import { BLOCK_ENTRIES, BlockWindow } from "./block_window.ts";

/** IDs per persisted block. */
export const SEEN_BLOCK: number = BLOCK_ENTRIES;

/** What a save must write: blocks (number → entries in their JSON form) and blocks to remove. */
export interface SeenChanges<T = string> {
  /** Blocks to write: number and entries. */
  put: [number, T[]][];
  /** Numbers of the blocks that fell out of the window. */
  delete: number[];
}

/** Insertion-ordered set of hex IDs with a size bound. */
export class SeenIds {
  /** Most IDs kept. */
  static readonly MAX = 4096;
  /** Most blocks a stored window has: MAX / SEEN_BLOCK of them, and one partly filled at each end. */
  static readonly MAX_BLOCKS: number = SeenIds.MAX / SEEN_BLOCK + 2;
  #window: BlockWindow<true>;

  /** A window holding `ids`, oldest first, numbered from `first` (a multiple of SEEN_BLOCK). */
  constructor(ids: Iterable<string> = [], first = 0) {
    this.#window = new BlockWindow(SeenIds.MAX, first);
    for (const id of ids) this.add(id);
  }

  /**
   * Rebuilds a window from its stored blocks (number → IDs, each ID checked
   * by the caller). Marked saved when the blocks are as a save writes them.
   */
  static fromBlocks(blocks: [number, string[]][]): SeenIds {
    const seen = new SeenIds();
    seen.#window = BlockWindow.fromBlocks(
      SeenIds.MAX,
      blocks.map(([n, ids]) => [n, ids.map((id) => [id, true] as [string, true])]),
    );
    return seen;
  }

  /** Whether `id` was received. */
  has(id: string): boolean {
    return this.#window.has(id);
  }

  /** Records `id` (once: a known ID keeps its place), dropping the oldest block beyond the bound. */
  add(id: string): void {
    this.#window.add(id, true);
  }

  /** How many IDs are kept. */
  get size(): number {
    return this.#window.size;
  }

  /** The IDs, oldest first. */
  toArray(): string[] {
    return this.#window.keys();
  }

  /** The blocks a save must write (see BlockWindow.changes), marked saved. */
  changes(): SeenChanges {
    const { put, delete: del } = this.#window.changes();
    return { put: put.map(([n, entries]) => [n, entries.map(([id]) => id)]), delete: del };
  }

  /** Whether the last save is known (else the next writes every block). */
  get saved(): boolean {
    return this.#window.saved;
  }

  /** The last save failed: the next one writes every block. */
  unsaved(): void {
    this.#window.unsaved();
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
  /** Most blocks a stored map has: MAX / SEEN_BLOCK of them, and one partly filled at each end. */
  static readonly MAX_BLOCKS: number = ReceivedDigests.MAX / SEEN_BLOCK + 2;
  #window: BlockWindow<string>;

  /** A map holding `entries` (the newest {@linkcode ReceivedDigests.MAX} of them, by blocks). */
  constructor(entries: Iterable<[digest: string, id: string]> = []) {
    this.#window = new BlockWindow(ReceivedDigests.MAX);
    for (const [digest, id] of entries) this.add(digest, id);
  }

  /** Rebuilds a map from its stored blocks (number → pairs, each checked by the caller). */
  static fromBlocks(blocks: [number, [string, string][]][]): ReceivedDigests {
    const digests = new ReceivedDigests();
    digests.#window = BlockWindow.fromBlocks(ReceivedDigests.MAX, blocks);
    return digests;
  }

  /** The element ID of the message named `digest`, if it was received. */
  get(digest: string): string | undefined {
    return this.#window.get(digest);
  }

  /** Records that the message named `digest` carried element `id` (a known digest keeps its ID). */
  add(digest: string, id: string): void {
    this.#window.add(digest, id);
  }

  /** How many digests are kept. */
  get size(): number {
    return this.#window.size;
  }

  /** The pairs, oldest first. */
  toArray(): [digest: string, id: string][] {
    return this.#window.entries();
  }

  /** The blocks a save must write (see BlockWindow.changes), marked saved. */
  changes(): SeenChanges<[string, string]> {
    return this.#window.changes();
  }

  /** Whether the last save is known (else the next writes every block). */
  get saved(): boolean {
    return this.#window.saved;
  }

  /** The last save failed: the next one writes every block. */
  unsaved(): void {
    this.#window.unsaved();
  }
}
