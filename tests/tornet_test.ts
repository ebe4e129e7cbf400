/**
 * The private Tor network: it starts within a bound, its clients bootstrap,
 * an onion service on client A is reached from client B through our SOCKS
 * client with bytes echoing both ways, and no tor survives `stop()`, also
 * when the start fails half-way.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { startTornet, TornetError } from "../scripts/tornet.ts";
import { TorControl } from "../lib/tor/control.ts";
import {
  connectWithRetry,
  echoRoundTrip,
  echoServer,
  isAlive,
  TEST_START_TIMEOUT_MS,
  tornetTest,
  usage,
} from "./_tornet.ts";

/** Bound on reaching a fresh onion service (docs/architecture.md "The private Tor network"). */
const FIRST_CONNECT_BOUND_MS = 30_000;
const skip = Deno.env.get("UNMESSAGE_SKIP_TOR") === "1";

tornetTest(
  "a private network carries an onion service from client A to client B",
  2,
  async (net, t) => {
    const [a, b] = net.clients;
    assert(a !== undefined && b !== undefined);
    console.error(`tornet: network usable after ${net.startMs} ms`);
    assert(net.startMs < TEST_START_TIMEOUT_MS);
    assertEquals(new Set(net.pids).size, 3 + 2 + 2);

    await t.step("both clients report bootstrap 100%", async () => {
      for (const c of net.clients) {
        const control = await TorControl.connect({ port: c.controlPort });
        try {
          await control.authenticate({ cookieFile: c.cookiePath });
          const info = await control.getInfo("status/bootstrap-phase");
          const phase = info.get("status/bootstrap-phase") ?? "";
          assert(phase.includes("PROGRESS=100"), phase);
        } finally {
          await control.close();
        }
      }
    });

    await t.step("an onion service on A is reached from B and echoes both ways", async () => {
      const echo = echoServer();
      const control = await TorControl.connect({ port: a.controlPort });
      try {
        await control.authenticate({ cookieFile: a.cookiePath });
        const t0 = performance.now();
        const serviceId = await control.addOnion(
          "NEW:ED25519-V3",
          [{ virtualPort: 80, target: echo.port }],
          { flags: ["DiscardPK"] },
        );
        assert(/^[a-z2-7]{56}$/.test(serviceId), serviceId);
        const onion = `${serviceId}.onion`;
        const first = await connectWithRetry(b.socksPort, onion, 80, FIRST_CONNECT_BOUND_MS, {
          username: "contact-a",
          password: "x",
        });
        const firstMs = Math.round(performance.now() - t0);
        try {
          const data = crypto.getRandomValues(new Uint8Array(64 * 1024));
          const t1 = performance.now();
          assertEquals(await echoRoundTrip(first.conn, data), data);
          const roundTripMs = Math.round(performance.now() - t1);
          console.error(
            `tornet: first connect ${firstMs} ms after ADD_ONION (${first.attempts} attempts: ` +
              `${first.codes.join(",") || "none failed"}), 64 KiB echo ${roundTripMs} ms`,
          );
        } finally {
          first.conn.close();
        }
        const t2 = performance.now();
        const second = await connectWithRetry(b.socksPort, onion, 80, 10_000);
        try {
          assertEquals(
            await echoRoundTrip(second.conn, Uint8Array.of(1, 2, 3)),
            Uint8Array.of(1, 2, 3),
          );
        } finally {
          second.conn.close();
        }
        const { cpuSeconds, rssMiB } = usage(net.pids);
        console.error(
          `tornet: second connect ${Math.round(performance.now() - t2)} ms; ` +
            `all tors: ${cpuSeconds.toFixed(2)} CPU s, ${rssMiB} MiB resident`,
        );
      } finally {
        await control.close();
        await echo.close();
      }
    });
  },
);

Deno.test({
  name: "startTornet() that fails half-way names the node and leaves no process",
  ignore: skip,
  async fn() {
    const e = await assertRejects(
      () => startTornet({ clients: 1, torrcExtra: { relay: ["NoSuchTorOption 1"] } }),
      TornetError,
    );
    assertEquals(e.code, "tornet_node_exited");
    assert(e.node?.startsWith("relay"), e.message);
    assert(e.message.includes("NoSuchTorOption"), e.message);
    assertEquals(e.pids.length, 3 + 2); // authorities and relays ran, clients never did
    assertEquals(e.pids.filter(isAlive), []);
  },
});

Deno.test({
  name: "startTornet() that runs out of time names the node and leaves no process",
  ignore: skip,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tornet-test-" });
    try {
      // relays that never publish keep the consensus from ever listing them
      const e = await assertRejects(
        () =>
          startTornet({
            clients: 1,
            dir,
            timeoutMs: 10_000,
            torrcExtra: { relay: ["PublishServerDescriptor 0"] },
          }),
        TornetError,
      );
      assertEquals(e.code, "tornet_timeout");
      assert(e.node !== undefined && e.message.includes(e.node), e.message);
      assert(e.message.includes("consensus"), e.message);
      assertEquals(e.pids.length, 3 + 2);
      assertEquals(e.pids.filter(isAlive), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
