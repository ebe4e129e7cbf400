/**
 * End to end over a private Tor network (one per file): our control client
 * publishes an onion service with OUR stored key on client A, our SOCKS
 * client reaches it from client B and bytes echo; the same key re-added
 * after DEL_ONION gives the same address and is reachable again; a valid
 * but unpublished address and a mistyped one fail with the right typed
 * SocksError in bounded time.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  connectWithRetry,
  controlOf,
  echoRoundTrip,
  echoServer,
  tornetTest,
  usage,
} from "../_tornet.ts";
import { generateOnionKey, torKeyBlob } from "../../lib/crypto/onion.ts";
import { systemRng } from "../../lib/rng.ts";
import { socksConnect, SocksError } from "../../lib/tor/socks.ts";

/** Bound on a descriptor upload (docs/architecture.md "The private Tor network": 2.5–3.5 s). */
const UPLOAD_BOUND_MS = 30_000;
/** Bound on reaching a just-uploaded service (retrying 0xF0 meanwhile). */
const REACH_BOUND_MS = 30_000;
/** Bound on the failure for an unpublished address (0xF0 takes ~0.3 s). */
const NOT_FOUND_BOUND_MS = 30_000;
/** The virtual port of the service. */
const ONION_PORT = 9999;

function elapsed(t0: number): number {
  return Math.round(performance.now() - t0);
}

tornetTest("onion services with our keys, control client and SOCKS client", 2, async (net, t) => {
  const [a, b] = net.clients;
  assert(a !== undefined && b !== undefined);
  const echo = echoServer();
  const ctlA = await controlOf(a);
  const ctlB = await controlOf(b);
  const key = generateOnionKey(systemRng);
  const onion = `${key.address}.onion`;
  const creds = { username: "contact-1", password: "unmessage" };
  const ports = [{ virtualPort: ONION_PORT, target: echo.port }];
  const expectEcho = async (label: string) => {
    const t0 = performance.now();
    const { conn, attempts, codes } = await connectWithRetry(
      b.socksPort,
      onion,
      ONION_PORT,
      REACH_BOUND_MS,
      creds,
    );
    const connectMs = elapsed(t0);
    try {
      const data = systemRng(32 * 1024);
      assertEquals(await echoRoundTrip(conn, data), data);
    } finally {
      conn.close();
    }
    console.error(
      `e2e: ${label}: connected in ${connectMs} ms after ${attempts} attempts ` +
        `(${codes.join(",") || "no failures"}), echoed 32 KiB`,
    );
  };
  try {
    await t.step("our stored key publishes at its own address and is reached from B", async () => {
      const t0 = performance.now();
      const serviceId = await ctlA.addOnion(torKeyBlob(key.seed), ports);
      assertEquals(serviceId, key.address);
      await ctlA.waitForDescriptorUpload(serviceId, UPLOAD_BOUND_MS);
      console.error(`e2e: descriptor uploaded ${elapsed(t0)} ms after ADD_ONION`);
      await expectEcho("first publication");
    });

    await t.step("the same key re-added after DEL_ONION gives the same address", async () => {
      await ctlA.delOnion(key.address);
      // a fresh connection (as after a restart): its upload wait cannot be
      // satisfied by the first publication's HS_DESC event
      const ctlA2 = await controlOf(a);
      try {
        const t0 = performance.now();
        const serviceId = await ctlA2.addOnion(torKeyBlob(key.seed), ports);
        assertEquals(serviceId, key.address);
        await ctlA2.waitForDescriptorUpload(serviceId, UPLOAD_BOUND_MS);
        console.error(`e2e: re-added descriptor uploaded in ${elapsed(t0)} ms`);
        // NEWNYM drops B's stale descriptor and intro circuits (docs/architecture.md
        // "Reaching a contact over tor")
        await ctlB.signal("NEWNYM");
        await expectEcho("after re-adding the key");
      } finally {
        await ctlA2.close();
      }
    });

    await t.step("a valid but unpublished address fails with onion_not_found", async () => {
      const ghost = generateOnionKey(systemRng).address;
      const t0 = performance.now();
      const e = await assertRejects(
        () =>
          socksConnect({
            socksPort: b.socksPort,
            host: `${ghost}.onion`,
            port: ONION_PORT,
            timeoutMs: NOT_FOUND_BOUND_MS,
          }),
        SocksError,
      );
      console.error(`e2e: unpublished address failed with ${e.code} in ${elapsed(t0)} ms`);
      assertEquals([e.code, e.replyCode, e.retryable], ["socks_onion_not_found", 0xf0, true]);
    });

    await t.step("a mistyped address fails with onion_bad_address", async () => {
      const swapped = key.address[10] === "a" ? "b" : "a"; // the checksum no longer matches
      const typo = key.address.slice(0, 10) + swapped + key.address.slice(11);
      const e = await assertRejects(
        () =>
          socksConnect({
            socksPort: b.socksPort,
            host: `${typo}.onion`,
            port: ONION_PORT,
            timeoutMs: NOT_FOUND_BOUND_MS,
          }),
        SocksError,
      );
      assertEquals([e.code, e.retryable], ["socks_onion_bad_address", false]);
    });

    const { cpuSeconds, rssMiB } = usage(net.pids);
    console.error(`e2e: all tors ${cpuSeconds.toFixed(2)} CPU s, ${rssMiB} MiB resident`);
  } finally {
    await ctlA.close();
    await ctlB.close();
    await echo.close();
  }
});
