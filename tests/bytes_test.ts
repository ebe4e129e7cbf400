import { assertEquals, assertThrows } from "./_assert.ts";
import {
  concatBytes,
  equalBytes,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
} from "../lib/crypto/bytes.ts";
import fc from "fast-check";

Deno.test("toBase64() matches RFC 4648 §10 vectors", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, b64] of vectors) {
    assertEquals(toBase64(new TextEncoder().encode(plain)), b64);
    assertEquals(new TextDecoder().decode(fromBase64(b64)), plain);
  }
});

Deno.test("fromBase64() rejects non-canonical and malformed input", () => {
  for (
    const bad of [
      "Zg=",
      "Zh==",
      "Zm9=",
      "Z===",
      "Zm9v\n",
      "Zm 9v",
      "Zm9v====",
      "Zg==Zg==",
      "é===",
      "-_-_",
    ]
  ) {
    assertThrows(() => fromBase64(bad), SyntaxError);
  }
});

Deno.test("base64 and hex round-trip any bytes", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    assertEquals(fromBase64(toBase64(b)), b);
    assertEquals(fromHex(toHex(b)), b);
  }));
});

Deno.test("fromHex() rejects odd length and non-hex", () => {
  assertThrows(() => fromHex("abc"), SyntaxError);
  assertThrows(() => fromHex("zz"), SyntaxError);
});

Deno.test("equalBytes() and concatBytes() behave", () => {
  assertEquals(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assertEquals(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assertEquals(equalBytes(new Uint8Array([1]), new Uint8Array([1, 2])), false);
  assertEquals(
    concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])),
    new Uint8Array([1, 2, 3]),
  );
});
