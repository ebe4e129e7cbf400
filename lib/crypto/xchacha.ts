/**
 * The raw XChaCha20-Poly1305 construction (draft-irtf-cfrg-xchacha-03 §2)
 * behind one small interface, with two implementations: the runtime's
 * native ChaCha20-Poly1305 (`node:crypto`, OpenSSL) after an HChaCha20 step
 * in JavaScript, and the pure JavaScript one of `@noble/ciphers`, kept as
 * the fallback. The fixed cost of one small seal or open is about half with
 * the native one, and the ratchet does four per message. The native one is
 * used when it is present and passes the draft's known answer (§A.3.1) on
 * first use.
 *
 * Argument checks and the single `decrypt_failed` error stay in aead.ts; the
 * functions here throw anything on failure.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { hchacha, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { fromHex, toHex } from "./bytes.ts";

/** One implementation of XChaCha20-Poly1305, without argument checks. */
export interface XChaChaImplementation {
  /** A name for tests and benchmarks. */
  readonly name: string;
  /** Ciphertext ‖ 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  /** The plaintext; throws when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array;
}

/** The pure JavaScript implementation (`@noble/ciphers`). */
export const nobleXChaCha: XChaChaImplementation = {
  name: "noble",
  seal: (key, nonce, plaintext, ad) => xchacha20poly1305(key, nonce, ad).encrypt(plaintext),
  open: (key, nonce, sealed, ad) => xchacha20poly1305(key, nonce, ad).decrypt(sealed),
};

const TAG_LENGTH = 16;
// RFC 8439 §2.3: "expand 32-byte k"
const SIGMA = Uint32Array.of(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574);
const keyWords = new Uint32Array(8);
const nonceWords = new Uint32Array(4);
const subkeyWords = new Uint32Array(8);

function littleEndianWords(bytes: Uint8Array, offset: number, out: Uint32Array): void {
  for (let i = 0; i < out.length; i++) {
    const j = offset + 4 * i;
    out[i] = (bytes[j]! | (bytes[j + 1]! << 8) | (bytes[j + 2]! << 16) | (bytes[j + 3]! << 24)) >>>
      0;
  }
}

// scratch of derive: the subkey and IV are read (copied) by createCipheriv
// and createDecipheriv, after which the subkey is wiped; nothing is reentrant
const scratchSubkey = Buffer.alloc(32);
const scratchIv = Buffer.alloc(12);

/**
 * draft-irtf-cfrg-xchacha-03 §2.3: subkey = HChaCha20(key, nonce[0..16]),
 * and the ChaCha20-Poly1305 nonce is 4 zero bytes ‖ nonce[16..24]. Both are
 * written to module scratch (no allocation); the caller wipes the subkey.
 */
function derive(key: Uint8Array, nonce: Uint8Array): { subkey: Buffer; iv: Buffer } {
  littleEndianWords(key, 0, keyWords);
  littleEndianWords(nonce, 0, nonceWords);
  hchacha(SIGMA, keyWords, nonceWords, subkeyWords);
  const subkey = scratchSubkey;
  for (let i = 0; i < 8; i++) {
    const w = subkeyWords[i]!;
    subkey[4 * i] = w & 0xff;
    subkey[4 * i + 1] = (w >>> 8) & 0xff;
    subkey[4 * i + 2] = (w >>> 16) & 0xff;
    subkey[4 * i + 3] = w >>> 24;
  }
  keyWords.fill(0);
  subkeyWords.fill(0);
  scratchIv.set(nonce.subarray(16, 24), 4);
  return { subkey, iv: scratchIv };
}

/** The runtime's native ChaCha20-Poly1305 (`node:crypto`) after HChaCha20. */
export const nativeXChaCha: XChaChaImplementation = {
  name: "node:crypto",
  seal(key, nonce, plaintext, ad) {
    const { subkey, iv } = derive(key, nonce);
    try {
      const cipher = createCipheriv("chacha20-poly1305", subkey, iv, { authTagLength: TAG_LENGTH });
      cipher.setAAD(ad, { plaintextLength: plaintext.length });
      const body = cipher.update(plaintext);
      const tail = cipher.final();
      const out = new Uint8Array(body.length + tail.length + TAG_LENGTH);
      out.set(body);
      out.set(tail, body.length);
      out.set(cipher.getAuthTag(), body.length + tail.length);
      return out;
    } finally {
      subkey.fill(0);
    }
  },
  open(key, nonce, sealed, ad) {
    if (sealed.length < TAG_LENGTH) throw new Error("Cannot open: shorter than the tag");
    const { subkey, iv } = derive(key, nonce);
    const ciphertext = sealed.subarray(0, sealed.length - TAG_LENGTH);
    let body: Uint8Array | null = null;
    try {
      const decipher = createDecipheriv("chacha20-poly1305", subkey, iv, {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAAD(ad, { plaintextLength: ciphertext.length });
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
      body = decipher.update(ciphertext);
      // final() verifies the tag; before it returns, nothing is released
      const tail = decipher.final();
      const out = new Uint8Array(body.length + tail.length);
      out.set(body);
      out.set(tail, body.length);
      return out;
    } finally {
      subkey.fill(0);
      body?.fill(0);
    }
  },
};

// draft-irtf-cfrg-xchacha-03 §A.3.1, shortened to its first 16 plaintext
// bytes: the self-test only has to tell a working construction from a
// broken one (the tests check the full vector on both implementations)
const SELF_TEST = {
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
  ad: "50515253c0c1c2c3c4c5c6c7",
  plaintext: "4c616469657320616e642047656e746c",
} as const;

function passesSelfTest(impl: XChaChaImplementation): boolean {
  try {
    const [key, nonce, ad, plaintext] = [
      fromHex(SELF_TEST.key),
      fromHex(SELF_TEST.nonce),
      fromHex(SELF_TEST.ad),
      fromHex(SELF_TEST.plaintext),
    ];
    const sealed = impl.seal(key, nonce, plaintext, ad);
    const reference = nobleXChaCha.seal(key, nonce, plaintext, ad);
    return toHex(sealed) === toHex(reference) &&
      toHex(impl.open(key, nonce, sealed, ad)) === SELF_TEST.plaintext;
  } catch {
    return false;
  }
}

let selected: XChaChaImplementation | null = null;

/** The implementation in use: native when it passed its self-test, else noble. */
export function xchachaImplementation(): XChaChaImplementation {
  if (selected === null) {
    selected = passesSelfTest(nativeXChaCha) ? nativeXChaCha : nobleXChaCha;
  }
  return selected;
}
