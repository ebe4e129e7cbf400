/**
 * Stopping a supervised tor while it is being brought back (issue 12 A's
 * strategy split, tried as a reviewer): a launched tor is killed, the
 * supervisor starts a new one, and the peer is stopped while that one
 * bootstraps. `stop()` must not return with the new tor still running: in
 * a process that goes on (the GUI, tests, an embedding program) it would
 * keep its data directory locked and its ports open until its own launch
 * timeout, minutes later. On the private Tor network; the second tor can
 * reach nothing, so its bootstrap lasts as long as the stop lets it.
 *
 * @module
 */

import { join } from "node:path";
import { assert } from "../_assert.ts";
import { closedPort, deadEnd, isAlive, tornetTest } from "../_tornet.ts";
import { networkTorrc, until } from "./_peer_process.ts";
import { torrcLines } from "../../lib/app/cli_args.ts";
import { SupervisedTor } from "../../lib/app/tor_supervisor.ts";
import { launchSource, type TorSource } from "../../lib/app/tor_strategy.ts";
import { generateOnionKey } from "../../lib/crypto/onion.ts";
import type { PeerEvent } from "../../lib/peer/types.ts";
import { systemRng } from "../../lib/rng.ts";

/** Bound on the first tor's bootstrap and publication on the private network. */
const FIRST_START_MS = 90_000;
/** The second tor's own launch bound: far longer than the test waits for the stop. */
const SECOND_LAUNCH_MS = 300_000;
/** Bound on waiting for the second tor to write its PID file. */
const PID_FILE_MS = 30_000;

tornetTest("stop() during a relaunch leaves no tor behind", 1, async (net) => {
  const dir = await Deno.makeTempDir({ prefix: "tor_stop_test" });
  const events: PeerEvent[] = [];
  const pidFile = join(dir, "second.pid");
  let second: number | undefined;
  try {
    const reach = torrcLines(await networkTorrc(net.clients[0]!.dataDir));
    const first = launchSource({ dataDir: join(dir, "tor1"), extraTorrc: reach });
    const stuck = launchSource({
      dataDir: join(dir, "tor2"),
      extraTorrc: [...deadEnd(closedPort()), `PidFile ${pidFile}`],
      launchTimeoutMs: SECOND_LAUNCH_MS,
    });
    let attempts = 0;
    const source: TorSource = {
      mode: "launch",
      connect: (hooks) => (attempts++ === 0 ? first : stuck).connect(hooks),
    };
    const tor = new SupervisedTor({
      source,
      emit: (e) => void events.push(e),
      descriptorTimeoutMs: FIRST_START_MS,
    });
    const key = generateOnionKey(systemRng);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      await tor.start({
        key,
        onion: `${key.address}.onion`,
        virtualPort: 50001,
        listenerPort: listener.addr.port,
      });
      const pid = tor.torPid;
      assert(pid !== undefined, "no tor launched");
      Deno.kill(pid, "SIGKILL");
      // the supervisor brings tor back: the second one starts and cannot bootstrap
      await until(
        async () => (await Deno.readTextFile(pidFile).catch(() => "")).trim() !== "",
        "the second tor's PID file",
        PID_FILE_MS,
      );
      second = Number((await Deno.readTextFile(pidFile)).trim());
      assert(isAlive(second), "the second tor is not running");
      await tor.stop();
      assert(!isAlive(second), `tor ${second} is still running after stop()`);
      assert(
        events.some((e) => e.event === "tor" && e.state === "exited"),
        JSON.stringify(events),
      );
    } finally {
      listener.close();
      await tor.stop();
    }
  } finally {
    if (second !== undefined && isAlive(second)) Deno.kill(second, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
