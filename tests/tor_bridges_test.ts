/**
 * Bridges, pluggable transports and proxies for the launched tor (issue 11
 * item 2), without a network: bridge lines and proxy URLs checked (bad ones
 * refused with a reason, nothing a torrc could be tricked with), the
 * transport programs found (or the package to install named), the torrc
 * lines, accepted by the real tor's `--verify-config`, and the per-peer
 * settings file (kept, changed, cleared, never overwritten when damaged).
 *
 * Snowflake needs its broker, reached over domain fronting on the internet,
 * so it cannot run here: its configuration (built-in lines, the
 * snowflake-client program, tor accepting the torrc) is what is tested.
 * obfs4 runs for real over the private network in tests/e2e/bridge_test.ts.
 *
 * @module
 */

import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { CliUsageError, parseCli } from "../lib/app/cli_args.ts";
import {
  MAX_TORRC_EXTRA_BYTES,
  networkChange,
  readBridgesFile,
  readTorrcExtra,
} from "../lib/app/network_flags.ts";
import { refusesFifo } from "./_fifo.ts";
import {
  applyNetworkChange,
  changeSettings,
  loadNetworkSettings,
  networkEvent,
  networkSettingsPath,
  NO_NETWORK_SETTINGS,
  resolveNetwork,
} from "../lib/app/network_settings.ts";
import {
  bridgeTorrc,
  chosenBridges,
  parseBridgeLine,
  parseBridgeLines,
} from "../lib/tor/bridges.ts";
import { BUILTIN_BRIDGES } from "../lib/tor/builtin_bridges.ts";
import { isTorError, TorError } from "../lib/tor/errors.ts";
import { findProgram } from "../lib/tor/find_tor.ts";
import { parseProxy, proxyTorrc } from "../lib/tor/proxy.ts";
import { isStoreError } from "../lib/store/errors.ts";

const FP = "D9A82D2F9C2F65A18407B1D2B764F130847F8B5D";
const OBFS4 = `obfs4 192.0.2.10:443 ${FP} cert=abc+/def= iat-mode=0`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tor_bridges_test" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Fake executables named `names` in a new folder (they are never run). */
async function fakePrograms(dir: string, names: string[]): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin, { recursive: true });
  for (const n of names) await Deno.writeTextFile(`${bin}/${n}`, "#!/bin/sh\n", { mode: 0o755 });
  return bin;
}

/** Runs the real tor's config check on `lines`; resolves with its exit code and output. */
async function verifyConfig(dir: string, lines: string[]): Promise<{ code: number; out: string }> {
  const torrc = `${dir}/torrc`;
  await Deno.writeTextFile(
    torrc,
    [`DataDirectory ${dir}/data`, "SocksPort 0", "DisableNetwork 1", ...lines, ""].join("\n"),
  );
  const r = await new Deno.Command("tor", {
    args: ["--verify-config", "-f", torrc, "--defaults-torrc", "/dev/null"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("parseBridgeLine(): bridge lines as handed out or as in a torrc; anything else refused with a reason", () => {
  assertEquals(parseBridgeLine(`Bridge  ${OBFS4} `), {
    transport: "obfs4",
    address: "192.0.2.10:443",
    fingerprint: FP,
    line: OBFS4,
  });
  assertEquals(parseBridgeLine(`192.0.2.1:9001 $${FP.toLowerCase()}`).line, `192.0.2.1:9001 ${FP}`);
  assertEquals(parseBridgeLine("[2001:db8::1]:443").transport, undefined);
  for (const set of Object.values(BUILTIN_BRIDGES)) for (const l of set) parseBridgeLine(l);
  const bad: [string, string][] = [
    ["", "empty"],
    ["obfs4", "address"],
    ["obfs5 1.2.3.4:1", "unknown transport"],
    ["obfs4 1.2.3.256:1", "address"],
    ["obfs4 1.2.3.4:0", "address"],
    ["obfs4 1.2.3.4:65536", "address"],
    ["obfs4 example.com:443", "address"],
    [`${OBFS4}\nExitRelay 1`, "printable"],
    [`${OBFS4} # comment`, "argument"],
    [`${OBFS4} cert="x"`, "argument"],
    [`${OBFS4} cert=a\\b`, "argument"],
    [`${OBFS4} naked`, "argument"],
    ["obfs4 1.2.3.4:1 " + "k=v ".repeat(600), "longer than"],
  ];
  for (const [line, why] of bad) {
    const e = assertThrows(() => parseBridgeLine(line), TorError, why);
    assertEquals(e.code, "invalid_bridge", line);
  }
  assertEquals(parseBridgeLines(`# mine\n\n${OBFS4}\r\n  Bridge 192.0.2.1:1\n`).length, 2);
  assertThrows(() => parseBridgeLines(`${OBFS4}\nbogus`), TorError, "Line 2");
});

Deno.test("bridgeTorrc(): one ClientTransportPlugin per program, a Bridge per line; a missing program names its package", async () => {
  await withDir(async (dir) => {
    const snowflake = chosenBridges({ builtin: ["snowflake"] });
    assertEquals(snowflake.length, 2);
    const bin = await fakePrograms(dir, ["obfs4proxy", "snowflake-client"]);
    const both = await bridgeTorrc([...chosenBridges({ lines: [OBFS4] }), ...snowflake], [bin]);
    assertEquals(both.slice(0, 3), [
      "UseBridges 1",
      `ClientTransportPlugin obfs4 exec ${bin}/obfs4proxy`,
      `ClientTransportPlugin snowflake exec ${bin}/snowflake-client`,
    ]);
    assertEquals(both.slice(3), [`Bridge ${OBFS4}`, ...snowflake.map((b) => `Bridge ${b.line}`)]);
    // lyrebird, where present, serves both
    const lyre = await fakePrograms(`${dir}/l`, ["lyrebird"]);
    assertEquals(
      (await bridgeTorrc([...chosenBridges({ lines: [OBFS4] }), ...snowflake], [lyre]))[1],
      `ClientTransportPlugin obfs4,snowflake exec ${lyre}/lyrebird`,
    );
    assertEquals(await bridgeTorrc([], [bin]), []);
    assertEquals(await bridgeTorrc(chosenBridges({ lines: ["192.0.2.1:1"] }), []), [
      "UseBridges 1",
      "Bridge 192.0.2.1:1",
    ]);
    const none = await fakePrograms(`${dir}/n`, []);
    const e = await assertRejects(() => bridgeTorrc(snowflake, [none]), TorError);
    assertEquals(e.code, "pt_not_found");
    assert(e.message.includes("sudo apt install snowflake-client"), e.message);
    const o = await assertRejects(() => bridgeTorrc(chosenBridges({ lines: [OBFS4] }), [none]));
    assert(o.message.includes("sudo apt install obfs4proxy"), o.message);
  });
});

Deno.test("--bridges snowflake: the built-in lines and the real snowflake-client make a torrc the real tor accepts (no broker here, so it is not run)", async () => {
  const program = await findProgram(["snowflake-client"]);
  assert(program !== undefined, "snowflake-client is not installed (.ci/run installs it)");
  await withDir(async (dir) => {
    const applied = await resolveNetwork({ builtin: ["snowflake"], bridges: [] });
    assertEquals(applied.torrc[1], `ClientTransportPlugin snowflake exec ${program}`);
    for (const line of BUILTIN_BRIDGES.snowflake) {
      assert(applied.torrc.includes(`Bridge ${line}`), line);
      // snowflake-client 2.5.1 (Debian 12) reads front=, newer ones fronts=
      assert(/ front=\S+/.test(line) && / fronts=\S+/.test(line), line);
    }
    const check = await verifyConfig(dir, applied.torrc);
    assertEquals(check.code, 0, check.out);
    // and obfs4 with the real obfs4proxy, for comparison
    const obfs4 = await resolveNetwork({ builtin: ["obfs4"], bridges: [] });
    assertEquals((await verifyConfig(dir, obfs4.torrc)).code, 0);
    // a line tor itself would refuse is refused by tor too (the check is real)
    assertEquals((await verifyConfig(dir, ["UseBridges 1", "Bridge obfs4 bogus"])).code, 1);
  });
});

Deno.test("parseProxy()/proxyTorrc(): socks5, socks4, https with credentials; the real tor accepts them; bad URLs are refused without echoing secrets", async () => {
  assertEquals(proxyTorrc(parseProxy("socks5://127.0.0.1:1080")), ["Socks5Proxy 127.0.0.1:1080"]);
  assertEquals(proxyTorrc(parseProxy("socks5://me:p%20a%22ss@[::1]:9050")), [
    "Socks5Proxy [::1]:9050",
    'Socks5ProxyUsername "me"',
    'Socks5ProxyPassword "p a\\"ss"',
  ]);
  assertEquals(proxyTorrc(parseProxy("HTTPS://u:pw@proxy.example:3128/")), [
    "HTTPSProxy proxy.example:3128",
    'HTTPSProxyAuthenticator "u:pw"',
  ]);
  assertEquals(proxyTorrc(parseProxy("http://proxy.example:8080")), [
    "HTTPSProxy proxy.example:8080",
  ]);
  assertEquals(proxyTorrc(parseProxy("socks4://10.0.0.1:1080")), ["Socks4Proxy 10.0.0.1:1080"]);
  for (
    const bad of [
      "socks5://host",
      "socks5://host:0",
      "ftp://host:21",
      "socks5://host:1/path",
      "socks4://u:secret@host:1",
      "socks5://:secret@host:1",
      "socks5://u%0Aa:secret@host:1",
      "https://a%3Ab:secret@host:1",
      "socks5://u:%zz@host:1",
      "socks5://host:1\nExitRelay 1",
    ]
  ) {
    const e = assertThrows(() => parseProxy(bad), TorError);
    assertEquals(e.code, "invalid_proxy", bad);
    assert(!e.message.includes("secret"), e.message);
  }
  await withDir(async (dir) => {
    const lines = [
      ...proxyTorrc(parseProxy("socks5://me:p%20a%22ss@127.0.0.1:9")),
    ];
    const check = await verifyConfig(dir, lines);
    assertEquals(check.code, 0, check.out);
    const https = await verifyConfig(dir, proxyTorrc(parseProxy("https://u:p%20w@127.0.0.1:9")));
    assertEquals(https.code, 0, https.out);
  });
});

Deno.test("network.json: flags replace, a bare start keeps, --no-* clears; written 0600 only on change; a damaged file is never overwritten", async () => {
  await withDir(async (dir) => {
    const bin = await fakePrograms(dir, ["obfs4proxy"]);
    const path = networkSettingsPath(dir);
    assertEquals(await loadNetworkSettings(dir), NO_NETWORK_SETTINGS);
    // nothing asked, nothing stored: no file
    await applyNetworkChange(dir, {}, [bin]);
    assertEquals(await Deno.stat(path).then(() => true, () => false), false);

    const set = await applyNetworkChange(dir, {
      bridges: { builtin: ["obfs4", "obfs4"], lines: [OBFS4] },
      proxy: "socks5://u:pw@127.0.0.1:1080",
    }, [bin]);
    assertEquals(set.bridges.length, BUILTIN_BRIDGES.obfs4.length + 1);
    assertEquals(set.proxy, "socks5://127.0.0.1:1080 (with a password)");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    const event = networkEvent(set)!;
    assert(event.event === "tor-network" && event.message.includes("--no-bridges, --no-proxy"));
    assert(!JSON.stringify(event).includes("pw"), "the proxy password is shown");

    const before = (await Deno.stat(path)).mtime!.getTime();
    await new Promise((r) => setTimeout(r, 20));
    const kept = await applyNetworkChange(dir, {}, [bin]);
    assertEquals(kept.settings, set.settings);
    assertEquals((await Deno.stat(path)).mtime!.getTime(), before, "rewritten without a change");

    const noProxy = await applyNetworkChange(dir, { proxy: "clear" }, [bin]);
    assertEquals(noProxy.proxy, undefined);
    assertEquals(noProxy.settings.builtin, ["obfs4"]);
    const none = await applyNetworkChange(dir, { bridges: "clear" }, [bin]);
    assertEquals([none.torrc, networkEvent(none)], [[], undefined]);

    // a change whose program is missing is not saved
    await assertRejects(() =>
      applyNetworkChange(dir, { bridges: { builtin: ["snowflake"], lines: [] } }, [bin])
    );
    assertEquals((await loadNetworkSettings(dir)).builtin, []);

    // tor hands the proxy to the transport unescaped: a space would make obfs4proxy exit
    const spaced = await assertRejects(
      () =>
        applyNetworkChange(dir, {
          bridges: { builtin: ["obfs4"], lines: [] },
          proxy: "socks5://u:p%20w@127.0.0.1:1",
        }, [bin]),
      TorError,
      "unescaped",
    );
    assertEquals(spaced.code, "invalid_proxy");
    // without bridges tor alone uses the proxy, and takes any password
    await applyNetworkChange(dir, { proxy: "socks5://u:p%20w@127.0.0.1:1" }, [bin]);
    await applyNetworkChange(dir, {
      bridges: { builtin: ["obfs4"], lines: [] },
      proxy: "socks5://u:p!w@127.0.0.1:1",
    }, [bin]);
    await applyNetworkChange(dir, { bridges: "clear", proxy: "clear" }, [bin]);

    // damaged: reported with its path, left as it was, even when flags would change it
    await Deno.writeTextFile(path, '{"version":1,"bridges":["obfs4 bogus"]}');
    const e = await assertRejects(() => applyNetworkChange(dir, { bridges: "clear" }, [bin]));
    assert(isStoreError(e) && e.message.includes(path), String(e));
    assertEquals(await Deno.readTextFile(path), '{"version":1,"bridges":["obfs4 bogus"]}');
  });
});

Deno.test("bridge and proxy flags: checked at once, conflicts refused, files read bounded", async () => {
  const o = parseCli([
    "--bridges",
    "obfs4",
    "--bridges=snowflake",
    "--bridge",
    `Bridge ${OBFS4}`,
    "--proxy",
    "socks5://127.0.0.1:9050",
  ]);
  assertEquals([o.builtinBridges, o.bridgeLines, o.proxy], [
    ["obfs4", "snowflake"],
    [OBFS4],
    "socks5://127.0.0.1:9050",
  ]);
  assertEquals(await networkChange(o), {
    bridges: { builtin: ["obfs4", "snowflake"], lines: [OBFS4] },
    proxy: "socks5://127.0.0.1:9050",
  });
  assertEquals(await networkChange(parseCli(["--no-bridges", "--no-proxy"])), {
    bridges: "clear",
    proxy: "clear",
  });
  assertEquals(await networkChange(parseCli([])), {});
  for (
    const args of [
      ["--bridges", "meek"],
      ["--bridge", "obfs4 nowhere"],
      ["--proxy", "socks5://nohost"],
      ["--no-bridges", "--bridges", "obfs4"],
      ["--no-proxy", "--proxy", "socks5://h:1"],
      ["--control-port", "1", "--bridges", "obfs4"],
      ["--direct", "/d", "--no-proxy"],
    ]
  ) assertThrows(() => parseCli(args), CliUsageError);
  await withDir(async (dir) => {
    const file = `${dir}/bridges.txt`;
    await Deno.writeTextFile(file, `# from bridges.torproject.org\n${OBFS4}\n`);
    assertEquals(await readBridgesFile(file), [OBFS4]);
    await Deno.writeTextFile(file, "# nothing\n");
    assert(isTorError(await assertRejects(() => readBridgesFile(file)), "invalid_bridge"));
    await Deno.writeTextFile(file, "x".repeat(300_000));
    const big = await assertRejects(() => readBridgesFile(file));
    assert(big.message.includes("larger than"), big.message);
    assert((await assertRejects(() => readBridgesFile(`${dir}/none`))).message.includes("none"));
  });
  assertEquals(
    changeSettings(NO_NETWORK_SETTINGS, { proxy: "socks5://h:1" }).proxy,
    "socks5://h:1",
  );
});

Deno.test("readBridgesFile(), readTorrcExtra(): a FIFO is refused at once, a huge torrc too", async () => {
  for (const read of [readBridgesFile, readTorrcExtra]) {
    const e = await refusesFifo(read);
    assert(isTorError(e) && e.message.includes("not a regular file"), String(e));
  }
  await withDir(async (dir) => {
    const file = `${dir}/torrc`;
    await Deno.writeTextFile(file, "# mine\nTestingTorNetwork 1\n");
    assertEquals(await readTorrcExtra(file), ["TestingTorNetwork 1"]);
    await Deno.writeTextFile(file, "#".repeat(MAX_TORRC_EXTRA_BYTES + 1));
    const big = await assertRejects(() => readTorrcExtra(file));
    assert(isTorError(big, "invalid_argument") && big.message.includes("larger than"), String(big));
  });
});
