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
 * Persistence in blocks: IDs are numbered in the order they arrive, and
 * block `b` holds those numbered `64b` to `64b + 63`. A save writes only the
 * blocks that changed since the last one (the last, and any new), and the
 * oldest IDs fall out a whole block at a time, so the window holds between
 * `MAX - 64` and `MAX` IDs and a save never rewrites all of them.
 *
 * @module
 */

/** IDs per persisted block. */
export const SEEN_BLOCK = 64;

/** What a save of the window must write: blocks (number → IDs) and blocks to remove. */
export interface SeenChanges {
  /** Blocks to write: number and IDs. */
  put: [number, string[]][];
  /** Numbers of the blocks that fell out of the window. */
  delete: number[];
}

/** Insertion-ordered set of hex IDs with a size bound. */
export class SeenIds {
  /** Most IDs kept. */
  static readonly MAX = 4096;
  /** Most blocks a stored window has: MAX / SEEN_BLOCK of them, and one partly filled at each end. */
  static readonly MAX_BLOCKS = SeenIds.MAX / SEEN_BLOCK + 2;
  readonly #ids = new Set<string>();
  /** The same IDs in order, oldest first (blocks are slices of it). */
  #order: string[] = [];
  /** Number of the oldest ID kept (a multiple of SEEN_BLOCK). */
  #first = 0;
  /** Number the next ID gets. */
  #next = 0;
  /** `#first` and `#next` at the last save; null when unknown (write every block). */
  #saved: { first: number; next: number } | null = null;

  /** A window holding `ids`, oldest first, numbered from `first` (a multiple of SEEN_BLOCK). */
  constructor(ids: Iterable<string> = [], first = 0) {
    this.#first = this.#next = first - (first % SEEN_BLOCK);
    for (const id of ids) this.add(id);
  }

  /**
   * Rebuilds a window from its stored blocks (number → IDs, each ID checked
   * by the caller): numbered from the first block on. Marked saved when the
   * blocks are as a save writes them (all full but the last, none missing).
   */
  static fromBlocks(blocks: [number, string[]][]): SeenIds {
    blocks.sort((a, b) => a[0] - b[0]);
    const first = (blocks[0]?.[0] ?? 0) * SEEN_BLOCK;
    const seen = new SeenIds(blocks.flatMap(([, ids]) => ids), first);
    const exact = blocks.every(([n, ids], i) =>
      n === blocks[0]![0] + i && (i === blocks.length - 1 || ids.length === SEEN_BLOCK)
    );
    if (exact && seen.size === blocks.reduce((sum, [, ids]) => sum + ids.length, 0)) {
      seen.#saved = { first: seen.#first, next: seen.#next };
    }
    return seen;
  }

  /** Whether `id` was received. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Records `id` (once: a known ID keeps its place), dropping the oldest block beyond the bound. */
  add(id: string): void {
    if (this.#ids.has(id)) return;
    this.#ids.add(id);
    this.#order.push(id);
    this.#next++;
    if (this.#ids.size <= SeenIds.MAX) return;
    const drop = SEEN_BLOCK - (this.#first % SEEN_BLOCK);
    for (const old of this.#order.splice(0, drop)) this.#ids.delete(old);
    this.#first += drop;
  }

  /** How many IDs are kept. */
  get size(): number {
    return this.#ids.size;
  }

  /** The IDs, oldest first. */
  toArray(): string[] {
    return [...this.#order];
  }

  /**
   * The blocks a save must write since the last one (every block when
   * unknown), and marks them saved; call {@linkcode SeenIds.unsaved} if
   * that save fails.
   */
  changes(): SeenChanges {
    const ids = this.#order;
    const blockOf = (n: number) => Math.floor(n / SEEN_BLOCK);
    const saved = this.#saved;
    const from = saved === null ? blockOf(this.#first) : blockOf(Math.max(saved.next, this.#first));
    const put: [number, string[]][] = [];
    if (this.#next > this.#first && (saved === null || this.#next > saved.next)) {
      for (let b = from; b <= blockOf(this.#next - 1); b++) {
        const start = Math.max(b * SEEN_BLOCK, this.#first) - this.#first;
        put.push([b, ids.slice(start, (b + 1) * SEEN_BLOCK - this.#first)]);
      }
    }
    const del: number[] = [];
    if (saved !== null) {
      for (let b = blockOf(saved.first); b < blockOf(this.#first); b++) del.push(b);
    }
    this.#saved = { first: this.#first, next: this.#next };
    return { put, delete: del };
  }

  /** Whether the last save is known (else the next writes every block). */
  get saved(): boolean {
    return this.#saved !== null;
  }

  /** The last save failed: the next one writes every block. */
  unsaved(): void {
    this.#saved = null;
  }
}
