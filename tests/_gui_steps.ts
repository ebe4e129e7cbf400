/**
 * What a person does in the GUI, as puppeteer steps shared by the browser
 * tests (over `--direct` and over the private Tor network): create or
 * unlock a peer, read the identity, send and answer requests, open a
 * conversation, send and wait for messages, read levels and states. Each
 * step waits (bounded by the page's default timeout) for what the person
 * would see before going on.
 *
 * @module
 */

import type { Page } from "puppeteer-core";

// Page callbacks run in the browser; typed loosely here so the DOM library
// does not change the types of the whole program (`deno task check`).
// deno-lint-ignore no-explicit-any
type PageElement = any;
// deno-lint-ignore no-explicit-any
declare const document: any;
declare const innerWidth: number;
declare function getComputedStyle(el: unknown): { color: string };

/** Polls on a timer, not on animation frames (which a page in the background does not get). */
export const POLL = { polling: 100 };

/** Tries of a click whose element is redrawn meanwhile (the window redraws on events). */
const CLICK_TRIES = 10;

/** Clicks `selector`, again if the element was redrawn between finding and clicking it. */
export async function press(page: Page, selector: string): Promise<void> {
  for (let i = 1;; i++) {
    try {
      await page.waitForSelector(selector, { visible: true });
      await page.click(selector);
      return;
    } catch (e) {
      if (i >= CLICK_TRIES || !/detached|not clickable|no node/i.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Waits until the conversation window is up. */
export async function waitChat(page: Page): Promise<void> {
  await page.waitForSelector("#new-chat");
}

/** On the first screen: creates and starts `name` (with a passphrase if given). */
export async function createPeer(page: Page, name: string, passphrase = ""): Promise<void> {
  await page.waitForSelector("#new-name");
  await page.type("#new-name", name);
  if (passphrase) {
    await page.type("#new-passphrase", passphrase);
    await page.type("#new-passphrase2", passphrase);
  }
  await press(page, "#create-button");
  await waitChat(page);
}

/** On the first screen: starts the chosen existing peer with its passphrase. */
export async function unlockPeer(page: Page, name: string, passphrase: string): Promise<void> {
  await page.waitForSelector(`#peer-${name}`);
  await press(page, `#peer-${name}`);
  await page.waitForSelector("#start-passphrase", { visible: true });
  await page.type("#start-passphrase", passphrase);
  await press(page, "#start-button");
  await waitChat(page);
}

/** The identity address and key shown in the top bar. */
export async function identity(page: Page): Promise<{ address: string; key: string }> {
  const value = (sel: string) => page.$eval(sel, (el) => (el as PageElement).value);
  return { address: await value("#my-address"), key: await value("#my-key") };
}

/** Text of an element (empty if absent). */
export async function text(page: Page, selector: string): Promise<string> {
  return await page.$eval(selector, (el) => el.textContent ?? "").catch(() => "");
}

/** Waits until `selector`'s text matches. */
export async function waitText(page: Page, selector: string, pattern: RegExp): Promise<string> {
  const handle = await page.waitForFunction(
    (sel: string, src: string, flags: string) => {
      const t = document.querySelector(sel)?.textContent ?? "";
      return new RegExp(src, flags).test(t) ? t : false;
    },
    POLL,
    selector,
    pattern.source,
    pattern.flags,
  );
  return (await handle.jsonValue()) as string;
}

/** New chat: pastes the whole identity line into the address field and sends. */
export async function sendRequest(page: Page, address: string, key: string): Promise<void> {
  await press(page, "#new-chat");
  await page.waitForSelector("#req-address");
  await page.$eval("#req-address", (el, v) => {
    const input = el as PageElement;
    input.value = v;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, `${address} ${key}`);
  await waitText(page, "#req-key-hint", /well formed/);
  await press(page, "#req-send");
  await page.waitForSelector("#new-chat-dialog", { hidden: true });
}

/** Answers the inbound request window: accept, under `rename` if given. */
export async function acceptRequest(page: Page, rename?: string): Promise<void> {
  await page.waitForSelector("#request-dialog #accept");
  if (rename !== undefined) {
    await page.$eval("#accept-name", (el) => ((el as PageElement).value = ""));
    await page.type("#accept-name", rename);
  }
  await press(page, "#accept");
  await page.waitForSelector("#request-dialog", { hidden: true });
}

/** Opens the conversation tab of `name`. */
export async function openConversation(page: Page, name: string): Promise<void> {
  await page.waitForSelector(`#tab-${name}`);
  await press(page, `#tab-${name}`);
  await page.waitForFunction(
    (n: string) => document.getElementById("compose")?.dataset.name === n,
    POLL,
    name,
  );
}

/** Types `message` in the compose box (set at once if long) and presses Enter. */
export async function sendMessage(page: Page, message: string): Promise<void> {
  await page.focus("#compose");
  const lines = message.split("\n");
  if (message.length > 200) {
    await page.$eval("#compose", (el, v) => ((el as PageElement).value = v), message);
  } else {
    for (let i = 0; i < lines.length; i++) {
      if (i > 0) {
        await page.keyboard.down("Shift");
        await page.keyboard.press("Enter");
        await page.keyboard.up("Shift");
      }
      await page.keyboard.sendCharacter(lines[i]!);
    }
  }
  await page.keyboard.press("Enter");
  await page.waitForFunction(
    () => (document.getElementById("compose") as PageElement)?.value === "",
    POLL,
  );
}

/** Waits for a message with exactly `message` as its text in the open conversation. */
export async function waitMessage(page: Page, message: string, outgoing = false): Promise<void> {
  await page.waitForFunction(
    (m: string, out: boolean) =>
      [...document.querySelectorAll(`#log .msg.${out ? "out" : "in"} .text`)].some((e) =>
        e.textContent === m
      ),
    POLL,
    message,
    outgoing,
  );
}

/** Waits until the last outgoing message shows `state` (queued, sent, delivered). */
export async function waitLastState(page: Page, state: string): Promise<void> {
  await page.waitForFunction(
    (s: string) =>
      [...document.querySelectorAll("#log .msg.out")].at(-1)?.querySelector(`[data-state="${s}"]`),
    POLL,
    state,
  );
}

/** Waits until the tab of `name` shows `level` (as its word and data attribute). */
export async function waitLevel(page: Page, name: string, level: string): Promise<void> {
  await page.waitForFunction(
    (n: string, l: string) => {
      const badge = document.querySelector(`#tab-${n} .level`);
      return badge?.getAttribute("data-level") === l && badge.textContent?.includes(l);
    },
    POLL,
    name,
    level,
  );
}

/** Waits until the tab of `name` says online or offline. */
export async function waitOnline(page: Page, name: string, online: boolean): Promise<void> {
  await page.waitForFunction(
    (n: string, on: boolean) =>
      document.querySelector(`#tab-${n} .${on ? "online" : "offline"}`) !== null,
    POLL,
    name,
    online,
  );
}

/** Runs SMP from this side: opens Authenticate, types `secret`, submits. */
export async function authenticate(page: Page, secret: string): Promise<void> {
  await press(page, "#authenticate");
  await page.waitForSelector("#auth-secret");
  await page.type("#auth-secret", secret);
  await press(page, "#auth-submit");
}

/** Waits for an SMP status in the open Authenticate window. */
export async function waitAuth(page: Page, status: string, count = 1): Promise<void> {
  await page.waitForFunction(
    (s: string, n: number) =>
      document.querySelectorAll(`#auth-steps [data-status="${s}"]`).length >= n,
    POLL,
    status,
    count,
  );
}

/** Closes the open dialog with Escape. */
export async function closeDialog(page: Page): Promise<void> {
  await page.keyboard.press("Escape");
  await page.waitForSelector("dialog[open]", { hidden: true });
}

/** Presses Quit and waits for the "stopped" screen. */
export async function quit(page: Page): Promise<void> {
  await press(page, "#quit-button");
  await page.waitForSelector("#stopped");
}

/** Whether the page is wider than its viewport (a layout that breaks on small screens). */
export async function overflows(page: Page): Promise<boolean> {
  return await page.evaluate(() => document.documentElement.scrollWidth > innerWidth);
}
