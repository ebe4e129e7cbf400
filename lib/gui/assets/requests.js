/**
 * The requests in the side list, and what the user does with them: one,
 * many at once, or one of ours that expired:
 *
 * - **Inbound**: each pending request (marked when its name looks like a
 *   name in use, or when it came in a flood) with "Answer…", which opens
 *   its window (accept, under another name if wished, reject, or later:
 *   {@link inboundDialog}); above them the
 *   count, how many came in a flood, and "Reject the flood…" and "Reject
 *   all…", each after a window that says how many and what happens to
 *   their senders' copies: the registry's `req-reject --flood` and
 *   `req-reject --all`, as `/req-reject` runs them in the REPL.
 * - **Outbound**: each request we sent, "waiting for them" or, once the
 *   core lists it `expired`, "expired" in words with "Send again…" (New
 *   chat filled in: `req-send` replaces an expired request) besides
 *   "Cancel" (`req-cancel`, after a confirmation).
 *
 * Which requests exist, which are flood or expired, and what a bulk reject
 * matches are the core's: the page shows its lists (`reqs-in`, `reqs-out`)
 * and sends its commands, and says how many the core rejected.
 *
 * @module
 */

import { h } from "./dom.js";
import { call, state } from "./app.js";
import { buttons, confirmDialog, field, modal, newChatDialog, toast } from "./dialogs.js";
import { refreshChat, refreshRequests } from "./chat.js";

/** Names a bulk reject window lists before "and N more". */
const PREVIEW_NAMES = 5;

/** "1 request", "12 requests". */
function requests(n) {
  return `${n} ${n === 1 ? "request" : "requests"}`;
}

/** The side list's request sections (nothing when there is none). */
export function requestSections() {
  return [...inboundSection(), ...outboundSection()];
}

function inboundSection() {
  const all = state.reqsIn;
  if (all.length === 0) return [];
  const flood = all.filter((r) => r.flood).length;
  const items = all.map((r) =>
    h(
      "li",
      { class: "request", "data-name": r.name, "data-flood": r.flood ? "true" : null },
      h("span", { class: "request-name" }, r.name),
      r.looksLike
        ? h("span", { class: "tag warn looks-like" }, `⚠ looks like ${r.looksLike}`)
        : null,
      r.flood ? h("span", { class: "tag flood" }, "flood") : null,
      h("button", {
        type: "button",
        class: "answer",
        "aria-label": `Answer the request of ${r.name}`,
        onClick: () => inboundDialog(r),
      }, "Answer…"),
    )
  );
  return [
    h("h2", { id: "requests-in-title" }, `Requests for you (${all.length})`),
    flood || all.length > 1
      ? h(
        "div",
        { class: "bulk", role: "group", "aria-labelledby": "requests-in-title" },
        flood
          ? h(
            "p",
            { class: "hint bad", id: "flood-count" },
            h("span", { "aria-hidden": "true" }, "⚠ "),
            `${flood} came in a flood: held in memory until unMessage stops.`,
          )
          : null,
        flood
          ? h("button", {
            type: "button",
            id: "reject-flood",
            class: "danger",
            onClick: () => void rejectManyDialog(true),
          }, `Reject the flood (${flood})…`)
          : null,
        all.length > 1
          ? h("button", {
            type: "button",
            id: "reject-all",
            class: "danger",
            onClick: () => void rejectManyDialog(false),
          }, `Reject all (${all.length})…`)
          : null,
      )
      : null,
    h(
      "ul",
      { class: "requests", id: "requests-in", "aria-labelledby": "requests-in-title" },
      items,
    ),
  ];
}

function outboundSection() {
  const all = state.reqsOut;
  if (all.length === 0) return [];
  const items = all.map((r) =>
    h(
      "li",
      { class: "request", "data-name": r.name, "data-expired": r.expired ? "true" : null },
      h("span", { class: "request-name" }, r.name),
      r.expired
        ? h(
          "span",
          { class: "tag warn expired" },
          h("span", { "aria-hidden": "true" }, "⌛ "),
          "expired",
        )
        : h("span", { class: "hint" }, "waiting for them"),
      r.expired
        ? h(
          "p",
          { class: "hint why" },
          "Not answered in time: it is no longer sent. Send it again, or cancel it.",
        )
        : null,
      r.expired
        ? h("button", {
          type: "button",
          class: "again",
          "aria-label": `Send the request to ${r.name} again`,
          onClick: () => newChatDialog(r),
        }, "Send again…")
        : null,
      h("button", {
        type: "button",
        class: "cancel",
        "aria-label": `Cancel the request to ${r.name}`,
        onClick: () => cancelRequestDialog(r),
      }, "Cancel"),
    )
  );
  return [
    h("h2", { id: "requests-out-title" }, `Requests you sent (${all.length})`),
    h(
      "ul",
      { class: "requests", id: "requests-out", "aria-labelledby": "requests-out-title" },
      items,
    ),
  ];
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

/**
 * Asks before rejecting every inbound request, or (`flood`) those that came
 * in a flood, and says how many the core rejected. The count is the core's
 * of now (flood requests come without an event each). The keyboard starts
 * on "Keep them".
 */
export async function rejectManyDialog(flood) {
  await refreshRequests();
  const chosen = state.reqsIn.filter((r) => !flood || r.flood);
  const n = chosen.length;
  if (n === 0) return toast(flood ? "No request of a flood is left" : "No request is left", "info");
  const names = chosen.slice(0, PREVIEW_NAMES).map((r) => r.name).join(", ");
  const more = n > PREVIEW_NAMES ? ` and ${n - PREVIEW_NAMES} more` : "";
  confirmDialog({
    id: "reject-many-dialog",
    title: flood ? `Reject the ${requests(n)} of the flood?` : `Reject all ${requests(n)}?`,
    text: [
      `${names}${more}.`,
      flood
        ? "They are forgotten, not remembered: a genuine request among them comes back when its " +
          "sender sends it again."
        : "Copies their senders send again are ignored. A request that arrives before you " +
          "confirm is rejected too.",
    ],
    keep: "Keep them",
    yes: flood ? `Reject ${requests(n)} of the flood` : `Reject all ${requests(n)}`,
    yesId: "reject-many-confirm",
    act: async () => {
      const r = await call("req-reject", [flood ? "--flood" : "--all"]);
      const done = Array.isArray(r.names) ? r.names.length : 0;
      toast(
        `Rejected ${requests(done)}${done > n ? ` (${done - n} arrived meanwhile)` : ""}`,
        "info",
      );
      void refreshChat();
    },
  });
}

/** Asks before cancelling a request we sent (`req-cancel`), expired or not. */
function cancelRequestDialog(r) {
  confirmDialog({
    id: "cancel-request-dialog",
    title: `Cancel the request to ${r.name}?`,
    text: ["It is no longer sent; you can send a new one later."],
    keep: "Keep",
    yes: "Cancel the request",
    yesId: "cancel-request-confirm",
    act: async () => {
      await call("req-cancel", [r.name]);
      toast(`Request to ${r.name} cancelled`, "info");
      void refreshChat();
    },
  });
}
