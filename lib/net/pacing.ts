/**
 * How fast the listener serves strangers, so that a flood of them costs a
 * bounded share of the one thread everything runs on:
 *
 * - {@linkcode StrangerLane}: work for unidentified connections runs one
 *   item at a time; an item whose synchronous part took `t` earns the lane
 *   a rest of `t × (1 / share − 1)`, so it never takes more than its share
 *   of the time, whatever the item costs (more conversations make
 *   identification dearer, and the rest grows with it). Idle time counts
 *   as rest; the lane waits only once it owes {@linkcode TIME_SLICE_MS}, so
 *   it yields to I/O after a few milliseconds of work at most, but does not
 *   pay a timer (about 150 µs of CPU here) for every item.
 * - {@linkcode TokenBucket}: a rate with a burst, for how many new
 *   connections the listener accepts a second; past it, it stops calling
 *   `accept()` and the kernel's backlog holds (then refuses) the rest, which
 *   costs us nothing.
 *
 * Knows nothing of connections or packets.
 *
 * @module
 */

/** Longest stretch of the stranger lane's work (ms) before it yields to I/O, and its shortest rest. */
export const TIME_SLICE_MS = 5;

/** A delay that {@linkcode WakeableDelay.wake} can end early. */
export interface WakeableDelay {
  /** Resolves after the delay, or at once on `wake()`. */
  readonly done: Promise<void>;
  /** Ends the delay now (idempotent). */
  wake(): void;
}

/** Starts a delay of `ms` that can be ended early (a listener closing, say). */
export function wakeableDelay(ms: number): WakeableDelay {
  const { promise, resolve } = Promise.withResolvers<void>();
  const timer = setTimeout(resolve, ms);
  return {
    done: promise,
    wake: () => {
      clearTimeout(timer);
      resolve();
    },
  };
}

interface LaneItem {
  /** False once the item is not worth running (its connection was refused). */
  readonly wanted: () => boolean;
  readonly work: () => Promise<void> | void;
  readonly done: { resolve: () => void; reject: (e: unknown) => void };
}

/** One-at-a-time work under a share of the time (see the module header). */
export class StrangerLane {
  readonly #share: number;
  readonly #queue: LaneItem[] = [];
  #running = false;
  /** When the lane has rested off the work it did (a time of `performance.now()`). */
  #freeAt = 0;
  #rest: WakeableDelay | null = null;
  #closed = false;

  /** A lane that spends at most `share` (0 < share ≤ 1) of the time. */
  constructor(share: number) {
    if (!(share > 0 && share <= 1)) {
      throw new RangeError(`Cannot pace: share ${share} is not in (0, 1]`);
    }
    this.#share = share;
  }

  /**
   * Runs `work` in its turn (unless `wanted()` says no by then); resolves
   * once its promise did. Its synchronous part is what the lane accounts.
   */
  run(work: () => Promise<void> | void, wanted: () => boolean): Promise<void> {
    const done = Promise.withResolvers<void>();
    if (this.#closed) {
      done.resolve();
      return done.promise;
    }
    this.#queue.push({ work, wanted, done });
    void this.#pump();
    return done.promise;
  }

  /** Releases queued work without running it; later work resolves at once. */
  close(): void {
    this.#closed = true;
    this.#rest?.wake();
    for (const item of this.#queue.splice(0)) item.done.resolve();
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        // small debts are carried (idle time pays them off); past a slice the lane rests
        const owed = this.#freeAt - performance.now();
        if (owed >= TIME_SLICE_MS) {
          this.#rest = wakeableDelay(owed);
          await this.#rest.done;
          this.#rest = null;
          continue;
        }
        const item = this.#queue.shift()!;
        if (!item.wanted()) {
          item.done.resolve();
          continue;
        }
        const start = performance.now();
        let result: Promise<void> | void;
        try {
          result = item.work();
        } catch (e) {
          result = Promise.reject(e);
        }
        const end = performance.now();
        this.#freeAt = Math.max(this.#freeAt, end) + (end - start) * (1 / this.#share - 1);
        Promise.resolve(result).then(item.done.resolve, item.done.reject);
        // let the item's own continuations (and other ready work) run between items
        await Promise.resolve();
      }
    } finally {
      this.#running = false;
    }
  }
}

/** Tokens an empty bucket waits for before it serves again (a timer wake-up costs ~150 µs here). */
const BATCH_TOKENS = 5;

/** A rate with a burst: `take()` resolves when a token is free, taking it. */
export class TokenBucket {
  readonly #perSecond: number;
  readonly #burst: number;
  #tokens: number;
  #at = performance.now();
  #wait: WakeableDelay | null = null;

  /** `perSecond` tokens a second, at most `burst` saved up (starts full). */
  constructor(perSecond: number, burst: number) {
    if (!(perSecond > 0) || !(burst >= 1)) {
      throw new RangeError(`Cannot pace: ${perSecond}/s with a burst of ${burst}`);
    }
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Waits for a token and takes it; `cancel()` ends a wait early (then no token is taken). */
  async take(): Promise<void> {
    this.#refill();
    if (this.#tokens < 1) {
      // wait for a few tokens at once: one wake-up serves several takes
      const want = Math.min(this.#burst, BATCH_TOKENS);
      this.#wait = wakeableDelay(((want - this.#tokens) / this.#perSecond) * 1000);
      await this.#wait.done;
      this.#wait = null;
      this.#refill();
    }
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  /** Ends a pending `take()` at once. */
  cancel(): void {
    this.#wait?.wake();
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#at) / 1000) * this.#perSecond,
    );
    this.#at = now;
  }
}
