/**
 * Fragmentation of encoded elements that do not fit one packet, and their
 * bounded reassembly. Every ratchet plaintext is one part (an element that
 * fits is a single part of count 1), so the receiver has one path.
 *
 * Wire layout of a part:
 *
 * ```
 * offset  size  field
 * 0       16    element ID (groups the parts of one element)
 * 16      2     index  u16 big-endian, 0 to count-1
 * 18      2     count  u16 big-endian, 1 to MAX_PARTS
 * 20      ...   data   at least 1 byte
 * ```
 *
 * The {@linkcode Reassembler} holds incomplete elements under hard bounds
 * (parts per element, bytes per element, elements and bytes in total, and a
 * time to live), so a peer, honest or not, cannot make it grow without end.
 * Time is a parameter (`now`, milliseconds); this module reads no clock.
 *
 * @module
 */

import { abytes, concatBytes, toHex } from "../crypto/bytes.ts";
import { ProtocolError } from "../errors.ts";
import { Reader, Writer } from "./codec.ts";
import { ELEMENT_ID_LENGTH, MAX_ELEMENT_SIZE } from "./elements.ts";

export { MAX_ELEMENT_SIZE } from "./elements.ts";

/** Bytes of a part before its data. */
export const PART_HEADER_LENGTH: number = ELEMENT_ID_LENGTH + 2 + 2;

/**
 * Most parts of one element: 4096, so a 1 MiB message fits even in parts of
 * 256 data bytes (less than the smallest padding bucket carries) while the
 * per-part bookkeeping of one element stays small.
 */
export const MAX_PARTS = 4096;

/**
 * Most incomplete elements held at once: 16. A conversation rarely has more
 * than one long element in flight; the oldest is dropped to make room.
 */
export const MAX_PENDING_ELEMENTS = 16;

/** Most bytes held for incomplete elements in total: two maximal elements. */
export const MAX_PENDING_BYTES = 2 * MAX_ELEMENT_SIZE;

/**
 * An incomplete element is forgotten 10 minutes after its last new part:
 * long enough for retries over Tor, short enough that lost parts do not pin
 * memory (the sender's outbox resends the whole element).
 */
export const INCOMPLETE_TTL_MS = 10 * 60 * 1000;

/** A part as decoded by {@linkcode decodePart}. */
export interface Part {
  /** The ID of the element this part belongs to (the same in every part of it). */
  elementId: Uint8Array;
  /** This part's place among the element's parts, from 0. */
  index: number;
  /** How many parts the element has (at least 1). */
  count: number;
  /** This part's slice of the encoded element. */
  data: Uint8Array;
}

function badPart(why: string): ProtocolError {
  return new ProtocolError("bad_part", `Cannot accept part: ${why}`);
}

/**
 * Splits an encoded element into parts of at most `maxPartSize` bytes each
 * (header included).
 *
 * @throws {RangeError} when `maxPartSize` leaves no room for data
 * @throws {ProtocolError} `too_long` when the element exceeds
 *   {@linkcode MAX_ELEMENT_SIZE} or would need more than {@linkcode MAX_PARTS}
 */
export function fragmentElement(
  encoded: Uint8Array,
  maxPartSize: number,
  elementId: Uint8Array,
): Uint8Array[] {
  abytes(encoded, undefined, "encoded");
  abytes(elementId, ELEMENT_ID_LENGTH, "elementId");
  if (!Number.isSafeInteger(maxPartSize) || maxPartSize <= PART_HEADER_LENGTH) {
    throw new RangeError(`Cannot fragment: part size ${maxPartSize} leaves no room for data`);
  }
  if (encoded.length === 0 || encoded.length > MAX_ELEMENT_SIZE) {
    throw new ProtocolError(
      "too_long",
      `Cannot fragment: element length ${encoded.length} is not 1 to ${MAX_ELEMENT_SIZE}`,
    );
  }
  const chunk = maxPartSize - PART_HEADER_LENGTH;
  const count = Math.ceil(encoded.length / chunk);
  if (count > MAX_PARTS) {
    throw new ProtocolError(
      "too_long",
      `Cannot fragment: ${count} parts exceed ${MAX_PARTS}; use larger parts`,
    );
  }
  const parts: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const data = encoded.subarray(index * chunk, Math.min(encoded.length, (index + 1) * chunk));
    parts.push(
      new Writer(PART_HEADER_LENGTH + data.length).bytes(elementId).u16(index).u16(count).bytes(
        data,
      ).finish(),
    );
  }
  return parts;
}

/**
 * Decodes one part and checks its header.
 *
 * @throws {ProtocolError} `truncated`, `bad_part` (index out of range, zero
 *   count, no data) or `too_long` (count above MAX_PARTS, data above
 *   MAX_ELEMENT_SIZE)
 */
export function decodePart(bytes: Uint8Array): Part {
  abytes(bytes, undefined, "part");
  const r = new Reader(bytes, "part");
  const elementId = r.bytes(ELEMENT_ID_LENGTH, "element ID");
  const index = r.u16("index");
  const count = r.u16("count");
  if (count === 0) throw badPart("count is zero");
  if (count > MAX_PARTS) {
    throw new ProtocolError("too_long", `Cannot accept part: count ${count} exceeds ${MAX_PARTS}`);
  }
  if (index >= count) throw badPart(`index ${index} is not below count ${count}`);
  if (r.remaining === 0) throw badPart("it carries no data");
  if (r.remaining > MAX_ELEMENT_SIZE) {
    throw new ProtocolError("too_long", `Cannot accept part: data exceeds ${MAX_ELEMENT_SIZE}`);
  }
  return { elementId, index, count, data: r.rest() };
}

interface Pending {
  count: number;
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  lastProgress: number;
}

/**
 * Collects parts into encoded elements. {@linkcode Reassembler.push} returns
 * the element a part completes, or null. Duplicate parts are ignored; a part
 * whose count disagrees with earlier parts of its element is rejected.
 */
export class Reassembler {
  readonly #pending = new Map<string, Pending>();
  #bytes = 0;

  /**
   * Adds one part received at time `now` (ms); returns the complete encoded
   * element when this part finishes it.
   *
   * @throws {ProtocolError} as {@linkcode decodePart}; `conflicting_count`
   *   when the count disagrees with the element's earlier parts; `too_long`
   *   when the element grows beyond {@linkcode MAX_ELEMENT_SIZE} (it is
   *   dropped)
   */
  push(bytes: Uint8Array, now: number): Uint8Array | null {
    checkNow(now);
    this.expire(now);
    const part = decodePart(bytes);
    if (part.count === 1) return part.data;
    const key = toHex(part.elementId);
    let entry = this.#pending.get(key);
    if (entry === undefined) {
      entry = {
        count: part.count,
        parts: new Array(part.count),
        received: 0,
        bytes: 0,
        lastProgress: now,
      };
      this.#pending.set(key, entry);
    } else if (entry.count !== part.count) {
      throw new ProtocolError(
        "conflicting_count",
        `Cannot accept part: count ${part.count} disagrees with ${entry.count} of earlier parts`,
      );
    }
    if (entry.parts[part.index] !== undefined) return null; // duplicate: ignored
    if (entry.bytes + part.data.length > MAX_ELEMENT_SIZE) {
      this.#drop(key);
      throw new ProtocolError(
        "too_long",
        `Cannot accept part: element exceeds ${MAX_ELEMENT_SIZE} bytes`,
      );
    }
    entry.parts[part.index] = part.data;
    entry.received++;
    entry.bytes += part.data.length;
    entry.lastProgress = now;
    this.#bytes += part.data.length;
    if (entry.received === entry.count) {
      this.#drop(key);
      return concatBytes(...(entry.parts as Uint8Array[]));
    }
    // make room: drop the least recently started other elements
    for (const other of this.#pending.keys()) {
      if (this.#pending.size <= MAX_PENDING_ELEMENTS && this.#bytes <= MAX_PENDING_BYTES) break;
      if (other !== key) this.#drop(other);
    }
    return null;
  }

  /** Forgets elements without progress for {@linkcode INCOMPLETE_TTL_MS}; returns how many. */
  expire(now: number): number {
    checkNow(now);
    let dropped = 0;
    for (const [key, entry] of this.#pending) {
      if (now - entry.lastProgress >= INCOMPLETE_TTL_MS) {
        this.#drop(key);
        dropped++;
      }
    }
    return dropped;
  }

  /** Whether parts of element `elementId` are held (it is incomplete, not expired). */
  holds(elementId: Uint8Array): boolean {
    return this.#pending.has(toHex(elementId));
  }

  /** Number of incomplete elements held. */
  get pendingElements(): number {
    return this.#pending.size;
  }

  /** Bytes held for incomplete elements. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  #drop(key: string): void {
    const entry = this.#pending.get(key);
    if (entry === undefined) return;
    this.#bytes -= entry.bytes;
    this.#pending.delete(key);
  }
}

function checkNow(now: number): void {
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError("Cannot use now: expected a finite number of milliseconds");
  }
}
