/**
 * Identity addresses and local contact names (docs/protocol.md §2.3
 * "Identity addresses": an identity address is `<name>@<onion address>`,
 * where the name is only a local identifier). We accept
 * `name@<56 characters>[.onion][:port]`, validate the v3 checksum on input
 * (so a typo is refused before anything is sent) and give every failure a
 * {@linkcode PeerError} that says how to fix it.
 *
 * Contact names are what the user types in commands (`msg bob hi`), so
 * besides the wire rules of the handshake (1 to 64 UTF-8 bytes, no control
 * characters, no "@") they may not contain white space, nor the invisible
 * and direction-changing characters names.ts refuses (a request's suggested
 * name is cleaned of them instead).
 *
 * @module
 */

import { decodePublicKey } from "../crypto/keys.ts";
import { ONION_ADDRESS_LENGTH, parseOnionAddress } from "../crypto/onion.ts";
import { isUnmessageError } from "../errors.ts";
import { checkName, MAX_NAME_BYTES, MAX_PORT, MIN_PORT } from "../protocol/handshake_data.ts";
import { PeerError } from "./errors.ts";
import { checkNameCharacters, removeHiddenCharacters, showName } from "./names.ts";

/**
 * The onion service's virtual port: ours unless `--port` says otherwise, and
 * a contact's when its address names none (unMessage 0.1's examples use it).
 */
export const DEFAULT_ONION_PORT = 50001;

/** A contact's address, parsed. */
export interface IdentityAddress {
  /** The local name (what we call them). */
  name: string;
  /** The 56-character v3 address, lower case, without ".onion". */
  onion: string;
  /** The onion service port. */
  port: number;
}

const WHITESPACE = /\s/;

/**
 * Returns `name` if it can name a contact; otherwise a `bad_name` error
 * saying what is wrong.
 */
export function checkContactName(name: unknown): string {
  if (typeof name !== "string") {
    throw new PeerError("bad_name", "Cannot use the name: expected text");
  }
  if (WHITESPACE.test(name)) {
    throw new PeerError(
      "bad_name",
      `Cannot use the name ${showName(name)}: remove its spaces`,
    );
  }
  try {
    checkName(name);
  } catch {
    throw new PeerError(
      "bad_name",
      `Cannot use the name ${showName(name)}: use 1 to ${MAX_NAME_BYTES} bytes ` +
        "without control characters or @",
    );
  }
  return checkNameCharacters(name);
}

/**
 * Turns a name a contact suggested into a valid local name: invisible and
 * direction-changing characters are removed, white space becomes "_"
 * (their name may contain spaces, ours may not); "contact" when nothing
 * usable is left.
 */
export function sanitizeSuggestedName(name: string): string {
  const cleaned = removeHiddenCharacters(name).replace(/\s+/g, "_");
  try {
    return checkContactName(cleaned);
  } catch {
    return "contact";
  }
}

/**
 * Parses `name@<address>[.onion][:port]`.
 *
 * @throws {PeerError} `bad_address` (no "@", bad port, a wrong onion
 *   address or checksum) or `bad_name`
 */
export function parseIdentityAddress(text: unknown): IdentityAddress {
  if (typeof text !== "string") {
    throw new PeerError("bad_address", "Cannot use the address: expected text");
  }
  const trimmed = text.trim();
  const at = trimmed.indexOf("@");
  if (at < 0) {
    throw new PeerError(
      "bad_address",
      "Cannot use the address: expected name@address.onion, e.g. bob@<56 characters>.onion:50001",
    );
  }
  const name = checkContactName(trimmed.slice(0, at));
  let host = trimmed.slice(at + 1);
  let port = DEFAULT_ONION_PORT;
  const colon = host.lastIndexOf(":");
  if (colon >= 0) {
    const digits = host.slice(colon + 1);
    const value = Number(digits);
    if (!/^\d{1,5}$/.test(digits) || value < MIN_PORT || value > MAX_PORT) {
      throw new PeerError(
        "bad_address",
        `Cannot use the address: port ${JSON.stringify(digits)} is not ${MIN_PORT} to ${MAX_PORT}`,
      );
    }
    port = value;
    host = host.slice(0, colon);
  }
  try {
    parseOnionAddress(host);
  } catch (e) {
    if (!isUnmessageError(e)) throw e;
    throw new PeerError(
      "bad_address",
      `Cannot use the address: ${e.message.replace(/^Cannot parse onion address: /, "")}; ` +
        `a v3 onion address has ${ONION_ADDRESS_LENGTH} characters, ask your contact for it again`,
    );
  }
  const onion = host.trim().toLowerCase().replace(/\.onion$/, "");
  return { name, onion, port };
}

/** `name@<onion>.onion:port`. */
export function formatIdentityAddress(name: string, onion: string, port: number): string {
  return `${name}@${onion}.onion:${port}`;
}

/**
 * Decodes a pasted identity key.
 *
 * @throws {PeerError} `bad_key` saying what is wrong
 */
export function parseIdentityKey(text: unknown): Uint8Array {
  if (typeof text !== "string") throw new PeerError("bad_key", "Cannot use the key: expected text");
  try {
    return decodePublicKey(text);
  } catch (e) {
    if (!isUnmessageError(e)) throw e;
    throw new PeerError(
      "bad_key",
      `Cannot use the key: ${e.message.replace(/^Cannot (decode|use) public key: /, "")}; ` +
        "an identity key is 44 characters of base64, copy it again",
    );
  }
}
