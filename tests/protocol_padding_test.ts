import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { fromHex, toHex } from "../lib/crypto/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import {
  isBucketLength,
  MAX_PADDED_LENGTH,
  maxPaddableLength,
  pad,
  PADDING_BUCKETS,
  unpad,
} from "../lib/protocol/padding.ts";

function code(fn: () => unknown): string {
  return (assertThrows(fn, ProtocolError) as ProtocolError).code;
}

Deno.test("pad() writes length, data and zeros up to the smallest bucket", () => {
  const p = pad(fromHex("c0ffee"));
  assertEquals(p.length, 512);
  assertEquals(toHex(p.subarray(0, 7)), "00000003" + "c0ffee");
  assert(p.subarray(7).every((b) => b === 0));
  // with 100 bytes of overhead the padded plaintext is 412 bytes
  assertEquals(pad(fromHex("00"), 100).length, 412);
  assertEquals(pad(new Uint8Array(508)).length, 512);
  assertEquals(pad(new Uint8Array(509)).length, 2048);
});

Deno.test("pad() lands every length plus overhead on a bucket and unpad() inverts it", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 9000 }),
      fc.integer({ min: 0, max: 200 }),
      (data, overhead) => {
        const p = pad(data, overhead);
        assert(isBucketLength(p.length + overhead));
        assertEquals(unpad(p, overhead), data);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("pad() refuses data beyond the largest bucket", () => {
  assertEquals(pad(new Uint8Array(maxPaddableLength(73)), 73).length + 73, MAX_PADDED_LENGTH);
  assertEquals(code(() => pad(new Uint8Array(maxPaddableLength(73) + 1), 73)), "too_long");
  assertEquals(PADDING_BUCKETS.at(-1), MAX_PADDED_LENGTH);
});

Deno.test("unpad() rejects every non-canonical padding", () => {
  const good = pad(fromHex("aabb"));
  const nonzero = good.slice();
  nonzero[511] = 1;
  assertEquals(code(() => unpad(nonzero)), "bad_padding");
  const long = good.slice();
  long[1] = 0xff; // length beyond the input
  assertEquals(code(() => unpad(long)), "bad_padding");
  // a bigger bucket than needed
  const big = new Uint8Array(2048);
  big[3] = 2;
  assertEquals(code(() => unpad(big)), "bad_padding");
  // a length that is no bucket at all
  assertEquals(code(() => unpad(good.subarray(0, 500))), "bad_padding");
  assertEquals(code(() => unpad(fromHex("000000"))), "bad_padding");
  // the wrong overhead
  assertEquals(code(() => unpad(good, 1)), "bad_padding");
});

Deno.test("unpad() throws only ProtocolError on random input", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.integer({ min: 0, max: 100 }),
      (bytes, overhead) => {
        try {
          unpad(bytes, overhead);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      },
    ),
  );
});
