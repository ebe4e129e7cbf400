/**
 * The checks every request to the GUI's local web server passes before
 * anything else runs (README "Graphical interface (`--gui`)";
 * docs/threat-model.md "A web page the user visits, and the GUI's local
 * server"):
 *
 * - **Host** must be `127.0.0.1:<port>` or `localhost:<port>`: a page of
 *   another site that rebinds its DNS name to 127.0.0.1 sends its own name
 *   and is refused (DNS rebinding).
 * - **Capability token**: an unguessable random token, given once in the
 *   URL (`/?token=…`). Without it, or the cookie below, every request gets
 *   403. The page keeps the token in its own origin's storage (which,
 *   unlike a cookie, is kept apart by port) and presents it in the URL of
 *   the WebSocket and of the identity's QR code; both refuse a request
 *   without it.
 * - **Cookie**: the first load also sets a cookie (HttpOnly,
 *   SameSite=Strict, named after the port) that lets the browser load the
 *   page's own files, and nothing else. It holds another random value, not
 *   the token: cookies are not separated by port (RFC 6265 section 8.5), so
 *   the browser also sends it to any server on 127.0.0.1 that it visits,
 *   which another local user may run.
 * - **Origin** must be this server's own on the WebSocket, the only way to
 *   change state (no other request changes anything).
 * - **Headers** on every answer: a strict Content-Security-Policy (no inline
 *   script, nothing from another origin), `X-Frame-Options: DENY`, no
 *   referrer (the token must not leak in a `Referer`), no caching, no CORS.
 *
 * Pure functions of the request; the server (`server.ts`) applies them.
 *
 * @module
 */

/** Random bytes in a capability token (256 bits: unguessable). */
export const TOKEN_BYTES = 32;

/** The Content-Security-Policy of every answer: own scripts, styles and socket only. */
export const CSP: string =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A new capability token: 32 random bytes, base64url. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The cookie that lets the browser load the page's files from the server on `port`. */
export function cookieName(port: number): string {
  return `unmessage_${port}`;
}

/** The `Set-Cookie` value that hands the cookie's `value` to the browser. */
export function pageCookie(port: number, value: string): string {
  return `${cookieName(port)}=${value}; Path=/; HttpOnly; SameSite=Strict`;
}

/** Whether `host` (the Host header) names this server on loopback. */
export function hostAllowed(host: string | null, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** Whether `origin` (the Origin header) is this server's own. */
export function originAllowed(origin: string | null, port: number): boolean {
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

/** Compares two strings in time independent of where they differ. */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The value of the request's cookie for `port`, if any. */
export function cookieValue(cookieHeader: string | null, port: number): string | undefined {
  if (cookieHeader === null) return undefined;
  const name = cookieName(port);
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the URL carries the token (`?token=`). */
export function urlHasToken(url: URL, token: string): boolean {
  const given = url.searchParams.get("token");
  return given !== null && sameToken(given, token);
}

/** Whether the request carries the page cookie `value` for `port`. */
export function hasPageCookie(req: Request, port: number, value: string): boolean {
  const given = cookieValue(req.headers.get("cookie"), port);
  return given !== undefined && sameToken(given, value);
}

/** Headers every answer carries. */
export function securityHeaders(contentType?: string): Headers {
  const h = new Headers({
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
  });
  if (contentType !== undefined) h.set("Content-Type", contentType);
  return h;
}
