/**
 * The warnings a stranger can cause by the thousand: the core's aggregated
 * ones (dropped packets, refused connections, dropped requests), each a
 * `warning` event that carries the `count` it stands for. They are counted
 * quietly, as the REPL's `/warnings` does, in a disclosure of the top bar
 * ("⚠ 57 network warnings") that lists each code with its count, its
 * reasons and its last message, and opens and closes without blocking
 * anything. A toast each would push the notices the user must read (an
 * error, a request) out of the corner every few seconds and read each out
 * to a screen reader; only the first of the page says, once, where they go.
 *
 * @module
 */

import { h, replace, timeEl } from "./dom.js";
import { toast } from "./dialogs.js";

/** Codes counted apart at most (the rest count under "other"): the core has a handful. */
const MAX_CODES = 32;
/** Reasons kept per code at most. */
const MAX_REASONS = 32;

/** What each aggregated code counts, in words. */
const WORDS = {
  packets_dropped: "Packets ignored",
  connections_refused: "Connections closed",
  request_dropped: "Requests dropped",
};

/** code → { count, reasons: Map, last, at } */
const counts = new Map();
let told = false;
let box;

/** Whether `e` is a warning the core aggregated (and so is counted here). */
export function isCounted(e) {
  return e.event === "warning" && typeof e.count === "number";
}

/** The top bar's disclosure (hidden while nothing is counted); one per window. */
export function warningsBox() {
  box = h(
    "details",
    { class: "net-warnings", id: "net-warnings", hidden: counts.size === 0 },
    h("summary", { id: "net-warnings-summary" }),
    h("div", { class: "net-warnings-body" }),
  );
  draw();
  return box;
}

/** Counts an aggregated warning and redraws the disclosure. */
export function countWarning(e) {
  const key = counts.has(e.code) || counts.size < MAX_CODES ? String(e.code) : "other";
  const entry = counts.get(key) ?? { count: 0, reasons: new Map(), last: "", at: 0 };
  entry.count += Number.isFinite(e.count) && e.count > 0 ? e.count : 1;
  for (const [why, n] of Object.entries(e.reasons ?? {})) {
    if (typeof n !== "number") continue;
    if (entry.reasons.has(why) || entry.reasons.size < MAX_REASONS) {
      entry.reasons.set(why, (entry.reasons.get(why) ?? 0) + n);
    }
  }
  entry.last = String(e.message ?? "");
  entry.at = Date.now();
  counts.set(key, entry);
  draw();
  if (told) return;
  told = true;
  toast(
    "Network warnings (ignored packets, closed connections, dropped requests) are counted " +
      "quietly: “network warnings” at the top lists them",
    "warning",
  );
}

function draw() {
  if (!box) return;
  const total = [...counts.values()].reduce((n, c) => n + c.count, 0);
  box.hidden = total === 0;
  replace(
    box.querySelector("summary"),
    h("span", { "aria-hidden": "true" }, "⚠ "),
    h("span", { class: "count", "data-count": String(total) }, String(total)),
    ` network ${total === 1 ? "warning" : "warnings"}`,
  );
  const rows = [...counts].sort((a, b) => b[1].count - a[1].count).map(([code, c]) =>
    h(
      "li",
      { "data-code": code },
      h("strong", null, `${WORDS[code] ?? code}: ${c.count}`),
      c.reasons.size
        ? h(
          "span",
          { class: "reasons" },
          ` (${[...c.reasons].map(([why, n]) => `${why} ${n}`).join(", ")})`,
        )
        : null,
      h("p", { class: "last" }, "Last, at ", timeEl(c.at), ": ", c.last),
    )
  );
  replace(
    box.querySelector(".net-warnings-body"),
    h(
      "p",
      { class: "hint" },
      "From connections and requests that are not your contacts': connected contacts are not " +
        "affected.",
    ),
    h("ul", { "aria-label": "Network warnings" }, rows),
  );
}
