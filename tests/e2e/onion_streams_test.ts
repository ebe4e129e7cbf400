/**
 * Tor's stream limit of our onion service, end to end over a private Tor
 * network: the service is published with `ONION_SERVICE_DEFENCES` (at most
 * 8 streams open at once per rendezvous circuit, `MaxStreamsCloseCircuit`),
 * and tor counts the streams open now on each circuit. So a stranger who
 * opens a ninth at once loses its own circuit and every stream on it, and
 * a contact, whose streams ride a circuit of its own (another SOCKS
 * isolation), is not touched; streams opened one after another on one
 * circuit are never limited, which is why the listener's admission
 * (net/admission.ts) and not tor bounds how fast strangers connect. It
 * also measures what the grace period of an unidentified connection covers:
 * the time from tor's connect to our listener to the client's first byte,
 * a round trip of the rendezvous circuit (a few ms here, on loopback
 * relays; a second or more on the public network).
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import {
  closeQuietly,
  connectWithRetry,
  controlOf,
  echoRoundTrip,
  echoServer,
  tornetTest,
} from "../_tornet.ts";
import { generateOnionKey, torKeyBlob } from "../../lib/crypto/onion.ts";
import { systemRng } from "../../lib/rng.ts";
import { socksConnect } from "../../lib/tor/socks.ts";
import { addDefendedOnion, ONION_SERVICE_DEFENCES } from "../../lib/app/tor_supervisor.ts";

/** Bound on a descriptor upload and on reaching the new service. */
const REACH_BOUND_MS = 30_000;
/** Bound on one SOCKS connect once the service is reachable. */
const CONNECT_MS = 20_000;
/** Bound on seeing a stream end after tor closed its circuit. */
const END_BOUND_MS = 20_000;
/** Streams opened one after another on one circuit: far past the limit of 8 at once. */
const SEQUENTIAL = 24;
/** The virtual port of the service. */
const ONION_PORT = 9999;

/** Resolves true once `conn` ends (EOF or reset), false if it is still open after `ms`. */
async function ends(conn: Deno.Conn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const buf = new Uint8Array(1024);
  const read = (async () => {
    try {
      while ((await conn.read(buf)) !== null) { /* discard */ }
    } catch {
      // reset: ended all the same
    }
    return true;
  })();
  const result = await Promise.race([
    read,
    new Promise<false>((r) => (timer = setTimeout(r, ms, false))),
  ]);
  clearTimeout(timer);
  return result;
}

tornetTest(
  "our onion service's stream limit: a ninth stream closes only that circuit",
  2,
  async (net, t) => {
    const [a, b] = net.clients;
    assert(a !== undefined && b !== undefined);
    assertEquals(ONION_SERVICE_DEFENCES.maxStreams, 8);
    const echo = echoServer();
    const ctlA = await controlOf(a);
    const key = generateOnionKey(systemRng);
    const onion = `${key.address}.onion`;
    const warnings: string[] = [];
    const open: Deno.Conn[] = [];
    const connect = (username: string) =>
      socksConnect({
        socksPort: b.socksPort,
        host: onion,
        port: ONION_PORT,
        timeoutMs: CONNECT_MS,
        username,
        password: "x",
      });
    try {
      const serviceId = await addDefendedOnion(
        ctlA,
        torKeyBlob(key.seed),
        [{ virtualPort: ONION_PORT, target: echo.port }],
        (m) => warnings.push(m),
      );
      await ctlA.waitForDescriptorUpload(serviceId, REACH_BOUND_MS);
      const contact = (await connectWithRetry(b.socksPort, onion, ONION_PORT, REACH_BOUND_MS, {
        username: "contact",
        password: "x",
      })).conn;
      open.push(contact);
      const ping = () => echoRoundTrip(contact, systemRng(64));

      await t.step(
        "a stranger's ninth stream at once closes its own circuit, not the contact's",
        async () => {
          const eight: Deno.Conn[] = [];
          for (let i = 0; i < 8; i++) {
            const c = await connect("stranger");
            open.push(c);
            eight.push(c);
            await echoRoundTrip(c, systemRng(16));
          }
          // the ninth: tor closes the stranger's circuit (the ninth itself may go on over a new one)
          await connect("stranger").then((c) => open.push(c), () => {});
          for (const c of eight) {
            assert(await ends(c, END_BOUND_MS), "a stream outlived its circuit");
          }
          assertEquals((await ping()).length, 64, "the contact's stream was touched");
        },
      );

      await t.step(
        `${SEQUENTIAL} streams one after another on one circuit are all served`,
        async () => {
          for (let i = 0; i < SEQUENTIAL; i++) {
            const c = await connect("churn");
            try {
              assertEquals((await echoRoundTrip(c, systemRng(16))).length, 16);
            } finally {
              c.close();
            }
            // tor sees the stream end before the next one starts (the service closes its side too)
            await new Promise((r) => setTimeout(r, 20));
          }
          assertEquals((await ping()).length, 64);
        },
      );

      const gaps = [...echo.firstByteMs].sort((x, y) => x - y);
      console.error(
        `e2e: tor connect to first byte: median ${
          gaps[Math.floor(gaps.length / 2)]?.toFixed(1)
        } ms, ` +
          `max ${gaps.at(-1)?.toFixed(1)} ms over ${gaps.length} streams` +
          (warnings.length > 0 ? `; ${warnings.join("; ")}` : ""),
      );
    } finally {
      for (const c of open) closeQuietly(c);
      await ctlA.close();
      await echo.close();
    }
  },
);
