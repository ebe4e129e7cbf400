/**
 * The windows on top of the conversation window, each a native `<dialog>`
 * (focus is kept inside, Escape closes it): a new request with inline
 * validation (the registry's `req-check`; filled in to send one that
 * expired again), verify (with the result), authenticate (hidden secret,
 * SMP progress as it comes), delete (with confirmation), and the
 * identity's QR code. Also the toasts: readable messages that never block
 * the window. (The windows that answer requests, one or many, or cancel
 * ours are requests.js's.)
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

/** Opens a modal window `id` titled `title` (one of each id at a time); removed once closed. */
export function modal(id, title, ...content) {
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

/** A labelled input with a hint below it that is read out when it changes. */
export function field(id, label, input, hint) {
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

/** The row of buttons at the foot of a window. */
export function buttons(...list) {
  return h("div", { class: "buttons" }, list);
}

/** A button that closes the dialog it is in. */
export function cancel(label = "Cancel") {
  return h("button", {
    type: "button",
    onClick: (e) => e.currentTarget.closest("dialog")?.close(),
  }, label);
}

/**
 * New chat: the contact's identity address and key; the name before @ is
 * yours to choose. `again`, a request of ours that expired (`{name,
 * address, key}`), fills both in: sending replaces the expired one.
 */
export function newChatDialog(again) {
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
  if (again) {
    address.value = again.address;
    key.value = again.key;
  }
  const dialog = modal(
    "new-chat-dialog",
    again ? `Send the request to ${again.name} again` : "New chat",
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
        again
          ? `Your request to ${again.name} expired unanswered. Check the address and key, then send a new one.`
          : "Paste your contact's identity address and key (or the whole line they sent you).",
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
  if (again) void check();
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

/**
 * A window that asks before a change that cannot be undone: `title`, the
 * `text` paragraphs, "`keep`" (where the keyboard starts) and the danger
 * button `yes` (its id `yesId`), which runs `act`; the window closes when
 * `act` succeeds and shows its error when it fails.
 */
export function confirmDialog({ id, title, text, keep, yes, yesId, act }) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const confirm = h("button", {
    type: "button",
    class: "danger",
    id: yesId,
    onClick: async () => {
      confirm.disabled = true;
      try {
        await act();
        dialog.close();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        confirm.disabled = false;
      }
    },
  }, yes);
  const dialog = modal(
    id,
    title,
    text.map((t) => h("p", null, t)),
    error,
    buttons(cancel(keep), confirm),
  );
  dialog.querySelector("button")?.focus();
}

/** Delete a conversation, after confirmation. */
export function deleteDialog(name) {
  confirmDialog({
    id: "delete-dialog",
    title: `Delete the conversation with ${name}?`,
    text: [
      "Its keys and queued messages are deleted for good. To talk again, one of you sends a new request.",
    ],
    keep: "Keep",
    yes: "Delete",
    yesId: "delete-confirm",
    act: async () => {
      await call("delete", [name]);
      state.messages.delete(name);
      state.messageChars.delete(name);
      state.unread.delete(name);
      state.auth.delete(name);
      if (state.current === name) state.current = undefined;
      toast(`Deleted the conversation with ${name}`, "info");
      void refreshChat();
    },
  });
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
