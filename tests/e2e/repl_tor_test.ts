/**
 * End to end over the private Tor network: the real program
 * (`deno run -A main.ts --name ...`) for two peers in a pseudo-terminal
 * (tmux, its own server socket), each launching its own tor that joins
 * one private network (`--torrc-extra` with the network's lines). Checked
 * on the screens: tor's progress and the ready banner, `/req-send` with
 * the identity line, `/req-accept`, `/msg` both ways, `/verify` (alice's
 * colour turns from red to green), `/auth` with a hidden secret on both
 * sides (cyan, and the word on bob's side, who runs with NO_COLOR),
 * `/convs`, and `/quit` exiting 0 with no tor process left.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { isAlive, tornetTest } from "../_tornet.ts";
import { networkTorrc } from "./_peer_process.ts";
import { hasTmux, Tmux } from "./_tmux.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
/** Bound on a launched tor's bootstrap and onion publication. */
const READY_MS = 60_000;
/** Bound on one hop over tor (first contact with a fresh onion). */
const TOR_HOP_MS = 60_000;
/** Bound on the exit after `/quit` (tor included). */
const QUIT_MS = 20_000;

/** PIDs of live `tor` processes whose command line mentions `dir`. */
function torPidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const comm = Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim();
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (comm === "tor" && cmdline.includes(dir)) pids.push(Number(entry.name));
    } catch {
      // exited meanwhile
    }
  }
  return pids.filter(isAlive);
}

if (hasTmux) {
  tornetTest(
    "the real REPL over the private Tor network: request, chat, verify, auth, quit",
    1,
    async (net) => {
      const dir = await Deno.makeTempDir({ prefix: "um-repl-tor-" });
      const tmux = new Tmux();
      const torPids: number[] = [];
      try {
        const torrc = join(dir, "network.torrc");
        await Deno.writeTextFile(torrc, await networkTorrc(net.clients[0]!.dataDir));
        const run = (name: string) =>
          `cd ${ROOT} && ${Deno.execPath()} run -A main.ts --name ${name} --config-dir ${
            join(dir, name)
          } --torrc-extra ${torrc}; echo "EXIT=$?"; sleep 60`;
        // Alice gets colours even when the test itself runs under NO_COLOR (as CI does).
        await tmux.start("alice", `unset NO_COLOR; ${run("alice")}`);
        await tmux.start("bob", run("bob"), { NO_COLOR: "1" });
        const a = await tmux.waitFor("alice", /alice> $/m, { timeoutMs: READY_MS });
        const b = await tmux.waitFor("bob", /bob> $/m, { timeoutMs: READY_MS });
        for (const [name, screen] of [["alice", a], ["bob", b]] as const) {
          assert(
            /Tor \[\S+\]\s+100% Done/.test(screen),
            `${name} showed no tor progress:\n${screen}`,
          );
          assert(screen.includes("Ready. Give your contacts"), `${name} not ready:\n${screen}`);
          const own = torPidsUnder(join(dir, name));
          assertEquals(own.length, 1, `${name} launched one tor`);
          torPids.push(...own);
        }
        const [aliceId] = /alice@\S+\.onion:\d+ \S{44}/.exec(a)!;
        const bobKey = /bob@\S+ (\S{44})/.exec(b)![1]!;

        // Request with alice's identity line; accept; alice sees bob in red.
        await tmux.type("bob", `/req-send ${aliceId}`, "Enter");
        await tmux.waitFor("alice", "Request from bob", { timeoutMs: TOR_HOP_MS });
        await tmux.type("alice", "/req-accept bob", "Enter");
        await tmux.waitFor("bob", "alice [unverified] accepted your request", {
          timeoutMs: TOR_HOP_MS,
        });
        await tmux.waitFor("alice", "\x1b[1m\x1b[31mbob", { colors: true });

        // Messages both ways.
        await tmux.type("bob", "/msg alice hello over tor", "Enter");
        await tmux.waitFor("alice", "bob: hello over tor", { timeoutMs: TOR_HOP_MS });
        await tmux.type("alice", "/msg bob hi bob, onion to onion", "Enter");
        await tmux.waitFor("bob", "alice [unverified]: hi bob, onion to onion", {
          timeoutMs: TOR_HOP_MS,
        });

        // Verified: green.
        await tmux.type("alice", `/verify bob ${bobKey}`, "Enter");
        await tmux.waitFor("alice", "\x1b[1m\x1b[32mbob", { colors: true });

        // Authenticated with hidden secrets: cyan, and the word on bob's side.
        await tmux.type("alice", "/auth bob", "Enter");
        await tmux.waitFor("alice", "Secret shared with bob");
        await tmux.type("alice", "correct battery", "Enter");
        await tmux.waitFor("bob", "asks to authenticate", { timeoutMs: TOR_HOP_MS });
        await tmux.type("bob", "/auth alice", "Enter");
        await tmux.waitFor("bob", "Secret shared with alice");
        await tmux.type("bob", "correct battery", "Enter");
        await tmux.waitFor("bob", "alice [authenticated] is now authenticated", {
          timeoutMs: TOR_HOP_MS,
        });
        await tmux.waitFor("alice", "\x1b[1m\x1b[36mbob", { colors: true, timeoutMs: TOR_HOP_MS });
        await tmux.type("alice", "/convs", "Enter");
        await tmux.waitFor("alice", /│ bob\s+│ authenticated/);
        await tmux.type("bob", "/convs", "Enter");
        await tmux.waitFor("bob", /│ alice \[authenticated\]\s+│ authenticated/);
        for (const name of ["alice", "bob"]) {
          const s = await tmux.screen(name, { history: true });
          assert(!s.includes("correct battery"), `the secret appeared on ${name}'s screen`);
        }

        // Both quit: exit 0, and their tors are gone.
        await tmux.type("alice", "/quit", "Enter");
        await tmux.type("bob", "/quit", "Enter");
        await tmux.waitFor("alice", /Bye\s+EXIT=0/, { timeoutMs: QUIT_MS });
        await tmux.waitFor("bob", /Bye\s+EXIT=0/, { timeoutMs: QUIT_MS });
        const deadline = Date.now() + QUIT_MS;
        while (torPids.some(isAlive) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assertEquals(torPids.filter(isAlive), [], "tor processes left after /quit");
      } finally {
        await tmux.kill();
        for (const pid of torPids.filter(isAlive)) Deno.kill(pid, "SIGKILL");
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  );
}
