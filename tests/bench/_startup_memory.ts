/**
 * One start-up of the peer "alice" under the configuration root given as
 * the argument, in direct mode, for startup_bench.ts: prints, as JSON, the
 * milliseconds to `ready`, the CPU time (user and system, every thread) the
 * process spent meanwhile (what a loaded machine changes least), and the process's RSS
 * once started (after a garbage collection when the process runs with
 * `--expose-gc`).
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { DirectTransport } from "../../lib/net/transport.ts";
import { startPeer } from "../../lib/runtime.ts";

const configRoot = Deno.args[0]!;
const gc = (globalThis as { gc?: () => void }).gc;
const cpu0 = cpuUsage();
const t0 = performance.now();
const running = await startPeer({
  name: "alice",
  configRoot,
  tor: { mode: "direct", transport: new DirectTransport() },
  events: () => {},
  peerOptions: { dialOnStart: false },
});
const ms = performance.now() - t0;
const cpu = cpuUsage(cpu0);
gc?.();
await new Promise((r) => setTimeout(r, 50));
gc?.();
const rss = Deno.memoryUsage().rss;
console.log(JSON.stringify({
  ms,
  cpuMs: (cpu.user + cpu.system) / 1000,
  rss,
  conversations: running.peer.conversations().length,
}));
await running.stop();
