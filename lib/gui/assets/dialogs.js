/**
 * The windows on top of the conversation window, each a native `<dialog>`
 * (focus is kept inside, Escape closes it): a new request with inline
 * validation (the registry's `req-check`), an inbound request (accept
 * under another name, or reject), verify (with the result), authenticate
 * (hidden secret, SMP progress as it comes), delete (with confirmation),
 * and the identity's QR code. Also the toasts: readable messages that
 * never block the window.
 *
 * @module
 */

import { h, levelBadge, replace } from "./dom.js";
import { call, state, withToken } from "./app.js";
import { refreshChat } from "./chat.js";

/** How long a toast stays: information and warnings, errors. */
const TOAST_MS = 8_000;
const ERROR_TOAST_MS = 30_000;
/** Toasts shown at once (the oldest goes first). */
const MAX_TOASTS = 4;
/** Pause after typing before the address and key are checked. */
const CHECK_DELAY_MS = 250;

/** Shows a message that does not block the window. `kind`: info, warning, error. */
export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box || state.replaying) return;
  while (box.children.length >= MAX_TOASTS) box.firstElementChild?.remove();
  const item = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", null, text),
    h("button", {
      type: "button",
      class: "close",
      "aria-label": "Dismiss",
      onClick: () => item.remove(),
    }, "×"),
  );
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? ERROR_TOAST_MS : TOAST_MS);
}

function modal(id, title, ...content) {
  document.getElementById(id)?.remove();
  const dialog = h(
    "dialog",
    { id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    ...content,
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function field(id, label, input, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    h("p", { class: "hint", id: `${id}-hint`, "aria-live": "polite" }, hint ?? ""),
  );
}

function setHint(id, text, bad) {
  const el = document.getElementById(`${id}-hint`);
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("bad", bad === true);
  el.classList.toggle("good", bad === false);
  document.getElementById(id)?.setAttribute("aria-invalid", bad ? "true" : "false");
}

function buttons(...list) {
  return h("div", { class: "buttons" }, list);
}

/** A button that closes the dialog it is in. */
function cancel(label = "Cancel") {
  return h("button", {
    type: "button",
    onClick: (e) => e.currentTarget.closest("dialog")?.close(),
  }, label);
}

/** New chat: the contact's identity address and key; the name before @ is yours to choose. */
export function newChatDialog() {
  const address = h("input", {
    id: "req-address",
    class: "mono",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "req-address-hint",
  });
  const key = h("input", {
    id: "req-key",
    class: "mono",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "req-key-hint",
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const send = h("button", { type: "submit", class: "primary", id: "req-send" }, "Send request");
  let timer;
  let valid = false;
  async function check() {
    const [a, k] = [address.value.trim(), key.value.trim()];
    valid = false;
    if (a === "") {
      return setHint(
        "req-address",
        "name@address.onion:port: the name before @ is what you will call them",
      );
    }
    try {
      const r = await call("req-check", [a]);
      setHint("req-address", `✓ ${r.name} at ${r.onion}:${r.port}`, false);
    } catch (e) {
      setHint("req-address", e.message, true);
      return;
    }
    if (k === "") return setHint("req-key", "Their identity key: 44 characters");
    try {
      await call("req-check", [a, k]);
      setHint("req-key", "✓ well formed", false);
      valid = true;
    } catch (e) {
      setHint("req-key", e.message, true);
    }
  }
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), CHECK_DELAY_MS);
  };
  address.addEventListener("input", () => {
    // The whole identity line pasted into the first field: split it.
    const parts = address.value.trim().split(/\s+/);
    if (parts.length === 2 && key.value === "") [address.value, key.value] = parts;
    later();
  });
  key.addEventListener("input", later);
  const dialog = modal(
    "new-chat-dialog",
    "New chat",
    h(
      "form",
      {
        onSubmit: async (e) => {
          e.preventDefault();
          error.hidden = true;
          await check();
          if (!valid) return;
          send.disabled = true;
          try {
            const r = await call("req-send", [address.value.trim(), key.value.trim()]);
            dialog.close();
            toast(
              `Request sent to ${r.request.name}; the conversation starts when they accept`,
              "info",
            );
            void refreshChat();
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
            send.disabled = false;
          }
        },
      },
      h(
        "p",
        null,
        "Paste your contact's identity address and key (or the whole line they sent you).",
      ),
      field(
        "req-address",
        "Identity address",
        address,
        "name@address.onion:port: the name before @ is what you will call them",
      ),
      field("req-key", "Identity key", key, "Their identity key: 44 characters"),
      error,
      buttons(cancel(), send),
    ),
  );
  address.focus();
}

/**
 * An inbound request: who it is from, and accept (under another name if
 * wished) or reject. `arrived` is true when the window opens by itself, as
 * the request arrives: then it takes the keyboard on "Later", never on the
 * name field, so the user's typing (Enter in the middle of a message)
 * cannot accept a stranger's request, and a stranger cannot time one to
 * make that happen. A request whose name looks like a name in use, or that
 * came during a flood, says so, and a look-alike's name is not offered.
 */
export function inboundDialog(req, arrived = false) {
  const rename = h("input", {
    id: "accept-name",
    value: req.looksLike ? "" : req.name,
    autocomplete: "off",
    "aria-describedby": "accept-name-hint",
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const fail = (e) => {
    error.textContent = e.message;
    error.hidden = false;
  };
  const dialog = modal(
    "request-dialog",
    `Request from ${req.name}`,
    h(
      "form",
      {
        onSubmit: async (e) => {
          e.preventDefault();
          const name = rename.value.trim();
          try {
            await call(
              "req-accept",
              name === req.name || name === "" ? [req.name] : [req.name, name],
            );
            dialog.close();
            state.current = name || req.name;
            toast(`Accepted: conversation with ${name || req.name}`, "info");
            void refreshChat();
          } catch (err) {
            fail(err);
          }
        },
      },
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Identity address"),
        h("dd", { class: "mono", id: "request-address" }, req.address),
        h("dt", null, "Identity key"),
        h("dd", { class: "mono", id: "request-key" }, req.key),
        h("dt", null, "Received"),
        h("dd", null, new Date(req.at).toLocaleString()),
      ),
      requestWarnings(req),
      field("accept-name", "Accept as", rename, "The name you will call them; only you see it."),
      error,
      buttons(
        h("button", {
          type: "button",
          class: "danger",
          id: "reject",
          onClick: async () => {
            try {
              await call("req-reject", [req.name]);
              dialog.close();
              void refreshChat();
            } catch (err) {
              fail(err);
            }
          },
        }, "Reject"),
        h("button", {
          type: "button",
          id: "later",
          onClick: (e) => e.currentTarget.closest("dialog")?.close(),
        }, "Later"),
        h("button", { type: "submit", class: "primary", id: "accept" }, "Accept"),
      ),
    ),
  );
  if (arrived) {
    document.getElementById("later")?.focus();
    return;
  }
  rename.focus();
  rename.select();
}

/** What the core says about a request that may not be what it seems. */
function requestWarnings(req) {
  return [
    req.looksLike
      ? h(
        "p",
        { class: "form-error", id: "request-looks-like" },
        `⚠ The name “${req.name}” looks like “${req.looksLike}”, a name you already use. ` +
          "This is someone else unless their key matches; accept only under another name.",
      )
      : null,
    req.flood
      ? h(
        "p",
        { class: "hint bad", id: "request-flood" },
        "It came during a flood of requests: it is kept only until unMessage stops.",
      )
      : null,
  ];
}

/** Verify: compare the contact's key with one obtained over a channel you trust. */
export function verifyDialog(name) {
  const key = h("input", {
    id: "verify-key",
    class: "mono",
    autocomplete: "off",
    spellcheck: "false",
  });
  const result = h("p", { id: "verify-result", role: "status", "aria-live": "polite" });
  modal(
    "verify-dialog",
    `Verify ${name}`,
    h(
      "form",
      {
        onSubmit: async (e) => {
          e.preventDefault();
          try {
            const r = await call("verify", [name, key.value.trim()]);
            result.className = r.verified ? "good" : "bad";
            result.textContent = r.verified
              ? `✓ The key matches: ${name} is verified`
              : `✗ The key does NOT match ${name}'s identity key: not verified`;
            void refreshChat();
          } catch (err) {
            result.className = "bad";
            result.textContent = err.message;
          }
        },
      },
      h(
        "p",
        null,
        `Ask ${name} for their identity key over a channel you already trust (in person, a call), and paste it here.`,
      ),
      field("verify-key", "Their identity key", key),
      result,
      buttons(
        cancel("Close"),
        h("button", { type: "submit", class: "primary", id: "verify-submit" }, "Verify"),
      ),
    ),
  );
  key.focus();
}

const AUTH_WORDS = {
  requested: "They ask to authenticate: enter the secret you agreed on",
  started: "Started: waiting for the other side",
  match: "The secrets match: authenticated",
  nomatch: "The secrets differ: not authenticated",
  aborted: "Aborted",
};

function authSteps(name) {
  return (state.auth.get(name) ?? []).map((s) =>
    h(
      "li",
      { class: `auth-${s.status}`, "data-status": s.status },
      `${AUTH_WORDS[s.status] ?? s.status}${s.reason ? ` (${s.reason})` : ""}`,
    )
  );
}

/** Redraws an open Authenticate window for `name`; false if none is open. */
export function openAuthUpdate(name) {
  const list = document.getElementById("auth-steps");
  if (!list || list.dataset.name !== name) return false;
  replace(list, authSteps(name));
  const level = document.getElementById("auth-level");
  const conv = state.convs.get(name);
  if (level && conv) replace(level, levelBadge(conv.level));
  return true;
}

/** Authenticate: both type the same secret; SMP compares without revealing it. */
export function authDialog(name) {
  const secret = h("input", {
    id: "auth-secret",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const conv = state.convs.get(name);
  modal(
    "auth-dialog",
    `Authenticate ${name}`,
    h(
      "form",
      {
        onSubmit: async (e) => {
          e.preventDefault();
          error.hidden = true;
          const typed = secret.value;
          secret.value = "";
          if (typed === "") return;
          try {
            await call("auth", [name, typed]);
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
          }
        },
      },
      h(
        "p",
        null,
        `Both of you type the same secret, agreed on beforehand. It is compared without being revealed, and the level stays authenticated until one of you disconnects.`,
      ),
      h("p", null, "Level: ", h("span", { id: "auth-level" }, conv ? levelBadge(conv.level) : "")),
      field("auth-secret", "Shared secret", secret),
      h("ol", {
        id: "auth-steps",
        class: "steps",
        "data-name": name,
        "aria-live": "polite",
        "aria-label": "Progress",
      }, authSteps(name)),
      error,
      buttons(
        cancel("Close"),
        h("button", { type: "submit", class: "primary", id: "auth-submit" }, "Authenticate"),
      ),
    ),
  );
  secret.focus();
}

/** Delete (or cancel an outbound request), after confirmation. */
export function deleteDialog(name, request) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const dialog = modal(
    "delete-dialog",
    request ? `Cancel the request to ${name}?` : `Delete the conversation with ${name}?`,
    h(
      "p",
      null,
      request
        ? "The request is withdrawn; you can send a new one later."
        : "Its keys and queued messages are deleted for good. To talk again, one of you sends a new request.",
    ),
    error,
    buttons(
      cancel("Keep"),
      h("button", {
        type: "button",
        class: "danger",
        id: "delete-confirm",
        onClick: async () => {
          try {
            await call("delete", [name]);
            dialog.close();
            state.messages.delete(name);
            state.messageChars.delete(name);
            state.unread.delete(name);
            state.auth.delete(name);
            if (state.current === name) state.current = undefined;
            toast(
              request ? `Request to ${name} cancelled` : `Deleted the conversation with ${name}`,
              "info",
            );
            void refreshChat();
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
          }
        },
      }, request ? "Cancel the request" : "Delete"),
    ),
  );
  dialog.querySelector("button")?.focus();
}

/** The identity's QR code, large, with the text it holds. */
export function qrDialog() {
  const id = state.identity;
  const dialog = modal(
    "qr-dialog",
    "Your identity",
    h("img", {
      src: withToken("/identity.svg"),
      class: "qr-large",
      id: "qr-large",
      alt: `QR code of ${id.address} ${id.key}`,
    }),
    h("p", { class: "mono wrap" }, `${id.address} ${id.key}`),
    buttons(cancel("Close")),
  );
  dialog.querySelector("button")?.focus();
}
