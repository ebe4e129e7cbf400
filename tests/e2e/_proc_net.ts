/**
 * Which TCP connections a process has, read from Linux's /proc: its socket
 * inodes from `/proc/<pid>/fd`, matched against `/proc/<pid>/net/tcp` (the
 * table of its network namespace), so each connection is attributed to the
 * process that owns it (ss(8) can miss an owner while a process is busy).
 * Also a process's children, for a tor and the pluggable transports it runs.
 *
 * @module
 */

/** One TCP socket of a process (IPv4). */
export interface TcpSocket {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** proc(5) state names: LISTEN, ESTABLISHED, SYN_SENT, ... */
  state: string;
}

/** tcp_states.h, the values /proc/net/tcp prints in hex. */
const STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

/** `0100007F:1F90` → ["127.0.0.1", 8080] (the address is little-endian on the hosts we run). */
function endpoint(hex: string): [string, number] {
  const [ip, port] = hex.split(":") as [string, string];
  const octets = [0, 2, 4, 6].map((i) => parseInt(ip.slice(i, i + 2), 16)).reverse();
  return [octets.join("."), parseInt(port, 16)];
}

/** The TCP (IPv4) sockets `pid` holds now; empty if it is gone. */
export function tcpSockets(pid: number): TcpSocket[] {
  const inodes = new Set<string>();
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
    const out: TcpSocket[] = [];
    for (const line of Deno.readTextFileSync(`/proc/${pid}/net/tcp`).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const [localAddress, localPort] = endpoint(f[1]!);
      const [remoteAddress, remotePort] = endpoint(f[2]!);
      out.push({
        localAddress,
        localPort,
        remoteAddress,
        remotePort,
        state: STATES[f[3]!] ?? f[3]!,
      });
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * The connections `pid` opened (not those it accepted on one of its
 * listening ports), as `address:port` of the other end.
 */
export function outboundConnections(pid: number): string[] {
  const sockets = tcpSockets(pid);
  const listening = new Set(sockets.filter((s) => s.state === "LISTEN").map((s) => s.localPort));
  return sockets
    .filter((s) => s.state !== "LISTEN" && !listening.has(s.localPort) && s.remotePort !== 0)
    .map((s) => `${s.remoteAddress}:${s.remotePort}`);
}

/** The ports `pid` listens on. */
export function listeningPorts(pid: number): number[] {
  return tcpSockets(pid).filter((s) => s.state === "LISTEN").map((s) => s.localPort);
}

/**
 * PIDs of the live children of `pid`, with their command names: from
 * `/proc/<pid>/task/<tid>/children` (fast), else by scanning /proc.
 */
export function children(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  const add = (child: string, parent?: number) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${child}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === undefined || ppid === parent) out.push({ pid: Number(child), comm });
    } catch {
      // exited meanwhile
    }
  };
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const list = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
      for (const child of list.trim().split(/\s+/).filter((c) => c !== "")) add(child);
    }
    return out;
  } catch {
    out.length = 0;
  }
  for (const entry of Deno.readDirSync("/proc")) if (/^\d+$/.test(entry.name)) add(entry.name, pid);
  return out;
}
