/**
 * The GUI's bootstrap screen when tor is stuck, in a real browser (headless
 * Chromium) against the real GUI server and application, with a real peer
 * whose launched tor can reach nothing (its only directory authority is a
 * closed port on 127.0.0.1). The page must show what tor said in plain
 * words (`bootstrap` with `problem`), then unMessage's advice with tor's
 * last messages (`bootstrap-stalled`), the same in a page opened later, and,
 * once the start gives up, the error with its advice line by line. What tor
 * says is shown as text, never as markup.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { hasChromium, launchBrowser, newPage } from "./_gui_harness.ts";
import { POLL, waitText } from "./_gui_steps.ts";
import { closedPort, deadEnd } from "./_tornet.ts";
import { GuiApp } from "../lib/gui/app.ts";
import { startGuiServer } from "../lib/gui/server.ts";
import { startPeer, storedPeer } from "../lib/runtime.ts";
import { listPeers } from "../lib/store/app_config.ts";

/** The stall timer of this test (the default is 45 s). */
const STALL_MS = 3_000;
/** Bound on the whole launch: the start then fails with bootstrap_timeout. */
const LAUNCH_MS = 15_000;

// Page callbacks run in the browser; typed loosely (see _gui_steps.ts).
// deno-lint-ignore no-explicit-any
type PageElement = any;
// deno-lint-ignore no-explicit-any
declare const document: any;
declare function getComputedStyle(el: unknown): { whiteSpace: string };

Deno.test({
  name:
    "GUI: a stuck tor's problem in plain words, then the advice and tor's last messages, then the error",
  ignore: !hasChromium,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "um-gui-boot-" });
    const logs: string[] = [];
    const torrc = deadEnd(closedPort());
    const app = new GuiApp({
      name: "alice",
      stored: (name) => storedPeer(root, name),
      peers: () => listPeers(root),
      start: (name, events) =>
        startPeer({
          name,
          configRoot: root,
          tor: { mode: "launch", extraTorrc: torrc, launchTimeoutMs: LAUNCH_MS },
          events,
          bootstrapStallMs: STALL_MS,
        }),
      remember: () => Promise.resolve(),
      log: (m) => logs.push(m),
    });
    const server = startGuiServer({
      onSocket: (s) => app.attach(s),
      identitySvg: () => app.identitySvg(),
    });
    const browser = await launchBrowser();
    try {
      const { page, errors } = await newPage(browser);
      await page.goto(server.url);
      const starting = app.autostart();
      await page.waitForSelector("#boot");
      // tor's own report, in plain words
      const problem = await waitText(page, "#boot-problem", /refused the connection/);
      assert(problem.startsWith("Tor cannot connect at"), problem);
      // then, with no progress, what to try, and tor's last messages
      const advice = await waitText(page, "#boot-advice", /--bridges snowflake/);
      for (const needle of ["no progress for 3 s", "clock", "--proxy socks5://"]) {
        assert(advice.includes(needle), `advice lacks ${needle}: ${advice}`);
      }
      const items = await page.$$eval("#boot-advice li", (els) => els.length);
      assert(items >= 4, `${items} advice items`);
      await page.click("#boot-log summary");
      await waitText(page, "#boot-log", /notice Bootstrapped 5%/);
      // the page's own guess is not shown beside the real advice
      assert((await page.$("#boot-stuck")) === null, "both the guess and the advice");

      // A page opened now sees the same.
      const late = await newPage(browser);
      await late.page.goto(server.url);
      await waitText(late.page, "#boot-problem", /refused the connection/);
      await waitText(late.page, "#boot-advice", /--bridges snowflake/);

      // The start gives up: the first screen shows why, the advice one per line.
      await starting;
      await page.waitForSelector("#create-button");
      const shown = await page.waitForFunction(
        () => {
          const el = [...document.querySelectorAll(".form-error")].find((
            e: PageElement,
          ) => e.textContent.includes("did not finish bootstrapping"));
          return el ? [el.innerText, getComputedStyle(el).whiteSpace] : false;
        },
        POLL,
      );
      const [errorText, whiteSpace] = (await shown.jsonValue()) as [string, string];
      assert(whiteSpace === "pre-line", whiteSpace);
      assert(/\n- Check that this computer is online/.test(errorText), errorText);
      assert(errorText.includes("Tor's last messages:"), errorText);
      assert(
        errors.length === 0 && late.errors.length === 0,
        [...errors, ...late.errors].join("\n"),
      );
    } finally {
      await browser.close();
      await app.quit();
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});
