/**
 * Tor v3 onion services: the 56-character address of an ed25519 public key
 * and back (rend-spec-v3 §6 "Encoding onion addresses"), the ed25519 key of
 * our own onion service, kept as a 32-byte seed, in the form tor's ADD_ONION
 * takes it, and signatures with that key (to bind a request to the onion
 * address it claims).
 *
 * It knows nothing of the control port: the tor layer passes
 * {@linkcode torKeyBlob} on.
 *
 * @module
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { CryptoError } from "../errors.ts";
import { abytes, concatBytes, equalBytes, type Rng, toBase64, utf8, wipe } from "./bytes.ts";

/** Length of a v3 onion address without ".onion": base32 of 35 bytes. */
export const ONION_ADDRESS_LENGTH = 56;

/** Length of an ed25519 public key and of a secret key's seed. */
export const ONION_KEY_LENGTH = 32;

/** Length of an ed25519 signature (RFC 8032 §5.1.6). */
export const ONION_SIGNATURE_LENGTH = 64;

/** rend-spec-v3 §6: VERSION is one byte, 0x03 for v3 addresses. */
export const ONION_VERSION = 0x03;

/** rend-spec-v3 §6: CHECKSUM is truncated to two bytes. */
const CHECKSUM_LENGTH = 2;

/** PUBKEY ‖ CHECKSUM ‖ VERSION. */
const DECODED_LENGTH = ONION_KEY_LENGTH + CHECKSUM_LENGTH + 1;

/** rend-spec-v3 §6: the checksum's domain separation prefix. */
const CHECKSUM_PREFIX = utf8(".onion checksum");

const ONION_SUFFIX = ".onion";

/** RFC 4648 §6 alphabet, lower case as in onion addresses. */
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** The prefix of a key blob in tor's ADD_ONION (control-spec §3.27). */
export const TOR_KEY_BLOB_PREFIX = "ED25519-V3:";

/** Our onion service's key: the secret seed, its public key and address. */
export interface OnionKey {
  /** The 32-byte ed25519 secret seed (never logged: see `redact`). */
  readonly seed: Uint8Array;
  /** The 32-byte ed25519 public key the address encodes. */
  readonly publicKey: Uint8Array;
  /** The 56-character v3 address, without `.onion`. */
  readonly address: string;
}

function badAddress(reason: string): CryptoError {
  return new CryptoError("bad_address", `Cannot parse onion address: ${reason}`);
}

function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = ((buffer << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** Decodes lower-case base32 whose bit length is a whole number of bytes. */
function base32Decode(text: string): Uint8Array | undefined {
  if ((text.length * 5) % 8 !== 0) return undefined;
  const out = new Uint8Array((text.length * 5) / 8);
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (const c of text) {
    const v = BASE32.indexOf(c);
    if (v < 0) return undefined;
    buffer = ((buffer << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}

/** rend-spec-v3 §6: CHECKSUM = SHA3-256(".onion checksum" ‖ PUBKEY ‖ VERSION)[:2]. */
function checksum(publicKey: Uint8Array, version: number): Uint8Array {
  const digest = sha3_256(concatBytes(CHECKSUM_PREFIX, publicKey, Uint8Array.of(version)));
  return digest.subarray(0, CHECKSUM_LENGTH);
}

/** Whether `publicKey` is a canonical ed25519 point without torsion. */
function isValidServiceKey(publicKey: Uint8Array): boolean {
  try {
    const point = ed25519.Point.fromBytes(publicKey, false);
    // tor's hs_address_is_valid(): a torsion component would give one
    // service several addresses
    return !point.isSmallOrder() && point.isTorsionFree();
  } catch {
    return false;
  }
}

/**
 * The v3 onion address of an ed25519 public key, 56 lower-case characters
 * without ".onion" (rend-spec-v3 §6: base32(PUBKEY ‖ CHECKSUM ‖ VERSION)).
 *
 * @throws {TypeError | CryptoError} for a value that is not 32 bytes
 */
export function onionAddressFromPublicKey(publicKey: Uint8Array): string {
  abytes(publicKey, ONION_KEY_LENGTH, "publicKey");
  return base32Encode(
    concatBytes(publicKey, checksum(publicKey, ONION_VERSION), Uint8Array.of(ONION_VERSION)),
  );
}

/**
 * Parses a v3 onion address, with or without ".onion", in any case and with
 * surrounding whitespace, and returns its ed25519 public key. The version,
 * the checksum and the key itself are checked, as tor does.
 *
 * @throws {TypeError} `text` is not a string
 * @throws {CryptoError} `bad_address` saying what is wrong
 */
export function parseOnionAddress(text: string): Uint8Array {
  const publicKey = decodeOnionAddress(text);
  if (!isValidServiceKey(publicKey)) {
    throw badAddress("it does not encode a valid ed25519 key");
  }
  return publicKey;
}

/**
 * {@linkcode parseOnionAddress} without the check of the key as an ed25519
 * point (a point decompression and a scalar multiplication, about 0.3 ms):
 * length, alphabet, version and checksum only (rend-spec-v3 §6). For an
 * address read back from our own store, which passed the full check when it
 * entered; the 2-byte checksum still catches damage.
 *
 * @throws {TypeError} `text` is not a string
 * @throws {CryptoError} `bad_address` saying what is wrong
 */
export function decodeOnionAddress(text: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError("Cannot use text: expected string");
  let name = text.trim().toLowerCase();
  if (name.endsWith(ONION_SUFFIX)) name = name.slice(0, -ONION_SUFFIX.length);
  if (name.length !== ONION_ADDRESS_LENGTH) {
    throw badAddress(`expected ${ONION_ADDRESS_LENGTH} characters, got ${name.length}`);
  }
  const decoded = base32Decode(name);
  if (decoded === undefined) {
    throw badAddress("it is not base32 (letters a-z and digits 2-7)");
  }
  const publicKey = decoded.slice(0, ONION_KEY_LENGTH);
  const version = decoded[DECODED_LENGTH - 1]!;
  const claimed = decoded.subarray(ONION_KEY_LENGTH, ONION_KEY_LENGTH + CHECKSUM_LENGTH);
  // The checksum covers the version byte, which the last character holds: a
  // typo there breaks the checksum. Only an address whose checksum is right
  // for its own version is another version.
  if (!equalBytes(claimed, checksum(publicKey, version))) {
    throw badAddress("checksum does not match: check for a typo");
  }
  // rend-spec-v3 §6: only version 3 is defined
  if (version !== ONION_VERSION) {
    throw badAddress(`version ${version} is not supported, expected ${ONION_VERSION}`);
  }
  return publicKey;
}

function redact(key: OnionKey): OnionKey {
  const show = () => `OnionKey { address: ${key.address}, seed: [redacted] }`;
  for (const name of ["Deno.customInspect", "nodejs.util.inspect.custom"]) {
    Object.defineProperty(key, Symbol.for(name), { value: show, enumerable: false });
  }
  return Object.freeze(key);
}

/**
 * Rebuilds an onion service key from its 32-byte secret seed (RFC 8032
 * §5.1.5), which it copies.
 *
 * @throws {TypeError | CryptoError} for a seed that is not 32 bytes
 */
export function onionKeyFromSeed(seed: Uint8Array): OnionKey {
  abytes(seed, ONION_KEY_LENGTH, "seed");
  const copy = seed.slice();
  const publicKey = ed25519.getPublicKey(copy);
  return redact({ seed: copy, publicKey, address: onionAddressFromPublicKey(publicKey) });
}

/**
 * Generates a new onion service key from 32 bytes of `rng`.
 *
 * @throws {TypeError | CryptoError} when `rng` is not a function or does not
 *   return 32 bytes
 */
export function generateOnionKey(rng: Rng): OnionKey {
  if (typeof rng !== "function") throw new TypeError("Cannot use rng: expected function");
  const seed = abytes(rng(ONION_KEY_LENGTH), ONION_KEY_LENGTH, "rng output");
  const key = onionKeyFromSeed(seed);
  wipe(seed);
  return key;
}

/**
 * The key argument of tor's ADD_ONION for this seed (control-spec §3.27):
 * `"ED25519-V3:"` and the base64 of the 64-byte expanded secret key, which is
 * SHA-512(seed) with its first half clamped (RFC 8032 §5.1.5), as tor's
 * ed25519_donna_seckey_expand() makes it.
 *
 * @throws {TypeError | CryptoError} for a seed that is not 32 bytes
 */
export function torKeyBlob(seed: Uint8Array): string {
  abytes(seed, ONION_KEY_LENGTH, "seed");
  const expanded = sha512(seed);
  // RFC 8032 §5.1.5 step 2: clear the low 3 bits, clear bit 255, set bit 254
  expanded[0] = expanded[0]! & 248;
  expanded[31] = (expanded[31]! & 127) | 64;
  const blob = TOR_KEY_BLOB_PREFIX + toBase64(expanded);
  wipe(expanded);
  return blob;
}

/**
 * Signs `message` with the onion service key (ed25519, RFC 8032); 64 bytes.
 *
 * @throws {TypeError | CryptoError} for a seed that is not 32 bytes or a
 *   message that is not a Uint8Array
 */
export function signWithOnionKey(seed: Uint8Array, message: Uint8Array): Uint8Array {
  abytes(seed, ONION_KEY_LENGTH, "seed");
  abytes(message, undefined, "message");
  return ed25519.sign(message, seed);
}

/**
 * Verifies an ed25519 signature strictly (RFC 8032 §5.1.7, canonical
 * encodings only). Returns false, never throws, for any malformed input.
 */
export function verifyOnionSignature(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (
    !(publicKey instanceof Uint8Array) || publicKey.length !== ONION_KEY_LENGTH ||
    !(message instanceof Uint8Array) ||
    !(signature instanceof Uint8Array) || signature.length !== ONION_SIGNATURE_LENGTH
  ) {
    return false;
  }
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
