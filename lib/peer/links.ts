/**
 * The send loops of the core, built on {@linkcode Link}: one per
 * conversation (what contact.ts picks, saved before it leaves when it was
 * sealed), one per pending outbound request (its packet once per run, then
 * the connection is closed), a direct send for close()'s "offline"
 * presence, and the `connection` events of the connector.
 *
 * @module
 */

import type { ConnectProgress } from "../net/connector.ts";
import { type Element, type ElementBody, newElementId } from "../protocol/elements.ts";
import type { Contact, SendStep } from "./contact.ts";
import { type PeerCore, REQUEST_KEY_PREFIX } from "./core.ts";
import { Link } from "./link.ts";
import { receiveFrame } from "./receive.ts";
import type { OutboundEntry } from "./records.ts";
import { saveOrUndo } from "./transaction.ts";

export type { ConnectProgress } from "../net/connector.ts";
export type { ElementBody } from "../protocol/elements.ts";

/** The send loop of a conversation. */
export function contactLink(core: PeerCore, contact: Contact): Link {
  const record = contact.record;
  const link: Link = new Link(
    record.fileId,
    { host: `${record.onion}.onion`, port: record.port },
    core.connector,
    {
      hasWork: () => contact.hasWork(link.conn),
      // replies go first, on the connection they answer (the link's order):
      // more steps join a batch only while none waits
      next: (conn) =>
        writeSteps(
          core,
          contact,
          (first) =>
            first || contact.replyTarget() === undefined
              ? contact.next(conn, core.rng, core.now())
              : null,
        ),
      replyConn: () => contact.replyTarget(),
      // lost if `conn` closed meanwhile: its sender re-sends what went out on
      // it (Contact.forget), and that earns a new acknowledgement
      nextReply: (conn) =>
        writeSteps(core, contact, () => contact.nextReply(conn, core.rng, core.now())),
      // the contact replies on the connection our packets came on (its replyConn)
      frame: (conn, packet) => receiveFrame(core, packet, conn),
      disconnected: (conn, answered) => {
        contact.forget(conn);
        // a connection the contact never answered on says nothing about them
        if (answered || contact.authConns?.has(conn)) core.connectionGone(contact, conn);
        // stay connected while both are online (the link backs off if it keeps closing)
        if (answered && !contact.saidOffline && !core.closed) link.want();
      },
      failed: (e, during) => {
        if (during === "next") return core.error(e, `Cannot send to ${contact.name}`);
        if (contact.authWaitsForLink && !contact.online) {
          contact.authWaitsForLink = false;
          core.endAuth(contact, "they cannot be reached; both of you must be online");
        }
      },
      idle: () => {
        contact.queueKeepalive();
        link.wake();
      },
    },
    linkOptions(core),
  );
  return link;
}

function linkOptions(core: PeerCore) {
  const t = core.timing;
  return {
    redialMs: t.redialMs,
    idleMs: t.keepaliveMs,
    rng: core.rng,
    ...(t.backoff !== undefined ? { deadBackoff: t.backoff } : {}),
    ...(t.stableMs !== undefined ? { stableMs: t.stableMs } : {}),
  };
}

/**
 * Steps taken before one save: what waits goes out sealed together and
 * costs one commit (a burst of 500 costs 8), while a step's packets wait at
 * most for 63 more sealings.
 */
export const MAX_STEPS_PER_SAVE = 64;

/**
 * The packets of the next steps (up to {@linkcode MAX_STEPS_PER_SAVE}),
 * once the record is saved if one of them sealed (docs/architecture.md
 * "Crash safety": saved before the ciphertext leaves); a failed save undoes
 * the steps (nothing that is not on disk leaves) and is thrown.
 */
async function writeSteps(
  core: PeerCore,
  contact: Contact,
  next: (first: boolean) => SendStep | null,
): Promise<Uint8Array[] | null> {
  const steps: SendStep[] = [];
  for (let step = next(true); step !== null; step = next(false)) {
    steps.push(step);
    if (steps.length === MAX_STEPS_PER_SAVE) break;
  }
  if (steps.length === 0) return null;
  if (steps.some((step) => step.sealed)) {
    await saveOrUndo(() => core.saveContact(contact), () => {
      for (const step of steps.reverse()) contact.unsend(step);
    });
  }
  return steps.flatMap((step) => step.packets);
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
      disconnected: () => {},
      failed: () => {},
      idle: () => {},
    },
    { ...linkOptions(core), closeWhenDone: true },
  );
  core.requestLinks.set(entry.id, link);
  link.start();
}

/**
 * Seals, saves and writes one element now (close()'s "offline" presence):
 * on a connection that is open either way if there is one, otherwise on a
 * fresh dial (a dial under way may be waiting out a back-off or a timeout
 * from when the contact was down, longer than close() may take). Nothing
 * is sent when the sending cap has no room (send_cap.ts).
 */
export async function sendNow(core: PeerCore, contact: Contact, body: ElementBody): Promise<void> {
  const link = contact.link;
  if (link === null) return;
  let conn = link.conn ?? contact.replyConn();
  if (conn === undefined) {
    await core.connector.disconnect(link.key);
    conn = await core.connector.connect(link.key, {
      host: `${contact.record.onion}.onion`,
      port: contact.record.port,
    });
  }
  const packets = contact.seal({ ...body, id: newElementId(core.rng) } as Element, core.rng);
  if (packets === null) return;
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
