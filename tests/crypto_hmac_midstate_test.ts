/**
 * Tests of lib/crypto/hmac_midstate.ts: RFC 4231 HMAC-SHA256 vectors,
 * agreement with `@noble/hashes` for every key length up to one block and
 * every message length up to 55 bytes, the tag comparison, and the bounds;
 * the streaming HMAC for messages of any length, and kdf.ts's HMAC and HKDF
 * built on it, against `@noble/hashes`.
 *
 * @module
 */

import fc from "fast-check";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, toHex, utf8 } from "../lib/crypto/bytes.ts";
import {
  hmacMidstate,
  hmacMidstateInto,
  hmacOneBlock,
  hmacOneBlockMatches,
  hmacSha256Short,
  hmacWithMidstateInto,
  MIDSTATE_MAX_KEY_LENGTH,
  ONE_BLOCK_MAX_LENGTH,
  oneBlockSchedule,
  tagWords,
} from "../lib/crypto/hmac_midstate.ts";
import { hkdfSha256Bytes, hmacSha256 } from "../lib/crypto/kdf.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";

function oneBlock(key: Uint8Array, message: Uint8Array): Uint8Array {
  return hmacOneBlock(hmacMidstate(key), oneBlockSchedule(message));
}

Deno.test("hmacOneBlock() matches the RFC 4231 HMAC-SHA256 test cases 1, 2 and 4", () => {
  // RFC 4231 §4.2
  assertEquals(
    toHex(oneBlock(new Uint8Array(20).fill(0x0b), utf8("Hi There"))),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  // RFC 4231 §4.3
  assertEquals(
    toHex(oneBlock(utf8("Jefe"), utf8("what do ya want for nothing?"))),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  // RFC 4231 §4.5: 50 bytes of 0xcd, the longest of the RFC within one block
  assertEquals(
    toHex(
      oneBlock(
        fromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
        new Uint8Array(50).fill(0xcd),
      ),
    ),
    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
  );
});

Deno.test("hmacOneBlock() equals noble's HMAC-SHA256 for keys up to 64 and messages up to 55 bytes", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: MIDSTATE_MAX_KEY_LENGTH }),
      fc.uint8Array({ maxLength: ONE_BLOCK_MAX_LENGTH }),
      (key, message) => {
        assertEquals(oneBlock(key, message), hmac(sha256, key, message));
      },
    ),
    { numRuns: 500 },
  );
  // every length at the edges, explicitly
  for (const keyLength of [0, 1, 31, 32, 33, 55, 56, 63, 64]) {
    for (let n = 0; n <= ONE_BLOCK_MAX_LENGTH; n++) {
      const key = new Uint8Array(keyLength).fill(0xa5);
      const message = Uint8Array.from({ length: n }, (_, i) => i * 7);
      assertEquals(oneBlock(key, message), hmac(sha256, key, message));
    }
  }
});

Deno.test("hmacOneBlockMatches() accepts the right tag and refuses any one-bit change", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.nat(255),
      (key, iv, bit) => {
        const midstate = hmacMidstate(key);
        const schedule = oneBlockSchedule(iv);
        const tag = hmac(sha256, key, iv);
        assert(hmacOneBlockMatches(midstate, schedule, tagWords(tag)));
        const flipped = tag.slice();
        flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
        assert(!hmacOneBlockMatches(midstate, schedule, tagWords(flipped)));
        // the same schedule under another key does not match either
        const other = key.slice();
        other[0] = other[0]! ^ 1;
        assert(!hmacOneBlockMatches(hmacMidstate(other), schedule, tagWords(tag)));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("hmacMidstate() and oneBlockSchedule() refuse inputs beyond one block with bad_length", () => {
  assertThrows(() => hmacMidstate(new Uint8Array(65)), CryptoError, "at most 64 bytes");
  assertThrows(() => oneBlockSchedule(new Uint8Array(56)), CryptoError, "at most 55 bytes");
  assertThrows(() => tagWords(new Uint8Array(31)), CryptoError);
  assertThrows(() => hmacMidstate("key" as unknown as Uint8Array), TypeError);
});

Deno.test("hmacSha256Short() equals noble's HMAC-SHA256 for any message length, around block edges", () => {
  const key = fc.uint8Array({ maxLength: MIDSTATE_MAX_KEY_LENGTH });
  fc.assert(
    fc.property(key, fc.uint8Array({ maxLength: 400 }), (k, data) => {
      assertEquals(hmacSha256Short(k, data), hmac(sha256, k, data));
    }),
    { numRuns: 300 },
  );
  for (let n = 0; n <= 200; n++) {
    const data = Uint8Array.from({ length: n }, (_, i) => i ^ n);
    assertEquals(
      hmacSha256Short(data.subarray(0, 32), data),
      hmac(sha256, data.subarray(0, 32), data),
    );
  }
  assertThrows(() => hmacSha256Short(new Uint8Array(65), new Uint8Array(1)), CryptoError);
});

Deno.test("kdf.ts's hmacSha256() and hkdfSha256Bytes() equal noble's for any key, salt and length", () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });
  fc.assert(
    fc.property(bytes(200), bytes(300), (k, data) => {
      assertEquals(hmacSha256(k, data), hmac(sha256, k, data));
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(
      bytes(100),
      bytes(100),
      bytes(100),
      fc.integer({ min: 1, max: 600 }),
      (ikm, salt, info, l) => {
        assertEquals(hkdfSha256Bytes(ikm, salt, info, l), hkdf(sha256, ikm, salt, info, l));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("hmacMidstateInto() and hmacWithMidstateInto() agree with @noble/hashes without allocating", () => {
  const state = new Int32Array(16);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: MIDSTATE_MAX_KEY_LENGTH }),
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      fc.integer({ min: 0, max: 8 }),
      (key, message, offset) => {
        hmacMidstateInto(key, state);
        assertEquals(state, hmacMidstate(key));
        const out = new Uint8Array(offset + 32 + 3).fill(0xaa);
        hmacWithMidstateInto(state, message, out, offset);
        assertEquals(out.subarray(offset, offset + 32), hmac(sha256, key, message));
        // nothing outside the 32 bytes is touched
        assert(out.subarray(0, offset).every((b) => b === 0xaa));
        assert(out.subarray(offset + 32).every((b) => b === 0xaa));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("hmacWithMidstateInto() and hmacMidstateInto() reject bad lengths", () => {
  const state = hmacMidstate(new Uint8Array(32));
  assertThrows(
    () => hmacWithMidstateInto(state, new Uint8Array(1), new Uint8Array(40), 9),
    CryptoError,
  );
  assertThrows(
    () => hmacWithMidstateInto(state, new Uint8Array(1), new Uint8Array(40), -1),
    CryptoError,
  );
  assertThrows(() => hmacMidstateInto(new Uint8Array(65), new Int32Array(16)), CryptoError);
  assertThrows(() => hmacMidstateInto(new Uint8Array(32), new Int32Array(8)), CryptoError);
});
