import fc from "fast-check";
import { assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { fromHex, toHex } from "../lib/crypto/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import {
  createElement,
  decodeElement,
  type Element,
  encodeElement,
  MAX_AUTH_BYTES,
  MAX_ELEMENT_SIZE,
  packetName,
} from "../lib/protocol/elements.ts";

const ID = fromHex("000102030405060708090a0b0c0d0e0f");
const ACKED = fromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

function code(fn: () => unknown): string {
  return (assertThrows(fn, ProtocolError) as ProtocolError).code;
}

Deno.test("encodeElement() writes type, ID and body as documented", () => {
  const id = toHex(ID);
  // type | ID | u32 length | UTF-8
  assertEquals(
    toHex(encodeElement({ type: "message", text: "hé\n!", id: ID })),
    "01" + id + "00000005" + "68c3a90a21",
  );
  // type | ID | status
  assertEquals(
    toHex(encodeElement({ type: "presence", status: "online", id: ID })),
    "02" + id + "01",
  );
  assertEquals(
    toHex(encodeElement({ type: "presence", status: "offline", id: ID })),
    "02" + id + "00",
  );
  assertEquals(
    toHex(encodeElement({ type: "authentication", data: fromHex("abcd"), id: ID })),
    "03" + id + "00000002abcd",
  );
  assertEquals(toHex(encodeElement({ type: "request_accepted", id: ID })), "04" + id);
  assertEquals(
    toHex(encodeElement({ type: "ack", ackedId: ACKED, id: ID })),
    "05" + id + toHex(ACKED),
  );
  assertEquals(
    toHex(encodeElement({ type: "file", data: fromHex("ee"), id: ID })),
    "06" + id + "00000001ee",
  );
  assertEquals(toHex(encodeElement({ type: "conversation_deleted", id: ID })), "07" + id);
  // type | ID | packet name
  assertEquals(
    toHex(encodeElement({ type: "unreadable", packet: ACKED, id: ID })),
    "08" + id + toHex(ACKED),
  );
});

Deno.test("packetName() is the first 16 bytes of the packet's SHA-256", () => {
  // SHA-256("abc"), FIPS 180-2 appendix B.1
  assertEquals(
    toHex(packetName(new TextEncoder().encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223",
  );
});

const arbElement: fc.Arbitrary<Element> = fc.oneof(
  fc.record({
    type: fc.constant("message" as const),
    text: fc.string({ unit: "grapheme", maxLength: 200 }),
  }),
  fc.record({
    type: fc.constant("presence" as const),
    status: fc.constantFrom("online" as const, "offline" as const),
  }),
  fc.record({
    type: fc.constant("authentication" as const),
    data: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({ type: fc.constant("request_accepted" as const) }),
  fc.record({ type: fc.constant("conversation_deleted" as const) }),
  fc.record({
    type: fc.constant("ack" as const),
    ackedId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  }),
  fc.record({ type: fc.constant("file" as const), data: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({
    type: fc.constant("unreadable" as const),
    packet: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  }),
).chain((body) =>
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((id) => ({ ...body, id }) as Element)
);

Deno.test("decodeElement() inverts encodeElement() for every element", () => {
  fc.assert(
    fc.property(
      arbElement,
      (element) => assertEquals(decodeElement(encodeElement(element)), element),
    ),
  );
});

Deno.test("message text survives exactly: newlines, a leading BOM, astral characters", () => {
  for (
    const text of ["", "line 1\nline 2\r\n\n", "\uFEFFbom", "😀 \u0000 end", "a".repeat(70000)]
  ) {
    const element = { type: "message" as const, text, id: ID };
    assertEquals(decodeElement(encodeElement(element)), element);
  }
});

Deno.test("createElement() draws a fresh 16-byte ID from the rng", () => {
  const rng = seededRng("elements");
  const a = createElement({ type: "request_accepted" }, rng);
  const b = createElement({ type: "request_accepted" }, rng);
  assertEquals(a.id.length, 16);
  assertEquals(toHex(a.id) === toHex(b.id), false);
});

Deno.test("encodeElement() rejects lone surrogates and over-long fields", () => {
  assertEquals(
    code(() => encodeElement({ type: "message", text: "a\uD800b", id: ID })),
    "bad_text",
  );
  assertEquals(
    code(() =>
      encodeElement({ type: "authentication", data: new Uint8Array(MAX_AUTH_BYTES + 1), id: ID })
    ),
    "too_long",
  );
});

Deno.test("decodeElement() rejects unknown types, bad statuses, bad UTF-8, truncation and trailing bytes", () => {
  const id = toHex(ID);
  assertEquals(code(() => decodeElement(fromHex("09" + id))), "unknown_element");
  assertEquals(code(() => decodeElement(fromHex("07" + id + "00"))), "trailing_bytes");
  assertEquals(code(() => decodeElement(fromHex("00" + id))), "unknown_element");
  assertEquals(code(() => decodeElement(fromHex("02" + id + "02"))), "bad_element");
  assertEquals(code(() => decodeElement(fromHex("01" + id + "00000002c328"))), "bad_text");
  assertEquals(code(() => decodeElement(fromHex("01" + id + "00000009abcd"))), "truncated");
  assertEquals(code(() => decodeElement(fromHex("01" + id.slice(0, 10)))), "truncated");
  assertEquals(code(() => decodeElement(fromHex(""))), "truncated");
  assertEquals(code(() => decodeElement(fromHex("04" + id + "00"))), "trailing_bytes");
  assertEquals(code(() => decodeElement(fromHex("03" + id + "ffffffff"))), "too_long");
  assertEquals(code(() => decodeElement(new Uint8Array(MAX_ELEMENT_SIZE + 1))), "too_long");
});

Deno.test("decodeElement() throws only ProtocolError on every truncation and bit flip", () => {
  fc.assert(
    fc.property(arbElement, fc.nat(), fc.nat(7), (element, at, bit) => {
      const bytes = encodeElement(element);
      const flipped = bytes.slice();
      flipped[at % bytes.length]! ^= 1 << bit;
      for (const input of [flipped, bytes.subarray(0, at % bytes.length)]) {
        try {
          decodeElement(input);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }
    }),
  );
});
