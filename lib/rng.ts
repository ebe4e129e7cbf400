/**
 * The system CSPRNG, the only place randomness enters unMessage. Pure layers
 * (`crypto/`, `protocol/`) take an {@linkcode Rng} as an argument instead, so
 * tests can replay them with a seeded source.
 *
 * @module
 */

import type { Rng } from "./crypto/bytes.ts";

/** Random bytes from the operating system's CSPRNG (Web Crypto). */
export const systemRng: Rng = (length: number): Uint8Array => {
  const out = new Uint8Array(length);
  // getRandomValues fills at most 65536 bytes per call.
  for (let i = 0; i < length; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(length, i + 65536)));
  }
  return out;
};
