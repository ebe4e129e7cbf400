import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { concatBytes, fromHex, toHex } from "../lib/crypto/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import {
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  MAX_FRAME_LENGTH,
} from "../lib/protocol/frame.ts";

Deno.test("encodeFrame() writes a u32 big-endian length then the payload", () => {
  // length | payload
  assertEquals(toHex(encodeFrame(fromHex("abcdef"))), "00000003" + "abcdef");
  const big = encodeFrame(new Uint8Array(0x10203));
  assertEquals(toHex(big.subarray(0, 4)), "00010203");
});

Deno.test("encodeFrame() rejects empty and oversized payloads", () => {
  assertThrows(() => encodeFrame(new Uint8Array(0)), ProtocolError, "empty");
  const e = assertThrows(() => encodeFrame(new Uint8Array(MAX_FRAME_LENGTH + 1)), ProtocolError);
  assertEquals((e as ProtocolError).code, "frame_too_large");
  assertEquals(encodeFrame(new Uint8Array(MAX_FRAME_LENGTH)).length, MAX_FRAME_LENGTH + 4);
});

Deno.test("FrameDecoder.push() asks for more on every truncated prefix of a frame", () => {
  const frame = encodeFrame(fromHex("0102030405060708090a"));
  for (let cut = 0; cut < frame.length; cut++) {
    const d = new FrameDecoder();
    assertEquals(d.push(frame.subarray(0, cut)), []);
    assertEquals(d.buffered, cut);
    assertEquals(d.pending, cut !== 0);
    // the rest completes exactly this frame
    assertEquals(d.push(frame.subarray(cut)), [fromHex("0102030405060708090a")]);
    assertEquals(d.pending, false);
  }
});

Deno.test("FrameDecoder.push() returns the same frames for any split of the stream", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat(400), { maxLength: 20 }),
      (payloads, cuts) => {
        const stream = concatBytes(...payloads.map(encodeFrame));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const d = new FrameDecoder();
        const out: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          out.push(...d.push(stream.subarray(prev, p)));
          prev = p;
        }
        assertEquals(out, payloads);
        assertEquals(d.pending, false);
      },
    ),
  );
});

Deno.test("FrameDecoder rejects an oversized header before buffering its body", () => {
  const d = new FrameDecoder();
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_LENGTH + 1);
  const e = assertThrows(() => d.push(header), ProtocolError);
  assertEquals((e as ProtocolError).code, "frame_too_large");
  assertEquals(d.buffered, 0);
  // a failed decoder refuses further input
  const again = assertThrows(() => d.push(fromHex("00")), ProtocolError);
  assertEquals((again as ProtocolError).code, "decoder_failed");
});

Deno.test("FrameDecoder rejects an empty frame and a garbage HTTP request", () => {
  const empty = assertThrows(() => new FrameDecoder().push(new Uint8Array(4)), ProtocolError);
  assertEquals((empty as ProtocolError).code, "frame_empty");
  const http = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
  const e = assertThrows(() => new FrameDecoder().push(http), ProtocolError);
  assertEquals((e as ProtocolError).code, "frame_too_large");
});

Deno.test("FrameDecoder fails the whole chunk when a good frame precedes a bad header", () => {
  // a good frame followed by an oversized header: the stream is out of sync
  const bad = fromHex("ffffffff");
  const d = new FrameDecoder();
  assertThrows(() => d.push(concatBytes(encodeFrame(fromHex("aa")), bad)), ProtocolError);
});

Deno.test("FrameDecoder holds at most one header and one maximal body", () => {
  const d = new FrameDecoder();
  const frame = encodeFrame(new Uint8Array(MAX_FRAME_LENGTH).fill(7));
  let max = 0;
  for (let i = 0; i < frame.length - 1; i += 4099) {
    assertEquals(d.push(frame.subarray(i, Math.min(i + 4099, frame.length - 1))), []);
    max = Math.max(max, d.buffered);
  }
  assert(max <= MAX_FRAME_LENGTH + FRAME_HEADER_LENGTH);
  const out = d.push(frame.subarray(frame.length - 1));
  assertEquals(out.length, 1);
  assertEquals(out[0]!.length, MAX_FRAME_LENGTH);
});
