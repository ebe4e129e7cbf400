/**
 * The page's entry point: one WebSocket to the local unMessage, the state
 * the page shows, and which screen is up. Everything the page does is a
 * line of the machine interface sent over the socket (`call` for the
 * commands of the shared registry, `app` for choosing and starting a peer),
 * and everything it shows comes from the replies and the core's events.
 * No messenger logic lives here: levels, names, keys and delivery are the
 * core's; the page keeps only what it displays.
 *
 * @module
 */

import { showBoot, showChoose, showStopped } from "./views.js";
import { onChatEvent, showChat } from "./chat.js";
import { toast } from "./dialogs.js";

/** Longest wait for a reply before the page says the command timed out. */
const REPLY_TIMEOUT_MS = 120_000;
/** Pause before reconnecting a lost socket, and how many tries. */
const RECONNECT_MS = 1_000;
const RECONNECT_TRIES = 30;

/**
 * The capability token came in the address once. It is kept in this
 * origin's storage, which (unlike the cookie) no server on another port of
 * 127.0.0.1 can read, and presented only to this server, in the URL of the
 * socket and of the QR code (see the server's guard.ts).
 */
const TOKEN_KEY = "unmessage-token";
const given = new URLSearchParams(location.search).get("token");
if (given) localStorage.setItem(TOKEN_KEY, given);
if (location.search !== "") history.replaceState(null, "", "/");
const token = localStorage.getItem(TOKEN_KEY) ?? "";

/** `path` on this server with the token, for what needs it (the socket, the QR code). */
export function withToken(path) {
  return `${path}?token=${encodeURIComponent(token)}`;
}

/** What the page shows; filled from replies and events. */
export const state = {
  phase: "connecting",
  name: "",
  identity: undefined,
  startError: undefined,
  /**
   * Last bootstrap event and every phase summary seen; tor's last problem
   * (`problem`: text and progress) and the stall advice (`stalled`: message,
   * advice, log, progress), each kept until bootstrap moves past it.
   */
  boot: newBoot(),
  /** name → ConversationInfo (from `convs`). */
  convs: new Map(),
  reqsIn: [],
  reqsOut: [],
  /** name → [{ id, text, at, outgoing, delivered }] */
  messages: new Map(),
  /** name → characters of text in `messages` */
  messageChars: new Map(),
  unread: new Map(),
  /** name → [{ status, reason, at }] (SMP progress). */
  auth: new Map(),
  /** name → notices shown in the conversation (presence, level). */
  current: undefined,
  /** True while the server replays what was shown before this page opened. */
  replaying: false,
};

/** The bootstrap state of a start that has just begun. */
function newBoot() {
  return {
    progress: 0,
    summary: "",
    phases: [],
    warnings: [],
    problem: undefined,
    stalled: undefined,
    lastChange: Date.now(),
  };
}

let socket;
let nextId = 1;
const pending = new Map();
let tries = 0;
const root = document.getElementById("app");

/** Sends a command of the registry; resolves with its result, rejects with its error. */
export function call(cmd, args = []) {
  return request({ cmd, args });
}

/**
 * Tells unMessage that a received message is on the page: only then does
 * it count as shown, and so is acknowledged to its sender.
 */
export function shown(messageId) {
  if (socket?.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ app: "shown", message: messageId }));
  }
}

/** Sends a request of the application (`peers`, `start`, `quit`). */
export function app(kind, fields = {}) {
  return request({ app: kind, ...fields });
}

function request(body) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      reject({ code: "disconnected", message: "Not connected to unMessage" });
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(id);
      reject({ code: "timeout", message: "unMessage did not answer in time" });
    }, REPLY_TIMEOUT_MS);
    pending.set(id, (line) => {
      clearTimeout(timer);
      if (line.ok) resolve(line.result);
      else reject(line.error ?? { code: "error", message: "Failed" });
    });
    socket.send(JSON.stringify({ id, ...body }));
  });
}

/** Shows the screen of the current phase. */
export function render() {
  if (state.phase === "choose") showChoose(root);
  else if (state.phase === "starting") showBoot(root);
  else if (state.phase === "running") showChat(root);
  else if (state.phase === "stopped") showStopped(root);
}

function onLine(line) {
  if (line.id !== undefined && pending.has(line.id)) {
    const done = pending.get(line.id);
    pending.delete(line.id);
    done(line);
    return;
  }
  if (line.id !== undefined && line.ok === false) {
    toast(line.error?.message ?? "A request failed", "error");
    return;
  }
  if (line.gui === "phase") {
    // a stopped server's token opens nothing; the next start gives a new one
    if (line.phase === "stopped") localStorage.removeItem(TOKEN_KEY);
    const changed = line.phase !== state.phase;
    state.phase = line.phase;
    state.name = line.name ?? "";
    state.identity = line.identity;
    state.startError = line.error;
    if (line.phase === "starting" && changed) state.boot = newBoot();
    if (changed || line.phase === "choose") render();
    return;
  }
  if (line.gui === "replay") {
    state.replaying = line.state === "start";
    return;
  }
  if (line.event === "bootstrap") {
    const b = state.boot;
    if (line.progress !== b.progress || line.summary !== b.summary) b.lastChange = Date.now();
    b.progress = line.progress;
    b.summary = line.summary;
    if (b.phases.at(-1)?.summary !== line.summary) b.phases.push({ ...line });
    // tor's problem and the advice stand until bootstrap moves past them
    if (typeof line.problem === "string") {
      b.problem = { text: line.problem, progress: line.progress };
    } else if (b.problem && line.progress > b.problem.progress) b.problem = undefined;
    if (b.stalled && line.progress > b.stalled.progress) b.stalled = undefined;
    if (state.phase === "starting") showBoot(root);
    return;
  }
  if (line.event === "bootstrap-stalled") {
    const stalled = {
      progress: line.progress,
      message: String(line.message ?? ""),
      advice: Array.isArray(line.advice) ? line.advice.map(String) : [],
      log: Array.isArray(line.log) ? line.log : [],
    };
    if (state.phase === "starting") {
      state.boot.stalled = stalled;
      showBoot(root);
    } else if (state.phase === "running" && !state.replaying) {
      // a tor restarted under a running peer is stuck: say so, with the first thing to try
      toast(`${stalled.message} ${stalled.advice[0] ?? ""}`, "warning");
    }
    return;
  }
  if (
    state.phase === "starting" && (line.event === "warning" || line.event === "tor" ||
      line.event === "error")
  ) {
    state.boot.warnings.push(line.message);
    showBoot(root);
    return;
  }
  onChatEvent(line);
}

function connect() {
  const s = new WebSocket(`ws://${location.host}${withToken("/ws")}`);
  socket = s;
  s.addEventListener("open", () => {
    tries = 0;
  });
  s.addEventListener("message", (e) => {
    try {
      onLine(JSON.parse(e.data));
    } catch (err) {
      console.warn("Cannot show a line from unMessage", err);
    }
  });
  s.addEventListener("close", () => {
    for (const done of pending.values()) {
      done({ ok: false, error: { code: "disconnected", message: "unMessage went away" } });
    }
    pending.clear();
    if (state.phase === "stopped") return;
    if (++tries > RECONNECT_TRIES) {
      state.phase = "stopped";
      render();
      return;
    }
    toast("Lost the connection to unMessage; reconnecting…", "warning");
    setTimeout(connect, RECONNECT_MS);
  });
}

/** Quits unMessage: the peer stops (tor with it), then the server. */
export async function quit() {
  try {
    if (state.phase === "running") await call("quit");
    else await app("quit");
  } catch {
    // it went away while answering: that is quitting too
  }
}

connect();
