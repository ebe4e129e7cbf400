/**
 * The one strict check of a parsed JSON object's shape, for every reader of
 * persisted state (the peer's records, handshake state, ratchet state): a
 * plain object with exactly the expected fields, no more and no fewer. Each
 * reader turns the problem into its own typed error; the problem names a
 * field, never a value, so no secret reaches a message.
 *
 * @module
 */

/**
 * What keeps `value` from being a plain object with exactly `fields`
 * ("is not an object", `has an unknown field "x"`, "lacks the field x"), or
 * undefined when nothing does.
 */
export function exactFieldsProblem(value: unknown, fields: readonly string[]): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "is not an object";
  }
  const expected = fieldSet(fields);
  let count = 0;
  for (const key of Object.keys(value)) {
    if (!expected.has(key)) return `has an unknown field ${JSON.stringify(key)}`;
    count++;
  }
  // every own key is expected: a missing one shows only as a smaller count
  if (count !== expected.size) {
    for (const key of fields) {
      if (!Object.hasOwn(value, key)) return `lacks the field ${key}`;
    }
  }
  return undefined;
}

/** The fields of each list as a set, made once (readers pass a few constant lists, thousands of times at start-up). */
const fieldSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function fieldSet(fields: readonly string[]): ReadonlySet<string> {
  let set = fieldSets.get(fields);
  if (set === undefined) fieldSets.set(fields, set = new Set(fields));
  return set;
}

/**
 * `value` as a plain object with exactly `fields`; otherwise `fail` is called
 * with the problem (see {@linkcode exactFieldsProblem}) and must throw.
 */
export function exactObject(
  value: unknown,
  fields: readonly string[],
  fail: (problem: string) => never,
): Record<string, unknown> {
  const problem = exactFieldsProblem(value, fields);
  if (problem !== undefined) fail(problem);
  return value as Record<string, unknown>;
}
