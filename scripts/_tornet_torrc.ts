/**
 * The torrc of each node of the private Tor network (`tornet.ts`), and the
 * keys and `DirAuthority` line of each authority: the
 * block every node shares (TestingTorNetwork, the DirAuthority lines, the
 * knobs that make a loopback network bootstrap in seconds, no exits), then
 * the lines of its role: directory authority, relay, client, or obfs4
 * bridge. The bridge is a relay with `BridgeRelay 1` and obfs4proxy as its
 * server transport; it stays out of the consensus (no bridge authority is
 * needed), and tor writes its finished `Bridge obfs4 ...` line to
 * `<datadir>/bridgelines` about a second after it starts.
 *
 * @module
 */

import { join } from "node:path";
import { runTool, TornetError } from "./_tornet_io.ts";

/** What a node's role lines need. */
export interface NodeSpec {
  role: "authority" | "relay" | "client" | "bridge";
  dataDir: string;
  orPort: number;
  dirPort: number;
  /** The bridge's obfs4 listener. */
  obfs4Port?: number;
  /** The obfs4 server program (obfs4proxy or lyrebird). */
  obfs4Program?: string;
}

/** Lines every node of the network shares. */
export function commonTorrc(resolv: string, dirLines: string[]): string[] {
  return [
    "TestingTorNetwork 1",
    "PathsNeededToBuildCircuits 0.67",
    "TestingDirAuthVoteGuard *",
    "TestingDirAuthVoteHSDir *",
    "TestingMinExitFlagThreshold 0",
    "V3AuthNIntervalsValid 2",
    "Address 127.0.0.1",
    "ServerDNSDetectHijacking 0",
    'ServerDNSTestAddresses ""',
    `ServerDNSResolvConfFile ${resolv}`,
    "AddressDisableIPv6 1",
    "ClientUseIPv6 0",
    "ShutdownWaitLength 0",
    // no exits: onion services need none, and nothing may leave loopback
    "ExitRelay 0",
    "ExitPolicy reject *:*",
    `__OwningControllerProcess ${Deno.pid}`,
    ...dirLines,
  ];
}

/** The lines of a node's role (after the common block and its name, folder and log). */
export function roleTorrc(n: NodeSpec): string[] {
  switch (n.role) {
    case "client":
      return [
        "SocksPort 127.0.0.1:auto ExtendedErrors",
        "ControlPort 127.0.0.1:auto",
        `ControlPortWriteToFile ${join(n.dataDir, "control_port")}`,
        "CookieAuthentication 1",
        // vanguards-lite keeps a set of second hops; in a network of five
        // relays a tor restarted on its old state can find none of that set
        // usable and sit at 95% ("Could not find a node that matches the
        // configured _HSLayer2Nodes set"). Peers launched on the network copy
        // this line (tests/e2e/_peer_process.ts networkTorrc).
        "VanguardsLiteEnabled 0",
      ];
    case "relay":
      return relay(n);
    case "authority":
      return [
        ...relay(n),
        `DirPort 127.0.0.1:${n.dirPort}`,
        "AuthoritativeDirectory 1",
        "V3AuthoritativeDirectory 1",
        "TestingV3AuthInitialVotingInterval 5",
        "TestingV3AuthInitialVoteDelay 2",
        "TestingV3AuthInitialDistDelay 2",
        "V3AuthVotingInterval 10",
        "V3AuthVoteDelay 2",
        "V3AuthDistDelay 2",
      ];
    case "bridge":
      return [
        ...relay(n),
        "BridgeRelay 1",
        // a bridge that publishes nowhere: no bridge authority, no warning about one
        "PublishServerDescriptor 0",
        `ServerTransportPlugin obfs4 exec ${n.obfs4Program}`,
        `ServerTransportListenAddr obfs4 127.0.0.1:${n.obfs4Port}`,
        "ExtORPort auto",
      ];
  }
}

function relay(n: NodeSpec): string[] {
  return ["AssumeReachable 1", "SocksPort 0", `ORPort 127.0.0.1:${n.orPort}`];
}

/** The finished bridge line tor wrote for its obfs4 listener on `port`, if it has yet. */
export async function readBridgeLine(dataDir: string, port: number): Promise<string | undefined> {
  const text = await Deno.readTextFile(join(dataDir, "bridgelines")).catch(() => "");
  const m = new RegExp(
    `^Bridge (obfs4 127\\.0\\.0\\.1:${port} [0-9A-F]{40} cert=\\S+ iat-mode=\\d)\\s*$`,
    "m",
  ).exec(text);
  return m?.[1];
}

/** What {@linkcode authorityLine} needs of an authority node. */
export interface AuthoritySpec {
  name: string;
  dataDir: string;
  orPort: number;
  dirPort: number;
  /** tor and tor-gencert executables. */
  tor: string;
  gencert: string;
  /** `performance.now()` bound on the tools' runs. */
  deadline: number;
}

/**
 * Makes an authority's keys (tor-gencert, then tor for the relay
 * fingerprint) and returns its `DirAuthority` line.
 */
export async function authorityLine(a: AuthoritySpec): Promise<string> {
  const keys = join(a.dataDir, "keys");
  await Deno.mkdir(keys, { recursive: true });
  await runTool(
    a.gencert,
    [
      "--create-identity-key",
      "--passphrase-fd",
      "0",
      "-m",
      "12",
      "-a",
      `127.0.0.1:${a.dirPort}`,
      "-i",
      join(keys, "authority_identity_key"),
      "-s",
      join(keys, "authority_signing_key"),
      "-c",
      join(keys, "authority_certificate"),
    ],
    a.name,
    a.deadline,
  );
  const cert = await Deno.readTextFile(join(keys, "authority_certificate"));
  const v3id = /^fingerprint ([0-9A-F]{40})$/m.exec(cert)?.[1];
  const out = await runTool(
    a.tor,
    [
      "--ignore-missing-torrc",
      "-f",
      "/nonexistent",
      "--DataDirectory",
      a.dataDir,
      "--ORPort",
      "1",
      "--list-fingerprint",
      "--quiet",
    ],
    a.name,
    a.deadline,
  );
  const fp = out.trim().split("\n").at(-1)?.split(" ").slice(1).join("");
  if (v3id === undefined || fp === undefined || !/^[0-9A-F]{40}$/.test(fp)) {
    throw new TornetError("tornet_keys", `Cannot read the keys of ${a.name}`, a.name);
  }
  return `DirAuthority ${a.name} orport=${a.orPort} no-v2 v3ident=${v3id} ` +
    `127.0.0.1:${a.dirPort} ${fp}`;
}
