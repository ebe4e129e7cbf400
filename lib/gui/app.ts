/**
 * What the GUI's pages talk to, over their WebSocket: one text frame per
 * message, each a line of the machine interface (`lib/ui/json.ts`), so the
 * browser drives the SAME command registry and receives the SAME events as
 * `--json`:
 *
 * - page → server, a command: `{"id": 3, "cmd": "msg", "args": ["bob", "hi"]}`,
 *   answered by `handleLine` exactly as on stdin: `{"id": 3, "ok": true, ...}`.
 * - server → page, every {@linkcode PeerEvent} as it is: `{"event": "message", ...}`.
 *
 * Before a peer runs there is nothing to command, so requests of the
 * application itself exist besides: `{"id", "app": "peers"}` (the peers
 * under the configuration root and how each is stored), `{"id", "app":
 * "start", "name", "passphrase"?}` (start or create one, through the same
 * `startPeer` as the other interfaces), and `{"id", "app": "quit"}`. The
 * server also tells every page the phase it is in: `{"gui": "phase",
 * "phase": "choose" | "starting" | "running" | "stopped", ...}`, and
 * `{"gui": "outgoing", name, id, text, at}` after each message sent, so
 * every open page shows it.
 *
 * A page that opens later (or reloads) is sent the phase (while starting,
 * with tor's last bootstrap report, the last problem it named and the
 * stall advice, if any) and then a bounded backlog of what the conversations showed since the start
 * (messages, deliveries, presence, levels, SMP progress; not warnings or
 * requests, which anyone can cause in bulk and the page shows only as they
 * happen), between `{"gui": "replay", "state": "start"}` and `{...,
 * "state": "end"}` (so it redraws history without popping up old notices).
 * A received `message` counts as shown (so the core acknowledges it) once
 * a page says it showed it, `{"app": "shown", "message": <its id>}` (no
 * answer); with no page open, or none that says so within the core's
 * bound, it is not acknowledged, and the core emits it again when a page
 * opens (`Peer.showUnread`). A
 * page that leaves more than {@linkcode MAX_UNREAD_BYTES} unread on its
 * socket is dropped rather than held in memory without bound.
 *
 * Secrets: the passphrase and the SMP secret pass through here and are
 * never logged, kept, put in the backlog or sent back in any line.
 *
 * @module
 */

import { errorMessage, isUnmessageError, UnmessageError } from "../errors.ts";
import { SINK_FLUSH_TIMEOUT_MS } from "../peer/core.ts";
import type { EventSink, IdentityInfo, PeerEvent } from "../peer/types.ts";
import type { RunningPeer, StoredPeer } from "../runtime.ts";
import { validatePeerName } from "../store/paths.ts";
import { findCommand } from "../ui/commands.ts";
import { handleLine, type JsonLine, MAX_LINE_BYTES } from "../ui/json.ts";
import { encodeQr, qrSvg } from "./qr.ts";

/** Lines kept for pages that open later (oldest dropped first). */
export const MAX_BACKLOG_LINES = 2_000;
/** Characters kept in the backlog at most (messages can be long). */
export const MAX_BACKLOG_CHARS = 8 * 1024 * 1024;
/**
 * Bytes a page may leave unread on its socket; past it the page is dropped
 * (a live one reconnects and gets the replay). Above the largest replay:
 * MAX_BACKLOG_CHARS UTF-16 units take at most 3 bytes each in UTF-8.
 */
export const MAX_UNREAD_BYTES = 32 * 1024 * 1024;
/** What the replay redraws (warnings, requests and connections show only when they happen). */
const REPLAYED: ReadonlySet<string> = new Set([
  "message",
  "delivered",
  "presence",
  "level",
  "auth",
  "conversation-ended",
]);
/** Peers listed on the first screen at most. */
export const MAX_LISTED_PEERS = 500;

/** The phase a GUI is in. */
export type GuiPhase = "choose" | "starting" | "running" | "stopped";

/** Options of {@linkcode GuiApp}. */
export interface GuiAppOptions {
  /** Peer to start at once (`--name`, or the last one used on a bare relaunch). */
  name?: string;
  /** `--encrypt`: a peer created here needs a passphrase. */
  encrypt?: boolean;
  /** The passphrase from the environment, used when none is typed. */
  envPassphrase?: string;
  /** How a peer is stored (see `storedPeer`). */
  stored(name: string): Promise<StoredPeer>;
  /** Lists the peers under the configuration root (`listPeers`, at most MAX_LISTED_PEERS). */
  peers(): Promise<string[]>;
  /** Starts a peer (`startPeer` with the flags' tor mode). */
  start(name: string, events: EventSink, passphrase?: string): Promise<RunningPeer>;
  /** Remembers the peer as the last one used with the GUI. */
  remember(name: string): Promise<void>;
  /** Diagnostics (stderr); never given a token, passphrase or secret. */
  log(message: string): void;
}

type Id = number | string | null;

/** A received message waiting for a page to show it. */
interface Unshown {
  shown(): void;
  timer: ReturnType<typeof setTimeout>;
}

/** See the module header. */
export class GuiApp {
  readonly #o: GuiAppOptions;
  readonly #sockets = new Set<WebSocket>();
  #phase: GuiPhase = "choose";
  #name: string | undefined;
  #running: RunningPeer | undefined;
  #identity: IdentityInfo | undefined;
  #svg: string | undefined;
  #lastBootstrap: JsonLine | undefined;
  /** Tor's last bootstrap problem and stall advice while starting (for pages opened later). */
  #bootNotes: { problem?: JsonLine; stalled?: JsonLine } = {};
  /** Why the last start failed, shown on the first screen. */
  #startError: JsonLine | undefined;
  #backlog: { line: JsonLine; text: string }[] = [];
  #backlogChars = 0;
  /** Received messages sent to pages, until one shows it: id → what then settles. */
  readonly #unshown = new Map<string, Unshown[]>();
  #commands: Promise<void> = Promise.resolve();
  #quitting: Promise<void> | undefined;
  #resolveDone!: () => void;
  /** Resolves once the GUI has quit (peer stopped). */
  readonly done: Promise<void> = new Promise((resolve) => this.#resolveDone = resolve);

  /** A GUI that no page has reached yet. */
  constructor(options: GuiAppOptions) {
    this.#o = options;
  }

  /** The phase now. */
  get phase(): GuiPhase {
    return this.#phase;
  }

  /** The identity's QR code (SVG) once a peer runs. */
  identitySvg(): string | undefined {
    return this.#svg;
  }

  /** Starts the peer given by `--name` or the relaunch, if it needs nothing typed. */
  async autostart(): Promise<void> {
    const name = this.#o.name;
    if (name === undefined) return;
    const stored = await this.#o.stored(name);
    const needsTyping = this.#o.envPassphrase === undefined &&
      (stored === "encrypted" || (stored === "missing" && this.#o.encrypt === true));
    if (needsTyping) return;
    try {
      await this.#start(name, undefined);
    } catch (e) {
      this.#o.log(startErrorMessage(e, name));
    }
  }

  /** Takes a new page's socket: phase, backlog, then live lines; its frames are handled. */
  attach(socket: WebSocket): void {
    socket.addEventListener("open", () => {
      this.#sockets.add(socket);
      this.#sendTo(socket, this.#phaseLine());
      if (this.#phase === "starting") {
        const { problem, stalled } = this.#bootNotes;
        for (const line of [problem, stalled, this.#lastBootstrap]) {
          if (line) this.#sendTo(socket, line);
        }
      }
      this.#sendTo(socket, { gui: "replay", state: "start" });
      for (const { text } of this.#backlog) this.#sendText(socket, text);
      this.#sendTo(socket, { gui: "replay", state: "end" });
      // messages that came while no page showed them: now one can
      this.#running?.peer.showUnread();
    });
    socket.addEventListener("close", () => this.#sockets.delete(socket));
    socket.addEventListener("error", () => this.#sockets.delete(socket));
    socket.addEventListener("message", (e: MessageEvent) => {
      void this.#frame(socket, e.data);
    });
  }

  /** The event sink given to the core (see the module header for "shown"). */
  readonly sink: EventSink = (event: PeerEvent) => {
    const line: JsonLine = { ...event };
    // What tor's start looks like now, not history: never in the backlog.
    if (event.event === "bootstrap" || event.event === "bootstrap-stalled") {
      if (event.event === "bootstrap-stalled") this.#bootNotes.stalled = line;
      else {
        if (event.problem !== undefined) this.#bootNotes.problem = line;
        this.#lastBootstrap = line;
      }
      this.#send(line);
      return;
    }
    const reached = this.#send(line);
    if (event.event === "message" && reached === 0) {
      return Promise.reject(new Error("No page is open to show the message"));
    }
    if (REPLAYED.has(event.event)) this.#keep(line);
    return event.event === "message" ? this.#shownBy(event.id) : Promise.resolve();
  };

  /**
   * Settles once a page says it showed message `id` (`{"app": "shown",
   * "message": id}`); rejects after the core's own bound, when the core
   * counts it as not shown anyway.
   */
  #shownBy(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = this.#unshown.get(id) ?? [];
      const entry: Unshown = {
        shown: () => resolve(),
        timer: setTimeout(() => {
          const rest = (this.#unshown.get(id) ?? []).filter((e) => e !== entry);
          if (rest.length > 0) this.#unshown.set(id, rest);
          else this.#unshown.delete(id);
          reject(new Error("No page showed the message in time"));
        }, SINK_FLUSH_TIMEOUT_MS),
      };
      waiting.push(entry);
      this.#unshown.set(id, waiting);
    });
  }

  /** A page showed the message `id`. */
  #shown(id: unknown): void {
    if (typeof id !== "string") return;
    for (const e of this.#unshown.get(id) ?? []) {
      clearTimeout(e.timer);
      e.shown();
    }
    this.#unshown.delete(id);
  }

  /** Stops the peer (tor with it), tells the pages, and resolves {@linkcode done}. */
  quit(): Promise<void> {
    return this.#quitting ??= (async () => {
      const running = this.#running;
      if (running) await running.stop();
      this.#phase = "stopped";
      this.#send(this.#phaseLine());
      this.#resolveDone();
    })();
  }

  async #frame(socket: WebSocket, data: unknown): Promise<void> {
    if (typeof data !== "string") {
      this.#sendTo(socket, errorLine(null, "bad_request", "Send text frames (JSON lines)"));
      return;
    }
    if (data.length > MAX_LINE_BYTES) {
      this.#sendTo(
        socket,
        errorLine(null, "line_too_long", `A line exceeds ${MAX_LINE_BYTES} bytes`),
      );
      return;
    }
    let value: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse(data);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) value = parsed;
    } catch {
      // handleLine answers bad JSON as the machine interface does
    }
    const id = typeof value?.["id"] === "number" || typeof value?.["id"] === "string"
      ? value["id"] as Id
      : null;
    if (value !== undefined && typeof value["app"] === "string") {
      if (value["app"] === "shown") return this.#shown(value["message"]);
      if (value["app"] === "quit") {
        this.#sendTo(socket, { id, ok: true, result: { quit: true } });
        await this.quit();
        return;
      }
      return this.#queue(() => this.#app(socket, id, value));
    }
    return this.#queue(async () => {
      const peer = this.#running?.peer;
      if (peer === undefined || this.#phase !== "running") {
        this.#sendTo(socket, errorLine(id, "not_started", "Start a peer first"));
        return;
      }
      const reply = await handleLine(data, peer, this.#o.log);
      this.#sendTo(socket, reply.line);
      if (reply.line["ok"] === true && value !== undefined) this.#after(value, reply.line);
      if (reply.quit) void this.quit();
    });
  }

  /** Commands run one at a time, in the order received (as on stdin). */
  #queue(work: () => Promise<void>): Promise<void> {
    const next = this.#commands.then(work).catch((e) => {
      this.#o.log(`GUI request failed: ${errorMessage(e)}`);
    });
    this.#commands = next;
    return next;
  }

  /** What a successful command changes for every page: sent messages, deleted history. */
  #after(value: Record<string, unknown>, reply: JsonLine): void {
    const args = Array.isArray(value["args"]) ? value["args"] as string[] : [];
    let name: string;
    try {
      name = findCommand(String(value["cmd"])).name;
    } catch {
      return;
    }
    if (name === "msg") {
      const result = reply["result"] as { id?: unknown } | undefined;
      const line = {
        gui: "outgoing",
        name: args[0] ?? "",
        id: String(result?.id ?? ""),
        text: args.slice(1).join(" "),
        at: Date.now(),
      };
      this.#send(line);
      this.#keep(line);
    } else if (name === "delete") {
      this.#forget(args[0] ?? "");
    }
  }

  async #app(socket: WebSocket, id: Id, value: Record<string, unknown>): Promise<void> {
    const reply = (result: JsonLine) => this.#sendTo(socket, { id, ok: true, result });
    try {
      if (value["app"] === "peers") {
        const names = await this.#o.peers();
        const peers = [];
        for (const name of names) peers.push({ name, stored: await this.#o.stored(name) });
        reply({ peers, encrypt: this.#o.encrypt === true, ...this.#preset() });
        return;
      }
      if (value["app"] === "start") {
        const name = value["name"];
        const passphrase = value["passphrase"];
        if (
          typeof name !== "string" || (passphrase !== undefined && typeof passphrase !== "string")
        ) {
          this.#sendTo(
            socket,
            errorLine(id, "bad_request", "start needs a name (and a passphrase as text)"),
          );
          return;
        }
        await this.#start(name, passphrase === "" ? undefined : passphrase);
        reply({ identity: { ...this.#identity! } });
        return;
      }
      this.#sendTo(socket, errorLine(id, "bad_request", "Unknown request"));
    } catch (e) {
      const name = typeof value["name"] === "string" ? value["name"] : "the peer";
      this.#sendTo(socket, errorLine(id, errorCode(e), startErrorMessage(e, name)));
    }
  }

  #preset(): JsonLine {
    return this.#o.name !== undefined ? { preset: this.#o.name } : {};
  }

  async #start(rawName: string, typed: string | undefined): Promise<void> {
    if (this.#phase !== "choose") {
      throw new GuiError("already_started", "A peer is already starting or running");
    }
    const name = validatePeerName(rawName);
    const stored = await this.#o.stored(name);
    const passphrase = typed ?? this.#o.envPassphrase;
    if (stored === "missing" && this.#o.encrypt === true && passphrase === undefined) {
      throw new GuiError("passphrase_required", `Choose a passphrase for the new peer ${name}`);
    }
    if (stored === "encrypted" && passphrase === undefined) {
      throw new GuiError("passphrase_required", `${name} is encrypted: enter its passphrase`);
    }
    this.#phase = "starting";
    this.#name = name;
    this.#lastBootstrap = undefined;
    this.#bootNotes = {};
    this.#startError = undefined;
    this.#send(this.#phaseLine());
    try {
      this.#running = await this.#o.start(name, this.sink, passphrase);
    } catch (e) {
      this.#phase = "choose";
      this.#name = undefined;
      this.#startError = { code: errorCode(e), message: startErrorMessage(e, name) };
      this.#send(this.#phaseLine());
      throw e;
    }
    this.#identity = this.#running.identity;
    const text = `${this.#identity.address} ${this.#identity.key}`;
    this.#svg = qrSvg(encodeQr(text), `QR code of ${text}`);
    this.#phase = "running";
    this.#send(this.#phaseLine());
    await this.#o.remember(name).catch((e) =>
      this.#send({
        event: "warning",
        code: "config",
        message: `Cannot remember the last peer used: ${errorMessage(e)}`,
      })
    );
  }

  #phaseLine(): JsonLine {
    return {
      gui: "phase",
      phase: this.#phase,
      ...(this.#name !== undefined ? { name: this.#name } : {}),
      ...(this.#startError !== undefined && this.#phase === "choose"
        ? { error: this.#startError }
        : {}),
      ...(this.#identity !== undefined && this.#phase === "running"
        ? { identity: { ...this.#identity } }
        : {}),
    };
  }

  /** Sends to every open page; returns how many it reached. */
  #send(line: JsonLine): number {
    const text = JSON.stringify(line);
    let reached = 0;
    for (const s of this.#sockets) if (this.#sendText(s, text)) reached++;
    return reached;
  }

  #sendTo(socket: WebSocket, line: JsonLine): void {
    this.#sendText(socket, JSON.stringify(line));
  }

  #sendText(socket: WebSocket, text: string): boolean {
    if (socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount > MAX_UNREAD_BYTES) {
      // a page that reads nothing would hold every line in memory, and show none
      this.#sockets.delete(socket);
      this.#o.log(`Dropped a GUI page that read nothing for ${MAX_UNREAD_BYTES} bytes`);
      socket.close(1008, "The page read nothing for too long; reload it");
      return false;
    }
    try {
      socket.send(text);
      return true;
    } catch {
      return false;
    }
  }

  #keep(line: JsonLine): void {
    // a message re-sent because no page showed it in time is kept once
    if (line["event"] === "message" && this.#backlog.some((b) => b.line["id"] === line["id"])) {
      return;
    }
    const text = JSON.stringify(line);
    this.#backlog.push({ line, text });
    this.#backlogChars += text.length;
    while (
      this.#backlog.length > MAX_BACKLOG_LINES ||
      (this.#backlogChars > MAX_BACKLOG_CHARS && this.#backlog.length > 1)
    ) {
      this.#backlogChars -= this.#backlog.shift()!.text.length;
    }
  }

  /** Drops a deleted conversation's lines from the backlog. */
  #forget(name: string): void {
    this.#backlog = this.#backlog.filter((b) => b.line["name"] !== name);
    this.#backlogChars = this.#backlog.reduce((n, b) => n + b.text.length, 0);
  }
}

/** A request of the GUI that cannot be done now (`already_started`, `passphrase_required`). */
export class GuiError extends UnmessageError {}

function errorLine(id: Id, code: string, message: string): JsonLine {
  return { id, ok: false, error: { code, message } };
}

function errorCode(e: unknown): string {
  return isUnmessageError(e) ? e.code : "start_failed";
}

function startErrorMessage(e: unknown, name: string): string {
  const why = errorMessage(e);
  return e instanceof GuiError ? why : `Cannot start ${name}: ${why}`;
}
