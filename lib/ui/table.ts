/**
 * Tables of the interactive interface (`cli-table3`): conversations
 * (`/convs`, names coloured by level, README.md "Quick start: two people") and pending
 * requests (`/reqs-in`, `/reqs-out`). Pure: data in, text out; the table's
 * own colours are off so only our styling (or none) is used.
 *
 * Addresses (and the keys of requests) are too long for a table cell that
 * can be copied: they follow the table whole, one contact a line
 * (`bob@<56 characters>.onion:50001`), never cut; a narrow terminal wraps
 * them as it wraps any long line.
 *
 * @module
 */

import Table from "cli-table3";
import type { ConversationInfo, RequestInfo } from "../peer/types.ts";
import { clock, paint, peerName, sanitize, type Style } from "./render.ts";

function table(style: Style, head: string[]): InstanceType<typeof Table> {
  return new Table({
    head: head.map((h) => paint(style, "bold", h)),
    style: { head: [], border: [], compact: false },
    wordWrap: true,
  });
}

/** The `/convs` table (or a sentence when there is none). */
export function conversationsTable(style: Style, convs: readonly ConversationInfo[]): string {
  if (convs.length === 0) return "No conversations yet: send a request with /req-send";
  const t = table(style, ["name", "level", "online", "presence", "pending"]);
  for (const c of convs) {
    const name = sanitize(c.name);
    t.push([
      peerName(style, name, c.level),
      c.level,
      c.online ? "yes" : "no",
      c.presence ? "on" : "off",
      c.established ? String(c.pending) : `${c.pending} (not established)`,
    ]);
  }
  return [t.toString(), ...convs.map((c) => sanitize(c.address))].join("\n");
}

/** The `/reqs-in` or `/reqs-out` table (or a sentence when there is none). */
export function requestsTable(
  style: Style,
  direction: "in" | "out",
  requests: readonly RequestInfo[],
): string {
  if (requests.length === 0) {
    return direction === "in" ? "No inbound requests" : "No outbound requests";
  }
  const t = table(style, ["name", direction === "in" ? "received" : "sent"]);
  for (const r of requests) {
    const notes = [
      r.flood ? "flood" : "",
      r.expired ? "expired" : "",
      r.looksLike !== undefined ? `looks like ${sanitize(r.looksLike)}` : "",
    ].filter((n) => n !== "");
    const note = notes.length > 0 ? ` (${notes.join(", ")})` : "";
    t.push([paint(style, "bold", sanitize(r.name)) + note, clock(r.at)]);
  }
  // Address and key, as `/req-send` takes them.
  return [t.toString(), ...requests.map((r) => `${sanitize(r.address)} ${sanitize(r.key)}`)]
    .join("\n");
}
