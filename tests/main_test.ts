/**
 * The executable's command line, run as a real process
 * (`deno run -A main.ts ...`): help and version without tor, flag mistakes
 * exit 2 with a message and the usage on stderr, unMessage 0.1's `-name`
 * spelling, and the last interface and peer remembered in config.json.
 * In-process checks of the flag parser cover the rest.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { CliUsageError, parseCli, torrcLines } from "../lib/app/cli_args.ts";
import { loadAppConfig } from "../lib/store/app_config.ts";
import { refusesFifo } from "./_fifo.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Bound on one run of the executable. */
const RUN_TIMEOUT_MS = 30_000;

async function run(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("main --help prints the usage on stdout and exits 0 without tor", async () => {
  const r = await run(["--help"]);
  assertEquals(r.code, 0);
  assert(r.stdout.includes("--name") && r.stdout.includes("--json"), r.stdout);
  assertEquals(r.stderr, "");
});

Deno.test("main --version prints the version from deno.json", async () => {
  const r = await run(["--version"]);
  assertEquals(r.code, 0);
  assert(/^unmessage \d+\.\d+\.\d+\n$/.test(r.stdout), r.stdout);
});

Deno.test("main rejects a wrong flag with a message and the usage on stderr, exit 2", async () => {
  for (
    const args of [["--nmae", "bob"], ["--name"], ["--port", "70000"], ["bob"], [
      "--socks-port",
      "9050",
    ]]
  ) {
    const r = await run(args);
    assertEquals(r.code, 2, args.join(" "));
    assertEquals(r.stdout, "", args.join(" "));
    assert(r.stderr.startsWith("unmessage: "), r.stderr);
    assert(r.stderr.includes("Usage:"), r.stderr);
  }
});

Deno.test("main with no peer used before says how to start one, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(["--config-dir", dir]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes("--name"), r.stderr);
    const bad = await run(["--config-dir", dir, "--name", "no/slash"]);
    assertEquals(bad.code, 2, bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main accepts unMessage 0.1's -name and remembers cli as the last interface", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Direct mode (no tor); stdin is empty, so the REPL ends at once.
    const r = await run(["-name", "carol", "-direct", `${dir}/registry`], { UNMESSAGE_HOME: dir });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await loadAppConfig(dir), { lastInterface: "cli", lastPeer: "carol" });
    // --json with no name relaunches carol, now as json; EOF quits cleanly.
    const j = await run(["--json", "--config-dir", dir, "--direct", `${dir}/registry`]);
    assertEquals(j.code, 0, j.stderr);
    const lines = j.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const ready = lines.find((l) => l.event === "ready");
    assert(ready?.identity.address.startsWith("carol@"), j.stdout);
    assertEquals(await loadAppConfig(dir), { lastInterface: "json", lastPeer: "carol" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: a FIFO given as --torrc-extra, --bridges-file or --control-password-file fails the start at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "main_fifo_test" });
  try {
    for (
      const flags of [
        ["--torrc-extra"],
        ["--bridges-file"],
        ["--control-port", "9", "--control-password-file"],
      ]
    ) {
      const e = await refusesFifo(async (fifo) => {
        const r = await run(["--config-dir", dir, "--name", "alice", "--json", ...flags, fifo]);
        throw new Error(`exit ${r.code}: ${r.stderr}`);
      });
      assert(e.message.startsWith("exit 1: "), e.message);
      assert(e.message.includes("not a regular file"), e.message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseCli() maps flags, single-dash long flags and attach options", () => {
  assertEquals(parseCli(["-name", "bob", "-json"]), {
    help: false,
    version: false,
    json: true,
    gui: false,
    noBrowser: false,
    encrypt: false,
    name: "bob",
  });
  const o = parseCli(["--name=a", "--control-port", "9051", "--socks-port", "9050", "--port", "1"]);
  assertEquals([o.controlPort, o.socksPort, o.port], [9051, 9050, 1]);
  assertEquals(parseCli(["-h"]).help, true);
  assertEquals(parseCli(["-V"]).version, true);
  assertThrows(() => parseCli(["--control-port", "9051", "--tor-path", "/x"]), CliUsageError);
  assertThrows(() => parseCli(["--port", "0"]), CliUsageError, "--port");
  assertThrows(() => parseCli(["--nmae", "x"]), CliUsageError, "did you mean --name?");
  assertThrows(() => parseCli(["--bogus"]), CliUsageError, "Unknown option --bogus");
  assertThrows(() => parseCli(["--direct", "/d", "--control-port", "1"]), CliUsageError);
  assertThrows(() => parseCli(["-x"]), CliUsageError);
  assertEquals(torrcLines("# c\n\nTestingTorNetwork 1\r\n  DirAuthority a \n"), [
    "TestingTorNetwork 1",
    "DirAuthority a",
  ]);
});
