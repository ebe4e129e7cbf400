import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { acquirePeerLock, readHolder } from "../lib/store/lock.ts";
import { StoreError } from "../lib/store/errors.ts";

const LOCK_URL = new URL("../lib/store/lock.ts", import.meta.url).href;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "um-store-lock-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface ChildReport {
  ok: boolean;
  code?: string;
  message?: string;
}

// a second Deno process that tries to lock `peerDir`, reports on its first
// stdout line, and (on success) holds the lock until killed
function spawnLocker(peerDir: string) {
  const code = `import { acquirePeerLock } from ${JSON.stringify(LOCK_URL)};
try {
  await acquirePeerLock(${JSON.stringify(peerDir)});
  console.log(JSON.stringify({ ok: true }));
  setInterval(() => {}, 1_000_000);
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const report = (async (): Promise<ChildReport> => {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    return JSON.parse(text.split("\n")[0]!);
  })();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
  };
  return { child, report, stop };
}

Deno.test("acquirePeerLock() refuses a second holder in the same process until release()", async () => {
  await withTempDir(async (dir) => {
    const peer = join(dir, "peers", "alice");
    const lock = await acquirePeerLock(peer);
    const e = await assertRejects(() => acquirePeerLock(peer), StoreError, "this process");
    assertEquals(e.code, "locked");
    assertEquals(e.path, lock.path);
    assertEquals((await readHolder(join(peer, "peer.lock.json")))?.pid, Deno.pid);
    await lock.release();
    await lock.release(); // idempotent
    // holder info is gone, the lock file itself stays (never unlinked)
    assertEquals(await readHolder(join(peer, "peer.lock.json")), undefined);
    assert((await Deno.stat(lock.path)).isFile);
    const again = await acquirePeerLock(peer);
    await again.release();
  });
});

Deno.test("acquirePeerLock() in a second process fails with locked, naming this PID and what to do", async () => {
  await withTempDir(async (dir) => {
    const peer = join(dir, "bob");
    const lock = await acquirePeerLock(peer);
    const { report, stop } = spawnLocker(peer);
    try {
      const r = await report;
      assertEquals(r.ok, false);
      assertEquals(r.code, "locked");
      assert(r.message!.includes(`process ${Deno.pid}`), r.message);
      assert(r.message!.includes("quit that unMessage first"), r.message);
    } finally {
      await stop();
      await lock.release();
    }
  });
});

Deno.test("a lock held by another process is refused, then taken over after that process is SIGKILLed", async () => {
  await withTempDir(async (dir) => {
    const peer = join(dir, "carol");
    const { child, report, stop } = spawnLocker(peer);
    let stopped = false;
    try {
      assertEquals((await report).ok, true);
      const e = await assertRejects(
        () => acquirePeerLock(peer),
        StoreError,
        `process ${child.pid}`,
      );
      assertEquals(e.code, "locked");
      await stop();
      stopped = true;
      // the dead holder left its peer.lock.json behind: stale, and harmless
      assertEquals((await readHolder(join(peer, "peer.lock.json")))?.pid, child.pid);
      const lock = await acquirePeerLock(peer);
      assertEquals((await readHolder(join(peer, "peer.lock.json")))?.pid, Deno.pid);
      await lock.release();
    } finally {
      if (!stopped) await stop();
    }
  });
});

Deno.test("two processes racing for one free lock: exactly one wins", async () => {
  await withTempDir(async (dir) => {
    const peer = join(dir, "dave");
    await Deno.mkdir(peer);
    const racers = [spawnLocker(peer), spawnLocker(peer), spawnLocker(peer)];
    try {
      const reports = await Promise.all(racers.map((r) => r.report));
      assertEquals(reports.filter((r) => r.ok).length, 1);
      for (const r of reports.filter((r) => !r.ok)) assertEquals(r.code, "locked");
    } finally {
      for (const r of racers) await r.stop();
    }
  });
});
