/**
 * The GUI end to end in a real browser (headless Chromium), without tor:
 * the real program (`main.ts --gui --no-browser --direct <dir>`) for alice
 * and bob, each in its own page, and carol as a `--json` peer. Alice
 * creates her peer with a passphrase on the first screen; bob starts with
 * `--name`. Then every screen: request with inline validation, the inbound
 * request window and accept with rename, messages both ways (unicode, a
 * new line, a long one) with their states, unread and queued counts, verify
 * wrong then right, authenticate mismatch then match (cyan), presence on
 * and off with bob quitting and returning, delete with confirmation, Quit;
 * then a bare relaunch (`unmessage` alone) that reopens the GUI through the
 * browser command. Also: the QR code decodes from the browser's rendering,
 * the page works at 360 px and in dark mode, it cannot be framed by another
 * site, and no page logs a console error (a CSP violation would).
 * Screenshots of each screen go to a temporary folder.
 *
 * @module
 */

import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { assert, assertEquals } from "../_assert.ts";
import {
  GuiProcess,
  hasChromium,
  jsQR,
  launchBrowser,
  newPage,
  Shots,
  within,
} from "../_gui_harness.ts";
import {
  acceptRequest,
  authenticate,
  closeDialog,
  createPeer,
  identity,
  openConversation,
  overflows,
  POLL,
  press,
  quit,
  sendMessage,
  sendRequest,
  text,
  unlockPeer,
  waitAuth,
  waitChat,
  waitLastState,
  waitLevel,
  waitMessage,
  waitOnline,
  waitText,
} from "../_gui_steps.ts";
import { PeerProcess } from "./_peer_process.ts";

// Page callbacks run in the browser; typed loosely here so the DOM library
// does not change the types of the whole program (`deno task check`).
// deno-lint-ignore no-explicit-any
type PageElement = any;
// deno-lint-ignore no-explicit-any
declare const document: any;
declare const innerWidth: number;
declare function getComputedStyle(el: unknown): { color: string };

/** Bound on a GUI process's exit after Quit. */
const EXIT_MS = 20_000;
const PASSPHRASE = "alice's long passphrase";
const SECRET = "correct battery staple";

/** Decodes the QR code the page shows, from Chromium's own rendering of it. */
async function decodeShownQr(page: Page): Promise<string | undefined> {
  const { data, size } = await page.$eval("#qr-large", (img) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 400;
    const ctx = canvas.getContext("2d")!;
    ctx.drawImage(img as PageElement, 0, 0, 400, 400);
    return { data: Array.from(ctx.getImageData(0, 0, 400, 400).data), size: 400 };
  });
  return jsQR(Uint8ClampedArray.from(data), size, size)?.data;
}

/**
 * A foreign site on another port of 127.0.0.1 (another local user's server)
 * that tries to frame the GUI; resolves with what the frame shows and the
 * cookies the browser sent it (cookies are not kept apart by port).
 */
async function framingAttempt(
  page: Page,
  target: string,
): Promise<{ framed: string; cookies: string[] }> {
  const cookies: string[] = [];
  const evil = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      cookies.push(req.headers.get("cookie") ?? "");
      return new Response(`<!doctype html><iframe id="f" src="${target}"></iframe>`, {
        headers: { "content-type": "text/html" },
      });
    },
  );
  try {
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    await new Promise((r) => setTimeout(r, 1_000));
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const framed = await frame?.evaluate(() => document.body?.innerText ?? "").catch(() => "");
    return { framed: framed ?? "", cookies };
  } finally {
    await evil.shutdown();
  }
}

/** Whether a socket opens to the GUI on `port` with `cookie` and the page's own Origin. */
async function socketOpens(port: number, cookie: string, token = ""): Promise<boolean> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${token ? `?token=${token}` : ""}`, {
    headers: { Origin: `http://127.0.0.1:${port}`, Cookie: cookie },
  } as unknown as string);
  const opened = await new Promise<boolean>((resolve) => {
    ws.onopen = () => resolve(true);
    ws.onerror = () => resolve(false);
  });
  if (opened) ws.close();
  return opened;
}

Deno.test({
  name: "the GUI in a real browser: every screen, two peers over --direct, and a bare relaunch",
  ignore: !hasChromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "um-gui-direct-" });
    const registry = join(dir, "registry");
    const root = (n: string) => join(dir, n);
    const procs: GuiProcess[] = [];
    const gui = (args: string[], env: Record<string, string> = {}) => {
      const p = new GuiProcess(["--config-dir", ...args, "--direct", registry], env);
      procs.push(p);
      return p;
    };
    let carol: PeerProcess | undefined;
    const browser = await launchBrowser();
    const shots = new Shots();
    const pageErrors: string[][] = [];
    const open = async (url: string, options = {}) => {
      const p = await newPage(browser, options);
      pageErrors.push(p.errors);
      await p.page.goto(url);
      return p.page;
    };
    try {
      // Alice: no --name, so the first screen; she creates her peer with a passphrase.
      const aliceProc = gui([root("alice"), "--gui", "--no-browser"]);
      const a = await open(await aliceProc.address());
      await a.waitForSelector("#create-button");
      assertEquals(a.url().includes("token"), false, "the token left the address bar");
      await shots.take(a, "choose");
      await createPeer(a, "alice", PASSPHRASE);
      const aliceId = await identity(a);
      assert(aliceId.address.startsWith("alice@") && aliceId.key.length === 44);
      await shots.take(a, "ready");

      // The QR code next to the Copy buttons holds the identity line.
      await press(a, ".qr-button");
      await a.waitForSelector("#qr-large");
      await a.waitForFunction(
        () => (document.getElementById("qr-large") as PageElement).complete,
        POLL,
      );
      assertEquals(await decodeShownQr(a), `${aliceId.address} ${aliceId.key}`);
      await shots.take(a, "qr");
      await closeDialog(a);

      // Bob: --name, so straight to his window.
      const bobProc = gui([root("bob"), "--gui", "--no-browser", "--name", "bob"]);
      let b = await open(await bobProc.address());
      await waitChat(b);
      const bobId = await identity(b);

      // New chat: inline validation, then the request.
      await press(b, "#new-chat");
      await b.type("#req-address", "alice@notanonion.onion");
      await waitText(b, "#req-address-hint", /Cannot use the address/);
      await shots.take(b, "request-invalid");
      await closeDialog(b);
      await sendRequest(b, aliceId.address, aliceId.key);
      await b.waitForSelector("#requests-out [data-name=alice]");

      // Alice: the inbound request window, with the peer's information; accept as "bobby".
      await a.waitForSelector("#request-dialog");
      assertEquals(await text(a, "#request-key"), bobId.key);
      assertEquals(await text(a, "#request-address"), bobId.address);
      await shots.take(a, "request-inbound");
      await acceptRequest(a, "bobby");
      await waitLevel(a, "bobby", "unverified");
      await b.waitForSelector("#tab-alice");
      await waitLevel(b, "alice", "unverified");

      // Messages both ways: unicode with a new line (Shift+Enter), and a long one.
      await openConversation(b, "alice");
      const hello = "héllo alice ✓ 日本語\nsecond line";
      await sendMessage(b, hello);
      await waitMessage(b, hello, true);
      await openConversation(a, "bobby");
      await waitMessage(a, hello);
      await waitLastState(b, "delivered");
      const long = "long ".repeat(1500) + "end";
      await sendMessage(a, long);
      await waitMessage(b, long);
      await waitLastState(a, "delivered");
      await shots.take(a, "conversation");

      // A third contact (carol, JSON): unread and queued counts, queued → delivered.
      carol = new PeerProcess("carol", ["--config-dir", root("carol"), "--direct", registry]);
      await carol.ready();
      await carol.ok("req-send", [aliceId.address, aliceId.key]);
      await acceptRequest(a);
      await carol.waitEvent((e) => e.event === "request-accepted", "accepted");
      await openConversation(a, "bobby");
      await carol.ok("msg", ["alice", "hi from carol"]);
      await a.waitForSelector("#tab-carol [data-unread='1']");
      await openConversation(a, "carol");
      await a.waitForFunction(() => !document.querySelector("#tab-carol [data-unread]"), POLL);
      await waitMessage(a, "hi from carol");
      await carol.quit();
      carol = undefined;
      await waitOnline(a, "carol", false);
      await sendMessage(a, "are you there?");
      await waitLastState(a, "queued");
      await a.waitForSelector("#tab-carol [data-queued='1']");
      await shots.take(a, "queued");
      carol = new PeerProcess("carol", ["--config-dir", root("carol"), "--direct", registry]);
      await carol.ready();
      await carol.waitEvent(
        (e) => e.event === "message" && e.text === "are you there?",
        "queued message",
      );
      await waitLastState(a, "delivered");

      // Verify: a wrong key, then the right one: green.
      await openConversation(a, "bobby");
      await press(a, "#verify");
      await a.type("#verify-key", aliceId.key);
      await press(a, "#verify-submit");
      await waitText(a, "#verify-result", /does NOT match/);
      await a.$eval("#verify-key", (el) => ((el as PageElement).value = ""));
      await a.type("#verify-key", bobId.key);
      await press(a, "#verify-submit");
      await waitText(a, "#verify-result", /matches: bobby is verified/);
      await shots.take(a, "verified");
      await closeDialog(a);
      await waitLevel(a, "bobby", "verified");
      assertEquals(await text(a, "#conv-level"), "✓ verified");

      // Authenticate: different secrets (nomatch), then the same (match, cyan).
      await authenticate(a, "one secret");
      await b.waitForSelector(".toast");
      await press(b, "#authenticate");
      await waitAuth(b, "requested");
      await b.type("#auth-secret", "another secret");
      await press(b, "#auth-submit");
      await waitAuth(b, "nomatch");
      await waitAuth(a, "nomatch");
      await a.type("#auth-secret", SECRET);
      await press(a, "#auth-submit");
      await waitAuth(b, "requested", 2);
      await b.type("#auth-secret", SECRET);
      await press(b, "#auth-submit");
      await waitAuth(a, "match");
      await waitAuth(b, "match");
      await shots.take(a, "authenticated");
      assertEquals(await a.$eval("#auth-secret", (el) => (el as PageElement).value), "");
      await closeDialog(a);
      await closeDialog(b);
      await waitLevel(a, "bobby", "authenticated");
      await waitLevel(b, "alice", "authenticated");
      const cyan = await a.$eval("#tab-bobby .level", (el) => getComputedStyle(el).color);
      assertEquals(cyan, "rgb(0, 131, 143)");

      // Presence on: bob quits (alice is told), comes back (told again; the level fell to verified).
      await press(b, "#presence");
      await b.waitForFunction(
        () => (document.getElementById("presence") as PageElement).checked,
        POLL,
      );
      await quit(b);
      assertEquals((await within(bobProc.exited, EXIT_MS, () => "bob's exit")).code, 0);
      await waitText(a, "#log", /bobby is now offline/);
      await waitOnline(a, "bobby", false);
      await waitLevel(a, "bobby", "verified");
      const bobAgain = gui([root("bob"), "--gui", "--no-browser", "--name", "bob"]);
      b = await open(await bobAgain.address());
      await waitChat(b);
      await waitText(a, "#log", /bobby is now online/);
      await waitOnline(a, "bobby", true);
      // Presence off: quitting again tells alice nothing (she sees the connection go).
      await openConversation(b, "alice");
      await press(b, "#presence");
      await b.waitForFunction(
        () => !(document.getElementById("presence") as PageElement).checked,
        POLL,
      );
      await quit(b);
      await waitOnline(a, "bobby", false);
      const offline = (await text(a, "#log")).match(/bobby is now offline/g) ?? [];
      assertEquals(offline.length, 1, "no presence notice with presence off");

      // Delete with confirmation.
      await openConversation(a, "carol");
      await press(a, "#delete");
      await a.waitForSelector("#delete-confirm");
      await shots.take(a, "delete");
      await press(a, "#delete-confirm");
      await a.waitForFunction(() => !document.getElementById("tab-carol"), POLL);

      // Small screens and dark mode.
      const small = await open(await aliceProc.address(), { width: 360, height: 740, dark: true });
      await waitChat(small);
      await openConversation(small, "bobby");
      assertEquals(await overflows(small), false, "the window is wider than 360 px");
      await shots.take(small, "mobile-dark");
      await small.close();

      // Quit: the peer and the server stop; the process exits 0.
      await quit(a);
      await shots.take(a, "stopped");
      assertEquals((await within(aliceProc.exited, EXIT_MS, () => "alice's exit")).code, 0);
      assert(aliceProc.stdout.includes("Bye"));

      // A bare relaunch reopens the GUI for alice, through the browser command.
      const opened = join(dir, "opened.txt");
      const script = join(dir, "browser.sh");
      await Deno.writeTextFile(script, `#!/bin/sh\necho "$1" > ${opened}\n`, { mode: 0o700 });
      const again = new GuiProcess(["--config-dir", root("alice"), "--direct", registry], {
        BROWSER: script,
      });
      procs.push(again);
      let target = "";
      const deadline = Date.now() + EXIT_MS;
      while (target === "" && Date.now() < deadline) {
        target = (await Deno.readTextFile(opened).catch(() => "")).trim();
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(target.startsWith("file://"), `the browser was given ${target}`);
      assert(!again.stdout.includes("token="), "the token was printed without --no-browser");
      const redirect = await Deno.readTextFile(new URL(target));
      const mode = (await Deno.stat(new URL(target))).mode! & 0o777;
      assertEquals(mode, 0o600);
      assert(redirect.includes("token="));
      const r = await newPage(browser);
      pageErrors.push(r.errors);
      await r.page.goto(target);
      await r.page.waitForSelector("#start-passphrase", { visible: true });
      await unlockPeer(r.page, "alice", PASSPHRASE);
      await r.page.waitForSelector("#tab-bobby");
      await shots.take(r.page, "relaunched");

      // The GUI cannot be framed by another site.
      const port = /127\.0\.0\.1:(\d+)/.exec(redirect)![1];
      const { framed, cookies } = await framingAttempt(r.page, `http://127.0.0.1:${port}/`);
      assert(!framed.includes("unMessage"), `the page was framed: ${framed}`);
      // That other server got the GUI's cookie, and with it opens nothing.
      const stolen = cookies.find((c) => c.includes(`unmessage_${port}=`));
      assert(stolen !== undefined, `the browser kept the cookie to its port: ${cookies}`);
      const token = /token=([\w-]+)/.exec(redirect)![1]!;
      assert(!stolen.includes(token), "the cookie carries the token");
      assertEquals(await socketOpens(Number(port), stolen), false, "the cookie opened the socket");
      assertEquals(await socketOpens(Number(port), stolen, token), true);

      for (const p of procs) {
        for (const secret of [PASSPHRASE, SECRET]) {
          assert(!p.stderr.includes(secret) && !p.stdout.includes(secret), "a secret was logged");
        }
        assert(!/token=/.test(p.stderr), "the token was logged");
      }
      const errors = pageErrors.slice(0, -1).flat().filter((e) => !/WebSocket/.test(e));
      assertEquals(errors, [], "console errors in the GUI pages");
    } finally {
      await carol?.kill();
      for (const p of procs) await p.kill();
      await browser.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
