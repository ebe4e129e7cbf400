/**
 * The GUI over the private Tor network, in headless Chromium: the real
 * program (`main.ts --gui --no-browser --name ...`) for alice and bob, each
 * launching its own tor on one private network (`--torrc-extra`), each in
 * its own page. Steps: the bootstrap window, request, accept with rename,
 * messages both ways (unicode and a long one), verify wrong then right,
 * authenticate mismatch then match (cyan), presence on with bob quitting
 * (his tor stops) and returning, delete, Quit (tor gone); then a bare
 * relaunch (`unmessage` alone) that reopens the GUI and starts alice again
 * over tor. The rest of the screens are covered faster over `--direct`
 * (`gui_direct_test.ts`).
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { isAlive, tornetTest } from "../_tornet.ts";
import { GuiProcess, hasChromium, launchBrowser, newPage, Shots, within } from "../_gui_harness.ts";
import {
  acceptRequest,
  authenticate,
  closeDialog,
  identity,
  openConversation,
  POLL,
  press,
  quit,
  sendMessage,
  sendRequest,
  waitAuth,
  waitChat,
  waitLastState,
  waitLevel,
  waitMessage,
  waitOnline,
  waitText,
} from "../_gui_steps.ts";
import { networkTorrc } from "./_peer_process.ts";

// Page callbacks run in the browser; typed loosely here so the DOM library
// does not change the types of the whole program (`deno task check`).
// deno-lint-ignore no-explicit-any
type PageElement = any;
// deno-lint-ignore no-explicit-any
declare const document: any;
declare const innerWidth: number;
declare function getComputedStyle(el: unknown): { color: string };

/** Bound on a launched tor's bootstrap and onion publication. */
const READY_MS = 90_000;
/** Bound on one hop over tor (first contact with a fresh onion). */
const TOR_HOP_MS = 90_000;
/** Bound on the exit after Quit (tor included). */
const EXIT_MS = 30_000;

/** PIDs of live `tor` processes whose parent is `pid`. */
function torChildren(pid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "tor" && ppid === pid) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out.filter(isAlive);
}

if (hasChromium) {
  tornetTest(
    "the GUI over the private Tor network: two browser pages, then a bare relaunch",
    1,
    async (net) => {
      const dir = await Deno.makeTempDir({ prefix: "um-gui-tor-" });
      const torrc = join(dir, "network.torrc");
      await Deno.writeTextFile(torrc, await networkTorrc(net.clients[0]!.dataDir));
      const procs: GuiProcess[] = [];
      const tors: number[] = [];
      const gui = (args: string[], env: Record<string, string> = {}) => {
        const p = new GuiProcess(args, env);
        procs.push(p);
        return p;
      };
      const peer = (name: string) =>
        gui([
          "--gui",
          "--no-browser",
          "--name",
          name,
          "--config-dir",
          join(dir, name),
          "--torrc-extra",
          torrc,
        ]);
      const browser = await launchBrowser();
      const shots = new Shots();
      try {
        const aliceProc = peer("alice");
        const bobProc = peer("bob");
        const a = (await newPage(browser)).page;
        const b0 = await newPage(browser);
        let b = b0.page;
        await a.goto(await aliceProc.address());
        await b.goto(await bobProc.address());
        // The bootstrap window: tor's progress, then the conversation window.
        await a.waitForSelector("#boot-progress, #new-chat");
        if (await a.$("#boot-progress")) await shots.take(a, "tor-bootstrap");
        await a.waitForSelector("#new-chat", { timeout: READY_MS });
        await b.waitForSelector("#new-chat", { timeout: READY_MS });
        for (const p of [aliceProc, bobProc]) tors.push(...torChildren(p.child.pid));
        assertEquals(tors.length, 2, "each GUI launched one tor");
        const aliceId = await identity(a);
        const bobId = await identity(b);

        a.setDefaultTimeout(TOR_HOP_MS);
        b.setDefaultTimeout(TOR_HOP_MS);
        await sendRequest(b, aliceId.address, aliceId.key);
        await acceptRequest(a, "bobby");
        await b.waitForSelector("#tab-alice");

        await openConversation(b, "alice");
        const hello = "hello over tor 🧅 ünïcødé";
        await sendMessage(b, hello);
        await openConversation(a, "bobby");
        await waitMessage(a, hello);
        const long = "onion ".repeat(1200) + "end";
        await sendMessage(a, long);
        await waitMessage(b, long);
        await waitLastState(a, "delivered");
        await shots.take(a, "tor-conversation");

        await press(a, "#verify");
        await a.type("#verify-key", aliceId.key);
        await press(a, "#verify-submit");
        await waitText(a, "#verify-result", /does NOT match/);
        await a.$eval("#verify-key", (el) => ((el as PageElement).value = ""));
        await a.type("#verify-key", bobId.key);
        await press(a, "#verify-submit");
        await waitText(a, "#verify-result", /is verified/);
        await closeDialog(a);
        await waitLevel(a, "bobby", "verified");

        await authenticate(a, "a secret");
        await press(b, "#authenticate");
        await waitAuth(b, "requested");
        await b.type("#auth-secret", "another secret");
        await press(b, "#auth-submit");
        await waitAuth(a, "nomatch");
        await waitAuth(b, "nomatch");
        await a.type("#auth-secret", "the same secret");
        await press(a, "#auth-submit");
        await waitAuth(b, "requested", 2);
        await b.type("#auth-secret", "the same secret");
        await press(b, "#auth-submit");
        await waitAuth(a, "match");
        await closeDialog(a);
        await closeDialog(b);
        await waitLevel(a, "bobby", "authenticated");
        const cyan = await a.$eval("#tab-bobby .level", (el) => getComputedStyle(el).color);
        assertEquals(cyan, "rgb(0, 131, 143)");
        await shots.take(a, "tor-authenticated");

        // Presence on; bob quits (his tor stops) and comes back.
        await press(b, "#presence");
        await b.waitForFunction(
          () => (document.getElementById("presence") as PageElement).checked,
          POLL,
        );
        await quit(b);
        assertEquals((await within(bobProc.exited, EXIT_MS, () => "bob's exit")).code, 0);
        await waitText(a, "#log", /bobby is now offline/);
        await waitOnline(a, "bobby", false);
        const bobAgain = peer("bob");
        b = (await newPage(browser)).page;
        b.setDefaultTimeout(READY_MS);
        await b.goto(await bobAgain.address());
        await waitChat(b);
        await waitText(a, "#log", /bobby is now online/);
        tors.push(...torChildren(bobAgain.child.pid));

        // Delete, then Quit: the peer, tor and the server stop.
        await press(a, "#delete");
        await press(a, "#delete-confirm");
        await a.waitForFunction(() => !document.getElementById("tab-bobby"), POLL);
        await quit(a);
        await quit(b);
        for (const p of [aliceProc, bobAgain]) {
          assertEquals((await within(p.exited, EXIT_MS, () => "exit after Quit")).code, 0);
        }
        const deadline = Date.now() + EXIT_MS;
        while (tors.some(isAlive) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assertEquals(tors.filter(isAlive), [], "tor processes left after Quit");

        // `unmessage` alone: the GUI again, for alice, over tor.
        const opened = join(dir, "opened.txt");
        const script = join(dir, "browser.sh");
        await Deno.writeTextFile(script, `#!/bin/sh\necho "$1" > ${opened}\n`, { mode: 0o700 });
        const again = gui(["--config-dir", join(dir, "alice"), "--torrc-extra", torrc], {
          BROWSER: script,
        });
        let target = "";
        for (const end = Date.now() + EXIT_MS; target === "" && Date.now() < end;) {
          target = (await Deno.readTextFile(opened).catch(() => "")).trim();
          await new Promise((r) => setTimeout(r, 100));
        }
        assert(target.startsWith("file://"), `the browser was given ${target}`);
        const r = (await newPage(browser)).page;
        await r.goto(target);
        await r.waitForSelector("#new-chat", { timeout: READY_MS });
        assertEquals((await identity(r)).address, aliceId.address);
        tors.push(...torChildren(again.child.pid));
        await quit(r);
        assertEquals((await within(again.exited, EXIT_MS, () => "exit after Quit")).code, 0);
      } finally {
        for (const p of procs) await p.kill();
        for (const pid of tors.filter(isAlive)) Deno.kill(pid, "SIGKILL");
        await browser.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  );
}
