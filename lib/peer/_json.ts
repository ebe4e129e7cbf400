/**
 * Private helpers of the peer's persisted formats (profile.ts, records.ts):
 * strict readers of JSON fields that throw `TypeError` naming the field and
 * never its value (the store turns it into `StoreError("invalid")` with the
 * file's path).
 *
 * @module
 */

import { fromBase64 } from "../crypto/bytes.ts";
import { exactObject } from "../strict_json.ts";

/** Throws a TypeError about `what` (never a value). */
export function invalid(what: string): never {
  throw new TypeError(what);
}

/** The field lists of {@linkcode object}, by their space-separated names (a few constants). */
const fieldLists = new Map<string, readonly string[]>();

/** A plain object with exactly the space-separated `names` as its fields (lib/strict_json.ts). */
export function object(value: unknown, names: string, where: string): Record<string, unknown> {
  let fields = fieldLists.get(names);
  if (fields === undefined) fieldLists.set(names, fields = names.split(" "));
  return exactObject(value, fields, (problem) => invalid(`${where} ${problem}`));
}

/** A string field. */
export function str(value: unknown, where: string): string {
  if (typeof value !== "string") invalid(`${where} is not a string`);
  return value;
}

/** A boolean field. */
export function bool(value: unknown, where: string): boolean {
  if (typeof value !== "boolean") invalid(`${where} is not a boolean`);
  return value;
}

/** A non-negative safe integer field. */
export function uint(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    invalid(`${where} is not a non-negative integer`);
  }
  return value;
}

/** A base64 field of exactly `length` bytes. */
export function b64(value: unknown, length: number, where: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(str(value, where));
  } catch {
    invalid(`${where} is not base64`);
  }
  if (bytes.length !== length) invalid(`${where} is not ${length} bytes`);
  return bytes;
}

/** An array field of at most `max` items. */
export function array(value: unknown, max: number, where: string): unknown[] {
  if (!Array.isArray(value)) invalid(`${where} is not an array`);
  if (value.length > max) invalid(`${where} has more than ${max} items`);
  return value;
}

/** A lower-case hex field of exactly `length` bytes. */
export function hex(value: unknown, length: number, where: string): string {
  const text = str(value, where);
  if (text.length !== 2 * length || !/^[0-9a-f]*$/.test(text)) {
    invalid(`${where} is not ${length} bytes of lower-case hex`);
  }
  return text;
}

/**
 * Canonical base64 of 32 bytes (RFC 4648 §4): 42 characters, one whose low
 * two bits are zero (the last 4 bits), then "=". Checked without decoding.
 */
const KEY_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A base64 key of 32 bytes, checked (without decoding it) and kept as text. */
export function key64(value: unknown, where: string): string {
  if (typeof value !== "string" || !KEY_BASE64.test(value)) {
    invalid(`${where} is not 32 bytes of base64`);
  }
  return value;
}
