/**
 * The plain info objects of types.ts built from the core's records (what
 * `req-in`, `req-out` and the `request-received` event show), and the
 * excerpt by which a `delivered` event names its message.
 *
 * @module
 */

import { encodePublicKey } from "../crypto/keys.ts";
import { formatIdentityAddress } from "./address.ts";
import type { InboundEntry, OutboundEntry } from "./records.ts";
import type { RequestInfo } from "./types.ts";

/**
 * The {@linkcode RequestInfo} of a pending request; `looksLike` is the name
 * in use its name is confusable with (names.ts), if any.
 */
export function requestInfo(
  entry: InboundEntry | OutboundEntry,
  direction: "in" | "out",
  looksLike?: string,
): RequestInfo {
  if ("packet" in entry) {
    return {
      name: entry.name,
      direction,
      address: formatIdentityAddress(entry.name, entry.onion, entry.port),
      key: encodePublicKey(entry.state.peerIdentityKey),
      at: entry.at,
    };
  }
  const s = entry.state;
  return {
    name: entry.name,
    direction,
    address: formatIdentityAddress(entry.name, s.onionAddress, s.port),
    key: encodePublicKey(s.identityKey),
    at: entry.at,
    ...(looksLike !== undefined ? { looksLike } : {}),
  };
}

/** Most characters (grapheme clusters) of a message's excerpt. */
export const EXCERPT_GRAPHEMES = 40;

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The start of `text` on one line: runs of white space (newlines included)
 * become one space, and at most {@linkcode EXCERPT_GRAPHEMES} characters
 * are kept, never splitting one, with "…" when cut.
 */
export function excerptOf(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  const kept: string[] = [];
  for (const { segment } of graphemes.segment(line)) {
    if (kept.length === EXCERPT_GRAPHEMES) return kept.join("") + "…";
    kept.push(segment);
  }
  return kept.join("");
}
