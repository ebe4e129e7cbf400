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
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) return `has an unknown field ${JSON.stringify(key)}`;
  }
  for (const key of fields) {
    if (!Object.hasOwn(value, key)) return `lacks the field ${key}`;
  }
  return undefined;
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
