/**
 * Tests of the signed handshake data (handshake_data.ts): the documented
 * layout rebuilt independently from noble's ed25519, round trips, and
 * every way to forge, alter, rebind or malform it.
 *
 * @module
 */

import fc from "fast-check";
import { ed25519 } from "@noble/curves/ed25519.js";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { outcome, party } from "./_handshake_fixtures.ts";
import { concatBytes, utf8 } from "../lib/crypto/bytes.ts";
import { CryptoError, ProtocolError, UnmessageError } from "../lib/errors.ts";
import {
  decodeHandshake,
  encodeHandshake,
  HANDSHAKE_FIXED_LENGTH,
  type HandshakeBinding,
  type HandshakeFields,
  MAX_HANDSHAKE_LENGTH,
  MAX_NAME_BYTES,
} from "../lib/protocol/handshake_data.ts";

const rng = seededRng("protocol_handshake_data_test");
const bob = party("bob", rng, 9123);
const alice = party("alice", rng);
const carol = party("carol", rng);
const mallory = party("mallory", rng);
const binding: HandshakeBinding = {
  receiverIdentityKey: alice.identity.publicKey,
  requestPublicKey: rng(32),
};
const fields: HandshakeFields = {
  name: "bob",
  onionPublicKey: bob.onion.publicKey,
  port: bob.port,
  identityKey: bob.identity.publicKey,
  handshakeKey: rng(32),
  ratchetKey: rng(32),
  createdAt: 1_700_000_000_123,
};
const encoded = encodeHandshake(fields, binding, bob.onion.seed);

/** RFC 7748: u = 1 is a point of order 1 (a low-order key). */
const LOW_ORDER = Uint8Array.of(1, ...new Array(31).fill(0));

// The layout of the module header, written out by hand (not via codec.ts):
// version ‖ name length ‖ name ‖ onion key ‖ port BE ‖ 3 X25519 keys ‖ created u64 BE.
function body(f: HandshakeFields, nameBytes = utf8(f.name), version = 1): Uint8Array {
  const created = new Uint8Array(8);
  new DataView(created.buffer).setBigUint64(0, BigInt(f.createdAt));
  return concatBytes(
    Uint8Array.of(version, nameBytes.length),
    nameBytes,
    f.onionPublicKey,
    Uint8Array.of(f.port >> 8, f.port & 0xff),
    f.identityKey,
    f.handshakeKey,
    f.ratchetKey,
    created,
  );
}

// The signature straight from noble (RFC 8032 signatures are deterministic).
function signed(b: Uint8Array, seed: Uint8Array, bind = binding): Uint8Array {
  const domain = utf8("unMessage/v1/handshake/request-signature\0");
  const message = concatBytes(domain, b, bind.receiverIdentityKey, bind.requestPublicKey);
  return concatBytes(b, ed25519.sign(message, seed));
}

Deno.test("encodeHandshake() writes the documented layout, signed over domain, fields, receiver and request key", () => {
  assertEquals(encoded, signed(body(fields), bob.onion.seed));
  assertEquals(encoded.length, HANDSHAKE_FIXED_LENGTH + 3);
});

Deno.test("the creation time is signed, big-endian, and bounded by 2^53 - 1", () => {
  // the pinned bytes of 1_700_000_000_123 ms
  const at = HANDSHAKE_FIXED_LENGTH + 3 - 64 - 8;
  assertEquals([...encoded.subarray(at, at + 8)], [0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b]);
  for (const createdAt of [0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    const bytes = encodeHandshake({ ...fields, createdAt }, binding, bob.onion.seed);
    assertEquals(bytes, signed(body({ ...fields, createdAt }), bob.onion.seed));
    assertEquals(decodeHandshake(bytes, binding).createdAt, createdAt);
  }
  for (const createdAt of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) {
    const e = assertThrows(() =>
      encodeHandshake({ ...fields, createdAt }, binding, bob.onion.seed)
    );
    assertEquals((e as ProtocolError).code, "bad_time");
  }
  // a properly signed time beyond 2^53 - 1 is refused after the signature
  const huge = body(fields);
  huge.set([0, 0x20, 0, 0, 0, 0, 0, 0], huge.length - 8);
  const e = assertThrows(
    () => decodeHandshake(signed(huge, bob.onion.seed), binding),
    ProtocolError,
  );
  assertEquals(e.code, "bad_time");
  // a changed time breaks the signature
  const older = encoded.slice();
  older[at + 7] = older[at + 7]! ^ 1;
  assertEquals(outcome(() => decodeHandshake(older, binding)), "bad_signature");
});

Deno.test("decodeHandshake() returns the fields and the onion address of the signing key", () => {
  const data = decodeHandshake(encoded, binding);
  assertEquals(data, { ...fields, onionAddress: bob.onion.address });
});

Deno.test("decodeHandshake() round-trips every valid name and port", () => {
  const name = fc.string({ unit: "binary", minLength: 1, maxLength: 32 }).filter((s) => {
    const n = utf8(s).length;
    return n >= 1 && n <= MAX_NAME_BYTES && !/[\p{Cc}@]/u.test(s);
  });
  fc.assert(
    fc.property(name, fc.integer({ min: 1, max: 65535 }), (n, port) => {
      const f = { ...fields, name: n, port };
      const bytes = encodeHandshake(f, binding, bob.onion.seed);
      assert(bytes.length <= MAX_HANDSHAKE_LENGTH);
      assertEquals(decodeHandshake(bytes, binding), { ...f, onionAddress: bob.onion.address });
    }),
    { seed: 0x4a5d, numRuns: 60 },
  );
});

Deno.test("decodeHandshake() rejects a signature by another onion key than the one claimed", () => {
  const forged = signed(body(fields), mallory.onion.seed);
  const e = assertThrows(() => decodeHandshake(forged, binding), ProtocolError);
  assertEquals(e.code, "bad_signature");
});

Deno.test("decodeHandshake() rejects every byte changed after signing", () => {
  for (let i = 0; i < encoded.length; i++) {
    const altered = encoded.slice();
    altered[i] = altered[i]! ^ 0x04;
    const code = outcome(() => decodeHandshake(altered, binding));
    // the version and the name length are read before the signature
    const expected = i === 0 ? "unsupported_version" : i === 1 ? "truncated" : "bad_signature";
    assertEquals(code, expected, `byte ${i}`);
  }
});

Deno.test("decodeHandshake() rejects data bound to another receiver or another request key", () => {
  const toCarol = { ...binding, receiverIdentityKey: carol.identity.publicKey };
  const otherPacket = { ...binding, requestPublicKey: rng(32) };
  assertEquals(outcome(() => decodeHandshake(encoded, toCarol)), "bad_signature");
  assertEquals(outcome(() => decodeHandshake(encoded, otherPacket)), "bad_signature");
});

Deno.test("decodeHandshake() rejects low-order X25519 keys even when properly signed", () => {
  for (const which of ["identityKey", "handshakeKey", "ratchetKey"] as const) {
    const bytes = signed(body({ ...fields, [which]: LOW_ORDER }), bob.onion.seed);
    const e = assertThrows(() => decodeHandshake(bytes, binding), CryptoError);
    assertEquals(e.code, "bad_key", which);
  }
});

Deno.test("decodeHandshake() rejects port 0 and a name that is not valid UTF-8 even when signed", () => {
  const port0 = signed(body({ ...fields, port: 0 }), bob.onion.seed);
  assertEquals(outcome(() => decodeHandshake(port0, binding)), "bad_port");
  const badUtf8 = signed(body(fields, Uint8Array.of(0x62, 0xc3)), bob.onion.seed);
  assertEquals(outcome(() => decodeHandshake(badUtf8, binding)), "bad_name");
  const withAt = signed(body({ ...fields, name: "bob@evil" }), bob.onion.seed);
  assertEquals(outcome(() => decodeHandshake(withAt, binding)), "bad_name");
  const empty = signed(body({ ...fields, name: "" }), bob.onion.seed);
  assertEquals(outcome(() => decodeHandshake(empty, binding)), "bad_name");
});

Deno.test("decodeHandshake() rejects another version, truncation, trailing bytes and a long name", () => {
  const v2 = signed(body(fields, undefined, 2), bob.onion.seed);
  assertEquals(outcome(() => decodeHandshake(v2, binding)), "unsupported_version");
  for (let n = 0; n < encoded.length; n++) {
    assertEquals(outcome(() => decodeHandshake(encoded.subarray(0, n), binding)), "truncated");
  }
  const trailing = concatBytes(encoded, Uint8Array.of(0));
  assertEquals(outcome(() => decodeHandshake(trailing, binding)), "trailing_bytes");
  const long = signed(body(fields, new Uint8Array(MAX_NAME_BYTES + 1).fill(0x61)), bob.onion.seed);
  assertEquals(outcome(() => decodeHandshake(long, binding)), "too_long");
  const huge = new Uint8Array(100_000);
  assertEquals(outcome(() => decodeHandshake(huge, binding)), "too_long");
});

Deno.test("decodeHandshake() refuses a small-order onion key with a typed error", () => {
  // the identity element: any "signature" is checked and refused, never a crash
  const identityPoint = Uint8Array.of(1, ...new Array(31).fill(0));
  const bytes = concatBytes(body({ ...fields, onionPublicKey: identityPoint }), new Uint8Array(64));
  assertEquals(outcome(() => decodeHandshake(bytes, binding)), "bad_signature");
});

Deno.test("decodeHandshake() fails only with typed errors on random input", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: MAX_HANDSHAKE_LENGTH + 8 }),
        // past the version and name length: every later check is reached
        fc.tuple(fc.nat(MAX_NAME_BYTES), fc.uint8Array({ maxLength: MAX_HANDSHAKE_LENGTH }))
          .map(([n, rest]) => concatBytes(Uint8Array.of(1, n), rest)),
        // the right length: the signature check is reached
        fc.uint8Array({ minLength: encoded.length - 2, maxLength: encoded.length - 2 })
          .map((rest) => concatBytes(Uint8Array.of(1, 3), rest)),
      ),
      (bytes) => {
        try {
          decodeHandshake(bytes, binding);
          return false; // an unsigned random input never verifies
        } catch (e) {
          return e instanceof UnmessageError;
        }
      },
    ),
    { seed: 0xda7a, numRuns: 300 },
  );
});

Deno.test("encodeHandshake() refuses names, ports and keys that decoding would reject", () => {
  const bad: [Partial<HandshakeFields>, string][] = [
    [{ name: "" }, "bad_name"],
    [{ name: "a".repeat(MAX_NAME_BYTES + 1) }, "bad_name"],
    [{ name: "é".repeat(MAX_NAME_BYTES / 2 + 1) }, "bad_name"],
    [{ name: "bob@host" }, "bad_name"],
    [{ name: "bob\n" }, "bad_name"],
    [{ name: "bob\u0085" }, "bad_name"],
    [{ name: "bob\ud800" }, "bad_name"],
    [{ port: 0 }, "bad_port"],
    [{ port: 65536 }, "bad_port"],
    [{ port: 80.5 }, "bad_port"],
    [{ identityKey: LOW_ORDER }, "bad_key"],
    [{ ratchetKey: LOW_ORDER }, "bad_key"],
    [{ handshakeKey: new Uint8Array(31) }, "bad_length"],
    [{ onionPublicKey: LOW_ORDER }, "bad_address"],
  ];
  for (const [change, code] of bad) {
    assertEquals(
      outcome(() => encodeHandshake({ ...fields, ...change }, binding, bob.onion.seed)),
      code,
      JSON.stringify(change),
    );
  }
  assertEquals(
    outcome(() => encodeHandshake({ ...fields, name: "é".repeat(32) }, binding, bob.onion.seed)),
    "ok",
  );
  const lowBinding = { ...binding, receiverIdentityKey: LOW_ORDER };
  assertEquals(outcome(() => encodeHandshake(fields, lowBinding, bob.onion.seed)), "bad_key");
});
