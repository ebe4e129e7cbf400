/**
 * Direct mode across processes, for tests and benchmarks without tor: a
 * shared folder where each running peer writes `<onion host>.port` holding
 * its listener's port, and a transport that looks a contact's host up there
 * on every dial (so a restarted peer on a new port is found again). Nothing
 * here is used when tor is; it never listens or dials beyond 127.0.0.1.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { join } from "node:path";
import type { FramedConn } from "../net/framed_conn.ts";
import { NetError } from "../net/net_error.ts";
import { DirectTransport, type PeerAddress, type Transport } from "../net/transport.ts";

/** A valid host file name: an onion host (letters, digits, dots). */
const HOST_PATTERN = /^[a-z0-9.]{1,80}$/;
/** Longest port file read. */
const MAX_PORT_FILE_BYTES = 16;

/** Path of `host`'s port file in `dir`. */
function portFile(dir: string, host: string): string {
  if (!HOST_PATTERN.test(host)) throw new RangeError("Cannot use a host name as a file name");
  return join(dir, `${host}.port`);
}

/** Writes (atomically; `dir` created if missing) that `host` listens on 127.0.0.1:`port`. */
export async function registerDirect(dir: string, host: string, port: number): Promise<void> {
  const path = portFile(dir, host);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temp, String(port));
  await Deno.rename(temp, path);
}

/** Removes `host`'s port file, if any. */
export async function unregisterDirect(dir: string, host: string): Promise<void> {
  await Deno.remove(portFile(dir, host)).catch(() => {});
}

/** Dials contacts at the ports their processes registered in `dir`. */
export class RegistryTransport implements Transport {
  readonly #dir: string;
  readonly #direct = new DirectTransport();

  /** Dials through the port files in `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  async connect(
    address: PeerAddress,
    isolationKey: string,
    signal?: AbortSignal,
  ): Promise<FramedConn> {
    let text = "";
    try {
      const bytes = await Deno.readFile(portFile(this.#dir, address.host));
      text = new TextDecoder().decode(bytes.subarray(0, MAX_PORT_FILE_BYTES)).trim();
    } catch {
      throw new NetError("connection_refused", `${address.host} is not running`, {
        retryable: true,
      });
    }
    const port = Number(text);
    if (!isPort(port)) {
      throw new NetError("unknown_host", `No valid port is registered for ${address.host}`, {
        retryable: true,
      });
    }
    this.#direct.setPort(address.host, port);
    return await this.#direct.connect(address, isolationKey, signal);
  }
}
