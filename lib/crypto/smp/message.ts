/**
 * The five SMP messages of OTR version 3 and their binary form.
 *
 * A message is a type and its integers in OTR v3 order:
 *   SMP1: g2a c2 D2 g3a c3 D3
 *   SMP2: g2b c2 D2 g3b c3 D3 Pb Qb cP D5 D6
 *   SMP3: Pa Qa cP D5 D6 Ra cR D7
 *   SMP4: Rb cR D8
 *   ABORT: (none)
 * Elements are integers in the group's wire form (`SmpGroup.encodeElement`).
 *
 * Binary form: one byte, the OTR v3 TLV type (2..6), followed by the OTR v3
 * TLV payload: for SMP1..SMP4 a 4-byte big-endian count and that many MPIs
 * (4-byte big-endian length, then the minimal big-endian magnitude); ABORT
 * has no payload. Decoding checks every length against the group's bound and
 * rejects non-minimal MPIs and trailing bytes, so one message has one form.
 *
 * @module
 */

import { abytes, concatBytes } from "../bytes.ts";
import { bigintFromBytes, bigintToBytes, SmpError } from "./group.ts";

/** The kinds of SMP message. */
export type SmpMessageType = "SMP1" | "SMP2" | "SMP3" | "SMP4" | "ABORT";

/** One SMP message: its integers in OTR v3 order (see module doc). */
export interface SmpMessage {
  /** Which of the five messages this is. */
  readonly type: SmpMessageType;
  /** Its group elements and exponents, as integers (none for ABORT). */
  readonly values: readonly bigint[];
}

/** OTR v3 SMP: number of MPIs in each message. */
export const SMP_VALUE_COUNTS: Readonly<Record<SmpMessageType, number>> = {
  SMP1: 6,
  SMP2: 11,
  SMP3: 8,
  SMP4: 3,
  ABORT: 0,
};

/** OTR v3 §"Type/Length/Value": TLV types 2 (SMP1) to 6 (SMP abort). */
export const SMP_TLV_TYPES: Readonly<Record<SmpMessageType, number>> = {
  SMP1: 2,
  SMP2: 3,
  SMP3: 4,
  SMP4: 5,
  ABORT: 6,
};

const TYPE_BY_TLV = new Map<number, SmpMessageType>(
  (Object.entries(SMP_TLV_TYPES) as [SmpMessageType, number][]).map(([k, v]) => [v, k]),
);

/** The ABORT message (OTR v3 TLV type 6). */
export const SMP_ABORT: SmpMessage = Object.freeze({ type: "ABORT", values: Object.freeze([]) });

/** Bytes of a count or an MPI length (OTR v3 "INT"). */
const INT_BYTES = 4;
/** Largest value count of any message (SMP2). */
const MAX_VALUE_COUNT = 11;

/** Largest binary message for values of at most `valueBytes` bytes. */
export function maxSmpMessageBytes(valueBytes: number): number {
  return 1 + INT_BYTES + MAX_VALUE_COUNT * (INT_BYTES + valueBytes);
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(INT_BYTES);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Checks a message's type and value count; throws `"smp_malformed"`. */
export function checkSmpMessage(msg: SmpMessage): void {
  const expected = SMP_VALUE_COUNTS[msg.type];
  if (expected === undefined) {
    throw new SmpError("smp_malformed", "Cannot use SMP message: unknown type");
  }
  if (!Array.isArray(msg.values) || msg.values.length !== expected) {
    throw new SmpError(
      "smp_malformed",
      `Cannot use SMP message: ${msg.type} needs ${expected} values`,
    );
  }
  for (const v of msg.values) {
    if (typeof v !== "bigint" || v < 0n) {
      throw new SmpError("smp_malformed", "Cannot use SMP message: values must be non-negative");
    }
  }
}

/**
 * Binary form of a message (see module doc). `group.valueBytes` bounds each
 * value; a larger value throws `"smp_malformed"`.
 */
export function encodeSmpMessage(msg: SmpMessage, group: { valueBytes: number }): Uint8Array {
  checkSmpMessage(msg);
  const parts: Uint8Array[] = [Uint8Array.of(SMP_TLV_TYPES[msg.type])];
  if (msg.type === "ABORT") return parts[0]!;
  parts.push(u32(msg.values.length));
  for (const v of msg.values) {
    const magnitude = bigintToBytes(v);
    if (magnitude.length > group.valueBytes) {
      throw new SmpError(
        "smp_malformed",
        `Cannot encode SMP value: exceeds ${group.valueBytes} bytes`,
      );
    }
    parts.push(u32(magnitude.length), magnitude);
  }
  return concatBytes(...parts);
}

/**
 * Parses the binary form of a message; any truncation, oversize, unknown
 * type, wrong count, non-minimal MPI or trailing byte throws
 * {@linkcode SmpError} `"smp_malformed"`. Values are not validated against
 * the group here: the state machine does that.
 */
export function decodeSmpMessage(bytes: Uint8Array, group: { valueBytes: number }): SmpMessage {
  abytes(bytes, undefined, "bytes");
  const fail = (why: string) => new SmpError("smp_malformed", `Cannot decode SMP message: ${why}`);
  const limit = maxSmpMessageBytes(group.valueBytes);
  if (bytes.length > limit) throw fail(`length ${bytes.length} exceeds ${limit}`);
  if (bytes.length < 1) throw fail("empty input");
  const type = TYPE_BY_TLV.get(bytes[0]!);
  if (type === undefined) throw fail(`unknown type ${bytes[0]}`);
  if (type === "ABORT") {
    if (bytes.length !== 1) throw fail("trailing bytes after abort");
    return SMP_ABORT;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 1;
  const readInt = (what: string): number => {
    if (offset + INT_BYTES > bytes.length) throw fail(`truncated ${what}`);
    const n = view.getUint32(offset);
    offset += INT_BYTES;
    return n;
  };
  const count = readInt("count");
  if (count !== SMP_VALUE_COUNTS[type]) throw fail(`${type} has ${count} values`);
  const values: bigint[] = [];
  for (let i = 0; i < count; i++) {
    const length = readInt("length");
    if (length > group.valueBytes) {
      throw fail(`value of ${length} bytes exceeds ${group.valueBytes}`);
    }
    if (offset + length > bytes.length) throw fail("truncated value");
    const magnitude = bytes.subarray(offset, offset + length);
    if (length > 0 && magnitude[0] === 0) throw fail("non-minimal value");
    values.push(bigintFromBytes(magnitude));
    offset += length;
  }
  if (offset !== bytes.length) throw fail(`${bytes.length - offset} trailing bytes`);
  return { type, values };
}
