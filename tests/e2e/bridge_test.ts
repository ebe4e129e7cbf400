/**
 * A peer whose tor reaches the network only through an obfs4 bridge (issue
 * 11 item 2), end to end on the private Tor network: `scripts/tornet.ts`
 * runs an obfs4 bridge on 127.0.0.1 (BridgeRelay 1, obfs4proxy as its server
 * transport); bob's launched tor is given its line with `--bridge` and
 * holds a full conversation with alice (on a client tor of the network).
 *
 * All along, bob's tor and the obfs4proxy it runs are watched through /proc
 * (each socket attributed to its owner): tor's only outbound connections go
 * to its obfs4proxy's SOCKS listener (and to bob's own listener, which its
 * onion service streams lead to), obfs4proxy's only ones to the bridge's
 * obfs4 port, and none goes to an authority or relay; tor's own list of OR
 * connections names the bridge alone. `tor-log` shows tor's bootstrap. Then
 * bob restarts with no bridge flag: the bridge, kept in network.json, is
 * used again; then with `--proxy socks5://user:pass@…` (a test proxy on
 * 127.0.0.1): obfs4proxy reaches the bridge through it, with the password;
 * then `--no-proxy --no-bridges` clear both.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { tornetTest } from "../_tornet.ts";
import type { TornetClient } from "../../scripts/tornet.ts";
import { TorControl } from "../../lib/tor/control.ts";
import { networkTorrc, PeerProcess, until } from "./_peer_process.ts";
import { children, listeningPorts, outboundConnections } from "./_proc_net.ts";
import { socksProxy } from "./_socks_proxy.ts";

/** Bound on one hop over tor (first contact with a fresh onion can take ~20 s). */
const TOR_HOP_MS = 90_000;
/** Interval of the connection sampler. */
const SAMPLE_MS = 50;

/** What bob's tor and its transports connected to, sampled until `stop()`. */
class ConnectionWatch {
  /** "tor → addr:port" and "pt:<comm> → addr:port" for every outbound connection seen. */
  readonly seen = new Set<string>();
  /** Listening ports of the transports seen (their SOCKS side). */
  readonly ptPorts = new Set<number>();
  /** Listening ports of the peer process itself (the onion service's target). */
  readonly ownPorts = new Set<number>();
  samples = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(peer: PeerProcess) {
    this.#done = (async () => {
      while (this.#running) {
        for (const port of listeningPorts(peer.pid)) this.ownPorts.add(port);
        for (const tor of peer.torPids()) {
          for (const c of outboundConnections(tor)) this.seen.add(`tor → ${c}`);
          for (const child of children(tor)) {
            for (const port of listeningPorts(child.pid)) this.ptPorts.add(port);
            for (const c of outboundConnections(child.pid)) {
              this.seen.add(`pt:${child.comm} → ${c}`);
            }
          }
          this.samples++;
        }
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

tornetTest(
  "a peer behind an obfs4 bridge talks end to end, and its tor never contacts a relay directly",
  1,
  async (net, t) => {
    const bridge = net.bridge!;
    const client = net.clients[0] as TornetClient;
    const dir = await Deno.makeTempDir();
    const procs: PeerProcess[] = [];
    const torrc = `${dir}/network.torrc`;
    await Deno.writeTextFile(torrc, await networkTorrc(client.dataDir));
    const start = (name: string, flags: string[]) => {
      const p = new PeerProcess(name, ["--config-dir", dir, ...flags]);
      procs.push(p);
      return p;
    };
    let watch: ConnectionWatch | undefined;
    try {
      const alice = start("alice", ["--control-port", String(client.controlPort)]);
      await alice.ready(TOR_HOP_MS);
      let bob = start("bob", ["--torrc-extra", torrc, "--bridge", bridge.line]);
      // watch from the first moment bob's tor exists, bootstrap included
      watch = new ConnectionWatch(bob);
      const t0 = performance.now();
      await bob.ready(TOR_HOP_MS);
      console.error(
        `bridge: bob ready through the bridge in ${Math.round(performance.now() - t0)} ms`,
      );
      const shown = bob.events.find((e) => e.event === "tor-network");
      assertEquals([shown?.bridges, shown?.transports], [1, ["obfs4"]]);

      await t.step("a full conversation over the bridge", async () => {
        const id = await alice.ok("identity");
        await bob.ok("req-send", [id.address, id.key]);
        await alice.waitEvent((e) => e.event === "request-received", "request", TOR_HOP_MS);
        await alice.ok("req-accept", ["bob"]);
        const { id: m1 } = await alice.ok("msg", ["bob", "hello through the bridge"]);
        const got = await bob.waitEvent((e) => e.event === "message", "message at bob", TOR_HOP_MS);
        assertEquals(got.text, "hello through the bridge");
        await alice.waitEvent((e) => e.event === "delivered" && e.id === m1, "ack", TOR_HOP_MS);
        const { id: m2 } = await bob.ok("msg", ["alice", "and back"]);
        const back = await alice.waitEvent((e) => e.event === "message", "reply", TOR_HOP_MS);
        assertEquals(back.text, "and back");
        await bob.waitEvent((e) => e.event === "delivered" && e.id === m2, "ack", TOR_HOP_MS);
      });

      await t.step(
        "bob's tor reached the network only through obfs4proxy and the bridge",
        async () => {
          const [tor] = bob.torPids();
          assert(tor !== undefined, "bob launched no tor");
          // tor's own view: its OR connections (there is no other way for tor to reach a relay)
          const control = await TorControl.connect({
            port: Number(
              /PORT=127\.0\.0\.1:(\d+)/.exec(
                await Deno.readTextFile(`${dir}/peers/bob/tor/control-port`),
              )![1],
            ),
          });
          try {
            await control.authenticate({ cookieFile: `${dir}/peers/bob/tor/control_auth_cookie` });
            const orconns = (await control.getInfo("orconn-status")).get("orconn-status") ?? "";
            const fp = bridge.line.split(" ")[2]!;
            const lines = orconns.split("\n").filter((l) => l.trim() !== "");
            assert(lines.length >= 1, "no OR connection at all");
            for (const l of lines) {
              assert(
                l.includes(fp),
                `an OR connection not to the bridge: ${l}`,
              );
            }
          } finally {
            await control.close();
          }
          await watch!.stop();
          const seen = [...watch!.seen];
          console.error(`bridge: ${watch!.samples} samples; connections seen: ${seen.join("; ")}`);
          // besides its transports, tor connects only to our own listener (onion service streams)
          const allowed = [...watch!.ptPorts, ...watch!.ownPorts].map((p) => `127.0.0.1:${p}`);
          const fromTor = seen.filter((s) => s.startsWith("tor → ")).map((s) => s.slice(6));
          const fromPt = seen.filter((s) => s.startsWith("pt:")).map((s) => s.split(" → ")[1]!);
          assert(fromPt.length > 0, `nothing observed: ${seen}`);
          const toPt = fromTor.filter((c) =>
            [...watch!.ptPorts].some((p) => c === `127.0.0.1:${p}`)
          );
          assert(toPt.length > 0, `tor was never seen talking to its transport: ${seen}`);
          for (const target of fromTor) {
            assert(allowed.includes(target), `bob's tor connected to ${target} directly`);
          }
          assertEquals([...new Set(fromPt)], [`127.0.0.1:${bridge.obfs4Port}`]);
          assert(seen.some((s) => s.startsWith("pt:obfs4proxy")), seen.join("; "));
          for (const port of [...net.relayPorts, bridge.orPort]) {
            assert(!seen.some((s) => s.endsWith(`:${port}`)), `a connection to relay port ${port}`);
          }
        },
      );

      await t.step("tor-log shows bob's tor bootstrapping through the bridge", async () => {
        const log = await bob.ok("tor-log", ["200"]);
        const texts = (log.lines as { text: string }[]).map((l) => l.text);
        assert(texts.some((x) => x.startsWith("Bootstrapped 100%")), texts.join("\n"));
      });

      await t.step("a bare restart keeps the bridge (network.json) and talks again", async () => {
        assertEquals(await bob.quit(), 0);
        const stored = JSON.parse(await Deno.readTextFile(`${dir}/peers/bob/network.json`));
        assertEquals(stored.bridges, [bridge.line]);
        bob = start("bob", ["--torrc-extra", torrc]);
        await bob.ready(TOR_HOP_MS);
        const launched = await Deno.readTextFile(`${dir}/peers/bob/tor/torrc`);
        assert(launched.includes("UseBridges 1"), launched);
        assert(launched.includes(`Bridge ${bridge.line}`), launched);
        // bob dials alice, whose onion did not move (a redial to bob's republished onion
        // waits on alice's cached descriptor, which is the connector's business, not this test's)
        const from = alice.events.length;
        await bob.ok("msg", ["alice", "still through the bridge?"]);
        await alice.waitEvent(
          (e) => e.event === "message" && e.text === "still through the bridge?",
          "message after restart",
          TOR_HOP_MS,
          from,
        );
        const [tor] = bob.torPids();
        const direct = outboundConnections(tor!).filter((c) =>
          net.relayPorts.some((p) => c.endsWith(`:${p}`))
        );
        assertEquals(direct, []);
      });

      await t.step(
        "--proxy: the bridge reached through a SOCKS5 proxy with a password",
        async () => {
          const proxy = socksProxy("bob", "s3cret-pass!");
          try {
            assertEquals(await bob.quit(), 0);
            const url = `socks5://bob:s3cret-pass!@127.0.0.1:${proxy.port}`;
            bob = start("bob", ["--torrc-extra", torrc, "--proxy", url]);
            await bob.ready(TOR_HOP_MS);
            const warned = bob.events.find((e) =>
              e.event === "warning" && e.code === "insecure_option"
            );
            assert(warned, "no warning for a proxy password on the command line");
            const from = alice.events.length;
            await bob.ok("msg", ["alice", "through the proxy and the bridge"]);
            await alice.waitEvent(
              (e) => e.event === "message" && e.text === "through the proxy and the bridge",
              "message through the proxy",
              TOR_HOP_MS,
              from,
            );
            // obfs4proxy (tor hands it the proxy) reached the bridge through the proxy, as bob
            assert(proxy.connects.length > 0, "the proxy was not used");
            for (const c of proxy.connects) {
              assertEquals(c, { target: `127.0.0.1:${bridge.obfs4Port}`, username: "bob" });
            }
            const stored = JSON.parse(await Deno.readTextFile(`${dir}/peers/bob/network.json`));
            assertEquals([stored.bridges, stored.proxy], [[bridge.line], url]);
            assertEquals(await bob.quit(), 0);
            // --no-proxy and --no-bridges clear what was kept
            bob = start("bob", ["--torrc-extra", torrc, "--no-proxy", "--no-bridges"]);
            await bob.ready(TOR_HOP_MS);
            const kept = JSON.parse(await Deno.readTextFile(`${dir}/peers/bob/network.json`));
            assertEquals([kept.bridges, kept.builtin, kept.proxy], [[], [], undefined]);
            assert(
              !bob.events.some((e) => e.event === "tor-network"),
              "still says it uses bridges",
            );
          } finally {
            await proxy.close();
          }
        },
      );

      for (const p of [alice, bob]) assertEquals(await p.quit(), 0);
      await until(() => bob.torPids().length === 0, "bob's tor to exit", 10_000);
    } finally {
      await watch?.stop();
      for (const p of procs) {
        for (const pid of p.torPids()) Deno.kill(pid, "SIGKILL");
        await p.kill();
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
  { bridge: true },
);
