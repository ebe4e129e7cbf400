/**
 * The bounded set of element IDs a conversation has received, persisted
 * with it: re-sent elements (the sender re-sends what was not acknowledged)
 * are recognised and delivered once. Oldest IDs fall out first.
 *
 * The bound ({@linkcode SeenIds.MAX}) is four times the sender's outbox
 * bound (`MAX_OUTBOX_ELEMENTS`), and a sender re-sends an unacknowledged
 * element as soon as a later one is acknowledged, so a re-sent element is
 * always still in the window.
 *
 * @module
 */

/** Insertion-ordered set of hex IDs with a size bound. */
export class SeenIds {
  /** Most IDs kept. */
  static readonly MAX = 4096;
  readonly #ids = new Set<string>();

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
    while (this.#ids.size > SeenIds.MAX) {
      const oldest = this.#ids.values().next().value as string;
      this.#ids.delete(oldest);
    }
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
