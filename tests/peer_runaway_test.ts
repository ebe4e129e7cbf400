/**
 * The ratchet runaway (issue 8 item 1): a contact's listener that accepts
 * every connection and closes it at once (as a full listener does) must
 * not make the sender re-seal its pending messages on every dial. Before
 * the fix, each dial "succeeded", the outbox was sealed again with new
 * ratchet steps and saved, and the link redialled at once: after about
 * MAX_SKIP re-seals the receiver refused the conversation for good.
 *
 * The dials are driven with a back-off of a few milliseconds instead of a
 * clock: the run lasts until the sender has dialled {@linkcode DIALS}
 * times, which at the default 30 s ceiling of the back-off would take
 * hours. Then the contact is reachable again, and the conversation must
 * still work both ways, with the number of seals bounded by what was
 * queued, not by the number of dials.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { MAX_SKIP } from "../lib/crypto/ratchet.ts";
import { connect, is, onConversationSave, TestNet } from "./_peer_harness.ts";

/** Dials into the closing listener: far more re-seals than MAX_SKIP on the old code. */
const DIALS = 1200;
/** Messages queued while the contact's listener closes everything. */
const QUEUED = 5;
/** Where the closing listener is registered on the test network. */
const FULL_HOST = "full.onion";

/** A loopback listener that accepts every connection and closes it at once. */
function closingListener(): { port: number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  void (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch {
      // closed
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

Deno.test("Peer: a listener that accepts and closes for hours of dials does not run the ratchet away", async () => {
  const net = new TestNet("runaway");
  let dials = 0;
  let saves = 0;
  let blocked = false;
  const full = closingListener();
  net.transport.setPort(FULL_HOST, full.port);
  // while blocked, alice's dials reach the closing listener instead of bob's
  const counting = (base: Transport): Transport => ({
    connect: (address: PeerAddress, key: string, signal?: AbortSignal) => {
      dials++;
      return base.connect(blocked ? { ...address, host: FULL_HOST } : address, key, signal);
    },
  });
  try {
    const alice = await net.peer("alice", {
      transport: counting,
      wrapStore: onConversationSave((_, next) => (saves++, next())),
      peer: { backoff: { minMs: 1, maxMs: 4 } },
    });
    // bob's keep-alives (which would reset alice's sending chain) as rarely as by default
    const bob = await net.peer("bob", { peer: { keepaliveMs: 60_000 } });
    await connect(alice, bob);
    // bob's listener is "full": every connection alice makes is accepted and closed;
    // bob restarts, so that none of alice's connections to him is left
    blocked = true;
    await bob.close();
    await bob.open();
    const sealsBefore = saves;
    const dialsBefore = dials;
    const ids: string[] = [];
    for (let i = 0; i < QUEUED; i++) ids.push((await alice.peer.sendMessage("bob", `m${i}`)).id);
    await alice.until(() => dials - dialsBefore >= DIALS, 120_000);
    const sealed = saves - sealsBefore;
    // one save per queued message, one per seal: each entry once, plus a probe or two
    assert(sealed <= 2 * QUEUED + 4, `${sealed} saves for ${dials - dialsBefore} dials`);
    assert(sealed < MAX_SKIP / 10, "the saves are bounded by the messages, not the dials");
    // bob's listener has room again: everything arrives, once, and both ways work
    const a = alice.mark();
    const b = bob.mark();
    blocked = false;
    for (const id of ids) await alice.waitFor(is("delivered", { id }), a, 30_000);
    assertEquals(
      bob.all("message", b).map((m) => m.text),
      ids.map((_, i) => `m${i}`),
    );
    const back = await bob.peer.sendMessage("alice", "still there");
    await bob.waitFor(is("delivered", { id: back.id }), b);
    const again = await alice.peer.sendMessage("bob", "and again");
    await alice.waitFor(is("delivered", { id: again.id }), a);
    assertEquals(alice.all("message", a).map((m) => m.text), ["still there"]);
  } finally {
    full.close();
    await net.close();
  }
});
