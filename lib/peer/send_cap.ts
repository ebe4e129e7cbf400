/**
 * The sending cap: how many ratchet messages a conversation may still seal
 * in its current sending chain, so that its receiver never refuses one for
 * skipping too many keys, whatever is lost on the way.
 *
 * The rule (enforced by contact.ts, which asks {@linkcode chainRoom} before
 * every seal):
 *
 * 1. A sending chain holds at most {@linkcode SEND_CAP} = MAX_SKIP / 2
 *    messages. An ordinary element (a message, a control element) is sealed
 *    only if its parts fit with one slot to spare; the last slot is kept for
 *    a probe (a keep-alive the receiver acknowledges, kept in the outbox).
 * 2. When something waits and does not fit, a probe is sealed in the spare
 *    slot unless one is already waiting; it is re-sent as the same bytes on
 *    each new connection (one open connection at a time carries it), and in
 *    place of a reply that does not fit. A probe is answered by the next
 *    packet its receiver seals: what waits there already if it goes out
 *    without a dial (a reply, or an outbox entry while the receiver's own
 *    connection is up), or else an acknowledgement of the probe, which goes
 *    back on the probe's connection (answering every probe with its own
 *    acknowledgement would let two small chains keep each other busy; not
 *    answering one whose sender we cannot dial would block both chains).
 * 3. Outbox entries are sealed once and re-sent as the same bytes, so a
 *    re-send never seals (an entry the contact names `unreadable` is sealed
 *    anew, under rule 1 like any other); a probe sealed before our chain
 *    changed is dropped when the contact's new ratchet key arrives (it has
 *    done its job).
 *
 * Why the receiver never skips more than MAX_SKIP keys. The ratchet
 * (ratchet.ts) refuses a header that would skip more than MAX_SKIP keys in
 * one chain: `n − Nr` in the current chain, or, when a new chain starts,
 * `pn − Nr` for the tail of the previous one and then `n` in the new one.
 * Each of `n` and `pn` is at most the length of one of our sending chains,
 * which rules 1 and 2 keep at SEND_CAP, below MAX_SKIP. This holds however
 * many packets are lost, re-sent, replayed or reordered, and across crashes
 * (a packet leaves only after the state that sealed it is saved, so a
 * restarted peer never seals a position twice or goes back). A sending chain
 * starts at 0 after each DH ratchet step, which happens when the contact's
 * new ratchet key arrives; the contact makes that key only after it has
 * received one of our messages, so the skipped keys it keeps for our old
 * chain's tail (pn − Nr) are fewer than SEND_CAP too.
 *
 * Why it cannot deadlock. Suppose our chain C is full and something waits.
 * Then a probe P sealed in C waits in the outbox (rule 2) and goes out on
 * new connection to the contact, and in place of any reply that does not
 * fit. Once P reaches the contact, the contact answers with the next packet
 * it seals, or, if its own chain is full, with its own waiting probe (on
 * the connection P came on when its own cannot carry the answer);
 * either is in the contact's chain that follows C (the contact made that
 * chain when it first received a message of C, and cannot be further
 * ahead, since we have sent nothing after C). When that answer arrives our
 * ratchet steps, our next chain starts at 0, and what waited is sealed; if
 * the answer was the contact's probe, what we seal next steps the
 * contact's chain in turn. Control elements, which are never acknowledged
 * (acknowledgements, presence, SMP, keep-alives, `unreadable` notices) and
 * may be lost when a connection changes, change nothing in this: they only
 * fill the chain sooner. A conversation where one side only ever
 * acknowledges is the same case with the roles swapped. So as long as the
 * two peers are online and some connection carries packets both ways (even
 * one that only one of them can dial), a full chain is emptied within one
 * round trip.
 *
 * @module
 */

import { MAX_SKIP } from "../crypto/ratchet.ts";
import type { Conversation } from "../protocol/handshake_state.ts";

/** Most ratchet messages in one sending chain: half of what the receiver may skip. */
export const SEND_CAP = MAX_SKIP / 2;

/**
 * Most bytes of sealed, unacknowledged outbox packets of one conversation
 * (later entries wait unsealed): keeps the conversation file, which holds
 * them, far below the store's 16 MiB.
 */
export const MAX_SEALED_BYTES = 2 * 1024 * 1024;

/** Smallest cap that leaves room for an ordinary element beside the probe's slot. */
export const MIN_SEND_CAP = 2;

/**
 * How many ratchet messages `session` may still seal in its sending chain
 * of at most `cap` (a smaller cap than {@linkcode SEND_CAP} only tightens the
 * bound; tests use one to reach it quickly). A pending DH step (no sending
 * chain yet) starts a new chain at 0.
 */
export function chainRoom(session: Conversation, cap: number = SEND_CAP): number {
  const ratchet = session.ratchet;
  return cap - (ratchet.cks === null ? 0 : ratchet.ns);
}

/** Whether an ordinary element of `parts` ratchet messages may be sealed now (rule 1). */
export function fitsOrdinary(
  session: Conversation,
  parts: number,
  cap: number = SEND_CAP,
): boolean {
  return parts <= chainRoom(session, cap) - 1;
}

/** Checks a configured cap; throws `RangeError` outside [MIN_SEND_CAP, SEND_CAP]. */
export function checkSendCap(cap: number): number {
  if (!Number.isInteger(cap) || cap < MIN_SEND_CAP || cap > SEND_CAP) {
    throw new RangeError(
      `Cannot open peer: sendCap ${cap} is not between ${MIN_SEND_CAP} and ${SEND_CAP}`,
    );
  }
  return cap;
}
