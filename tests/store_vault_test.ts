import { scryptSync } from "node:crypto";
import fc from "fast-check";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { concatBytes, fromBase64, toBase64, utf8 } from "../lib/crypto/bytes.ts";
import {
  DEFAULT_SCRYPT,
  isVaultEnvelope,
  MIN_SCRYPT_N,
  Vault,
  type VaultEnvelope,
} from "../lib/store/vault.ts";
import { StoreError } from "../lib/store/errors.ts";

// cheap parameters so tests stay fast; the defaults are timed once below
const FAST = { N: MIN_SCRYPT_N, r: 8, p: 1 };
const PATH = "/peers/alice/profile.json";

Deno.test("Vault seals and opens a file; a second Vault unlocks it with the passphrase", async () => {
  const vault = await Vault.create("correct horse", { params: FAST });
  const plain = utf8('{"identity":"key material"}');
  const env = vault.seal(plain, "profile.json");
  assert(isVaultEnvelope(env));
  assertEquals(env["unmessage-vault"], 1);
  assertEquals(env.kdf.name, "scrypt");
  assertEquals(await vault.open(env, "profile.json", PATH), plain);
  const json = JSON.parse(JSON.stringify(env));
  const other = await Vault.unlock("correct horse", json, PATH);
  assertEquals(await other.open(json, "profile.json", PATH), plain);
  // new envelopes of the unlocked vault keep the profile's salt
  assertEquals(other.seal(plain, "x").kdf.salt, env.kdf.salt);
});

Deno.test("Vault.unlock() with a wrong passphrase fails with bad_passphrase naming the path", async () => {
  const env = (await Vault.create("right", { params: FAST })).seal(utf8("{}"), "profile.json");
  const e = await assertRejects(() => Vault.unlock("wrong", env, PATH), StoreError, PATH);
  assertEquals(e.code, "bad_passphrase");
  assertEquals(e.path, PATH);
  await assertRejects(() => Vault.unlock("Right", env, PATH), StoreError, "wrong passphrase");
});

Deno.test("Vault.open() reports an altered ciphertext, nonce or file name as tampered", async () => {
  const vault = await Vault.create("pw", { params: FAST });
  const env = vault.seal(utf8('{"a":1}'), "conversations/ab.json");
  const flip = (b64: string, at: number) => {
    const bytes = fromBase64(b64);
    bytes[at]! ^= 1;
    return toBase64(bytes);
  };
  const altered: [string, VaultEnvelope, string][] = [
    ["ciphertext byte", { ...env, ciphertext: flip(env.ciphertext, 0) }, "conversations/ab.json"],
    ["tag byte", { ...env, ciphertext: flip(env.ciphertext, 22) }, "conversations/ab.json"],
    ["nonce", { ...env, nonce: flip(env.nonce, 5) }, "conversations/ab.json"],
    ["swapped into another file", env, "conversations/cd.json"],
    ["truncated", { ...env, ciphertext: toBase64(fromBase64(env.ciphertext).slice(0, 10)) }, "x"],
  ];
  for (const [label, e, name] of altered) {
    const err = await assertRejects(() => vault.open(e, name, PATH), StoreError, PATH);
    assertEquals(err.code, "tampered", label);
  }
  // an altered check value looks like a wrong passphrase
  const err = await assertRejects(
    () => vault.open({ ...env, kdf: { ...env.kdf, check: flip(env.kdf.check, 0) } }, "x", PATH),
    StoreError,
  );
  assertEquals(err.code, "bad_passphrase");
});

Deno.test("Vault.open() rejects malformed envelopes as invalid, quickly, with hostile parameters", async () => {
  const vault = await Vault.create("pw", { params: FAST });
  const env = vault.seal(utf8("{}"), "f");
  const bad: [string, unknown][] = [
    ["not an envelope", { a: 1 }],
    ["version 2", { ...env, "unmessage-vault": 2 }],
    ["no kdf", { ...env, kdf: undefined }],
    ["other kdf", { ...env, kdf: { ...env.kdf, name: "argon2id" } }],
    ["N not a power of two", { ...env, kdf: { ...env.kdf, N: 3000 } }],
    ["N below minimum", { ...env, kdf: { ...env.kdf, N: 512 } }],
    ["N of 2^30 (128 GiB)", { ...env, kdf: { ...env.kdf, N: 2 ** 30 } }],
    ["r of 10^6", { ...env, kdf: { ...env.kdf, r: 1e6 } }],
    ["p of 1000", { ...env, kdf: { ...env.kdf, p: 1000 } }],
    ["N as string", { ...env, kdf: { ...env.kdf, N: "1024" } }],
    ["short salt", { ...env, kdf: { ...env.kdf, salt: toBase64(new Uint8Array(8)) } }],
    ["bad base64 salt", { ...env, kdf: { ...env.kdf, salt: "!!!!" } }],
    ["short nonce", { ...env, nonce: toBase64(new Uint8Array(12)) }],
    ["ciphertext not a string", { ...env, ciphertext: 7 }],
  ];
  const start = performance.now();
  for (const [label, value] of bad) {
    const e = await assertRejects(() => vault.open(value, "f", PATH), StoreError, PATH);
    assertEquals(e.code, "invalid", label);
  }
  assert(performance.now() - start < 500, "a hostile parameter was not refused up front");
});

Deno.test("Vault opens envelopes sealed under another salt with the same passphrase", async () => {
  const a = await Vault.create("same", { params: FAST });
  const b = await Vault.create("same", { params: FAST });
  const envB = b.seal(utf8("from b"), "f");
  assertEquals(await a.open(envB, "f", PATH), utf8("from b"));
  assertEquals(await a.open(b.seal(utf8("again"), "f"), "f", PATH), utf8("again"));
});

Deno.test("Vault normalises passphrases to NFC", async () => {
  const composed = "caf\u00e9";
  const decomposed = "cafe\u0301";
  const env = (await Vault.create(composed, { params: FAST })).seal(utf8("x"), "f");
  const other = await Vault.unlock(decomposed, env, PATH);
  assertEquals(await other.open(env, "f", PATH), utf8("x"));
});

Deno.test("Vault refuses an empty passphrase, bad parameters, and use after destroy()", async () => {
  await assertRejects(() => Vault.create("", { params: FAST }), StoreError, "empty passphrase");
  await assertRejects(() => Vault.create("pw", { params: { N: 1000, r: 8, p: 1 } }), RangeError);
  await assertRejects(() => Vault.create("pw", { params: { N: 2 ** 20, r: 8, p: 1 } }), RangeError);
  const vault = await Vault.create("pw", { params: FAST });
  vault.destroy();
  assertThrows(() => vault.seal(utf8("x"), "f"), StoreError, "destroyed");
});

Deno.test("Vault envelope format: scrypt (checked against node:crypto) then XChaCha20-Poly1305", async () => {
  const vault = await Vault.create("pass phrase", { params: FAST, rng: seededRng(7) });
  const env = vault.seal(utf8('{"n":1}'), "requests.json");
  // an independent scrypt: node:crypto (OpenSSL)
  const salt = fromBase64(env.kdf.salt);
  const dk = new Uint8Array(scryptSync("pass phrase", salt, 48, { N: FAST.N, r: 8, p: 1 }));
  assertEquals(toBase64(dk.slice(32)), env.kdf.check);
  const ad = concatBytes(utf8("unmessage-vault 1\0"), utf8("requests.json"));
  const plain = xchacha20poly1305(dk.slice(0, 32), fromBase64(env.nonce), ad)
    .decrypt(fromBase64(env.ciphertext));
  assertEquals(plain, utf8('{"n":1}'));
  // deterministic with a seeded rng: same salt and nonce again
  const again = (await Vault.create("pass phrase", { params: FAST, rng: seededRng(7) }))
    .seal(utf8('{"n":1}'), "requests.json");
  assertEquals(again, env);
});

Deno.test("Vault round-trips arbitrary bytes under arbitrary file names (property)", async () => {
  const vault = await Vault.create("prop", { params: FAST });
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.string(), async (bytes, name) => {
      const env = JSON.parse(JSON.stringify(vault.seal(bytes, name)));
      assertEquals(await vault.open(env, name, PATH), bytes);
    }),
    { numRuns: 100 },
  );
});

Deno.test("Vault with default parameters: one slow derivation, then fast files", async () => {
  let t = performance.now();
  const vault = await Vault.create("default params");
  const derive = performance.now() - t;
  assertEquals(vault.kdf.N, DEFAULT_SCRYPT.N);
  t = performance.now();
  for (let i = 0; i < 200; i++) {
    const env = vault.seal(utf8(`{"i":${i}}`), `conversations/${i}.json`);
    await vault.open(env, `conversations/${i}.json`, PATH);
  }
  const files = performance.now() - t;
  console.log(
    `    scrypt N=2^17 r=8 p=1: ${derive.toFixed(0)} ms; 200 seal+open: ${files.toFixed(1)} ms`,
  );
  assert(files < derive, "files were not sealed with the cached key");
});
