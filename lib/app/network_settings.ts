/**
 * How a peer's launched tor reaches the network, stored per peer in
 * `peers/<name>/network.json` so that a bare relaunch keeps it: the built-in
 * bridge sets chosen (`--bridges obfs4|snowflake`, stored by name so that a
 * newer release brings newer lines), one's own bridge lines (`--bridge`,
 * `--bridges-file`) and the upstream proxy (`--proxy`). A start applies the
 * flags as a {@linkcode NetworkChange}: given bridges replace the stored
 * ones, `--no-bridges` and `--no-proxy` clear; no flag keeps what is stored.
 * The file is written (atomically, 0600) only when something changed, and
 * a damaged file is reported with its path, never overwritten.
 *
 * The file is plain JSON even for an encrypted peer: tor reads the same
 * lines from its torrc in `tor/`, which is not encrypted either.
 *
 * @module
 */

import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../store/atomic.ts";
import { isStoreError } from "../store/errors.ts";
import {
  type BridgeLine,
  bridgeTorrc,
  type BuiltinBridges,
  chosenBridges,
  isBuiltinBridges,
  MAX_BRIDGES,
  parseBridgeLine,
} from "../tor/bridges.ts";
import { BUILTIN_BRIDGES_SOURCE } from "../tor/builtin_bridges.ts";
import { describeProxy, parseProxy, type Proxy, proxyTorrc } from "../tor/proxy.ts";
import { TorError } from "../tor/errors.ts";
import type { PeerEvent } from "../peer/types.ts";

/** The file's name in the peer's folder. */
export const NETWORK_FILE = "network.json";
/** Version of the file's format. */
const NETWORK_FILE_VERSION = 1;

/** What is stored (and what an empty or missing file means: no bridges, no proxy). */
export interface NetworkSettings {
  /** Built-in bridge sets, by name. */
  builtin: BuiltinBridges[];
  /** One's own bridge lines. */
  bridges: string[];
  /** The upstream proxy URL (it may hold a password). */
  proxy?: string;
}

/** What the flags of one start ask for; an absent field keeps what is stored. */
export interface NetworkChange {
  /** New bridges (replacing the stored ones), or "clear" for none. */
  bridges?: { builtin: BuiltinBridges[]; lines: string[] } | "clear";
  /** A new proxy URL, or "clear" for none. */
  proxy?: string | "clear";
}

/** The settings in force, checked, and what they mean for tor. */
export interface AppliedNetwork {
  /** The settings (stored, with the flags applied). */
  settings: NetworkSettings;
  /** Every bridge line in use, checked (built-in ones included). */
  bridges: BridgeLine[];
  /** Lines to add to the launched tor's torrc. */
  torrc: string[];
  /** The proxy as shown to the user (no credentials), if any. */
  proxy?: string;
}

/** An empty setting: tor connects directly. */
export const NO_NETWORK_SETTINGS: NetworkSettings = { builtin: [], bridges: [] };

/** Path of the settings file in a peer folder. */
export function networkSettingsPath(peerDir: string): string {
  return join(peerDir, NETWORK_FILE);
}

function validate(value: unknown): NetworkSettings {
  const v = value as Record<string, unknown>;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TypeError("not an object");
  if (v["version"] !== NETWORK_FILE_VERSION) throw new TypeError("unknown version");
  const builtin = v["builtin"] ?? [];
  const bridges = v["bridges"] ?? [];
  if (
    !Array.isArray(builtin) || !builtin.every((b) => typeof b === "string" && isBuiltinBridges(b))
  ) {
    throw new TypeError("builtin must list obfs4 or snowflake");
  }
  if (!Array.isArray(bridges) || bridges.length > MAX_BRIDGES) {
    throw new TypeError(`bridges must be a list of at most ${MAX_BRIDGES} lines`);
  }
  for (const b of bridges) {
    if (typeof b !== "string") throw new TypeError("a bridge is not a string");
    parseBridgeLine(b);
  }
  const proxy = v["proxy"];
  if (proxy !== undefined) {
    if (typeof proxy !== "string") throw new TypeError("proxy is not a string");
    parseProxy(proxy);
  }
  return {
    builtin: builtin as BuiltinBridges[],
    bridges: bridges as string[],
    ...(proxy !== undefined ? { proxy: proxy as string } : {}),
  };
}

/** The stored settings; a missing file means none. @throws {StoreError} for a damaged file */
export async function loadNetworkSettings(peerDir: string): Promise<NetworkSettings> {
  try {
    return await readJson(networkSettingsPath(peerDir), validate);
  } catch (e) {
    if (isStoreError(e, "not_found")) return { ...NO_NETWORK_SETTINGS };
    throw e;
  }
}

/** `settings` with `change` applied (pure). */
export function changeSettings(settings: NetworkSettings, change: NetworkChange): NetworkSettings {
  const out: NetworkSettings = { ...settings };
  if (change.bridges === "clear") [out.builtin, out.bridges] = [[], []];
  else if (change.bridges) {
    out.builtin = [...new Set(change.bridges.builtin)];
    out.bridges = [...change.bridges.lines];
  }
  if (change.proxy === "clear") delete out.proxy;
  else if (change.proxy !== undefined) out.proxy = change.proxy;
  return out;
}

/** Characters a proxy credential may hold when tor hands it to a pluggable transport. */
const PT_CREDENTIAL = /^[A-Za-z0-9._~!$&'()*+,;=-]*$/;

/**
 * Tor gives its pluggable transports the proxy as a URL (`TOR_PT_PROXY`)
 * without escaping the credentials, and a transport cannot parse one with a
 * space or a URL delimiter in them (obfs4proxy exits): refuse those at once.
 */
function checkPtProxy(proxy: Proxy): void {
  if (PT_CREDENTIAL.test(proxy.username ?? "") && PT_CREDENTIAL.test(proxy.password ?? "")) return;
  throw new TorError(
    "invalid_proxy",
    "With bridges, the proxy's user name and password may hold only letters, digits and " +
      "._~!$&'()*+,;=- (tor passes them to the bridge transport unescaped); change them, or use " +
      "the proxy without bridges",
  );
}

/** Checks `settings` and builds tor's lines (finds the transport programs in `dirs`). */
export async function resolveNetwork(
  settings: NetworkSettings,
  dirs?: readonly string[],
): Promise<AppliedNetwork> {
  const bridges = chosenBridges({ builtin: settings.builtin, lines: settings.bridges });
  const proxy = settings.proxy === undefined ? undefined : parseProxy(settings.proxy);
  if (proxy && bridges.some((b) => b.transport !== undefined)) checkPtProxy(proxy);
  const torrc = [
    ...await bridgeTorrc(bridges, ...(dirs ? [dirs] : [])),
    ...(proxy ? proxyTorrc(proxy) : []),
  ];
  return { settings, bridges, torrc, ...(proxy ? { proxy: describeProxy(proxy) } : {}) };
}

/**
 * Loads the stored settings, applies `change`, checks the result (programs
 * included) and saves it if it differs. A check that fails saves nothing.
 *
 * @throws {StoreError} for a damaged file; {@linkcode TorError} `invalid_bridge`,
 *   `invalid_proxy` or `pt_not_found`
 */
export async function applyNetworkChange(
  peerDir: string,
  change: NetworkChange,
  dirs?: readonly string[],
): Promise<AppliedNetwork> {
  const stored = await loadNetworkSettings(peerDir);
  const settings = changeSettings(stored, change);
  const applied = await resolveNetwork(settings, dirs);
  if (JSON.stringify(settings) !== JSON.stringify(stored)) {
    await writeJsonAtomic(networkSettingsPath(peerDir), {
      version: NETWORK_FILE_VERSION,
      ...settings,
    });
  }
  return applied;
}

/** The `tor-network` event telling the user what a launched tor uses, if anything. */
export function networkEvent(n: AppliedNetwork): PeerEvent | undefined {
  if (n.bridges.length === 0 && n.proxy === undefined) return undefined;
  const transports = [...new Set(n.bridges.map((b) => b.transport ?? "plain"))];
  const parts: string[] = [];
  if (n.bridges.length > 0) {
    const builtin = n.settings.builtin.length > 0
      ? `, built in: ${n.settings.builtin.join(" and ")}; ${BUILTIN_BRIDGES_SOURCE}`
      : "";
    parts.push(`${n.bridges.length} ${transports.join(" and ")} bridge(s)${builtin}`);
  }
  if (n.proxy !== undefined) parts.push(`the proxy ${n.proxy}`);
  return {
    event: "tor-network",
    bridges: n.bridges.length,
    transports,
    builtin: [...n.settings.builtin],
    ...(n.proxy !== undefined ? { proxy: n.proxy } : {}),
    message: `Tor connects through ${parts.join(", and ")} (kept for this peer: ` +
      `${n.bridges.length > 0 ? "--no-bridges" : ""}${
        n.bridges.length > 0 && n.proxy !== undefined ? ", " : ""
      }${n.proxy !== undefined ? "--no-proxy" : ""} to stop)`,
  };
}

/** Whether `settings` configures anything. */
export function hasNetworkSettings(settings: NetworkSettings): boolean {
  return settings.builtin.length > 0 || settings.bridges.length > 0 ||
    settings.proxy !== undefined;
}
