/**
 * Byte helpers shared by every pure layer: argument checks that name the
 * argument, constant-time comparison, concatenation, and strict hex, base64
 * and UTF-8 codecs. No I/O, no randomness.
 *
 * @module
 */

import { CryptoError } from "../errors.ts";

/** A source of random bytes; pure code takes one as an argument. */
export type Rng = (length: number) => Uint8Array;

/**
 * Checks that `value` is a Uint8Array (of `length` bytes when given) and
 * returns it. The error names the argument, never its content.
 */
export function abytes(value: unknown, length: number | undefined, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`Cannot use ${name}: expected Uint8Array`);
  }
  if (length !== undefined && value.length !== length) {
    throw new CryptoError(
      "bad_length",
      `Cannot use ${name}: expected ${length} bytes, got ${value.length}`,
    );
  }
  return value;
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatList(parts);
}

/** Concatenates a list of byte arrays (any number: not spread as arguments) into a new one. */
export function concatList(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time equality (time depends only on the lengths). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Overwrites secrets that are no longer needed. */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}

/** Lower-case hex (the built-in `toHex`). */
export function toHex(bytes: Uint8Array): string {
  return bytes.toHex();
}

/** Parses hex (either case, even length); throws SyntaxError otherwise. */
export function fromHex(hex: string): Uint8Array {
  try {
    return Uint8Array.fromHex(hex);
  } catch {
    throw new SyntaxError(`Cannot decode hex: invalid input of length ${hex.length}`);
  }
}

/** Standard base64 with padding (RFC 4648 §4; the built-in `toBase64`). */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** The white space the built-in decoder skips (forgiving-base64), even in its strict mode. */
const BASE64_SPACE = /[\t\n\f\r ]/;

/**
 * Strict standard base64 (RFC 4648 §4): padding required, no whitespace, and
 * non-canonical trailing bits rejected, so one byte string has one encoding
 * (the built-in `Uint8Array.fromBase64` in its strict mode, which would skip
 * white space; tests/codecs_test.ts pins both).
 */
export function fromBase64(text: string): Uint8Array {
  if (!BASE64_SPACE.test(text)) {
    try {
      return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
    } catch {
      // refused below, with our message
    }
  }
  throw new SyntaxError(`Cannot decode base64: invalid input of length ${text.length}`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 encoding of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Length in bytes of `text` encoded as UTF-8, without encoding it (a lone
 * surrogate counts as U+FFFD, 3 bytes, as {@linkcode utf8} encodes it).
 */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** Strict UTF-8 decoding; throws TypeError on invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
