/**
 * Unit tests of the messenger core's pure parts: identity addresses and
 * names, "did you mean", the bounded set of received IDs, the persisted
 * records' validation, and the SMP session rules (match, mismatch,
 * simultaneous start, malformed input, abort, reset, and a failed run after
 * a match dropping the level).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import { generateOnionKey } from "../lib/crypto/onion.ts";
import { AuthSession } from "../lib/peer/auth.ts";
import {
  checkContactName,
  DEFAULT_ONION_PORT,
  parseIdentityAddress,
  sanitizeSuggestedName,
} from "../lib/peer/address.ts";
import { closestName, PeerError } from "../lib/peer/errors.ts";
import { SEEN_BLOCK, SeenIds } from "../lib/peer/seen_ids.ts";
import { requestsFromJson } from "../lib/peer/records.ts";
import { seededRng } from "./_rng.ts";
import { party, request, REQUEST_TIME } from "./_handshake_fixtures.ts";
import { dispatchRequest } from "./_dispatch.ts";
import { serializeInboundRequest } from "../lib/protocol/handshake_state.ts";

const rng = seededRng("peer-units");
const onion = generateOnionKey(rng).address;

Deno.test("parseIdentityAddress() accepts name@address[.onion][:port] and fills the default port", () => {
  assertEquals(parseIdentityAddress(`bob@${onion}.onion:5`), { name: "bob", onion, port: 5 });
  assertEquals(parseIdentityAddress(` bob@${onion.toUpperCase()} `), {
    name: "bob",
    onion,
    port: DEFAULT_ONION_PORT,
  });
});

Deno.test("parseIdentityAddress() rejects every malformed address with a typed error", () => {
  for (
    const bad of [
      "",
      "bob",
      `${onion}.onion`,
      `bob@${onion}:`,
      `bob@${onion}:x`,
      `bob@${onion}:123456`,
      `bob@${onion.slice(0, -1)}1`,
      "bob@example.com",
      `b\u0000b@${onion}`,
    ]
  ) {
    assertThrows(() => parseIdentityAddress(bad), PeerError);
  }
});

Deno.test("checkContactName() refuses spaces, controls, @ and overlong names; suggestions are sanitised", () => {
  assertEquals(checkContactName("élodie"), "élodie");
  for (const bad of ["", "a b", "a@b", "a\nb", "x".repeat(65)]) {
    assertThrows(() => checkContactName(bad), PeerError);
  }
  assertEquals(sanitizeSuggestedName("Bob Smith"), "Bob_Smith");
});

Deno.test("closestName() suggests a near name or a prefix, and nothing far", () => {
  assertEquals(closestName("bbo", ["alice", "bob"]), "bob");
  assertEquals(closestName("ali", ["alice", "bob"]), "alice");
  assertEquals(closestName("zed", ["alice", "bob"]), undefined);
});

Deno.test("SeenIds keeps the newest IDs up to its bound, dropping the oldest block of 64", () => {
  const id = (i: number) => i.toString(16).padStart(32, "0");
  const seen = new SeenIds();
  for (let i = 0; i < SeenIds.MAX; i++) seen.add(id(i));
  assertEquals(seen.size, SeenIds.MAX);
  seen.add(id(0)); // known: keeps its place
  assertEquals(seen.size, SeenIds.MAX);
  for (let i = SeenIds.MAX; i < SeenIds.MAX + 10; i++) seen.add(id(i));
  assertEquals(seen.size, SeenIds.MAX + 10 - SEEN_BLOCK);
  assert(!seen.has(id(0)) && !seen.has(id(SEEN_BLOCK - 1)));
  assert(seen.has(id(SEEN_BLOCK)) && seen.has(id(SeenIds.MAX + 9)));
});

Deno.test("SeenIds saves only the blocks that changed, and all of them after a failed save", () => {
  const id = (i: number) => i.toString(16).padStart(32, "0");
  const seen = new SeenIds();
  for (let i = 0; i < 70; i++) seen.add(id(i));
  const first = seen.changes();
  assertEquals(first.put.map(([n, ids]) => [n, ids.length]), [[0, 64], [1, 6]]);
  assertEquals(first.delete, []);
  seen.add(id(70));
  assertEquals(seen.changes().put.map(([n, ids]) => [n, ids.length]), [[1, 7]]);
  assertEquals(seen.changes(), { put: [], delete: [] }); // nothing new
  seen.unsaved();
  assertEquals(seen.changes().put.map(([n]) => n), [0, 1]);
  // the window as a save wrote it reloads marked saved, numbered the same
  const again = SeenIds.fromBlocks([[1, seen.toArray().slice(64)], [
    0,
    seen.toArray().slice(0, 64),
  ]]);
  assertEquals(again.toArray(), seen.toArray());
  assert(again.saved);
  again.add(id(71));
  assertEquals(again.changes().put.map(([n]) => n), [1]);
  // eviction deletes whole blocks
  for (let i = 72; i < SeenIds.MAX + 80; i++) again.add(id(i));
  const evicted = again.changes();
  assertEquals(evicted.delete, [0, 1]);
  assertEquals(SeenIds.fromBlocks([[0, [id(1)]], [2, [id(2)]]]).saved, false);
});

Deno.test("requestsFromJson() rejects unknown fields and versions", () => {
  assertEquals(
    requestsFromJson({ version: 1, outbound: [], inbound: [], rejected: [] }).inbound,
    [],
  );
  assertThrows(() => requestsFromJson({ version: 2, outbound: [], inbound: [], rejected: [] }));
  assertThrows(() =>
    requestsFromJson({ version: 1, outbound: [], inbound: [], rejected: [], x: 1 })
  );
  assertThrows(() => requestsFromJson({ version: 1, outbound: [{}], inbound: [], rejected: [] }));
});

Deno.test("requestsFromJson() loads an inbound request stored before requests carried a creation time", () => {
  const rng = seededRng("requests-created-at");
  const bob = party("bob", rng);
  const alice = party("alice", rng);
  const inbound = dispatchRequest(request(bob, alice, rng).packet, alice.identity)!;
  const { createdAt: _, ...old } = serializeInboundRequest(inbound);
  const receivedAt = 1_690_000_000_000;
  const book = requestsFromJson({
    version: 1,
    outbound: [],
    inbound: [{ name: "bob", at: receivedAt, state: old }],
    rejected: [],
  });
  assertEquals(book.inbound[0]!.state.createdAt, receivedAt);
  assertEquals(book.inbound[0]!.state.identityKey, bob.identity.publicKey);
  // a present creation time is kept as stored
  const kept = requestsFromJson({
    version: 1,
    outbound: [],
    inbound: [{ name: "bob", at: receivedAt, state: serializeInboundRequest(inbound) }],
    rejected: [],
  });
  assertEquals(kept.inbound[0]!.state.createdAt, REQUEST_TIME);
});

/** Runs messages between two sessions until neither has anything to send. */
function pump(a: AuthSession, b: AuthSession, first: Uint8Array[], from: "a" | "b") {
  const statuses = { a: [] as string[], b: [] as string[], levelChanged: [] as string[] };
  let queue = first.map((m) => ({ to: from === "a" ? "b" : "a", m }));
  for (let i = 0; i < 20 && queue.length > 0; i++) {
    const next: typeof queue = [];
    for (const { to, m } of queue) {
      const step = (to === "a" ? a : b).receive(m);
      statuses[to as "a" | "b"].push(...step.statuses.map((s) => s.status));
      if (step.levelChanged) statuses.levelChanged.push(to);
      for (const out of step.send) next.push({ to: to === "a" ? "b" : "a", m: out });
    }
    queue = next;
  }
  return statuses;
}

function pair() {
  const ka = generateKeyPair(rng).publicKey;
  const kb = generateKeyPair(rng).publicKey;
  const id = rng(32);
  return [new AuthSession(ka, kb, id, rng), new AuthSession(kb, ka, id, rng)] as const;
}

Deno.test("AuthSession: equal secrets match on both sides, different ones do not", () => {
  const [a, b] = pair();
  const start = a.start("secret");
  const s1 = pump(a, b, start.send, "a");
  assertEquals(s1.b, ["requested"]);
  assert(b.requested);
  const answer = b.start(" secret ");
  const s2 = pump(a, b, answer.send, "b");
  assert(a.authenticated && b.authenticated, JSON.stringify(s2));
  assertEquals(s2.a, ["match"]);
  const [c, d] = pair();
  pump(c, d, c.start("one").send, "a");
  const s3 = pump(c, d, d.start("two").send, "b");
  assertEquals(s3.a, ["nomatch"]);
  assert(!c.authenticated && !d.authenticated);
});

Deno.test("AuthSession: simultaneous starts leave one initiator and still match", () => {
  const [a, b] = pair();
  const sa = a.start("same").send;
  const sb = b.start("same").send;
  const fromA = pump(a, b, sa, "a");
  const fromB = pump(a, b, sb, "b");
  assert(a.authenticated && b.authenticated, JSON.stringify({ fromA, fromB }));
});

/** Delivers every message in `queue` (each to its side) until none is left. */
function exchange(a: AuthSession, b: AuthSession, queue: { to: "a" | "b"; m: Uint8Array }[]) {
  const statuses = { a: [] as string[], b: [] as string[] };
  for (let i = 0; i < 40 && queue.length > 0; i++) {
    const { to, m } = queue.shift()!;
    const step = (to === "a" ? a : b).receive(m);
    statuses[to].push(...step.statuses.map((s) => s.status));
    for (const out of step.send) queue.push({ to: to === "a" ? "b" : "a", m: out });
  }
  return statuses;
}

/** A pair ordered by identity key: `low` stays initiator when both start. */
function orderedPair() {
  const ka = generateKeyPair(rng).publicKey;
  const kb = generateKeyPair(rng).publicKey;
  const [low, high] = Buffer.compare(ka, kb) < 0 ? [ka, kb] : [kb, ka];
  const id = rng(32);
  const session = (own: Uint8Array, peer: Uint8Array) => new AuthSession(own, peer, id, rng);
  return { low: session(low, high), high: session(high, low), restart: () => session(high, low) };
}

Deno.test("AuthSession: starts that cross on the wire still match (each SMP1 in flight at once)", () => {
  const { low, high } = orderedPair();
  const fromLow = low.start("same").send.map((m) => ({ to: "b" as const, m }));
  const fromHigh = high.start("same").send.map((m) => ({ to: "a" as const, m }));
  const statuses = exchange(low, high, [...fromLow, ...fromHigh]);
  assert(low.authenticated && high.authenticated, JSON.stringify(statuses));
  assertEquals(statuses.a.filter((s) => s === "aborted"), []);
  assertEquals(statuses.b.filter((s) => s === "aborted"), []);
});

Deno.test("AuthSession: a contact that restarted mid-run and starts again is answered, not left waiting", () => {
  const { low, restart } = orderedPair();
  // low's SMP1 reached the contact's old run, which the contact's restart lost
  low.start("same");
  const high = restart();
  const fromHigh = high.start("same").send.map((m) => ({ to: "a" as const, m }));
  const statuses = exchange(low, high, fromHigh);
  assert(low.authenticated && high.authenticated, JSON.stringify(statuses));
});

Deno.test("AuthSession: malformed data aborts (telling the peer), an ABORT ends the run, reset drops the level", () => {
  const [a, b] = pair();
  const step = a.receive(new Uint8Array([1, 2, 3]));
  assertEquals(step.statuses.map((s) => s.status), ["aborted"]);
  assertEquals(step.send.length, 1);
  a.start("x");
  assertEquals(b.receive(step.send[0]!).statuses, []); // an ABORT outside a run is ignored
  const aborted = a.receive(step.send[0]!); // step.send[0] is an ABORT
  assertEquals(aborted.statuses.map((s) => s.status), ["aborted"]);
  const [c, d] = pair();
  pump(c, d, c.start("s").send, "a");
  pump(c, d, d.start("s").send, "b");
  assert(c.authenticated);
  assertEquals(c.reset(), { levelChanged: true, aborted: false });
  assert(!c.authenticated);
  assertThrows(() => c.start(""), PeerError);
});

/** A pair of sessions that matched once. */
function authenticatedPair() {
  const [a, b] = pair();
  pump(a, b, a.start("first").send, "a");
  pump(a, b, b.start("first").send, "b");
  assert(a.authenticated && b.authenticated);
  return [a, b] as const;
}

Deno.test("AuthSession: a failed run after a match drops the level on both sides (nomatch)", () => {
  const [a, b] = authenticatedPair();
  const start = a.start("second");
  pump(a, b, start.send, "a");
  const answer = b.start("other");
  const { levelChanged } = pump(a, b, answer.send, "b");
  assert(!a.authenticated && !b.authenticated);
  assertEquals(levelChanged.sort(), ["a", "b"]);
});

Deno.test("AuthSession: an aborted or malformed run after a match drops the level", () => {
  const [a, b] = authenticatedPair();
  a.start("again");
  const abort = b.receive(new Uint8Array([9, 9])); // malformed: b aborts and tells a
  assertEquals(abort.statuses.map((s) => s.status), ["aborted"]);
  assert(abort.levelChanged && !b.authenticated);
  const told = a.receive(abort.send[0]!); // the ABORT ends a's run
  assertEquals(told.statuses.map((s) => s.status), ["aborted"]);
  assert(told.levelChanged && !a.authenticated);
  // no run and not authenticated: a stray ABORT changes nothing
  assertEquals(a.receive(abort.send[0]!).levelChanged, false);
  // a failure while not authenticated reports no level change
  const [c] = pair();
  assertEquals(c.receive(new Uint8Array([1])).levelChanged, false);
});
