/**
 * The GUI's local web server: listens on 127.0.0.1 only, at a port the
 * system picks, and answers only requests that pass `guard.ts` (loopback
 * Host, the capability token or the page cookie, and for the WebSocket and
 * the QR code the token itself; for the WebSocket its own Origin too). It
 * serves the embedded page (`assets.ts`), the QR code of the identity, and
 * one WebSocket per open page, handed to the caller (`app.ts`), which is
 * where every action happens. Nothing else: every other method gets 405,
 * every other path 404, and no answer carries CORS headers.
 *
 * The server never logs a request's URL (it may carry the token).
 *
 * @module
 */

import { ASSETS } from "./assets.ts";
import {
  hasPageCookie,
  hostAllowed,
  newToken,
  originAllowed,
  pageCookie,
  securityHeaders,
  urlHasToken,
} from "./guard.ts";

/** The only interface the server listens on. */
export const GUI_HOST = "127.0.0.1";
/** Open pages at once (each holds a socket); more are refused with 503. */
export const MAX_SOCKETS = 8;

/** Options of {@linkcode startGuiServer}. */
export interface GuiServerOptions {
  /** A new open page's socket (already checked). */
  onSocket(socket: WebSocket): void;
  /** The SVG QR code of the identity, once there is one. */
  identitySvg(): string | undefined;
  /** Port to listen on (default 0: the system picks one). */
  port?: number;
  /** The capability token (default: a new random one). */
  token?: string;
}

/** A running server. */
export interface GuiServer {
  /** The port it listens on. */
  readonly port: number;
  /** The capability token. */
  readonly token: string;
  /** The page's address with the token, to open once. */
  readonly url: string;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

function answer(status: number, text: string, extra: Record<string, string> = {}): Response {
  const headers = securityHeaders("text/plain; charset=utf-8");
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Response(`${text}\n`, { status, headers });
}

const FORBIDDEN_TEXT =
  "Forbidden: open unMessage with the address it printed or opened (it carries a key)";

/** Starts the server; see the module header. */
export function startGuiServer(options: GuiServerOptions): GuiServer {
  const token = options.token ?? newToken();
  // the cookie loads the page's files only: it reaches other servers on 127.0.0.1 (guard.ts)
  const cookie = newToken();
  let port = 0;
  const sockets = new Set<WebSocket>();
  const handler = (req: Request): Response => {
    if (!hostAllowed(req.headers.get("host"), port)) return answer(403, "Forbidden: wrong Host");
    const url = new URL(req.url);
    const byUrl = urlHasToken(url, token);
    if (!byUrl && !hasPageCookie(req, port, cookie)) return answer(403, FORBIDDEN_TEXT);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return answer(405, "Method not allowed", { Allow: "GET, HEAD" });
    }
    if (url.pathname === "/ws") {
      if (!originAllowed(req.headers.get("origin"), port)) {
        return answer(403, "Forbidden: wrong Origin");
      }
      if (!byUrl) return answer(403, FORBIDDEN_TEXT);
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return answer(400, "Expected a WebSocket upgrade");
      }
      if (sockets.size >= MAX_SOCKETS) return answer(503, "Too many open pages; close one");
      const { socket, response } = Deno.upgradeWebSocket(req);
      sockets.add(socket);
      socket.addEventListener("close", () => sockets.delete(socket));
      options.onSocket(socket);
      return response;
    }
    if (url.pathname === "/favicon.ico") {
      return new Response(null, { status: 204, headers: securityHeaders() });
    }
    if (url.pathname === "/identity.svg") {
      if (!byUrl) return answer(403, FORBIDDEN_TEXT);
      const svg = options.identitySvg();
      if (svg === undefined) return answer(404, "No identity yet");
      return new Response(svg, { headers: securityHeaders("image/svg+xml") });
    }
    const asset = ASSETS.get(url.pathname);
    if (asset === undefined) return answer(404, "Not found");
    const headers = securityHeaders(asset.type);
    // The token came in the URL: from now on the cookie loads the page's files.
    if (byUrl) headers.set("Set-Cookie", pageCookie(port, cookie));
    return new Response(req.method === "HEAD" ? null : asset.body, { headers });
  };
  const server = Deno.serve({
    hostname: GUI_HOST,
    port: options.port ?? 0,
    onListen: () => {},
    onError: () => answer(500, "Internal error"),
  }, handler);
  port = server.addr.port;
  return {
    port,
    token,
    url: `http://${GUI_HOST}:${port}/?token=${token}`,
    async close() {
      for (const s of sockets) {
        try {
          s.close(1001, "unMessage stopped");
        } catch {
          // already closing
        }
      }
      await server.shutdown();
    },
  };
}
