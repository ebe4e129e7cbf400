/**
 * Bounded binary encoding for every wire structure of unMessage: a
 * {@linkcode Writer} that appends big-endian integers and byte strings, and a
 * {@linkcode Reader} that reads them back and fails only with a typed
 * {@linkcode ProtocolError} (`truncated`, `too_long`, `trailing_bytes`),
 * never a `RangeError` or an `undefined` read past the end.
 *
 * This module knows nothing of packets or elements: callers name what they
 * read, so errors say which field was wrong, never its content.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";

/** Largest value of an unsigned 16-bit field. */
export const U16_MAX = 0xffff;

/** Largest value of an unsigned 32-bit field. */
export const U32_MAX = 0xffffffff;

/** Width of the length prefix of a variable-length byte string. */
export type LengthPrefix = "u8" | "u16" | "u32";

const PREFIX_MAX: Record<LengthPrefix, number> = { u8: 0xff, u16: U16_MAX, u32: U32_MAX };

function checkUint(value: number, max: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot encode ${name}: expected integer 0 to ${max}, got ${value}`);
  }
}

/** Appends fields to a growing buffer; {@linkcode Writer.finish} returns the bytes. */
export class Writer {
  #buf: Uint8Array;
  #len = 0;

  /** Starts an empty buffer with room for `initialCapacity` bytes (at least 16). */
  constructor(initialCapacity = 64) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(at + n, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, at));
      this.#buf = grown;
    }
    this.#len = at + n;
    return at;
  }

  /** Appends one byte. */
  u8(value: number): this {
    checkUint(value, 0xff, "u8");
    const at = this.#reserve(1);
    this.#buf[at] = value;
    return this;
  }

  /** Appends a big-endian 16-bit unsigned integer. */
  u16(value: number): this {
    checkUint(value, U16_MAX, "u16");
    const at = this.#reserve(2);
    this.#buf[at] = value >>> 8;
    this.#buf[at + 1] = value & 0xff;
    return this;
  }

  /** Appends a big-endian 32-bit unsigned integer. */
  u32(value: number): this {
    checkUint(value, U32_MAX, "u32");
    const at = this.#reserve(4);
    this.#buf[at] = value >>> 24;
    this.#buf[at + 1] = (value >>> 16) & 0xff;
    this.#buf[at + 2] = (value >>> 8) & 0xff;
    this.#buf[at + 3] = value & 0xff;
    return this;
  }

  /** Appends `bytes` as they are (a fixed-length field). */
  bytes(bytes: Uint8Array): this {
    const at = this.#reserve(bytes.length); // before reading #buf: reserve may replace it
    this.#buf.set(bytes, at);
    return this;
  }

  /**
   * Appends `bytes` after a big-endian length prefix of width `prefix`.
   *
   * @throws {ProtocolError} `too_long` when `bytes` exceeds `max` (or the prefix)
   */
  varBytes(bytes: Uint8Array, prefix: LengthPrefix, max: number, name: string): this {
    const limit = Math.min(max, PREFIX_MAX[prefix]);
    if (bytes.length > limit) {
      throw new ProtocolError(
        "too_long",
        `Cannot encode ${name}: length ${bytes.length} exceeds ${limit}`,
      );
    }
    if (prefix === "u8") this.u8(bytes.length);
    else if (prefix === "u16") this.u16(bytes.length);
    else this.u32(bytes.length);
    return this.bytes(bytes);
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /** Returns a copy of the bytes written. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/**
 * Reads fields from `bytes` in order. Every read checks the remaining length
 * first; byte strings are returned as copies, so callers may keep them.
 */
export class Reader {
  readonly #bytes: Uint8Array;
  readonly #what: string;
  #pos = 0;

  /** `what` names the structure in error messages (e.g. `"element"`). */
  constructor(bytes: Uint8Array, what = "data") {
    this.#bytes = bytes;
    this.#what = what;
  }

  #take(n: number, name: string): number {
    const at = this.#pos;
    if (n > this.#bytes.length - at) {
      throw new ProtocolError(
        "truncated",
        `Cannot decode ${this.#what}: ${name} needs ${n} bytes, ${this.#bytes.length - at} left`,
      );
    }
    this.#pos = at + n;
    return at;
  }

  /** Reads one byte. */
  u8(name = "u8"): number {
    return this.#bytes[this.#take(1, name)]!;
  }

  /** Reads a big-endian 16-bit unsigned integer. */
  u16(name = "u16"): number {
    const at = this.#take(2, name);
    return (this.#bytes[at]! << 8) | this.#bytes[at + 1]!;
  }

  /** Reads a big-endian 32-bit unsigned integer. */
  u32(name = "u32"): number {
    const at = this.#take(4, name);
    const b = this.#bytes;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }

  /** Reads exactly `length` bytes (a fixed-length field). */
  bytes(length: number, name = "bytes"): Uint8Array {
    const at = this.#take(length, name);
    return this.#bytes.slice(at, at + length);
  }

  /**
   * Reads a byte string after a length prefix of width `prefix`.
   *
   * @throws {ProtocolError} `too_long` when the announced length exceeds
   *   `max` (checked before anything is copied), `truncated` when it exceeds
   *   the input
   */
  varBytes(prefix: LengthPrefix, max: number, name = "bytes"): Uint8Array {
    const length = prefix === "u8"
      ? this.u8(name)
      : prefix === "u16"
      ? this.u16(name)
      : this.u32(name);
    if (length > max) {
      throw new ProtocolError(
        "too_long",
        `Cannot decode ${this.#what}: ${name} length ${length} exceeds ${max}`,
      );
    }
    return this.bytes(length, name);
  }

  /** Reads everything that is left. */
  rest(): Uint8Array {
    const at = this.#pos;
    this.#pos = this.#bytes.length;
    return this.#bytes.slice(at);
  }

  /** Number of bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#pos;
  }

  /**
   * Checks that the whole input was read.
   *
   * @throws {ProtocolError} `trailing_bytes` when some is left
   */
  end(): void {
    if (this.remaining !== 0) {
      throw new ProtocolError(
        "trailing_bytes",
        `Cannot decode ${this.#what}: ${this.remaining} unexpected trailing bytes`,
      );
    }
  }
}
