/**
 * The stranger of flood_bench.ts, in a process of its own so that its CPU
 * is not the victim's: `deno run -A _flood_child.ts <port> <parallel>`
 * sends packets of nobody's to 127.0.0.1:<port>, one per connection, with
 * <parallel> connections at a time, reopening each as soon as the listener
 * closes it (no rate limit of its own: the worst a loopback stranger can
 * do). Every 200 ms it prints `judged <n>`: how many of its packets the
 * listener closed the connection after (judged, or closed to make room).
 * It runs until killed.
 *
 * @module
 */

import { bogusFrame } from "../_flood.ts";

/** How often the count is printed (ms). */
const REPORT_MS = 200;

const port = Number(Deno.args[0]);
const parallel = Number(Deno.args[1]);
let judged = 0;

async function one(): Promise<void> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    await new Promise((r) => setTimeout(r, 5));
    return;
  }
  try {
    await conn.write(bogusFrame());
    // the listener closes it once the packet was judged (or to make room)
    if ((await conn.read(new Uint8Array(16))) === null) judged++;
  } catch {
    // reset
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

setInterval(() => console.log(`judged ${judged}`), REPORT_MS);
await Promise.all(Array.from({ length: parallel }, async () => {
  for (;;) await one();
}));
