/**
 * Private helpers of `tornet.ts`: its error type, the directory check that
 * gates the clients' start, free-port picking and bounded helper-tool runs.
 * Everything talks to 127.0.0.1 only.
 *
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { concatBytes } from "../lib/crypto/bytes.ts";
import { UnmessageError } from "../lib/errors.ts";

/** Bound on one helper tool run (key generation, fingerprint). */
const TOOL_TIMEOUT_MS = 30_000;
/** Bound on one directory fetch. */
const DIR_FETCH_TIMEOUT_MS = 3_000;
/** Bound on one directory reply (a 5-relay consensus is a few KiB). */
const DIR_FETCH_MAX_BYTES = 8 * 1024 * 1024;

/** Failure to start or drive the private network. */
export class TornetError extends UnmessageError {
  /** PIDs of every tor this start spawned (all ended when it throws). */
  pids: number[] = [];
  /** The node that failed, when one did. */
  readonly node: string | undefined;

  constructor(code: string, message: string, node?: string, options?: ErrorOptions) {
    super(code, message, options);
    this.node = node;
  }
}

/** Why an authority's consensus is not usable yet ("" when it is). */
export async function consensusGap(dirPort: number, routers: number): Promise<string> {
  const get = (path: string) => dirGet(dirPort, path);
  try {
    const consensus = await get("/tor/status-vote/current/consensus-microdesc");
    if (consensus === undefined) return "no consensus yet";
    const listed = consensus.match(/^r /gm)?.length ?? 0;
    const digests = [...consensus.matchAll(/^m (\S+)$/gm)].map((m) => m[1]!);
    if (listed < routers || digests.length < routers) return `${listed} of ${routers} relays`;
    // dir-spec: /tor/micro/d/<D> with D the "-"-joined base64 digests
    const micro = await get(`/tor/micro/d/${digests.join("-")}`);
    const served = micro?.match(/^onion-key/gm)?.length ?? 0;
    return served < digests.length ? `${served} of ${digests.length} microdescriptors` : "";
  } catch (e) {
    return `directory fetch failed: ${errorMessage(e)}`;
  }
}

/**
 * `GET path` from a directory port on 127.0.0.1 over a raw socket: the body
 * of a 200 reply, else undefined. Not `fetch`, which sends the request to
 * $HTTP_PROXY when that is set, away from loopback.
 */
async function dirGet(dirPort: number, path: string): Promise<string | undefined> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: dirPort });
  const timer = setTimeout(() => closeQuietly(conn), DIR_FETCH_TIMEOUT_MS);
  try {
    // identity: tor would otherwise answer with a compressed body
    const request = `GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n` +
      "Accept-Encoding: identity\r\n\r\n";
    const bytes = new TextEncoder().encode(request);
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    const chunks: Uint8Array[] = [];
    let size = 0;
    const buf = new Uint8Array(64 * 1024);
    for (let n; (n = await conn.read(buf)) !== null;) {
      size += n;
      if (size > DIR_FETCH_MAX_BYTES) {
        throw new Error(`directory reply exceeds ${DIR_FETCH_MAX_BYTES} bytes`);
      }
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(concatBytes(...chunks));
    const head = text.indexOf("\r\n\r\n");
    if (!/^HTTP\/1\.[01] 200 /.test(text) || head < 0) return undefined;
    return text.slice(head + 4);
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed (by the timeout)
  }
}

/** Ports that were free on 127.0.0.1 a moment ago (all held until all found). */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/** Runs a short helper tool with an empty stdin line, bounded in time. */
export async function runTool(
  cmd: string,
  args: string[],
  node: string,
  deadline: number,
): Promise<string> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const ms = Math.max(0, Math.min(TOOL_TIMEOUT_MS, deadline - performance.now()));
  const timer = setTimeout(() => signal(child, "SIGKILL"), ms);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("\n")).catch(() => {}); // empty passphrase
    await writer.close().catch(() => {});
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      if (out.signal !== null) {
        throw new TornetError("tornet_timeout", `${cmd} did not finish in time for ${node}`, node);
      }
      const tail = new TextDecoder().decode(out.stderr).trim() || text.trim();
      throw new TornetError("tornet_tool_failed", `${cmd} failed for ${node}: ${tail}`, node);
    }
    return text;
  } finally {
    clearTimeout(timer);
  }
}

export function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already exited
  }
}

export async function removeDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}
