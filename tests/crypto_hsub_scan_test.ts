/**
 * Tests of lib/crypto/hsub_scan.ts and its WebAssembly: the embedded bytes
 * are exactly the assembly of hsub_scan.wat (scripts/wat.ts), the SIMD scan
 * and the JavaScript fallback find the key of a tag among many, from any
 * starting slot, agree with hmac_midstate.ts on random keys and messages,
 * never report a key that does not match, and zero what is removed.
 *
 * @module
 */

import fc from "fast-check";
import { fromBase64 } from "../lib/crypto/bytes.ts";
import {
  hmacMidstate,
  hmacOneBlock,
  oneBlockSchedule,
  tagWords,
} from "../lib/crypto/hmac_midstate.ts";
import { MidstateTable } from "../lib/crypto/hsub_scan.ts";
import { WASM_BASE64 } from "../lib/crypto/hsub_scan_wasm.ts";
import { assemble, WatError } from "../scripts/wat.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

const WAT = new URL("../lib/crypto/hsub_scan.wat", import.meta.url);

Deno.test("hsub_scan_wasm.ts holds exactly the assembly of hsub_scan.wat", async () => {
  const assembled = assemble(await Deno.readTextFile(WAT));
  assertEquals(fromBase64(WASM_BASE64), assembled, "run scripts/wat.ts again");
  assert(WebAssembly.validate(assembled as Uint8Array<ArrayBuffer>), "not valid WebAssembly");
});

Deno.test("the assembler names the line of what it does not know", () => {
  const e = assertThrows(
    () => assemble("(module\n  (func $f\n    i32.const 1\n    i32.frobnicate))"),
    WatError,
  );
  assert(e.message.includes("line 4"), e.message);
  assertThrows(() => assemble("(module (func $f br $nowhere))"), WatError, "unknown label");
  assertThrows(() => assemble("(module"), WatError, "unbalanced");
});

const rng = seededRng("hsub-scan");

function keys(n: number): Int32Array[] {
  return Array.from({ length: n }, () => hmacMidstate(rng(1 + (rng(1)[0]! % 64))));
}

for (const wasm of [true, false]) {
  const kind = wasm ? "SIMD" : "JavaScript";
  Deno.test(`MidstateTable (${kind}) finds the key of a tag, from any slot, and only it`, () => {
    const table = new MidstateTable({ wasm });
    if (wasm) assert(table.simd, "the WebAssembly scan did not pass its self-test here");
    else assertEquals(table.simd, false);
    const all = keys(1030); // more than a page of groups, and not a multiple of 4
    for (const k of all) table.add(k);
    assertEquals(table.size, all.length);
    const schedule = oneBlockSchedule(rng(24));
    for (const target of [0, 1, 2, 3, 4, 5, 511, 1027, 1028, 1029]) {
      const expected = tagWords(hmacOneBlock(all[target]!, schedule));
      assertEquals(table.find(schedule, expected), target);
      assertEquals(table.find(schedule, expected, target), target);
      assertEquals(table.find(schedule, expected, target + 1), -1, `from after ${target}`);
      for (const from of [1, 2, 3, 5]) {
        assertEquals(table.find(schedule, expected, from), target >= from ? target : -1);
      }
    }
    const stranger = tagWords(rng(32));
    assertEquals(table.find(schedule, stranger), -1);
  });

  Deno.test(`MidstateTable (${kind}) agrees with hmac_midstate.ts on random keys and messages`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { minLength: 1, maxLength: 13 }),
        fc.uint8Array({ minLength: 0, maxLength: 55 }),
        fc.nat(),
        (raw, message, pick) => {
          const table = new MidstateTable({ wasm });
          const states = raw.map((k) => hmacMidstate(k));
          for (const s of states) table.add(s);
          const schedule = oneBlockSchedule(message);
          const target = pick % states.length;
          const expected = tagWords(hmacOneBlock(states[target]!, schedule));
          // the first key with that tag (two equal keys give equal tags)
          const first = states.findIndex((s) =>
            tagWords(hmacOneBlock(s, schedule)).every((w, i) => w === expected[i])
          );
          assertEquals(table.find(schedule, expected), first);
        },
      ),
      { numRuns: 60 },
    );
  });

  Deno.test(`MidstateTable (${kind}) removes a key: it matches no more and its slot is reused`, () => {
    const table = new MidstateTable({ wasm });
    const [a, b, c] = keys(3);
    const sa = table.add(a!);
    const sb = table.add(b!);
    table.add(c!);
    const schedule = oneBlockSchedule(rng(24));
    const tagB = tagWords(hmacOneBlock(b!, schedule));
    assertEquals(table.find(schedule, tagB), sb);
    table.remove(sb);
    assertEquals(table.find(schedule, tagB), -1);
    assertEquals(table.add(b!), sb);
    assertEquals(table.find(schedule, tagB), sb);
    assertEquals(table.find(schedule, tagWords(hmacOneBlock(a!, schedule))), sa);
  });
}
