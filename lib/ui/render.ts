/**
 * Text of the interactive interface: peer names coloured by conversation
 * level (README.md, "Quick start: two people": Unverified red, Verified
 * green, Authenticated cyan), or the level written as a word when colours
 * are off (`NO_COLOR`, not a terminal), and one line per core event.
 *
 * Pure: strings in, strings out; colours through `node:util` `styleText`
 * with the stream check off, since the caller decides (see `terminal.ts`).
 *
 * @module
 */

import { styleText } from "node:util";
import type { Level, PeerEvent } from "../peer/types.ts";

/** How text is styled. */
export interface Style {
  /** Colours on (ANSI); off writes levels as words. */
  color: boolean;
}

/** A style `node:util`'s `styleText` knows (a colour, `bold`, ...). */
export type StyleName = Parameters<typeof styleText>[0];

/** Colour of each level (README.md, "Quick start: two people"). */
export const LEVEL_COLORS: Readonly<Record<Level, "red" | "green" | "cyan">> = {
  unverified: "red",
  verified: "green",
  authenticated: "cyan",
};

/** Applies `format` when colours are on. */
export function paint(style: Style, format: StyleName, text: string): string {
  return style.color ? styleText(format, text, { validateStream: false }) : text;
}

/**
 * A peer name as shown everywhere: coloured by level, or followed by the
 * level in brackets without colours (`bob [verified]`); a name without a
 * conversation (a request) is shown plain.
 */
export function peerName(style: Style, name: string, level: Level | undefined): string {
  if (level === undefined) return style.color ? styleText("bold", name, NO_CHECK) : name;
  return style.color
    ? styleText(["bold", LEVEL_COLORS[level]], name, NO_CHECK)
    : `${name} [${level}]`;
}

const NO_CHECK = { validateStream: false } as const;

/** Strips ANSI escape sequences (for widths and tests). */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "");
}

/**
 * Makes untrusted text safe to print: a tab becomes a space, every other C0
 * or C1 control character (escape, newline, CSI ...) a replacement character,
 * so a peer cannot move the cursor, clear the screen or fake a line.
 */
export function sanitize(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\t/g, " ").replace(/[\x00-\x1f\x7f-\x9f]/g, "\uFFFD");
}

/**
 * {@linkcode sanitize} for text of several lines (an error with advice, a
 * message): each line made safe, the line breaks kept, each line after the
 * first starting with `indent`.
 */
export function sanitizeLines(text: string, indent = ""): string {
  return text.split(/\r?\n/).map(sanitize).join(`\n${indent}`);
}

/** Looks a peer's current level up (undefined: no conversation). */
export type LevelOf = (name: string) => Level | undefined;

/** `HH:MM` of a timestamp, in local time. */
export function clock(at: number): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** A notice line (dim `--` prefix). */
export function notice(style: Style, text: string): string {
  return `${paint(style, "dim", "--")} ${text}`;
}

/** An error line. */
export function errorLine(style: Style, text: string): string {
  return `${paint(style, ["bold", "red"], "error:")} ${text}`;
}

/** A warning line. */
export function warningLine(style: Style, text: string): string {
  return `${paint(style, ["bold", "yellow"], "warning:")} ${text}`;
}

/** The line of a message, ours (`to`) or theirs. */
export function messageLine(
  style: Style,
  levelOf: LevelOf,
  m: { name: string; text: string; at: number; outgoing?: boolean },
): string {
  const who = m.outgoing ? paint(style, "bold", "me") : peerName(style, m.name, levelOf(m.name));
  const to = m.outgoing
    ? ` ${paint(style, "dim", "→")} ${peerName(style, m.name, levelOf(m.name))}`
    : "";
  // Multi-line text kept readable: each line break starts an indented continuation.
  const lines = sanitizeLines(m.text, "      ");
  return `${paint(style, "dim", clock(m.at))} ${who}${to}: ${lines}`;
}

/** Connection close reasons that are not worth a line (see `framed_conn.ts`). */
const ROUTINE_CLOSE: ReadonlySet<string> = new Set(["", "local", "peer_closed", "idle_timeout"]);

const AUTH_TEXT: Record<string, string> = {
  requested: "asks to authenticate: answer with /auth NAME <secret>",
  match: "authenticated: the secrets match",
  nomatch: "authentication FAILED: the secrets do not match",
  aborted: "authentication aborted",
};

/**
 * The one line of an SMP run that matched: the level it gave (`raised`:
 * the contact was not authenticated before) and why, the name in the new
 * level's colour. It stands for both the `auth` match event and the `level`
 * event that follows it.
 */
export function authMatchLine(
  style: Style,
  levelOf: LevelOf,
  name: string,
  raised: boolean,
): string {
  const who = peerName(style, sanitize(name), levelOf(name));
  return notice(style, `${who} is ${raised ? "now" : "still"} authenticated: the secrets match`);
}

/**
 * The line(s) shown for a core event, or `undefined` for events shown
 * otherwise (`bootstrap` is a progress bar, unless tor reports a problem;
 * `ready` a banner; an `auth` run `started` the `/auth` command's own line)
 * or not at all (routine connection progress).
 */
export function eventLine(
  style: Style,
  levelOf: LevelOf,
  e: PeerEvent,
  now: number,
): string | undefined {
  const who = (name: string) => peerName(style, sanitize(name), levelOf(name));
  switch (e.event) {
    case "bootstrap":
      // The phase is the progress bar; a problem tor reports is a line of its own.
      return e.problem === undefined ? undefined : warningLine(style, sanitize(e.problem));
    case "bootstrap-stalled":
      return [
        warningLine(style, sanitize(e.message)),
        ...e.advice.map((a) => `   - ${sanitize(a)}`),
        ...(e.log?.length ? ["   Tor's last messages:"] : []),
        ...(e.log ?? []).map((l) =>
          `     ${paint(style, "dim", `${clock(l.at)} ${sanitize(l.severity)}`)} ${
            sanitize(l.text)
          }`
        ),
      ].join("\n");
    case "tor-network":
      return notice(style, sanitize(e.message));
    case "ready":
      return undefined;
    case "message":
      return messageLine(style, levelOf, { name: e.name, text: e.text, at: e.at });
    case "request-received": {
      const r = e.request;
      const name = sanitize(r.name);
      const lookalike = r.looksLike === undefined
        ? ""
        : `; it looks like ${sanitize(r.looksLike)}: accept it only under another name`;
      return notice(
        style,
        `Request from ${paint(style, "bold", name)} (${sanitize(r.address)}): ` +
          `/req-accept ${name} [new-name] or /req-reject ${name}${lookalike}`,
      );
    }
    case "request-accepted":
      return notice(style, `${who(e.name)} accepted your request`);
    case "conversation-ended":
      return warningLine(
        style,
        `${who(e.name)} deleted this conversation on their side: nothing more can be sent; ` +
          `/delete ${sanitize(e.name)} removes it here`,
      );
    case "conversation-established":
      return notice(style, `Conversation with ${who(e.name)} established`);
    case "delivered":
      return notice(style, `${paint(style, "dim", clock(now))} delivered to ${who(e.name)}`);
    case "presence":
      return notice(style, `${who(e.name)} is ${e.online ? "online" : "offline"}`);
    case "level":
      return notice(style, `${who(e.name)} is now ${e.level}`);
    case "auth": {
      // A run starts only from our own /auth (peer/auth.ts), whose result says so.
      if (e.status === "started") return undefined;
      const text = (AUTH_TEXT[e.status] ?? e.status).replace("NAME", sanitize(e.name));
      const line = notice(style, `${who(e.name)}: ${text}`);
      return e.reason ? `${line} (${sanitize(e.reason)})` : line;
    }
    case "connection": {
      // First attempts and successes are routine: only trouble is shown.
      if (e.state === "connected" || (e.state === "connecting" && (e.attempt ?? 1) <= 1)) {
        return undefined;
      }
      if (e.state === "disconnected" && ROUTINE_CLOSE.has(e.error ?? "")) return undefined;
      const extra = [
        e.attempt !== undefined ? `attempt ${e.attempt}` : "",
        e.error ? sanitize(e.error) : "",
      ].filter((x) => x).join(", ");
      const text = `Connection to ${who(e.name)}: ${e.state}${extra ? ` (${extra})` : ""}`;
      return e.state === "failed" ? warningLine(style, text) : notice(style, text);
    }
    case "tor":
      return e.state === "failed" || e.state === "exited"
        ? warningLine(style, `Tor: ${sanitize(e.message)}`)
        : notice(style, `Tor: ${sanitize(e.message)}`);
    case "warning":
      return warningLine(style, sanitize(e.message));
    case "error":
      return errorLine(style, sanitize(e.message));
  }
}
