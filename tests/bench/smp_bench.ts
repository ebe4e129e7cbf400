/**
 * Benchmarks of lib/crypto/smp: a full SMP run (SMP1 to SMP4, both sides,
 * every element validated and every proof checked) over ristretto255, the
 * group unMessage uses, and over OTR v3's 1536-bit MODP group (interop), plus
 * the secret derivation. Anchors (issue 2): python-potr about 420 ms per run,
 * the original unMessage 7.4 s; target under 25 ms over ristretto255. Run
 * with `deno task bench`.
 *
 * @module
 */

import { systemRng } from "../../lib/rng.ts";
import type { SmpGroup } from "../../lib/crypto/smp/group.ts";
import { modp1536 } from "../../lib/crypto/smp/modp.ts";
import { ristretto255Group } from "../../lib/crypto/smp/ristretto.ts";
import { smpSecret } from "../../lib/crypto/smp/secret.ts";
import { Smp } from "../../lib/crypto/smp/smp.ts";

const INITIATOR_KEY = new Uint8Array(32).fill(1);
const RESPONDER_KEY = new Uint8Array(32).fill(2);
const CONVERSATION_ID = new Uint8Array(32).fill(3);

/** One complete run between two fresh machines; throws unless both see a match. */
function fullRun<E>(group: SmpGroup<E>, secret: bigint): void {
  const alice = new Smp(group, secret, systemRng);
  const bob = new Smp(group, secret, systemRng);
  const m2 = bob.receive(alice.start())!;
  const m4 = bob.receive(alice.receive(m2)!)!;
  alice.receive(m4);
  if (alice.result !== "match" || bob.result !== "match") throw new Error("SMP run did not match");
}

for (const group of [ristretto255Group, modp1536] as SmpGroup<unknown>[]) {
  const secret = smpSecret("answer", INITIATOR_KEY, RESPONDER_KEY, CONVERSATION_ID, group);
  Deno.bench(`smp: full run over ${group.name} (both sides)`, { group: "smp" }, () => {
    fullRun(group, secret);
  });
}

Deno.bench("smp: smpSecret() over ristretto255", () => {
  smpSecret("answer", INITIATOR_KEY, RESPONDER_KEY, CONVERSATION_ID, ristretto255Group);
});
