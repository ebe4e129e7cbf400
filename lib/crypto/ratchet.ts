/**
 * The Double Ratchet with header encryption (Signal's Double Ratchet
 * specification, revision 1, §4), over X25519, HKDF-SHA256 (root chain),
 * HMAC-SHA256 (message chains) and XChaCha20-Poly1305 (headers and bodies).
 *
 * This module owns the transitions: initialisation of both roles, encryption
 * and decryption, skipped message keys and their bounds. It knows nothing of
 * packets, peers, storage or the clock: randomness (`rng`) and time (`now`)
 * are arguments, and states are values ({@linkcode RatchetState}).
 *
 * Roles (unMessage): Bob sends a request with his ratchet public key; Alice
 * accepts and calls {@linkcode initAlice}, so she can send at once (spec
 * §3.3 RatchetInitAlice). Bob calls {@linkcode initBob} and can send after
 * decrypting Alice's first message.
 *
 * Departures from the spec's pseudocode, both allowed by it:
 * - §6.5: the sending half of a DH ratchet step (new key pair, new sending
 *   chain) is deferred to the next {@linkcode ratchetEncrypt}, so decryption
 *   needs no randomness and our ratchet secret lives shorter.
 * - §3.5, §6.4: skipped keys are bounded per chain ({@linkcode MAX_SKIP}), in
 *   total ({@linkcode MAX_SKIPPED_KEYS}, oldest evicted), in chains
 *   ({@linkcode MAX_SKIPPED_CHAINS}, oldest evicted) and in time
 *   ({@linkcode SKIPPED_KEY_TTL_MS}); a used key is deleted, so a replayed
 *   message never decrypts twice.
 *
 * Wire layout: see `ratchet_header.ts`.
 *
 * @module
 */

import { CryptoError } from "../errors.ts";
import { abytes, concatBytes, equalBytes, type Rng, toHex, wipe } from "./bytes.ts";
import { AEAD_NONCE_LENGTH, open, seal } from "./aead.ts";
import { deriveKey, deriveKeysInto, hkdfSha256, KDF_LABEL_PREFIX } from "./kdf.ts";
import { hmacMidstateInto, hmacWithMidstateInto } from "./hmac_midstate.ts";
import { dh, generateKeyPair, KEY_LENGTH, type KeyPair, keyPairFromSecret } from "./keys.ts";
import {
  decryptHeader,
  ENCRYPTED_HEADER_LENGTH,
  encryptHeaderInto,
  MAX_COUNTER,
  MESSAGE_OVERHEAD,
  type RatchetHeader,
} from "./ratchet_header.ts";
import {
  MAX_SKIPPED_KEYS,
  type RatchetFields,
  RatchetState,
  type SkippedKey,
} from "./ratchet_state.ts";

export { MAX_SKIPPED_KEYS, RatchetState };

/**
 * Most message keys one header may make us skip in one chain (spec §3.5
 * MAX_SKIP): enough for routine loss, small enough that a malicious header
 * cannot make us compute (or store) more than this many keys.
 */
export const MAX_SKIP = 1000;

/**
 * Most chains whose skipped keys are kept (the keys of older chains are
 * evicted). Every received message is trial-decrypted under one header key
 * per such chain (spec §4.6 TrySkippedMessageKeysHE) before the current
 * ones, so this, not MAX_SKIPPED_KEYS, bounds that work: 16 trials cost well
 * under a millisecond, while 2000 chains of one skipped key each, which a
 * peer can build by skipping one message per turn, cost about 40 ms per
 * message. libsignal keeps 5 receiving chains; 16 leaves room for lossy
 * links.
 */
export const MAX_SKIPPED_CHAINS = 16;

/** Skipped keys older than this (7 days) are deleted (spec §6.4). */
export const SKIPPED_KEY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Largest plaintext of one ratchet message (4 MiB); packets are far smaller. */
export const MAX_PLAINTEXT_LENGTH = 4 * 1024 * 1024;

/** Largest ratchet message accepted by {@linkcode ratchetDecrypt}. */
export const MAX_MESSAGE_LENGTH: number = MAX_PLAINTEXT_LENGTH + MESSAGE_OVERHEAD;

// deriveKey labels of the keys taken from the shared secret (spec §4.4,
// §5.1: SK, shared_hka and shared_nhkb)
const LABEL_ROOT_KEY = "ratchet/root-key";
const LABEL_HEADER_KEY_ALICE = "ratchet/header-key-alice";
const LABEL_NEXT_HEADER_KEY_BOB = "ratchet/next-header-key-bob";
// spec §5.2 KDF_RK: HKDF info, an application-specific constant
const INFO_ROOT_CHAIN = KDF_LABEL_PREFIX + "ratchet/root-chain";
// spec §5.2 KDF_CK: distinct HMAC inputs for the message key and next chain key
const MESSAGE_KEY_INPUT = Uint8Array.of(0x01);
const CHAIN_KEY_INPUT = Uint8Array.of(0x02);
// spec §5.2 ENCRYPT: cipher key and nonce derived from the one-use message key
const LABEL_MESSAGE_CIPHER_KEY = "ratchet/message-cipher-key";
const LABEL_MESSAGE_NONCE = "ratchet/message-nonce";

type Working = { -readonly [K in keyof RatchetFields]: RatchetFields[K] } & {
  skipped: SkippedKey[];
};

function decryptFailed(): CryptoError {
  return new CryptoError("decrypt_failed", "Cannot decrypt message: authentication failed");
}

/** KDF_RK(rk, dh_out) of spec §4.2 (→ RK, CK, NHK), HKDF-SHA256 with salt RK (§5.2). */
function kdfRk(rk: Uint8Array, dhOut: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const out = hkdfSha256(dhOut, rk, INFO_ROOT_CHAIN, 3 * KEY_LENGTH);
  const keys: [Uint8Array, Uint8Array, Uint8Array] = [
    out.slice(0, KEY_LENGTH),
    out.slice(KEY_LENGTH, 2 * KEY_LENGTH),
    out.slice(2 * KEY_LENGTH),
  ];
  wipe(out, dhOut);
  return keys;
}

// scratch of kdfCk and messageCipher (synchronous, never reentered); every
// caller wipes it as soon as the keys in it are used
const scratchCkState = new Int32Array(16);
const MESSAGE_CIPHER_LABELS = [
  [LABEL_MESSAGE_CIPHER_KEY, KEY_LENGTH],
  [LABEL_MESSAGE_NONCE, AEAD_NONCE_LENGTH],
] as const;
const scratchCipher = new Uint8Array(KEY_LENGTH + AEAD_NONCE_LENGTH);
const scratchCipherKey = scratchCipher.subarray(0, KEY_LENGTH);
const scratchCipherNonce = scratchCipher.subarray(KEY_LENGTH);

/**
 * KDF_CK(ck) of spec §3.1 (→ next CK, MK), HMAC-SHA256 with constant inputs
 * (§5.2); one HMAC key state of `ck` serves both. MK is written to `mk`.
 */
function kdfCk(ck: Uint8Array, mk: Uint8Array): Uint8Array {
  const next = new Uint8Array(KEY_LENGTH);
  hmacMidstateInto(ck, scratchCkState);
  hmacWithMidstateInto(scratchCkState, CHAIN_KEY_INPUT, next, 0);
  hmacWithMidstateInto(scratchCkState, MESSAGE_KEY_INPUT, mk, 0);
  scratchCkState.fill(0);
  return next;
}

/**
 * deriveKey(mk, cipher key label) and deriveKey(mk, nonce label, 24), one
 * HKDF extract, into scratch: returns views of it that the caller passes to
 * the cipher and then wipes with {@linkcode wipeMessageCipher}.
 */
function messageCipher(mk: Uint8Array): [key: Uint8Array, nonce: Uint8Array] {
  deriveKeysInto(mk, MESSAGE_CIPHER_LABELS, scratchCipher);
  return [scratchCipherKey, scratchCipherNonce];
}

function wipeMessageCipher(): void {
  scratchCipher.fill(0);
}

/** Longest caller AD whose body AD (AD ‖ encrypted header) is built in scratch. */
const SCRATCH_AD_LENGTH = 1024;
// public bytes only (AD and encrypted header); filled after every rng call
// of a step and used before it returns
const scratchAd = new Uint8Array(SCRATCH_AD_LENGTH + ENCRYPTED_HEADER_LENGTH);

/** The body's AD (spec §4.5: AD ‖ enc_header), in scratch when it fits. */
function fullAdOf(ad: Uint8Array, encHeader: Uint8Array): Uint8Array {
  if (ad.length > SCRATCH_AD_LENGTH) return concatBytes(ad, encHeader);
  scratchAd.set(ad, 0);
  scratchAd.set(encHeader, ad.length);
  return scratchAd.subarray(0, ad.length + encHeader.length);
}

function sharedKeys(secretKey: Uint8Array): { rk: Uint8Array; hka: Uint8Array; nhkb: Uint8Array } {
  abytes(secretKey, KEY_LENGTH, "secretKey");
  return {
    rk: deriveKey(secretKey, LABEL_ROOT_KEY),
    hka: deriveKey(secretKey, LABEL_HEADER_KEY_ALICE),
    nhkb: deriveKey(secretKey, LABEL_NEXT_HEADER_KEY_BOB),
  };
}

/**
 * RatchetInitAliceHE (spec §4.4) for the peer who accepted the request: she
 * can send at once. `secretKey` is the 32-byte shared secret of the key
 * agreement, `bobRatchetPublicKey` the ratchet key from Bob's request.
 *
 * @throws {CryptoError} `bad_length` for a key of the wrong length, `bad_key`
 *   for a low-order `bobRatchetPublicKey`
 */
export function initAlice(
  secretKey: Uint8Array,
  bobRatchetPublicKey: Uint8Array,
  rng: Rng,
): RatchetState {
  abytes(bobRatchetPublicKey, KEY_LENGTH, "bobRatchetPublicKey");
  const { rk, hka, nhkb } = sharedKeys(secretKey);
  const dhs = generateKeyPair(rng);
  const [rootKey, cks, nhks] = kdfRk(rk, dh(dhs.secretKey, bobRatchetPublicKey));
  wipe(rk);
  return new RatchetState({
    dhs,
    dhr: bobRatchetPublicKey.slice(),
    rk: rootKey,
    cks,
    ckr: null,
    hks: hka,
    hkr: null,
    nhks,
    nhkr: nhkb,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  });
}

/**
 * RatchetInitBobHE (spec §4.4) for the peer who sent the request, with the
 * ratchet key pair it carried. He can send once he has decrypted a message.
 *
 * @throws {CryptoError} `bad_length` for a key of the wrong length, `bad_key`
 *   when the public key is not the one of the secret key
 */
export function initBob(secretKey: Uint8Array, bobRatchetKeyPair: KeyPair): RatchetState {
  const dhs = keyPairFromSecret(bobRatchetKeyPair.secretKey);
  if (!equalBytes(dhs.publicKey, abytes(bobRatchetKeyPair.publicKey, KEY_LENGTH, "publicKey"))) {
    throw new CryptoError("bad_key", "Cannot use ratchet key pair: public key does not match");
  }
  const { rk, hka, nhkb } = sharedKeys(secretKey);
  return new RatchetState({
    dhs,
    dhr: null,
    rk,
    cks: null,
    ckr: null,
    hks: null,
    hkr: null,
    nhks: nhkb,
    nhkr: hka,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  });
}

function checkState(state: unknown): asserts state is RatchetState {
  if (!(state instanceof RatchetState)) {
    throw new TypeError("Cannot use state: expected RatchetState");
  }
}

/**
 * RatchetEncryptHE (spec §4.5): encrypts `plaintext`, authenticating `ad`,
 * and returns the next state with the wire message (encrypted header ‖
 * body). The caller must persist the new state before the message leaves.
 *
 * @throws {CryptoError} `not_ready` before Bob has received a message,
 *   `too_large` beyond {@linkcode MAX_PLAINTEXT_LENGTH}, `chain_exhausted`
 *   after 2^32 - 1 messages in one chain
 */
export function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  rng: Rng,
): { state: RatchetState; message: Uint8Array } {
  checkState(state);
  abytes(plaintext, undefined, "plaintext");
  abytes(ad, undefined, "ad");
  if (typeof rng !== "function") throw new TypeError("Cannot use rng: expected function");
  if (plaintext.length > MAX_PLAINTEXT_LENGTH) {
    throw new CryptoError(
      "too_large",
      `Cannot encrypt: plaintext of ${plaintext.length} bytes exceeds ${MAX_PLAINTEXT_LENGTH}`,
    );
  }
  const s: Working = { ...state, skipped: [...state.skipped] };
  if (s.cks === null) {
    if (s.dhs !== null || s.dhr === null || s.hks === null) {
      throw new CryptoError("not_ready", "Cannot encrypt: wait for the first message of the peer");
    }
    // spec §6.5: the deferred half of DHRatchetHE (§4.6), now that we send
    s.dhs = generateKeyPair(rng);
    [s.rk, s.cks, s.nhks] = kdfRk(s.rk, dh(s.dhs.secretKey, s.dhr));
  }
  // RatchetState's invariants: a sending chain has its key pair and header key
  if (s.dhs === null || s.hks === null) throw new TypeError("Cannot use state: no sending keys");
  // the header's N is a u32 (ratchet_header.ts)
  if (s.ns >= MAX_COUNTER) {
    throw new CryptoError("chain_exhausted", "Cannot encrypt: sending chain is exhausted");
  }
  const mk = new Uint8Array(KEY_LENGTH);
  s.cks = kdfCk(s.cks, mk);
  const header: RatchetHeader = { dh: s.dhs.publicKey, pn: s.pn, n: s.ns };
  // one buffer for the whole wire message: encrypted header ‖ body
  const message = new Uint8Array(MESSAGE_OVERHEAD + plaintext.length);
  encryptHeaderInto(s.hks, header, rng, message);
  s.ns += 1;
  const [key, nonce] = messageCipher(mk);
  wipe(mk);
  try {
    const encHeader = message.subarray(0, ENCRYPTED_HEADER_LENGTH);
    message.set(seal(key, nonce, plaintext, fullAdOf(ad, encHeader)), ENCRYPTED_HEADER_LENGTH);
  } finally {
    wipeMessageCipher();
  }
  return { state: new RatchetState(s), message };
}

/**
 * RatchetDecryptHE (spec §4.6): decrypts a wire message, checking `ad`, and
 * returns the plaintext with the next state. Works on a copy: on any failure
 * the input state is untouched and nothing of it is returned. `now`
 * (milliseconds) timestamps skipped keys and expires old ones.
 *
 * @throws {TypeError} an argument of the wrong type
 * @throws {CryptoError} `decrypt_failed` for any message that does not
 *   decrypt (wrong key, tampered, truncated, wrong `ad`, replayed, unknown
 *   chain: never told apart); `too_many_skipped` when an authentic header
 *   would skip more than {@linkcode MAX_SKIP} keys in a chain; `too_large`
 *   beyond {@linkcode MAX_MESSAGE_LENGTH}
 */
export function ratchetDecrypt(
  state: RatchetState,
  message: Uint8Array,
  ad: Uint8Array,
  now: number,
): { state: RatchetState; plaintext: Uint8Array } {
  checkState(state);
  abytes(message, undefined, "message");
  abytes(ad, undefined, "ad");
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError("Cannot use now: expected a finite number");
  }
  if (message.length > MAX_MESSAGE_LENGTH) {
    throw new CryptoError(
      "too_large",
      `Cannot decrypt: message of ${message.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`,
    );
  }
  if (message.length < MESSAGE_OVERHEAD) throw decryptFailed();
  const s: Working = { ...state, skipped: purge(state.skipped, now) };
  try {
    const plaintext = decryptInto(s, message, ad, now);
    return { state: new RatchetState(s), plaintext };
  } catch (e) {
    if (e instanceof CryptoError && e.code === "too_many_skipped") throw e;
    // one error for every crypto failure (no cause attached)
    if (e instanceof CryptoError) throw decryptFailed();
    throw e;
  }
}

/** The body of RatchetDecryptHE on the working copy `s`. */
function decryptInto(s: Working, message: Uint8Array, ad: Uint8Array, now: number): Uint8Array {
  const encHeader = message.subarray(0, ENCRYPTED_HEADER_LENGTH);
  const body = message.subarray(ENCRYPTED_HEADER_LENGTH);
  const fullAd = fullAdOf(ad, encHeader);
  // spec §4.6 TrySkippedMessageKeysHE; the key is deleted as it is used
  const index = findSkipped(s.skipped, encHeader);
  if (index >= 0) {
    const [entry] = s.skipped.splice(index, 1);
    return openBody(entry!.messageKey, body, fullAd);
  }
  // spec §4.6 DecryptHeader: current receiving chain first, then the next one
  let header = decryptHeader(s.hkr, encHeader);
  if (header !== null) {
    // an old message of this chain whose key is gone (used, expired or
    // evicted): a replay, never decrypted twice
    if (header.n < s.nr || s.dhr === null || !equalBytes(header.dh, s.dhr)) throw decryptFailed();
  } else {
    header = decryptHeader(s.nhkr, encHeader);
    if (header === null) throw decryptFailed();
    // an honest peer only ratchets to a new key after seeing ours (§6.5: we
    // have not sent since our last step), and never reuses its current key
    if (s.dhs === null || (s.dhr !== null && equalBytes(header.dh, s.dhr))) throw decryptFailed();
    skipMessageKeys(s, header.pn, now);
    dhRatchetReceive(s, header.dh, s.dhs);
  }
  skipMessageKeys(s, header.n, now);
  const mk = new Uint8Array(KEY_LENGTH);
  s.ckr = kdfCk(s.ckr!, mk);
  s.nr += 1;
  try {
    return openBody(mk, body, fullAd);
  } finally {
    wipe(mk);
  }
}

function openBody(mk: Uint8Array, body: Uint8Array, fullAd: Uint8Array): Uint8Array {
  const [key, nonce] = messageCipher(mk);
  try {
    return open(key, nonce, body, fullAd);
  } finally {
    wipeMessageCipher();
  }
}

/**
 * A chain id (hex of the header key) per entry, converting each distinct
 * key object once: the entries of one chain share their header key object.
 */
function chainIds(skipped: readonly SkippedKey[]): string[] {
  const ids = new Map<Uint8Array, string>();
  return skipped.map((k) => {
    let id = ids.get(k.headerKey);
    if (id === undefined) {
      id = toHex(k.headerKey);
      ids.set(k.headerKey, id);
    }
    return id;
  });
}

/** Index of the skipped key of `encHeader`, or -1; one trial per distinct header key. */
function findSkipped(skipped: readonly SkippedKey[], encHeader: Uint8Array): number {
  if (skipped.length === 0) return -1;
  const ids = chainIds(skipped);
  const headers = new Map<string, RatchetHeader | null>();
  for (let i = 0; i < skipped.length; i++) {
    const entry = skipped[i]!;
    const id = ids[i]!;
    let header = headers.get(id);
    if (header === undefined) {
      header = decryptHeader(entry.headerKey, encHeader);
      headers.set(id, header);
    }
    if (header !== null && header.n === entry.n) return i;
  }
  return -1;
}

/** SkipMessageKeysHE (spec §4.6) with the per-chain, total and chain-count bounds. */
function skipMessageKeys(s: Working, until: number, now: number): void {
  if (s.ckr === null || s.hkr === null) return; // no chain yet, nothing to skip
  // spec §3.5 MAX_SKIP: refuse before computing anything
  if (until - s.nr > MAX_SKIP) {
    throw new CryptoError(
      "too_many_skipped",
      `Cannot decrypt message: it would skip ${until - s.nr} keys, more than ${MAX_SKIP}`,
    );
  }
  if (s.nr >= until) return;
  while (s.nr < until) {
    const mk = new Uint8Array(KEY_LENGTH);
    s.ckr = kdfCk(s.ckr, mk);
    s.skipped.push({ headerKey: s.hkr, n: s.nr, messageKey: mk, createdAt: now });
    s.nr += 1;
  }
  // §6.4: bounded storage, the oldest keys go first
  if (s.skipped.length > MAX_SKIPPED_KEYS) s.skipped.splice(0, s.skipped.length - MAX_SKIPPED_KEYS);
  s.skipped = keepNewestChains(s.skipped);
}

/** The skipped keys of the {@linkcode MAX_SKIPPED_CHAINS} newest chains (bounded trials). */
function keepNewestChains(skipped: SkippedKey[]): SkippedKey[] {
  const ids = chainIds(skipped);
  const kept = new Set<string>();
  for (let i = ids.length - 1; i >= 0; i--) {
    if (kept.has(ids[i]!)) continue;
    if (kept.size === MAX_SKIPPED_CHAINS) return skipped.filter((_, j) => kept.has(ids[j]!));
    kept.add(ids[i]!);
  }
  return skipped;
}

/** The receiving half of DHRatchetHE (spec §4.6); the sending half waits (§6.5). */
function dhRatchetReceive(s: Working, peerKey: Uint8Array, ours: KeyPair): void {
  s.pn = s.ns;
  s.ns = 0;
  s.nr = 0;
  s.hks = s.nhks;
  s.hkr = s.nhkr;
  s.dhr = peerKey;
  [s.rk, s.ckr, s.nhkr] = kdfRk(s.rk, dh(ours.secretKey, peerKey));
  s.dhs = null;
  s.cks = null;
}

/** Skipped keys still fresh at `now` (spec §6.4); a clock that went back keeps them. */
function purge(skipped: readonly SkippedKey[], now: number): SkippedKey[] {
  return skipped.filter((k) => now - k.createdAt < SKIPPED_KEY_TTL_MS);
}

/**
 * Deletes the skipped keys that expired at `now` (spec §6.4); for a periodic
 * clean-up between messages (decryption also does it).
 */
export function purgeExpiredKeys(state: RatchetState, now: number): RatchetState {
  checkState(state);
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError("Cannot use now: expected a finite number");
  }
  return new RatchetState({ ...state, skipped: purge(state.skipped, now) });
}
