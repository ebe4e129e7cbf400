/**
 * The REPL at its edges, as an adversarial review tried it: a bracketed
 * paste whose end marker never comes (the keys after it must work again), a
 * secret typed ahead of the question `/auth <name>` asks (it must not be
 * echoed or remembered), a
 * tor that restarts while the prompt is up (its bootstrap must not take the
 * prompt's place for good), a narrow terminal (the progress bar and the
 * prompt row must fit in one row, or every redraw leaves a row behind), and
 * a hostile control port whose error text would reach the terminal when the
 * start fails.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { MemoryTerminal } from "./_memory_terminal.ts";
import { FakePeer, IDENTITY, setup } from "./_repl_fake.ts";
import { startPeer } from "../lib/runtime.ts";
import { runInteractive } from "../lib/ui/interactive.ts";
import { KeyDecoder, PASTE_IDLE_MS } from "../lib/ui/keys.ts";
import { progressLine } from "../lib/ui/progress.ts";
import { Repl } from "../lib/ui/repl.ts";
import { stripAnsi } from "../lib/ui/render.ts";
import { textWidth } from "../lib/ui/width.ts";
import { until } from "./e2e/_peer_process.ts";

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";
const enc = (s: string) => new TextEncoder().encode(s);
const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Bound on one run of the program. */
const RUN_TIMEOUT_MS = 30_000;

Deno.test("REPL: a paste whose end marker never comes ends after a pause; the keys after it work", async () => {
  const { term, peer, done } = setup();
  await term.waitFor("alice> ");
  term.type(`/msg bob ${PASTE_START}pasted`);
  // Nothing more comes: after the pause the paste is the text received so far.
  await term.waitFor("alice> /msg bob pasted");
  term.type(" and typed\r");
  await term.waitFor("me → bob [verified]: pasted and typed");
  assertEquals(peer.sent.map((m) => m.text), ["pasted and typed"]);
  term.type("/quit\r");
  await done;
});

Deno.test("KeyDecoder: endPaste() ends an open paste as its marker would; a paste that ends is unchanged", () => {
  const d = new KeyDecoder();
  assertEquals(d.push(enc(`${PASTE_START}a\r\nb`)), []);
  assert(d.pasting);
  assertEquals(d.endPaste(), [{ kind: "paste", text: "a\nb" }]);
  assert(!d.pasting);
  assertEquals(d.push(enc("x\r")), [{ kind: "text", text: "x" }, { kind: "enter" }]);
  assertEquals(d.endPaste(), []);
  // A marker split between chunks is still one paste.
  assertEquals(d.push(enc(`${PASTE_START}c${PASTE_END.slice(0, 2)}`)), []);
  assertEquals(d.push(enc(PASTE_END.slice(2))), [{ kind: "paste", text: "c" }]);
  // The held start of a marker is paste text when the marker never completes.
  assertEquals(d.push(enc(`${PASTE_START}d\x1b[2`)), []);
  assertEquals(d.endPaste(), [{ kind: "paste", text: "d[2" }]);
  assert(PASTE_IDLE_MS >= 500, "a slow link sends a paste in chunks a few hundred ms apart");
});

Deno.test("REPL: a secret typed (or pasted without bracketed paste) right after /auth <name> is its answer, never shown or kept", async () => {
  for (const isTTY of [true, false]) {
    const { term, peer, repl, done } = setup({ isTTY });
    if (isTTY) await term.waitFor("alice> ");
    // one chunk: the question cannot have been asked before the secret arrives
    term.type("/auth bob\rhunter2\r");
    await term.waitFor("Authentication with bob");
    assertEquals(peer.calls, ["authenticate bob hunter2"]);
    assert(!term.output.includes("hunter2"), JSON.stringify(term.output));
    assert(!repl.history.some((l) => l.includes("hunter2")), repl.history.join("\n"));
    // the prompt is back to normal: what is typed next is drawn and runs
    term.type("/convs\r");
    await term.waitFor("bob");
    term.type("/quit\r");
    await done;
  }
  // /auth before the peer runs asks nothing: the prompt does not stay hidden
  const term = new MemoryTerminal();
  const repl = new Repl({ terminal: term });
  const done = repl.run();
  term.type("/auth bob\r");
  await term.waitFor("Please wait: the peer is still starting");
  repl.attach(new FakePeer(), IDENTITY);
  term.type("visible");
  await term.waitFor("alice> visible");
  term.type("\x15/quit\r");
  await done;
});

Deno.test("REPL: bootstrap of a restarted tor leaves the prompt in place", async () => {
  const { term, repl, done } = setup();
  await term.waitFor("alice> ");
  await repl.onEvent({ event: "tor", state: "restarting", message: "Restarting tor (attempt 1)" });
  repl.onEvent({ event: "bootstrap", progress: 50, summary: "Loading relay descriptors" });
  repl.onEvent({ event: "bootstrap", progress: 100, summary: "Done" });
  await repl.onEvent({ event: "tor", state: "restarted", message: "Tor is back" });
  term.type("abc");
  await term.waitFor("alice> abc");
  await repl.screen.flushed();
  assertEquals(term.screen().at(-1), "alice> abc");
  // A problem tor reports meanwhile is still a line of its own.
  repl.onEvent({
    event: "bootstrap",
    progress: 5,
    summary: "Connecting to a relay",
    problem: "Tor cannot connect at 5%: no route",
  });
  await term.waitFor("warning: Tor cannot connect at 5%: no route");
  term.type("\x15/quit\r");
  await done;
});

Deno.test("REPL: on a narrow terminal the progress bar and the prompt fit in one row", async () => {
  for (const columns of [20, 30, 40, 60, 80]) {
    const bar = progressLine({ color: true }, 45, "Loading relay descriptors for you", columns);
    assert(textWidth(stripAnsi(bar)) < columns, `${columns}: ${stripAnsi(bar)}`);
  }
  const term = new MemoryTerminal({ columns: 30 });
  const repl = new Repl({ terminal: term });
  const long = "a-rather-long-peer-name-here"; // 28 columns
  repl.attach(
    { conversations: () => [], inboundRequests: () => [] } as never,
    { ...IDENTITY, name: long },
  );
  const done = repl.run();
  term.type("hello");
  await term.waitFor("hello");
  await repl.screen.flushed();
  const row = term.output.slice(term.output.lastIndexOf("\r\x1b[K") + 4);
  const drawn = stripAnsi(row); // the cursor's move back at its end is dropped too
  assert(textWidth(drawn) < 30, `${textWidth(drawn)} columns: ${drawn}`);
  assert(drawn.endsWith("hello"), drawn);
  term.type("\x15/quit\r");
  await done;
});

Deno.test("a hostile control port's error text reaches the terminal without its escapes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const root = await Deno.makeTempDir({ prefix: "ui_repl_edges" });
  // Clears the screen, sets the title, and writes to the clipboard (OSC 52).
  const hostile = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x9b31m evil";
  // It lets us in (NULL authentication), then refuses the first real command with it.
  const serve = async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    let text = "";
    for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
      for (let i; (i = text.indexOf("\r\n")) >= 0;) {
        const line = text.slice(0, i);
        text = text.slice(i + 2);
        const reply = line.startsWith("PROTOCOLINFO")
          ? '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.9.1"\r\n250 OK'
          : line === "AUTHENTICATE"
          ? "250 OK"
          : `552 ${hostile}`;
        await conn.write(enc(`${reply}\r\n`));
      }
    }
    conn.close();
    if (++served < 2) await serve();
  };
  let served = 0;
  const serving = serve();
  try {
    const term = new MemoryTerminal();
    const exit = await runInteractive({
      name: "alice",
      configRoot: root,
      terminal: term,
      onTermination: () => () => {},
      onStartInterrupt: () => () => {},
      start: (events) =>
        startPeer({
          name: "alice",
          configRoot: root,
          tor: { mode: "attach", controlPort: listener.addr.port },
          events,
        }),
    });
    assertEquals(exit, 1);
    assert(term.output.includes("Cannot start alice"), term.output);
    assert(term.output.includes("evil"), term.output);
    // deno-lint-ignore no-control-regex
    const escapes = term.output.replace(/\x1b\[K|\r/g, "").match(/[\x1b\x07\x9b]/g);
    assertEquals(escapes, null, JSON.stringify(term.output));
    // The machine interface: JSON escapes them on stdout; stderr is for a person.
    const json = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--config-dir", root, "--name", "bob", "--json"].concat(
        ["--control-port", String(listener.addr.port)],
      ),
      stdin: "null",
      signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    }).output();
    const stderr = new TextDecoder().decode(json.stderr);
    assert(stderr.includes("cannot start bob") && stderr.includes("evil"), stderr);
    // deno-lint-ignore no-control-regex
    assertEquals(stderr.match(/[\x1b\x07\x9b]/g), null, JSON.stringify(stderr));
  } finally {
    listener.close(); // a pending accept fails: the server ends
    await serving.catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SIGTERM stops the prompt and --json even when nothing reads their output", async () => {
  const root = await Deno.makeTempDir({ prefix: "ui_repl_edges" });
  try {
    for (
      const [ui, line] of [
        [[], "/help\n"],
        [["--json"], '{"cmd": "help"}\n'],
      ] as const
    ) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "--config-dir", root, "--name", "alice", ...ui].concat(
          ["--direct", `${root}/registry`],
        ),
        stdin: "piped",
        stdout: "piped", // never read: once the pipe is full, every write waits
        stderr: "null",
      }).spawn();
      const input = child.stdin.getWriter();
      // each answer is about 3 KB: far more than a pipe holds
      for (let i = 0; i < 200; i++) await input.write(enc(line));
      // the peer is up once its folder is locked; then the output backs up
      await until(
        () => exists(`${root}/peers/alice/profile.json`),
        "alice started",
        RUN_TIMEOUT_MS,
      );
      const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
      child.kill("SIGTERM");
      const status = await child.status;
      clearTimeout(timer);
      await input.close().catch(() => {});
      await child.stdout.cancel();
      // SIGKILL is ours, after the bound: SIGTERM did not stop it (a clean stop exits 0)
      assert(status.signal !== "SIGKILL", `${ui.join(" ") || "the prompt"} ignored SIGTERM`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
