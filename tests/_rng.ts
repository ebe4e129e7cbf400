/**
 * A deterministic RNG for tests: the ChaCha20 keystream of a seed, so a
 * failing property or model run can be replayed from its printed seed.
 *
 * @module
 */

import { chacha20 } from "@noble/ciphers/chacha.js";
import type { Rng } from "../lib/crypto/bytes.ts";

/** Returns an {@linkcode Rng} whose output depends only on `seed`. */
export function seededRng(seed: number | string): Rng {
  const key = new Uint8Array(32);
  const s = new TextEncoder().encode(String(seed));
  key.set(s.subarray(0, 32));
  const nonce = new Uint8Array(12);
  let counter = 0;
  return (length: number) => {
    const out = chacha20(key, nonce, new Uint8Array(length), undefined, counter);
    counter += Math.ceil(length / 64);
    return out;
  };
}
