/**
 * The command registry and the JSON-lines interface: argument checking,
 * "did you mean", malformed lines, oversized lines, ordering of replies,
 * quit and end of input. The first part drives a scripted fake core (so each
 * error path is exact); the last part runs two real peers in direct mode on
 * loopback through the JSON loop (`runtime.ts`, `peer.ts`).
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { UnmessageError } from "../lib/errors.ts";
import { editDistance } from "../lib/edit_distance.ts";
import { readLines } from "../lib/lines.ts";
import type { ConversationInfo, PeerEvent, RequestInfo } from "../lib/peer/types.ts";
import { type RunningPeer, startPeer } from "../lib/runtime.ts";
import {
  type CommandPeer,
  COMMANDS,
  findCommand,
  parseArgs,
  SHARED_COMMANDS,
  suggestCommand,
  UnknownCommandError,
  UsageError,
} from "../lib/ui/commands.ts";
import {
  DROP_ABOVE_QUEUED_BYTES,
  handleLine,
  jsonEventSink,
  type JsonLine,
  LineWriter,
  MAX_LINE_BYTES,
  runJsonInterface,
} from "../lib/ui/json.ts";

const ONION = "a".repeat(56) + ".onion";

/** A fake core that records calls and fails on demand. */
function fakePeer(calls: string[] = []): CommandPeer {
  const conv: ConversationInfo = {
    name: "bob",
    address: `bob@${ONION}:50001`,
    key: "k".repeat(43) + "=",
    level: "unverified",
    presence: false,
    online: false,
    established: true,
    pending: 0,
  };
  const req: RequestInfo = {
    name: "carol",
    direction: "in",
    address: `carol@${ONION}`,
    key: "x",
    at: 1,
  };
  const known = (name: string) => {
    if (name !== "bob") {
      throw new UnmessageError("unknown_conversation", `No conversation with ${name}`);
    }
  };
  return {
    identity: () => ({
      name: "alice",
      onion: ONION,
      port: 50001,
      address: `alice@${ONION}:50001`,
      key: "K=",
    }),
    sendRequest: (a, k) => {
      calls.push(`req-send ${a} ${k}`);
      return Promise.resolve({ ...req, direction: "out" });
    },
    inboundRequests: () => [req],
    outboundRequests: () => [],
    acceptRequest: (n, nn) => {
      calls.push(`accept ${n} ${nn ?? "-"}`);
      return Promise.resolve(conv);
    },
    rejectRequest: (n) => {
      calls.push(`reject ${n}`);
      return Promise.resolve([n]);
    },
    cancelRequest: (n) => Promise.resolve(calls.push(`cancel ${n}`)).then(() => {}),
    conversations: () => [conv],
    sendMessage: (n, t) => {
      calls.push(`msg ${n} ${JSON.stringify(t)}`);
      known(n);
      return Promise.resolve({ id: `m${calls.length}` });
    },
    setPresence: (n, on) => Promise.resolve(calls.push(`pres ${n} ${on}`)).then(() => {}),
    verify: (n, k) => Promise.resolve({ verified: n === "bob" && k === conv.key }),
    authenticate: (n, s) => Promise.resolve(calls.push(`auth ${n} ${s}`)).then(() => {}),
    checkConversation: (n) => known(n),
    deleteConversation: (n) => Promise.resolve(known(n)),
  };
}

Deno.test("both interfaces share exactly these commands, each with a usage line and summary", () => {
  const shared = [
    "help",
    "peer",
    "onion",
    "key",
    "identity",
    "req-send",
    "req-check",
    "req-accept",
    "req-reject",
    "req-cancel",
    "reqs-in",
    "reqs-out",
    "convs",
    "msg",
    "pres-on",
    "pres-off",
    "verify",
    "auth",
    "delete",
    "tor-log",
    "quit",
  ];
  assertEquals(SHARED_COMMANDS.map((c) => c.name), shared);
  // One command belongs to the prompt only; the JSON interface gets each warning as an event.
  assertEquals(COMMANDS.filter((c) => c.only).map((c) => [c.name, c.only]), [["warnings", "repl"]]);
  for (const c of COMMANDS) {
    assert(c.usage.startsWith(c.name), c.name);
    assert(c.summary.length > 10 && !c.summary.endsWith("."), c.name);
  }
  assertEquals(findCommand("/msg").name, "msg");
  assertEquals(findCommand("exit").name, "quit");
});

Deno.test("parseArgs() rejects missing, extra and multi-word arguments with the usage line", () => {
  const msg = findCommand("msg");
  assertEquals(parseArgs(msg, ["bob", "hello", "there"]), { name: "bob", text: "hello there" });
  for (const bad of [[], ["bob"], ["bob", " "], ["bo b", "hi"]]) {
    try {
      parseArgs(msg, bad);
      throw new Error(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert(e instanceof UsageError, String(e));
      assertEquals(e.code, "usage");
      assertEquals(e.usage, "msg <name> <text...>");
    }
  }
  const accept = findCommand("req-accept");
  assertEquals(parseArgs(accept, ["carol"]), { name: "carol" });
  assertEquals(parseArgs(accept, ["carol", "c2"]), { name: "carol", "new-name": "c2" });
  let threw = false;
  try {
    parseArgs(accept, ["a", "b", "c"]);
  } catch (e) {
    threw = e instanceof UsageError && e.message.includes("1 argument(s) too many");
  }
  assert(threw);
});

Deno.test("findCommand() suggests the closest command by edit distance", () => {
  assertEquals(editDistance("kitten", "sitting"), 3);
  assertEquals(editDistance("", "abc"), 3);
  assertEquals(editDistance("mgs", "msg"), 1);
  assertEquals(suggestCommand("mgs"), "msg");
  assertEquals(suggestCommand("req-acept"), "req-accept");
  assertEquals(suggestCommand("convz"), "convs");
  assertEquals(suggestCommand("qwertyuiop"), undefined);
  try {
    findCommand("pres-of");
    throw new Error("found");
  } catch (e) {
    assert(e instanceof UnknownCommandError);
    assertEquals(e.code, "unknown_command");
    assertEquals(e.suggestion, "pres-off");
  }
});

Deno.test("handleLine() answers malformed lines with error replies, never throws", async () => {
  const peer = fakePeer();
  const cases: [string, unknown, string][] = [
    ["{not json", null, "bad_json"],
    ["[1,2]", null, "bad_request"],
    ["42", null, "bad_request"],
    ['{"id": 3}', 3, "bad_request"],
    ['{"id": 4, "cmd": 5}', 4, "bad_request"],
    ['{"id": 5, "cmd": "msg", "args": "bob hi"}', 5, "bad_request"],
    ['{"id": 6, "cmd": "msg", "args": ["bob", 7]}', 6, "bad_request"],
    ['{"id": {"x": 1}, "cmd": "convs"}', null, "bad_request"],
    ['{"id": "s", "cmd": "mgs", "args": []}', "s", "unknown_command"],
    ['{"id": 8, "cmd": "msg", "args": ["bob"]}', 8, "usage"],
    ['{"id": 9, "cmd": "msg", "args": ["nobody", "hi"]}', 9, "unknown_conversation"],
  ];
  for (const [line, id, code] of cases) {
    const { line: reply, quit } = await handleLine(line, peer);
    assertEquals(quit, false);
    assertEquals(reply.id, id, line);
    assertEquals(reply.ok, false, line);
    assertEquals((reply.error as { code: string }).code, code, line);
  }
  const unknown = await handleLine('{"id":1,"cmd":"delet","args":["bob"]}', peer);
  assertEquals((unknown.line.error as { suggestion: string }).suggestion, "delete");
  // req-reject keeps `rejected` as asked and lists what it matched; req-cancel has its own result
  const rejected = await handleLine('{"id":2,"cmd":"req-reject","args":["bob"]}', peer);
  assertEquals(rejected.line.result, { rejected: "bob", names: ["bob"] });
  const cancelled = await handleLine('{"id":3,"cmd":"req-cancel","args":["bob"]}', peer);
  assertEquals(cancelled.line.result, { cancelled: "bob" });
});

Deno.test("handleLine() reports a bug in the core as internal without its details", async () => {
  const peer = {
    ...fakePeer(),
    conversations: () => {
      throw new Error("secret detail");
    },
  };
  const logs: string[] = [];
  const { line } = await handleLine('{"id":1,"cmd":"convs"}', peer, (m) => logs.push(m));
  assertEquals((line.error as { code: string }).code, "internal");
  assert(!JSON.stringify(line).includes("secret detail"));
  assert(logs[0]!.includes("secret detail"));
});

function streamOf(...chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => typeof c === "string" ? enc.encode(c) : c));
}

async function runLines(peer: CommandPeer, ...chunks: (string | Uint8Array)[]) {
  const out: string[] = [];
  const dec = new TextDecoder();
  const writer = new LineWriter((b) => Promise.resolve(out.push(dec.decode(b))));
  const exit = await runJsonInterface({ input: streamOf(...chunks), writer, peer });
  return { exit, replies: out.join("").split("\n").filter((l) => l).map((l) => JSON.parse(l)) };
}

Deno.test("runJsonInterface() runs commands in order across split chunks and quits on EOF", async () => {
  const calls: string[] = [];
  const { exit, replies } = await runLines(
    fakePeer(calls),
    '{"id":1,"cmd":"msg","args":["bob","one"]}\n{"id":2,"cmd":"ms',
    'g","args":["bob","two\\nlines"]}\r\n\n',
    '{"id":3,"cmd":"identity"}',
  );
  assertEquals(exit, "eof");
  assertEquals(replies.map((r) => [r.id, r.ok]), [[1, true], [2, true], [3, true]]);
  assertEquals(calls, ['msg bob "one"', 'msg bob "two\\nlines"']);
  assertEquals(replies[2].result.text, `alice@${ONION}:50001 K=`);
});

Deno.test("runJsonInterface() stops at quit and ignores what follows", async () => {
  const calls: string[] = [];
  const { exit, replies } = await runLines(
    fakePeer(calls),
    '{"id":1,"cmd":"quit"}\n{"id":2,"cmd":"msg","args":["bob","late"]}\n',
  );
  assertEquals(exit, "quit");
  assertEquals(replies, [{ id: 1, ok: true, result: { quit: true } }]);
  assertEquals(calls, []);
});

Deno.test("readLines() skips an oversized line with bounded memory and goes on", async () => {
  const big = new Uint8Array(MAX_LINE_BYTES + 10).fill(0x61);
  const { replies } = await runLines(
    fakePeer(),
    big.subarray(0, 500_000),
    big.subarray(500_000),
    '\n{"id":2,"cmd":"key"}\n',
  );
  assertEquals(replies[0].error.code, "line_too_long");
  assertEquals(replies[0].id, null);
  assertEquals(replies[1], { id: 2, ok: true, result: { key: "K=" } });
  const lines: (string | null)[] = [];
  for await (const l of readLines(streamOf("ab\ncd", "ef\n\xff"), 3)) lines.push(l);
  assertEquals(lines, ["ab", null, "\xff"]);
});

Deno.test("LineWriter never interleaves and survives a broken output", async () => {
  const out: string[] = [];
  let fail = false;
  const writer = new LineWriter(async (b) => {
    await new Promise((r) => setTimeout(r, 1));
    if (fail) throw new Error("broken pipe");
    out.push(new TextDecoder().decode(b));
  });
  await Promise.all([1, 2, 3].map((i) => writer.send({ i })));
  assertEquals(out, ['{"i":1}\n', '{"i":2}\n', '{"i":3}\n']);
  fail = true;
  await writer.send({ i: 4 });
  await writer.send({ i: 5 });
  assertEquals(out.length, 3);
});

Deno.test("LineWriter under an unread output: messages and replies wait, warnings past the bound are dropped and counted", async () => {
  const out: JsonLine[] = [];
  let release!: () => void;
  let blocked = new Promise<void>((r) => (release = r));
  const writer = new LineWriter(async (b) => {
    await blocked;
    out.push(JSON.parse(new TextDecoder().decode(b)));
  });
  const sink = jsonEventSink(writer);
  const message = sink({ event: "message", name: "bob", id: "m1", text: "hi", at: 1 });
  // a flood of warnings while nobody reads: queued up to the bound, then dropped
  const warning = { event: "warning" as const, code: "packets_dropped", message: "x".repeat(200) };
  for (let i = 0; i < 20_000; i++) sink(warning);
  assert(writer.queuedBytes < DROP_ABOVE_QUEUED_BYTES + 1024, `${writer.queuedBytes} bytes queued`);
  const dropped = writer.dropped;
  assert(dropped > 18_000, `only ${dropped} dropped`);
  // a reply queued after the flood is never dropped: it waits
  let replied = false;
  const reply = writer.send({ id: 1, ok: true, result: null }).then(() => (replied = true));
  await new Promise((r) => setTimeout(r, 20));
  assertEquals(replied, false);
  release();
  blocked = Promise.resolve();
  await Promise.all([message, reply]);
  await writer.flush();
  assertEquals(out[0], { event: "message", name: "bob", id: "m1", text: "hi", at: 1 });
  assert(out.some((l) => l.id === 1 && l.ok === true), "the reply was lost");
  const notice = out.at(-1)!;
  assertEquals([notice.event, notice.code, notice.count], ["warning", "output_dropped", dropped]);
  assertEquals(out.length, 20_000 - dropped + 3);
});

// --- Two real peers in direct mode on loopback, driven through JSON lines ---

/** Bound on each awaited event in the direct-mode test. */
const EVENT_WAIT_MS = 10_000;

async function waitFor(events: PeerEvent[], pred: (e: PeerEvent) => boolean, what: string) {
  const end = Date.now() + EVENT_WAIT_MS;
  for (;;) {
    const e = events.find(pred);
    if (e) return e;
    if (Date.now() > end) {
      throw new Error(`No ${what} within ${EVENT_WAIT_MS} ms: ${JSON.stringify(events)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("JSON commands drive two real peers in direct mode: request, messages, errors", async () => {
  const dir = await Deno.makeTempDir();
  const started: RunningPeer[] = [];
  try {
    const start = async (name: string) => {
      const events: PeerEvent[] = [];
      const running = await startPeer({
        name,
        configRoot: dir,
        tor: { mode: "direct", registryDir: `${dir}/registry` },
        events: (e) => events.push(e),
      });
      started.push(running);
      let id = 0;
      const call = async (cmd: string, ...args: string[]) =>
        (await handleLine(JSON.stringify({ id: ++id, cmd, args }), running.peer)).line;
      return { running, events, call };
    };
    const alice = await start("alice");
    const bob = await start("bob");
    assert(alice.events.some((e) => e.event === "ready"));
    const id = (await alice.call("identity")).result as { address: string; key: string };

    // mistakes come back as typed error replies
    const code = (r: Record<string, unknown>) => (r.error as { code: string } | undefined)?.code;
    const badChecksum = id.address.replace(/@(.)/, (_, c) => `@${c === "a" ? "b" : "a"}`);
    assertEquals((await bob.call("req-send", badChecksum, id.key)).ok, false);
    assertEquals(code(await bob.call("req-send", id.address)), "usage");
    assertEquals(code(await bob.call("msg", "alice", "hi")) !== undefined, true);

    assertEquals((await bob.call("req-send", id.address, id.key)).ok, true);
    const out = (await bob.call("reqs-out")).result as { requests: { name: string }[] };
    assertEquals(out.requests.map((r) => r.name), ["alice"]);
    await waitFor(alice.events, (e) => e.event === "request-received", "request at alice");
    const inbound = (await alice.call("reqs-in")).result as { requests: { name: string }[] };
    assertEquals(inbound.requests.map((r) => r.name), ["bob"]);
    const accepted = await alice.call("req-accept", "bob", "robert");
    assertEquals(accepted.ok, true, JSON.stringify(accepted));
    const sent = await alice.call("msg", "robert", "hello", "bob");
    const msgId = (sent.result as { id: string }).id;
    const got = await waitFor(bob.events, (e) => e.event === "message", "message at bob");
    assertEquals(got.event === "message" && got.text, "hello bob");
    await waitFor(alice.events, (e) => e.event === "delivered" && e.id === msgId, "delivery ack");
    await bob.call("msg", "alice", "multi\nline");
    const back = await waitFor(alice.events, (e) => e.event === "message", "message at alice");
    assertEquals(back.event === "message" && [back.name, back.text], ["robert", "multi\nline"]);
    const convs = (await alice.call("convs")).result as {
      conversations: { name: string; level: string }[];
    };
    assertEquals(convs.conversations.map((c) => [c.name, c.level]), [["robert", "unverified"]]);
    const bobKey = ((await bob.call("key")).result as { key: string }).key;
    assertEquals((await alice.call("verify", "robert", id.key)).result, {
      name: "robert",
      verified: false,
    });
    assertEquals((await alice.call("verify", "robert", bobKey)).result, {
      name: "robert",
      verified: true,
    });
    assertEquals(code(await alice.call("delete", "nobody")) !== undefined, true);
    assertEquals((await alice.call("delete", "robert")).ok, true);
    assertEquals(((await alice.call("convs")).result as { conversations: [] }).conversations, []);
  } finally {
    for (const r of started) await r.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
