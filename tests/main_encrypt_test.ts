/**
 * `--encrypt` and `$UNMESSAGE_PASSPHRASE` on the executable, run as real
 * processes in direct mode (`main.ts --json --direct <dir>`, stdin closed so
 * each run quits at once): the flag's parsing, a clear exit 2 without the
 * variable, an encrypted profile with it, a clear exit 1 (not a hang) when
 * restarting without it, and the refusal to convert a plain peer. These
 * runs use the default scrypt cost (~0.6 s per unlock): keep them few.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { CliUsageError, parseCli, usageText } from "../lib/app/cli_args.ts";
import { peerPaths } from "../lib/store/paths.ts";
import { isVaultEnvelope } from "../lib/store/vault.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Bound on one run of the executable. */
const RUN_TIMEOUT_MS = 30_000;

function pick(names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = Deno.env.get(n);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

async function run(dir: string, args: string[], passphrase?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "--json",
      "--config-dir",
      dir,
      "--direct",
      `${dir}/registry`,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    // no inherited passphrase; keep what deno needs to find its cache
    env: {
      ...pick(["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]),
      ...(passphrase !== undefined ? { UNMESSAGE_PASSPHRASE: passphrase } : {}),
    },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    const stdout = dec.decode(out.stdout);
    const events = stdout.trim() === "" ? [] : stdout.trim().split("\n").map((l) => JSON.parse(l));
    return { code: out.code, events, stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("parseCli() reads --encrypt (and -encrypt); the usage documents it", () => {
  assertEquals(parseCli(["--name", "a", "--encrypt"]).encrypt, true);
  assertEquals(parseCli(["-name", "a", "-encrypt", "-json"]).encrypt, true);
  assertEquals(parseCli(["--name", "a"]).encrypt, false);
  assertThrows(() => parseCli(["--encrypt=yes"]), CliUsageError);
  const usage = usageText("0.0.0");
  assert(usage.includes("--encrypt") && usage.includes("$UNMESSAGE_PASSPHRASE"), usage);
});

Deno.test("main --json --encrypt needs $UNMESSAGE_PASSPHRASE, and a restart without it fails clearly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await run(dir, ["--name", "enc", "--encrypt"]);
    assertEquals(missing.code, 2, missing.stderr);
    assert(missing.stderr.includes("$UNMESSAGE_PASSPHRASE"), missing.stderr);
    await Deno.stat(peerPaths(dir, "enc").profile).then(
      () => assert(false, "no profile may be created"),
      (e) => assert(e instanceof Deno.errors.NotFound, String(e)),
    );

    const created = await run(dir, ["--name", "enc", "--encrypt"], "s3cret pass");
    assertEquals(created.code, 0, created.stderr);
    const ready = created.events.find((e) => e.event === "ready");
    assert(ready?.identity.address.startsWith("enc@"), JSON.stringify(created.events));
    const profile = await Deno.readTextFile(peerPaths(dir, "enc").profile);
    assert(isVaultEnvelope(JSON.parse(profile)), profile);
    assert(!profile.includes("identitySecretKey") && !profile.includes("onionSeed"), profile);

    const locked = await run(dir, ["--name", "enc"]);
    assertEquals(locked.code, 1, locked.stderr);
    assertEquals(locked.events.map((e) => [e.event, e.code]), [["error", "passphrase_required"]]);
    assert(locked.stderr.includes("set $UNMESSAGE_PASSPHRASE"), locked.stderr);

    const wrong = await run(dir, ["--name", "enc"], "not it");
    assertEquals(wrong.code, 1, wrong.stderr);
    assertEquals(wrong.events[0]?.code, "bad_passphrase");

    // --encrypt on an encrypted peer changes nothing; the right passphrase opens it.
    const reopened = await run(dir, ["--name", "enc", "--encrypt"], "s3cret pass");
    assertEquals(reopened.code, 0, reopened.stderr);
    const again = reopened.events.find((e) => e.event === "ready");
    assertEquals(again?.identity.key, ready.identity.key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main --encrypt on an existing plain peer says conversion is not supported, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plain = await run(dir, ["--name", "pl"]);
    assertEquals(plain.code, 0, plain.stderr);
    const before = await Deno.readTextFile(peerPaths(dir, "pl").profile);
    assert(!isVaultEnvelope(JSON.parse(before)), "created in plain text");
    const r = await run(dir, ["--name", "pl", "--encrypt"], "pass");
    assertEquals(r.code, 2, r.stderr);
    assert(r.stderr.includes("converting an existing peer is not supported yet"), r.stderr);
    assertEquals(await Deno.readTextFile(peerPaths(dir, "pl").profile), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
