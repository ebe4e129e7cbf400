/**
 * A tmux server of a test's own (unique socket name) for end-to-end tests
 * of the real REPL: start a program in a detached session of fixed size,
 * type text and keys, read the screen (optionally with colours and
 * scrollback), wait for a pattern or an input line with a bound, and kill
 * only this server.
 *
 * @module
 */

import { assertEquals } from "../_assert.ts";

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

  /** The screen (with `-e`: colours as SGR sequences; with history: scrollback too). */
  screen(name: string, options: { colors?: boolean; history?: boolean } = {}): Promise<string> {
    return this.run(
      "capture-pane",
      "-p",
      "-J",
      "-t",
      name,
      ...(options.colors ? ["-e"] : []),
      ...(options.history ? ["-S", "-1000"] : []),
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

  /** Kills our server (only ours: its own socket) and removes the socket file. */
  async kill(): Promise<void> {
    const path = (await this.run("display-message", "-p", "#{socket_path}").catch(() => "")).trim();
    await this.run("kill-server").catch(() => {});
    if (path.includes(this.socket)) await Deno.remove(path).catch(() => {});
  }
}
