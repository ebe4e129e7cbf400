/**
 * Private helpers of handshake_state.ts: strict readers of JSON fields that
 * fail with {@linkcode ProtocolError} `bad_state`, naming the field and
 * never its value.
 *
 * @module
 */

import { fromBase64 } from "../crypto/bytes.ts";
import { isLowOrderPublicKey, KEY_LENGTH } from "../crypto/keys.ts";
import { ProtocolError } from "../errors.ts";
import { exactObject } from "../strict_json.ts";
import { checkName, MAX_CREATED_MS, MAX_PORT, MIN_PORT } from "./handshake_data.ts";

/** Throws `bad_state` with `what` (never a value). */
export function fail(what: string): never {
  throw new ProtocolError("bad_state", `Cannot load handshake state: ${what}`);
}

/** A plain object with exactly the space-separated `names` as its fields. */
export function fields(value: unknown, names: string): Record<string, unknown> {
  return exactObject(value, names.split(" "), (problem) => fail(`it ${problem}`));
}

/**
 * A 32-byte key in canonical base64; with `publicDh`, also not a low-order
 * X25519 point (RFC 7748 §6.1).
 */
export function key(value: unknown, name: string, publicDh = false): Uint8Array {
  if (typeof value !== "string") fail(`${name} is not a base64 string`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(value as string);
  } catch {
    fail(`${name} is not valid base64`);
  }
  if (bytes.length !== KEY_LENGTH) fail(`${name} is not a ${KEY_LENGTH}-byte key`);
  if (publicDh && isLowOrderPublicKey(bytes)) fail(`${name} is a low-order point`);
  return bytes;
}

/** {@linkcode key}, or null for `null`. */
export function keyOrNull(value: unknown, name: string, publicDh = false): Uint8Array | null {
  return value === null ? null : key(value, name, publicDh);
}

/** A suggested name as handshake_data.ts accepts it. */
export function nameOf(value: unknown): string {
  if (typeof value !== "string") fail("name is not a string");
  try {
    checkName(value as string);
  } catch {
    fail("name is not a valid name");
  }
  return value as string;
}

/** A TCP port, 1 to 65535. */
export function checkPortNumber(value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < MIN_PORT ||
    value > MAX_PORT
  ) {
    fail("port is not a port number");
  }
  return value as number;
}

/** A request's creation time: an integer of ms, 0 to 2^53 - 1. */
export function createdAtOf(value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_CREATED_MS
  ) {
    fail("createdAt is not a time in ms");
  }
  return value as number;
}
