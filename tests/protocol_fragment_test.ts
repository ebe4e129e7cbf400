import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { concatBytes, fromHex, toHex } from "../lib/crypto/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import { decodeElement, encodeElement } from "../lib/protocol/elements.ts";
import {
  decodePart,
  fragmentElement,
  INCOMPLETE_TTL_MS,
  MAX_ELEMENT_SIZE,
  MAX_PARTS,
  MAX_PENDING_BYTES,
  MAX_PENDING_ELEMENTS,
  PART_HEADER_LENGTH,
  Reassembler,
} from "../lib/protocol/fragment.ts";

const ID = fromHex("00112233445566778899aabbccddeeff");

function code(fn: () => unknown): string {
  return (assertThrows(fn, ProtocolError) as ProtocolError).code;
}

function part(id: Uint8Array, index: number, count: number, data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint16(0, index);
  new DataView(header.buffer).setUint16(2, count);
  return concatBytes(id, header, data);
}

Deno.test("fragmentElement() writes ID, index and count before each chunk", () => {
  const parts = fragmentElement(fromHex("0102030405"), PART_HEADER_LENGTH + 2, ID);
  // element ID | index | count | data
  assertEquals(parts.map(toHex), [
    toHex(ID) + "0000" + "0003" + "0102",
    toHex(ID) + "0001" + "0003" + "0304",
    toHex(ID) + "0002" + "0003" + "05",
  ]);
  assertEquals(decodePart(parts[2]!), { elementId: ID, index: 2, count: 3, data: fromHex("05") });
});

Deno.test("a 1 MiB multi-line message round-trips through fragments in any order", () => {
  const rng = seededRng("fragment");
  const text = Array.from({ length: 16384 }, (_, i) => `line ${i}: ${"é".repeat(28)}`).join("\n");
  const element = { type: "message" as const, text, id: rng(16) };
  const encoded = encodeElement(element);
  assert(encoded.length > 1024 * 1024);
  const parts = fragmentElement(encoded, 2000, element.id);
  const order = parts.map((_, i) => i).sort(() => rng(1)[0]! - 128);
  const r = new Reassembler();
  let done: Uint8Array | null = null;
  for (const i of order) {
    assertEquals(done, null);
    assertEquals(r.holds(element.id), i !== order[0], "holds the element once a part is in");
    done = r.push(parts[i]!, 1000);
    if (i === order[0]) assertEquals(r.push(parts[i]!, 1000), null); // duplicate ignored
  }
  assertEquals(decodeElement(done!), element);
  assertEquals([r.pendingElements, r.pendingBytes], [0, 0]);
  assertEquals(r.holds(element.id), false, "a complete element is no longer held");
});

Deno.test("fragments reassemble to the element for any size and part size", () => {
  fc.assert(
    fc.property(
      // at most MAX_PARTS bytes, so even 1-byte chunks stay within MAX_PARTS parts
      fc.nat(MAX_PARTS - 1),
      fc.integer({ min: PART_HEADER_LENGTH + 1, max: 600 }),
      fc.integer(),
      (n, size, seed) => {
        const encoded = seededRng(seed)(n + 1);
        const parts = fragmentElement(encoded, size, ID);
        assert(parts.every((p) => p.length <= size));
        const r = new Reassembler();
        const outs = parts.map((p) => r.push(p, 0));
        assertEquals(outs.at(-1), encoded);
        assert(outs.slice(0, -1).every((o) => o === null));
      },
    ),
    { numRuns: 80 },
  );
});

Deno.test("fragmentElement() refuses too many parts, no room and oversized elements", () => {
  assertEquals(
    code(() => fragmentElement(new Uint8Array(MAX_PARTS + 1), PART_HEADER_LENGTH + 1, ID)),
    "too_long",
  );
  assertEquals(
    code(() => fragmentElement(new Uint8Array(MAX_ELEMENT_SIZE + 1), 1 << 20, ID)),
    "too_long",
  );
  assertThrows(() => fragmentElement(new Uint8Array(5), PART_HEADER_LENGTH, ID), RangeError);
});

Deno.test("Reassembler rejects malformed parts and conflicting counts", () => {
  const r = new Reassembler();
  assertEquals(code(() => r.push(part(ID, 0, 0, fromHex("aa")), 0)), "bad_part");
  assertEquals(code(() => r.push(part(ID, 3, 3, fromHex("aa")), 0)), "bad_part");
  assertEquals(code(() => r.push(part(ID, 0, 2, new Uint8Array(0)), 0)), "bad_part");
  assertEquals(code(() => r.push(part(ID, 0, MAX_PARTS + 1, fromHex("aa")), 0)), "too_long");
  assertEquals(code(() => r.push(ID.subarray(0, 10), 0)), "truncated");
  assertEquals(r.push(part(ID, 0, 3, fromHex("aa")), 0), null);
  assertEquals(code(() => r.push(part(ID, 1, 4, fromHex("bb")), 0)), "conflicting_count");
  assertEquals(r.push(part(ID, 1, 3, fromHex("bb")), 0), null);
  assertEquals(r.push(part(ID, 2, 3, fromHex("cc")), 0), fromHex("aabbcc"));
});

Deno.test("Reassembler forgets incomplete elements after INCOMPLETE_TTL_MS without progress", () => {
  const r = new Reassembler();
  r.push(part(ID, 0, 2, fromHex("aa")), 0);
  assertEquals(r.expire(INCOMPLETE_TTL_MS - 1), 0);
  assertEquals(r.pendingElements, 1);
  // the late part starts over: its element was forgotten
  assertEquals(r.push(part(ID, 1, 2, fromHex("bb")), INCOMPLETE_TTL_MS), null);
  assertEquals([r.pendingElements, r.pendingBytes], [1, 1]);
  assertThrows(() => r.push(part(ID, 1, 2, fromHex("bb")), NaN), TypeError);
});

Deno.test("Reassembler bounds pending elements and bytes by dropping the oldest", () => {
  const r = new Reassembler();
  for (let i = 0; i < MAX_PENDING_ELEMENTS + 5; i++) {
    const id = new Uint8Array(16).fill(i);
    r.push(part(id, 0, 2, fromHex("aa")), 0);
    assert(r.pendingElements <= MAX_PENDING_ELEMENTS);
  }
  // the oldest was dropped, the newest is kept
  assertEquals(r.push(part(new Uint8Array(16).fill(0), 1, 2, fromHex("bb")), 0), null);
  assertEquals(
    r.push(part(new Uint8Array(16).fill(MAX_PENDING_ELEMENTS + 4), 1, 2, fromHex("bb")), 0),
    fromHex("aabb"),
  );
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < 12; i++) {
    r.push(part(new Uint8Array(16).fill(100 + i), 0, 4, big), 0);
    assert(r.pendingBytes <= MAX_PENDING_BYTES);
  }
});

Deno.test("Reassembler drops an element that grows beyond MAX_ELEMENT_SIZE", () => {
  const r = new Reassembler();
  const chunk = new Uint8Array(MAX_ELEMENT_SIZE / 2 + 1);
  assertEquals(r.push(part(ID, 0, 3, chunk), 0), null);
  assertEquals(code(() => r.push(part(ID, 1, 3, chunk), 0)), "too_long");
  assertEquals([r.pendingElements, r.pendingBytes], [0, 0]);
});
