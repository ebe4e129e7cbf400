/**
 * Interoperability of our SMP (scripts/smp-peer.ts, MODP-1536) with
 * python-potr's SMPHandler (tests/potr_smp.py): the test relays JSON lines
 * between the two processes, in both roles, optionally tampering with one
 * integer in transit. Also runs our peer against itself over ristretto255.
 *
 * python3-potr is a CI dependency: its absence fails the test.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { readLines } from "../lib/lines.ts";

const ROOT = new URL("../", import.meta.url);
const PEER = new URL("scripts/smp-peer.ts", ROOT).pathname;
const POTR = new URL("tests/potr_smp.py", ROOT).pathname;
const CONFIG = new URL("deno.json", ROOT).pathname;
const PYTHON = "/usr/bin/python3";
/** A run that takes longer than this is a hang. */
const RUN_TIMEOUT_MS = 30_000;
/** Runs started at once (each is two processes). */
const CONCURRENCY = 4;

const SECRET = "6a1c9e0b5d3f2a7c8e4b1d0f9a2c5e7b3d6f8a1c4e7b0d2f5a8c1e4b7d0a3c6f";
const OTHER = "6a1c9e0b5d3f2a7c8e4b1d0f9a2c5e7b3d6f8a1c4e7b0d2f5a8c1e4b7d0a3c70";

type Impl = "ours" | "potr" | "ours-ristretto";
interface Result {
  result: "match" | "nomatch" | "abort";
  reason: string;
}
interface Tamper {
  /** The message whose integer is flipped on its way. */
  msg: "SMP1" | "SMP2" | "SMP3" | "SMP4";
  index: number;
}
interface Side {
  result: Result | null;
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  stderr: Promise<string>;
}

let potrChecked: Promise<void> | null = null;
function requirePotr(): Promise<void> {
  potrChecked ??= (async () => {
    let ok = false;
    try {
      const out = await new Deno.Command(PYTHON, { args: ["-c", "import potr.crypt"] }).output();
      ok = out.success;
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new Error(`${PYTHON} cannot import potr: install the Debian package python3-potr`);
    }
  })();
  return potrChecked;
}

function spawn(impl: Impl, role: string, secret: string): Side {
  const [cmd, args] = impl === "potr"
    ? [PYTHON, [POTR, "--role", role, "--secret-hex", secret]]
    : [Deno.execPath(), [
      "run",
      "--quiet",
      "--config",
      CONFIG,
      PEER,
      "--group",
      impl === "ours" ? "modp1536" : "ristretto255",
      "--role",
      role,
      "--secret-hex",
      secret,
    ]];
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  return { result: null, child, writer: child.stdin.getWriter(), stderr };
}

/** Longest line a side may print (its longest message is a few KiB). */
const MAX_SIDE_LINE_BYTES = 1 << 20;

/** Forwards `from`'s messages to `to`, flipping the tampered integer. */
async function pump(from: Side, to: Side, tamper: Tamper | undefined): Promise<void> {
  const encoder = new TextEncoder();
  for await (const line of readLines(from.child.stdout, MAX_SIDE_LINE_BYTES)) {
    if (line === null) throw new Error("a side printed an overlong line");
    if (line.trim() === "") continue;
    const data = JSON.parse(line);
    if ("result" in data) {
      from.result = data;
      continue;
    }
    if (tamper !== undefined && data.msg === tamper.msg) {
      const v = BigInt("0x" + data.mpis[tamper.index]) ^ 1n;
      data.mpis[tamper.index] = v.toString(16).padStart(data.mpis[tamper.index].length, "0");
    }
    await to.writer.write(encoder.encode(JSON.stringify(data) + "\n")).catch(() => {});
  }
  // The sender is finished: let the receiver see the end of its input.
  await to.writer.close().catch(() => {});
}

/** Runs one SMP between two processes; returns [initiator, responder] results. */
async function run(
  initiator: [Impl, string],
  responder: [Impl, string],
  tamper?: Tamper,
): Promise<[Result, Result]> {
  const a = spawn(initiator[0], "initiator", initiator[1]);
  const b = spawn(responder[0], "responder", responder[1]);
  const timer = setTimeout(() => {
    for (const s of [a, b]) {
      try {
        s.child.kill();
      } catch { /* already gone */ }
    }
  }, RUN_TIMEOUT_MS);
  try {
    await Promise.all([pump(a, b, tamper), pump(b, a, tamper)]);
    const [sa, sb] = await Promise.all([a.child.status, b.child.status]);
    const [ea, eb] = await Promise.all([a.stderr, b.stderr]);
    assert(sa.success && a.result !== null, `initiator failed (${sa.code}): ${ea}`);
    assert(sb.success && b.result !== null, `responder failed (${sb.code}): ${eb}`);
    return [a.result, b.result];
  } finally {
    clearTimeout(timer);
  }
}

/** Runs thunks with at most CONCURRENCY at a time. */
async function limited<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

Deno.test("smp interop: equal secrets match in both roles against python-potr", async () => {
  await requirePotr();
  const [r1, r2] = await limited([
    () => run(["ours", SECRET], ["potr", SECRET]),
    () => run(["potr", SECRET], ["ours", SECRET]),
  ]);
  assertEquals([r1![0].result, r1![1].result], ["match", "match"]);
  assertEquals([r2![0].result, r2![1].result], ["match", "match"]);
});

Deno.test("smp interop: different secrets do not match in both roles against python-potr", async () => {
  await requirePotr();
  const [r1, r2] = await limited([
    () => run(["ours", SECRET], ["potr", OTHER]),
    () => run(["potr", SECRET], ["ours", OTHER]),
  ]);
  // Our initiator: potr's responder aborts instead of sending SMP4.
  assertEquals(r1![1].result, "nomatch");
  assert(r1![0].result === "abort" && r1![0].reason.startsWith("smp_aborted"), r1![0].reason);
  // Our responder sends SMP4 on a mismatch (OTR v3); potr then decides too.
  assertEquals([r2![0].result, r2![1].result], ["nomatch", "nomatch"]);
});

/** Positions tampered per message: elements, challenges and responses. */
const TAMPERS: Tamper[] = [
  { msg: "SMP1", index: 0 }, // g2a
  { msg: "SMP1", index: 4 }, // c3
  { msg: "SMP2", index: 2 }, // D2
  { msg: "SMP2", index: 7 }, // Qb
  { msg: "SMP2", index: 10 }, // D6
  { msg: "SMP3", index: 0 }, // Pa
  { msg: "SMP3", index: 5 }, // Ra
  { msg: "SMP3", index: 7 }, // D7
  { msg: "SMP4", index: 0 }, // Rb
  { msg: "SMP4", index: 2 }, // D8
];

/** The message's sender is the initiator for SMP1 and SMP3. */
const fromInitiator = (t: Tamper) => t.msg === "SMP1" || t.msg === "SMP3";

Deno.test("smp interop: our side aborts on every tampered potr message", async () => {
  await requirePotr();
  const results = await limited(
    TAMPERS.map((t) => () =>
      fromInitiator(t)
        ? run(["potr", SECRET], ["ours", SECRET], t).then(([, ours]) => ours)
        : run(["ours", SECRET], ["potr", SECRET], t).then(([ours]) => ours)
    ),
  );
  results.forEach((r, i) => {
    const where = `${TAMPERS[i]!.msg}[${TAMPERS[i]!.index}]`;
    assertEquals(r.result, "abort", `${where}: ${r.reason}`);
    assert(/^smp_bad_(element|proof)/.test(r.reason), `${where}: ${r.reason}`);
  });
});

Deno.test("smp interop: python-potr rejects every tampered message of ours", async () => {
  await requirePotr();
  const results = await limited(
    TAMPERS.map((t) => () =>
      fromInitiator(t)
        ? run(["ours", SECRET], ["potr", SECRET], t).then(([, potr]) => potr)
        : run(["potr", SECRET], ["ours", SECRET], t).then(([potr]) => potr)
    ),
  );
  results.forEach((r, i) => {
    const where = `${TAMPERS[i]!.msg}[${TAMPERS[i]!.index}]`;
    assertEquals(r, { result: "abort", reason: "potr: rejected message" }, where);
  });
});

Deno.test("smp-peer runs against itself over ristretto255", async () => {
  const secret = SECRET.slice(1); // below the ristretto255 order
  const other = OTHER.slice(1);
  const [same, differ, tampered] = await limited([
    () => run(["ours-ristretto", secret], ["ours-ristretto", secret]),
    () => run(["ours-ristretto", secret], ["ours-ristretto", other]),
    () => run(["ours-ristretto", secret], ["ours-ristretto", secret], { msg: "SMP2", index: 6 }),
  ]);
  assertEquals([same![0].result, same![1].result], ["match", "match"]);
  assertEquals([differ![0].result, differ![1].result], ["nomatch", "nomatch"]);
  assertEquals(tampered![0].result, "abort");
  assert(/^smp_bad_(element|proof)/.test(tampered![0].reason), tampered![0].reason);
  assertEquals(tampered![1].result, "abort");
});

Deno.test("smp-peer rejects bad flags with exit status 2", async () => {
  for (
    const args of [
      ["--group", "p256", "--role", "initiator", "--secret-hex", "01"],
      ["--group", "modp1536", "--role", "bystander", "--secret-hex", "01"],
      ["--group", "modp1536", "--role", "initiator", "--secret-hex", "xyz"],
      ["--group", "modp1536", "--role", "initiator", "--secret-hex", "0"],
      ["--group", "modp1536", "--role", "initiator", "--secret-hex", "01", "--verbose"],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", CONFIG, PEER, ...args],
      stdin: "null",
    }).output();
    assertEquals(out.code, 2, args.join(" "));
    assert(new TextDecoder().decode(out.stderr).includes("Usage: smp-peer"), args.join(" "));
    assertEquals(out.stdout.length, 0);
  }
});
