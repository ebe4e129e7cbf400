/**
 * The SMP secret: the user's answer bound to both identity keys and the
 * conversation, as OTR v3 binds the answer to both fingerprints and the
 * session id ("Socialist Millionaires' Protocol": x = SHA256(1 ‖ our
 * fingerprint ‖ their fingerprint ‖ session id ‖ secret)). A man in the
 * middle runs two conversations with different keys and ids, so relaying the
 * SMP messages between them compares two different secrets and fails.
 *
 * Derivation (version 1):
 *   transcript = F(label) ‖ F(group name) ‖ F(initiator key) ‖ F(responder key)
 *                ‖ F(conversation id) ‖ F(UTF-8 of NFKC(answer).trim())
 *   where F(x) = 4-byte big-endian length ‖ x,
 *   okm = HKDF-SHA256(ikm = transcript, salt = label, info = "expand",
 *                     length = bytes(q) + 16)
 *   secret = (okm mod (q-1)) + 1, in [1, q-1] with bias below 2^-128.
 * Both peers pass the keys in the same (initiator, responder) order.
 *
 * @module
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { abytes, concatBytes, utf8 } from "../bytes.ts";
import { bigintFromBytes, byteLength, mod, RANDOM_EXTRA_BYTES, type SmpGroup } from "./group.ts";

/** Domain-separation label; the trailing number is the derivation version. */
export const SMP_SECRET_LABEL = "unMessage SMP secret v1";
/** Bound on an identity key (bytes). */
export const MAX_IDENTITY_KEY_BYTES = 256;
/** Bound on a conversation id (bytes). */
export const MAX_CONVERSATION_ID_BYTES = 256;
/** Bound on the normalised answer (UTF-8 bytes). */
export const MAX_ANSWER_BYTES = 1024;
/** HKDF info string of the expansion step. */
const EXPAND_INFO = "expand";

function field(bytes: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, bytes.length);
  return concatBytes(prefix, bytes);
}

function checkField(value: unknown, max: number, name: string): Uint8Array {
  const bytes = abytes(value, undefined, name);
  if (bytes.length === 0 || bytes.length > max) {
    throw new RangeError(`Cannot derive SMP secret: ${name} must have 1 to ${max} bytes`);
  }
  return bytes;
}

/** The answer as compared: NFKC-normalised, surrounding white space removed. */
export function normalizeAnswer(answer: string): string {
  if (typeof answer !== "string") throw new TypeError("Cannot use answer: expected string");
  return answer.normalize("NFKC").trim();
}

/**
 * The integer in [1, q-1] that enters SMP for `answer`, bound to both
 * identity keys and the conversation (see module doc). Throws RangeError for
 * an empty answer or an empty or oversized field.
 */
export function smpSecret<E>(
  answer: string,
  initiatorIdentityKey: Uint8Array,
  responderIdentityKey: Uint8Array,
  conversationId: Uint8Array,
  group: SmpGroup<E>,
): bigint {
  const initiator = checkField(
    initiatorIdentityKey,
    MAX_IDENTITY_KEY_BYTES,
    "initiatorIdentityKey",
  );
  const responder = checkField(
    responderIdentityKey,
    MAX_IDENTITY_KEY_BYTES,
    "responderIdentityKey",
  );
  const conversation = checkField(conversationId, MAX_CONVERSATION_ID_BYTES, "conversationId");
  const normalized = utf8(normalizeAnswer(answer));
  if (normalized.length === 0) throw new RangeError("Cannot derive SMP secret: answer is empty");
  if (normalized.length > MAX_ANSWER_BYTES) {
    throw new RangeError(`Cannot derive SMP secret: answer exceeds ${MAX_ANSWER_BYTES} bytes`);
  }
  const label = utf8(SMP_SECRET_LABEL);
  const transcript = concatBytes(
    field(label),
    field(utf8(group.name)),
    field(initiator),
    field(responder),
    field(conversation),
    field(normalized),
  );
  const okm = hkdf(
    sha256,
    transcript,
    label,
    utf8(EXPAND_INFO),
    byteLength(group.order) + RANDOM_EXTRA_BYTES,
  );
  const secret = mod(bigintFromBytes(okm), group.order - 1n) + 1n;
  transcript.fill(0);
  normalized.fill(0);
  okm.fill(0);
  return secret;
}
