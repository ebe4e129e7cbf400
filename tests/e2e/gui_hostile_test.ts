/**
 * The GUI page against a hostile stranger and a hostile contact, in a real
 * browser (headless Chromium) with the real server and a real peer in
 * direct mode:
 *
 * - a stranger's request that arrives while the user types a message
 *   cannot be accepted by that typing (the window that pops up does not
 *   take the keyboard on its name field);
 * - a request whose name looks like a name in use, or that came in a
 *   flood, says so, as the command line does;
 * - a contact who sends thousands of messages neither grows the page
 *   without bound nor moves the caret of the user's draft (the messages go
 *   in at the server's event sink, as the core emits them, to make
 *   thousands in a second);
 * - a contact who deletes the conversation is shown as having done so.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { deliverTo, guiCommand, guiSetup, plainPeer, strangerRequest } from "../_gui_app.ts";
import { hasChromium, launchBrowser, newPage } from "../_gui_harness.ts";
import {
  acceptRequest,
  createPeer,
  identity,
  openConversation,
  POLL,
  waitChat,
  waitText,
} from "../_gui_steps.ts";
import { ASSETS } from "../../lib/gui/assets.ts";
import { seededRng } from "../_rng.ts";

// Page callbacks run in the browser; typed loosely here so the DOM library
// does not change the types of the whole program (`deno task check`).
// deno-lint-ignore no-explicit-any
type PageElement = any;
// deno-lint-ignore no-explicit-any
declare const document: any;

/** A bound of the page (`const NAME = 4 * 1_024;` in chat.js): a product of integers. */
function pageBound(name: string): number {
  const expr = new RegExp(`const ${name} = ([\\d_ *]+);`).exec(ASSETS.get("/chat.js")!.body)![1]!;
  return expr.split("*").reduce((n, f) => n * Number(f.trim().replaceAll("_", "")), 1);
}

/** The page's bounds on messages and characters kept per conversation. */
const MAX_SHOWN = pageBound("MAX_SHOWN_MESSAGES");
const MAX_SHOWN_CHARS = pageBound("MAX_SHOWN_CHARS");
/** Messages the hostile contact sends: several times the page's bound. */
const FLOOD_MESSAGES = 4 * MAX_SHOWN;
/** Messages of 1 MiB the contact sends: twice the page's bound on characters. */
const BIG_MESSAGES = 2 * Math.ceil(MAX_SHOWN_CHARS / (1024 * 1024));

Deno.test({
  name:
    "the GUI page against a hostile stranger and contact: no accept by typing, warnings shown, bounded",
  ignore: !hasChromium,
  async fn() {
    const registry = await Deno.makeTempDir({ prefix: "um-gui-hostile-" });
    const alice = await guiSetup(registry);
    const bob = await plainPeer("bob", registry);
    const browser = await launchBrowser();
    const rng = seededRng("gui-hostile/strangers");
    try {
      const { page, errors } = await newPage(browser);
      await page.goto(alice.server.url);
      await createPeer(page, "alice");
      const id = await identity(page);
      const onion = /@([a-z2-7]{56}\.onion)/.exec(id.address)![1]!;
      const stranger = (name: string) => strangerRequest(id.key, name, rng);

      await bob.running.peer.sendRequest(id.address, id.key);
      await acceptRequest(page);
      await openConversation(page, "bob");

      // The user is typing a message when a stranger's request pops up; they type on and press Enter.
      await page.focus("#compose");
      await page.keyboard.type("hel");
      await deliverTo(registry, onion, [stranger("carol")]);
      await page.waitForSelector("#request-dialog");
      await page.keyboard.type("lo");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#request-dialog", { hidden: true });
      const convs = (await guiCommand(alice.server, "convs"))["result"] as {
        conversations: { name: string }[];
      };
      assertEquals(convs.conversations.map((c) => c.name), ["bob"], "typing accepted a request");
      const reqs = (await guiCommand(alice.server, "reqs-in"))["result"] as {
        requests: { name: string }[];
      };
      assertEquals(reqs.requests.map((r) => r.name), ["carol"]);

      // A request named like a contact ("b" Cyrillic-o "b"): the list and the window say so.
      await deliverTo(registry, onion, [stranger("b\u043eb")]);
      await page.waitForSelector("#requests-in [data-name='b\u043eb'] .looks-like");
      assert(
        (await page.$eval("#requests-in .looks-like", (el) => el.textContent)).includes("bob"),
      );
      await page.waitForSelector("#request-dialog #request-looks-like");
      assertEquals(await page.$eval("#accept-name", (el) => (el as PageElement).value), "");
      await page.keyboard.press("Escape");
      await page.waitForSelector("#request-dialog", { hidden: true });

      // A flood: past the rate bound, requests are listed as flood.
      await deliverTo(registry, onion, Array.from({ length: 12 }, (_, i) => stranger(`spam${i}`)));
      await page.waitForSelector("#requests-in [data-flood='true'] .flood");
      if (await page.$("dialog[open]")) {
        await page.keyboard.press("Escape");
        await page.waitForSelector("dialog[open]", { hidden: true });
      }

      // A contact floods messages while the user edits the middle of a draft.
      await page.$eval("#compose", (el) => {
        const box = el as PageElement;
        box.value = "draft text";
        box.focus();
        box.setSelectionRange(2, 2);
      });
      for (let i = 0; i < FLOOD_MESSAGES; i++) {
        const event = { event: "message" as const, name: "bob", id: `f${i}`, text: `flood ${i}` };
        // shown (so acknowledged) once the page says so; not waited for here
        (alice.app.sink({ ...event, at: Date.now() }) as Promise<void>).catch(() => {});
      }
      await page.waitForFunction(
        (last: string) =>
          [...document.querySelectorAll("#log .msg.in .text")].at(-1)?.textContent === last,
        POLL,
        `flood ${FLOOD_MESSAGES - 1}`,
      );
      const shown = await page.$$eval("#log .msg", (els) => els.length);
      assert(shown <= MAX_SHOWN, `${shown} messages on the page`);
      const caret = await page.$eval("#compose", (el) => {
        const box = el as PageElement;
        return {
          value: box.value,
          at: box.selectionStart,
          focused: document.activeElement === box,
        };
      });
      assertEquals(caret, { value: "draft text", at: 2, focused: true });

      // Fewer but huge messages (the core lets each be 1 MiB): the page keeps a bounded amount.
      for (let i = 0; i < BIG_MESSAGES; i++) {
        const text = `${i}`.padEnd(1024 * 1024, "y");
        const event = {
          event: "message" as const,
          name: "bob",
          id: `big${i}`,
          text,
          at: Date.now(),
        };
        (alice.app.sink(event) as Promise<void>).catch(() => {});
      }
      await page.waitForFunction(
        (last: string) =>
          [...document.querySelectorAll("#log .msg.in .text")].at(-1)?.textContent?.startsWith(
            last,
          ),
        POLL,
        `${BIG_MESSAGES - 1}y`,
      );
      const chars = await page.$$eval(
        "#log .msg .text",
        (els) => els.reduce((n, el) => n + (el.textContent?.length ?? 0), 0),
      );
      assert(chars <= MAX_SHOWN_CHARS, `${chars} characters on the page`);

      // The contact deletes the conversation: the window says so.
      await bob.running.peer.deleteConversation("alice");
      await waitText(page, "#log", /bob deleted this conversation on their side/);
      await page.waitForSelector("#conv-ended");
      await page.waitForFunction(() => document.querySelector("#conv-ended") !== null, POLL);
      await waitChat(page);
      assertEquals(errors.filter((e) => !/WebSocket/.test(e)), [], "console errors");
    } finally {
      await browser.close();
      await bob.close();
      await alice.close();
      await Deno.remove(registry, { recursive: true }).catch(() => {});
    }
  },
});
