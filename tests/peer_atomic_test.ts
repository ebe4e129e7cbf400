/**
 * All-or-nothing commands: when the save of `acceptRequest`, `verify` or
 * `setPresence` fails, the error is thrown and the peer's state is exactly
 * as before (and the command works once the disk does). Also: a request
 * from a key that already is a contact cannot become a second conversation.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { PeerError } from "../lib/peer.ts";
import { NetError } from "../lib/net/net_error.ts";
import type { Transport } from "../lib/net/transport.ts";
import type { PeerStore } from "../lib/store/peer_store.ts";
import { connect, is, TestNet, type TestPeer } from "./_peer_harness.ts";

/** The message of a simulated disk failure. */
const FAILURE = "Simulated disk failure";

/** Which saves fail next (each entry fails one call of that method, then is used up). */
interface FailingSaves {
  saveConversation: number;
  saveRequests: number;
}

/**
 * A real store whose conversation saves (`saveConversation`,
 * `saveConversationLater`) and `saveRequests` fail while `fail` says so.
 */
function failingStore(fail: FailingSaves): (store: PeerStore) => PeerStore {
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        if (
          prop === "saveConversation" || prop === "saveConversationLater" ||
          prop === "saveRequests"
        ) {
          const which = prop === "saveRequests" ? "saveRequests" : "saveConversation";
          return (...args: unknown[]): Promise<void> => {
            if (fail[which] > 0) {
              fail[which]--;
              return Promise.reject(new Error(FAILURE));
            }
            return (target[prop] as (...a: unknown[]) => Promise<void>)(...args);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}

function conversationFiles(peer: TestPeer): Promise<string[]> {
  return peer.store.listConversations();
}

Deno.test("Peer: verify() whose save fails stays unverified and reports the error", async () => {
  const net = new TestNet("atomic-1");
  const fail = { saveConversation: 0, saveRequests: 0 };
  try {
    const alice = await net.peer("alice", { wrapStore: failingStore(fail) });
    const bob = await net.peer("bob");
    await connect(alice, bob);
    const key = bob.peer.identity().key;
    const a = alice.mark();
    fail.saveConversation = 1;
    await assertRejects(() => alice.peer.verify("bob", key), Error, FAILURE);
    assertEquals(alice.peer.conversations()[0]?.level, "unverified");
    assertEquals(alice.all("level", a).length, 0);
    // the disk works again: the same command now verifies (it did not think it was done)
    assertEquals(await alice.peer.verify("bob", key), { verified: true });
    assertEquals(alice.peer.conversations()[0]?.level, "verified");
    await alice.waitFor(is("level", { name: "bob", level: "verified" }), a);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: setPresence() whose save fails keeps the old setting and reports the error", async () => {
  const net = new TestNet("atomic-2");
  const fail = { saveConversation: 0, saveRequests: 0 };
  try {
    const alice = await net.peer("alice", { wrapStore: failingStore(fail) });
    const bob = await net.peer("bob");
    await connect(alice, bob);
    fail.saveConversation = 1;
    await assertRejects(() => alice.peer.setPresence("bob", true), Error, FAILURE);
    assertEquals(alice.peer.conversations()[0]?.presence, false);
    await alice.peer.setPresence("bob", true);
    assertEquals(alice.peer.conversations()[0]?.presence, true);
    fail.saveConversation = 1;
    await assertRejects(() => alice.peer.setPresence("bob", false), Error, FAILURE);
    assertEquals(alice.peer.conversations()[0]?.presence, true);
  } finally {
    await net.close();
  }
});

for (const failing of ["saveConversation", "saveRequests"] as const) {
  Deno.test(`Peer: acceptRequest() whose ${failing} fails keeps the request, makes no conversation`, async () => {
    const net = new TestNet(`atomic-3-${failing}`);
    const fail = { saveConversation: 0, saveRequests: 0 };
    try {
      const alice = await net.peer("alice");
      const bob = await net.peer("bob", { wrapStore: failingStore(fail) });
      const a = alice.mark();
      const b = bob.mark();
      const id = bob.peer.identity();
      await alice.peer.sendRequest(`bob@${id.onion}:${id.port}`, id.key);
      await bob.waitFor(is("request-received"), b);
      const before = bob.peer.inboundRequests();
      fail[failing] = 1;
      await assertRejects(() => bob.peer.acceptRequest("alice", "al"), Error, FAILURE);
      assertEquals(bob.peer.inboundRequests(), before);
      assertEquals(bob.peer.conversations(), []);
      assertEquals(await conversationFiles(bob), []);
      // nothing left: the request is accepted once the disk works, under the same name
      const info = await bob.peer.acceptRequest("alice", "al");
      assertEquals(info.name, "al");
      assertEquals(bob.peer.inboundRequests(), []);
      await alice.waitFor(is("conversation-established"), a);
      await bob.waitFor(is("conversation-established"), b);
      assertEquals(bob.peer.conversations().map((c) => c.name), ["al"]);
      assertEquals((await conversationFiles(bob)).length, 1);
    } finally {
      await net.close();
    }
  });
}

Deno.test("Peer: acceptRequest() refuses a request from a contact's key; it stays listed to reject", async () => {
  const net = new TestNet("atomic-4");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    // alice starts over on her side only: bob still has the conversation with her key
    await alice.peer.deleteConversation("bob");
    const b = bob.mark();
    const id = bob.peer.identity();
    await alice.peer.sendRequest(`bob@${id.onion}:${id.port}`, id.key);
    const received = await bob.waitFor(is("request-received"), b);
    assertEquals(received.request.key, alice.peer.identity().key);
    const name = received.request.name;
    const e = await assertRejects(() => bob.peer.acceptRequest(name, "alice2"), PeerError);
    assertEquals(e.code, "already_contact");
    assert(e.message.includes("named alice"), e.message);
    assert(e.message.includes("delete"), e.message);
    assertEquals(bob.peer.conversations().map((c) => c.name), ["alice"]);
    assertEquals(bob.peer.inboundRequests().map((r) => r.name), [name]);
    await bob.peer.rejectRequest(name);
    assertEquals(bob.peer.inboundRequests(), []);
    // once bob deletes his side too, a new request can be accepted
    await bob.peer.deleteConversation("alice");
    await alice.peer.cancelRequest("bob");
    const b2 = bob.mark();
    await alice.peer.sendRequest(`bob@${id.onion}:${id.port}`, id.key);
    const again = await bob.waitFor(is("request-received"), b2);
    await bob.peer.acceptRequest(again.request.name);
    assertEquals(bob.peer.conversations().length, 1);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: sendRequest() refuses a key whose request waits for us to accept it", async () => {
  const net = new TestNet("atomic-5");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const aliceId = alice.peer.identity();
    const bobId = bob.peer.identity();
    const b = bob.mark();
    await alice.peer.sendRequest(`bob@${bobId.onion}:${bobId.port}`, bobId.key);
    await bob.waitFor(is("request-received"), b);
    const e = await assertRejects(
      () => bob.peer.sendRequest(`alicia@${aliceId.onion}:${aliceId.port}`, aliceId.key),
      PeerError,
    );
    assertEquals(e.code, "already_contact");
    assert(e.message.includes("accept it instead"), e.message);
    assertEquals(bob.peer.outboundRequests(), []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: crossed requests: acceptRequest() refuses while our own request to that key pends", async () => {
  const net = new TestNet("atomic-6");
  try {
    // alice's dials fail: her request to bob stays pending, bob's reaches her
    const blocked: Transport = {
      connect: () => Promise.reject(new NetError("connect_failed", "Blocked", { retryable: true })),
    };
    const alice = await net.peer("alice", { transport: () => blocked });
    const bob = await net.peer("bob");
    const aliceId = alice.peer.identity();
    const bobId = bob.peer.identity();
    await alice.peer.sendRequest(`bob@${bobId.onion}:${bobId.port}`, bobId.key);
    const a = alice.mark();
    await bob.peer.sendRequest(`alice@${aliceId.onion}:${aliceId.port}`, aliceId.key);
    const received = await alice.waitFor(is("request-received"), a);
    const e = await assertRejects(
      () => alice.peer.acceptRequest(received.request.name, "bobby"),
      PeerError,
    );
    assertEquals(e.code, "already_contact");
    assert(e.message.includes("pending, named bob"), e.message);
    assertEquals(alice.peer.conversations(), []);
    assertEquals(alice.peer.inboundRequests().length, 1);
  } finally {
    await net.close();
  }
});
