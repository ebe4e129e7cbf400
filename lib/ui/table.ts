/**
 * Tables of the interactive interface (`cli-table3`): conversations
 * (`/convs`, names coloured by level, seed CLI page "Chatting") and pending
 * requests (`/reqs-in`, `/reqs-out`). Pure: data in, text out; the table's
 * own colours are off so only our styling (or none) is used.
 *
 * @module
 */

import Table from "cli-table3";
import type { ConversationInfo, RequestInfo } from "../peer/types.ts";
import { clock, paint, peerName, sanitize, type Style } from "./render.ts";

/** Characters of an onion host kept in table cells (the rest is elided). */
const ONION_SHOWN = 16;

function table(style: Style, head: string[]): InstanceType<typeof Table> {
  return new Table({
    head: head.map((h) => paint(style, "bold", h)),
    style: { head: [], border: [], compact: false },
    wordWrap: true,
  });
}

/**
 * `name@abcdefghijklmnop….onion:port`: enough of the host to tell contacts
 * apart, short enough for an 80-column table (the full address is in
 * `/identity` of the contact, or the JSON interface).
 */
export function shortAddress(address: string): string {
  const host = new RegExp(`@([a-z2-7]{${ONION_SHOWN}})[a-z2-7]+\\.onion`);
  return address.replace(host, "@$1….onion");
}

/** The `/convs` table (or a sentence when there is none). */
export function conversationsTable(style: Style, convs: readonly ConversationInfo[]): string {
  if (convs.length === 0) return "No conversations yet: send a request with /req-send";
  const t = table(style, ["name", "level", "online", "presence", "pending", "address"]);
  for (const c of convs) {
    const name = sanitize(c.name);
    t.push([
      peerName(style, name, c.level),
      c.level,
      c.online ? "yes" : "no",
      c.presence ? "on" : "off",
      c.established ? String(c.pending) : `${c.pending} (not established)`,
      shortAddress(sanitize(c.address)),
    ]);
  }
  return t.toString();
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
  const t = table(style, ["name", direction === "in" ? "received" : "sent", "address", "key"]);
  for (const r of requests) {
    const notes = [
      r.flood ? "flood" : "",
      r.expired ? "expired" : "",
      r.looksLike !== undefined ? `looks like ${sanitize(r.looksLike)}` : "",
    ].filter((n) => n !== "");
    const note = notes.length > 0 ? ` (${notes.join(", ")})` : "";
    t.push([
      paint(style, "bold", sanitize(r.name)) + note,
      clock(r.at),
      shortAddress(sanitize(r.address)),
      sanitize(r.key),
    ]);
  }
  return t.toString();
}
