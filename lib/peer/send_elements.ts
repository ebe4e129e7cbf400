/**
 * The elements of a conversation's send path, apart from the queue and
 * the outbox that hold them (contact.ts): keep-alives and probes (the
 * all-zero acknowledgement, and the one with an ID of its own that its
 * receiver acknowledges), the element an outbox entry stands for, its
 * parts (one ratchet plaintext each, fragment.ts), and the names of sealed
 * packets (an `unreadable` element names one).
 *
 * @module
 */

import { equalBytes, toHex } from "../crypto/bytes.ts";
import {
  type Element,
  ELEMENT_ID_LENGTH,
  encodeElement,
  packetName,
} from "../protocol/elements.ts";
import { fragmentElement } from "../protocol/fragment.ts";
import { MAX_SEALED_PLAINTEXT } from "../protocol/session.ts";
import type { OutboxEntry } from "./records.ts";

/** The ID of a keep-alive: an acknowledgement of nothing (all zero). */
export const KEEPALIVE_ID = new Uint8Array(ELEMENT_ID_LENGTH);

/** A keep-alive: not answered. */
export function isKeepalive(element: Element): boolean {
  return element.type === "ack" && equalBytes(element.ackedId, KEEPALIVE_ID) &&
    equalBytes(element.id, KEEPALIVE_ID);
}

/** A probe: a keep-alive with an ID of its own, which its receiver acknowledges. */
export function isProbe(element: Element): boolean {
  return element.type === "ack" && equalBytes(element.ackedId, KEEPALIVE_ID) &&
    !equalBytes(element.id, KEEPALIVE_ID);
}

/** Names of sealed packets, computed once per packet (an `unreadable` element is looked up in them). */
const names = new WeakMap<Uint8Array, string>();

/** The name (hex) of the sealed `packet`. */
export function nameOf(packet: Uint8Array): string {
  let name = names.get(packet);
  if (name === undefined) names.set(packet, name = toHex(packetName(packet)));
  return name;
}

/** The element an outbox entry stands for. */
export function elementOf(entry: OutboxEntry): Element {
  if (entry.body.type === "probe") return { type: "ack", ackedId: KEEPALIVE_ID, id: entry.id };
  return { ...entry.body, id: entry.id } as Element;
}

/** The ratchet plaintexts (parts) of `element`. */
export function partsOf(element: Element): Uint8Array[] {
  return fragmentElement(encodeElement(element), MAX_SEALED_PLAINTEXT, element.id);
}
