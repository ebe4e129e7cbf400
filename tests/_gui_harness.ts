/**
 * Helpers for the GUI's browser tests: the real program started with
 * `--gui --no-browser` as a separate process (its address read from
 * stdout; killed by PID), headless Chromium driven by `puppeteer-core`
 * over a pipe (it exits with us), pages that count console errors (a CSP
 * mistake or a failed request shows there), and screenshots kept in a
 * temporary folder; and jsqr, the independent QR decoder. Every wait is
 * bounded.
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import jsQRModule from "jsqr";

type Decoder = (
  data: Uint8ClampedArray,
  width: number,
  height: number,
  options?: { inversionAttempts?: string },
) => { data: string } | null;
/** jsqr is CommonJS: its function is the module itself, or its `default`. */
export const jsQR: Decoder = ((jsQRModule as unknown as { default?: Decoder }).default ??
  jsQRModule) as unknown as Decoder;

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Debian's Chromium. */
export const CHROMIUM = "/usr/bin/chromium";
/** Whether the browser tests can run here (`.ci/run` installs Chromium). */
export const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
/** Bound on any single wait of puppeteer (a broken page must not hang the suite). */
export const PAGE_TIMEOUT_MS = 30_000;
/** Bound on one DevTools call (above the longest wait a test asks for, 90 s over tor). */
const PROTOCOL_TIMEOUT_MS = 180_000;
/** Bound on the program printing its address. */
const URL_TIMEOUT_MS = 30_000;

/** Starts headless Chromium (no sandbox: the tests run as root). */
export async function launchBrowser(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    protocolTimeout: PROTOCOL_TIMEOUT_MS,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** A page that records console errors and failed requests; waits bounded. */
export interface GuiPage {
  page: Page;
  errors: string[];
}

/** Opens a new page of `width` × `height` CSS pixels, light or dark. */
export async function newPage(
  browser: Browser,
  options: { width?: number; height?: number; dark?: boolean } = {},
): Promise<GuiPage> {
  // Its own context: its own window (so never a background tab) and its own cookies.
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  await page.setViewport({ width: options.width ?? 1100, height: options.height ?? 760 });
  await page.emulateMediaFeatures([
    { name: "prefers-color-scheme", value: options.dark ? "dark" : "light" },
  ]);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { page, errors };
}

/** `unmessage --gui --no-browser ...` as a process. */
export class GuiProcess {
  readonly child: Deno.ChildProcess;
  readonly url: Promise<string>;
  readonly exited: Promise<Deno.CommandStatus>;
  stdout = "";
  stderr = "";

  constructor(args: string[], env: Record<string, string> = {}) {
    const child = this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    let found: (url: string) => void;
    this.url = new Promise((resolve) => found = resolve);
    const out = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        this.stdout += chunk;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(this.stdout);
        if (m) found!(m[1]!);
      }
    })();
    void (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })().catch(() => {});
    this.exited = Promise.all([child.status, out.catch(() => {})]).then(([s]) => s);
  }

  /** The printed address, bounded. */
  async address(): Promise<string> {
    return await within(
      this.url,
      URL_TIMEOUT_MS,
      () => `no address printed; stderr: ${this.stderr}`,
    );
  }

  /** SIGKILL by PID (idempotent). */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // gone
    }
    await this.exited;
  }
}

/** `p`, or a rejection after `ms` saying `what()`. */
export async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Screenshots into one temporary folder (printed once), named in order. */
export class Shots {
  readonly dir = Deno.makeTempDirSync({ prefix: "um-gui-shots-" });
  #n = 0;
  constructor() {
    console.error(`screenshots: ${this.dir}`);
  }
  async take(page: Page, name: string): Promise<string> {
    const path = `${this.dir}/${String(++this.#n).padStart(2, "0")}-${name}.png`;
    await page.screenshot({ path: path as `${string}.png` });
    return path;
  }
}
