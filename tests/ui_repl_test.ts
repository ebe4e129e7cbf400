/**
 * The REPL driven over in-memory streams: keys in, screen text out. First
 * against a scripted stand-in of the core (every command path, dialogs,
 * events above the typed line), then against two real peers in direct mode
 * (no tor) talking to each other.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { MemoryTerminal } from "./_memory_terminal.ts";
import { WRONG_USAGE } from "./_repl_usage.ts";
import { IDENTITY, interactivePeer, setup } from "./_repl_fake.ts";
import { Repl } from "../lib/ui/repl.ts";
import { stripAnsi } from "../lib/ui/render.ts";
import { colorWanted } from "../lib/ui/terminal.ts";

/** The screen text after the last occurrence of `marker`. */
function after(term: MemoryTerminal, marker: string): string {
  return stripAnsi(term.output.slice(term.output.lastIndexOf(marker)));
}

Deno.test("REPL runs commands, prints usage for wrong ones and quits on /quit", async () => {
  const { term, peer, done } = setup();
  term.type("/msg bob hello   there\r");

  await term.waitFor("me → bob [verified]: hello   there");
  term.type("/msg bob\r");
  await term.waitFor("usage: /msg <name> <text...>");
  term.type("/mgs bob hi\r");
  await term.waitFor("did you mean /msg?");
  term.type("hello\r");
  await term.waitFor("Commands start with /");
  term.type("/verify bob WRONG=\r");
  await term.waitFor("does NOT match");
  term.type("/pres-on bob\r/convs\r");
  await term.waitFor("│ bob [verified]");
  term.type("/quit\r");
  assertEquals(await done, "quit");
  assertEquals(peer.calls, [
    "sendMessage bob hello   there",
    "verify bob WRONG=",
    "setPresence bob true",
  ]);
});

Deno.test("REPL gives the usage line for wrong arguments of every command", async () => {
  const { term, done } = setup();
  for (const [name, line] of Object.entries(WRONG_USAGE)) {
    term.type(`${line}\r`);
    await term.waitFor(new RegExp(`usage: /${name}[ \\r]`));
  }
  term.type("\x04");
  assertEquals(await done, "eof");
});

Deno.test("REPL asks the /auth secret with hidden input and never shows it", async () => {
  const { term, peer, repl, done } = setup();
  term.type("/auth bob\r");
  await term.waitFor("Secret shared with bob");
  term.type("correct horse\r");
  await term.waitFor("Authentication with bob");
  assert(!term.output.includes("correct horse"), "the secret is never drawn");
  assertEquals(peer.calls, ["authenticate bob correct horse"]);
  term.type("/auth bob inline secret\r");
  await term.waitFor("started");
  assert(!repl.history.some((l) => l.includes("secret")), "no secret in the history");
  term.type("\x03");
  assertEquals(await done, "interrupt");
});

Deno.test("REPL shows /auth as its own line, then one line per outcome", async () => {
  const { term, peer, repl, done } = setup();
  // The core reports the run as started from inside authenticate().
  peer.onAuthenticate = (name) => void repl.onEvent({ event: "auth", name, status: "started" });
  const mark = term.output.length;
  term.type("/auth bob one two\r");
  await term.waitFor("waiting for them");
  // A match and the level it raises, emitted together as the core does.
  peer.convs[0]!.level = "authenticated";
  const match = repl.onEvent({ event: "auth", name: "bob", status: "match" });
  repl.onEvent({ event: "level", name: "bob", level: "authenticated" });
  await match;
  // A second match while authenticated raises nothing.
  await repl.onEvent({ event: "auth", name: "bob", status: "match" });
  repl.onEvent({ event: "auth", name: "bob", status: "nomatch" });
  repl.onEvent({ event: "auth", name: "bob", status: "aborted", reason: "the contact cancelled" });
  // A later level change is still shown.
  peer.convs[0]!.level = "verified";
  repl.onEvent({ event: "level", name: "bob", level: "verified" });
  await term.waitFor("bob [verified] is now verified");
  const lines = stripAnsi(term.output.slice(mark)).split("\r\n")
    .map((l) => l.slice(l.lastIndexOf("\r") + 1)).filter((l) => l.startsWith("--"));
  assertEquals(lines, [
    "-- Authentication with bob [verified] started; waiting for them",
    "-- bob [authenticated] is now authenticated: the secrets match",
    "-- bob [authenticated] is still authenticated: the secrets match",
    "-- bob [authenticated]: authentication FAILED: the secrets do not match",
    "-- bob [authenticated]: authentication aborted (the contact cancelled)",
    "-- bob [verified] is now verified",
  ]);
  term.type("/quit\r");
  await done;
});

Deno.test("REPL deletes only after a yes, and says at once that nobody is unknown", async () => {
  const { term, peer, done } = setup();
  term.type("/delete nobody\r");
  await term.waitFor('No conversation is named "nobody"');
  assert(!term.output.includes("cannot be undone"), "no question for an unknown name");
  term.type("/delete bob\r");
  await term.waitFor("cannot be undone [y/N]");
  term.type("n\r");
  await term.waitFor("Not deleted");
  term.type("/delete bob\r");
  await term.waitFor("cannot be undone [y/N]");
  term.type("yes\r");
  await term.waitFor("Deleted the conversation with bob");
  term.type("/quit\r");
  await done;
  assertEquals(peer.calls, ["deleteConversation bob"]);
});

Deno.test("REPL prints an event above the line being typed and redraws it", async () => {
  const { term, repl, done } = setup();
  term.type("/msg bob half-typ");
  await term.waitFor("alice> /msg bob half-typ");
  const mark = term.output.length;
  await repl.onEvent({ event: "message", name: "bob", id: "1", text: "hi there", at: 0 });
  const shown = term.output.slice(mark);
  // Clear the row, print the message, then the prompt and the typed text again.
  assertEquals(shown, "\r\x1b[K00:00 bob [verified]: hi there\r\n\r\x1b[Kalice> /msg bob half-typ");
  term.type("ed\r");
  await term.waitFor("me → bob [verified]: half-typed");
  term.type("/quit\r");
  await done;
});

Deno.test("REPL completes commands and names with Tab and recalls history with Up", async () => {
  const { term, peer, done } = setup();
  term.type("/pres-of\tb\t\r");
  await term.waitFor("will no longer be told");
  term.type("/req-accept \t\r");
  await term.waitFor("Accepted: conversation with eve");
  term.type("\x1b[A\x1b[A\r");
  await term.waitFor("will no longer be told");
  term.type("/pres\t");
  await term.waitFor("/pres-off  /pres-on");
  term.type("\x15/quit\r");
  await done;
  assertEquals(peer.calls, [
    "setPresence bob false",
    "acceptRequest eve undefined",
    "setPresence bob false",
  ]);
});

Deno.test("REPL keeps running after Tab on an argument of /constructor", async () => {
  const { term, peer, done } = setup();
  term.type("/constructor b\t\x15/pres-off bob\r");
  await term.waitFor("will no longer be told");
  term.type("/quit\r");
  assertEquals(await done, "quit");
  assertEquals(peer.calls, ["setPresence bob false"]);
});

Deno.test("REPL prints an error and keeps running when handling a key throws", async () => {
  const { term, peer, done } = setup();
  peer.inboundRequests = () => {
    throw new TypeError("boom: /auth bob hunter2");
  };
  term.type("/pres-off b\t");
  await term.waitFor("error: Handling that key failed unexpectedly (TypeError)");
  assert(!term.output.includes("hunter2"), "no error message or stack shown");
  term.type("\x15/pres-off bob\r");
  await term.waitFor("will no longer be told");
  term.type("/quit\r");
  assertEquals(await done, "quit");
  assertEquals(peer.calls, ["setPresence bob false"]);
});

Deno.test("REPL without a terminal reads lines and writes levels as words", async () => {
  const { term, peer, done } = setup({ isTTY: false, color: colorWanted(false, undefined) });
  term.type("/req-send carol@c.onion:1 KEY=\n/convs\n");
  await term.waitFor("bob [verified]");
  assert(!term.output.includes("\x1b[K"), "no redraws without a terminal");
  term.end();
  assertEquals(await done, "eof");
  assertEquals(peer.calls, ["sendRequest carol@c.onion:1 KEY="]);
  assert(after(term, "Request sent").startsWith("Request sent to carol"));
});

Deno.test("REPL shows colours by level when colours are on", async () => {
  const { term, peer, repl, done } = setup({ color: true });
  for (const level of ["unverified", "verified", "authenticated"] as const) {
    peer.convs[0]!.level = level;
    repl.onEvent({ event: "level", name: "bob", level });
  }
  await term.waitFor("\x1b[36mbob");
  assert(term.output.includes("\x1b[31mbob") && term.output.includes("\x1b[32mbob"));
  assert(!term.output.includes("[verified]"), "no level words with colours");
  term.type("/quit\r");
  await done;
});

Deno.test("two real peers chat, verify and authenticate through their REPLs", async () => {
  const root = await Deno.makeTempDir();
  try {
    const registry = `${root}/registry`;
    await Deno.mkdir(registry);
    const alice = await interactivePeer("alice", `${root}/a`, registry);
    const bob = await interactivePeer("bob", `${root}/b`, registry);
    bob.term.type(`/req-send ${alice.address.replace(/^alice@/, "al@")} ${alice.key}\r`);
    await bob.term.waitFor("Request sent to al");
    await alice.term.waitFor("Request from bob");
    alice.term.type("/req-accept bob robert\r");
    await alice.term.waitFor("Accepted: conversation with robert [unverified]");
    await bob.term.waitFor("al [unverified] accepted your request");
    // A message arrives while alice is typing: her text survives.
    alice.term.type("/msg robert I was typ");
    await alice.term.waitFor("alice> /msg robert I was typ");
    bob.term.type("/msg al hello there\r");
    await alice.term.waitFor(
      "robert [unverified]: hello there\r\n\r\x1b[Kalice> /msg robert I was typ",
    );
    alice.term.type("ing\r");
    await bob.term.waitFor("al [unverified]: I was typing");
    // Verify with the key each shows.
    alice.term.type(`/verify robert ${bob.key}\r`);
    await alice.term.waitFor("robert [verified] is verified");
    // Authenticate: both answer the hidden prompt.
    alice.term.type("/auth robert\r");
    await alice.term.waitFor("Secret shared with robert");
    alice.term.type("blue moon\r");
    bob.term.type("/auth al\r");
    await bob.term.waitFor("Secret shared with al");
    bob.term.type("blue moon\r");
    await alice.term.waitFor("robert [authenticated] is now authenticated: the secrets match");
    await bob.term.waitFor("al [authenticated] is now authenticated: the secrets match");
    for (const t of [alice.term, bob.term]) {
      const shown = stripAnsi(t.output);
      assert(!shown.includes("in progress"), "our own /auth is confirmed once");
      assert(!/is now authenticated\r\n/.test(shown), "a match is announced once");
    }
    assert(!alice.term.output.includes("blue moon") && !bob.term.output.includes("blue moon"));
    alice.term.type("/convs\r");
    await alice.term.waitFor("│ robert [authenticated] │ authenticated │");
    // a message typed where the name goes: an error, and nothing of it on disk
    alice.term.type("/msg meet-at-the-old-mill\r");
    await alice.term.waitFor("Wrong arguments for /msg");
    alice.term.type("/quit\r");
    bob.term.type("\x04");
    assertEquals(await alice.exit, 0);
    assertEquals(await bob.exit, 0);
    await alice.term.waitFor("Bye");
    const history = await Deno.readTextFile(`${root}/a/peers/alice/repl_history`);
    assert(history.includes("/msg robert \n") && !history.includes("typing"), history);
    assert(!history.includes("blue"), history);
    assert(history.includes("/verify robert \n") && !history.includes(bob.key), history);
    assert(history.includes("/msg \n") && !history.includes("old-mill"), history);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("REPL shows tor's bootstrap as one redrawn bar, then the identity to copy", async () => {
  const term = new MemoryTerminal();
  const repl = new Repl({ terminal: term });
  const tick = () => new Promise((r) => setTimeout(r, 0));
  repl.onEvent({ event: "bootstrap", progress: 10, summary: "Connecting to a relay" });
  await tick();
  repl.onEvent({ event: "bootstrap", progress: 100, summary: "Done" });
  await tick();
  repl.onEvent({ event: "ready", identity: IDENTITY });
  await repl.screen.flushed();
  assertEquals(
    term.output.split("\r\n")[0],
    `\r\x1b[KTor [${"#".repeat(2)}${"-".repeat(22)}]  10% Connecting to a relay` +
      `\r\x1b[KTor [${"#".repeat(24)}]` + " 100% Done" +
      // the finished bar printed as a line, over itself, to stay above the banner
      `\r\x1b[KTor [${"#".repeat(24)}]` + " 100% Done",
  );
  assert(term.output.includes(`\r\n${IDENTITY.address} ${IDENTITY.key}\r\n`));
  const piped = new MemoryTerminal({ isTTY: false });
  const quiet = new Repl({ terminal: piped });
  quiet.onEvent({ event: "bootstrap", progress: 10, summary: "Connecting" });
  quiet.onEvent({ event: "bootstrap", progress: 15, summary: "Connecting" });
  await quiet.screen.flushed();
  assertEquals(piped.output.split("\n").length, 2, "one line per phase without a terminal");
});
