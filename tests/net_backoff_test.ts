import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import {
  Backoff,
  backoffCeiling,
  backoffDelay,
  backoffParams,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_BACKOFF_MIN_MS,
  uniform,
} from "../lib/net/backoff.ts";

Deno.test("Backoff without jitter doubles from minMs up to maxMs and stays there", () => {
  const b = new Backoff(seededRng(1), { minMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
  const seq = Array.from({ length: 8 }, () => b.next());
  assertEquals(seq, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  assertEquals(b.attempt, 8);
});

Deno.test("Backoff.reset() starts the sequence over from minMs", () => {
  const b = new Backoff(seededRng(2), { minMs: 10, maxMs: 80, jitter: 0 });
  b.next();
  b.next();
  b.next();
  b.reset();
  assertEquals(b.attempt, 0);
  assertEquals(b.next(), 10);
  assertEquals(b.next(), 20);
});

Deno.test("Backoff with the same seed gives the same sequence, other seeds differ", () => {
  const run = (seed: number) => {
    const b = new Backoff(seededRng(seed), { minMs: 100, maxMs: 10_000, jitter: 0.5 });
    return Array.from({ length: 12 }, () => b.next());
  };
  assertEquals(run(7), run(7));
  assert(JSON.stringify(run(7)) !== JSON.stringify(run(8)), "jitter ignored the RNG seed");
});

Deno.test("Backoff delays stay within [ceiling * (1 - jitter), ceiling] and never exceed maxMs", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.double({ min: 1, max: 4, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer(),
      (minMs, extra, factor, jitter, seed) => {
        const maxMs = minMs + extra;
        const b = new Backoff(seededRng(seed), { minMs, maxMs, factor, jitter });
        let lastCeiling = 0;
        for (let n = 0; n < 40; n++) {
          const ceiling = backoffCeiling(b.params, n);
          const d = b.next();
          assert(ceiling >= lastCeiling, "ceilings decreased");
          assert(ceiling <= maxMs, "ceiling above maxMs");
          assert(d <= Math.round(ceiling) && d >= Math.round(ceiling * (1 - jitter)) - 1);
          lastCeiling = ceiling;
        }
        assertEquals(lastCeiling, Math.min(maxMs, minMs * factor ** 39));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("Backoff jitter spreads delays across the allowed range", () => {
  const b = new Backoff(seededRng("spread"), { minMs: 1000, maxMs: 1000, jitter: 1 });
  const seq = Array.from({ length: 400 }, () => b.next());
  // Uniform over [0, 1000]: with 400 draws each quarter is hit.
  for (let q = 0; q < 4; q++) {
    assert(seq.some((d) => d >= q * 250 && d < (q + 1) * 250), `quarter ${q} never drawn`);
  }
});

Deno.test("backoffDelay() maps the draw linearly onto the jitter range", () => {
  const p = backoffParams({ minMs: 1000, maxMs: 1000, jitter: 0.5 });
  assertEquals(backoffDelay(p, 0, 0), 1000);
  assertEquals(backoffDelay(p, 0, 0.5), 750);
  assertEquals(backoffDelay(p, 3, 0.999999), 500);
  assertThrows(() => backoffDelay(p, 0, 1), RangeError, "draw");
  assertThrows(() => backoffDelay(p, -1, 0), RangeError, "attempt");
});

Deno.test("uniform() reads 32 big-endian bits into [0, 1)", () => {
  assertEquals(uniform(() => new Uint8Array([0, 0, 0, 0])), 0);
  assertEquals(uniform(() => new Uint8Array([0x80, 0, 0, 0])), 0.5);
  assert(uniform(() => new Uint8Array([0xff, 0xff, 0xff, 0xff])) < 1);
});

Deno.test("Backoff ceilings stay finite after thousands of attempts", () => {
  const b = new Backoff(seededRng(3), { minMs: 1, maxMs: 5, factor: 10, jitter: 0 });
  let last = 0;
  for (let i = 0; i < 5000; i++) last = b.next();
  assertEquals(last, 5);
  assertEquals(backoffCeiling(b.params, 100_000), 5);
});

Deno.test("backoffParams() fills defaults and rejects out-of-range values", () => {
  const p = backoffParams();
  assertEquals(p.minMs, DEFAULT_BACKOFF_MIN_MS);
  assertEquals(p.maxMs, DEFAULT_BACKOFF_MAX_MS);
  assertEquals(backoffParams({ minMs: 60_000 }).maxMs, 60_000);
  assertThrows(() => backoffParams({ minMs: 0 }), RangeError, "minMs");
  assertThrows(() => backoffParams({ minMs: Number.NaN }), RangeError, "minMs");
  assertThrows(() => backoffParams({ minMs: 10, maxMs: 5 }), RangeError, "maxMs");
  assertThrows(() => backoffParams({ factor: 0.5 }), RangeError, "factor");
  assertThrows(() => backoffParams({ jitter: 1.5 }), RangeError, "jitter");
  assertThrows(() => backoffParams({ jitter: Number.NaN }), RangeError, "jitter");
});
