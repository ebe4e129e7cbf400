/**
 * A tmux server of a test's own (unique socket name) for end-to-end tests
 * of the real REPL: start a program in a detached session of fixed size,
 * type text and keys, paste text (bracketed, as a terminal pastes), read the
 * screen (optionally with colours and scrollback) and the cursor, wait for a
 * pattern or an input line with a bound, and kill only this server. Also
 * the command line of a peer in direct mode, and the removal of its folder.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "../_assert.ts";

/** The repository's root. */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Default bound on each screen wait. */
export const WAIT_MS = 20_000;
/** Screen size of each pane. */
const COLUMNS = 120;
const ROWS = 40;
/** Pause between screen polls. */
const POLL_MS = 100;

/** Whether tmux is installed (tests that need it are skipped otherwise). */
export const hasTmux: boolean = await new Deno.Command("tmux", {
  args: ["-V"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** One tmux server of our own (unique socket name); killed at the end. */
export class Tmux {
  readonly socket = `um-repl-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  }

  /** Starts `command` in a new detached session `name`. */
  start(name: string, command: string, env: Record<string, string> = {}): Promise<string> {
    const e = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    return this.run(
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      `${COLUMNS}`,
      "-y",
      `${ROWS}`,
      ...e,
      command,
    );
  }

  /** Types text literally (no key names), then optional keys (Enter, Tab, Up, C-c ...). */
  async type(name: string, text: string, ...keys: string[]): Promise<void> {
    if (text !== "") await this.run("send-keys", "-t", name, "-l", text);
    if (keys.length) await this.run("send-keys", "-t", name, ...keys);
  }

  /**
   * Pastes `text` as a terminal does (`paste-buffer -p`): between bracketed
   * paste markers when the program asked for them, line breaks sent as CR.
   */
  async paste(name: string, text: string): Promise<void> {
    const file = await Deno.makeTempFile({ prefix: "um-paste-" });
    try {
      await Deno.writeTextFile(file, text);
      await this.run("load-buffer", "-b", "paste", file);
      await this.run("paste-buffer", "-p", "-d", "-b", "paste", "-t", name);
    } finally {
      await Deno.remove(file);
    }
  }

  /** The cursor's column and row on the visible screen (0-based). */
  async cursor(name: string): Promise<{ x: number; y: number }> {
    const out = await this.run("display-message", "-p", "-t", name, "#{cursor_x} #{cursor_y}");
    const [x, y] = out.trim().split(" ").map(Number);
    return { x: x!, y: y! };
  }

  /** The screen (with `-e`: colours as SGR sequences; with history: all the scrollback too). */
  screen(name: string, options: { colors?: boolean; history?: boolean } = {}): Promise<string> {
    return this.run(
      "capture-pane",
      "-p",
      "-J",
      "-t",
      name,
      ...(options.colors ? ["-e"] : []),
      ...(options.history ? ["-S", "-"] : []),
    );
  }

  /** Waits until the screen (scrollback included) matches. */
  async waitFor(
    name: string,
    pattern: RegExp | string,
    options: { colors?: boolean; timeoutMs?: number } = {},
  ): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
    for (;;) {
      const s = await this.screen(name, { colors: options.colors ?? false, history: true });
      if (typeof pattern === "string" ? s.includes(pattern) : pattern.test(s)) return s;
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${pattern} on ${name}:\n${s}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** The last non-empty line of the visible screen (the input line). */
  async inputLine(name: string): Promise<string> {
    const lines = (await this.screen(name)).split("\n").filter((l) => l.trim() !== "");
    return lines.at(-1) ?? "";
  }

  /** Waits until the input line is exactly `expected`. */
  async waitInput(name: string, expected: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const line = await this.inputLine(name);
      if (line === expected) return;
      if (Date.now() > deadline) {
        assertEquals(line, expected, `input line of ${name}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Waits until the cursor is at column `x` (after the last output settled). */
  async waitCursor(name: string, x: number): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const at = await this.cursor(name);
      if (at.x === x) return;
      if (Date.now() > deadline) assertEquals(at.x, x, `cursor column of ${name}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Kills our server (only ours: its own socket) and removes the socket file. */
  async kill(): Promise<void> {
    const path = (await this.run("display-message", "-p", "#{socket_path}").catch(() => "")).trim();
    await this.run("kill-server").catch(() => {});
    if (path.includes(this.socket)) await Deno.remove(path).catch(() => {});
  }
}

/**
 * The shell command that runs the real program for peer `name` in direct
 * mode (no tor), its folder under `dir`, sharing `dir/registry`; the exit
 * status is printed and the pane kept a while.
 */
export function directPeerCommand(dir: string, name: string): string {
  return `cd ${ROOT} && ${Deno.execPath()} run -A main.ts --name ${name} --config-dir ${
    join(dir, name)
  } --direct ${join(dir, "registry")}; echo "EXIT=$?"; sleep 60`;
}

/** Removes `dir`, retrying while killed programs finish writing into it. */
export async function removeSoon(dir: string): Promise<void> {
  for (let i = 0;; i++) {
    try {
      return await Deno.remove(dir, { recursive: true });
    } catch (e) {
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
