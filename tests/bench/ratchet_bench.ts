/**
 * Benchmarks of lib/crypto/ratchet.ts: a 1 KiB message through one chain
 * (encrypt + decrypt, no DH), a decryption that makes a DH ratchet step, an
 * encryption that makes the deferred sending step (spec §6.5), and a state
 * save-and-reload through JSON. Run with `deno task bench`.
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
import { seededRng } from "../_rng.ts";

const SECRET = new Uint8Array(32).fill(1);
const AD = new Uint8Array(64).fill(2);
const KIB = new Uint8Array(1024).fill(3);
const NOW = 1_700_000_000_000;

function pair(
  seed: string,
): { alice: RatchetState; bob: RatchetState; rng: (n: number) => Uint8Array } {
  const rng = seededRng(seed);
  const bobKeys = generateKeyPair(rng);
  return { alice: initAlice(SECRET, bobKeys.publicKey, rng), bob: initBob(SECRET, bobKeys), rng };
} // deno-fmt-ignore

{
  let { alice, bob, rng } = pair("chain");
  Deno.bench("ratchet: encrypt + decrypt 1 KiB in one chain", { group: "chain", baseline: true }, () => {
    const e = ratchetEncrypt(alice, KIB, AD, rng);
    alice = e.state;
    bob = ratchetDecrypt(bob, e.message, AD, NOW).state;
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
