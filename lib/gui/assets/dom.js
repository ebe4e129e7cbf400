/**
 * The page's one DOM helper: `h(tag, props, ...children)` builds an
 * element. Text always goes in as text nodes (never parsed as HTML), so
 * what a contact sends (names, messages) cannot inject markup. Props:
 * `class`, `for`, `aria-*`, `data-*` and other attributes as given;
 * `on<Event>` functions become listeners; `true`/`false` toggle a
 * boolean attribute; `undefined`/`null` are skipped.
 *
 * @module
 */

/**
 * @param {string} tag
 * @param {Record<string, unknown> | null} [props]
 * @param {...(Node | string | number | null | undefined | false | (Node | string)[])} children
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
    } else if (key === "value") {
      /** @type {HTMLInputElement} */ (el).value = String(value);
    } else if (key === "checked") {
      /** @type {HTMLInputElement} */ (el).checked = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (arrays flattened, empty ones skipped) as nodes or text. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * Runs `redraw`, which replaces what `el` holds, and puts the keyboard back
 * on the control that had it: the one with the same id, or else the button
 * of the same class in the item of the same `data-name` (a list redrawn
 * while someone tabs through it would otherwise throw them back to the top).
 */
export function keepFocus(el, redraw) {
  const had = document.activeElement;
  const inside = had instanceof HTMLElement && had !== el && el.contains(had);
  const id = inside ? had.id : "";
  const name = inside ? had.closest("[data-name]")?.getAttribute("data-name") : null;
  const cls = inside ? had.className : "";
  redraw();
  if (!inside) return;
  const item = name === null
    ? undefined
    : [...el.querySelectorAll("[data-name]")].find((x) => x.getAttribute("data-name") === name);
  const again = id
    ? document.getElementById(id)
    : [...(item?.querySelectorAll("button") ?? [])].find((b) => b.className === cls);
  if (again instanceof HTMLElement && el.contains(again)) again.focus();
}

/** A short local time (hh:mm) with the full date as its title. */
export function timeEl(at) {
  const d = new Date(at);
  return h(
    "time",
    { datetime: d.toISOString(), title: d.toLocaleString() },
    d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  );
}

/** What each level looks like: a word and a symbol, never colour alone. */
export const LEVELS = {
  unverified: { icon: "✗", word: "unverified" },
  verified: { icon: "✓", word: "verified" },
  authenticated: { icon: "★", word: "authenticated" },
};

/** A level badge: symbol, word and colour. */
export function levelBadge(level) {
  const l = LEVELS[level] ?? LEVELS.unverified;
  return h(
    "span",
    { class: `level level-${level}`, "data-level": level },
    h("span", { "aria-hidden": "true" }, `${l.icon} `),
    l.word,
  );
}
