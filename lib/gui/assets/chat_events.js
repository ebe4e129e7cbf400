/**
 * The conversation window's side of the core's events (chat.js draws the
 * window): each line from unMessage (an event, or a GUI line) becomes what
 * the window shows: messages (a received one is said shown once drawn),
 * delivery marks, notices of presence, level and a conversation the
 * contact ended, authentication results, requests, tor's state, warnings
 * (counted ones in the warnings box) and errors as toasts; and a refresh
 * of the lists, grouped per burst.
 *
 * @module
 */

import { shown, state } from "./app.js";
import { addMessage, refresh, refreshRequests, soon } from "./chat.js";
import { openAuthUpdate, toast } from "./dialogs.js";
import { inboundDialog } from "./requests.js";
import { countWarning, isCounted } from "./warnings.js";

/** A line of the window's own in conversation `name` (not a message). */
function notice(name, text) {
  addMessage(name, { text, at: Date.now(), notice: true });
}

/** Turns a line from unMessage (an event, or a GUI line) into what the window shows. */
export function onChatEvent(e) {
  switch (e.gui ?? e.event) {
    case "outgoing":
      addMessage(e.name, { id: e.id, text: e.text, at: e.at, outgoing: true });
      return;
    case "message":
      addMessage(e.name, { id: e.id, text: e.text, at: e.at, outgoing: false });
      shown(e.id);
      return;
    case "delivered":
      for (const m of state.messages.get(e.name) ?? []) if (m.id === e.id) m.delivered = true;
      soon();
      return;
    case "presence":
      notice(e.name, `${e.name} is now ${e.online ? "online" : "offline"}`);
      soon();
      return;
    case "level":
      notice(e.name, `${e.name} is now ${e.level}`);
      soon();
      return;
    case "auth":
      state.auth.set(e.name, [...(state.auth.get(e.name) ?? []), {
        status: e.status,
        reason: e.reason,
        at: Date.now(),
      }]);
      if (!openAuthUpdate(e.name)) {
        if (e.status === "requested") {
          toast(
            `${e.name} asks to authenticate: open the conversation and press Authenticate`,
            "warning",
          );
        }
        if (e.status === "match") toast(`${e.name} is authenticated`, "info");
        if (e.status === "nomatch") {
          toast(`Authentication with ${e.name} failed: the secrets differ`, "error");
        }
        if (e.status === "aborted") {
          toast(
            `Authentication with ${e.name} was aborted${e.reason ? `: ${e.reason}` : ""}`,
            "warning",
          );
        }
      }
      soon();
      return;
    case "request-received":
      toast(`Request from ${e.request.name}`, "info");
      if (state.replaying) return soon();
      void refresh().then(() => {
        const pending = state.reqsIn.find((r) => r.name === e.request.name);
        if (pending && !document.querySelector("dialog[open]")) inboundDialog(pending, true);
      });
      return;
    case "request-accepted":
      toast(`${e.name} accepted your request`, "info");
      soon();
      return;
    case "conversation-ended":
      notice(e.name, `${e.name} deleted this conversation on their side: delete it too`);
      soon();
      return;
    case "conversation-established":
    case "connection":
      soon();
      return;
    case "tor":
      toast(e.message, e.state === "failed" ? "error" : "warning");
      return;
    case "warning":
      if (isCounted(e)) return countWarning(e);
      if (e.code === "request_flood") {
        toast(
          "Requests arrive in a flood: the newest are held in memory and marked “flood” in " +
            "the list; “Reject the flood…” there rejects them at once",
          "warning",
        );
        // requests held as a flood come without a request-received event of their own
        void refreshRequests();
        return;
      }
      toast(e.message, "warning");
      return;
    case "error":
      toast(e.message, "error");
      return;
  }
}
