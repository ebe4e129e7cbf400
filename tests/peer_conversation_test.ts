/**
 * Two real peers over loopback: request, accept with a rename, messages both
 * ways (multi-line, 200 KiB), acknowledgements, verification, SMP, presence,
 * deletion.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { PeerError } from "../lib/peer/errors.ts";
import { connect, is, TestNet, type TestPeer } from "./_peer_harness.ts";

/** Alice starts SMP with `aliceSecret`; Bob, once asked, answers with `bobSecret`. */
async function smpRun(alice: TestPeer, bob: TestPeer, aliceSecret: string, bobSecret: string) {
  const b = bob.mark();
  await alice.peer.authenticate("bob", aliceSecret);
  await bob.waitFor(is("auth", { name: "alice", status: "requested" }), b);
  await bob.peer.authenticate("alice", bobSecret);
}

Deno.test("Peer: request, accept under another name, messages both ways with acknowledgements", async () => {
  const net = new TestNet("conv-1");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const a0 = alice.mark();
    const b0 = bob.mark();
    const bobId = bob.peer.identity();
    const sent = await alice.peer.sendRequest(`robert@${bobId.onion}:${bobId.port}`, bobId.key);
    assertEquals(sent.name, "robert");
    assertEquals(alice.peer.outboundRequests().map((r) => r.name), ["robert"]);
    const got = await bob.waitFor(is("request-received"), b0);
    assertEquals(got.request.name, "alice");
    assertEquals(got.request.key, alice.peer.identity().key);
    assertEquals(got.request.address, alice.peer.identity().address);
    assertEquals(bob.peer.inboundRequests().length, 1);

    const conv = await bob.peer.acceptRequest("alice", "ally");
    assertEquals(conv.name, "ally");
    assertEquals(conv.level, "unverified");
    assertEquals(bob.peer.inboundRequests(), []);
    // Alice (the acceptor: docs/protocol.md, "6. The handshake") can send at once
    const early = await bob.peer.sendMessage("ally", "hello before stage 3");
    await alice.waitFor(is("request-accepted", { name: "robert" }), a0);
    await alice.waitFor(is("conversation-established", { name: "robert" }), a0);
    await bob.waitFor(is("conversation-established", { name: "ally" }), b0);
    const m1 = await alice.waitFor(is("message", { name: "robert" }), a0);
    assertEquals(m1.text, "hello before stage 3");
    assertEquals(m1.id, early.id);
    await bob.waitFor(is("delivered", { name: "ally", id: early.id }), b0);
    assertEquals(alice.peer.outboundRequests(), []);

    const multi = "line one\nline two\n\n  indented\r\nend 🎉";
    const big = "x".repeat(200 * 1024 - 3) + "end";
    const ids = [
      (await alice.peer.sendMessage("robert", multi)).id,
      (await alice.peer.sendMessage("robert", big)).id,
      (await alice.peer.sendMessage("robert", "after the big one")).id,
    ];
    const b1 = bob.mark();
    for (const id of ids) await alice.waitFor(is("delivered", { id }), a0);
    const texts = bob.all("message", b0).map((m) => m.text);
    assertEquals(texts, [multi, big, "after the big one"]);
    assertEquals(bob.all("message", b0).map((m) => m.id), ids);
    assert(b1 >= 0);
    const reply = await bob.peer.sendMessage("ally", "reply");
    await bob.waitFor(is("delivered", { id: reply.id }), b0);
    assertEquals(alice.all("message", a0).map((m) => m.text), ["hello before stage 3", "reply"]);

    const [aliceView] = alice.peer.conversations();
    assertEquals(aliceView?.name, "robert");
    assertEquals(aliceView?.established, true);
    assertEquals(aliceView?.pending, 0);
    assertEquals(aliceView?.online, true);
    assertEquals(aliceView?.key, bobId.key);
    assertEquals(aliceView?.address, `robert@${bobId.onion}:${bobId.port}`);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: verify with the right and a wrong key, levels persist across a restart", async () => {
  const net = new TestNet("conv-2");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    const a = alice.mark();
    const wrong = await alice.peer.verify("bob", alice.peer.identity().key);
    assertEquals(wrong, { verified: false });
    assertEquals(alice.peer.conversations()[0]?.level, "unverified");
    assertEquals(alice.all("level", a), []);
    const right = await alice.peer.verify("bob", ` ${bob.peer.identity().key}\n`);
    assertEquals(right, { verified: true });
    assertEquals(alice.peer.conversations()[0]?.level, "verified");
    await alice.waitFor(is("level", { name: "bob", level: "verified" }), a);
    await alice.close();
    await alice.open();
    assertEquals(alice.peer.conversations()[0]?.level, "verified");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: SMP match authenticates both sides until the contact disconnects or a later run fails; a first mismatch changes nothing", async () => {
  const net = new TestNet("conv-3");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await alice.peer.verify("bob", bob.peer.identity().key);

    // mismatch first: both told, levels unchanged
    let a = alice.mark();
    let b = bob.mark();
    await smpRun(alice, bob, "the blue house", "the red house");
    await alice.waitFor(is("auth", { name: "bob", status: "nomatch" }), a);
    await bob.waitFor(is("auth", { name: "alice", status: "nomatch" }), b);
    assertEquals(alice.all("level", a), []);
    assertEquals(bob.all("level", b), []);
    assertEquals(alice.peer.conversations()[0]?.level, "verified");
    assertEquals(bob.peer.conversations()[0]?.level, "unverified");

    // match: both authenticated
    a = alice.mark();
    b = bob.mark();
    await bob.peer.authenticate("alice", "  the blue house ");
    await alice.waitFor(is("auth", { name: "bob", status: "requested" }), a);
    await alice.peer.authenticate("bob", "the blue house");
    await alice.waitFor(is("auth", { name: "bob", status: "match" }), a);
    await bob.waitFor(is("auth", { name: "alice", status: "match" }), b);
    await alice.waitFor(is("level", { name: "bob", level: "authenticated" }), a);
    await bob.waitFor(is("level", { name: "alice", level: "authenticated" }), b);
    assertEquals(alice.peer.conversations()[0]?.level, "authenticated");

    // a later run that fails drops both levels at once (issue 8 item 9)
    a = alice.mark();
    b = bob.mark();
    await smpRun(alice, bob, "the blue house", "a green house");
    await alice.waitFor(is("auth", { name: "bob", status: "nomatch" }), a);
    await alice.waitFor(is("level", { name: "bob", level: "verified" }), a);
    await bob.waitFor(is("level", { name: "alice", level: "unverified" }), b);
    assertEquals(alice.peer.conversations()[0]?.level, "verified");
    assertEquals(bob.peer.conversations()[0]?.level, "unverified");

    // match again; then Bob quits: Alice drops back to her verification level
    a = alice.mark();
    await smpRun(alice, bob, "the blue house", "the blue house");
    await alice.waitFor(is("level", { name: "bob", level: "authenticated" }), a);
    a = alice.mark();
    await bob.close();
    await alice.waitFor(is("level", { name: "bob", level: "verified" }), a);
    assertEquals(alice.peer.conversations()[0]?.level, "verified");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: simultaneous SMP starts resolve to one run", async () => {
  const net = new TestNet("conv-4");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    const a = alice.mark();
    const b = bob.mark();
    await Promise.all([
      alice.peer.authenticate("bob", "same secret"),
      bob.peer.authenticate("alice", "same secret"),
    ]);
    await alice.waitFor(is("auth", { status: "match" }), a);
    await bob.waitFor(is("auth", { status: "match" }), b);
    assertEquals(alice.all("auth", a).filter((e) => e.status === "aborted"), []);
    assertEquals(bob.all("auth", b).filter((e) => e.status === "aborted"), []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: presence on tells the contact when we go offline and come back", async () => {
  const net = new TestNet("conv-5");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await alice.peer.setPresence("bob", true);
    assertEquals(alice.peer.conversations()[0]?.presence, true);
    let b = bob.mark();
    await alice.close();
    await bob.waitFor(is("presence", { name: "alice", online: false }), b);
    b = bob.mark();
    await alice.open();
    await bob.waitFor(is("presence", { name: "alice", online: true }), b);
    // off: no more notifications
    await alice.peer.setPresence("bob", false);
    b = bob.mark();
    await alice.close();
    await alice.open();
    const m = await alice.peer.sendMessage("bob", "back");
    await alice.waitFor(is("delivered", { id: m.id }));
    assertEquals(bob.all("presence", b), []);
  } finally {
    await net.close();
  }
});

Deno.test("Peer: delete removes the conversation file and tells the contact, whose side ends", async () => {
  const net = new TestNet("conv-6");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    const files = (peer: TestPeer) => peer.store.listConversations();
    const [id] = await files(bob);
    assertEquals((await files(bob)).length, 1);
    const a = alice.mark();
    await bob.peer.deleteConversation("alice");
    assertEquals(await files(bob), []);
    assertEquals(bob.peer.conversations(), []);
    // alice hears of it: the conversation is ended, and says so
    await alice.waitFor(is("conversation-ended", { name: "bob" }), a);
    assertEquals(alice.peer.conversations()[0]?.ended, true);
    const e = await assertRejects(() => alice.peer.sendMessage("bob", "anyone there?"), PeerError);
    assertEquals(e.code, "conversation_ended");
    assert(e.message.includes("delete bob"), e.message);
    // it survives a restart, and nothing is dialled for it
    await alice.close();
    const r = alice.mark();
    await alice.open();
    assertEquals(alice.peer.conversations()[0]?.ended, true);
    await assertRejects(() => alice.peer.sendMessage("bob", "still?"), PeerError);
    // alice deletes her side: no notice goes back to keys that are gone
    await alice.peer.deleteConversation("bob");
    assertEquals(await files(alice), []);
    assertEquals(alice.all("connection", r).filter((c) => c.state === "connecting"), []);
    // once compacted (at close), nothing of it is left in bob's state files
    await bob.close();
    for (const file of ["state.jsonl", "journal.jsonl"]) {
      const text = await Deno.readTextFile(`${bob.dir}/${file}`);
      assert(!text.includes(id!), `${file} still holds the conversation`);
    }
  } finally {
    await net.close();
  }
});
