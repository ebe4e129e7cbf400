/**
 * Memory under an unread stdout (issue 8 item 4): a real `main.ts --json
 * --direct` process whose stdout nobody reads is flooded with packets of
 * nobody's, 40 to a connection, and its resident memory must stay bounded.
 * Before the fix each dropped packet queued one `warning` line without
 * limit (80,000 packets grew memory by 234 MiB); now packets are counted
 * into aggregated warnings, a connection's first packet of nobody's closes
 * it, and the JSON writer drops warnings past its bound.
 *
 * Linux only: it reads the child's VmRSS from /proc.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { bogusFrame } from "./_flood.ts";
import { concatBytes } from "../lib/crypto/bytes.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Bogus packets sent in all (the count). */
const PACKETS = 80_000;
/** ... written at once on each connection. */
const PER_CONNECTION = 40;
/** Connections open at once while flooding. */
const PARALLEL = 20;
/** Growth of resident memory allowed: generous (the old code grew by 234 MiB). */
const MAX_GROWTH_MIB = 64;
/** Bound on the child's start (ready and registered). */
const START_TIMEOUT_MS = 30_000;

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kib / 1024;
}

async function listenerPort(registry: string): Promise<number> {
  const end = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < end) {
    try {
      for await (const e of Deno.readDir(registry)) {
        if (e.name.endsWith(".port")) {
          const port = Number((await Deno.readTextFile(`${registry}/${e.name}`)).trim());
          if (port > 0) return port;
        }
      }
    } catch {
      // not created yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the peer did not register within ${START_TIMEOUT_MS} ms`);
}

/** One connection: `PER_CONNECTION` packets in one write, then wait for the close (bounded). */
async function floodOne(port: number, burst: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(burst).catch(() => 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      conn.read(new Uint8Array(16)).catch(() => null),
      new Promise((r) => (timer = setTimeout(r, 2_000))),
    ]);
    clearTimeout(timer);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

Deno.test({
  name: "main --json: 80,000 packets of nobody's with stdout unread keep memory bounded",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "unmessage-unread-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--json",
        "--name",
        "bob",
        "--config-dir",
        dir,
        "--direct",
        `${dir}/registry`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const port = await listenerPort(`${dir}/registry`);
      const burst = concatBytes(...Array.from({ length: PER_CONNECTION }, () => bogusFrame()));
      // warm up (code compiled, buffers sized), then measure from there
      for (let i = 0; i < PARALLEL; i++) await floodOne(port, burst);
      const before = await rssMiB(child.pid);
      let left = PACKETS / PER_CONNECTION;
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        while (left-- > 0) await floodOne(port, burst);
      }));
      await new Promise((r) => setTimeout(r, 1_000));
      const after = await rssMiB(child.pid);
      const growth = after - before;
      console.log(
        `RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after ${PACKETS} packets ` +
          `(growth ${growth.toFixed(1)} MiB, bound ${MAX_GROWTH_MIB} MiB)`,
      );
      assert(growth < MAX_GROWTH_MIB, `memory grew by ${growth.toFixed(1)} MiB`);
    } finally {
      // stdout is full and never read, so it cannot quit cleanly: stop it
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel();
      await child.stdin.close().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
