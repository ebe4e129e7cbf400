/**
 * Assertions for tests (JSR's @std/assert is not reachable from our machines,
 * so these wrap `node:assert` with the familiar @std names).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Throws unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Deep strict equality (Uint8Array compared by content). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Deep strict inequality. */
export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/** Asserts that `fn` throws an instance of `cls` (default Error); returns it. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  cls?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as E;
  }
  throw new nodeAssert.AssertionError({ message: "Expected function to throw" });
}

/** Asserts that `fn` rejects with an instance of `cls`; returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  cls?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as E;
  }
  throw new nodeAssert.AssertionError({ message: "Expected promise to reject" });
}

function checkError<E extends Error>(e: unknown, cls?: ErrorClass<E>, includes?: string): void {
  if (cls && !(e instanceof cls)) {
    throw new nodeAssert.AssertionError({
      message: `Expected error of class ${cls.name}, got ${
        e instanceof Error ? `${e.name}: ${e.message}` : String(e)
      }`,
    });
  }
  if (includes !== undefined && !(e instanceof Error && e.message.includes(includes))) {
    throw new nodeAssert.AssertionError({
      message: `Expected error message to include "${includes}", got "${
        e instanceof Error ? e.message : String(e)
      }"`,
    });
  }
}
