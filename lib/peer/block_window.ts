/**
 * A bounded, insertion-ordered map persisted in blocks, the form behind a
 * conversation's received IDs and digests (seen_ids.ts): entries are
 * numbered in the order they arrive, and block `b` holds those numbered
 * `64b` to `64b + 63`. A save writes only the blocks that changed since the
 * last one (the last, and any new), and the oldest entries fall out a whole
 * block at a time, so the window holds between `max - 64` and `max` entries
 * and a save never rewrites all of them. An entry added again keeps its
 * place (and its first value).
 *
 * @module
 */

/** Entries per persisted block. */
export const BLOCK_ENTRIES = 64;

/** What a save of a window must write: blocks (number → entries) and blocks to remove. */
export interface BlockChanges<V> {
  /** Blocks to write: number and entries, oldest first. */
  put: [number, [key: string, value: V][]][];
  /** Numbers of the blocks that fell out of the window. */
  delete: number[];
}

/** Insertion-ordered map of at most `max` entries, evicted and persisted by blocks. */
export class BlockWindow<V> {
  readonly #max: number;
  readonly #values = new Map<string, V>();
  /** The keys in order, oldest first (blocks are slices of it). */
  #order: string[] = [];
  /** Number of the oldest entry kept (a multiple of BLOCK_ENTRIES). */
  #first = 0;
  /** Number the next entry gets. */
  #next = 0;
  /** `#first` and `#next` at the last save; null when unknown (write every block). */
  #saved: { first: number; next: number } | null = null;

  /** A window of at most `max` entries (a multiple of BLOCK_ENTRIES), numbered from `first`. */
  constructor(max: number, first = 0) {
    this.#max = max;
    this.#first = this.#next = first - (first % BLOCK_ENTRIES);
  }

  /**
   * Rebuilds a window from its stored blocks (each entry checked by the
   * caller), numbered from the first block on. Marked saved when the blocks
   * are as a save writes them (all full but the last, none missing).
   */
  static fromBlocks<V>(max: number, blocks: [number, [string, V][]][]): BlockWindow<V> {
    blocks.sort((a, b) => a[0] - b[0]);
    const window = new BlockWindow<V>(max, (blocks[0]?.[0] ?? 0) * BLOCK_ENTRIES);
    let count = 0;
    for (const [, entries] of blocks) {
      for (const [key, value] of entries) window.add(key, value);
      count += entries.length;
    }
    const exact = blocks.every(([n, entries], i) =>
      n === blocks[0]![0] + i && (i === blocks.length - 1 || entries.length === BLOCK_ENTRIES)
    );
    if (exact && window.size === count) {
      window.#saved = { first: window.#first, next: window.#next };
    }
    return window;
  }

  /** Whether `key` is kept. */
  has(key: string): boolean {
    return this.#values.has(key);
  }

  /** The value of `key`, if kept. */
  get(key: string): V | undefined {
    return this.#values.get(key);
  }

  /** Adds `key` (once: a known key keeps its place), dropping the oldest block beyond the bound. */
  add(key: string, value: V): void {
    if (this.#values.has(key)) return;
    this.#values.set(key, value);
    this.#order.push(key);
    this.#next++;
    if (this.#values.size <= this.#max) return;
    const drop = BLOCK_ENTRIES - (this.#first % BLOCK_ENTRIES);
    for (const old of this.#order.splice(0, drop)) this.#values.delete(old);
    this.#first += drop;
  }

  /** How many entries are kept. */
  get size(): number {
    return this.#values.size;
  }

  /** The keys, oldest first. */
  keys(): string[] {
    return [...this.#order];
  }

  /** The entries, oldest first. */
  entries(): [string, V][] {
    return this.#order.map((key) => [key, this.#values.get(key)!]);
  }

  /**
   * The blocks a save must write since the last one (every block when
   * unknown), and marks them saved; call {@linkcode BlockWindow.unsaved} if
   * that save fails.
   */
  changes(): BlockChanges<V> {
    const blockOf = (n: number) => Math.floor(n / BLOCK_ENTRIES);
    const saved = this.#saved;
    const from = saved === null ? blockOf(this.#first) : blockOf(Math.max(saved.next, this.#first));
    const put: BlockChanges<V>["put"] = [];
    if (this.#next > this.#first && (saved === null || this.#next > saved.next)) {
      for (let b = from; b <= blockOf(this.#next - 1); b++) {
        const start = Math.max(b * BLOCK_ENTRIES, this.#first) - this.#first;
        const keys = this.#order.slice(start, (b + 1) * BLOCK_ENTRIES - this.#first);
        put.push([b, keys.map((key) => [key, this.#values.get(key)!])]);
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
