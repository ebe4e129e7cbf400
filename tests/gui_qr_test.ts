/**
 * The GUI's QR encoder against an independent decoder (`jsqr`): random
 * texts of every length up to the capacity, identity lines, UTF-8, each
 * version 1–10 reached; Reed–Solomon against the known-answer example of
 * the standard (ISO/IEC 18004 Annex I: "01234567" at 1-M); the function
 * patterns and format bits where the standard puts them; and the SVG
 * drawing (decoded again after rasterising its path).
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { jsQR } from "./_gui_harness.ts";
import { encodeQr, MAX_QR_VERSION, type QrCode, qrSvg, reedSolomon } from "../lib/gui/qr.ts";

/** Pixels per module and light modules around, for the decoder. */
const SCALE = 3;
const QUIET = 4;

/** Draws the modules as RGBA pixels and decodes them with jsqr. */
function decode(modules: boolean[][]): string | undefined {
  const size = modules.length;
  const n = (size + 2 * QUIET) * SCALE;
  const data = new Uint8ClampedArray(n * n * 4).fill(255);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!modules[y]![x]) continue;
      for (let dy = 0; dy < SCALE; dy++) {
        for (let dx = 0; dx < SCALE; dx++) {
          const o = (((y + QUIET) * SCALE + dy) * n + (x + QUIET) * SCALE + dx) * 4;
          data[o] = data[o + 1] = data[o + 2] = 0;
        }
      }
    }
  }
  return jsQR(data, n, n, { inversionAttempts: "dontInvert" })?.data;
}

Deno.test("Reed–Solomon matches the standard's worked example (Annex I, 1-M)", () => {
  const data = Uint8Array.from([
    16,
    32,
    12,
    86,
    97,
    128,
    236,
    17,
    236,
    17,
    236,
    17,
    236,
    17,
    236,
    17,
  ]);
  assertEquals([...reedSolomon(data, 10)], [165, 36, 212, 193, 237, 54, 199, 135, 44, 85]);
});

Deno.test("QR codes of random texts decode to the same text (every version 1–10)", () => {
  const versions = new Set<number>();
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 100 }), fc.nat(110), (s, pad) => {
      const text = s + "x".repeat(pad);
      if (new TextEncoder().encode(text).length > 213) return;
      const qr = encodeQr(text);
      versions.add(qr.version);
      assertEquals(qr.size, qr.version * 4 + 17);
      assertEquals(decode(qr.modules), text);
    }),
    { numRuns: 150 },
  );
  for (let v = 1; v <= MAX_QR_VERSION; v++) {
    if (versions.has(v)) continue;
    // lengths that land on the missing version
    const caps = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213];
    const qr = encodeQr("v".repeat(caps[v - 1]!));
    assertEquals(qr.version, v);
    assertEquals(decode(qr.modules), "v".repeat(caps[v - 1]!));
  }
});

Deno.test("QR code of an identity line (the longest name) decodes, and too much is refused", () => {
  const line =
    `${"n".repeat(32)}@jt6zabesvrhxvheejt6zabesvrhxvheejt6zabesvrhxvheejt6zabes.onion:65535 ` +
    "v4kU6s+NuJW/Znbjz0AxoI9Gvl1XDS5eiOTm6cE38E4=";
  assertEquals(line.length, 146);
  const qr = encodeQr(line);
  assert(qr.version <= 8, `version ${qr.version}`);
  assertEquals(decode(qr.modules), line);
  assertEquals(decode(encodeQr("ünïcødé ✓ 🔒").modules), "ünïcødé ✓ 🔒");
  const e = assertThrows(() => encodeQr("x".repeat(214)));
  assertEquals((e as { code?: string }).code, "qr_too_long");
});

Deno.test("finder patterns, timing and the dark module are where the standard puts them", () => {
  const qr: QrCode = encodeQr("hello");
  const m = qr.modules;
  const s = qr.size;
  for (const [x0, y0] of [[0, 0], [s - 7, 0], [0, s - 7]]) {
    for (let i = 0; i < 7; i++) {
      assert(m[y0!]![x0! + i] && m[y0! + 6]![x0! + i] && m[y0! + i]![x0!] && m[y0! + i]![x0! + 6]);
    }
    assert(m[y0! + 3]![x0! + 3] && !m[y0! + 1]![x0! + 1]);
  }
  for (let i = 8; i < s - 8; i++) assertEquals(m[6]![i], i % 2 === 0);
  assert(m[s - 8]![8], "dark module");
});

Deno.test("the SVG draws exactly the modules, with a quiet zone, and escapes its label", () => {
  const qr = encodeQr("alice@x.onion:1 key");
  const svg = qrSvg(qr, `QR <of> "alice" & co`);
  assert(svg.includes("&#60;of&#62; &#34;alice&#34; &#38; co") && !svg.includes("<of>"));
  const n = qr.size + 8;
  assert(svg.includes(`viewBox="0 0 ${n} ${n}"`));
  const grid = Array.from({ length: qr.size }, () => new Array<boolean>(qr.size).fill(false));
  for (const [, x, y] of svg.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    grid[Number(y) - 4]![Number(x) - 4] = true;
  }
  assertEquals(grid, qr.modules);
  assertEquals(decode(grid), "alice@x.onion:1 key");
});
