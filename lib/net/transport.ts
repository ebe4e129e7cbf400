/**
 * How the core reaches a contact: the {@linkcode Transport} interface and its
 * two implementations.
 *
 * - {@linkcode TorTransport} dials the contact's onion service through tor's
 *   SOCKS port, with the isolation key as SOCKS username and password so tor
 *   puts each contact's streams on their own circuits (tor-spec
 *   `IsolateSOCKSAuth`, on by default). It is stateless about tor itself:
 *   the running peer's `app/tor_link.ts` wraps it, follows tor restarts and
 *   sends `SIGNAL NEWNYM` in the interface's `beforeRetry` (see
 *   docs/architecture.md, "Reaching a contact over tor").
 * - {@linkcode DirectTransport} maps onion hosts to local ports and dials
 *   127.0.0.1 directly, for tests without tor.
 *
 * Both return a {@linkcode FramedConn}; every failure is a typed error with a
 * `retryable` flag (`NetError` or tor's `SocksError`). Retrying is the
 * connector's job, not the transport's.
 *
 * @module
 */

import { socksConnect } from "../tor/socks.ts";
import { type ConnectionLimits, FramedConn, type NetLogger } from "./framed_conn.ts";
import { isRetryable, NetError } from "./net_error.ts";

/** Where a contact listens: an onion host (or any host a transport knows) and port. */
export interface PeerAddress {
  /** The onion host (56 characters and `.onion`), or a name a direct transport knows. */
  host: string;
  /** The onion service's virtual port. */
  port: number;
}

/** Opens framed connections to contacts. */
export interface Transport {
  /**
   * Opens one connection to `address`. `isolationKey` keeps different
   * contacts' streams apart (one key per contact). `signal` cancels the dial.
   *
   * @throws an error with a boolean `retryable` (`NetError`, `SocksError`)
   */
  connect(address: PeerAddress, isolationKey: string, signal?: AbortSignal): Promise<FramedConn>;
  /** Called by the connector before each retry (`app/tor_link.ts`: `SIGNAL NEWNYM`). */
  beforeRetry?(): Promise<void>;
}

/** Default bound on one onion dial (tor's own SOCKS timeout is 120 s). */
export const DEFAULT_TOR_CONNECT_TIMEOUT_MS = 60_000;
/** Default bound on one loopback dial. */
export const DEFAULT_DIRECT_CONNECT_TIMEOUT_MS = 5_000;
/** RFC 1929 §2: username and password are 1 to 255 bytes each. */
const MAX_ISOLATION_KEY_BYTES = 255;

/** Options of {@linkcode TorTransport}. */
export interface TorTransportOptions {
  /** Tor's SOCKS port on 127.0.0.1. */
  socksPort: number;
  /** Deadline of one dial (SOCKS handshake and onion rendezvous), in ms. */
  connectTimeoutMs?: number;
  /** Limits of each opened connection. */
  limits?: ConnectionLimits;
  /** Receives the opened connections' log records. */
  logger?: NetLogger;
}

function checkIsolationKey(key: string): void {
  const length = new TextEncoder().encode(key).length;
  if (length < 1 || length > MAX_ISOLATION_KEY_BYTES) {
    throw new RangeError(
      `Cannot connect: isolation key is ${length} bytes, not 1 to ${MAX_ISOLATION_KEY_BYTES}`,
    );
  }
}

function abortedError(signal: AbortSignal): NetError {
  return new NetError("connect_aborted", "Connecting was cancelled", { cause: signal.reason });
}

/** Dials contacts' onion services through tor's SOCKS port. */
export class TorTransport implements Transport {
  readonly #options: TorTransportOptions;
  #count = 0;

  /** A transport through the SOCKS port `options.socksPort`. */
  constructor(options: TorTransportOptions) {
    this.#options = options;
  }

  async connect(
    address: PeerAddress,
    isolationKey: string,
    signal?: AbortSignal,
  ): Promise<FramedConn> {
    checkIsolationKey(isolationKey);
    if (signal?.aborted) throw abortedError(signal);
    let tcp: Deno.TcpConn;
    try {
      tcp = await socksConnect({
        socksPort: this.#options.socksPort,
        host: address.host,
        port: address.port,
        // Same credentials for the same contact, different ones per contact:
        // tor's IsolateSOCKSAuth keeps their circuits apart.
        username: isolationKey,
        password: isolationKey,
        timeoutMs: this.#options.connectTimeoutMs ?? DEFAULT_TOR_CONNECT_TIMEOUT_MS,
      });
    } catch (e) {
      if (e instanceof Error && "retryable" in e) throw e; // SocksError: already classified
      throw new NetError("connect_failed", "Cannot connect through tor", {
        cause: e,
        retryable: isRetryable(e),
      });
    }
    // socksConnect cannot be cancelled; a dial that finishes after an abort is dropped.
    if (signal?.aborted) {
      tcp.close();
      throw abortedError(signal);
    }
    return new FramedConn(tcp, {
      ...this.#options.limits,
      label: `out#${++this.#count} tor`,
      ...(this.#options.logger ? { logger: this.#options.logger } : {}),
    });
  }
}

/** Options of {@linkcode DirectTransport}. */
export interface DirectTransportOptions {
  /** Initial map from host (e.g. an onion name) to local port. */
  ports?: Iterable<readonly [string, number]>;
  /** Deadline of one dial, in ms. */
  connectTimeoutMs?: number;
  /** Limits of each opened connection. */
  limits?: ConnectionLimits;
  /** Receives the opened connections' log records. */
  logger?: NetLogger;
}

/**
 * Dials 127.0.0.1 directly: each known host maps to a local port (the
 * address's own port is ignored). For tests and local experiments only.
 */
export class DirectTransport implements Transport {
  readonly #ports: Map<string, number>;
  readonly #options: DirectTransportOptions;
  #count = 0;

  /** A transport that knows the hosts of `options.ports` (more with `setPort`). */
  constructor(options: DirectTransportOptions = {}) {
    this.#ports = new Map(options.ports ?? []);
    this.#options = options;
  }

  /** Maps `host` to a local port (a restarted peer may move). */
  setPort(host: string, port: number): void {
    this.#ports.set(host, port);
  }

  /** Forgets `host`; dials to it then fail with `unknown_host`. */
  deletePort(host: string): void {
    this.#ports.delete(host);
  }

  async connect(
    address: PeerAddress,
    isolationKey: string,
    signal?: AbortSignal,
  ): Promise<FramedConn> {
    checkIsolationKey(isolationKey);
    const port = this.#ports.get(address.host);
    if (port === undefined) {
      throw new NetError("unknown_host", `No local port is known for ${address.host}`);
    }
    if (signal?.aborted) throw abortedError(signal);
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_DIRECT_CONNECT_TIMEOUT_MS;
    // A controller of our own: Deno ties the signal to the socket, so the
    // caller's long-lived signal must not reach it after the dial.
    const dial = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      dial.abort();
    }, timeoutMs);
    const onAbort = () => dial.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect({ hostname: "127.0.0.1", port, signal: dial.signal });
    } catch (e) {
      if (signal?.aborted) throw abortedError(signal);
      if (timedOut) {
        throw new NetError("connect_timeout", `Connecting took longer than ${timeoutMs} ms`, {
          cause: e,
          retryable: true,
        });
      }
      if (e instanceof Deno.errors.ConnectionRefused) {
        throw new NetError("connection_refused", `Nothing listens for ${address.host}`, {
          cause: e,
          retryable: true,
        });
      }
      throw new NetError("connect_failed", `Cannot connect to ${address.host}`, {
        cause: e,
        retryable: isRetryable(e),
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    return new FramedConn(tcp, {
      ...this.#options.limits,
      label: `out#${++this.#count} 127.0.0.1:${port}`,
      ...(this.#options.logger ? { logger: this.#options.logger } : {}),
    });
  }
}
