/**
 * Length hiding: every packet is padded so that its total length is one of
 * five bucket sizes. The padding lives INSIDE the encrypted plaintext, so it
 * is authenticated and invisible:
 *
 * ```
 * padded = u32 big-endian data length ‖ data ‖ zero bytes
 * ```
 *
 * `overhead` is the number of bytes the packet adds around the padded
 * plaintext (header, tag, keys), so that `padded.length + overhead` is
 * exactly a bucket. {@linkcode unpad} is strict: one data string has exactly
 * one padded form (smallest bucket, zero fill), anything else is rejected.
 *
 * Why these buckets: a factor of 4 between sizes keeps at most 4x overhead
 * while an observer learns only one of five classes; 512 B holds a typical
 * chat line with its ratchet header, 128 KiB bounds one packet (larger
 * elements are fragmented, see fragment.ts).
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";

/** Total packet sizes allowed on the wire, ascending (docs/protocol.md §5.2 "Padding"). */
export const PADDING_BUCKETS: readonly number[] = [512, 2048, 8192, 32768, 131072];

/** The largest bucket: no packet is longer. */
export const MAX_PADDED_LENGTH = 131072;

/** Size of the data length field at the start of a padded plaintext. */
export const PAD_LENGTH_FIELD = 4;

/** True when `length` is one of {@linkcode PADDING_BUCKETS}. */
export function isBucketLength(length: number): boolean {
  return PADDING_BUCKETS.includes(length);
}

/**
 * Largest data length {@linkcode pad} accepts for a given `overhead`.
 */
export function maxPaddableLength(overhead = 0): number {
  return MAX_PADDED_LENGTH - overhead - PAD_LENGTH_FIELD;
}

/**
 * Length of the padded form of `dataLength` bytes: the smallest bucket that
 * holds length field, data and `overhead`, minus `overhead`; or -1 when no
 * bucket does.
 */
export function paddedLength(dataLength: number, overhead = 0): number {
  const needed = dataLength + PAD_LENGTH_FIELD + overhead;
  for (const bucket of PADDING_BUCKETS) {
    if (needed <= bucket) return bucket - overhead;
  }
  return -1;
}

/**
 * Pads `data` to the smallest bucket (minus `overhead`).
 *
 * @throws {ProtocolError} `too_long` when even the largest bucket is too small
 */
export function pad(data: Uint8Array, overhead = 0): Uint8Array {
  const length = paddedLength(data.length, overhead);
  if (length < 0) {
    throw new ProtocolError(
      "too_long",
      `Cannot pad: length ${data.length} exceeds ${maxPaddableLength(overhead)}`,
    );
  }
  const out = new Uint8Array(length);
  new DataView(out.buffer).setUint32(0, data.length, false);
  out.set(data, PAD_LENGTH_FIELD);
  return out;
}

/**
 * Reverses {@linkcode pad}: returns a copy of the data.
 *
 * @throws {ProtocolError} `bad_padding` for a wrong total length, a length
 *   field beyond the input, a non-minimal bucket or a non-zero fill byte
 */
export function unpad(padded: Uint8Array, overhead = 0): Uint8Array {
  const fail = (why: string) => new ProtocolError("bad_padding", `Cannot unpad: ${why}`);
  if (padded.length < PAD_LENGTH_FIELD) throw fail("input shorter than its length field");
  const view = new DataView(padded.buffer, padded.byteOffset, padded.byteLength);
  const dataLength = view.getUint32(0, false);
  if (dataLength > padded.length - PAD_LENGTH_FIELD) throw fail("length field exceeds input");
  // canonical form: the bucket must be exactly the one pad() would choose
  if (paddedLength(dataLength, overhead) !== padded.length) throw fail("not the minimal bucket");
  let fill = 0;
  for (let i = PAD_LENGTH_FIELD + dataLength; i < padded.length; i++) fill |= padded[i]!;
  if (fill !== 0) throw fail("fill bytes are not zero");
  return padded.slice(PAD_LENGTH_FIELD, PAD_LENGTH_FIELD + dataLength);
}
