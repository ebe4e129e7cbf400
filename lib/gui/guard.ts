/**
 * The checks every request to the GUI's local web server passes before
 * anything else runs (see README "The graphical interface", security):
 *
 * - **Host** must be `127.0.0.1:<port>` or `localhost:<port>`: a page of
 *   another site that rebinds its DNS name to 127.0.0.1 sends its own name
 *   and is refused (DNS rebinding).
 * - **Capability token**: an unguessable random token, given once in the
 *   URL (`/?token=…`) and from then on held in a cookie (HttpOnly,
 *   SameSite=Strict, named after the port because cookies are not
 *   separated by port). Without it, every request gets 403.
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
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The cookie that holds the token for the server on `port`. */
export function cookieName(port: number): string {
  return `unmessage_${port}`;
}

/** The `Set-Cookie` value that hands the token to the browser. */
export function tokenCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
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

/** The token of the request's cookie for `port`, if any. */
export function cookieToken(cookieHeader: string | null, port: number): string | undefined {
  if (cookieHeader === null) return undefined;
  const name = cookieName(port);
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** How a request presents the token: in its cookie, in the URL (`?token=`), or not at all. */
export type TokenCheck = "cookie" | "url" | "none";

/** Checks the request's token (cookie first, then the URL's `token` parameter). */
export function checkToken(req: Request, url: URL, port: number, token: string): TokenCheck {
  const fromCookie = cookieToken(req.headers.get("cookie"), port);
  if (fromCookie !== undefined && sameToken(fromCookie, token)) return "cookie";
  const fromUrl = url.searchParams.get("token");
  if (fromUrl !== null && sameToken(fromUrl, token)) return "url";
  return "none";
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
