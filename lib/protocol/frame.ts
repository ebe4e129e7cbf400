/**
 * Length-prefixed frames for a TCP stream (over Tor), sans-IO: the network
 * layer hands received bytes to a {@linkcode FrameDecoder} and writes the
 * output of {@linkcode encodeFrame}.
 *
 * Wire layout of one frame:
 *
 * ```
 * offset  size  field
 * 0       4     length  u32 big-endian, 1 to MAX_FRAME_LENGTH
 * 4       len   payload (one packet)
 * ```
 *
 * There is no version byte in the frame: the version travels inside the
 * packet (its first byte), so that it survives any other transport that
 * carries packets without our framing (unMessage 0.1's design mentions
 * posting packets to a mailing list; docs/protocol.md §4 "Frames").
 * Empty frames are rejected: a packet is never empty, and refusing them
 * means a stream of zeros cannot make the decoder produce unbounded output.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";

/** Size of the length header in bytes. */
export const FRAME_HEADER_LENGTH = 4;

/**
 * Largest payload of one frame: 256 KiB, twice the largest padded packet
 * (128 KiB, see padding.ts), so a later protocol version may grow packets
 * once, while one connection never makes us buffer more than this.
 */
export const MAX_FRAME_LENGTH = 256 * 1024;

function tooLarge(length: number): ProtocolError {
  return new ProtocolError(
    "frame_too_large",
    `Cannot accept frame: length ${length} exceeds ${MAX_FRAME_LENGTH}`,
  );
}

/**
 * Frames one payload: u32 big-endian length ‖ payload.
 *
 * @throws {ProtocolError} `frame_too_large` beyond {@linkcode MAX_FRAME_LENGTH},
 *   `frame_empty` for an empty payload
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_FRAME_LENGTH) throw tooLarge(payload.length);
  if (payload.length === 0) throw new ProtocolError("frame_empty", "Cannot send an empty frame");
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, false);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

/**
 * Incremental frame decoder. {@linkcode FrameDecoder.push} accepts any split
 * of the stream and returns the frames it completes. Truncated input is not
 * an error: it waits for more. Memory is bounded by one header plus one
 * payload of at most {@linkcode MAX_FRAME_LENGTH}, allocated only once its
 * header has been accepted.
 *
 * States: reading a header (`#body === null`) or filling a body. Once a push
 * has thrown, the decoder is failed and refuses further input (the stream is
 * out of sync and must be closed).
 */
export class FrameDecoder {
  readonly #header = new Uint8Array(FRAME_HEADER_LENGTH);
  #headerFill = 0;
  #body: Uint8Array | null = null;
  #bodyFill = 0;
  #failed = false;

  /**
   * Consumes `bytes` and returns the payloads of the frames they complete,
   * in order (possibly none).
   *
   * @throws {ProtocolError} `frame_too_large` as soon as a header announces
   *   more than {@linkcode MAX_FRAME_LENGTH} (before any of it is buffered),
   *   `frame_empty` for a zero length, `decoder_failed` after a failure
   */
  push(bytes: Uint8Array): Uint8Array[] {
    if (this.#failed) {
      throw new ProtocolError("decoder_failed", "Cannot decode frames: the stream already failed");
    }
    const frames: Uint8Array[] = [];
    let pos = 0;
    try {
      while (pos < bytes.length) {
        if (this.#body === null) {
          const n = Math.min(FRAME_HEADER_LENGTH - this.#headerFill, bytes.length - pos);
          this.#header.set(bytes.subarray(pos, pos + n), this.#headerFill);
          this.#headerFill += n;
          pos += n;
          if (this.#headerFill < FRAME_HEADER_LENGTH) break;
          const length = new DataView(this.#header.buffer).getUint32(0, false);
          this.#headerFill = 0;
          if (length > MAX_FRAME_LENGTH) throw tooLarge(length);
          if (length === 0) throw new ProtocolError("frame_empty", "Cannot accept an empty frame");
          this.#body = new Uint8Array(length);
          this.#bodyFill = 0;
        }
        const body: Uint8Array = this.#body;
        const n = Math.min(body.length - this.#bodyFill, bytes.length - pos);
        body.set(bytes.subarray(pos, pos + n), this.#bodyFill);
        this.#bodyFill += n;
        pos += n;
        if (this.#bodyFill === body.length) {
          frames.push(body);
          this.#body = null;
        }
      }
    } catch (e) {
      this.#failed = true;
      this.#body = null;
      throw e;
    }
    return frames;
  }

  /** Number of bytes held for an incomplete frame (0 between frames). */
  get buffered(): number {
    return this.#body === null ? this.#headerFill : FRAME_HEADER_LENGTH + this.#bodyFill;
  }

  /** True when the stream stopped mid-frame (useful when it closes). */
  get pending(): boolean {
    return this.buffered !== 0;
  }
}
