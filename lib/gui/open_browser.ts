/**
 * Opens the GUI in the user's browser without putting the capability
 * token on any command line (other local users can read command lines in
 * `/proc`): the token goes into a small HTML file, readable only by the
 * user (0600, in a 0700 temporary folder), that sends the browser on to the
 * page; the browser is given that file's path. `$BROWSER`, when set, is
 * the command to use (the usual convention); otherwise `xdg-open` (Linux
 * and the BSDs), `open` (macOS) or `start` (Windows).
 *
 * @module
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The redirect file, and how to remove it. */
export interface OpenFile {
  /** Where the file is. */
  path: string;
  /** Removes it and its folder. */
  remove(): Promise<void>;
}

/** Writes the 0600 file that forwards the browser to `url`. */
export async function writeOpenFile(url: string): Promise<OpenFile> {
  const dir = await Deno.makeTempDir({ prefix: "unmessage-gui-" });
  if (Deno.build.os !== "windows") await Deno.chmod(dir, 0o700);
  const path = join(dir, "open.html");
  const safe = url.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html><meta charset="utf-8"><title>unMessage</title>` +
    `<meta name="referrer" content="no-referrer">` +
    `<meta http-equiv="refresh" content="0;url=${safe}">` +
    `<p><a href="${safe}">Open unMessage</a></p>\n`;
  await Deno.writeTextFile(path, html, { mode: 0o600 });
  return {
    path,
    remove: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The command that opens `target` in the default browser on this system. */
export function browserCommand(
  target: string,
  os: string = Deno.build.os,
  browser: string | undefined = Deno.env.get("BROWSER"),
): string[] {
  if (browser !== undefined && browser.trim() !== "") return [browser, target];
  if (os === "darwin") return ["open", target];
  if (os === "windows") return ["cmd", "/c", "start", '""', target];
  return ["xdg-open", target];
}

/**
 * Opens `url` in the browser through a redirect file. Resolves with the
 * file (remove it when the GUI stops), or rejects if no browser command
 * could run.
 */
export async function openBrowser(url: string): Promise<OpenFile> {
  const file = await writeOpenFile(url);
  const target = Deno.build.os === "windows" ? file.path : pathToFileURL(file.path).href;
  const [cmd, ...args] = browserCommand(target);
  try {
    const child = new Deno.Command(cmd!, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    void child.status.catch(() => {});
  } catch (e) {
    await file.remove();
    throw e;
  }
  return file;
}
