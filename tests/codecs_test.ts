/**
 * The byte codecs against the runtime's built-ins (`Uint8Array.fromBase64`,
 * `.toBase64()`, `.toHex()`, `Uint8Array.fromHex`): `lib/crypto/bytes.ts`
 * encodes exactly as they do, and decodes what they decode in their strict
 * mode, except that it also refuses white space (which the built-in skips
 * even with `lastChunkHandling: "strict"`). So a switch of bytes.ts to the
 * built-ins must keep this test green, and a wrapper that forgets the white
 * space check fails it. The GUI's token (`lib/gui/guard.ts`) is base64url
 * from the built-in.
 */

import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { fromBase64, fromHex, toBase64, toHex } from "../lib/crypto/bytes.ts";
import { newToken } from "../lib/gui/guard.ts";

/** The built-in decoder in its strict mode. */
function builtinStrict(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    return undefined;
  }
}

function ours(text: string): Uint8Array | undefined {
  try {
    return fromBase64(text);
  } catch {
    return undefined;
  }
}

Deno.test("toBase64() and toHex() encode as the built-ins do", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
    assertEquals(toBase64(bytes), bytes.toBase64());
    assertEquals(toHex(bytes), bytes.toHex());
    assertEquals(fromBase64(bytes.toBase64()), bytes);
    assertEquals(fromHex(bytes.toHex().toUpperCase()), Uint8Array.fromHex(bytes.toHex()));
  }));
});

Deno.test("fromBase64() is the built-in's strict mode without white space", () => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n".split(
    "",
  );
  const text = fc.array(fc.constantFrom(...alphabet), { maxLength: 16 }).map((cs) => cs.join(""));
  fc.assert(
    fc.property(text, (t) => {
      const expected = /\s/.test(t) ? undefined : builtinStrict(t);
      assertEquals(ours(t), expected, JSON.stringify(t));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("fromBase64() refuses what a loose decoder accepts", () => {
  for (
    const [text, why] of [
      ["AQID+h==", "non-canonical trailing bits"],
      ["AQID+g", "missing padding"],
      ["AQID+g=", "short padding"],
      ["AQ ID+g==", "a space"],
      ["\nAQID+g==", "a newline"],
      ["AQID-g==", "the base64url alphabet"],
      ["AQID_g==", "the base64url alphabet"],
      ["AQID+g==AQ==", "padding inside"],
    ]
  ) {
    assertEquals(ours(text!), undefined, why);
    assertThrows(() => fromBase64(text!), SyntaxError);
  }
  // the built-in skips white space even in strict mode: bytes.ts must check it itself
  assert(builtinStrict("AQ ID+g==") !== undefined);
  for (const hex of ["0a0", "zz", "0x0a", " 0a"]) assertThrows(() => fromHex(hex), SyntaxError);
});

Deno.test("the GUI token is 32 random bytes in unpadded base64url", () => {
  const token = newToken();
  assert(/^[A-Za-z0-9_-]{43}$/.test(token), token);
  assertEquals(Uint8Array.fromBase64(token, { alphabet: "base64url" }).length, 32);
  assert(newToken() !== token);
});
