/**
 * Elements: the typed payloads carried inside Double Ratchet plaintexts
 * (docs/protocol.md "7.2 Elements"). Each has a
 * 16-byte random ID so that a delivery acknowledgement can name it. This
 * module encodes and decodes them; it knows nothing of ratchets or packets.
 * Elements larger than one packet are split by fragment.ts.
 *
 * Wire layout:
 *
 * ```
 * offset  size  field
 * 0       1     type    1 message, 2 presence, 3 authentication,
 *                       4 request accepted, 5 acknowledgement, 6 file (reserved),
 *                       7 conversation deleted, 8 unreadable
 * 1       16    element ID (random)
 * 17      ...   body, by type:
 *   message          u32 length ‖ UTF-8 text (any text, newlines included)
 *   presence         u8 status: 0 offline, 1 online
 *   authentication   u32 length ‖ opaque SMP message
 *   request accepted (empty)
 *   acknowledgement  16-byte ID of the acknowledged element
 *   file             u32 length ‖ opaque bytes (reserved: content defined later)
 *   conversation deleted (empty): the sender deleted the conversation and its
 *                    keys; sent once, best effort, as its last element
 *   unreadable       16-byte name ({@linkcode packetName}) of a packet of the
 *                    contact's that its receiver could not use: its sender
 *                    seals what it carried anew
 * ```
 *
 * Every length is bounded, the body must fill the element exactly, and an
 * unknown type is a `ProtocolError("unknown_element")`, so a newer peer's
 * elements are reported rather than misread.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { abytes, type Rng, utf8 } from "../crypto/bytes.ts";
import { ProtocolError } from "../errors.ts";
import { Reader, Writer } from "./codec.ts";

/** Length of an element ID. */
export const ELEMENT_ID_LENGTH = 16;

/** Length of a packet's name ({@linkcode packetName}). */
export const PACKET_NAME_LENGTH = 16;

/** Length of the type and ID before every body. */
export const ELEMENT_HEADER_LENGTH: number = 1 + ELEMENT_ID_LENGTH;

/**
 * Largest encoded element: 4 MiB, four times the longest message we promise
 * to carry (1 MiB), so text of multi-byte characters fits, while a peer can
 * never make us assemble more (fragment.ts holds the same bound).
 */
export const MAX_ELEMENT_SIZE = 4 * 1024 * 1024;

/** Largest UTF-8 text of a message element (what fits in one element). */
export const MAX_MESSAGE_BYTES = MAX_ELEMENT_SIZE - ELEMENT_HEADER_LENGTH - 4;

/**
 * Largest SMP message: 64 KiB, far above the largest OTR v3 SMP message over
 * the 1536-bit group (about 1.5 KiB), yet small enough to refuse abuse.
 */
export const MAX_AUTH_BYTES = 64 * 1024;

/** Largest content of a (reserved) file element. */
export const MAX_FILE_BYTES = MAX_ELEMENT_SIZE - ELEMENT_HEADER_LENGTH - 4;

/** Type codes on the wire. */
export const ELEMENT_TYPES = {
  message: 1,
  presence: 2,
  authentication: 3,
  request_accepted: 4,
  ack: 5,
  file: 6,
  conversation_deleted: 7,
  unreadable: 8,
} as const;

/** The content of an element, by type. */
export type ElementBody =
  | { type: "message"; text: string }
  | { type: "presence"; status: "online" | "offline" }
  | { type: "authentication"; data: Uint8Array }
  | { type: "request_accepted" }
  | { type: "ack"; ackedId: Uint8Array }
  | { type: "file"; data: Uint8Array }
  | { type: "conversation_deleted" }
  | { type: "unreadable"; packet: Uint8Array };

/** An element: its body and its 16-byte ID. */
export type Element = ElementBody & { id: Uint8Array };

// strict UTF-8 that keeps a leading U+FEFF, so every text round-trips exactly
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The name an `unreadable` element gives a packet: the first 16 bytes of
 * the SHA-256 of the whole packet, as it crossed the network. Its sender
 * keeps those very bytes (re-sent until acknowledged), so it finds them.
 */
export function packetName(packet: Uint8Array): Uint8Array {
  return sha256(abytes(packet, undefined, "packet")).slice(0, PACKET_NAME_LENGTH);
}

/** Draws a fresh element ID. */
export function newElementId(rng: Rng): Uint8Array {
  return abytes(rng(ELEMENT_ID_LENGTH), ELEMENT_ID_LENGTH, "rng output");
}

/** Gives `body` a fresh random ID. */
export function createElement(body: ElementBody, rng: Rng): Element {
  return { ...body, id: newElementId(rng) };
}

/**
 * Encodes an element.
 *
 * @throws {ProtocolError} `too_long` for a field beyond its bound,
 *   `bad_text` for a string that is not well-formed Unicode (a lone
 *   surrogate would not survive UTF-8), `unknown_element` for another type
 * @throws {CryptoError} `bad_length` for an ID of the wrong size
 */
export function encodeElement(element: Element): Uint8Array {
  abytes(element.id, ELEMENT_ID_LENGTH, "element.id");
  const w = new Writer();
  switch (element.type) {
    case "message": {
      if (!element.text.isWellFormed()) {
        throw new ProtocolError(
          "bad_text",
          "Cannot encode message: text is not well-formed Unicode",
        );
      }
      const text = utf8(element.text);
      w.u8(ELEMENT_TYPES.message).bytes(element.id).varBytes(
        text,
        "u32",
        MAX_MESSAGE_BYTES,
        "text",
      );
      break;
    }
    case "presence":
      w.u8(ELEMENT_TYPES.presence).bytes(element.id).u8(element.status === "online" ? 1 : 0);
      break;
    case "authentication":
      w.u8(ELEMENT_TYPES.authentication).bytes(element.id)
        .varBytes(element.data, "u32", MAX_AUTH_BYTES, "authentication data");
      break;
    case "request_accepted":
      w.u8(ELEMENT_TYPES.request_accepted).bytes(element.id);
      break;
    case "conversation_deleted":
      w.u8(ELEMENT_TYPES.conversation_deleted).bytes(element.id);
      break;
    case "ack":
      abytes(element.ackedId, ELEMENT_ID_LENGTH, "element.ackedId");
      w.u8(ELEMENT_TYPES.ack).bytes(element.id).bytes(element.ackedId);
      break;
    case "unreadable":
      abytes(element.packet, PACKET_NAME_LENGTH, "element.packet");
      w.u8(ELEMENT_TYPES.unreadable).bytes(element.id).bytes(element.packet);
      break;
    case "file":
      w.u8(ELEMENT_TYPES.file).bytes(element.id)
        .varBytes(element.data, "u32", MAX_FILE_BYTES, "file data");
      break;
    default:
      throw new ProtocolError(
        "unknown_element",
        `Cannot encode element: unknown type ${String((element as { type: unknown }).type)}`,
      );
  }
  return w.finish();
}

/**
 * Decodes an element.
 *
 * @throws {ProtocolError} `too_long` (input or field beyond its bound),
 *   `truncated`, `trailing_bytes`, `unknown_element`, `bad_element` (a
 *   presence status other than 0 or 1) or `bad_text` (invalid UTF-8)
 */
export function decodeElement(bytes: Uint8Array): Element {
  abytes(bytes, undefined, "element");
  if (bytes.length > MAX_ELEMENT_SIZE) {
    throw new ProtocolError(
      "too_long",
      `Cannot decode element: length ${bytes.length} exceeds ${MAX_ELEMENT_SIZE}`,
    );
  }
  const r = new Reader(bytes, "element");
  const code = r.u8("type");
  const id = r.bytes(ELEMENT_ID_LENGTH, "element ID");
  let element: Element;
  switch (code) {
    case ELEMENT_TYPES.message: {
      const raw = r.varBytes("u32", MAX_MESSAGE_BYTES, "text");
      let text: string;
      try {
        text = TEXT_DECODER.decode(raw);
      } catch {
        throw new ProtocolError("bad_text", "Cannot decode message: text is not valid UTF-8");
      }
      element = { type: "message", text, id };
      break;
    }
    case ELEMENT_TYPES.presence: {
      const status = r.u8("presence status");
      if (status > 1) {
        throw new ProtocolError("bad_element", `Cannot decode presence: unknown status ${status}`);
      }
      element = { type: "presence", status: status === 1 ? "online" : "offline", id };
      break;
    }
    case ELEMENT_TYPES.authentication:
      element = {
        type: "authentication",
        data: r.varBytes("u32", MAX_AUTH_BYTES, "authentication data"),
        id,
      };
      break;
    case ELEMENT_TYPES.request_accepted:
      element = { type: "request_accepted", id };
      break;
    case ELEMENT_TYPES.conversation_deleted:
      element = { type: "conversation_deleted", id };
      break;
    case ELEMENT_TYPES.ack:
      element = { type: "ack", ackedId: r.bytes(ELEMENT_ID_LENGTH, "acknowledged ID"), id };
      break;
    case ELEMENT_TYPES.file:
      element = { type: "file", data: r.varBytes("u32", MAX_FILE_BYTES, "file data"), id };
      break;
    case ELEMENT_TYPES.unreadable:
      element = { type: "unreadable", packet: r.bytes(PACKET_NAME_LENGTH, "packet name"), id };
      break;
    default:
      throw new ProtocolError("unknown_element", `Cannot decode element: unknown type ${code}`);
  }
  r.end();
  return element;
}
