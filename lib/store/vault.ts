/**
 * Optional passphrase encryption of a peer's files (unMessage 0.1 kept
 * its keys on disk in plain text; docs/threat-model.md, "Someone with the disk"). A file is stored as a
 * versioned JSON envelope:
 *
 * ```json
 * { "unmessage-vault": 1,
 *   "kdf": { "name": "scrypt", "N": 131072, "r": 8, "p": 1, "salt": "<b64>", "check": "<b64>" },
 *   "nonce": "<b64, 24 bytes>", "ciphertext": "<b64, XChaCha20-Poly1305 output>" }
 * ```
 *
 * Key derivation: scrypt (RFC 7914) of the NFC-normalised passphrase with a
 * random 16-byte salt gives 48 bytes: the first 32 are the XChaCha20-Poly1305
 * key, the last 16 a key-check value stored in the envelope, so a wrong
 * passphrase (`bad_passphrase`) is told apart from an altered file under the
 * right passphrase (`tampered`). The check value lets an attacker test a
 * guess no faster than the ciphertext itself already does.
 *
 * Parameters: N = 2^17, r = 8, p = 1 (128 MiB; measured with noble's
 * scryptAsync on a 2-core x86-64 machine: 0.6 s idle, 1.1 s under load). This
 * is the OWASP minimum for scrypt and lies between RFC 7914 §2's interactive
 * (2^14) and file-encryption (2^20) suggestions; age uses 2^18 for its
 * passphrase files. A 2^15 (~0.1 s) key would make each offline guess on a
 * stolen disk four times cheaper, and we pay the cost once per start: the key
 * is derived once per process and salt (cached in the {@linkcode Vault}), so
 * saving many files costs only the cipher. Parameters read from a file are
 * bounded (memory, N, p) so a hand-edited envelope cannot exhaust memory.
 *
 * Every envelope authenticates, as associated data, a label and the file's
 * name within the peer folder, so encrypted files cannot be swapped.
 *
 * The lines of the state files (journal_format.ts) are sealed the same way
 * without the envelope ({@linkcode Vault.sealRecord}: nonce and ciphertext
 * only, the key parameters being those of the profile), bound to a context
 * that names the file, the generation and the key or commit; contexts hold
 * a NUL byte, which no file name does, so a record never opens as a file.
 *
 * @module
 */

import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import {
  concatBytes,
  equalBytes,
  fromBase64,
  type Rng,
  toBase64,
  utf8,
  wipe,
} from "../crypto/bytes.ts";
import { systemRng } from "../rng.ts";
import { describeError, StoreError } from "./errors.ts";

/** Envelope format version written in the `"unmessage-vault"` field. */
export const VAULT_VERSION = 1;

/** scrypt cost parameters (RFC 7914 §2). */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/** Default scrypt parameters (see the module header for the reasons). */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** Smallest N accepted (tests use it; below, a guess costs nothing). */
export const MIN_SCRYPT_N = 2 ** 10;

/** Largest scrypt memory (128·N·r bytes) accepted from a file: 256 MiB. */
export const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

/** Largest p accepted from a file (time grows linearly with p). */
export const MAX_SCRYPT_P = 4;

/** Salt length: 128 bits, unique per profile. */
export const SALT_LENGTH = 16;

/** XChaCha20-Poly1305 key, nonce and tag lengths (draft-irtf-cfrg-xchacha §2). */
const KEY_LENGTH = 32;
const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;

/** Length of the key-check value appended to the derived key. */
export const CHECK_LENGTH = 16;

const AD_LABEL = utf8("unmessage-vault 1\0");

/** The `kdf` field of an envelope. */
export interface VaultKdf extends ScryptParams {
  /** The KDF's name. */
  name: "scrypt";
  /** The scrypt salt, base64. */
  salt: string;
  /** The key-check value: the last bytes scrypt derived, base64 (tells a wrong passphrase). */
  check: string;
}

/** An encrypted file as stored on disk. */
export interface VaultEnvelope {
  /** The envelope's format version. */
  "unmessage-vault": typeof VAULT_VERSION;
  /** How the key is derived from the passphrase. */
  kdf: VaultKdf;
  /** XChaCha20 nonce, base64. */
  nonce: string;
  /** The encrypted file, base64. */
  ciphertext: string;
}

/** True if parsed JSON looks like a vault envelope (of any version). */
export function isVaultEnvelope(value: unknown): boolean {
  return typeof value === "object" && value !== null && "unmessage-vault" in value;
}

interface DerivedKey {
  key: Uint8Array;
  check: Uint8Array;
}

/** Options of {@linkcode Vault.create}. */
export interface VaultOptions {
  /** scrypt parameters (default {@linkcode DEFAULT_SCRYPT}). */
  params?: ScryptParams;
  /** Source of salts and nonces (default the system CSPRNG). */
  rng?: Rng;
}

/**
 * A passphrase and the keys derived from it, cached per salt and
 * parameters. One per open peer; {@linkcode Vault.destroy} wipes it.
 */
export class Vault {
  readonly #passphrase: Uint8Array;
  readonly #rng: Rng;
  readonly #keys = new Map<string, DerivedKey>();
  #kdf: VaultKdf;

  private constructor(passphrase: Uint8Array, rng: Rng, kdf: VaultKdf) {
    this.#passphrase = passphrase;
    this.#rng = rng;
    this.#kdf = kdf;
  }

  /**
   * A vault for a new profile: draws a salt and derives the key now.
   *
   * @throws {StoreError} `bad_passphrase` for an empty passphrase
   * @throws {RangeError} parameters outside the accepted bounds
   */
  static async create(passphrase: string, options: VaultOptions = {}): Promise<Vault> {
    const params = options.params ?? DEFAULT_SCRYPT;
    checkParams(params, (why) => new RangeError(`Cannot use scrypt parameters: ${why}`));
    const rng = options.rng ?? systemRng;
    const kdf: VaultKdf = {
      name: "scrypt",
      N: params.N,
      r: params.r,
      p: params.p,
      salt: toBase64(rng(SALT_LENGTH)),
      check: "",
    };
    const vault = new Vault(encodePassphrase(passphrase), rng, kdf);
    kdf.check = toBase64((await vault.#derive(kdf)).check);
    return vault;
  }

  /**
   * A vault for an existing profile: derives the key from the envelope's
   * parameters and verifies the passphrase against its check value. New
   * files are then sealed with the same salt.
   *
   * @throws {StoreError} `bad_passphrase`; `invalid` for a malformed envelope
   */
  static async unlock(
    passphrase: string,
    envelope: unknown,
    path: string,
    options: { rng?: Rng } = {},
  ): Promise<Vault> {
    const env = parseEnvelope(envelope, path);
    const vault = new Vault(encodePassphrase(passphrase), options.rng ?? systemRng, env.kdf);
    await vault.#keyFor(env.kdf, path);
    return vault;
  }

  /** The kdf parameters new envelopes carry (no secret in them). */
  get kdf(): Readonly<VaultKdf> {
    return this.#kdf;
  }

  /** Encrypts `plaintext`, binding `name` (the file's name in the peer folder). */
  seal(plaintext: Uint8Array, name: string): VaultEnvelope {
    const derived = this.#keys.get(cacheKey(this.#kdf));
    if (derived === undefined) {
      throw new StoreError("io", "Cannot encrypt: the vault was destroyed");
    }
    const nonce = this.#rng(NONCE_LENGTH);
    const ciphertext = xchacha20poly1305(derived.key, nonce, adFor(name)).encrypt(plaintext);
    return {
      "unmessage-vault": VAULT_VERSION,
      kdf: { ...this.#kdf },
      nonce: toBase64(nonce),
      ciphertext: toBase64(ciphertext),
    };
  }

  /** Encrypts one record of the state files, bound to `context` (journal_format.ts). */
  sealRecord(plaintext: Uint8Array, context: string): { nonce: string; sealed: string } {
    const derived = this.#keys.get(cacheKey(this.#kdf));
    if (derived === undefined) {
      throw new StoreError("io", "Cannot encrypt: the vault was destroyed");
    }
    const nonce = this.#rng(NONCE_LENGTH);
    const sealed = xchacha20poly1305(derived.key, nonce, adFor(context)).encrypt(plaintext);
    return { nonce: toBase64(nonce), sealed: toBase64(sealed) };
  }

  /**
   * Decrypts a record sealed by {@linkcode Vault.sealRecord} for `context`,
   * read from `path`.
   *
   * @throws {StoreError} `invalid` (malformed), `tampered` (authentication failed)
   */
  openRecord(nonce: unknown, sealed: unknown, context: string, path: string): Uint8Array {
    const derived = this.#keys.get(cacheKey(this.#kdf));
    if (derived === undefined) {
      throw new StoreError("io", "Cannot decrypt: the vault was destroyed");
    }
    let n: Uint8Array;
    let c: Uint8Array;
    try {
      n = fromBase64(nonce as string);
      c = fromBase64(sealed as string);
    } catch {
      throw new StoreError("invalid", `Cannot open ${path}: a record is not base64`, path);
    }
    if (n.length !== NONCE_LENGTH || c.length < TAG_LENGTH) throw tampered(path);
    try {
      return xchacha20poly1305(derived.key, n, adFor(context)).decrypt(c);
    } catch {
      throw tampered(path);
    }
  }

  /**
   * Decrypts an envelope read from `path` whose name in the peer folder is
   * `name`. A salt not seen before is derived once and cached.
   *
   * @throws {StoreError} `invalid` (malformed envelope), `bad_passphrase`
   *   (check value differs), `tampered` (authentication failed)
   */
  async open(envelope: unknown, name: string, path: string): Promise<Uint8Array> {
    const env = parseEnvelope(envelope, path);
    const derived = await this.#keyFor(env.kdf, path);
    if (env.ciphertext.length < TAG_LENGTH) throw tampered(path);
    try {
      // noble verifies the Poly1305 tag in constant time before decrypting
      return xchacha20poly1305(derived.key, env.nonce, adFor(name)).decrypt(env.ciphertext);
    } catch {
      throw tampered(path);
    }
  }

  /** Wipes the passphrase and every derived key; the vault is then unusable. */
  destroy(): void {
    wipe(this.#passphrase);
    for (const k of this.#keys.values()) wipe(k.key, k.check);
    this.#keys.clear();
  }

  async #keyFor(kdf: VaultKdf, path: string): Promise<DerivedKey> {
    const derived = this.#keys.get(cacheKey(kdf)) ?? (await this.#derive(kdf));
    if (!equalBytes(derived.check, fromBase64(kdf.check))) {
      throw new StoreError(
        "bad_passphrase",
        `Cannot open ${path}: wrong passphrase; try again (the passphrase is case-sensitive)`,
        path,
      );
    }
    return derived;
  }

  async #derive(kdf: VaultKdf): Promise<DerivedKey> {
    const id = cacheKey(kdf);
    const cached = this.#keys.get(id);
    if (cached !== undefined) return cached;
    const out = await scryptAsync(this.#passphrase, fromBase64(kdf.salt), {
      N: kdf.N,
      r: kdf.r,
      p: kdf.p,
      dkLen: KEY_LENGTH + CHECK_LENGTH,
      maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024,
    });
    const derived = { key: out.slice(0, KEY_LENGTH), check: out.slice(KEY_LENGTH) };
    wipe(out);
    this.#keys.set(id, derived);
    return derived;
  }
}

function encodePassphrase(passphrase: string): Uint8Array {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new StoreError(
      "bad_passphrase",
      "Cannot use an empty passphrase: type at least one character",
    );
  }
  // the same passphrase typed on two systems may differ in Unicode form
  return utf8(passphrase.normalize("NFC"));
}

function cacheKey(kdf: ScryptParams & { salt: string }): string {
  return `${kdf.N}:${kdf.r}:${kdf.p}:${kdf.salt}`;
}

function adFor(name: string): Uint8Array {
  return concatBytes(AD_LABEL, utf8(name));
}

function tampered(path: string): StoreError {
  return new StoreError(
    "tampered",
    `Cannot open ${path}: the encrypted file fails authentication (altered or damaged); ` +
      "unMessage leaves it untouched: restore it from a backup or move it away",
    path,
  );
}

// throws `fail(reason)` if the parameters are out of bounds
function checkParams(params: ScryptParams, fail: (why: string) => Error): void {
  const { N, r, p } = params;
  if (!Number.isSafeInteger(N) || N < MIN_SCRYPT_N || (N & (N - 1)) !== 0) {
    throw fail(`N must be a power of two of at least ${MIN_SCRYPT_N}`);
  }
  if (!Number.isSafeInteger(r) || r < 1) throw fail("r must be a positive integer");
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_SCRYPT_P) {
    throw fail(`p must be 1 to ${MAX_SCRYPT_P}`);
  }
  if (128 * N * r > MAX_SCRYPT_MEMORY) {
    throw fail(`128·N·r exceeds ${MAX_SCRYPT_MEMORY} bytes of memory`);
  }
}

interface ParsedEnvelope {
  kdf: VaultKdf;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

function parseEnvelope(value: unknown, path: string): ParsedEnvelope {
  const bad = (why: string) =>
    new StoreError(
      "invalid",
      `Cannot open ${path}: malformed encrypted file (${why}); unMessage leaves it untouched`,
      path,
    );
  if (!isVaultEnvelope(value)) throw bad("not an unmessage-vault envelope");
  const env = value as Record<string, unknown>;
  if (env["unmessage-vault"] !== VAULT_VERSION) {
    throw bad(
      `version ${
        JSON.stringify(env["unmessage-vault"])
      } is not ${VAULT_VERSION}; a newer unMessage may have written it`,
    );
  }
  const kdf = env.kdf as Record<string, unknown> | null;
  if (typeof kdf !== "object" || kdf === null || kdf.name !== "scrypt") {
    throw bad("kdf is not scrypt");
  }
  const { N, r, p, salt, check } = kdf;
  if (typeof N !== "number" || typeof r !== "number" || typeof p !== "number") {
    throw bad("scrypt parameters are not numbers");
  }
  checkParams({ N, r, p }, bad);
  const bytes = (field: unknown, name: string, length?: number): Uint8Array => {
    if (typeof field !== "string") throw bad(`${name} is not a string`);
    let out: Uint8Array;
    try {
      out = fromBase64(field);
    } catch (e) {
      throw bad(`${name}: ${describeError(e)}`);
    }
    if (length !== undefined && out.length !== length) throw bad(`${name} is not ${length} bytes`);
    return out;
  };
  bytes(salt, "salt", SALT_LENGTH);
  bytes(check, "check", CHECK_LENGTH);
  return {
    kdf: { name: "scrypt", N, r, p, salt: salt as string, check: check as string },
    nonce: bytes(env.nonce, "nonce", NONCE_LENGTH),
    ciphertext: bytes(env.ciphertext, "ciphertext"),
  };
}
