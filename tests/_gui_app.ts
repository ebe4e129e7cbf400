/**
 * The GUI in-process for tests: the real local web server and GUI
 * application driving a real peer in direct mode (no tor), in a temporary
 * configuration folder; peers given the same `registry` find each other.
 * Also a plain peer without a GUI (a contact, or a stranger's process), and
 * a stranger's hand-made packets (signed requests among them) delivered to a
 * peer of that registry, and the raw lines of a request to the server.
 *
 * @module
 */

import { join } from "node:path";
import type { Rng } from "../lib/crypto/bytes.ts";
import { decodePublicKey, generateKeyPair } from "../lib/crypto/keys.ts";
import { generateOnionKey } from "../lib/crypto/onion.ts";
import { createRequest } from "../lib/protocol/handshake.ts";
import { RegistryTransport } from "../lib/app/direct_registry.ts";
import { GuiApp } from "../lib/gui/app.ts";
import { type GuiServer, startGuiServer } from "../lib/gui/server.ts";
import type { PeerEvent } from "../lib/peer.ts";
import { type RunningPeer, startPeer, storedPeer } from "../lib/runtime.ts";
import { listPeers } from "../lib/store/app_config.ts";
import { MIN_SCRYPT_N } from "../lib/store/vault.ts";

/** The smallest scrypt cost the vault accepts: tests need no real key stretching. */
export const FAST_SCRYPT = { N: MIN_SCRYPT_N, r: 8, p: 1 };

/** A GUI under test. */
export interface GuiSetup {
  server: GuiServer;
  app: GuiApp;
  /** Its diagnostics. */
  logs: string[];
  /** Its configuration folder. */
  root: string;
  /** Quits it and removes its folder. */
  close(): Promise<void>;
}

/**
 * A GUI with a real peer in direct mode; peers of one test share
 * `registry`. `now` is its peer's clock (default the real one).
 */
export async function guiSetup(registry?: string, now?: () => number): Promise<GuiSetup> {
  const root = await Deno.makeTempDir({ prefix: "um-gui-app-" });
  const logs: string[] = [];
  const app = new GuiApp({
    stored: (name) => storedPeer(root, name),
    peers: () => listPeers(root),
    start: (name, events, passphrase) =>
      startPeer({
        name,
        configRoot: root,
        tor: { mode: "direct", registryDir: registry ?? join(root, "registry") },
        events,
        scrypt: FAST_SCRYPT,
        ...(passphrase !== undefined ? { passphrase } : {}),
        ...(now !== undefined ? { now } : {}),
      }),
    remember: () => Promise.resolve(),
    log: (m) => logs.push(m),
  });
  const server = startGuiServer({
    onSocket: (s) => app.attach(s),
    identitySvg: () => app.identitySvg(),
  });
  return {
    server,
    app,
    logs,
    root,
    async close() {
      await app.quit();
      await server.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** A peer without a GUI in direct mode, recording its events. */
export interface PlainPeer {
  running: RunningPeer;
  events: PeerEvent[];
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/** Starts `name` in its own folder, reachable through `registry`. */
export async function plainPeer(name: string, registry: string): Promise<PlainPeer> {
  const root = await Deno.makeTempDir({ prefix: `um-gui-${name}-` });
  const events: PeerEvent[] = [];
  const running = await startPeer({
    name,
    configRoot: root,
    tor: { mode: "direct", registryDir: registry },
    events: (e) => void events.push(e),
    scrypt: FAST_SCRYPT,
  });
  return {
    running,
    events,
    async close() {
      await running.stop();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/**
 * A signed request from a fresh stranger (a throw-away identity and onion
 * key) who suggests `name`, to the peer whose identity key is `key`, made
 * at `now`: what anyone who knows the address can make by the hundred.
 */
export function strangerRequest(key: string, name: string, rng: Rng, now = Date.now()): Uint8Array {
  return createRequest({
    ownName: name,
    ownIdentity: generateKeyPair(rng),
    onionKey: generateOnionKey(rng),
    port: 50001,
    peerIdentityKey: decodePublicKey(key),
    rng,
    now,
  }).packet;
}

/** Writes `packets` to the peer whose onion is `onion` (in `registry`) on one connection. */
export async function deliverTo(
  registry: string,
  onion: string,
  packets: Uint8Array[],
): Promise<void> {
  const conn = await new RegistryTransport(registry).connect(
    { host: onion, port: 50001 },
    "stranger",
  );
  try {
    for (const packet of packets) await conn.send(packet);
  } finally {
    await conn.close();
  }
}

/** Runs one command of the machine interface on `server`'s peer, over a socket of its own. */
export async function guiCommand(
  server: GuiServer,
  cmd: string,
  args: string[] = [],
): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, {
    headers: { Origin: `http://127.0.0.1:${server.port}` },
  } as unknown as string);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${cmd}`)), COMMAND_WAIT_MS);
      ws.onopen = () => ws.send(JSON.stringify({ id: "probe", cmd, args }));
      ws.onerror = () => reject(new Error(`no socket for ${cmd}`));
      ws.onmessage = (e) => {
        const line = JSON.parse(e.data);
        if (line.id !== "probe") return;
        clearTimeout(timer);
        resolve(line);
      };
    });
  } finally {
    ws.close();
  }
}

/** Bound on one {@linkcode guiCommand}. */
const COMMAND_WAIT_MS = 15_000;

/** The Host header of a request to the GUI server `s`. */
export const host = (s: GuiServer) => `Host: 127.0.0.1:${s.port}`;

/** The lines of a raw WebSocket upgrade request to `s` (with `extra` headers, and the token if asked). */
export function upgrade(s: GuiServer, extra: string[], withToken = false): string[] {
  return [
    `GET /ws${withToken ? `?token=${s.token}` : ""} HTTP/1.1`,
    host(s),
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...extra,
  ];
}
