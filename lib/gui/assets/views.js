/**
 * The screens before and after a conversation window: choosing or creating
 * a peer (with its passphrase), tor's bootstrap (phases, progress, the
 * problem tor names in plain words, and when it is stuck what to try, with
 * tor's last messages), and "stopped".
 *
 * @module
 */

import { h, replace } from "./dom.js";
import { app, quit, state } from "./app.js";

/**
 * Seconds without bootstrap progress after which the page says tor looks
 * stuck, until unMessage's own advice comes (`bootstrap-stalled`, at 45 s).
 */
const STUCK_AFTER_S = 30;
let stuckTimer;

function field(id, label, input, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
  );
}

function errorBox(id) {
  return h("p", { class: "form-error", id, role: "alert", hidden: true });
}

function showError(el, message) {
  el.textContent = message ?? "";
  el.hidden = !message;
}

/** The first screen: the peers under the configuration folder, and a new one. */
export async function showChoose(root) {
  let listed = { peers: [], encrypt: false };
  try {
    listed = await app("peers");
  } catch (e) {
    listed.error = e.message;
  }
  const startErr = errorBox("start-error");
  const createErr = errorBox("create-error");
  const pass = h("input", {
    id: "start-passphrase",
    type: "password",
    autocomplete: "current-password",
    "aria-describedby": "start-passphrase-hint",
  });
  const passField = field(
    "start-passphrase",
    "Passphrase",
    pass,
    "This peer's files are encrypted; its passphrase unlocks them.",
  );
  const radios = listed.peers.map((p) =>
    h(
      "li",
      null,
      h("input", {
        type: "radio",
        name: "peer",
        id: `peer-${p.name}`,
        value: p.name,
        "data-stored": p.stored,
        checked: (listed.preset ?? listed.peers[0]?.name) === p.name,
        onChange: sync,
      }),
      h(
        "label",
        { for: `peer-${p.name}` },
        p.name,
        p.stored === "encrypted" ? h("span", { class: "tag" }, "encrypted") : null,
        p.stored === "unreadable" ? h("span", { class: "tag warn" }, "damaged") : null,
      ),
    )
  );
  function chosen() {
    return /** @type {HTMLInputElement | null} */ (root.querySelector("input[name=peer]:checked"));
  }
  function sync() {
    passField.hidden = chosen()?.dataset.stored !== "encrypted";
  }
  const startBtn = h("button", { type: "submit", class: "primary", id: "start-button" }, "Start");
  async function start(name, passphrase, errEl, button) {
    showError(errEl, "");
    button.disabled = true;
    try {
      await app("start", { name, ...(passphrase ? { passphrase } : {}) });
    } catch (e) {
      showError(errEl, e.message);
      button.disabled = false;
      button.focus();
    }
  }
  const startForm = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "start-title",
      onSubmit: (e) => {
        e.preventDefault();
        const c = chosen();
        if (!c) return showError(startErr, "Choose a peer first");
        void start(c.value, pass.value, startErr, startBtn);
        pass.value = "";
      },
    },
    h("h2", { id: "start-title" }, "Start a peer"),
    listed.peers.length
      ? h("ul", { class: "peer-list", role: "radiogroup", "aria-label": "Peers" }, radios)
      : h("p", { class: "hint" }, "No peer yet: create one below."),
    passField,
    startErr,
    listed.peers.length ? startBtn : null,
  );
  const newName = h("input", {
    id: "new-name",
    autocomplete: "off",
    required: true,
    pattern: "[A-Za-z0-9_\\-]{1,32}",
    maxlength: "32",
    "aria-describedby": "new-name-hint",
    value: listed.preset && !listed.peers.some((p) => p.name === listed.preset)
      ? listed.preset
      : "",
  });
  const newPass = h("input", {
    id: "new-passphrase",
    type: "password",
    autocomplete: "new-password",
  });
  const newPass2 = h("input", {
    id: "new-passphrase2",
    type: "password",
    autocomplete: "new-password",
  });
  const createBtn = h("button", { type: "submit", id: "create-button" }, "Create and start");
  const createForm = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "create-title",
      onSubmit: (e) => {
        e.preventDefault();
        if (newPass.value !== newPass2.value) {
          return showError(createErr, "The two passphrases differ: type the same one twice");
        }
        if (listed.encrypt && newPass.value === "") {
          return showError(createErr, "--encrypt was given: choose a passphrase");
        }
        void start(newName.value.trim(), newPass.value, createErr, createBtn);
        newPass.value = newPass2.value = "";
      },
    },
    h("h2", { id: "create-title" }, "Create a peer"),
    field(
      "new-name",
      "Name",
      newName,
      "Only for you (letters, digits, _ or -, up to 32); contacts choose their own name for you.",
    ),
    field(
      "new-passphrase",
      listed.encrypt ? "Passphrase" : "Passphrase (optional)",
      newPass,
      "With one, the peer's files are encrypted. Nothing recovers a forgotten passphrase.",
    ),
    field("new-passphrase2", "Passphrase again", newPass2),
    createErr,
    createBtn,
  );
  replace(
    root,
    h(
      "main",
      { class: "narrow" },
      h("header", { class: "brand" }, h("h1", null, "unMessage"), quitButton()),
      listed.error ? h("p", { class: "form-error", role: "alert" }, listed.error) : null,
      state.startError
        ? h("p", { class: "form-error", role: "alert" }, state.startError.message)
        : null,
      startForm,
      createForm,
    ),
  );
  sync();
  (listed.peers.length ? (passField.hidden ? startBtn : pass) : newName).focus();
}

/** The Quit button: stops tor and the server. */
export function quitButton() {
  return h("button", {
    type: "button",
    class: "quit",
    id: "quit-button",
    onClick: () => void quit(),
  }, "Quit");
}

/** Tor's bootstrap: a progress bar, the phases seen, warnings, and whether it looks stuck. */
export function showBoot(root) {
  const b = state.boot;
  clearTimeout(stuckTimer);
  const idle = Math.floor((Date.now() - b.lastChange) / 1000);
  const stuck = idle >= STUCK_AFTER_S && b.progress < 100;
  if (!stuck) stuckTimer = setTimeout(() => state.phase === "starting" && showBoot(root), 5_000);
  const existing = root.querySelector("#boot");
  const body = h(
    "main",
    { class: "narrow", id: "boot" },
    h("header", { class: "brand" }, h("h1", null, "unMessage"), quitButton()),
    h(
      "section",
      { class: "card", "aria-labelledby": "boot-title" },
      h("h2", { id: "boot-title" }, `Starting ${state.name}…`),
      h(
        "label",
        { for: "boot-progress" },
        "Tor: ",
        h("span", { id: "boot-summary" }, b.summary || "launching tor"),
      ),
      h(
        "progress",
        { id: "boot-progress", max: "100", value: String(b.progress) },
        `${b.progress}%`,
      ),
      h("p", { class: "percent", "aria-hidden": "true" }, `${b.progress}%`),
      b.problem
        ? h("p", { class: "form-error", role: "alert", id: "boot-problem" }, b.problem.text)
        : null,
      b.stalled ? stallAdvice(b.stalled) : stuck
        ? h(
          "p",
          { class: "form-error", role: "alert", id: "boot-stuck" },
          `Tor has made no progress for ${idle} s at "${b.summary || "launching"}". ` +
            "It may be blocked from the network; if it stays stuck, what to try comes here.",
        )
        : null,
      b.warnings.length
        ? h(
          "ul",
          { class: "warnings", "aria-label": "Warnings" },
          b.warnings.map((w) => h("li", null, w)),
        )
        : null,
      h(
        "details",
        null,
        h("summary", null, "Phases"),
        h(
          "ol",
          { class: "phases" },
          b.phases.map((p) => h("li", null, `${p.progress}% ${p.summary}`)),
        ),
      ),
    ),
  );
  if (existing) existing.replaceWith(body);
  else replace(root, body);
}

/** What unMessage advises when bootstrap has not moved: why, what to try, tor's last words. */
function stallAdvice(stalled) {
  return h(
    "div",
    { class: "advice", id: "boot-advice", role: "alert" },
    h("p", { class: "form-error" }, stalled.message),
    h("ul", { "aria-label": "What to try" }, stalled.advice.map((a) => h("li", null, a))),
    stalled.log.length
      ? h(
        "details",
        { id: "boot-log" },
        h("summary", null, "Tor's last messages"),
        h(
          "ol",
          { class: "tor-log" },
          stalled.log.map((l) =>
            h("li", { "data-severity": String(l.severity) }, `${l.severity} ${l.text}`)
          ),
        ),
      )
      : null,
  );
}

/** After Quit: nothing runs any more. */
export function showStopped(root) {
  clearTimeout(stuckTimer);
  document.title = "unMessage (stopped)";
  replace(
    root,
    h(
      "main",
      { class: "narrow" },
      h("h1", null, "unMessage"),
      h(
        "section",
        { class: "card", id: "stopped", role: "status" },
        h("h2", null, "unMessage has stopped"),
        h("p", null, "Tor and the local server are stopped. You can close this tab."),
      ),
    ),
  );
}
