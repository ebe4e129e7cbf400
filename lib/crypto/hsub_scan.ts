/**
 * Trying one HMAC-SHA256 tag of a one-block message under many keys at
 * once: how a packet is identified among every conversation of a peer
 * (packet_common.ts). A {@linkcode MidstateTable} keeps the keys'
 * midstates (hmac_midstate.ts: the SHA-256 states after K ⊕ ipad and
 * K ⊕ opad) side by side, four keys per group, word j of the four in 16
 * adjacent bytes, and {@linkcode MidstateTable.find} runs both compressions
 * (FIPS 180-4 §6.2.2) for four keys at a time in 128-bit SIMD lanes:
 * hsub_scan.wat, assembled by scripts/wat.ts into hsub_scan_wasm.ts.
 *
 * What all keys share is done once per message: its inner block's schedule,
 * plus the round constants. Per key remain the inner compression, the
 * outer block's schedule (the inner digest and fixed padding) and the outer
 * compression, which stops after its 61st round: the state's `a` and `e`
 * then become the digest's words 3 and 7. A key whose two words agree with
 * the tag's is checked again in full, in constant time
 * (`hmacOneBlockMatches`); which words of a tag agree reveals nothing an
 * attacker can use, as two words are 64 bits.
 *
 * The WebAssembly is checked once (a known answer computed with
 * hmac_midstate.ts) before first use; where it cannot run or gives a wrong
 * answer, the same layout is scanned in JavaScript, key by key (about six
 * times slower).
 *
 * Midstates are key material: a removed key's words are zeroed, and the
 * table's memory is the table's alone.
 *
 * @module
 */

import { fromBase64 } from "./bytes.ts";
import {
  hmacMidstate,
  hmacOneBlock,
  hmacOneBlockMatches,
  oneBlockSchedule,
  SHA256_K,
  tagWords,
} from "./hmac_midstate.ts";
import { WASM_BASE64 } from "./hsub_scan_wasm.ts";

/** Words of one key's midstate: the ipad state, then the opad state. */
export const MIDSTATE_WORDS = 16;

// the memory layout of hsub_scan.wat (bytes)
const KW = 0;
const E3 = 1024;
const E7 = 1040;
const WO = 1088;
const KO = 2112;
const STATES = 4096;
const GROUP_BYTES = 256;
const PAGE_BYTES = 65536;

/** Most keys in one table: 2^22 groups of four (256 bytes each) stay far inside 4 GiB of memory. */
export const MAX_TABLE_KEYS = 1 << 24;

let compiled: WebAssembly.Module | null | undefined;

function wasmModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = new WebAssembly.Module(fromBase64(WASM_BASE64) as Uint8Array<ArrayBuffer>);
  } catch {
    compiled = null;
  }
  return compiled;
}

interface Engine {
  memory: WebAssembly.Memory | null;
  bytes: ArrayBuffer;
  /** The first slot in [from, n) whose words 3 and 7 match (the JavaScript one: the whole tag). */
  scan(n: number, from: number, schedule: Int32Array, expected: Int32Array): number;
}

/** A growable table of midstates, scanned for the key of a tag. */
export class MidstateTable {
  #engine: Engine;
  #words: Int32Array;
  #count = 0;
  readonly #free: number[] = [];

  /** An empty table (WebAssembly when it passes its self-test, JavaScript otherwise). */
  constructor(options: { wasm?: boolean } = {}) {
    this.#engine = makeEngine(options.wasm ?? true, STATES);
    this.#words = new Int32Array(this.#engine.bytes);
    writeConstants(this.#words);
    if (this.#engine.memory !== null && !selfTest(this)) {
      this.#engine = makeEngine(false, STATES);
      this.#words = new Int32Array(this.#engine.bytes);
      writeConstants(this.#words);
    }
  }

  /** Whether the table runs the WebAssembly scan. */
  get simd(): boolean {
    return this.#engine.memory !== null;
  }

  /** Slots in use or free (the scan covers all). */
  get size(): number {
    return this.#count;
  }

  /** Stores a midstate (16 words) and returns its slot. */
  add(midstate: Int32Array): number {
    const slot = this.#free.pop() ?? this.#count++;
    if (slot >= MAX_TABLE_KEYS) {
      throw new RangeError(`Cannot keep more than ${MAX_TABLE_KEYS} keys`);
    }
    this.#reserve(slot + 1);
    this.#write(slot, midstate);
    return slot;
  }

  /** Zeroes a slot's midstate and frees the slot. */
  remove(slot: number): void {
    this.#write(slot, ZERO);
    this.#free.push(slot);
  }

  /**
   * The first slot at or after `from` whose key gives `expected` (the 8
   * words of a tag) as the HMAC of the one-block message of `schedule`
   * (hmac_midstate.ts `oneBlockSchedule`), or -1.
   */
  find(schedule: Int32Array, expected: Int32Array, from = 0): number {
    const w = this.#words;
    for (let t = 0; t < 64; t++) splat(w, KW + 16 * t, (SHA256_K[t]! + schedule[t]!) | 0);
    splat(w, E3, expected[3]!);
    splat(w, E7, expected[7]!);
    const one = new Int32Array(MIDSTATE_WORDS);
    for (let slot = from; slot < this.#count; slot++) {
      slot = this.#engine.scan(this.#count, slot, schedule, expected);
      if (slot < 0) return -1;
      this.#read(slot, one);
      const match = hmacOneBlockMatches(one, schedule, expected);
      one.fill(0);
      if (match) return slot;
    }
    return -1;
  }

  /** Whether the key in `slot` gives `expected` for `schedule` (constant time in the tag). */
  matches(slot: number, schedule: Int32Array, expected: Int32Array): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#count) return false;
    const one = new Int32Array(MIDSTATE_WORDS);
    this.#read(slot, one);
    const match = hmacOneBlockMatches(one, schedule, expected);
    one.fill(0);
    return match;
  }

  #reserve(slots: number): void {
    const needed = STATES + Math.ceil(slots / 4) * GROUP_BYTES;
    const bytes = this.#engine.bytes.byteLength;
    if (needed <= bytes) return;
    const grow = Math.ceil((Math.max(needed, 2 * bytes) - bytes) / PAGE_BYTES);
    if (this.#engine.memory !== null) {
      this.#engine.memory.grow(grow);
      this.#engine.bytes = this.#engine.memory.buffer as ArrayBuffer;
    } else {
      const larger = new ArrayBuffer(bytes + grow * PAGE_BYTES);
      new Uint8Array(larger).set(new Uint8Array(this.#engine.bytes));
      new Uint8Array(this.#engine.bytes).fill(0);
      this.#engine.bytes = larger;
    }
    this.#words = new Int32Array(this.#engine.bytes);
  }

  #write(slot: number, midstate: Int32Array): void {
    const base = (STATES + (slot >> 2) * GROUP_BYTES) / 4 + (slot & 3);
    for (let j = 0; j < MIDSTATE_WORDS; j++) this.#words[base + 4 * j] = midstate[j]!;
  }

  #read(slot: number, out: Int32Array): void {
    const base = (STATES + (slot >> 2) * GROUP_BYTES) / 4 + (slot & 3);
    for (let j = 0; j < MIDSTATE_WORDS; j++) out[j] = this.#words[base + 4 * j]!;
  }
}

const ZERO = new Int32Array(MIDSTATE_WORDS);

function splat(words: Int32Array, byteOffset: number, value: number): void {
  const i = byteOffset / 4;
  words[i] =
    words[i + 1] =
    words[i + 2] =
    words[i + 3] =
      value;
}

// the outer block's fixed words (0x80, zeros, its bit length 768) and K[t]
function writeConstants(words: Int32Array): void {
  for (let j = 8; j < 16; j++) splat(words, WO + 16 * j, 0);
  splat(words, WO + 16 * 8, 0x80000000 | 0);
  splat(words, WO + 16 * 15, 768);
  for (let t = 0; t < 64; t++) splat(words, KO + 16 * t, SHA256_K[t]!);
}

function makeEngine(wasm: boolean, bytes: number): Engine {
  const module = wasm ? wasmModule() : null;
  if (module !== null) {
    try {
      const instance = new WebAssembly.Instance(module);
      const memory = instance.exports.memory as WebAssembly.Memory;
      const pages = Math.ceil(bytes / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES;
      if (pages > 0) memory.grow(pages);
      const scan = instance.exports.scan as (n: number, from: number) => number;
      return { memory, bytes: memory.buffer as ArrayBuffer, scan };
    } catch {
      // no WebAssembly SIMD here: the JavaScript scan below
    }
  }
  const engine: Engine = {
    memory: null,
    bytes: new ArrayBuffer(Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES),
    scan: (n, from, schedule, expected) =>
      scanJs(new Int32Array(engine.bytes), n, from, schedule, expected),
  };
  return engine;
}

/** The WebAssembly scan finds a known key among four others, and nothing else. */
function selfTest(table: MidstateTable): boolean {
  const keys = [1, 2, 3, 4, 5, 6].map((n) => hmacMidstate(new Uint8Array(32).fill(n)));
  const slots = keys.map((k) => table.add(k));
  const schedule = oneBlockSchedule(new Uint8Array(24).fill(0x5a));
  const expected = tagWords(hmacOneBlock(keys[4]!, schedule));
  const ok = table.find(schedule, expected) === slots[4] &&
    table.find(schedule, expected, slots[4]! + 1) === -1;
  for (const s of slots.reverse()) table.remove(s);
  for (const k of keys) k.fill(0);
  return ok;
}

/** The scan in JavaScript over the same memory (the fallback): each key in turn. */
function scanJs(
  m: Int32Array,
  n: number,
  from: number,
  schedule: Int32Array,
  expected: Int32Array,
): number {
  const one = new Int32Array(MIDSTATE_WORDS);
  try {
    for (let slot = Math.max(0, from); slot < n; slot++) {
      const base = (STATES + (slot >> 2) * GROUP_BYTES) / 4 + (slot & 3);
      for (let j = 0; j < MIDSTATE_WORDS; j++) one[j] = m[base + 4 * j]!;
      if (hmacOneBlockMatches(one, schedule, expected)) return slot;
    }
    return -1;
  } finally {
    one.fill(0);
  }
}
