/**
 * The request policy (issue 8 item 5, issue 12 "requests that never end"):
 * a flood of signed requests from throw-away keys never pushes out a
 * genuine one and can be rejected in bulk; requests carry a signed creation
 * time and expire; a deleted contact's old request, replayed, stays dead;
 * our own requests expire, show so, and can be cancelled and sent again.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { fromBase64 } from "../lib/crypto/bytes.ts";
import { decodePublicKey, generateKeyPair } from "../lib/crypto/keys.ts";
import { generateOnionKey } from "../lib/crypto/onion.ts";
import { PeerError } from "../lib/peer/errors.ts";
import { createRequest } from "../lib/protocol/handshake.ts";
import {
  MAX_FLOOD_REQUESTS,
  MAX_REQUESTS_PER_WINDOW,
  REQUEST_TTL_MS,
  REQUEST_WINDOW_MS,
} from "../lib/peer/requests.ts";
import { is, TestNet, type TestPeer, WARNING_INTERVAL_MS } from "./_peer_harness.ts";
import { deliver, strangerRequest } from "./_requests.ts";
import { seededRng } from "./_rng.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** A clock the test moves by hand (starting at the real time). */
function testClock() {
  const clock = { offset: 0, now: () => Date.now() + clock.offset };
  return clock;
}

/** Sends `count` flood requests from fresh strangers to `to`. */
async function flood(to: TestPeer, count: number, seed: string, now?: number): Promise<void> {
  const rng = seededRng(seed);
  const packets = Array.from(
    { length: count },
    (_, i) => strangerRequest(to, `spam${i}`, rng, now),
  );
  await deliver(to, packets);
}

Deno.test("Peer: a flood of 100 signed requests neither evicts nor drops a genuine one; --flood and --all reject in bulk", async () => {
  const net = new TestNet("requests-flood");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const carol = await net.peer("carol");
    const id = alice.peer.identity();
    // bob's genuine request arrives before the flood, carol's after it
    await bob.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    await alice.waitFor(is("request-received", {}));
    const a = alice.mark();
    await flood(alice, 100, "flood-1");
    // the whole flood was handled (a stranger's requests are paced by the listener's lane)
    await alice.until(() => alice.peer.inboundRequests().some((r) => r.name === "spam99"));
    await carol.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    await alice.until(() => alice.peer.inboundRequests().some((r) => r.name === "carol"));
    const listed = alice.peer.inboundRequests();
    const pending = listed.filter((r) => r.flood !== true);
    const held = listed.filter((r) => r.flood === true);
    assertEquals(pending.length, MAX_REQUESTS_PER_WINDOW, "the rate bound admits 10 per window");
    assertEquals(pending[0]?.name, "bob", "the earlier genuine request stays pending");
    assertEquals(held.length, MAX_FLOOD_REQUESTS, "the newest 50 are held");
    assertEquals(held.at(-1)?.name, "carol", "the later genuine request is held, not dropped");
    // one warning for the whole flood, one event per pending request only
    assertEquals(alice.all("warning", a).filter((w) => w.code === "request_flood").length, 1);
    assertEquals(alice.all("request-received", a).length, MAX_REQUESTS_PER_WINDOW - 1);
    // the flood is never written to disk
    const file = await alice.store.loadRequests((v) => v as { inbound: unknown[] });
    assertEquals(file?.inbound.length, MAX_REQUESTS_PER_WINDOW);
    // carol can be accepted from the flood list and the conversation works
    await alice.peer.acceptRequest("carol");
    await carol.waitFor(is("conversation-established", { name: "alice" }));
    // bulk answers: the flood first, then everything else
    const rejected = await alice.peer.rejectRequest("--flood");
    assertEquals(rejected.length, MAX_FLOOD_REQUESTS - 1);
    assert(!rejected.includes("bob"));
    assertEquals(await alice.peer.rejectRequest("spam*"), [
      "spam0",
      "spam1",
      "spam2",
      "spam3",
      "spam4",
      "spam5",
      "spam6",
      "spam7",
      "spam8",
    ]);
    const e = await assertRejects(() => alice.peer.rejectRequest("nobody*"), PeerError);
    assertEquals(e.code, "unknown_request");
    assertEquals(await alice.peer.rejectRequest("--all"), ["bob"]);
    assertEquals(alice.peer.inboundRequests(), []);
    assertEquals(await alice.peer.rejectRequest("--all"), []);
    // re-sent copies of rejected requests stay rejected
    await bob.close();
    const r = bob.mark();
    await bob.open();
    // the request's one-shot connection: connected, written, closed
    const up = await bob.waitFor(is("connection", { name: "alice", state: "connected" }), r);
    await bob.waitFor(
      is("connection", { name: "alice", state: "disconnected" }),
      bob.events.indexOf(up),
    );
    assertEquals(alice.peer.inboundRequests(), []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: the rate window reopens, and pending requests stay at most 100", async () => {
  const net = new TestNet("requests-rate");
  const clock = testClock();
  try {
    const alice = await net.peer("alice", { peer: { now: clock.now } });
    for (let round = 1; round <= 11; round++) {
      await flood(alice, MAX_REQUESTS_PER_WINDOW, `rate-${round}`, clock.now());
      const want = round * MAX_REQUESTS_PER_WINDOW;
      await alice.until(() => alice.peer.inboundRequests().length === want);
      clock.offset += REQUEST_WINDOW_MS;
    }
    const listed = alice.peer.inboundRequests();
    assertEquals(listed.filter((r) => r.flood !== true).length, 100);
    assertEquals(listed.filter((r) => r.flood === true).length, MAX_REQUESTS_PER_WINDOW);
    assertEquals(listed[0]?.name, "spam0", "the first request is still pending");
    assertEquals(listed.filter((r) => r.flood === true)[0]?.name, "spam0-11");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: requests expire a week after their signed creation time; a far-future one is refused", async () => {
  const net = new TestNet("requests-expiry");
  const clock = testClock();
  try {
    const alice = await net.peer("alice", { peer: { now: clock.now } });
    const rng = seededRng("requests-expiry/strangers");
    const a = alice.mark();
    const old = strangerRequest(alice, "old", rng, clock.now() - REQUEST_TTL_MS - 1000);
    const future = strangerRequest(alice, "future", rng, clock.now() + 2 * DAY_MS);
    const fresh = strangerRequest(alice, "fresh", rng, clock.now() - DAY_MS);
    await deliver(alice, [old, future, fresh]);
    await alice.waitFor(is("request-received"), a);
    // the first at once, naming its sender; the second in the interval's count
    const dropped = () => alice.all("warning", a).filter((w) => w.code === "request_dropped");
    await alice.until(() => dropped().length === 2);
    const [first, then] = dropped();
    assertEquals(first?.reasons, { expired: 1 }, JSON.stringify(dropped()));
    assert(first?.message.includes("expired") && first.message.includes(".onion"), first?.message);
    assertEquals(then?.reasons, { dated_ahead: 1 });
    assert(then?.message.includes("future"), then?.message);
    assertEquals(alice.peer.inboundRequests().map((r) => r.name), ["fresh"]);
    // six days later it is gone, and cannot be accepted
    clock.offset += 6 * DAY_MS + 1000;
    assertEquals(alice.peer.inboundRequests(), []);
    const e = await assertRejects(() => alice.peer.acceptRequest("fresh"), PeerError);
    assertEquals(e.code, "unknown_request");
  } finally {
    await net.close();
  }
});

/**
 * A stranger controls a request's creation time, and a request dropped for
 * it is not remembered: replaying one expired request made a `warning`
 * event each time (a line each in the prompt), as the packets of nobody's
 * did before they were aggregated.
 */
Deno.test("Peer: an expired request replayed 200 times earns a few aggregated warnings", async () => {
  const REPLAYS = 200;
  const net = new TestNet("requests-dropped-flood");
  try {
    const alice = await net.peer("alice");
    const rng = seededRng("requests-dropped-flood/stranger");
    const old = strangerRequest(alice, "old", rng, Date.now() - REQUEST_TTL_MS - DAY_MS);
    const a = alice.mark();
    const start = performance.now();
    // on the few connections a stranger's requests share (a replay on each)
    await Promise.all([0, 1, 2, 3].map(() => deliver(alice, Array(REPLAYS / 4).fill(old))));
    const counted = () =>
      alice.all("warning", a)
        .filter((w) => w.code === "request_dropped")
        .reduce((n, w) => n + (w.count ?? 1), 0);
    await alice.until(() => counted() === REPLAYS, 30_000);
    // one at once, then one per interval while they come (and one for the last)
    const intervals = Math.ceil((performance.now() - start) / WARNING_INTERVAL_MS);
    const warnings = alice.all("warning", a);
    assert(warnings.length <= intervals + 2, `${warnings.length} warnings for ${REPLAYS} replays`);
    assert(warnings.every((w) => w.reasons?.expired !== undefined), JSON.stringify(warnings));
    assertEquals(alice.peer.inboundRequests(), []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a deleted contact's old request, replayed, does not come back; a new one does", async () => {
  const net = new TestNet("requests-tombstone");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const id = alice.peer.identity();
    await bob.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    // the packet as it went out (an eavesdropper on the onion service sees the same bytes)
    const book = await bob.store.loadRequests((v) => v as { outbound: { packet: string }[] });
    const replay = fromBase64(book!.outbound[0]!.packet);
    const a = alice.mark();
    const received = await alice.waitFor(is("request-received"), a);
    await alice.peer.acceptRequest(received.request.name);
    await bob.waitFor(is("conversation-established"));
    // another old request with bob's identity key, made before the conversation
    const rng = seededRng("requests-tombstone/old");
    const bobKey = decodePublicKey(bob.peer.identity().key);
    const older = createRequest({
      ownName: "bob",
      ownIdentity: { publicKey: bobKey, secretKey: generateKeyPair(rng).secretKey },
      onionKey: generateOnionKey(rng),
      port: 50001,
      peerIdentityKey: decodePublicKey(id.key),
      rng,
      now: Date.now() - 60_000,
    }).packet;
    await alice.peer.deleteConversation("bob");
    const d = alice.mark();
    await deliver(alice, [replay, older]);
    await alice.waitFor((e) => e.event === "warning" && e.code === "request_dropped", d);
    assertEquals(
      alice.peer.inboundRequests(),
      [],
      "neither the replay nor the older one is listed",
    );
    const file = await alice.store.loadRequests((v) => v as { tombstones: unknown[] });
    assertEquals(file?.tombstones.length, 1);
    // tombstones survive a restart
    await alice.close();
    await alice.open();
    const r = alice.mark();
    await deliver(alice, [replay, older]);
    await alice.waitFor((e) => e.event === "warning" && e.code === "request_dropped", r);
    assertEquals(alice.peer.inboundRequests(), []);
    // bob deletes his side too and asks again: a new request is listed
    await bob.peer.deleteConversation("alice");
    const n = alice.mark();
    await bob.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    await alice.waitFor(is("request-received"), n);
    assertEquals(alice.peer.inboundRequests().map((r) => r.name), ["bob"]);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: our request expires unanswered, shows so, can be sent again or cancelled", async () => {
  const net = new TestNet("requests-out");
  const clock = testClock();
  try {
    const alice = await net.peer("alice", { peer: { now: clock.now } });
    const bob = await net.peer("bob", { peer: { now: clock.now } });
    const id = bob.peer.identity();
    const address = `bob@${id.onion}:${id.port}`;
    const b = bob.mark();
    await alice.peer.sendRequest(address, id.key);
    await bob.waitFor(is("request-received"), b);
    await bob.peer.rejectRequest("alice"); // nothing tells alice
    assertEquals(alice.peer.outboundRequests()[0]?.expired, undefined);
    const again = await assertRejects(() => alice.peer.sendRequest(address, id.key), PeerError);
    assert(again.message.includes("req-cancel bob"), again.message);
    clock.offset += REQUEST_TTL_MS + 1000;
    assertEquals(alice.peer.outboundRequests().map((r) => [r.name, r.expired]), [["bob", true]]);
    // an expired request is not re-sent at start
    const a = alice.mark();
    await alice.close();
    await alice.open();
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(alice.all("connection", a).filter((e) => e.name === "bob"), []);
    // sent again: a fresh request replaces it, and bob sees it (a new request key)
    const b2 = bob.mark();
    await alice.peer.sendRequest(address, id.key);
    assertEquals(alice.peer.outboundRequests().map((r) => [r.name, r.expired]), [[
      "bob",
      undefined,
    ]]);
    await bob.waitFor(is("request-received"), b2);
    // cancel: gone from the list, the same key can be asked once more
    await alice.peer.cancelRequest("bob");
    assertEquals(alice.peer.outboundRequests(), []);
    const e = await assertRejects(() => alice.peer.cancelRequest("bob"), PeerError);
    assertEquals(e.code, "unknown_request");
    assert(e.message.includes("reqs-out"), e.message);
    // delete says what to do with a request, and knows no one else, before changing anything
    await alice.peer.sendRequest(address, id.key);
    const d = await assertRejects(() => alice.peer.deleteConversation("bob"), PeerError);
    assert(d.message.includes("req-cancel bob"), d.message);
    const none = await assertRejects(
      () => Promise.resolve().then(() => alice.peer.checkConversation("nobody")),
      PeerError,
    );
    assertEquals(none.code, "unknown_peer");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a stranger who fills the rate window first cannot make --flood reject a genuine request for good", async () => {
  const net = new TestNet("requests-flood-timing");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const id = alice.peer.identity();
    // ten requests a window are enough to make every later one a flood request
    await flood(alice, MAX_REQUESTS_PER_WINDOW, "timing");
    await alice.until(() => alice.peer.inboundRequests().length === MAX_REQUESTS_PER_WINDOW);
    await bob.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    await alice.until(() => alice.peer.inboundRequests().some((r) => r.name === "bob"));
    const listed = alice.peer.inboundRequests();
    assertEquals(listed.find((r) => r.name === "bob")?.flood, true, "bob's request is held");
    assertEquals(listed.filter((r) => r.flood !== true).length, MAX_REQUESTS_PER_WINDOW);
    // the user does what the warning says: reject the flood
    assertEquals(await alice.peer.rejectRequest("--flood"), ["bob"]);
    // bob's next start sends it again: it is listed again, not dropped as rejected
    await bob.close();
    await bob.open();
    await alice.until(() => alice.peer.inboundRequests().some((r) => r.name === "bob"));
    // a request rejected by its name stays rejected
    await alice.peer.rejectRequest("bob");
    const r = bob.mark();
    await bob.close();
    await bob.open();
    const up = await bob.waitFor(is("connection", { name: "alice", state: "connected" }), r);
    await bob.waitFor(
      is("connection", { name: "alice", state: "disconnected" }),
      bob.events.indexOf(up),
    );
    assert(!alice.peer.inboundRequests().some((x) => x.name === "bob"));
  } finally {
    await net.close();
  }
});

Deno.test("Peer: an old request of a contact, pending when the conversation is deleted, cannot revive it", async () => {
  const net = new TestNet("requests-tombstone-pending");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const id = alice.peer.identity();
    await bob.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    const received = await alice.waitFor(is("request-received"));
    await alice.peer.acceptRequest(received.request.name);
    await bob.waitFor(is("conversation-established"));
    // an older request with bob's key (one he cancelled, delivered late or replayed by an
    // eavesdropper) arrives while the conversation exists: it waits, it cannot be accepted
    const rng = seededRng("requests-tombstone-pending/old");
    const older = createRequest({
      ownName: "bob",
      ownIdentity: {
        publicKey: decodePublicKey(bob.peer.identity().key),
        secretKey: generateKeyPair(rng).secretKey,
      },
      onionKey: generateOnionKey(rng),
      port: 50001,
      peerIdentityKey: decodePublicKey(id.key),
      rng,
      now: Date.now() - 60_000,
    }).packet;
    await deliver(alice, [older]);
    await alice.until(() => alice.peer.inboundRequests().length === 1);
    // deleting the conversation takes it along: it is as old as the conversation's request
    await alice.peer.deleteConversation("bob");
    assertEquals(alice.peer.inboundRequests(), [], "the old request can still be accepted");
    const file = await alice.store.loadRequests((v) => v as { inbound: unknown[] });
    assertEquals(file?.inbound, []);
  } finally {
    await net.close();
  }
});
