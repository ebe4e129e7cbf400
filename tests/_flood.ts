/**
 * A stranger who floods a listener: many connections at once, each sending
 * packets that look like ours (version 1, a bucket length, random bytes)
 * or nothing, and reopened when the listener closes it. Shared by the flood
 * tests and the flood benchmark; it runs in the caller's process.
 *
 * Each connection slot reconnects at most once per `reconnectMs`: over tor
 * a stranger gets new connections only as fast as it gets rendezvous
 * circuits (8 streams each, then tor closes the circuit; PoW under load),
 * a few hundred a second at most, while on loopback it could open them as
 * fast as the listener accepts. The default keeps it at that realistic
 * rate: `connections` per second.
 *
 * @module
 */

import { encodeFrame } from "../lib/protocol/frame.ts";
import { PACKET_VERSION } from "../lib/protocol/packets.ts";
import { PADDING_BUCKETS } from "../lib/protocol/padding.ts";

/** A packet-shaped frame that belongs to nobody: version 1, the smallest bucket, random bytes. */
export function bogusFrame(): Uint8Array {
  const packet = crypto.getRandomValues(new Uint8Array(PADDING_BUCKETS[0]!));
  packet[0] = PACKET_VERSION;
  return encodeFrame(packet);
}

/** How a {@linkcode Flood} behaves. */
export interface FloodOptions {
  /** Connections kept open at once (each reopened when closed). */
  connections: number;
  /** Pause between two bogus frames on one connection; Infinity: silent connections. */
  everyMs: number;
  /** Least time between two connects of one slot (default 1000 ms). */
  reconnectMs?: number;
}

/** Counters of a running flood. */
export interface FloodStats {
  /** Connections opened. */
  opened: number;
  /** Bogus frames written. */
  frames: number;
}

/** A running flood against 127.0.0.1:`port`; `stop()` ends it and closes its sockets. */
export class Flood {
  readonly stats: FloodStats = { opened: 0, frames: 0 };
  readonly #port: number;
  readonly #options: FloodOptions;
  readonly #open = new Set<Deno.Conn>();
  readonly #workers: Promise<void>[] = [];
  readonly #wakers = new Set<() => void>();
  #stopped = false;

  constructor(port: number, options: FloodOptions) {
    this.#port = port;
    this.#options = options;
    for (let i = 0; i < options.connections; i++) this.#workers.push(this.#worker());
  }

  /** Attacker connections open right now (as the attacker sees them). */
  get open(): number {
    return this.#open.size;
  }

  /** Waits `ms`, or less if the flood stops meanwhile. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = this.#wakers;
      function done() {
        clearTimeout(timer);
        wake.delete(done);
        resolve();
      }
      wake.add(done);
    });
  }

  /** Ends the flood and closes its sockets. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wake of [...this.#wakers]) wake();
    for (const c of this.#open) {
      try {
        c.close();
      } catch {
        // closed by the listener meanwhile
      }
    }
    await Promise.all(this.#workers);
  }

  async #worker(): Promise<void> {
    const buf = new Uint8Array(256);
    const reconnectMs = this.#options.reconnectMs ?? 1000;
    let lastConnect = -Infinity;
    while (!this.#stopped) {
      const wait = lastConnect + reconnectMs - performance.now();
      if (wait > 0) await this.#sleep(wait);
      if (this.#stopped) break;
      lastConnect = performance.now();
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: this.#port });
      } catch {
        continue; // the listener is gone or saturated: try again at the next slot
      }
      this.stats.opened++;
      this.#open.add(conn);
      // the listener closing the socket ends the read
      const closed = conn.read(buf).then(() => true, () => true);
      let gone = false;
      void closed.then(() => (gone = true));
      while (!this.#stopped && !gone) {
        if (Number.isFinite(this.#options.everyMs)) {
          try {
            await conn.write(bogusFrame());
            this.stats.frames++;
          } catch {
            break;
          }
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const wait = Number.isFinite(this.#options.everyMs) ? this.#options.everyMs : 60_000;
        await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, wait)))]);
        clearTimeout(timer);
      }
      this.#open.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
      await closed;
    }
  }
}
