/**
 * The conversation window: a top bar with the identity (Copy buttons and
 * its QR code), New chat and Quit; a side list of inbound and outbound
 * requests and of conversations (one tab each, with level as colour AND
 * word, online state, unread and queued counts); and the open
 * conversation: its level always visible, Send presence, Verify,
 * Authenticate, Delete, the messages with their time and state (queued,
 * sent, delivered), and the compose box (Enter sends, Shift+Enter is a new
 * line). The core's events become what these show in chat_events.js.
 *
 * @module
 */

import { h, keepFocus, levelBadge, replace, timeEl } from "./dom.js";
import { call, state, withToken } from "./app.js";
import {
  authDialog,
  deleteDialog,
  newChatDialog,
  openAuthUpdate,
  qrDialog,
  toast,
  verifyDialog,
} from "./dialogs.js";
import { requestSections } from "./requests.js";
import { quitButton } from "./views.js";
import { warningsBox } from "./warnings.js";

/** Pause that groups bursts of events into one refresh of the lists. */
const REFRESH_MS = 150;
/** Pause that groups a burst of messages into one redraw. */
const DRAW_MS = 50;
/**
 * How often the request lists are reloaded while a flood request is listed
 * or a request of ours waits: the core announces neither each flood request
 * nor an expiry with an event.
 */
const REQUESTS_POLL_MS = 10_000;
/**
 * Messages kept and shown per conversation (the oldest go first): a contact
 * who sends without end cannot make the page grow or slow without bound.
 */
const MAX_SHOWN_MESSAGES = 1_000;
/** Characters of text kept per conversation (a thousand messages of 1 MiB would be 2 GiB). */
const MAX_SHOWN_CHARS = 4 * 1024 * 1024;

let els;
let refreshTimer;
let pollTimer;
let drawTimer;
/** Messages of the open conversation not drawn yet (drawn once per burst). */
let toAppend = [];
/** Drafts of the compose box per conversation. */
const drafts = new Map();

/** Builds the window once per run, then keeps it up to date. */
export function showChat(root) {
  const id = state.identity;
  const sidebar = h("nav", { class: "sidebar", "aria-label": "Requests and conversations" });
  const panel = h("section", { class: "panel", id: "conversation" });
  replace(
    root,
    h(
      "div",
      { class: "layout" },
      h(
        "header",
        { class: "topbar" },
        h("h1", { class: "me" }, "unMessage ", h("span", { class: "me-name" }, state.name)),
        h(
          "details",
          { class: "identity", open: globalThis.innerWidth > 900 },
          h("summary", null, "Your identity"),
          h(
            "div",
            { class: "identity-body" },
            copyRow("address", "Identity address", id.address),
            copyRow("key", "Identity key", id.key),
            h(
              "button",
              {
                type: "button",
                class: "qr-button",
                "aria-label": "Show the QR code of your identity",
                onClick: qrDialog,
              },
              h("img", {
                src: withToken("/identity.svg"),
                alt: "QR code of your identity address and key",
                id: "qr-small",
              }),
            ),
          ),
        ),
        h(
          "div",
          { class: "actions" },
          warningsBox(),
          h(
            "button",
            { type: "button", class: "primary", id: "new-chat", onClick: () => newChatDialog() },
            "New chat",
          ),
          quitButton(),
        ),
      ),
      h("div", { class: "main" }, sidebar, panel),
    ),
  );
  els = { sidebar, panel };
  renderSidebar();
  renderPanel();
  void refresh();
  clearInterval(pollTimer);
  pollTimer = setInterval(() => {
    const waiting = state.reqsIn.some((r) => r.flood) || state.reqsOut.some((r) => !r.expired);
    if (state.phase === "running" && waiting) {
      void refreshRequests();
    }
  }, REQUESTS_POLL_MS);
}

function copyRow(what, label, value) {
  const inputId = `my-${what}`;
  return h(
    "div",
    { class: "copy-row" },
    h("label", { for: inputId }, label),
    h("input", { id: inputId, readonly: true, value, class: "mono", spellcheck: "false" }),
    h(
      "button",
      {
        type: "button",
        id: `copy-${what}`,
        "aria-label": `Copy your ${label.toLowerCase()}`,
        onClick: () => copy(inputId, value, label),
      },
      "Copy",
    ),
  );
}

async function copy(inputId, value, label) {
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    const input = /** @type {HTMLInputElement} */ (document.getElementById(inputId));
    input.select();
    document.execCommand("copy");
  }
  toast(`${label} copied`, "info");
}

/** Reloads conversations and requests from the core, then redraws. */
export async function refresh() {
  try {
    const [c, i, o] = await Promise.all([call("convs"), call("reqs-in"), call("reqs-out")]);
    state.convs = new Map(c.conversations.map((x) => [x.name, x]));
    state.reqsIn = i.requests;
    state.reqsOut = o.requests;
  } catch (e) {
    if (e.code !== "disconnected") toast(e.message, "error");
    return;
  }
  if (state.current !== undefined && !state.convs.has(state.current)) state.current = undefined;
  if (state.current === undefined && state.convs.size > 0) {
    state.current = [...state.convs.keys()][0];
  }
  renderSidebar();
  renderPanel();
  const steps = document.getElementById("auth-steps");
  if (steps?.dataset.name) openAuthUpdate(steps.dataset.name);
}

/**
 * Reloads the requests alone and, if they changed, redraws the sidebar
 * (the panel and its draft untouched).
 */
export async function refreshRequests() {
  let i, o;
  try {
    [i, o] = await Promise.all([call("reqs-in"), call("reqs-out")]);
  } catch {
    return; // the next full refresh says what is wrong
  }
  const same = JSON.stringify([i.requests, o.requests]) ===
    JSON.stringify([state.reqsIn, state.reqsOut]);
  state.reqsIn = i.requests;
  state.reqsOut = o.requests;
  if (!same) renderSidebar();
}

export function soon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refresh(), REFRESH_MS);
}

function onlineWord(c) {
  return h(
    "span",
    { class: c.online ? "online" : "offline" },
    h("span", { "aria-hidden": "true" }, c.online ? "● " : "○ "),
    c.online ? "online" : "offline",
  );
}

function renderSidebar() {
  if (!els) return;
  const tabs = [...state.convs.values()].map((c) => {
    const unread = state.unread.get(c.name) ?? 0;
    const selected = c.name === state.current;
    return h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${c.name}`,
        class: "conv",
        "data-name": c.name,
        "aria-selected": selected ? "true" : "false",
        "aria-controls": "conversation",
        tabindex: selected ? "0" : "-1",
        onClick: () => select(c.name),
        onKeydown: tabKeys,
      },
      h("span", { class: "conv-name" }, c.name),
      levelBadge(c.level),
      onlineWord(c),
      unread
        ? h("span", { class: "count unread", "data-unread": String(unread) }, `${unread} unread`)
        : null,
      c.pending
        ? h(
          "span",
          { class: "count queued", "data-queued": String(c.pending) },
          `${c.pending} queued`,
        )
        : null,
    );
  });
  keepFocus(els.sidebar, () =>
    replace(
      els.sidebar,
      requestSections(),
      h("h2", { id: "convs-title" }, "Conversations"),
      tabs.length
        ? h("div", {
          role: "tablist",
          "aria-labelledby": "convs-title",
          "aria-orientation": "vertical",
          class: "convs",
        }, tabs)
        : h(
          "p",
          { class: "hint" },
          "None yet. Press New chat and paste a contact's identity address and key.",
        ),
    ));
  const total = [...state.unread.values()].reduce((a, b) => a + b, 0);
  document.title = total ? `(${total}) unMessage – ${state.name}` : `unMessage – ${state.name}`;
}

function tabKeys(e) {
  const names = [...state.convs.keys()];
  const at = names.indexOf(state.current);
  const to = e.key === "ArrowDown" || e.key === "ArrowRight"
    ? names[(at + 1) % names.length]
    : e.key === "ArrowUp" || e.key === "ArrowLeft"
    ? names[(at - 1 + names.length) % names.length]
    : undefined;
  if (to === undefined) return;
  e.preventDefault();
  select(to);
  document.getElementById(`tab-${to}`)?.focus();
}

function select(name) {
  const box = document.getElementById("compose");
  if (box && state.current !== undefined) drafts.set(state.current, box.value);
  state.current = name;
  state.unread.delete(name);
  renderSidebar();
  renderPanel();
  document.getElementById("compose")?.focus();
}

function messageState(m, conv) {
  if (!m.outgoing) return undefined;
  if (m.delivered) return { word: "delivered", icon: "✓✓" };
  return conv?.online ? { word: "sent", icon: "✓" } : { word: "queued", icon: "◷" };
}

function messageItem(m, conv) {
  const s = messageState(m, conv);
  return h(
    "li",
    {
      class: `msg ${m.outgoing ? "out" : "in"}${m.notice ? " notice" : ""}`,
      "data-id": m.id ?? "",
    },
    h("div", { class: "text" }, m.text),
    h(
      "div",
      { class: "meta" },
      m.notice
        ? null
        : h("span", { class: "sr-only" }, m.outgoing ? "You, " : `${conv?.name ?? ""}, `),
      timeEl(m.at),
      s
        ? h(
          "span",
          { class: `state state-${s.word}`, "data-state": s.word },
          h("span", { "aria-hidden": "true" }, ` ${s.icon} `),
          s.word,
        )
        : null,
    ),
  );
}

function renderPanel() {
  if (!els) return;
  toAppend = []; // drawn below from state.messages
  const name = state.current;
  const conv = name === undefined ? undefined : state.convs.get(name);
  if (conv === undefined) {
    replace(
      els.panel,
      h("div", { class: "empty" }, h("p", null, "Choose a conversation, or press New chat.")),
    );
    els.panel.removeAttribute("role");
    return;
  }
  els.panel.setAttribute("role", "tabpanel");
  els.panel.setAttribute("aria-labelledby", `tab-${name}`);
  const old = document.getElementById("compose");
  const draft = old && old.dataset.name === name ? old.value : drafts.get(name) ?? "";
  const hadFocus = document.activeElement === old;
  const log = document.getElementById("log");
  const atBottom = !log || log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  const compose = h("textarea", {
    id: "compose",
    "data-name": name,
    rows: "2",
    "aria-label": `Message to ${name}`,
    placeholder: `Message to ${name} (Enter sends, Shift+Enter adds a line)`,
    onKeydown: (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void send(name, compose);
      }
    },
  });
  compose.value = draft;
  const messages = state.messages.get(name) ?? [];
  replace(
    els.panel,
    h(
      "header",
      { class: "conv-head" },
      h("h2", { id: "conv-title" }, name),
      h("span", { id: "conv-level" }, levelBadge(conv.level)),
      onlineWord(conv),
      conv.established ? null : h("span", { class: "tag" }, "waiting for their first message"),
      conv.ended ? h("span", { class: "tag warn", id: "conv-ended" }, "ended by them") : null,
      h(
        "div",
        { class: "conv-actions" },
        h(
          "label",
          { class: "check" },
          h("input", {
            type: "checkbox",
            id: "presence",
            checked: conv.presence,
            onChange: (e) => presence(name, e.target),
          }),
          " Send presence",
        ),
        h("button", { type: "button", id: "verify", onClick: () => verifyDialog(name) }, "Verify"),
        h(
          "button",
          { type: "button", id: "authenticate", onClick: () => authDialog(name) },
          "Authenticate",
        ),
        h("button", {
          type: "button",
          id: "delete",
          class: "danger",
          onClick: () => deleteDialog(name),
        }, "Delete"),
      ),
    ),
    h(
      "ol",
      {
        id: "log",
        "data-name": name,
        class: "log",
        role: "log",
        "aria-live": "polite",
        "aria-label": `Messages with ${name}`,
        tabindex: "0",
      },
      messages.map((m) => messageItem(m, conv)),
    ),
    h(
      "form",
      {
        class: "compose",
        onSubmit: (e) => {
          e.preventDefault();
          void send(name, compose);
        },
      },
      compose,
      h("button", { type: "submit", class: "primary", id: "send" }, "Send"),
    ),
  );
  const newLog = document.getElementById("log");
  if (atBottom && newLog) newLog.scrollTop = newLog.scrollHeight;
  if (hadFocus) compose.focus();
}

async function send(name, box) {
  const text = box.value;
  if (text.trim() === "") return;
  box.value = "";
  drafts.delete(name);
  try {
    const r = await call("msg", [name, text]);
    addMessage(name, { id: r.id, text, at: Date.now(), outgoing: true });
  } catch (e) {
    if (box.value === "") box.value = text;
    toast(e.message, "error");
  }
}

async function presence(name, box) {
  try {
    await call(box.checked ? "pres-on" : "pres-off", [name]);
  } catch (e) {
    box.checked = !box.checked;
    toast(e.message, "error");
  }
  soon();
}

/**
 * Adds a message (de-duplicated by id, at most MAX_SHOWN_MESSAGES and
 * MAX_SHOWN_CHARS per conversation, the oldest dropped first) and
 * shows it: appended to the open conversation's log, so neither a burst of
 * messages nor one message redraws the rest (nor moves the caret of a
 * draft); the side list is redrawn once per burst.
 */
export function addMessage(name, m) {
  const list = state.messages.get(name) ?? [];
  if (m.id && list.some((x) => x.id === m.id)) return;
  list.push(m);
  let chars = (state.messageChars.get(name) ?? 0) + m.text.length;
  while (list.length > 1 && (list.length > MAX_SHOWN_MESSAGES || chars > MAX_SHOWN_CHARS)) {
    chars -= list.shift().text.length;
  }
  state.messages.set(name, list);
  state.messageChars.set(name, chars);
  const unseen = name !== state.current || document.hidden;
  if (!m.outgoing && !m.notice && !state.replaying && unseen) {
    state.unread.set(name, (state.unread.get(name) ?? 0) + 1);
  }
  if (name === state.current) toAppend.push(m);
  drawSoon();
}

function drawSoon() {
  drawTimer ??= setTimeout(() => {
    drawTimer = undefined;
    renderSidebar();
    appendToLog();
  }, DRAW_MS);
}

function appendToLog() {
  const items = toAppend;
  toAppend = [];
  const name = state.current;
  const log = document.getElementById("log");
  if (items.length === 0 || name === undefined) return;
  if (!log || log.dataset.name !== name) return renderPanel();
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  const conv = state.convs.get(name);
  const kept = state.messages.get(name) ?? [];
  log.append(...items.filter((m) => kept.includes(m)).map((m) => messageItem(m, conv)));
  // the oldest went from state.messages (addMessage's bounds): from the log too
  while (log.children.length > kept.length) log.firstElementChild?.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

export { onChatEvent } from "./chat_events.js";
export { refresh as refreshChat };
