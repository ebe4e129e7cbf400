/**
 * Benchmarks of the crypto primitives under everything else: one X25519
 * Diffie-Hellman (with its low-order check), key pair generation, the Triple
 * DH key agreement (three DH and HKDF), XChaCha20-Poly1305 seal + open of a
 * 1 KiB and of a 128 KiB buffer, and one labelled key derivation. The X25519
 * step dominates the ratchet's ping-pong (issue 2: noble's takes about
 * 410 µs, the native one about 64 µs); x25519.ts picks the native one, and
 * the pure fallback is measured beside it, as are both AEAD implementations
 * (xchacha.ts). Run with `deno task bench`.
 *
 * @module
 */

import { seededRng } from "../_rng.ts";
import { open, seal } from "../../lib/crypto/aead.ts";
import { deriveKey } from "../../lib/crypto/kdf.ts";
import { dh, generateKeyPair } from "../../lib/crypto/keys.ts";
import { tripleDh } from "../../lib/crypto/tripledh.ts";
import { nativeX25519, nobleX25519 } from "../../lib/crypto/x25519.ts";
import { nativeXChaCha, nobleXChaCha } from "../../lib/crypto/xchacha.ts";

const rng = seededRng("crypto_bench");
const alice = { identity: generateKeyPair(rng), handshake: generateKeyPair(rng) };
const bob = { identity: generateKeyPair(rng), handshake: generateKeyPair(rng) };
const KEY = rng(32);
const NONCE = rng(24);
const AD = rng(64);

Deno.bench("x25519: dh() (low-order check + ladder)", { group: "dh", baseline: true }, () => {
  dh(alice.identity.secretKey, bob.identity.publicKey);
});

for (const impl of [nativeX25519, nobleX25519]) {
  Deno.bench(`x25519: raw ladder, ${impl.name}`, { group: "dh" }, () => {
    impl.sharedSecret(alice.identity.secretKey, bob.identity.publicKey);
  });
}

Deno.bench("x25519: generateKeyPair()", { group: "dh" }, () => {
  generateKeyPair(rng);
});

Deno.bench("tripleDh() (three DH + HKDF)", { group: "dh" }, () => {
  tripleDh("bob", bob, {
    identityKey: alice.identity.publicKey,
    handshakeKey: alice.handshake.publicKey,
  });
});

for (const [name, size] of [["1 KiB", 1024], ["128 KiB", 128 * 1024]] as const) {
  const plaintext = rng(size);
  Deno.bench(`xchacha20-poly1305: seal + open ${name}`, { group: `aead-${name}` }, () => {
    open(KEY, NONCE, seal(KEY, NONCE, plaintext, AD), AD);
  });
}

const HEADER = rng(40);
for (const impl of [nativeXChaCha, nobleXChaCha]) {
  Deno.bench(`xchacha20-poly1305: seal + open a 40-byte ratchet header, ${impl.name}`, {
    group: "aead-header",
  }, () => {
    impl.open(KEY, NONCE, impl.seal(KEY, NONCE, HEADER, AD), AD);
  });
}

Deno.bench("deriveKey() (HKDF-SHA256, 32 bytes)", () => {
  deriveKey(KEY, "bench/label");
});
