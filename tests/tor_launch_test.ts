/**
 * launchTor() / attachTor() against the real tor with DisableNetwork 1: the
 * torrc and data directory, bootstrap reporting, stopping, tor dying, bad
 * paths and bad configurations. Every test stops its tor in `finally` and
 * checks that the PID is gone.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { TorError } from "../lib/tor/errors.ts";
import type { BootstrapStatus } from "../lib/tor/bootstrap.ts";
import { attachTor, findTor, launchTor, type TorProcess } from "../lib/tor/launch.ts";

const OFFLINE = ["DisableNetwork 1"];
/**
 * A dead-end network: one directory authority on 127.0.0.1:1, where nothing
 * listens, and no default fallbacks. Tor opens its SOCKS port and starts to
 * bootstrap, but every connection it tries is refused on loopback.
 */
const DEAD_END = [
  "TestingTorNetwork 1",
  "UseDefaultFallbackDirs 0",
  `DirAuthority deadend orport=1 no-v2 v3ident=${"B".repeat(40)} 127.0.0.1:1 ${"A".repeat(40)}`,
];

/** Bound on any wait in these tests. */
const WAIT_MS = 15_000;

async function isGone(pid: number): Promise<boolean> {
  return await Deno.stat(`/proc/${pid}`).then(() => false, () => true);
}

/** Runs `fn` with a fresh temp dir; stops `tor` (if set) and checks its PID is gone. */
async function withDir(
  fn: (dataDir: string, keep: (tor: TorProcess) => void) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "tor_launch_test" });
  const started: TorProcess[] = [];
  try {
    await fn(dataDir, (tor) => started.push(tor));
  } finally {
    for (const tor of started) {
      await tor.stop();
      assert(await isGone(tor.pid), `tor ${tor.pid} left running`);
    }
    await Deno.remove(dataDir, { recursive: true });
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test("launchTor() starts an owned tor, reports bootstrap and stops it", async () => {
  await withDir(async (dataDir, keep) => {
    const seen: BootstrapStatus[] = [];
    const t0 = performance.now();
    const tor = await launchTor({
      dataDir,
      extraTorrc: OFFLINE,
      waitForBootstrap: false,
      onProgress: (s) => seen.push(s),
      timeoutMs: WAIT_MS,
    });
    keep(tor);
    const launchMs = performance.now() - t0;
    assert(launchMs < WAIT_MS);
    // With DisableNetwork 1 tor stays at its first phase.
    assertEquals(seen[0], { progress: 0, tag: "starting", summary: "Starting" });
    assertEquals(tor.socksPort, undefined);
    assert(!(await isGone(tor.pid)));
    assertEquals((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
    const torrc = await Deno.readTextFile(`${dataDir}/torrc`);
    for (
      const line of [
        "ControlPort auto",
        "CookieAuthentication 1",
        "SocksPort auto ExtendedErrors",
        `__OwningControllerProcess ${Deno.pid}`,
        "DisableNetwork 1",
      ]
    ) assert(torrc.includes(line), `torrc lacks ${line}`);
    assert((await tor.logTail()).includes("Opened Control listener"));
    const exit = await tor.stop();
    assertEquals(exit, { code: 0, signal: null });
    assert(await isGone(tor.pid));
    assertEquals(await tor.stop(), exit); // idempotent
    assert(tor.control.isClosed);
  });
});

Deno.test("launchTor() uses a given SOCKS port and reads it back once listening", async () => {
  await withDir(async (dataDir, keep) => {
    // Find a free port, then let tor take it.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    const tor = await launchTor({
      dataDir,
      extraTorrc: DEAD_END,
      socksPort: port,
      socksFlags: [],
      waitForBootstrap: false,
      timeoutMs: WAIT_MS,
    });
    keep(tor);
    assertEquals(tor.socksPort, port);
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    assert((await Deno.readTextFile(`${dataDir}/torrc`)).includes(`SocksPort 127.0.0.1:${port}\n`));
  });
});

Deno.test("launchTor() follows STATUS_CLIENT events and reads the SOCKS listener", async () => {
  await withDir(async (dataDir, keep) => {
    const seen: BootstrapStatus[] = [];
    let sawWarning!: () => void;
    const warned = new Promise<void>((resolve) => sawWarning = resolve);
    const tor = await launchTor({
      dataDir,
      extraTorrc: DEAD_END,
      waitForBootstrap: false,
      onProgress: (s) => {
        seen.push(s);
        if (s.warning) sawWarning();
      },
      timeoutMs: WAIT_MS,
    });
    keep(tor);
    assert(tor.socksPort !== undefined && tor.socksPort > 0);
    const socks = await Deno.connect({ hostname: "127.0.0.1", port: tor.socksPort });
    socks.close();
    await within(warned, WAIT_MS, "a bootstrap warning");
    assertEquals(seen[0]?.progress, 0);
    const last = seen[seen.length - 1]!;
    assert(last.progress > 0 && last.progress < 100, JSON.stringify(seen));
    assertEquals(last.warning, "Connection refused");
    // Identical reports are not repeated.
    const keys = seen.map((s) => `${s.progress}/${s.tag}/${s.warning}`);
    for (let i = 1; i < keys.length; i++) assert(keys[i] !== keys[i - 1], keys.join(" "));
  });
});

Deno.test("killing tor rejects pending commands and resolves exited", async () => {
  await withDir(async (dataDir, keep) => {
    const tor = await launchTor({
      dataDir,
      extraTorrc: OFFLINE,
      waitForBootstrap: false,
      timeoutMs: WAIT_MS,
    });
    keep(tor);
    let closedBy: TorError | undefined;
    tor.control.onClose((reason) => closedBy = reason);
    // Freeze tor so the command is surely pending, then kill it by PID.
    Deno.kill(tor.pid, "SIGSTOP");
    const pending = tor.control.getInfo("version");
    Deno.kill(tor.pid, "SIGKILL");
    const e = await within(assertRejects(() => pending, TorError), WAIT_MS, "rejection");
    assertEquals(e.code, "control_closed");
    assertEquals(await within(tor.exited, WAIT_MS, "exit"), { code: 137, signal: "SIGKILL" });
    assertEquals(closedBy?.code, "control_closed");
    assert(await isGone(tor.pid));
  });
});

Deno.test("closing the owning control connection makes tor exit (TAKEOWNERSHIP)", async () => {
  await withDir(async (dataDir, keep) => {
    const tor = await launchTor({
      dataDir,
      extraTorrc: OFFLINE,
      waitForBootstrap: false,
      timeoutMs: WAIT_MS,
    });
    keep(tor);
    await tor.control.close();
    await within(tor.exited, WAIT_MS, "exit after close");
    // What matters is that tor exits; its status is tor's own business (tor
    // 0.4.9 was seen once to abort, status 134, on this shutdown path).
    assert(await isGone(tor.pid));
  });
});

Deno.test("launchTor() with a bogus tor path fails with tor_not_found and a hint", async () => {
  await withDir(async (dataDir) => {
    const e = await assertRejects(
      () => launchTor({ dataDir, torPath: `${dataDir}/no-such-tor`, timeoutMs: WAIT_MS }),
      TorError,
      "apt install tor",
    );
    assertEquals(e.code, "tor_not_found");
    assert(e.message.includes("brew install tor"));
    // A directory or a non-executable file is not a tor either.
    await Deno.writeTextFile(`${dataDir}/plain`, "");
    for (const path of [dataDir, `${dataDir}/plain`]) {
      assertEquals((await assertRejects(() => findTor(path), TorError)).code, "tor_not_found");
    }
    assert((await findTor()).endsWith("tor"));
  });
});

Deno.test("launchTor() reports tor exiting on a bad torrc with its output", async () => {
  await withDir(async (dataDir) => {
    const e = await assertRejects(
      () => launchTor({ dataDir, extraTorrc: ["NoSuchOption 1"], timeoutMs: WAIT_MS }),
      TorError,
    );
    assertEquals(e.code, "tor_exited");
    assert(e.message.includes("NoSuchOption"), e.message);
    const bad = await assertRejects(
      () => launchTor({ dataDir, extraTorrc: ["Log notice\nSocksPort 1"] }),
      TorError,
    );
    assertEquals(bad.code, "invalid_argument");
    // A data directory below a regular file cannot be made.
    await Deno.writeTextFile(`${dataDir}/file`, "");
    const unusable = await assertRejects(
      () => launchTor({ dataDir: `${dataDir}/file/tor` }),
      TorError,
    );
    assertEquals(unusable.code, "data_dir_unusable");
  });
});

Deno.test("launchTor() times out bootstrapping offline and leaves no tor behind", async () => {
  await withDir(async (dataDir) => {
    const before = new Set(await torPids());
    const seen: number[] = [];
    const e = await assertRejects(
      () =>
        launchTor({
          dataDir,
          extraTorrc: OFFLINE,
          timeoutMs: 1500,
          onProgress: (s) => seen.push(s.progress),
        }),
      TorError,
      "stuck at 0%",
    );
    assertEquals(e.code, "bootstrap_timeout");
    assertEquals(seen, [0]);
    const leftover = (await torPids()).filter((pid) => !before.has(pid));
    for (const pid of leftover) {
      // Only tors started from this test's data directory count.
      const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      assert(!cmd.includes(dataDir), `tor ${pid} from ${dataDir} left running`);
    }
  });
});

Deno.test("attachTor() authenticates to a running tor and never stops it", async () => {
  await withDir(async (dataDir, keep) => {
    const tor = await launchTor({
      dataDir,
      extraTorrc: OFFLINE,
      waitForBootstrap: false,
      timeoutMs: WAIT_MS,
    });
    keep(tor);
    const attached = await attachTor({
      controlPort: tor.controlPort,
      cookieFile: `${dataDir}/control_auth_cookie`,
      socksPort: 9,
    });
    assertEquals(attached.socksPort, 9);
    assert((await attached.control.getInfo("version")).get("version")!.startsWith("0."));
    await attached.close();
    // tor is still there and still answers its owner.
    assert((await tor.control.getInfo("version")).has("version"));
    assert(!(await isGone(tor.pid)));
    const bad = await assertRejects(
      () => attachTor({ controlPort: tor.controlPort, cookie: new Uint8Array(32) }),
      TorError,
    );
    assertEquals(bad.code, "auth_failed");
  });
});

async function torPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const comm = await Deno.readTextFile(`/proc/${entry.name}/comm`).catch(() => "");
    if (comm.trim() === "tor") pids.push(Number(entry.name));
  }
  return pids;
}
