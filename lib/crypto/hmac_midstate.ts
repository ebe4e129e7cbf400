/**
 * HMAC-SHA256 (RFC 2104) of short messages with precomputed key states, for
 * trying one tag under thousands of keys (packet identification: docs/protocol.md,
 * "10. Identifying a received packet") without allocating.
 *
 * HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)). With a key of at most one
 * block, the SHA-256 states after the blocks K ⊕ ipad and K ⊕ opad (the
 * "midstates") depend on the key only, and a message of at most
 * {@linkcode ONE_BLOCK_MAX_LENGTH} bytes fits with its padding in the one
 * block that follows. So once the key's midstates are known, a tag costs two
 * SHA-256 compressions (FIPS 180-4 §6.2.2), and the expanded message schedule
 * of the inner block is the same for every key, so it is computed once per
 * message. Outputs are identical to `hmacSha256` of kdf.ts; the tests check
 * this against `@noble/hashes`.
 *
 * {@linkcode hmacSha256Short} applies the same compression to messages of
 * any length under keys of at most one block: kdf.ts uses it for every HMAC
 * and HKDF, as it costs about a quarter of a general-purpose implementation
 * on the short inputs of the ratchet's chains.
 *
 * Module-level scratch arrays make the functions non-reentrant, which is
 * fine: they are synchronous and never call out.
 *
 * @module
 */

import { CryptoError } from "../errors.ts";
import { abytes } from "./bytes.ts";

/** Block length of SHA-256 in bytes (FIPS 180-4 §1). */
export const SHA256_BLOCK_LENGTH = 64;

/** Longest message that fits in one block with its padding (64 - 1 - 8). */
export const ONE_BLOCK_MAX_LENGTH = SHA256_BLOCK_LENGTH - 9;

/** Longest key of {@linkcode hmacMidstate}: one block (RFC 2104 §2: longer keys are hashed). */
export const MIDSTATE_MAX_KEY_LENGTH: number = SHA256_BLOCK_LENGTH;

/** Length of the HMAC-SHA256 output in bytes. */
export const HMAC_LENGTH = 32;

/**
 * FIPS 180-4 §4.2.2: the SHA-256 round constants, the first 32 bits of the
 * fractional parts of the cube roots of the first 64 primes.
 */
export const SHA256_K: Readonly<Int32Array> = Int32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

const K = SHA256_K;

// FIPS 180-4 §5.3.3: the initial hash value
const H0 = Int32Array.from([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

// RFC 2104 §2: the inner and outer pad bytes
const IPAD = 0x36;
const OPAD = 0x5c;

/** FIPS 180-4 §6.2.2 step 1: expands w[0..15] into the whole schedule w[0..63]. */
function expandSchedule(w: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
  }
}

/**
 * FIPS 180-4 §6.2.2 steps 2-4: one compression of the expanded schedule `w`
 * into the 8 words of `input` (at `inputOffset`), written to `out` at
 * `outOffset` (may be the same array and place).
 */
function compress(
  input: Int32Array,
  inputOffset: number,
  w: Int32Array,
  out: Int32Array,
  outOffset: number,
): void {
  let a = input[inputOffset]!;
  let b = input[inputOffset + 1]!;
  let c = input[inputOffset + 2]!;
  let d = input[inputOffset + 3]!;
  let e = input[inputOffset + 4]!;
  let f = input[inputOffset + 5]!;
  let g = input[inputOffset + 6]!;
  let h = input[inputOffset + 7]!;
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[outOffset] = (input[inputOffset]! + a) | 0;
  out[outOffset + 1] = (input[inputOffset + 1]! + b) | 0;
  out[outOffset + 2] = (input[inputOffset + 2]! + c) | 0;
  out[outOffset + 3] = (input[inputOffset + 3]! + d) | 0;
  out[outOffset + 4] = (input[inputOffset + 4]! + e) | 0;
  out[outOffset + 5] = (input[inputOffset + 5]! + f) | 0;
  out[outOffset + 6] = (input[inputOffset + 6]! + g) | 0;
  out[outOffset + 7] = (input[inputOffset + 7]! + h) | 0;
}

/** Reads big-endian words of `bytes` (zero-padded) into w[0..15]. */
function loadBlock(w: Int32Array, bytes: Uint8Array): void {
  w.fill(0, 0, 16);
  for (let i = 0; i < bytes.length; i++) w[i >> 2] = w[i >> 2]! | (bytes[i]! << (24 - 8 * (i & 3)));
}

// scratch of hmacSha256Short and midstateInto
const scratchW = new Int32Array(64);
const scratchState = new Int32Array(16);
const scratchDigest = new Int32Array(8);
const innerBytes = new Uint8Array(HMAC_LENGTH);

/** Writes the ipad (0..7) and opad (8..15) states of a key of at most 64 bytes into `state`. */
function midstateInto(key: Uint8Array, state: Int32Array): void {
  padBlock(key, IPAD, state, 0);
  padBlock(key, OPAD, state, 8);
  scratchW.fill(0);
}

/** RFC 2104 §2 steps (1)-(2), (5): SHA-256 state after the key zero-padded to B bytes XOR pad. */
function padBlock(key: Uint8Array, pad: number, state: Int32Array, offset: number): void {
  const w = scratchW;
  w.fill(pad * 0x01010101, 0, 16);
  for (let i = 0; i < key.length; i++) w[i >> 2] = w[i >> 2]! ^ (key[i]! << (24 - 8 * (i & 3)));
  expandSchedule(w);
  compress(H0, 0, w, state, offset);
}

/**
 * SHA-256 of (`prefixBlocks` blocks already absorbed into `state` at
 * `stateOffset`) ‖ `data`, written to `out` (8 words) (FIPS 180-4 §5.1.1,
 * §6.2.2).
 */
function finish(
  state: Int32Array,
  stateOffset: number,
  prefixBlocks: number,
  data: Uint8Array,
  out: Int32Array,
): void {
  const w = scratchW;
  const n = data.length;
  out.set(state.subarray(stateOffset, stateOffset + 8));
  let pos = 0;
  // whole blocks
  for (; pos + SHA256_BLOCK_LENGTH <= n; pos += SHA256_BLOCK_LENGTH) {
    for (let j = 0; j < 16; j++) {
      const i = pos + 4 * j;
      w[j] = (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
    }
    expandSchedule(w);
    compress(out, 0, w, out, 0);
  }
  // the tail, the "1" bit, zeros and the 64-bit bit length (one or two blocks)
  const rest = n - pos;
  w.fill(0, 0, 16);
  for (let i = 0; i < rest; i++) w[i >> 2] = w[i >> 2]! | (data[pos + i]! << (24 - 8 * (i & 3)));
  w[rest >> 2] = w[rest >> 2]! | (0x80 << (24 - 8 * (rest & 3)));
  if (rest > ONE_BLOCK_MAX_LENGTH) {
    expandSchedule(w);
    compress(out, 0, w, out, 0);
    w.fill(0, 0, 16);
  }
  const bits = (prefixBlocks * SHA256_BLOCK_LENGTH + n) * 8;
  w[14] = Math.floor(bits / 0x100000000) | 0;
  w[15] = bits | 0;
  expandSchedule(w);
  compress(out, 0, w, out, 0);
}

/**
 * HMAC-SHA256 (RFC 2104) of `data` (any length) under `key` (at most
 * {@linkcode MIDSTATE_MAX_KEY_LENGTH} bytes; hash longer keys first, RFC
 * 2104 §2); 32 bytes. Allocates only its output.
 *
 * @throws {TypeError} an argument that is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a key longer than one block
 */
export function hmacSha256Short(key: Uint8Array, data: Uint8Array): Uint8Array {
  abytes(key, undefined, "key");
  abytes(data, undefined, "data");
  if (key.length > MIDSTATE_MAX_KEY_LENGTH) {
    throw new CryptoError(
      "bad_length",
      `Cannot use key: expected at most ${MIDSTATE_MAX_KEY_LENGTH} bytes, got ${key.length}`,
    );
  }
  midstateInto(key, scratchState);
  const out = new Uint8Array(HMAC_LENGTH);
  hmacStateInto(scratchState, data, out, 0);
  scratchState.fill(0);
  return out;
}

/** Writes the 8 big-endian words of `words` as 32 bytes into `out` at `offset`. */
function wordsInto(words: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < HMAC_LENGTH; i++) out[offset + i] = words[i >> 2]! >>> (24 - 8 * (i & 3));
}

/** HMAC of `data` under the key state `state`, written to `out` at `offset`; allocates nothing. */
function hmacStateInto(state: Int32Array, data: Uint8Array, out: Uint8Array, offset: number): void {
  finish(state, 0, 1, data, scratchDigest);
  // the inner digest goes into the outer hash as its 32-byte message
  wordsInto(scratchDigest, innerBytes, 0);
  finish(state, 8, 1, innerBytes, scratchDigest);
  wordsInto(scratchDigest, out, offset);
  scratchDigest.fill(0);
  innerBytes.fill(0);
  scratchW.fill(0);
}

/**
 * HMAC-SHA256 of `data` (any length) under the key of `midstate`
 * ({@linkcode hmacMidstate}), written as 32 bytes into `out` at `offset`
 * (`out` may not overlap `data`). Allocates nothing.
 *
 * @throws {TypeError} `data` or `out` is not a Uint8Array
 * @throws {CryptoError} `bad_length` when `out` has no 32 bytes at `offset`
 */
export function hmacWithMidstateInto(
  midstate: Int32Array,
  data: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  abytes(data, undefined, "data");
  abytes(out, undefined, "out");
  if (!Number.isInteger(offset) || offset < 0 || offset + HMAC_LENGTH > out.length) {
    throw new CryptoError("bad_length", "Cannot write HMAC: no room for 32 bytes at offset");
  }
  hmacStateInto(midstate, data, out, offset);
}

/**
 * Writes the HMAC-SHA256 key state of `key` (at most one block) into
 * `state` (16 words) without allocating; see {@linkcode hmacMidstate}.
 *
 * @throws {TypeError} `key` is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a key longer than one block or a
 *   `state` that is not 16 words
 */
export function hmacMidstateInto(key: Uint8Array, state: Int32Array): void {
  abytes(key, undefined, "key");
  if (key.length > MIDSTATE_MAX_KEY_LENGTH || state.length !== 16) {
    throw new CryptoError("bad_length", "Cannot compute key state: bad key or state length");
  }
  midstateInto(key, state);
}

/**
 * The HMAC-SHA256 key state of `key`: 16 words, the SHA-256 state after
 * K ⊕ ipad (0..7) and after K ⊕ opad (8..15). It is key material: wipe it
 * (`fill(0)`) when the key goes.
 *
 * @throws {TypeError} `key` is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a key longer than one block
 */
export function hmacMidstate(key: Uint8Array): Int32Array {
  abytes(key, undefined, "key");
  if (key.length > MIDSTATE_MAX_KEY_LENGTH) {
    throw new CryptoError(
      "bad_length",
      `Cannot use key: expected at most ${MIDSTATE_MAX_KEY_LENGTH} bytes, got ${key.length}`,
    );
  }
  const state = new Int32Array(16);
  midstateInto(key, state);
  return state;
}

/**
 * The expanded schedule (64 words) of the inner block of an HMAC of
 * `message` (at most {@linkcode ONE_BLOCK_MAX_LENGTH} bytes): the message,
 * the 0x80 byte, zeros, and the bit length of ipad block ‖ message (FIPS
 * 180-4 §5.1.1). It does not depend on the key.
 *
 * @throws {TypeError} `message` is not a Uint8Array
 * @throws {CryptoError} `bad_length` for a message longer than one block holds
 */
export function oneBlockSchedule(message: Uint8Array): Int32Array {
  abytes(message, undefined, "message");
  if (message.length > ONE_BLOCK_MAX_LENGTH) {
    throw new CryptoError(
      "bad_length",
      `Cannot use message: expected at most ${ONE_BLOCK_MAX_LENGTH} bytes, got ${message.length}`,
    );
  }
  const w = new Int32Array(64);
  loadBlock(w, message);
  const n = message.length;
  w[n >> 2] = w[n >> 2]! | (0x80 << (24 - 8 * (n & 3))); // FIPS 180-4 §5.1.1: the "1" bit
  w[15] = (SHA256_BLOCK_LENGTH + n) * 8; // bit length, fits in the low word
  expandSchedule(w);
  return w;
}

// the outer block: the inner digest (8 words), 0x80, zeros, bit length 768
const outerW = new Int32Array(64);
const innerOut = new Int32Array(8);
const tagOut = new Int32Array(8);

function hmacWords(midstate: Int32Array, schedule: Int32Array): Int32Array {
  compress(midstate, 0, schedule, innerOut, 0);
  outerW.set(innerOut, 0);
  outerW[8] = 0x80000000 | 0;
  outerW.fill(0, 9, 15);
  outerW[15] = (SHA256_BLOCK_LENGTH + HMAC_LENGTH) * 8;
  expandSchedule(outerW);
  compress(midstate, 8, outerW, tagOut, 0);
  return tagOut;
}

/**
 * HMAC-SHA256 under the key of `midstate` ({@linkcode hmacMidstate}) of the
 * message of `schedule` ({@linkcode oneBlockSchedule}): 32 bytes.
 */
export function hmacOneBlock(midstate: Int32Array, schedule: Int32Array): Uint8Array {
  const words = hmacWords(midstate, schedule);
  const out = new Uint8Array(HMAC_LENGTH);
  for (let i = 0; i < HMAC_LENGTH; i++) out[i] = words[i >> 2]! >>> (24 - 8 * (i & 3));
  return out;
}

/** The 8 big-endian words of a 32-byte tag, for {@linkcode hmacOneBlockMatches}. */
export function tagWords(tag: Uint8Array): Int32Array {
  abytes(tag, HMAC_LENGTH, "tag");
  const words = new Int32Array(8);
  for (let i = 0; i < HMAC_LENGTH; i++) {
    words[i >> 2] = words[i >> 2]! | (tag[i]! << (24 - 8 * (i & 3)));
  }
  return words;
}

/**
 * Whether HMAC-SHA256 (as {@linkcode hmacOneBlock}) equals the tag whose
 * words are `expected` ({@linkcode tagWords}); every word is compared, in
 * time independent of where they differ. Allocates nothing.
 */
export function hmacOneBlockMatches(
  midstate: Int32Array,
  schedule: Int32Array,
  expected: Int32Array,
): boolean {
  const words = hmacWords(midstate, schedule);
  let diff = 0;
  for (let i = 0; i < 8; i++) diff |= words[i]! ^ expected[i]!;
  return diff === 0;
}
