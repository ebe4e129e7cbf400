/**
 * The order and pace of the dials a peer makes at start. tor builds only a
 * few dozen circuits at once (Cwtch measured about 32), and each onion dial
 * needs several (descriptor fetch, introduction, rendezvous), so dialling a
 * long contact list at once stalls every dial behind the others: the
 * contacts a user is waiting for come up no sooner than the rest.
 *
 * So at start the contacts are dialled in order ({@linkcode startOrder}):
 * those with messages waiting first, then the most recently active, and at
 * most {@linkcode START_DIALS_AT_ONCE} at a time ({@linkcode StartGate}): a
 * dial holds its slot until it connects or gives up, or for at most
 * {@linkcode START_SLOT_MS}. A contact that shows up on its own (its
 * packets arrive on an inbound connection), or one the user sends a
 * message to or authenticates with, is dialled at once, outside the gate.
 *
 * @module
 */

import type { Contact } from "./contact.ts";
import type { StartTicket } from "./link.ts";

/**
 * Start dials in flight at once: an onion dial builds about three circuits
 * (descriptor fetch, introduction, rendezvous), so 10 dials stay within the
 * ~32 circuits tor builds at a time. On the private network, where circuits
 * build in milliseconds, the first 10 contacts are up as soon as with every
 * dial at once (tests/bench/start_bench.ts).
 */
export const START_DIALS_AT_ONCE = 10;

/**
 * Longest a start dial holds its slot (ms): past it the next contact is
 * dialled anyway (a dial to an offline contact can take a minute or more
 * to fail over tor).
 */
export const START_SLOT_MS = 20_000;

/** The contacts in the order their links are let dial at start. */
export function startOrder(contacts: Iterable<Contact>): Contact[] {
  // a probe left over from the last run is no reason to go first
  const waiting = (c: Contact) => c.record.outbox.some((e) => e.body.type !== "probe") ? 0 : 1;
  return [...contacts].sort((a, b) =>
    waiting(a) - waiting(b) || b.record.lastActive - a.record.lastActive
  );
}

/** At most `atOnce` start dials at a time, granted in the order the tickets were taken. */
export class StartGate {
  readonly #atOnce: number;
  readonly #slotMs: number;
  readonly #queue: (() => boolean)[] = [];
  #running = 0;

  /** A gate of `atOnce` slots, each held for at most `slotMs`. */
  constructor(atOnce: number = START_DIALS_AT_ONCE, slotMs: number = START_SLOT_MS) {
    if (!Number.isInteger(atOnce) || atOnce < 1) {
      throw new RangeError(`Cannot start: ${atOnce} start dials at once is not a positive integer`);
    }
    this.#atOnce = atOnce;
    this.#slotMs = slotMs;
  }

  /** The next ticket in line. */
  ticket(): StartTicket {
    const granted = Promise.withResolvers<void>();
    let state: "queued" | "running" | "done" = "queued";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      if (state === "done") return;
      const wasRunning = state === "running";
      state = "done";
      clearTimeout(timer);
      granted.resolve();
      if (wasRunning) {
        this.#running--;
        this.#next();
      }
    };
    this.#queue.push(() => {
      if (state !== "queued") return false;
      state = "running";
      this.#running++;
      timer = setTimeout(done, this.#slotMs);
      granted.resolve();
      return true;
    });
    queueMicrotask(() => this.#next());
    return { granted: granted.promise, done };
  }

  #next(): void {
    while (this.#running < this.#atOnce && this.#queue.length > 0) this.#queue.shift()!();
  }
}
