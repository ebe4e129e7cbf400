/**
 * Exponential back-off with jitter, as a pure value: no clock, no global
 * randomness. The caller sleeps; this module only says for how long.
 *
 * Attempt `n` (counting from 0) has a ceiling `min(maxMs, minMs * factor^n)`;
 * the delay is drawn uniformly from `[ceiling * (1 - jitter), ceiling]`, so
 * ceilings never decrease, never exceed `maxMs`, and peers that lost the same
 * contact at the same moment do not retry in lock-step.
 *
 * @module
 */

import type { Rng } from "../crypto/bytes.ts";

/** Default shortest delay: tor's "descriptor not found" clears in seconds. */
export const DEFAULT_BACKOFF_MIN_MS = 500;
/** Default longest delay between two attempts to reach a contact. */
export const DEFAULT_BACKOFF_MAX_MS = 30_000;
/** Default growth of the ceiling per attempt. */
export const DEFAULT_BACKOFF_FACTOR = 2;
/** Default share of the ceiling that jitter may remove. */
export const DEFAULT_BACKOFF_JITTER = 0.5;
/** Bytes of randomness per draw: 32 bits is ample resolution for a delay. */
const JITTER_BYTES = 4;
/** 2^32, to map a 32-bit draw to [0, 1). */
const UINT32_RANGE = 0x1_0000_0000;

/** Parameters of a {@linkcode Backoff}. */
export interface BackoffOptions {
  /** Ceiling of the first delay, in milliseconds (> 0). */
  minMs?: number;
  /** Largest ceiling, in milliseconds (>= minMs). */
  maxMs?: number;
  /** Growth of the ceiling per attempt (>= 1). */
  factor?: number;
  /** Share of the ceiling jitter may remove, in [0, 1]; 0 disables jitter. */
  jitter?: number;
}

/** Fully resolved, validated {@linkcode BackoffOptions}. */
export type BackoffParams = Required<BackoffOptions>;

/** Validates options and fills in defaults; throws `RangeError` on bad values. */
export function backoffParams(options: BackoffOptions = {}): BackoffParams {
  const p: BackoffParams = {
    minMs: options.minMs ?? DEFAULT_BACKOFF_MIN_MS,
    maxMs: options.maxMs ?? Math.max(DEFAULT_BACKOFF_MAX_MS, options.minMs ?? 0),
    factor: options.factor ?? DEFAULT_BACKOFF_FACTOR,
    jitter: options.jitter ?? DEFAULT_BACKOFF_JITTER,
  };
  if (!Number.isFinite(p.minMs) || p.minMs <= 0) {
    throw new RangeError(`Cannot create back-off: minMs ${p.minMs} is not a positive number`);
  }
  if (!Number.isFinite(p.maxMs) || p.maxMs < p.minMs) {
    throw new RangeError(`Cannot create back-off: maxMs ${p.maxMs} is below minMs ${p.minMs}`);
  }
  if (!Number.isFinite(p.factor) || p.factor < 1) {
    throw new RangeError(`Cannot create back-off: factor ${p.factor} is below 1`);
  }
  if (!(p.jitter >= 0 && p.jitter <= 1)) {
    throw new RangeError(`Cannot create back-off: jitter ${p.jitter} is outside [0, 1]`);
  }
  return p;
}

/** The ceiling of attempt `attempt` (0-based): `min(maxMs, minMs * factor^attempt)`. */
export function backoffCeiling(params: BackoffParams, attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`Cannot compute back-off: attempt ${attempt} is not a whole number`);
  }
  // factor^attempt overflows to Infinity for large attempts; min() caps it.
  return Math.min(params.maxMs, params.minMs * params.factor ** attempt);
}

/**
 * The delay of attempt `attempt` for a uniform draw `u` in [0, 1):
 * `ceiling * (1 - jitter * u)`, rounded to whole milliseconds.
 */
export function backoffDelay(params: BackoffParams, attempt: number, u: number): number {
  if (!(u >= 0 && u < 1)) {
    throw new RangeError(`Cannot compute back-off: draw ${u} is outside [0, 1)`);
  }
  const ceiling = backoffCeiling(params, attempt);
  return Math.round(ceiling * (1 - params.jitter * u));
}

/** A uniform draw in [0, 1) from 32 bits of `rng`. */
export function uniform(rng: Rng): number {
  const b = rng(JITTER_BYTES);
  const v = ((b[0] ?? 0) << 24 | (b[1] ?? 0) << 16 | (b[2] ?? 0) << 8 | (b[3] ?? 0)) >>> 0;
  return v / UINT32_RANGE;
}

/**
 * A stateful back-off sequence: `next()` returns the delay before the next
 * retry and advances; `reset()` starts over (call it after a success).
 */
export class Backoff {
  /** The checked parameters in use (defaults filled in). */
  readonly params: BackoffParams;
  readonly #rng: Rng;
  /** Delays handed out since the last reset. */
  #count = 0;
  /** Exponent of the next ceiling; stops growing once it reaches maxMs. */
  #step = 0;

  /** A back-off at its first attempt, jittered from `rng`. */
  constructor(rng: Rng, options: BackoffOptions = {}) {
    this.params = backoffParams(options);
    this.#rng = rng;
  }

  /** How many delays have been handed out since the last reset. */
  get attempt(): number {
    return this.#count;
  }

  /** The delay (ms) to wait before the next attempt; advances the sequence. */
  next(): number {
    const delay = backoffDelay(this.params, this.#step, uniform(this.#rng));
    // Once the ceiling reaches maxMs the exponent no longer matters; stop it
    // growing so it can never leave the safe integers.
    if (backoffCeiling(this.params, this.#step) < this.params.maxMs) this.#step++;
    this.#count++;
    return delay;
  }

  /** Starts the sequence over from `minMs`. */
  reset(): void {
    this.#count = 0;
    this.#step = 0;
  }
}
