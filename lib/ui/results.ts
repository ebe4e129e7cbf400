/**
 * What the REPL shows for a command's result or error: a sentence, a line
 * ready to copy, or a table, all derived from the registry's JSON-safe
 * results (so the REPL and the JSON interface never disagree on data).
 * User mistakes are rendered with the usage line or a "did you mean".
 *
 * @module
 */

import { errorMessage, isUnmessageError } from "../errors.ts";
import { PeerError } from "../peer/errors.ts";
import type { ConversationInfo, RequestInfo } from "../peer/types.ts";
import {
  COMMANDS,
  type JsonValue,
  SHARED_COMMANDS,
  UnknownCommandError,
  UsageError,
} from "./commands.ts";
import {
  clock,
  errorLine,
  type LevelOf,
  messageLine,
  notice,
  paint,
  peerName,
  sanitize,
  type Style,
} from "./render.ts";
import { conversationsTable, requestsTable } from "./table.ts";

type Obj = Record<string, unknown>;

const str = (v: unknown): string => sanitize(typeof v === "string" ? v : String(v));

/** `/help` text: every command's usage and summary, aligned. */
export function helpText(style: Style, only?: readonly string[]): string {
  const shown = only ? COMMANDS.filter((c) => only.includes(c.name)) : COMMANDS;
  const width = Math.max(...shown.map((c) => c.usage.length + 1));
  const lines = shown.map((c) => {
    const aliases = c.aliases.length ? ` (also ${c.aliases.map((a) => `/${a}`).join(", ")})` : "";
    return `  ${paint(style, "bold", `/${c.usage}`.padEnd(width))}  ${c.summary}${aliases}`;
  });
  if (only) return lines.join("\n");
  return "Commands (Tab completes commands and names; Up/Down recall history):\n" +
    lines.join("\n") +
    "\nA pasted text is one message, line breaks included; Alt-Enter types a line break.";
}

/** Context a result needs beyond its data. */
export interface ResultContext {
  /** Colours or level words. */
  style: Style;
  /** A contact's current level, for colouring names. */
  levelOf: LevelOf;
  /** The arguments as given (e.g. the text of `/msg`). */
  args: readonly string[];
  /** The time shown on the line (ms since the epoch). */
  now: number;
}

/** The text shown after a successful command (empty: nothing to show). */
export function resultText(name: string, result: JsonValue, ctx: ResultContext): string {
  const { style, levelOf } = ctx;
  const r = (result ?? {}) as Obj;
  const who = (n: unknown) => peerName(style, str(n), levelOf(str(n)));
  switch (name) {
    case "help": {
      const list = (r["commands"] as Obj[] | undefined) ?? [];
      return helpText(
        style,
        list.length === SHARED_COMMANDS.length ? undefined : list.map((c) => str(c["name"])),
      );
    }
    case "peer":
      return str(r["address"]);
    case "onion":
      return str(r["onion"]);
    case "key":
      return str(r["key"]);
    case "identity":
      return str(r["text"]);
    case "req-send": {
      const q = r["request"] as RequestInfo;
      return notice(
        style,
        `Request sent to ${paint(style, "bold", str(q.name))} (${str(q.address)})`,
      );
    }
    case "req-check":
      return notice(
        style,
        `Valid: ${paint(style, "bold", str(r["name"]))} at ${str(r["onion"])}:${str(r["port"])}` +
          (r["key"] ? ", and the key is well formed" : ""),
      );
    case "req-accept": {
      const c = r["conversation"] as ConversationInfo;
      return notice(style, `Accepted: conversation with ${peerName(style, str(c.name), c.level)}`);
    }
    case "req-reject": {
      const names = ((r["names"] as unknown[] | undefined) ?? []).map(str);
      if (names.length === 0) return notice(style, "No requests to reject");
      if (names.length === 1) {
        return notice(style, `Rejected the request of ${paint(style, "bold", names[0]!)}`);
      }
      const MAX_LISTED = 10; // a flood can be hundreds: the count says enough
      const more = names.length > MAX_LISTED ? ", ..." : "";
      return notice(
        style,
        `Rejected ${names.length} requests: ${names.slice(0, MAX_LISTED).join(", ")}${more}`,
      );
    }
    case "req-cancel":
      return notice(
        style,
        `Cancelled your request to ${paint(style, "bold", str(r["cancelled"]))}`,
      );
    case "reqs-in":
      return requestsTable(style, "in", (r["requests"] as RequestInfo[] | undefined) ?? []);
    case "reqs-out":
      return requestsTable(style, "out", (r["requests"] as RequestInfo[] | undefined) ?? []);
    case "convs":
      return conversationsTable(
        style,
        (r["conversations"] as ConversationInfo[] | undefined) ?? [],
      );
    case "msg":
      return messageLine(style, levelOf, {
        name: ctx.args[0] ?? "",
        text: ctx.args[1] ?? "",
        at: ctx.now,
        outgoing: true,
      });
    case "pres-on":
    case "pres-off":
      return notice(
        style,
        r["presence"]
          ? `${who(r["name"])} will be told when you go online or offline`
          : `${who(r["name"])} will no longer be told when you go online or offline`,
      );
    case "verify":
      return r["verified"]
        ? notice(style, `The key matches: ${who(r["name"])} is verified`)
        : errorLine(style, `The key does NOT match ${who(r["name"])}'s identity key: not verified`);
    case "auth":
      return notice(
        style,
        `Authentication with ${who(r["name"])} started; ` +
          (r["connecting"] === true ? "connecting to them…" : "waiting for them"),
      );
    case "tor-log": {
      const lines = (r["lines"] as { at: number; severity: string; text: string }[]) ?? [];
      if (lines.length === 0) return notice(style, "Tor has logged nothing yet");
      return lines.map((l) => {
        const tag = l.severity === "notice"
          ? paint(style, "dim", "notice")
          : paint(style, l.severity === "err" ? "red" : "yellow", l.severity);
        return `${paint(style, "dim", clock(l.at))} ${tag} ${str(l.text)}`;
      }).join("\n");
    }
    case "delete":
      return notice(
        style,
        `Deleted the conversation with ${paint(style, "bold", str(r["deleted"]))}`,
      );
    default:
      return "";
  }
}

/** Removes the registry's trailing `; usage: ...` (shown on its own line). */
function withoutUsage(message: string): string {
  return message.replace(/; usage: [\s\S]*$/, "");
}

/** The text shown for a failed command. */
export function errorText(style: Style, e: unknown, command?: string): string {
  if (e instanceof UsageError) {
    const usage = e.usage.startsWith("/") ? e.usage : `/${e.usage}`;
    const why = withoutUsage(e.message).replace(
      /^Wrong arguments for (\S+):/,
      (_, n) => `Wrong arguments for /${n.replace(/^\//, "")}:`,
    );
    return `${errorLine(style, why)}\n${paint(style, "bold", "usage:")} ${usage}`;
  }
  if (e instanceof UnknownCommandError) {
    const typed = /Unknown command "((?:[^"\\]|\\.)*)"/.exec(e.message)?.[1] ?? "";
    const shown = typed.startsWith("/") ? typed : `/${typed}`;
    const hint = e.suggestion ? `: did you mean /${e.suggestion}?` : "";
    return errorLine(style, `Unknown command ${sanitize(shown)}${hint} (/help lists the commands)`);
  }
  if (e instanceof PeerError && e.command !== undefined && e.message.endsWith(e.command)) {
    // The command it suggests, as typed here: with its slash.
    const text = `${e.message.slice(0, -e.command.length)}/${e.command}`;
    return errorLine(style, sanitize(text));
  }
  if (isUnmessageError(e)) return errorLine(style, sanitize(e.message));
  const what = command ? `/${command}` : "The command";
  const detail = errorMessage(e);
  return errorLine(style, `${what} failed unexpectedly: ${sanitize(detail)}`);
}
