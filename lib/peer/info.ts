/**
 * The plain info objects of types.ts built from the core's records (what
 * `req-in`, `req-out` and the `request-received` event show).
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
