import fc from "fast-check";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes as concat, fromHex, utf8 } from "../lib/crypto/bytes.ts";
import { CryptoError } from "../lib/errors.ts";
import { bigintFromBytes, proofHash, SmpError, type SmpGroup } from "../lib/crypto/smp/group.ts";
import {
  decodeSmpMessage,
  encodeSmpMessage,
  SMP_ABORT,
  SMP_VALUE_COUNTS,
  type SmpMessage,
} from "../lib/crypto/smp/message.ts";
import { modp1536, MODP1536_ORDER, MODP1536_PRIME } from "../lib/crypto/smp/modp.ts";
import { RISTRETTO255_ORDER, ristretto255Group } from "../lib/crypto/smp/ristretto.ts";
import { SMP_SECRET_LABEL, smpSecret } from "../lib/crypto/smp/secret.ts";
import { Smp } from "../lib/crypto/smp/smp.ts";

const GROUPS: SmpGroup<unknown>[] = [modp1536, ristretto255Group];
const SECRET = 0x5eed_cafe_f00d_1234_5678_9abc_def0n;

function pair(group: SmpGroup<unknown>, sa: bigint, sb: bigint, seed: string) {
  return [new Smp(group, sa, seededRng("a:" + seed)), new Smp(group, sb, seededRng("b:" + seed))];
}

/** Runs a full exchange and returns the four messages. */
function exchange(a: Smp<unknown>, b: Smp<unknown>): SmpMessage[] {
  const m1 = a.start();
  const m2 = b.receive(m1)!;
  const m3 = a.receive(m2)!;
  const m4 = b.receive(m3)!;
  assertEquals(a.receive(m4), null);
  return [m1, m2, m3, m4];
}

/**
 * Runs honestly up to message `k` (0-based), edits its values, delivers it
 * and returns the receiver with what it threw (undefined if nothing).
 */
function deliverEdited(
  group: SmpGroup<unknown>,
  k: number,
  edit: (values: bigint[]) => void,
): { receiver: Smp<unknown>; error: unknown } {
  const [a, b] = pair(group, SECRET, SECRET, `edit-${k}`);
  let msg = a!.start();
  for (let i = 0;; i++) {
    const receiver = i % 2 === 0 ? b! : a!;
    if (i === k) {
      const values = [...msg.values];
      edit(values);
      try {
        receiver.receive({ type: msg.type, values });
        return { receiver, error: undefined };
      } catch (error) {
        return { receiver, error };
      }
    }
    msg = receiver.receive(msg)!;
  }
}

function assertSmpError(error: unknown, codes: string[], where: string): void {
  assert(error instanceof SmpError, `${where}: expected SmpError, got ${error}`);
  assert(codes.includes(error.code), `${where}: code ${error.code} not in ${codes}`);
}

for (const group of GROUPS) {
  const q = group.order;

  Deno.test(`Smp over ${group.name}: equal secrets match on both sides`, () => {
    const [a, b] = pair(group, SECRET, SECRET, "match");
    exchange(a!, b!);
    assertEquals([a!.result, b!.result], ["match", "match"]);
    assertEquals([a!.state, b!.state], ["done", "done"]);
  });

  Deno.test(`Smp over ${group.name}: different secrets do not match on either side`, () => {
    const [a, b] = pair(group, SECRET, SECRET + 1n, "nomatch");
    exchange(a!, b!);
    assertEquals([a!.result, b!.result], ["nomatch", "nomatch"]);
  });

  Deno.test(`Smp over ${group.name}: challenges are below 2^256 and responses in [1, q-1]`, () => {
    const [a, b] = pair(group, SECRET, SECRET, "ranges");
    const msgs = exchange(a!, b!);
    // Positions of c (challenges) per message, OTR v3 order; D follow them.
    const challenges = [[1, 4], [1, 4, 8], [2, 6], [1]];
    msgs.forEach((m, i) => {
      for (const c of challenges[i]!) {
        assert(m.values[c]! < 1n << 256n && m.values[c]! >= 0n, `${m.type}[${c}]`);
        assert(m.values[c + 1]! >= 1n && m.values[c + 1]! < q, `${m.type}[${c + 1}]`);
      }
      assertEquals(m.values.length, SMP_VALUE_COUNTS[m.type]);
    });
  });

  Deno.test(`Smp over ${group.name}: every tampered field of every message aborts`, () => {
    for (let k = 0; k < 4; k++) {
      const count = [6, 11, 8, 3][k]!;
      for (let j = 0; j < count; j++) {
        const { receiver, error } = deliverEdited(group, k, (v) => (v[j] = v[j]! ^ 1n));
        assertSmpError(error, ["smp_bad_element", "smp_bad_proof"], `message ${k + 1}[${j}]`);
        assertEquals(receiver.state, "failed");
        assertEquals(receiver.result, null);
      }
    }
  });

  Deno.test(`Smp over ${group.name}: a valid but substituted element fails its proof`, () => {
    const g = group.encodeElement(group.generator);
    for (const [k, j] of [[0, 0], [0, 3], [1, 6], [1, 7], [2, 0], [2, 5], [3, 0]]) {
      const { error } = deliverEdited(group, k!, (v) => (v[j!] = g));
      assertSmpError(error, ["smp_bad_proof"], `message ${k! + 1}[${j}]`);
    }
  });

  Deno.test(`Smp over ${group.name}: out-of-range challenges and responses are bad proofs`, () => {
    for (const bad of [0n, q, q + 1n]) {
      const { error } = deliverEdited(group, 0, (v) => (v[2] = bad)); // D2
      assertSmpError(error, ["smp_bad_proof"], `D2=${bad}`);
    }
    const { error } = deliverEdited(group, 1, (v) => (v[1] = 1n << 256n)); // c2
    assertSmpError(error, ["smp_bad_proof"], "c2=2^256");
  });

  Deno.test(`Smp over ${group.name}: out-of-order messages are rejected`, () => {
    const [a, b] = pair(group, SECRET, SECRET, "order");
    const m1 = a!.start();
    const m2 = b!.receive(m1)!;
    // The responder, waiting for SMP3, gets SMP1 again.
    assertThrows(() => b!.receive(m1), SmpError, "Cannot accept SMP1");
    assertEquals(b!.state, "failed");
    // The initiator, waiting for SMP2, gets SMP4-shaped input.
    assertThrows(() => a!.receive({ type: "SMP4", values: [1n, 1n, 1n] }), SmpError);
    assertEquals(a!.state, "failed");
    // A fresh responder gets SMP2 first.
    const [, c] = pair(group, SECRET, SECRET, "order2");
    const e = assertThrows(() => c!.receive(m2), SmpError);
    assertEquals(e.code, "smp_unexpected");
    // start() after having answered.
    const [d, f] = pair(group, SECRET, SECRET, "order3");
    f!.receive(d!.start());
    assertEquals(assertThrows(() => f!.start(), SmpError).code, "smp_unexpected");
  });

  Deno.test(`Smp over ${group.name}: a finished or failed machine refuses further calls`, () => {
    const [a, b] = pair(group, SECRET, SECRET, "finished");
    const [m1] = exchange(a!, b!);
    for (const m of [a!, b!]) {
      assertEquals(assertThrows(() => m.start(), SmpError).code, "smp_finished");
      assertEquals(assertThrows(() => m.receive(m1!), SmpError).code, "smp_finished");
      assertEquals(assertThrows(() => m.receive(SMP_ABORT), SmpError).code, "smp_finished");
      assertEquals(assertThrows(() => m.abort(), SmpError).code, "smp_finished");
      assertEquals(m.result, "match");
    }
    const [c] = pair(group, SECRET, SECRET, "failed");
    c!.start();
    assertEquals(assertThrows(() => c!.receive(SMP_ABORT), SmpError).code, "smp_aborted");
    assertEquals(c!.state, "failed");
    assertEquals(assertThrows(() => c!.receive(m1!), SmpError).code, "smp_finished");
  });

  Deno.test(`Smp over ${group.name}: abort() returns ABORT and ends the run`, () => {
    const [a] = pair(group, SECRET, SECRET, "abort");
    a!.start();
    assertEquals(a!.abort(), SMP_ABORT);
    assertEquals(a!.state, "failed");
  });

  Deno.test(`Smp over ${group.name}: malformed messages are rejected`, () => {
    const cases: unknown[] = [
      { type: "SMP1", values: [1n, 2n] },
      { type: "SMP1", values: [1, 2, 3, 4, 5, 6] },
      { type: "SMP1", values: [-1n, 1n, 1n, 1n, 1n, 1n] },
      { type: "SMP9", values: [] },
      null,
    ];
    for (const msg of cases) {
      const [, b] = pair(group, SECRET, SECRET, "malformed");
      const e = assertThrows(() => b!.receive(msg as SmpMessage), SmpError);
      assertEquals(e.code, "smp_malformed", JSON.stringify(msg, (_, v) => String(v)));
      assertEquals(b!.state, "failed");
    }
  });

  Deno.test(`Smp over ${group.name}: secrets outside [1, q-1] are refused`, () => {
    for (const s of [0n, -1n, q, q + 5n]) {
      assertThrows(() => new Smp(group, s, seededRng(1)), RangeError);
    }
  });

  Deno.test(`Smp over ${group.name}: an rng that returns too few bytes is refused`, () => {
    // exponents from a short output would be guessable, and a known r reveals
    // the secret from D = r - secret·c
    const short = (n: number) => seededRng("short")(n - 1);
    const e = assertThrows(() => new Smp(group, SECRET, short).start(), CryptoError);
    assertEquals(e.code, "bad_length");
    const [a] = pair(group, SECRET, SECRET, "short rng");
    const b = new Smp(group, SECRET, short);
    assertThrows(() => b.receive(a!.start()), SmpError);
    assertEquals(b.state, "failed");
  });

  Deno.test(`Smp over ${group.name}: the same seeds give the same transcript`, () => {
    const run = (seed: string) => {
      const [a, b] = pair(group, SECRET, SECRET, seed);
      return exchange(a!, b!);
    };
    assertEquals(run("det"), run("det"));
    assertNotEquals(run("det"), run("det2"));
  });

  Deno.test(`Smp over ${group.name}: binary messages round-trip and reject garbage`, () => {
    const [a, b] = pair(group, SECRET, SECRET, "wire");
    for (const m of [...exchange(a!, b!), SMP_ABORT]) {
      const bytes = encodeSmpMessage(m, group);
      assertEquals(decodeSmpMessage(bytes, group), m);
      for (let cut = 0; cut < bytes.length; cut++) {
        const e = assertThrows(() => decodeSmpMessage(bytes.subarray(0, cut), group), SmpError);
        assertEquals(e.code, "smp_malformed");
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      assertThrows(() => decodeSmpMessage(longer, group), SmpError);
    }
  });
}

Deno.test("proofHash() matches python-potr's SHA256(version || MPI...) values", () => {
  // Computed with potr: SHA256(struct.pack("B", v) + pack_mpi(...)).
  assertEquals(
    proofHash(modp1536, 1, 2n),
    bigintFromBytes(fromHex("7452ace7401c53700730b80516801e13c5a8c82fcb51a17df0d3fb4bf648b78d")),
  );
  assertEquals(
    proofHash(modp1536, 5, 4n, (1n << 1535n) + 12345n),
    bigintFromBytes(fromHex("77bf355997e031f45772fd9226a35024bfc2819421ec166aad284597939fe9d1")),
  );
});

Deno.test("encodeSmpMessage() writes the OTR v3 TLV payload after the TLV type", () => {
  // potr: SMP4TLV([1, 0, 0x0102]).getPayload()
  const bytes = encodeSmpMessage({ type: "SMP4", values: [1n, 0n, 0x0102n] }, modp1536);
  assertEquals(bytes, fromHex("05" + "00000003000000010100000000000000020102"));
  assertEquals(encodeSmpMessage(SMP_ABORT, modp1536), Uint8Array.of(6));
});

Deno.test("decodeSmpMessage() rejects unknown types, wrong counts, non-minimal and oversize", () => {
  const bad = [
    "",
    "07",
    "0600",
    "05" + "00000002" + "0000000101" + "0000000101",
    "05" + "00000003" + "000000020001" + "00000000" + "00000000",
    "05" + "00000003" + "00000021" + "01".repeat(33) + "00000000" + "00000000",
  ];
  for (const hex of bad) {
    const e = assertThrows(() => decodeSmpMessage(fromHex(hex), ristretto255Group), SmpError);
    assertEquals(e.code, "smp_malformed", hex);
  }
  const huge = new Uint8Array(100_000);
  huge[0] = 3;
  assertThrows(() => decodeSmpMessage(huge, modp1536), SmpError, "exceeds");
});

Deno.test("modp1536 accepts subgroup members and rejects 0, 1, p-1, p and non-members", () => {
  const p = MODP1536_PRIME;
  assertEquals(modp1536.decodeElement(2n, "x"), 2n);
  assertEquals(modp1536.decodeElement(4n, "x"), 4n);
  assertEquals(modp1536.exp(2n, MODP1536_ORDER), 1n);
  // p ≡ 7 (mod 8): -1 and -2 are non-residues, so p-2 is in range but not a member.
  for (const bad of [-1n, 0n, 1n, p - 2n, p - 1n, p, p + 1n, 1n << 1536n]) {
    const e = assertThrows(() => modp1536.decodeElement(bad, "x"), SmpError);
    assertEquals(e.code, "smp_bad_element");
  }
  const nonMember = (p - modp1536.exp(2n, 12345n)) % p; // -(member)
  assertThrows(() => modp1536.decodeElement(nonMember, "x"), SmpError, "subgroup");
});

Deno.test("ristretto255 decodes RFC 9496 vectors and rejects the identity and bad encodings", () => {
  // RFC 9496 Appendix A.1: multiples of the generator.
  const B = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";
  const B2 = "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919";
  const g = ristretto255Group;
  assert(g.equals(g.decodeElement(BigInt("0x" + B), "B"), g.generator));
  assertEquals(g.encodeElement(g.exp(g.generator, 2n)), BigInt("0x" + B2));
  assertEquals(g.order, RISTRETTO255_ORDER);
  const bad = [
    "00".repeat(32), // identity
    "ff".repeat(32), // s >= field prime
    // RFC 9496 Appendix A.2: non-canonical field encodings, negative s.
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000000",
  ];
  for (const hex of bad) {
    const e = assertThrows(() => g.decodeElement(BigInt("0x" + hex), "x"), SmpError);
    assertEquals(e.code, "smp_bad_element", hex);
  }
  for (const v of [-1n, 1n << 256n]) assertThrows(() => g.decodeElement(v, "x"), SmpError);
});

Deno.test("Smp property: the result is match exactly when the secrets are equal", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: RISTRETTO255_ORDER - 1n }),
      fc.bigInt({ min: 1n, max: RISTRETTO255_ORDER - 1n }),
      fc.boolean(),
      fc.string(),
      (x, y, same, seed) => {
        const [a, b] = pair(ristretto255Group, x, same ? x : y, seed);
        exchange(a!, b!);
        const expected = same || x === y ? "match" : "nomatch";
        return a!.result === expected && b!.result === expected;
      },
    ),
    { numRuns: 40 },
  );
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: MODP1536_ORDER - 1n }),
      fc.boolean(),
      fc.nat(),
      (x, same, seed) => {
        const [a, b] = pair(modp1536, x, same ? x : (x % (MODP1536_ORDER - 1n)) + 1n, String(seed));
        exchange(a!, b!);
        return a!.result === (same ? "match" : "nomatch") && a!.result === b!.result;
      },
    ),
    { numRuns: 6 },
  );
});

const ALICE_KEY = new Uint8Array(32).fill(0xa1);
const BOB_KEY = new Uint8Array(32).fill(0xb0);
const CONVERSATION = new Uint8Array(16).fill(0xc0);

Deno.test("smpSecret() binds the answer to both identity keys and the conversation", () => {
  for (const group of GROUPS) {
    const base = smpSecret("blue whale", ALICE_KEY, BOB_KEY, CONVERSATION, group);
    const variants = [
      smpSecret("blue whales", ALICE_KEY, BOB_KEY, CONVERSATION, group),
      smpSecret("blue whale", BOB_KEY, ALICE_KEY, CONVERSATION, group),
      smpSecret("blue whale", new Uint8Array(32).fill(0xa2), BOB_KEY, CONVERSATION, group),
      smpSecret("blue whale", ALICE_KEY, new Uint8Array(32).fill(0xb1), CONVERSATION, group),
      smpSecret("blue whale", ALICE_KEY, BOB_KEY, new Uint8Array(16).fill(0xc1), group),
      // Moving a byte between fields must not collide (length prefixes).
      smpSecret(
        "blue whale",
        ALICE_KEY.subarray(1),
        concat(ALICE_KEY.subarray(0, 1), BOB_KEY),
        CONVERSATION,
        group,
      ),
    ];
    assertEquals(new Set([base, ...variants]).size, variants.length + 1, group.name);
    for (const s of [base, ...variants]) assert(s >= 1n && s < group.order, group.name);
    assertEquals(smpSecret("blue whale", ALICE_KEY, BOB_KEY, CONVERSATION, group), base);
  }
  // The same answer gives unrelated secrets in the two groups.
  assertNotEquals(
    smpSecret("x", ALICE_KEY, BOB_KEY, CONVERSATION, modp1536) % RISTRETTO255_ORDER,
    smpSecret("x", ALICE_KEY, BOB_KEY, CONVERSATION, ristretto255Group),
  );
});

Deno.test("smpSecret() follows its documented derivation", () => {
  const field = (b: Uint8Array) => concat(fromHex(b.length.toString(16).padStart(8, "0")), b);
  const label = utf8(SMP_SECRET_LABEL);
  const transcript = concat(
    field(label),
    field(utf8("ristretto255")),
    field(ALICE_KEY),
    field(BOB_KEY),
    field(CONVERSATION),
    field(utf8("Café")),
  );
  const okm = hkdf(sha256, transcript, label, utf8("expand"), 48);
  const expected = (bigintFromBytes(okm) % (RISTRETTO255_ORDER - 1n)) + 1n;
  assertEquals(smpSecret(" Café\n", ALICE_KEY, BOB_KEY, CONVERSATION, ristretto255Group), expected);
});

Deno.test("smpSecret() normalises the answer with NFKC and trimming", () => {
  const s = (a: string) => smpSecret(a, ALICE_KEY, BOB_KEY, CONVERSATION, ristretto255Group);
  assertEquals(s("  Cafe\u0301 \t"), s("Café"));
  assertEquals(s("ﬁsh"), s("fish")); // compatibility ligature
  assertNotEquals(s("Café"), s("cafe"));
});

Deno.test("smpSecret() rejects empty answers and empty, oversized or non-byte fields", () => {
  const g = ristretto255Group;
  assertThrows(() => smpSecret("  \n", ALICE_KEY, BOB_KEY, CONVERSATION, g), RangeError, "empty");
  assertThrows(() => smpSecret("a".repeat(1025), ALICE_KEY, BOB_KEY, CONVERSATION, g), RangeError);
  assertThrows(() => smpSecret("a", new Uint8Array(0), BOB_KEY, CONVERSATION, g), RangeError);
  assertThrows(() => smpSecret("a", ALICE_KEY, new Uint8Array(257), CONVERSATION, g), RangeError);
  assertThrows(() => smpSecret("a", ALICE_KEY, BOB_KEY, new Uint8Array(0), g), RangeError);
  assertThrows(
    () => smpSecret("a", "key" as unknown as Uint8Array, BOB_KEY, CONVERSATION, g),
    TypeError,
  );
});

Deno.test("Smp with smpSecret: a relayed run between different sessions does not match", () => {
  // Mallory relays between Alice (who thinks she talks to Bob over session 1)
  // and Bob (who talks to Mallory's key over session 2).
  const g = ristretto255Group;
  const mallory = new Uint8Array(32).fill(0x66);
  const alice = smpSecret("our first pet", ALICE_KEY, BOB_KEY, CONVERSATION, g);
  const bob = smpSecret("our first pet", mallory, BOB_KEY, new Uint8Array(16).fill(2), g);
  const [a, b] = [new Smp(g, alice, seededRng("relay-a")), new Smp(g, bob, seededRng("relay-b"))];
  exchange(a, b);
  assertEquals([a.result, b.result], ["nomatch", "nomatch"]);
});
