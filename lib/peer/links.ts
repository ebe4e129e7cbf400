/**
 * The send loops of the core, built on {@linkcode Link}: one per
 * conversation (outbox and control elements, sealed and saved right before
 * they leave), one per pending outbound request (its packet once per run,
 * then the connection is closed), a direct send for close()'s "offline"
 * presence, and the `connection` events of the connector.
 *
 * @module
 */

import type { ConnectProgress } from "../net/connector.ts";
import { type Element, type ElementBody, newElementId } from "../protocol/elements.ts";
import type { Contact } from "./contact.ts";
import { type PeerCore, REQUEST_KEY_PREFIX } from "./core.ts";
import { Link } from "./link.ts";
import { receiveFrames } from "./receive.ts";
import type { OutboundEntry } from "./records.ts";

/** The send loop of a conversation. */
export function contactLink(core: PeerCore, contact: Contact): Link {
  const record = contact.record;
  const link: Link = new Link(
    record.fileId,
    { host: `${record.onion}.onion`, port: record.port },
    core.connector,
    {
      hasWork: () => contact.hasWork(link.conn),
      next: async (conn) => {
        const next = contact.nextElement(conn);
        if (next === null) return null;
        const packets = contact.seal(next.element, core.rng);
        await core.saveContact(contact); // DESIGN.md: saved before the ciphertext leaves
        if (next.entry) contact.markSent(next.entry, conn);
        return packets;
      },
      replyConn: () => (contact.replyWaits ? contact.replyConn() : undefined),
      nextReply: async () => {
        const element = contact.nextReply();
        if (element === null) return null;
        const packets = contact.seal(element, core.rng);
        await core.saveContact(contact); // DESIGN.md: saved before the ciphertext leaves
        // lost if `conn` closed meanwhile: its sender re-sends what went out on
        // it (Contact.forget), and that earns a new acknowledgement
        return packets;
      },
      // the contact replies on the connection our packets came on (its replyConn)
      connected: (conn) => receiveFrames(core, conn),
      disconnected: (conn) => {
        contact.forget(conn);
        core.connectionGone(contact, conn);
      },
      failed: (e, during) => {
        if (during === "next") core.error(e, `Cannot send to ${contact.name}`);
      },
      idle: () => {
        contact.queueKeepalive();
        link.wake();
      },
    },
    { redialMs: core.timing.redialMs, idleMs: core.timing.keepaliveMs },
  );
  return link;
}

/** Starts delivering a pending request (once per run; re-sent at every start). */
export function startRequestLink(core: PeerCore, entry: OutboundEntry): void {
  if (core.requestLinks.has(entry.id)) return;
  let written = false;
  const link = new Link(
    REQUEST_KEY_PREFIX + entry.id,
    { host: `${entry.onion}.onion`, port: entry.port },
    core.connector,
    {
      hasWork: () => !written,
      next: () => Promise.resolve(written ? null : [entry.packet]),
      written: () => (written = true),
      connected: () => {},
      disconnected: () => {},
      failed: () => {},
      idle: () => {},
    },
    { redialMs: core.timing.redialMs, idleMs: core.timing.keepaliveMs, closeWhenDone: true },
  );
  core.requestLinks.set(entry.id, link);
  link.start();
}

/** Seals, saves and writes one element now, on the current or a fresh connection. */
export async function sendNow(core: PeerCore, contact: Contact, body: ElementBody): Promise<void> {
  const link = contact.link;
  if (link === null) return;
  const conn = link.conn ??
    await core.connector.connect(link.key, {
      host: `${contact.record.onion}.onion`,
      port: contact.record.port,
    });
  const packets = contact.seal({ ...body, id: newElementId(core.rng) } as Element, core.rng);
  await core.saveContact(contact);
  for (const packet of packets) await conn.send(packet);
}

/** Turns the connector's progress into `connection` events. */
export function reportProgress(core: PeerCore, p: ConnectProgress): void {
  const name = core.nameOfKey(p.contact);
  if (name === undefined) return;
  switch (p.type) {
    case "attempt":
      return core.emit({ event: "connection", name, state: "connecting", attempt: p.attempt });
    case "connected":
      return core.emit({ event: "connection", name, state: "connected", attempt: p.attempt });
    case "failed":
      return core.emit({
        event: "connection",
        name,
        state: "failed",
        attempt: p.attempt,
        error: p.code,
      });
    case "disconnected":
      return core.emit({ event: "connection", name, state: "disconnected", error: p.reason });
    default:
      return;
  }
}
