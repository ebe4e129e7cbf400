/**
 * The GUI's web page, embedded in the program with text imports (so the
 * compiled executable serves it with nothing read from disk or fetched):
 * one HTML page, one style sheet, and plain ES modules, no framework, no
 * build step. Maps each served path to its bytes and content type.
 *
 * @module
 */

import indexHtml from "./assets/index.html" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import domJs from "./assets/dom.js" with { type: "text" };
import viewsJs from "./assets/views.js" with { type: "text" };
import dialogsJs from "./assets/dialogs.js" with { type: "text" };
import chatJs from "./assets/chat.js" with { type: "text" };
import chatEventsJs from "./assets/chat_events.js" with { type: "text" };
import requestsJs from "./assets/requests.js" with { type: "text" };
import warningsJs from "./assets/warnings.js" with { type: "text" };

/** One embedded file. */
export interface Asset {
  /** The file's text. */
  body: string;
  /** Its Content-Type. */
  type: string;
}

const JS = "text/javascript; charset=utf-8";

/** Served path → file. `/` is the page. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", { body: indexHtml, type: "text/html; charset=utf-8" }],
  ["/app.css", { body: appCss, type: "text/css; charset=utf-8" }],
  ["/app.js", { body: appJs, type: JS }],
  ["/dom.js", { body: domJs, type: JS }],
  ["/views.js", { body: viewsJs, type: JS }],
  ["/dialogs.js", { body: dialogsJs, type: JS }],
  ["/chat.js", { body: chatJs, type: JS }],
  ["/chat_events.js", { body: chatEventsJs, type: JS }],
  ["/requests.js", { body: requestsJs, type: JS }],
  ["/warnings.js", { body: warningsJs, type: JS }],
]);
