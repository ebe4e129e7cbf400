/**
 * Pure builders of control-port command lines (control-spec §3): each checks
 * its arguments and returns one line without CRLF, or throws
 * `TorError("invalid_argument")`. Nothing a caller passes can add a second
 * command (no CR, LF or stray spaces reach the line), and the secret in an
 * ADD_ONION key blob never appears in an error.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { TorError } from "./errors.ts";

/** One onion port mapping (control-spec §3.27 `Port=VirtPort[,Target]`). */
export interface OnionPort {
  /** The port clients connect to on the .onion address. */
  virtualPort: number;
  /** A local TCP port (on 127.0.0.1) or a target such as "127.0.0.1:8080". */
  target: number | string;
}

/** Extra ADD_ONION arguments. */
export interface AddOnionOptions {
  /** Flags such as "Detach", "DiscardPK" (control-spec §3.27). */
  flags?: string[];
  /** Maximum streams per rendezvous circuit (0..65535). */
  maxStreams?: number;
  /**
   * The proof-of-work defence (tor 0.4.8+ built with the `pow` module):
   * `PoWDefensesEnabled=1` with its priority queue's sustained rate and
   * burst of rendezvous requests (tor-manual HiddenServicePoWQueueRate/Burst).
   */
  powDefenses?: { queueRate: number; queueBurst: number };
}

/** Largest MaxStreams (§3.27 NumStreams: a 16-bit count). */
const MAX_STREAMS_LIMIT = 65535;
/** Largest PoW queue rate or burst we pass (tor takes any 32-bit value). */
const MAX_POW_QUEUE = 0x7fffffff;
/** A token of printable ASCII without spaces. */
const TOKEN = /^[\x21-\x7e]+$/;

function invalid(message: string): TorError {
  return new TorError("invalid_argument", message);
}

function isIntIn(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/**
 * `ADD_ONION <KeyType>:<KeyBlob> [Flags=..] [MaxStreams=..] [PoWDefensesEnabled=1
 * PoWQueueRate=.. PoWQueueBurst=..] Port=..` (§3.27).
 * Accepts "ED25519-V3:<base64>" (from `torKeyBlob`) or "NEW:ED25519-V3" /
 * "NEW:BEST"; RSA1024 (v2 onions) is refused.
 */
export function addOnionCommand(
  keyBlob: string,
  ports: readonly OnionPort[],
  options: AddOnionOptions = {},
): string {
  // Never echo the blob: it is the service's secret key.
  if (!/^(NEW:(BEST|ED25519-V3)|ED25519-V3:[A-Za-z0-9+/]+={0,2})$/.test(keyBlob)) {
    throw invalid("ADD_ONION needs an ED25519-V3 key blob or NEW");
  }
  if (ports.length === 0) throw invalid("ADD_ONION needs a port");
  const parts = ["ADD_ONION", keyBlob];
  const flags = options.flags ?? [];
  if (flags.some((f) => !/^[A-Za-z]+$/.test(f))) throw invalid("ADD_ONION flags are words");
  if (flags.length > 0) parts.push(`Flags=${flags.join(",")}`);
  if (options.maxStreams !== undefined) {
    if (!isIntIn(options.maxStreams, 0, MAX_STREAMS_LIMIT)) {
      throw invalid("ADD_ONION MaxStreams is 0..65535");
    }
    parts.push(`MaxStreams=${options.maxStreams}`);
  }
  if (options.powDefenses !== undefined) {
    const { queueRate, queueBurst } = options.powDefenses;
    if (!isIntIn(queueRate, 0, MAX_POW_QUEUE) || !isIntIn(queueBurst, 0, MAX_POW_QUEUE)) {
      throw invalid("ADD_ONION PoWQueueRate and PoWQueueBurst are non-negative integers");
    }
    parts.push("PoWDefensesEnabled=1", `PoWQueueRate=${queueRate}`, `PoWQueueBurst=${queueBurst}`);
  }
  for (const { virtualPort, target } of ports) {
    const t = typeof target === "number" ? `127.0.0.1:${target}` : target;
    const targetOk = typeof target === "number"
      ? isPort(target)
      : typeof t === "string" && TOKEN.test(t);
    if (!isPort(virtualPort) || !targetOk) {
      throw invalid(`ADD_ONION port ${virtualPort} is invalid`);
    }
    parts.push(`Port=${virtualPort},${t}`);
  }
  return parts.join(" ");
}

/** `DEL_ONION <ServiceID>` (§3.28), for a v3 ServiceID. */
export function delOnionCommand(serviceId: string): string {
  if (!/^[a-z2-7]{56}$/.test(serviceId)) throw invalid("DEL_ONION needs a v3 ServiceID");
  return `DEL_ONION ${serviceId}`;
}

/** `GETINFO <key>...` (§3.9). */
export function getInfoCommand(keys: readonly string[]): string {
  if (keys.length === 0 || keys.some((k) => !TOKEN.test(k))) {
    throw invalid("GETINFO needs keys without spaces");
  }
  return `GETINFO ${keys.join(" ")}`;
}

/** `SETEVENTS <name>...` (§3.4); no names turns all events off. */
export function setEventsCommand(names: readonly string[]): string {
  if (names.some((n) => !/^[A-Z_]+$/.test(n))) {
    throw invalid("Event names are upper-case words");
  }
  return ["SETEVENTS", ...names].join(" ");
}

/** `SIGNAL <name>` (§3.7), e.g. NEWNYM, SHUTDOWN, RELOAD. */
export function signalCommand(name: string): string {
  if (!/^[A-Z]+$/.test(name)) throw invalid("Signal names are upper-case words");
  return `SIGNAL ${name}`;
}
