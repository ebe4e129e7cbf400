/**
 * The one strict shape check of persisted JSON (`lib/strict_json.ts`):
 * exactly the expected fields of a plain object, the problem naming a field
 * and never a value.
 */

import { assertEquals, assertThrows } from "./_assert.ts";
import { exactFieldsProblem, exactObject } from "../lib/strict_json.ts";

Deno.test("exactFieldsProblem(): not an object, an extra field, a missing field", () => {
  const fields = ["a", "b"];
  assertEquals(exactFieldsProblem({ a: 1, b: "secret" }, fields), undefined);
  for (const bad of [null, [], "x", 3, undefined]) {
    assertEquals(exactFieldsProblem(bad, fields), "is not an object");
  }
  assertEquals(exactFieldsProblem({ a: 1, b: 2, c: "secret" }, fields), 'has an unknown field "c"');
  assertEquals(exactFieldsProblem({ a: "secret" }, fields), "lacks the field b");
  // an inherited field is not one of the object's own
  assertEquals(exactFieldsProblem(Object.create({ a: 1, b: 2 }), fields), "lacks the field a");
});

Deno.test("exactObject() hands the problem to the reader's own error", () => {
  const fail = (problem: string): never => {
    throw new RangeError(`state ${problem}`);
  };
  assertEquals(exactObject({ a: 1 }, ["a"], fail), { a: 1 });
  assertThrows(() => exactObject({ a: "k3y" }, ["b"], fail), RangeError, "state has an unknown");
});
