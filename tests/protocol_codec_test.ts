import fc from "fast-check";
import { assertEquals, assertThrows } from "./_assert.ts";
import { fromHex, toHex } from "../lib/crypto/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Reader, Writer } from "../lib/protocol/codec.ts";

function code(fn: () => unknown): string {
  return (assertThrows(fn, ProtocolError) as ProtocolError).code;
}

Deno.test("Writer encodes integers big-endian and prefixes byte strings", () => {
  const w = new Writer(1)
    .u8(0xab)
    .u16(0x0102)
    .u32(0xdeadbeef)
    .bytes(fromHex("ff"))
    .varBytes(fromHex("c0ffee"), "u16", 10, "field");
  // u8 | u16 | u32 | fixed | u16 length | bytes
  assertEquals(toHex(w.finish()), "ab" + "0102" + "deadbeef" + "ff" + "0003" + "c0ffee");
  assertEquals(w.length, 13);
});

Deno.test("Writer rejects out-of-range integers and over-long byte strings", () => {
  assertThrows(() => new Writer().u8(256), RangeError);
  assertThrows(() => new Writer().u16(-1), RangeError);
  assertThrows(() => new Writer().u32(2 ** 32), RangeError);
  assertEquals(code(() => new Writer().varBytes(new Uint8Array(11), "u32", 10, "f")), "too_long");
  assertEquals(code(() => new Writer().varBytes(new Uint8Array(256), "u8", 1000, "f")), "too_long");
});

Deno.test("Reader reads back what Writer wrote", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ maxLength: 64 }),
      (a, b, c, d) => {
        const bytes = new Writer().u8(a).u16(b).u32(c).varBytes(d, "u32", 64, "d").finish();
        const r = new Reader(bytes);
        assertEquals([r.u8(), r.u16(), r.u32(), r.varBytes("u32", 64)], [a, b, c, d]);
        r.end();
      },
    ),
  );
});

Deno.test("Reader reports truncation, over-long lengths and trailing bytes with codes", () => {
  assertEquals(code(() => new Reader(fromHex("01")).u16()), "truncated");
  assertEquals(code(() => new Reader(fromHex("010203")).u32()), "truncated");
  assertEquals(code(() => new Reader(fromHex("")).u8()), "truncated");
  assertEquals(code(() => new Reader(fromHex("0005aabb")).varBytes("u16", 10)), "truncated");
  // the bound is checked before the (absent) bytes are looked at
  assertEquals(code(() => new Reader(fromHex("ffffffff")).varBytes("u32", 10)), "too_long");
  const r = new Reader(fromHex("0102"));
  r.u8();
  assertEquals(code(() => r.end()), "trailing_bytes");
  assertEquals(toHex(r.rest()), "02");
  r.end();
});

Deno.test("Reader returns copies, not views, of the input", () => {
  const input = fromHex("aabbcc");
  const got = new Reader(input).bytes(2);
  input[0] = 0;
  assertEquals(toHex(got), "aabb");
});

Deno.test("Reader never throws anything but ProtocolError on random input", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 40 }),
      fc.array(fc.nat(4), { maxLength: 12 }),
      (bytes, ops) => {
        const r = new Reader(bytes);
        try {
          for (const op of ops) {
            if (op === 0) r.u8();
            else if (op === 1) r.u16();
            else if (op === 2) r.u32();
            else if (op === 3) r.varBytes("u8", 16);
            else r.bytes(3);
          }
          r.end();
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      },
    ),
  );
});

Deno.test("Writer keeps every field when it grows its buffer", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (chunks) => {
      const w = new Writer(1);
      for (const c of chunks) w.u8(c.length).bytes(c);
      const r = new Reader(w.finish());
      for (const c of chunks) assertEquals(r.varBytes("u8", 100), c);
      r.end();
    }),
  );
});
