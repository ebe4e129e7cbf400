/**
 * A start that stalls says why (issue 11 item 1): tor's `WARN BOOTSTRAP`
 * reports become `bootstrap` events with tor's reason and plain words, a
 * bootstrap that does not move for a while brings a `bootstrap-stalled`
 * event with advice (connection, clock, bridges and the flags to use), and
 * the start that finally times out says the same in its error. Against a
 * real tor whose only directory authority is on 127.0.0.1 and either
 * refuses connections or accepts them and never answers (tor then says
 * nothing at all: only the stall timer can help). Also the pure parts:
 * reasons in words, advice per setup, the log ring.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import type { PeerEvent } from "../lib/peer/types.ts";
import { startPeer } from "../lib/runtime.ts";
import { STALL_LOG_LINES } from "../lib/app/tor_supervisor.ts";
import { closedPort, deadEnd } from "./_tornet.ts";
import { parseBootstrapStatus } from "../lib/tor/control_parse.ts";
import { explainProblem, stallAdvice } from "../lib/tor/diagnose.ts";
import { isTorError } from "../lib/tor/errors.ts";
import { launchTor } from "../lib/tor/launch.ts";
import { MAX_TOR_LOG_LINE_CHARS, MAX_TOR_LOG_LINES, TorLog } from "../lib/tor/tor_log.ts";
import { runCommand } from "../lib/ui/commands.ts";
import { eventLine } from "../lib/ui/render.ts";
import { resultText } from "../lib/ui/results.ts";

/** The stall timer of these tests (the default is 45 s). */
const STALL_MS = 3_000;
/** Bound on the whole launch, so that the start fails with bootstrap_timeout. */
const LAUNCH_MS = 9_000;

/** Starts a peer against `torrc`, expects bootstrap_timeout, returns the events and error. */
async function stalledStart(torrc: string[]): Promise<{ events: PeerEvent[]; error: Error }> {
  const dir = await Deno.makeTempDir({ prefix: "tor_stall_test" });
  const events: PeerEvent[] = [];
  try {
    const error = await assertRejects(() =>
      startPeer({
        name: "alice",
        configRoot: dir,
        tor: { mode: "launch", extraTorrc: torrc, launchTimeoutMs: LAUNCH_MS },
        events: (e) => void events.push(e),
        bootstrapStallMs: STALL_MS,
      })
    );
    return { events, error };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a tor whose relays refuse connections: reason in plain words, then advice, then an error that repeats it", async () => {
  const { events, error } = await stalledStart(deadEnd(closedPort()));
  const problem = events.find((e) => e.event === "bootstrap" && e.reason !== undefined);
  assert(problem?.event === "bootstrap", JSON.stringify(events));
  assertEquals(problem.reason, "CONNECTREFUSED");
  assertEquals(problem.warning, "Connection refused");
  assert(problem.problem?.includes("refused the connection"), problem.problem);
  const stalled = events.find((e) => e.event === "bootstrap-stalled");
  assert(stalled?.event === "bootstrap-stalled", JSON.stringify(events));
  assertEquals(stalled.reason, "CONNECTREFUSED");
  assertEquals(stalled.seconds, STALL_MS / 1000);
  assert(stalled.message.includes("refused the connection"), stalled.message);
  const advice = stalled.advice.join("\n");
  for (
    const needle of ["online", "clock", "--bridges snowflake", "--proxy socks5://", "/tor-log"]
  ) {
    assert(advice.includes(needle), `advice lacks ${needle}: ${advice}`);
  }
  // no event after the failure says "ready"
  assert(!events.some((e) => e.event === "ready"));
  assert(isTorError(error, "bootstrap_timeout"), String(error));
  assert(error.message.includes("--bridges"), error.message);
});

Deno.test("a stalled start gets tor's own last messages with the advice and in its error: /tor-log cannot run before the peer does", async () => {
  const { events, error } = await stalledStart(deadEnd(closedPort()));
  const stalled = events.find((e) => e.event === "bootstrap-stalled");
  assert(stalled?.event === "bootstrap-stalled", JSON.stringify(events));
  const log = stalled.log ?? [];
  assert(log.length > 0 && log.length <= STALL_LOG_LINES, JSON.stringify(log));
  assert(log.some((l) => l.text.startsWith("Bootstrapped 5%")), JSON.stringify(log));
  // the advice does not send the user to a command that is refused until the start ends
  const toLog = stalled.advice.find((a) => a.includes("/tor-log"));
  assert(toLog !== undefined && toLog.includes("once"), String(toLog));
  // the REPL prints those lines under the advice
  const shown = eventLine({ color: false }, () => undefined, stalled, 0)!;
  assert(shown.includes(log.at(-1)!.text.slice(0, 40)), shown);
  // and the failed start's error carries them too: the peer never ran, /tor-log never could
  assert(error.message.includes("Tor's last messages:"), error.message);
  assert(error.message.includes("Bootstrapped 5%"), error.message);
});

Deno.test("a tor whose relay accepts and never answers: tor says nothing, the stall advice still comes", async () => {
  const hole = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of hole) held.push(c);
  })().catch(() => {});
  try {
    const { events, error } = await stalledStart(deadEnd(hole.addr.port));
    // tor reports no problem at all in this case (the "14% Handshaking with a relay")
    assert(!events.some((e) => e.event === "bootstrap" && e.problem !== undefined));
    const stalled = events.find((e) => e.event === "bootstrap-stalled");
    assert(stalled?.event === "bootstrap-stalled", JSON.stringify(events));
    assertEquals(stalled.reason, undefined);
    assert(stalled.message.startsWith("Tor has made no progress for 3 s"), stalled.message);
    assert(stalled.advice.some((a) => a.includes("--bridges obfs4")), stalled.advice.join("\n"));
    assert(isTorError(error, "bootstrap_timeout"), String(error));
  } finally {
    hole.close();
    for (const c of held) c.close();
    await accepting;
  }
});

Deno.test("TorLog follows a real tor's NOTICE and WARN lines from the moment it owns the control port", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tor_stall_test" });
  const log = new TorLog();
  const tor = await launchTor({
    dataDir: dir,
    extraTorrc: deadEnd(closedPort()),
    waitForBootstrap: false,
    onControl: (c) => log.follow(c),
    timeoutMs: LAUNCH_MS,
  });
  try {
    const end = Date.now() + LAUNCH_MS;
    while (!log.recent().some((l) => l.text.startsWith("Bootstrapped 5%")) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = log.recent();
    assert(lines.some((l) => l.text.startsWith("Bootstrapped 5%")), JSON.stringify(lines));
    assert(lines.every((l) => l.severity === "notice" || l.severity === "warn"));
  } finally {
    await tor.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("explainProblem(): every ORCONN reason in words, tor's warning for unknown ones, nothing without a problem", () => {
  const status = (extra: string) =>
    parseBootstrapStatus(
      `WARN BOOTSTRAP PROGRESS=14 TAG=handshake SUMMARY="Handshaking with a relay" ${extra}`,
    )!;
  assertEquals(
    explainProblem(status('WARNING="No route to host" REASON=NOROUTE HOSTADDR="1.2.3.4:443"')),
    "Tor cannot connect at 14% (Handshaking with a relay): there is no route to the Tor " +
      "network (this computer seems to be offline, or a firewall drops the connection) " +
      "(trying 1.2.3.4:443)",
  );
  for (
    const reason of [
      "CONNECTREFUSED",
      "NOROUTE",
      "TIMEOUT",
      "CONNECTRESET",
      "DONE",
      "IDENTITY",
      "IOERROR",
      "RESOURCELIMIT",
      "PT_MISSING",
    ]
  ) {
    const text = explainProblem(status(`WARNING="x" REASON=${reason}`))!;
    assert(!text.includes('tor says "x"'), `${reason} has no words of its own`);
  }
  assert(explainProblem(status('WARNING="odd thing" REASON=MISC'))!.includes('"odd thing"'));
  assertEquals(explainProblem(status("")), undefined);
});

Deno.test("a proxy that is down is named as the problem and checked first, not blamed on a relay", () => {
  // tor 0.4.8's report with Socks5Proxy on a closed port (HOSTADDR: the relay it wanted)
  const status = parseBootstrapStatus(
    'WARN BOOTSTRAP PROGRESS=3 TAG=conn_proxy SUMMARY="Connecting to proxy" ' +
      'WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=1 RECOMMENDATION=ignore ' +
      'HOSTID="AAAA" HOSTADDR="127.0.0.1:41133"',
  )!;
  const problem = explainProblem(status)!;
  assert(problem.includes("the proxy refused the connection"), problem);
  assert(!problem.includes("relay or bridge"), problem);
  assert(problem.includes("on its way to 127.0.0.1:41133"), problem);
  const setup = { mode: "launch" as const, bridges: [], proxy: "socks5://127.0.0.1:46091" };
  const { advice } = stallAdvice(status, 45_000, setup, new Date(0));
  assert(advice[0]!.startsWith("Check the proxy socks5://127.0.0.1:46091"), advice.join("\n"));
  assertEquals(advice.filter((a) => a.includes("Check the proxy")).length, 1);
  // past the proxy, a refusal is a relay's again, and the proxy is checked later
  const relay = { ...status, tag: "conn", summary: "Connecting to a relay" };
  assert(explainProblem(relay)!.includes("relay or bridge refused"));
  assert(stallAdvice(relay, 45_000, setup, new Date(0)).advice[0]!.includes("online"));
});

Deno.test("stallAdvice(): bridges or not, proxy or not, our tor or someone else's", () => {
  const status = { progress: 10, tag: "conn_done", summary: "Connected to a relay" };
  const now = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
  const plain = stallAdvice(status, 45_000, { mode: "launch", bridges: [] }, now);
  assertEquals(
    plain.message,
    "Tor has made no progress for 45 s (stuck at 10%: Connected to a relay)",
  );
  assert(plain.advice[1]!.includes("2030-01-02T03:04:05.000Z"), plain.advice[1]);
  assert(plain.advice.some((a) => a.includes("--bridges snowflake")));
  const bridged = stallAdvice(
    status,
    45_000,
    { mode: "launch", bridges: ["obfs4", "obfs4"], proxy: "10.0.0.1:1080" },
    now,
  ).advice.join("\n");
  assert(bridged.includes("Your obfs4 bridges may be blocked"), bridged);
  assert(bridged.includes("--no-bridges") && bridged.includes("--no-proxy"), bridged);
  const attached = stallAdvice(status, 45_000, { mode: "attach", bridges: [] }, now).advice;
  assert(attached.some((a) => a.includes("its own torrc")));
  assert(!attached.join("\n").includes("--bridges"), "flags do not apply to an attached tor");
});

Deno.test("TorLog keeps the last lines, cut, across connections; tor-log returns them and refuses without tor", async () => {
  let t = 0;
  const log = new TorLog(() => ++t);
  for (let i = 0; i < MAX_TOR_LOG_LINES + 5; i++) log.add("notice", `line ${i}`);
  log.add("warn", "w".repeat(MAX_TOR_LOG_LINE_CHARS + 10));
  const all = log.recent();
  assertEquals(all.length, MAX_TOR_LOG_LINES);
  assertEquals(all[0]!.text, "line 6");
  assertEquals(all.at(-1)!.text.length, MAX_TOR_LOG_LINE_CHARS);
  assertEquals(log.lastWarning()?.severity, "warn");
  assertEquals(log.recent(2).map((l) => l.text), ["line 204", all.at(-1)!.text]);

  const peer = { torLog: (n: number) => log.recent(n) };
  // deno-lint-ignore no-explicit-any
  const asPeer = peer as any;
  const r = await runCommand(asPeer, "/tor-log", ["3"]);
  assertEquals((r.result as { lines: unknown[] }).lines.length, 3);
  const d = await runCommand(asPeer, "tor-log", []);
  assertEquals((d.result as { lines: unknown[] }).lines.length, 30);
  await assertRejects(() => runCommand(asPeer, "tor-log", ["0"]), Error, "1 to 200");
  await assertRejects(() => runCommand(asPeer, "tor-log", ["x"]), Error, "usage");
  await assertRejects(() => runCommand({} as typeof asPeer, "tor-log", []), Error, "without tor");
});

Deno.test("TorLog holds its lines, not the replies they were cut from: 200 lines of 1 MiB replies stay small", async () => {
  // V8 keeps the whole string a slice was taken from; measured in a process with a GC to call.
  const script = `
    import { TorLog } from ${
    JSON.stringify(new URL("../lib/tor/tor_log.ts", import.meta.url).href)
  };
    const log = new TorLog();
    globalThis.gc();
    const before = Deno.memoryUsage().heapUsed;
    for (let i = 0; i < 200; i++) {
      const reply = "NOTICE " + String(i).padStart(6, "0") + "x".repeat(1 << 20); // a fresh string, as decoded
      log.add("notice", reply.slice(7));
    }
    globalThis.gc();
    console.log(Deno.memoryUsage().heapUsed - before);
  `;
  const dir = await Deno.makeTempDir({ prefix: "tor_log_memory" });
  try {
    const file = `${dir}/measure.ts`;
    await Deno.writeTextFile(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", "--v8-flags=--expose-gc", file],
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const retained = Number(text);
    // the ring's own bound: 200 lines of 1000 UTF-16 units, 400 KB, with room for the objects
    assert(retained < 8 * 2 ** 20, `${(retained / 2 ** 20).toFixed(1)} MiB retained`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the REPL shows tor's problem and the advice as lines, a plain phase only as the bar", () => {
  const plain = { color: false };
  const none = () => undefined;
  const phase: PeerEvent = { event: "bootstrap", progress: 5, summary: "Connecting to a relay" };
  assertEquals(eventLine(plain, none, phase, 0), undefined);
  const problem = eventLine(
    plain,
    none,
    { ...phase, reason: "NOROUTE", problem: "no\x1b[2Jroute" },
    0,
  );
  assert(
    problem?.includes("no") && problem.includes("route") && !problem.includes("\x1b"),
    problem,
  );
  const stalled = eventLine(plain, none, {
    event: "bootstrap-stalled",
    progress: 5,
    summary: "Connecting to a relay",
    seconds: 45,
    message: "Tor has made no progress for 45 s",
    advice: ["Check that this computer is online", "Use --bridges snowflake"],
  }, 0)!;
  assertEquals(stalled.split("\n").length, 3);
  assert(stalled.split("\n")[2]!.includes("--bridges snowflake"), stalled);
});

Deno.test("the REPL shows /tor-log as time, severity and text, one line each", () => {
  const ctx = { style: { color: false }, levelOf: () => undefined, args: [], now: 0 };
  const at = new Date(2030, 0, 1, 12, 34, 56).getTime();
  const text = resultText("tor-log", {
    lines: [
      { at, severity: "notice", text: "Bootstrapped 5% (conn): Connecting to a relay" },
      { at, severity: "warn", text: "Problem bootstrapping.\x07" },
    ],
  }, ctx);
  assertEquals(text.split("\n").length, 2);
  assert(text.includes("12:34") && text.includes("warn Problem bootstrapping."), text);
  assert(!text.includes("\x07"), "control characters reach the terminal");
  assertEquals(resultText("tor-log", { lines: [] }, ctx), "-- Tor has logged nothing yet");
});
