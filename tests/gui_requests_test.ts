/**
 * Requests in the GUI page against what a flood leaves behind, in a real
 * browser (headless Chromium) with the real server and a real peer in
 * direct mode, strangers' requests signed and delivered over its listener:
 *
 * - a flood of requests is rejected in one action (the flood ones, then
 *   all), after a window that says how many and keeps the keyboard on
 *   "Keep them"; the core's `req-reject --flood` / `--all` do it;
 * - a stranger who names itself "--all" (or "spam*") is listed under
 *   another name, so rejecting its one request rejects no other, even
 *   from a window left open after it went;
 * - a flood that goes on after the user rejected it shows again;
 * - a request of ours that expired says so in words, and is sent again
 *   (New chat filled in) or cancelled (`req-cancel`) from the list;
 * - the core's aggregated warnings about dropped requests are counted in
 *   the top bar, readable and opened from the keyboard, and neither fill
 *   the corner with toasts nor block the window.
 *
 * @module
 */

import type { Page } from "puppeteer-core";
import { assert, assertEquals } from "./_assert.ts";
import { deliverTo, guiCommand, type GuiSetup, guiSetup, strangerRequest } from "./_gui_app.ts";
import { hasChromium, launchBrowser, newPage, Shots } from "./_gui_harness.ts";
import {
  createPeer,
  identity,
  overflows,
  POLL,
  press,
  sendRequest,
  waitChat,
  waitText,
} from "./_gui_steps.ts";
import { seededRng } from "./_rng.ts";
import { encodePublicKey, generateKeyPair } from "../lib/crypto/keys.ts";
import { generateOnionKey } from "../lib/crypto/onion.ts";
import { formatIdentityAddress } from "../lib/peer/address.ts";
import { MAX_REQUESTS_PER_WINDOW, REQUEST_TTL_MS } from "../lib/peer/requests.ts";

// Page callbacks run in the browser; typed loosely (see _gui_steps.ts).
// deno-lint-ignore no-explicit-any
declare const document: any;

/** Requests past the rate bound in the flood below: held as flood ones. */
const FLOODED = 4;

/** The names `reqs-in` lists now, with `flood` marked. */
async function inbound(server: Parameters<typeof guiCommand>[0]): Promise<string[]> {
  const r = (await guiCommand(server, "reqs-in"))["result"] as {
    requests: { name: string; flood?: boolean }[];
  };
  return r.requests.map((x) => `${x.name}${x.flood ? " (flood)" : ""}`);
}

/** The names `reqs-out` lists now, with `expired` marked. */
async function outbound(server: Parameters<typeof guiCommand>[0]): Promise<string[]> {
  const r = (await guiCommand(server, "reqs-out"))["result"] as {
    requests: { name: string; expired?: boolean }[];
  };
  return r.requests.map((x) => `${x.name}${x.expired ? " (expired)" : ""}`);
}

/** Closes the window a request opened by itself, if one is open. */
async function closeAnyDialog(page: Page): Promise<void> {
  if (await page.$("dialog[open]")) {
    await page.keyboard.press("Escape");
    await page.waitForSelector("dialog[open]", { hidden: true });
  }
}

/** Alice's GUI, started in a browser page; `now` her clock. */
interface Alice {
  setup: GuiSetup;
  page: Page;
  registry: string;
  /** Her identity key, and her onion address (where strangers deliver). */
  key: string;
  onion: string;
}

/** Runs `fn` with Alice's GUI in a fresh browser, then checks the console and closes it all. */
async function withAlice(fn: (a: Alice) => Promise<void>, now?: () => number): Promise<void> {
  const registry = await Deno.makeTempDir({ prefix: "um-gui-reqs-" });
  const setup = await guiSetup(registry, now);
  const browser = await launchBrowser();
  try {
    const { page, errors } = await newPage(browser);
    await page.goto(setup.server.url);
    await createPeer(page, "alice");
    const id = await identity(page);
    const onion = /@([a-z2-7]{56}\.onion)/.exec(id.address)![1]!;
    await fn({ setup, page, registry, key: id.key, onion });
    assertEquals(errors.filter((e) => !/WebSocket/.test(e)), [], "console errors");
  } finally {
    await browser.close();
    await setup.close();
    await Deno.remove(registry, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "GUI: a flood of requests is rejected in one action after a window that counts them; a stranger named --all or spam* rejects only itself; a flood that goes on shows again",
  ignore: !hasChromium,
  fn: () =>
    withAlice(async ({ setup: alice, page, registry, key, onion }) => {
      const shots = new Shots();
      const rng = seededRng("gui-requests/flood");
      const stranger = (name: string) => strangerRequest(key, name, rng);

      // A genuine request waits; then a stranger who calls itself "--all".
      await deliverTo(registry, onion, [stranger("carol")]);
      await page.waitForSelector("#request-dialog");
      await closeAnyDialog(page);
      await deliverTo(registry, onion, [stranger("--all")]);
      await page.waitForSelector("#requests-in [data-name='contact']");
      await closeAnyDialog(page);
      await press(page, "#requests-in [data-name='contact'] button");
      await page.waitForSelector("#request-dialog #reject");
      await press(page, "#request-dialog #reject");
      await page.waitForSelector("#request-dialog", { hidden: true });
      assertEquals(await inbound(alice.server), ["carol"], "rejecting one rejected others");

      // A flood: the rate bound admits the first ones, the rest are held as flood.
      const admitted = MAX_REQUESTS_PER_WINDOW - 2; // carol and "--all" were admitted
      const names = Array.from({ length: admitted + FLOODED }, (_, i) => `spam${i}`);
      await deliverTo(registry, onion, names.map(stranger));
      await waitText(page, "#reject-flood", new RegExp(`Reject the flood \\(${FLOODED}\\)`));
      await waitText(page, "#flood-count", new RegExp(`${FLOODED} came in a flood`));
      const total = 1 + names.length;
      await waitText(page, "#reject-all", new RegExp(`Reject all \\(${total}\\)`));
      await closeAnyDialog(page);
      await shots.take(page, "requests-flood");

      // The window says how many, and the keyboard starts on "Keep them": Enter keeps them.
      await press(page, "#reject-flood");
      await page.waitForSelector("#reject-many-dialog");
      await waitText(page, "#reject-many-dialog-title", new RegExp(`${FLOODED} requests`));
      assertEquals(
        await page.evaluate(() => document.activeElement?.textContent),
        "Keep them",
      );
      await shots.take(page, "reject-flood");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#reject-many-dialog", { hidden: true });
      assertEquals((await inbound(alice.server)).length, total, "Keep them rejected some");

      // Again, from the keyboard: Tab to the reject button, Enter.
      await press(page, "#reject-flood");
      await page.waitForSelector("#reject-many-dialog");
      await page.keyboard.press("Tab");
      assertEquals(await page.evaluate(() => document.activeElement?.id), "reject-many-confirm");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#reject-many-dialog", { hidden: true });
      await waitText(page, "#toasts", new RegExp(`Rejected ${FLOODED} requests`));
      await page.waitForFunction(() => document.querySelector("#reject-flood") === null, POLL);
      assertEquals(await inbound(alice.server), ["carol", ...names.slice(0, admitted)]);

      // The flood goes on: a new flood request shows (the core warns again after a clear).
      // It calls itself "spam*", listed as "spam_": its window, left open while another page
      // rejects it, then rejects nothing (as a pattern, "spam*" would reject every spam…).
      await deliverTo(registry, onion, [stranger("spam*")]);
      const listed = await page.waitForSelector("#requests-in [data-flood='true']");
      const shownAs = await listed!.evaluate((el) => el.getAttribute("data-name") ?? "");
      await closeAnyDialog(page);
      await press(page, `#requests-in [data-flood='true'] .answer`);
      await page.waitForSelector("#request-dialog #reject");
      assertEquals((await guiCommand(alice.server, "req-reject", [shownAs]))["ok"], true);
      await press(page, "#request-dialog #reject");
      // it says it found nothing (or, as a pattern, closes having rejected others)
      await page.waitForFunction(
        () => {
          const dialog = document.querySelector("#request-dialog");
          return dialog === null || dialog.querySelector(".form-error")?.hidden === false;
        },
        POLL,
      );
      assertEquals(
        await inbound(alice.server),
        ["carol", ...names.slice(0, admitted)],
        "a second reject of one request rejected others",
      );
      assertEquals(shownAs, "spam_");
      await waitText(page, "#request-dialog .form-error", /spam_/);
      await closeAnyDialog(page);

      // Then all of them.
      await press(page, "#reject-all");
      await page.waitForSelector("#reject-many-dialog");
      await waitText(page, "#reject-many-dialog-title", new RegExp(`all ${total - FLOODED}`));
      await press(page, "#reject-many-confirm");
      await waitText(page, "#toasts", new RegExp(`Rejected ${total - FLOODED} requests`));
      await page.waitForFunction(() => document.querySelector("#requests-in") === null, POLL);
      assertEquals(await inbound(alice.server), []);
      await waitChat(page);
    }),
});

Deno.test({
  name:
    "GUI: a request of ours that expired says so in words, and is sent again or cancelled from the list",
  ignore: !hasChromium,
  fn() {
    let ahead = 0;
    const rng = seededRng("gui-requests/expired");
    // Two contacts-to-be that are not online: the requests wait, unanswered.
    const someone = (name: string) => ({
      address: formatIdentityAddress(name, generateOnionKey(rng).address, 50001),
      key: encodePublicKey(generateKeyPair(rng).publicKey),
    });
    const bob = someone("bob");
    const dave = someone("dave");
    return withAlice(async ({ setup: alice, page }) => {
      await sendRequest(page, bob.address, bob.key);
      await sendRequest(page, dave.address, dave.key);
      await waitText(page, "#requests-out [data-name='dave']", /waiting for them/);

      // A week and a day later (the page reopened): both expired, in words.
      ahead = REQUEST_TTL_MS + 24 * 60 * 60 * 1000;
      await page.reload();
      await waitChat(page);
      for (const name of ["bob", "dave"]) {
        await waitText(page, `#requests-out [data-name='${name}'] .expired`, /expired/);
      }
      assertEquals(await outbound(alice.server), ["bob (expired)", "dave (expired)"]);

      // Send again: New chat, filled in and checked; the new request replaces the old one.
      await press(page, "#requests-out [data-name='bob'] .again");
      await page.waitForSelector("#new-chat-dialog");
      await waitText(page, "#new-chat-dialog-title", /Send the request to bob again/);
      await waitText(page, "#req-key-hint", /well formed/);
      await press(page, "#req-send");
      await page.waitForSelector("#new-chat-dialog", { hidden: true });
      await waitText(page, "#requests-out [data-name='bob']", /waiting for them/);
      assertEquals(await outbound(alice.server), ["dave (expired)", "bob"]);

      // Cancel, after a confirmation.
      await press(page, "#requests-out [data-name='dave'] .cancel");
      await page.waitForSelector("#cancel-request-dialog");
      await press(page, "#cancel-request-confirm");
      await page.waitForSelector("#cancel-request-dialog", { hidden: true });
      await page.waitForFunction(
        () => document.querySelector("#requests-out [data-name='dave']") === null,
        POLL,
      );
      assertEquals(await outbound(alice.server), ["bob"]);
    }, () => Date.now() + ahead);
  },
});

Deno.test({
  name:
    "GUI: dropped requests are counted in the top bar, readable from the keyboard, with no toast each and nothing blocked",
  ignore: !hasChromium,
  fn: () =>
    withAlice(async ({ page, registry, key, onion }) => {
      const rng = seededRng("gui-requests/dropped");
      const replayed = 6;
      // Old requests replayed: each dropped as expired, aggregated by the core.
      const old = Date.now() - REQUEST_TTL_MS - 60 * 60 * 1000;
      await deliverTo(
        registry,
        onion,
        Array.from({ length: replayed }, (_, i) => strangerRequest(key, `old${i}`, rng, old)),
      );
      // The first at once, the rest in one warning at the end of the core's interval.
      await page.waitForSelector(`#net-warnings-summary [data-count='${replayed}']`);
      assert(await page.$("dialog[open]") === null, "a window opened");
      const toasts = await page.$$eval(".toast", (els) => els.map((e) => e.textContent ?? ""));
      assert(toasts.length <= 1, `toasts: ${toasts.join(" | ")}`);
      assert(toasts.every((t) => !/Dropped/.test(t)), `toasts: ${toasts.join(" | ")}`);

      // Opened from the keyboard: what was dropped and why, in words.
      await page.focus("#net-warnings-summary");
      await page.keyboard.press("Enter");
      const row = await waitText(
        page,
        "#net-warnings [data-code='request_dropped']",
        new RegExp(`Requests dropped: ${replayed}`),
      );
      assert(row.includes(`expired ${replayed}`), row);
      assert(/over a week ago/.test(row), row);
      // ... on a small screen too, with nothing wider than the page.
      await page.setViewport({ width: 360, height: 740 });
      assert(!(await overflows(page)), "the page is wider than 360 px");
      const box = await page.$eval(".net-warnings-body", (el) => {
        const r = el.getBoundingClientRect();
        return { left: r.left, right: r.right };
      });
      assert(box.left >= 0 && box.right <= 360, `the list is cut off: ${JSON.stringify(box)}`);
      await new Shots().take(page, "net-warnings-360");
      // ... and the window is not blocked: New chat opens over it.
      await press(page, "#new-chat");
      await page.waitForSelector("#new-chat-dialog");
    }),
});
