/**
 * A conversation's parts in the store (lib/peer/stored_parts.ts,
 * stored_conversation.ts, block_window.ts): every field of a record comes
 * back from its head and parts; a save after a change writes only the
 * parts that changed (an inbox entry, a sealed outbox entry, the last
 * block of digests), and the head only when a field other than
 * `lastActive` changed or `lastActive` moved by a second; digests and
 * received IDs fall out a block at a time; a first-layout file without the
 * newer fields still loads.
 *
 * @module
 */

import { toHex } from "../lib/crypto/bytes.ts";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import { generateOnionKey } from "../lib/crypto/onion.ts";
import { RatchetState } from "../lib/crypto/ratchet_state.ts";
import { LAST_ACTIVE_STEP_MS } from "../lib/peer/records.ts";
import type { ConversationRecord } from "../lib/peer/records.ts";
import { ReceivedDigests, SEEN_BLOCK, SeenIds } from "../lib/peer/seen_ids.ts";
import { conversationFromStore, conversationToStore } from "../lib/peer/stored_conversation.ts";
import { makeConversation, serializeConversation } from "../lib/protocol/handshake_state.ts";
import type { PartChanges } from "../lib/store/peer_store.ts";
import { assert, assertEquals } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

const rng = seededRng("peer-stored-parts");
const hex = (n: number, bytes = 16) => n.toString(16).padStart(2 * bytes, "0");

function record(): ConversationRecord {
  const own = generateKeyPair(rng);
  const id = rng(16);
  const ratchet = new RatchetState({
    dhs: generateKeyPair(rng),
    dhr: generateKeyPair(rng).publicKey,
    rk: rng(32),
    cks: rng(32),
    ckr: rng(32),
    hks: rng(32),
    hkr: rng(32),
    nhks: rng(32),
    nhkr: rng(32),
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  });
  return {
    fileId: "aa01",
    name: "bob",
    onion: generateOnionKey(rng).address,
    port: 50001,
    verified: false,
    presence: true,
    createdAt: 1_700_000_000_000,
    requestKey: null,
    session: makeConversation({
      role: "alice",
      ownIdentityKey: own.publicKey,
      peerIdentityKey: generateKeyPair(rng).publicKey,
      conversationId: rng(32),
      ratchet,
      established: true,
      handshakePublicKey: null,
      sharedRequestKey: null,
      peerHandshakeKey: null,
    }),
    outbox: [{ id, key: toHex(id), body: { type: "message", text: "hi" }, at: 1_700_000_000_001 }],
    seen: new SeenIds([hex(1), hex(2)]),
    inbox: [{ id: hex(3), text: "not shown yet", at: 1_700_000_000_002 }],
    digests: new ReceivedDigests([[hex(7), hex(3)]]),
    lastActive: 1_700_000_000_002,
  };
}

/** A store of one conversation's head and parts, as PeerStore keeps them. */
class Parts {
  head: unknown;
  readonly parts = new Map<string, string>();

  apply(head: unknown, changes: PartChanges): void {
    if (head !== undefined) this.head = JSON.parse(JSON.stringify(head));
    if (changes.replace) this.parts.clear();
    for (const name of changes.delete ?? []) this.parts.delete(name);
    for (const [name, value] of changes.put ?? []) this.parts.set(name, JSON.stringify(value));
  }

  load(): ConversationRecord {
    return conversationFromStore("aa01", this.head, {
      names: [...this.parts.keys()].sort(),
      text: (name) => this.parts.get(name),
    }, 0);
  }
}

Deno.test("a record comes back whole from its head and parts: outbox sealed, inbox, digests, lastActive", () => {
  const r = record();
  r.outbox[0]!.sealed = [rng(512)];
  const store = new Parts();
  const { head, parts } = conversationToStore(r, 0);
  store.apply(head, parts);
  assertEquals([...store.parts.keys()].sort(), [
    "d/0000000000",
    "i/0000000000",
    "o/0000000000",
    "r",
    "s/0000000000",
  ]);
  const back = store.load();
  assertEquals(back.name, "bob");
  assertEquals(back.lastActive, r.lastActive);
  assertEquals(back.outbox, r.outbox);
  assertEquals(back.inbox, r.inbox);
  assertEquals(back.seen.toArray(), r.seen.toArray());
  assertEquals(back.digests.toArray(), r.digests.toArray());
  assertEquals(serializeConversation(back.session), serializeConversation(r.session));
});

Deno.test("a save writes only the parts that changed, and the head only when it changed", () => {
  const store = new Parts();
  const first = conversationToStore(record(), 0);
  store.apply(first.head, first.parts);
  const r = store.load();
  const next = () => {
    const saved = conversationToStore(r, 0);
    store.apply(saved.head, saved.parts);
    return { head: saved.head, put: [...saved.parts.put ?? []].map(([n]) => n).sort(), saved };
  };
  // nothing read, nothing changed: nothing written
  assertEquals(next().put, []);
  // a new inbox entry and its digest; lastActive within the same second: no head
  r.inbox = [...r.inbox, { id: hex(4), text: "second", at: r.lastActive + 1 }];
  r.digests.add(hex(8), hex(4));
  r.lastActive += 1;
  const a = next();
  assertEquals(a.put, ["d/0000000000", "i/0000000001"]);
  assertEquals(a.head, undefined);
  // sealing the outbox entry rewrites that entry only; a second later the head too
  r.outbox[0]!.sealed = [rng(512)];
  r.lastActive += LAST_ACTIVE_STEP_MS;
  const b = next();
  assertEquals(b.put, ["o/0000000000"]);
  assert(b.head !== undefined, "lastActive moved a second: the head is written");
  // shown: out of the inbox (its part removed), into seen
  r.inbox = r.inbox.filter((e) => e.id !== hex(3));
  r.seen.add(hex(3));
  const c = next();
  assertEquals(c.put, ["s/0000000000"]);
  assertEquals([...c.saved.parts.delete ?? []], ["i/0000000000"]);
  const back = store.load();
  assertEquals(back.inbox.map((e) => e.id), [hex(4)]);
  assertEquals(back.digests.get(hex(8)), hex(4));
  assertEquals(back.outbox[0]!.sealed, r.outbox[0]!.sealed);
});

Deno.test("digests persist in blocks: only the last is written, the oldest fall out a block at a time", () => {
  const digests = new ReceivedDigests();
  for (let i = 0; i < 3 * SEEN_BLOCK; i++) digests.add(hex(i, 16), hex(i, 16));
  assertEquals(digests.changes().put.map(([n, pairs]) => [n, pairs.length]), [
    [0, SEEN_BLOCK],
    [1, SEEN_BLOCK],
    [2, SEEN_BLOCK],
  ]);
  digests.add(hex(10_000), hex(1));
  assertEquals(digests.changes().put.map(([n]) => n), [3]);
  // a known digest keeps its place and its element
  digests.add(hex(0), hex(99));
  assertEquals(digests.get(hex(0)), hex(0));
  assertEquals(digests.changes(), { put: [], delete: [] });
  const full = new ReceivedDigests();
  for (let i = 0; i < ReceivedDigests.MAX + 1; i++) full.add(hex(i), hex(i));
  assertEquals(full.size, ReceivedDigests.MAX + 1 - SEEN_BLOCK);
  assertEquals(full.get(hex(0)), undefined);
  assertEquals(full.get(hex(SEEN_BLOCK)), hex(SEEN_BLOCK));
  // rebuilt from its blocks, it is as saved
  const again = ReceivedDigests.fromBlocks(full.changes().put);
  assertEquals(again.toArray(), full.toArray());
  assert(again.saved);
});

Deno.test("a head without lastActive counts from createdAt; a first-layout file needs no inbox or digests", () => {
  const r = record();
  const { head, parts } = conversationToStore(r, 0);
  const store = new Parts();
  store.apply(head, parts);
  const { lastActive: _, ...older } = store.head as Record<string, unknown>;
  store.head = older;
  assertEquals(store.load().lastActive, r.createdAt);
  const v1 = {
    version: 1,
    name: "bob",
    onion: r.onion,
    port: 50001,
    verified: false,
    presence: false,
    createdAt: r.createdAt,
    requestKey: null,
    session: serializeConversation(r.session),
    outbox: [],
    seen: [hex(1)],
  };
  const loaded = conversationFromStore("aa01", v1, { names: [], text: () => undefined }, 0);
  assertEquals(loaded.inbox, []);
  assertEquals(loaded.digests.size, 0);
  assertEquals(loaded.lastActive, r.createdAt);
  assert(loaded.seen.has(hex(1)));
});
