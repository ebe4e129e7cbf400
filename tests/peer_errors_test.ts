/**
 * Every command's error paths: typed `PeerError`s with stable codes and
 * messages that say what to do ("did you mean" for close names).
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { PeerError } from "../lib/peer.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";

async function code(promise: Promise<unknown>, expected: string, includes?: string): Promise<void> {
  const e = await assertRejects(() => promise, PeerError);
  assertEquals(e.code, expected, e.message);
  if (includes !== undefined) {
    assert(e.message.includes(includes), `${e.message} lacks ${includes}`);
  }
}

/** Changes one character of the onion address, keeping base32: the checksum no longer matches. */
function typo(onion: string): string {
  const c = onion[10] === "a" ? "b" : "a";
  return onion.slice(0, 10) + c + onion.slice(11);
}

Deno.test("Peer: sendRequest rejects bad addresses, keys, names and duplicates", async () => {
  const net = new TestNet("errors-1");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const carol = await net.peer("carol");
    const id = bob.peer.identity();
    const send = (address: string, key = id.key) => alice.peer.sendRequest(address, key);
    await code(send(id.onion), "bad_address", "name@address.onion");
    await code(send(`bob@${typo(id.onion)}`), "bad_address", "checksum");
    // the last character holds the version: a typo there is a typo too
    const last = id.onion.slice(0, 55) + (id.onion[55] === "d" ? "e" : "d");
    await code(send(`bob@${last}`), "bad_address", "checksum does not match: check for a typo");
    await code(send(`bob@${id.onion.slice(1)}`), "bad_address", "56");
    await code(send(`bob@${id.onion}:0`), "bad_address", "port");
    await code(send(`bob@${id.onion}:70000`), "bad_address", "port");
    await code(send(`bo b@${id.onion}`), "bad_name", "spaces");
    await code(send(`@${id.onion}`), "bad_name");
    await code(send(`bob@${id.onion}`, "not a key"), "bad_key", "44 characters");
    await code(send(`bob@${id.onion}`, id.key.slice(0, 43) + "!"), "bad_key", "base64");
    await code(send(`bob@${id.onion}`, "A".repeat(43) + "="), "bad_key");
    await code(
      send(`me@${alice.peer.identity().onion}`, alice.peer.identity().key),
      "own_identity",
    );
    await alice.peer.sendRequest(`bob@${id.onion}`, id.key);
    await code(send(`bobby@${id.onion}`), "already_contact", "bob");
    const carolId = carol.peer.identity();
    await code(send(`bob@${carolId.onion}`, carolId.key), "name_taken", "pick another name");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: request answers and conversation commands report unknown names with a suggestion", async () => {
  const net = new TestNet("errors-2");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const carol = await net.peer("carol");
    await connect(alice, bob);
    const c = carol.mark();
    const carolId = carol.peer.identity();
    await alice.peer.sendRequest(`carol@${carolId.onion}`, carolId.key);
    await carol.waitFor(is("request-received"), c);
    await code(carol.peer.acceptRequest("alcie"), "unknown_request", "did you mean alice?");
    await code(carol.peer.rejectRequest("zed"), "unknown_request", "list them with reqs-in");
    // The command it names is carried apart, for each interface to show its way.
    const unknown = await assertRejects(() => carol.peer.rejectRequest("zed"), PeerError);
    assertEquals([unknown.command, unknown.toJSON().command], ["reqs-in", "reqs-in"]);
    const pending = await assertRejects(() => carol.peer.sendMessage("alice", "hi"), PeerError);
    assertEquals(pending.command, "req-accept alice");
    assert(pending.message.endsWith("req-accept alice"), pending.message);
    await code(carol.peer.acceptRequest("alice", "with space"), "bad_name");
    await code(carol.peer.sendMessage("alice", "hi"), "not_established", "accept it first");
    // pending outbound request: not a conversation yet
    await code(alice.peer.sendMessage("carol", "hi"), "not_established", "not accepted");
    await code(alice.peer.verify("carol", carolId.key), "not_established");
    // unknown names
    await code(alice.peer.sendMessage("bbo", "hi"), "unknown_peer", "did you mean bob?");
    await code(alice.peer.verify("zed", carolId.key), "unknown_peer", "list them with convs");
    await code(alice.peer.setPresence("bo", true), "unknown_peer", "did you mean bob?");
    await code(alice.peer.authenticate("nobody", "x"), "unknown_peer");
    await code(alice.peer.deleteConversation("bobb"), "unknown_peer", "did you mean bob?");
    // bad input to existing conversations
    await code(alice.peer.sendMessage("bob", ""), "bad_message");
    await code(alice.peer.sendMessage("bob", "\ud800"), "bad_message", "Unicode");
    await code(alice.peer.sendMessage("bob", "x".repeat(1024 * 1024 + 1)), "bad_message", "limit");
    await code(alice.peer.verify("bob", "short"), "bad_key");
    await code(alice.peer.authenticate("bob", "   "), "bad_secret", "empty");
    // accepting under a taken name
    const carolDave = await net.peer("dave");
    const d = carolDave.mark();
    await carol.peer.sendRequest(
      `dave@${carolDave.peer.identity().onion}`,
      carolDave.peer.identity().key,
    );
    await carolDave.waitFor(is("request-received"), d);
    await alice.peer.sendRequest(
      `dave@${carolDave.peer.identity().onion}`,
      carolDave.peer.identity().key,
    );
    await carolDave.waitFor((e) => e.event === "request-received" && e.request.name === "alice");
    await code(carolDave.peer.acceptRequest("alice", "carol"), "name_taken");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: authenticating an offline contact and commands after close fail clearly", async () => {
  const net = new TestNet("errors-3");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    await bob.close();
    await alice.until(() => alice.peer.conversations()[0]?.online === false);
    // /auth dials on demand and fails only once the contact proves unreachable
    const a = alice.mark();
    assertEquals(await alice.peer.authenticate("bob", "secret"), { connecting: true });
    const aborted = await alice.waitFor(is("auth", { name: "bob", status: "aborted" }), a);
    assert(aborted.reason?.includes("cannot be reached"), aborted.reason);
    await alice.close();
    const peer = alice.peer;
    await code(peer.sendMessage("bob", "late"), "closed");
  } finally {
    await net.close();
  }
});
