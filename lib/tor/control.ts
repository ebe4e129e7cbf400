/**
 * A client for Tor's control port (control-spec v1) over one `Deno.Conn`.
 * It owns the connection: commands are written in order, replies are matched
 * to them first-in first-out (control-spec §1: "servers respond to messages
 * in the order messages are received"), asynchronous events (6xx) go to
 * listeners, every command has a timeout, and a closed connection fails all
 * pending commands with `TorError("control_closed")` and notifies `onClose`.
 * Too many commands left unanswered close it with `control_timeout`.
 *
 * Framing and parsing are sans-IO (`control_reply.ts`, `control_parse.ts`);
 * this module is the small I/O loop around them. Secrets (cookie, password,
 * onion keys) are never put in errors: failures name the command keyword.
 *
 * @module
 */

import { isPort } from "../ports.ts";
import { utf8 } from "../crypto/bytes.ts";
import { deadline } from "../deadline.ts";
import { authenticateWith, type AuthMethod, type AuthOptions } from "./control_auth.ts";
import {
  type ControlEvent,
  parseAddOnion,
  parseEvent,
  parseGetInfo,
  parseHsDescEvent,
  parseProtocolInfo,
  type ProtocolInfo,
} from "./control_parse.ts";
import { type ControlReply, endText, isAsyncReply, ReplyFramer } from "./control_reply.ts";
import {
  addOnionCommand,
  type AddOnionOptions,
  delOnionCommand,
  getInfoCommand,
  type OnionPort,
  setEventsCommand,
  signalCommand,
} from "./control_commands.ts";
import { TorError } from "./errors.ts";

export type { AuthMethod, AuthOptions } from "./control_auth.ts";
export type { BootstrapStatus, ControlEvent, HsDescEvent, ProtocolInfo } from "./control_parse.ts";
export type { ControlReply } from "./control_reply.ts";
export type { AddOnionOptions, OnionPort } from "./control_commands.ts";

/** Default time a command may wait for its reply. */
export const COMMAND_TIMEOUT_MS = 30_000;
/** Default time to open the TCP connection to the control port. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Read buffer size; each read is pushed to the framer and drained. */
const READ_CHUNK_BYTES = 16 * 1024;
/** How many uploaded onion addresses we remember for late waiters. */
const MAX_REMEMBERED_UPLOADS = 256;
/**
 * Timed-out commands still waiting for their (late) reply at which the
 * connection counts as broken and is closed with `control_timeout`: replies
 * come in order (§1), so a tor that never answers would keep every later
 * command queued too, and memory would grow with each call.
 */
export const MAX_TIMED_OUT_COMMANDS = 8;

/** Options of a {@linkcode TorControl}. */
export interface TorControlOptions {
  /** Per-command reply timeout; default {@linkcode COMMAND_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Bound on one reply; default `MAX_REPLY_BYTES` of the framer. */
  maxReplyBytes?: number;
}

/** Where to connect for {@linkcode TorControl.connect}. */
export interface ControlConnectOptions extends TorControlOptions {
  /** The control port. */
  port: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default {@linkcode CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
}

interface Pending {
  readonly name: string;
  resolve(reply: ControlReply): void;
  reject(e: TorError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  settled: boolean;
}

/** A control-port connection to one tor. */
export class TorControl {
  readonly #conn: Deno.Conn;
  readonly #framer: ReplyFramer;
  readonly #timeoutMs: number;
  readonly #pending: Pending[] = [];
  readonly #listeners = new Map<string, Set<(event: ControlEvent) => void>>();
  readonly #closeListeners = new Set<(reason: TorError) => void>();
  readonly #uploaded = new Set<string>();
  #events = new Set<string>();
  #writes: Promise<void> = Promise.resolve();
  #reason: TorError | undefined;
  /** Entries of `#pending` that timed out and still wait for their reply. */
  #timedOut = 0;
  #resolveClosed!: (reason: TorError) => void;
  #protocolInfo: ProtocolInfo | undefined;
  readonly #loop: Promise<void>;

  /** Resolves (never rejects) with the reason once the connection is closed. */
  readonly closed: Promise<TorError>;

  /** Opens a control connection to `host:port` (default 127.0.0.1). */
  static async connect(options: ControlConnectOptions): Promise<TorControl> {
    const { port, host = "127.0.0.1", connectTimeoutMs = CONNECT_TIMEOUT_MS } = options;
    if (!isPort(port)) {
      throw new TorError("invalid_argument", `Control port ${port} is not 1..65535`);
    }
    const attempt = Deno.connect({ hostname: host, port, transport: "tcp" });
    try {
      const conn = await deadline(attempt, connectTimeoutMs, () => {
        attempt.then((c) => c.close(), () => {});
        throw new TorError(
          "control_connect_failed",
          `Timed out connecting to the control port ${host}:${port}`,
        );
      });
      return new TorControl(conn, options);
    } catch (e) {
      if (e instanceof TorError) throw e;
      throw new TorError(
        "control_connect_failed",
        `Cannot connect to the control port ${host}:${port}`,
        { cause: e },
      );
    }
  }

  /** Takes ownership of an open connection to a control port. */
  constructor(conn: Deno.Conn, options: TorControlOptions = {}) {
    this.#conn = conn;
    this.#framer = new ReplyFramer(
      options.maxReplyBytes === undefined ? {} : { maxReplyBytes: options.maxReplyBytes },
    );
    this.#timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#loop = this.#readLoop();
  }

  /** True once the connection is closed (by either side). */
  get isClosed(): boolean {
    return this.#reason !== undefined;
  }

  /**
   * Sends one command line and resolves with tor's reply, whatever its
   * status. Rejects with `control_timeout`, `control_closed` or
   * `invalid_argument` (a line containing CR or LF).
   */
  request(line: string, options: { timeoutMs?: number } = {}): Promise<ControlReply> {
    const name = line.split(" ", 1)[0] ?? "";
    if (/[\r\n\0]/.test(line)) {
      return Promise.reject(
        new TorError("invalid_argument", `Control command ${name} contains a line break`),
      );
    }
    if (this.#reason) return Promise.reject(this.#reason);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise<ControlReply>((resolve, reject) => {
      const entry: Pending = { name, resolve, reject, timer: undefined, settled: false };
      entry.timer = setTimeout(() => {
        // The slot stays queued: tor's late reply must still be matched to
        // it (and dropped) so later replies go to later commands.
        entry.settled = true;
        reject(
          new TorError("control_timeout", `Tor did not answer ${name} within ${timeoutMs} ms`),
        );
        if (++this.#timedOut >= MAX_TIMED_OUT_COMMANDS) {
          this.#shutdown(
            new TorError(
              "control_timeout",
              `Tor left ${this.#timedOut} commands unanswered; the control connection is closed`,
            ),
          );
        }
      }, timeoutMs);
      this.#pending.push(entry);
      const bytes = utf8(line + "\r\n");
      this.#writes = this.#writes.then(() => this.#writeAll(bytes)).catch((e) =>
        this.#shutdown(
          new TorError("control_closed", "Cannot write to the control connection", { cause: e }),
        )
      );
    });
  }

  /** Like {@linkcode request}, but a non-2xx reply rejects with `control_reply`. */
  async command(line: string, options: { timeoutMs?: number } = {}): Promise<ControlReply> {
    const reply = await this.request(line, options);
    if (reply.status < 200 || reply.status > 299) {
      const name = line.split(" ", 1)[0] ?? "";
      const text = endText(reply);
      throw new TorError("control_reply", `Tor refused ${name}: ${reply.status} ${text}`, {
        status: reply.status,
        torText: text,
      });
    }
    return reply;
  }

  /** PROTOCOLINFO (control-spec §3.21); cached, as tor answers it once before auth. */
  async protocolInfo(): Promise<ProtocolInfo> {
    this.#protocolInfo ??= parseProtocolInfo(await this.command("PROTOCOLINFO 1"));
    return this.#protocolInfo;
  }

  /**
   * Authenticates with the best method tor offers (see `chooseAuthMethod`);
   * resolves with the method used. Failure: `TorError("auth_failed")`, and the
   * connection is closed (tor closes it after a failed AUTHENTICATE).
   */
  async authenticate(options: AuthOptions = {}): Promise<AuthMethod> {
    try {
      const info = await this.protocolInfo();
      return await authenticateWith((line) => this.command(line), info, options);
    } catch (e) {
      const error = e instanceof TorError && e.code !== "control_reply"
        ? e
        : new TorError("auth_failed", "Tor rejected our authentication", {
          cause: e,
          ...(e instanceof TorError && e.status !== undefined ? { status: e.status } : {}),
        });
      if (error.code === "auth_failed") await this.close(error);
      throw error;
    }
  }

  /** GETINFO (control-spec §3.9); values are raw (quoted values stay quoted). */
  async getInfo(...keys: string[]): Promise<Map<string, string>> {
    return parseGetInfo(await this.command(getInfoCommand(keys)));
  }

  /** SETEVENTS (control-spec §3.4): exactly these events are enabled afterwards. */
  async setEvents(...names: string[]): Promise<void> {
    const set = new Set(names);
    await this.command(setEventsCommand([...set]));
    this.#events = set;
  }

  /** Enables `names` in addition to the events already enabled. */
  async addEvents(...names: string[]): Promise<void> {
    if (names.every((n) => this.#events.has(n))) return;
    await this.setEvents(...this.#events, ...names);
  }

  /** Calls `listener` for each event named `name` ("*" for all); returns an unsubscribe. */
  onEvent(name: string, listener: (event: ControlEvent) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, set = new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Calls `listener` once when the connection closes; returns an unsubscribe. */
  onClose(listener: (reason: TorError) => void): () => void {
    if (this.#reason) {
      const reason = this.#reason;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * ADD_ONION (control-spec §3.27) with a key blob such as the result of
   * `torKeyBlob(seed)` ("ED25519-V3:<base64>") or "NEW:ED25519-V3"; resolves
   * with the ServiceID (the address without ".onion"). A key already in use
   * rejects with `control_reply` status 550.
   */
  async addOnion(
    keyBlob: string,
    ports: readonly OnionPort[],
    options: AddOnionOptions = {},
  ): Promise<string> {
    return parseAddOnion(await this.command(addOnionCommand(keyBlob, ports, options))).serviceId;
  }

  /** DEL_ONION (control-spec §3.28); an unknown id rejects with status 552. */
  async delOnion(serviceId: string): Promise<void> {
    await this.command(delOnionCommand(serviceId));
    // A later add of the same key must wait for its own upload, not this one's.
    this.#uploaded.delete(serviceId.replace(/\.onion$/, ""));
  }

  /** TAKEOWNERSHIP (control-spec §3.23): tor exits when this connection closes. */
  async takeOwnership(): Promise<void> {
    await this.command("TAKEOWNERSHIP");
  }

  /** SIGNAL (control-spec §3.7), e.g. "NEWNYM", "SHUTDOWN", "RELOAD". */
  async signal(name: string): Promise<void> {
    await this.command(signalCommand(name));
  }

  /**
   * Resolves once tor reports `HS_DESC UPLOADED` for `serviceId` (at least
   * one HSDir has the descriptor; control-spec §4.1.25). Enables HS_DESC
   * events if needed. Rejects with `descriptor_timeout` or `control_closed`.
   * Uploads seen earlier on this connection count, so calling it right after
   * `addOnion` cannot miss a fast upload once HS_DESC is enabled.
   */
  async waitForDescriptorUpload(serviceId: string, timeoutMs: number): Promise<void> {
    const id = serviceId.replace(/\.onion$/, "");
    if (this.#uploaded.has(id)) return;
    let failures = 0;
    let done!: () => void;
    let fail!: (e: TorError) => void;
    const result = new Promise<void>((resolve, reject) => [done, fail] = [resolve, reject]);
    const offEvent = this.onEvent("HS_DESC", (event) => {
      const e = safeHsDesc(event);
      if (e?.address !== id) return;
      if (e.action === "UPLOADED") done();
      if (e.action === "FAILED") failures++;
    });
    const offClose = this.onClose((reason) => fail(reason));
    const uploaded = async () => {
      await Promise.race([this.addEvents("HS_DESC"), result]);
      if (!this.#uploaded.has(id)) await result;
    };
    try {
      await deadline(uploaded(), timeoutMs, () => {
        throw new TorError(
          "descriptor_timeout",
          `Tor did not upload the descriptor of ${id}.onion within ${timeoutMs} ms ` +
            `(${failures} failed uploads)`,
        );
      });
    } finally {
      offEvent();
      offClose();
    }
  }

  /** Closes the connection; pending commands reject with `control_closed`. */
  async close(reason?: TorError): Promise<void> {
    this.#shutdown(reason ?? new TorError("control_closed", "The control connection was closed"));
    await this.#loop;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(READ_CHUNK_BYTES);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) {
          this.#shutdown(new TorError("control_closed", "Tor closed the control connection"));
          return;
        }
        this.#framer.push(buf.subarray(0, n));
        for (let reply = this.#framer.next(); reply; reply = this.#framer.next()) {
          this.#dispatch(reply);
        }
      }
    } catch (e) {
      this.#shutdown(
        e instanceof TorError
          ? e
          : new TorError("control_closed", "The control connection failed", { cause: e }),
      );
    }
  }

  #dispatch(reply: ControlReply): void {
    if (isAsyncReply(reply)) {
      let event: ControlEvent;
      try {
        event = parseEvent(reply);
      } catch {
        return; // An event without a valid name is dropped (control-spec §1.1).
      }
      if (event.name === "HS_DESC") this.#rememberUpload(event);
      for (const key of [event.name, "*"]) {
        for (const listener of this.#listeners.get(key) ?? []) {
          try {
            listener(event);
          } catch {
            // A listener's failure must not break the connection.
          }
        }
      }
      return;
    }
    const entry = this.#pending.shift();
    if (!entry) {
      throw new TorError("control_malformed", "Tor sent a reply to no command");
    }
    clearTimeout(entry.timer);
    if (entry.settled) {
      this.#timedOut--; // the late reply of a timed-out command, dropped
    } else {
      entry.settled = true;
      entry.resolve(reply);
    }
  }

  #rememberUpload(event: ControlEvent): void {
    const e = safeHsDesc(event);
    if (e?.action !== "UPLOADED") return;
    this.#uploaded.delete(e.address);
    this.#uploaded.add(e.address);
    if (this.#uploaded.size > MAX_REMEMBERED_UPLOADS) {
      this.#uploaded.delete(this.#uploaded.values().next().value!);
    }
  }

  #shutdown(reason: TorError): void {
    if (this.#reason) return;
    this.#reason = reason;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const entry of this.#pending.splice(0)) {
      clearTimeout(entry.timer);
      if (!entry.settled) {
        entry.settled = true;
        entry.reject(reason);
      }
    }
    this.#resolveClosed(reason);
    for (const listener of this.#closeListeners) {
      try {
        listener(reason);
      } catch {
        // Ignored, as for event listeners.
      }
    }
    this.#closeListeners.clear();
  }
}

function safeHsDesc(event: ControlEvent) {
  try {
    return parseHsDescEvent(event.text);
  } catch {
    return undefined;
  }
}
