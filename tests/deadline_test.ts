/**
 * The one time bound on promises (`lib/deadline.ts`): the work's outcome
 * when it is first, the fallback or the fallback's error when time runs
 * out, and no timer left behind either way (the test sanitizers fail a test
 * that leaves one).
 */

import { assertEquals, assertRejects } from "./_assert.ts";
import { bounded, deadline, delay } from "../lib/deadline.ts";

Deno.test("deadline() settles like the work when it is first", async () => {
  assertEquals(await deadline(Promise.resolve(7), 60_000, () => "late"), 7);
  await assertRejects(
    () => deadline(Promise.reject(new RangeError("work failed")), 60_000, () => "late"),
    RangeError,
    "work failed",
  );
});

Deno.test("deadline() gives the fallback, or its error, once the time ran out", async () => {
  const never = new Promise<number>(() => {});
  assertEquals(await deadline(never, 1, () => "late"), "late");
  await assertRejects(
    () =>
      deadline(never, 1, () => {
        throw new TypeError("too slow");
      }),
    TypeError,
    "too slow",
  );
});

Deno.test("bounded() ignores the work's failure and returns after the bound", async () => {
  await bounded(Promise.reject(new Error("ignored")), 60_000);
  await bounded(new Promise(() => {}), 1);
  await delay(1);
});
