/**
 * The error family of the messenger core: every command of `Peer` that the
 * user got wrong (an unknown name, a taken name, a bad address or key, a
 * message to a conversation that does not exist yet ...) fails with a
 * {@linkcode PeerError} whose stable `code` the interfaces map to replies,
 * and whose message says what happened and what to do. A "did you mean"
 * is added when a name is close to one we know.
 *
 * When what to do is a command, the message ends with it, by its bare
 * name (`list them with reqs-in`), and the error carries it as `command`
 * (also in its JSON form): each interface shows it its own way, the REPL
 * with its slash (`/reqs-in`), the JSON interface as it is.
 *
 * Failures of other layers (`StoreError` for the disk, `NetError` for the
 * network) pass through unchanged; network input never throws here (it is
 * dropped and reported as a `warning` event).
 *
 * @module
 */

import { UnmessageError } from "../errors.ts";
import { closestName } from "../edit_distance.ts";

/**
 * Stable codes of {@linkcode PeerError}:
 * - `unknown_peer`: no conversation (or request) by that name
 * - `unknown_request`: no pending inbound request by that name
 * - `name_taken`: the local name is used by another contact or request
 * - `name_confusable`: the local name looks like another contact's or request's
 * - `bad_name`: the name is empty, too long, or has spaces, controls or "@"
 * - `bad_address`: not `name@<56 characters>.onion[:port]`, or a bad checksum
 * - `bad_key`: not a 44-character base64 X25519 public key
 * - `own_identity`: the address or key is our own
 * - `already_contact`: a conversation or request with that key exists
 * - `not_established`: the name is a pending request, not a conversation
 * - `conversation_ended`: the contact deleted the conversation on their side
 * - `outbox_full`: too many messages wait for that contact
 * - `too_many_requests`: too many requests wait for an answer
 * - `bad_message`: empty text, or text that cannot be sent
 * - `bad_secret`: empty or oversized authentication secret
 * - `closed`: the peer is closed
 */
export type PeerErrorCode =
  | "unknown_peer"
  | "unknown_request"
  | "name_taken"
  | "name_confusable"
  | "bad_name"
  | "bad_address"
  | "bad_key"
  | "own_identity"
  | "already_contact"
  | "not_established"
  | "conversation_ended"
  | "outbox_full"
  | "too_many_requests"
  | "bad_message"
  | "bad_secret"
  | "closed";

/** A mistake in a command given to the messenger core. */
export class PeerError extends UnmessageError {
  /** One of {@linkcode PeerErrorCode}. */
  declare readonly code: PeerErrorCode;
  /** The command line that helps, without a slash, when the message ends with it. */
  readonly command: string | undefined;

  /** `options.command`: the command the message ends with (see the module header). */
  constructor(
    code: PeerErrorCode,
    message: string,
    options?: ErrorOptions & { command?: string },
  ) {
    super(code, message, options);
    this.command = options?.command;
  }

  /** The JSON form, with `command` when there is one. */
  override toJSON(): { code: string; message: string; command?: string } {
    return { ...super.toJSON(), ...(this.command !== undefined ? { command: this.command } : {}) };
  }
}

/** A {@linkcode PeerError} whose message `text` ends with `command` (see the module header). */
export function suggestingCommand(code: PeerErrorCode, text: string, command: string): PeerError {
  return new PeerError(code, `${text} ${command}`, { command });
}

/** Type guard for a {@linkcode PeerError}, optionally of one code. */
export function isPeerError(e: unknown, code?: PeerErrorCode): e is PeerError {
  return e instanceof PeerError && (code === undefined || e.code === code);
}

/** The "did you mean" rule of every name (see `edit_distance.ts`). */
export { closestName };

/** `unknown_peer` (or `unknown_request`) for `name`, with a "did you mean" when one is close. */
export function unknownName(
  name: string,
  known: Iterable<string>,
  what: "conversation" | "request" | "outbound request" = "conversation",
): PeerError {
  const suggestion = closestName(name, known);
  const code = what === "conversation" ? "unknown_peer" : "unknown_request";
  const kind = what === "conversation"
    ? "No conversation"
    : what === "request"
    ? "No inbound request"
    : "No outbound request";
  const subject = `${kind} is named ${JSON.stringify(name)}:`;
  if (suggestion !== undefined) {
    return new PeerError(code, `${subject} did you mean ${suggestion}?`);
  }
  const list = what === "conversation" ? "convs" : what === "request" ? "reqs-in" : "reqs-out";
  return suggestingCommand(code, `${subject} list them with`, list);
}
