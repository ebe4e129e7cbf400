/**
 * A small QR code encoder (ISO/IEC 18004, Model 2) for the GUI's "share
 * your identity" picture: byte mode, error correction level M, versions 1
 * to 10 (up to 213 bytes, more than the longest identity line,
 * `name@<56>.onion:<port> <key>`, which is at most 146). It returns the
 * module matrix and an SVG drawing of it; nothing is fetched, nothing is
 * random (the mask with the lowest penalty is chosen, as the standard says).
 *
 * Pure: no I/O. Tested by decoding its output with an independent decoder
 * (`jsqr`), from the matrix and from a browser screenshot.
 *
 * @module
 */

import { UnmessageError } from "../errors.ts";

/** Highest version supported (57 × 57 modules). */
export const MAX_QR_VERSION = 10;
/** Light modules around the symbol, as the standard requires. */
const QUIET_ZONE = 4;

/** Per version 1–10 at level M: error correction codewords per block, and blocks. */
const ECC_PER_BLOCK = [10, 16, 26, 18, 24, 16, 18, 22, 22, 26];
const BLOCKS = [1, 1, 1, 2, 2, 4, 4, 4, 5, 5];
/** Alignment pattern centres per version 1–10. */
const ALIGNMENT = [
  [],
  [6, 18],
  [6, 22],
  [6, 26],
  [6, 30],
  [6, 34],
  [6, 22, 38],
  [6, 24, 42],
  [6, 26, 46],
  [6, 28, 50],
];
/** Level M's two format bits. */
const LEVEL_M_BITS = 0b00;

/** A QR symbol: `modules[y][x]` is true for a dark module. */
export interface QrCode {
  /** 1 to MAX_QR_VERSION. */
  version: number;
  /** The mask pattern chosen, 0 to 7. */
  mask: number;
  /** Modules per side. */
  size: number;
  /** Rows of modules, top to bottom. */
  modules: boolean[][];
}

/** Modules available for data and error correction in a version (the standard's count). */
function rawModules(ver: number): number {
  let n = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const align = Math.floor(ver / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (ver >= 7) n -= 36;
  }
  return n;
}

/** Data codewords a version holds at level M. */
function dataCodewords(ver: number): number {
  return Math.floor(rawModules(ver) / 8) - ECC_PER_BLOCK[ver - 1]! * BLOCKS[ver - 1]!;
}

// GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x = (x << 1) ^ (x & 0x80 ? 0x11d : 0);
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
const mul = (a: number, b: number) => a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;

/** Reed–Solomon error correction codewords of `data` (generator with roots α^0 … α^(n-1)). */
export function reedSolomon(data: Uint8Array, n: number): Uint8Array {
  let gen = [1];
  for (let i = 0; i < n; i++) {
    const next = new Array<number>(gen.length + 1).fill(0);
    for (let j = 0; j < gen.length; j++) {
      next[j]! ^= gen[j]!;
      next[j + 1]! ^= mul(gen[j]!, EXP[i]!);
    }
    gen = next;
  }
  const rem = new Uint8Array(n);
  for (const byte of data) {
    const factor = byte ^ rem[0]!;
    rem.copyWithin(0, 1);
    rem[n - 1] = 0;
    for (let j = 0; j < n; j++) rem[j]! ^= mul(gen[j + 1]!, factor);
  }
  return rem;
}

/** The data codewords: mode, length, bytes, terminator and padding. */
function dataBits(bytes: Uint8Array, ver: number): Uint8Array {
  const capacity = dataCodewords(ver);
  const bits: number[] = [];
  const put = (value: number, count: number) => {
    for (let i = count - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4);
  put(bytes.length, ver < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  put(0, Math.min(4, capacity * 8 - bits.length));
  while (bits.length % 8 !== 0) bits.push(0);
  const out = new Uint8Array(capacity);
  for (let i = 0; i < bits.length; i++) out[i >> 3]! |= bits[i]! << (7 - (i & 7));
  for (let i = bits.length / 8, pad = 0xec; i < capacity; i++, pad ^= 0xec ^ 0x11) out[i] = pad;
  return out;
}

/** Splits into blocks, adds error correction, and interleaves (the standard's order). */
function codewords(data: Uint8Array, ver: number): Uint8Array {
  const blocks = BLOCKS[ver - 1]!;
  const ecc = ECC_PER_BLOCK[ver - 1]!;
  const raw = Math.floor(rawModules(ver) / 8);
  const shortBlocks = blocks - (raw % blocks);
  const shortLength = Math.floor(raw / blocks) - ecc;
  const parts: { data: Uint8Array; ecc: Uint8Array }[] = [];
  for (let i = 0, off = 0; i < blocks; i++) {
    const len = shortLength + (i < shortBlocks ? 0 : 1);
    const block = data.subarray(off, off + len);
    off += len;
    parts.push({ data: block, ecc: reedSolomon(block, ecc) });
  }
  const out: number[] = [];
  for (let i = 0; i <= shortLength; i++) {
    for (const p of parts) if (i < p.data.length) out.push(p.data[i]!);
  }
  for (let i = 0; i < ecc; i++) for (const p of parts) out.push(p.ecc[i]!);
  return Uint8Array.from(out);
}

const MASKS: ((y: number, x: number) => boolean)[] = [
  (y, x) => (y + x) % 2 === 0,
  (y) => y % 2 === 0,
  (_y, x) => x % 3 === 0,
  (y, x) => (y + x) % 3 === 0,
  (y, x) => (Math.floor(y / 2) + Math.floor(x / 3)) % 2 === 0,
  (y, x) => (y * x) % 2 + (y * x) % 3 === 0,
  (y, x) => ((y * x) % 2 + (y * x) % 3) % 2 === 0,
  (y, x) => ((y + x) % 2 + (y * x) % 3) % 2 === 0,
];

/** A symbol under construction: modules and which of them are function patterns. */
class Grid {
  readonly size: number;
  readonly dark: boolean[][];
  readonly fixed: boolean[][];
  constructor(readonly version: number) {
    this.size = version * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
  }
  set(x: number, y: number, dark: boolean): void {
    this.dark[y]![x] = dark;
    this.fixed[y]![x] = true;
  }
  drawFunctionPatterns(): void {
    const s = this.size;
    for (let i = 0; i < s; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [s - 4, 3], [3, s - 4]] as const) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx, y = cy + dy;
          const d = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < s && y >= 0 && y < s) this.set(x, y, d !== 2 && d !== 4);
        }
      }
    }
    const centres = ALIGNMENT[this.version - 1]!;
    const last = centres.length - 1;
    for (let i = 0; i <= last; i++) {
      for (let j = 0; j <= last; j++) {
        const corner = (i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0);
        if (corner) continue;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            this.set(
              centres[i]! + dx,
              centres[j]! + dy,
              Math.max(Math.abs(dx), Math.abs(dy)) !== 1,
            );
          }
        }
      }
    }
    this.drawFormat(0); // reserves the format areas; redrawn with the chosen mask
    if (this.version >= 7) this.drawVersion();
  }
  drawFormat(mask: number): void {
    const data = (LEVEL_M_BITS << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i: number) => ((bits >>> i) & 1) === 1;
    const s = this.size;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(s - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, s - 15 + i, bit(i));
    this.set(8, s - 8, true);
  }
  drawVersion(): void {
    let rem = this.version;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const bits = (this.version << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const dark = ((bits >>> i) & 1) === 1;
      const a = this.size - 11 + (i % 3), b = Math.floor(i / 3);
      this.set(a, b, dark);
      this.set(b, a, dark);
    }
  }
  /** Places the codewords in the zig-zag order, right to left, skipping the timing column. */
  drawCodewords(data: Uint8Array): void {
    let i = 0;
    for (let right = this.size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let v = 0; v < this.size; v++) {
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? this.size - 1 - v : v;
          if (this.fixed[y]![x]) continue;
          if (i < data.length * 8) this.dark[y]![x] = ((data[i >> 3]! >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }
  applyMask(mask: number): void {
    const f = MASKS[mask]!;
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if (!this.fixed[y]![x] && f(y, x)) this.dark[y]![x] = !this.dark[y]![x];
      }
    }
  }
}

/** The standard's penalty score of a finished symbol (lower is easier to scan). */
export function penalty(m: boolean[][]): number {
  const s = m.length;
  let score = 0;
  const line = (get: (i: number) => boolean) => {
    let run = 1;
    let bits = "";
    for (let i = 0; i < s; i++) {
      bits += get(i) ? "1" : "0";
      if (i > 0 && get(i) === get(i - 1)) run++;
      else {
        if (run >= 5) score += run - 2;
        run = 1;
      }
    }
    if (run >= 5) score += run - 2;
    const padded = `0000${bits}0000`;
    for (const p of ["10111010000", "00001011101"]) {
      for (let at = padded.indexOf(p); at >= 0; at = padded.indexOf(p, at + 1)) score += 40;
    }
  };
  for (let y = 0; y < s; y++) line((x) => m[y]![x]!);
  for (let x = 0; x < s; x++) line((y) => m[y]![x]!);
  let dark = 0;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      if (m[y]![x]) dark++;
      if (x + 1 < s && y + 1 < s) {
        const c = m[y]![x];
        if (c === m[y]![x + 1] && c === m[y + 1]![x] && c === m[y + 1]![x + 1]) score += 3;
      }
    }
  }
  score += 10 * Math.floor(Math.abs(dark * 20 - s * s * 10) / (s * s));
  return score;
}

/** The input is longer than the largest supported symbol holds. */
export class QrTooLongError extends UnmessageError {
  /** `bytes`: the length of the text given. */
  constructor(bytes: number) {
    super(
      "qr_too_long",
      `Cannot draw a QR code of ${bytes} bytes: at most ${
        dataCodewords(MAX_QR_VERSION) - 3
      } fit; share the text instead`,
    );
  }
}

/**
 * Encodes `text` (UTF-8, byte mode, level M) in the smallest version that
 * holds it, with the mask of lowest penalty.
 *
 * @throws {QrTooLongError} past the capacity of version {@linkcode MAX_QR_VERSION}
 */
export function encodeQr(text: string): QrCode {
  const bytes = new TextEncoder().encode(text);
  let ver = 1;
  // 4 bits of mode, 8 or 16 of length
  while (
    ver <= MAX_QR_VERSION && dataCodewords(ver) * 8 < 4 + (ver < 10 ? 8 : 16) + bytes.length * 8
  ) ver++;
  if (ver > MAX_QR_VERSION) throw new QrTooLongError(bytes.length);
  const words = codewords(dataBits(bytes, ver), ver);
  let best: QrCode | undefined;
  let bestScore = Infinity;
  for (let mask = 0; mask < MASKS.length; mask++) {
    const g = new Grid(ver);
    g.drawFunctionPatterns();
    g.drawCodewords(words);
    g.applyMask(mask);
    g.drawFormat(mask);
    const score = penalty(g.dark);
    if (score < bestScore) {
      bestScore = score;
      best = { version: ver, mask, size: g.size, modules: g.dark };
    }
  }
  return best!;
}

/** An SVG drawing of `qr`: dark modules on white, with the quiet zone, scalable. */
export function qrSvg(qr: QrCode, label: string): string {
  const n = qr.size + 2 * QUIET_ZONE;
  let path = "";
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (qr.modules[y]![x]) path += `M${x + QUIET_ZONE} ${y + QUIET_ZONE}h1v1h-1z`;
    }
  }
  const title = label.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" ` +
    `shape-rendering="crispEdges" role="img" aria-label="${title}"><title>${title}</title>` +
    `<rect width="${n}" height="${n}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}
