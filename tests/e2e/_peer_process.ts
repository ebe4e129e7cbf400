/**
 * Drives one `main.ts --json` peer as a separate process for end-to-end
 * tests: sends commands and awaits their replies by id, collects events,
 * waits for an event with a bound, and kills the process by PID (also its
 * launched tor, found as its child in /proc). Every wait is bounded.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Default bound on a reply or an awaited event. */
export const DEFAULT_WAIT_MS = 60_000;
/** Bytes of stderr kept for failure messages. */
const STDERR_TAIL = 8_000;

/** One line the peer wrote on stdout. */
// deno-lint-ignore no-explicit-any
export type Line = Record<string, any>;

/** A running peer process. */
export class PeerProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly events: Line[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  #stderr = "";
  #nextId = 1;
  readonly #replies = new Map<number, (line: Line) => void>();
  readonly #waiters = new Set<() => void>();
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #done = false;

  constructor(name: string, args: string[], env: Record<string, string> = {}) {
    this.name = name;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--json", "--name", name, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    const stdoutDone = this.#readStdout();
    void this.#readStderr();
    // Exited only once every line it wrote has been read.
    this.exited = Promise.all([this.child.status, stdoutDone]).then(([s]) => {
      this.#done = true;
      this.#wake();
      return s;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** The last part of stderr, for failure messages. */
  get stderr(): string {
    return this.#stderr;
  }

  async #readStdout(): Promise<void> {
    const lines = this.child.stdout.pipeThrough(new TextDecoderStream());
    let buf = "";
    try {
      for await (const chunk of lines) {
        buf += chunk;
        for (let nl; (nl = buf.indexOf("\n")) >= 0;) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let line: Line;
          try {
            line = JSON.parse(text);
          } catch {
            throw new Error(`${this.name} wrote a non-JSON line on stdout: ${text.slice(0, 200)}`);
          }
          if ("event" in line) this.events.push(line);
          else this.#replies.get(line.id)?.(line);
          this.#wake();
        }
      }
    } catch (e) {
      this.#stderr += `\n[test] stdout: ${e}`;
    }
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const chunk of this.child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL);
      }
    } catch {
      // process gone
    }
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Sends a command; resolves with its reply line (ok or not). */
  async send(cmd: string, args: string[] = [], timeoutMs = DEFAULT_WAIT_MS): Promise<Line> {
    const id = this.#nextId++;
    const reply = new Promise<Line>((resolve, reject) => {
      this.#replies.set(id, resolve);
      // A reply never comes from a dead process.
      void this.exited.then(() =>
        reject(new Error(`${this.name} exited before replying to ${cmd}`))
      );
    });
    reply.catch(() => {});
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify({ id, cmd, args }) + "\n"));
    return await this.#bounded(reply, timeoutMs, `reply to ${cmd}`).finally(() =>
      this.#replies.delete(id)
    );
  }

  /** Sends a command and returns its result; throws on an error reply. */
  async ok(cmd: string, args: string[] = [], timeoutMs = DEFAULT_WAIT_MS): Promise<Line> {
    const r = await this.send(cmd, args, timeoutMs);
    if (!r.ok) {
      throw new Error(`${this.name} ${cmd} ${JSON.stringify(args)}: ${JSON.stringify(r.error)}`);
    }
    return r.result;
  }

  /** Writes raw bytes to stdin (malformed-input tests). */
  async raw(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /**
   * Waits for an event matching `pred`, searching from index `from` of
   * `events` (so earlier matches can be skipped); resolves with it.
   */
  async waitEvent(
    pred: (e: Line) => boolean,
    what: string,
    timeoutMs = DEFAULT_WAIT_MS,
    from = 0,
  ): Promise<Line> {
    const found = new Promise<Line>((resolve, reject) => {
      const check = () => {
        const e = this.events.slice(from).find(pred);
        if (e) {
          this.#waiters.delete(check);
          resolve(e);
        } else if (this.#done) {
          this.#waiters.delete(check);
          reject(new Error(`${this.name} exited while waiting for ${what}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
    return await this.#bounded(found, timeoutMs, what);
  }

  async #bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.name}: no ${what} within ${ms} ms; last events ${
                JSON.stringify(this.events.slice(-5))
              }; stderr: ${this.#stderr.slice(-1500)}`,
            ),
          ),
        ms,
      );
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for `ready`; resolves with the identity. */
  async ready(
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<{ address: string; key: string; onion: string }> {
    const e = await this.waitEvent(
      (e) => e.event === "ready" || e.event === "error",
      "ready",
      timeoutMs,
    );
    if (e.event === "error") {
      throw new Error(`${this.name} failed to start: ${e.message}\n${this.stderr}`);
    }
    return e.identity;
  }

  /** `quit`, then waits for the exit (killed if it lingers). */
  async quit(timeoutMs = 20_000): Promise<number> {
    try {
      await this.send("quit", [], timeoutMs);
      await this.#stdin.close().catch(() => {});
      const s = await this.#bounded(this.exited, timeoutMs, "exit after quit");
      return s.code;
    } finally {
      await this.kill();
    }
  }

  /** SIGKILL by PID (idempotent); waits for the exit. */
  async kill(): Promise<void> {
    if (!this.#done) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.exited;
    await this.#stdin.close().catch(() => {});
  }

  /** PIDs of `tor` processes whose parent is this process. */
  torPids(): number[] {
    const pids: number[] = [];
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (comm === "tor" && ppid === this.pid) pids.push(Number(entry.name));
      } catch {
        // exited meanwhile
      }
    }
    return pids;
  }
}

/** torrc lines that put a tor we launch on a test network (from a client's torrc). */
export async function networkTorrc(clientDataDir: string): Promise<string> {
  const own =
    /^(Nickname|DataDirectory|Log|SocksPort|ControlPort|ControlPortWriteToFile|CookieAuthentication|__OwningControllerProcess)\b/;
  const text = await Deno.readTextFile(`${clientDataDir}/torrc`);
  return text.split("\n").filter((l) => l.trim() !== "" && !own.test(l.trim())).join("\n") + "\n";
}

/** Polls `fn` until it returns true or `ms` pass. */
export async function until(
  fn: () => boolean | Promise<boolean>,
  what: string,
  ms: number,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
