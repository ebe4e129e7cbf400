/**
 * The running peer's link to tor: a {@linkcode Transport} whose tor can be
 * replaced under it. The core is given this transport once, at start-up;
 * when tor dies and is relaunched (its SOCKS port changes with `SocksPort
 * auto`) or re-attached, the supervisor swaps the inner `TorTransport` and
 * control connection here, and the core's next dial goes through the new tor.
 * While no tor is usable, dials fail with a retryable error, so the
 * connector's back-off simply waits for it. Before each retry it sends
 * `SIGNAL NEWNYM` (`beforeRetry`): right after a contact's tor restarts, a
 * stale introduction circuit can stall a redial for minutes.
 *
 * It owns no process and no socket; `tor_supervisor.ts` drives it.
 *
 * @module
 */

import { NetError } from "../net/net_error.ts";
import type { FramedConn } from "../net/framed_conn.ts";
import { type PeerAddress, TorTransport, type Transport } from "../net/transport.ts";
import type { TorControl } from "../tor/control.ts";

/** Bound on the NEWNYM sent before a retry (docs/architecture.md, "Reaching a contact over tor"). */
const NEWNYM_TIMEOUT_MS = 5_000;

/** A transport through whichever tor is current. */
export class TorLink implements Transport {
  #inner: TorTransport | undefined;
  #control: TorControl | undefined;

  /** Points dials at a (new) tor: its SOCKS port and control connection. */
  attach(socksPort: number, control: TorControl): void {
    this.#control = control;
    this.#inner = new TorTransport({ socksPort });
  }

  /** Forgets the current tor (it died); dials fail as retryable until `attach`. */
  detach(): void {
    this.#inner = undefined;
    this.#control = undefined;
  }

  connect(address: PeerAddress, isolationKey: string, signal?: AbortSignal): Promise<FramedConn> {
    const inner = this.#inner;
    if (inner === undefined) {
      return Promise.reject(
        new NetError("connect_failed", "Tor is not running right now; retrying later", {
          retryable: true,
        }),
      );
    }
    return inner.connect(address, isolationKey, signal);
  }

  /**
   * NEWNYM before each retry (the connector calls it): a stale introduction
   * circuit can stall a redial for minutes after the contact's tor restarted.
   */
  async beforeRetry(): Promise<void> {
    const control = this.#control;
    if (control === undefined || control.isClosed) return;
    try {
      await control.request("SIGNAL NEWNYM", { timeoutMs: NEWNYM_TIMEOUT_MS });
    } catch {
      // Rate-limited or tor gone: the retry goes ahead anyway.
    }
  }
}
