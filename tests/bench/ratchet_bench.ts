/**
 * Benchmarks of lib/crypto/ratchet.ts. Issue 2's targets, where iter/s is
 * messages per second: one way (encrypt + decrypt, no DH step) at least
 * 12,000/s, ping-pong (every message a DH ratchet step) at least 2,500/s;
 * anchors libsignal 3,800 and 2,200, pyaxo 54,000 and 4,800. Also a
 * decryption that makes a DH ratchet step, an encryption that makes the
 * deferred sending step (spec §6.5), and a state save-and-reload through
 * JSON. Run with `deno task bench`.
 *
 * @module
 */

import { generateKeyPair } from "../../lib/crypto/keys.ts";
import {
  initAlice,
  initBob,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
} from "../../lib/crypto/ratchet.ts";
import { deserializeRatchetState, serializeRatchetState } from "../../lib/crypto/ratchet_state.ts";
import { systemRng } from "../../lib/rng.ts";

const SECRET = new Uint8Array(32).fill(1);
const AD = new Uint8Array(64).fill(2);
const KIB = new Uint8Array(1024).fill(3);
const LINE = new TextEncoder().encode(
  "a typical chat line of about sixty characters, give or take",
);
const NOW = 1_700_000_000_000;

function pair(
  _name: string,
): { alice: RatchetState; bob: RatchetState; rng: (n: number) => Uint8Array } {
  // the system CSPRNG, as in use (the deterministic test rng costs ~3 µs a call)
  const rng = systemRng;
  const bobKeys = generateKeyPair(rng);
  return { alice: initAlice(SECRET, bobKeys.publicKey, rng), bob: initBob(SECRET, bobKeys), rng };
} // deno-fmt-ignore

for (const [name, plaintext] of [["60-byte line", LINE], ["1 KiB", KIB]] as const) {
  let { alice, bob, rng } = pair(`one way ${name}`);
  Deno.bench(`ratchet one way: encrypt + decrypt a ${name} (msg/s = iter/s)`, { group: "chain", baseline: plaintext === LINE }, () => {
    const e = ratchetEncrypt(alice, plaintext, AD, rng);
    alice = e.state;
    bob = ratchetDecrypt(bob, e.message, AD, NOW).state;
  });
} // deno-fmt-ignore

{
  let { alice, bob, rng } = pair("ping-pong");
  // prime: Alice's first message lets Bob send
  const first = ratchetEncrypt(alice, LINE, AD, rng);
  alice = first.state;
  bob = ratchetDecrypt(bob, first.message, AD, NOW).state;
  let turn = 0;
  Deno.bench("ratchet ping-pong: one 60-byte message, each a DH ratchet step (msg/s = iter/s)", { group: "ping-pong" }, () => {
    // the turns alternate, so every encryption makes the deferred sending
    // step (new key pair + DH) and every decryption a receiving step (DH)
    if (turn++ % 2 === 0) {
      const e = ratchetEncrypt(bob, LINE, AD, rng);
      bob = e.state;
      alice = ratchetDecrypt(alice, e.message, AD, NOW).state;
    } else {
      const e = ratchetEncrypt(alice, LINE, AD, rng);
      alice = e.state;
      bob = ratchetDecrypt(bob, e.message, AD, NOW).state;
    }
  });
} // deno-fmt-ignore

{
  let { alice, bob, rng } = pair("dh step");
  Deno.bench("ratchet: decrypt 1 KiB with a DH ratchet step", { group: "dh" }, (b) => {
    // every turn starts a new chain, so each of Bob's decryptions ratchets
    const e = ratchetEncrypt(alice, KIB, AD, rng);
    b.start();
    bob = ratchetDecrypt(bob, e.message, AD, NOW).state;
    b.end();
    const reply = ratchetEncrypt(bob, KIB, AD, rng);
    bob = reply.state;
    alice = ratchetDecrypt(e.state, reply.message, AD, NOW).state;
  });
}

{
  let { alice, bob, rng } = pair("deferred");
  Deno.bench("ratchet: encrypt 1 KiB with the deferred sending step", { group: "dh" }, (b) => {
    const e = ratchetEncrypt(alice, KIB, AD, rng);
    bob = ratchetDecrypt(bob, e.message, AD, NOW).state;
    b.start();
    const reply = ratchetEncrypt(bob, KIB, AD, rng);
    b.end();
    bob = reply.state;
    alice = ratchetDecrypt(e.state, reply.message, AD, NOW).state;
  });
}

{
  let { alice, bob, rng } = pair("reload");
  for (let i = 0; i < 50; i++) alice = ratchetEncrypt(alice, KIB, AD, rng).state; // 50 lost
  const e = ratchetEncrypt(alice, KIB, AD, rng);
  bob = ratchetDecrypt(bob, e.message, AD, NOW).state; // 50 skipped keys
  Deno.bench("ratchet: save and reload a state with 50 skipped keys (JSON)", () => {
    deserializeRatchetState(JSON.parse(JSON.stringify(serializeRatchetState(bob))));
  });
}
