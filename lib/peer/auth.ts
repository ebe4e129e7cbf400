/**
 * Authentication of one conversation (docs/protocol.md §9.5): runs of the
 * Socialist Millionaires' Protocol over ristretto255 carried in
 * authentication elements, and the short-lived "authenticated" level they
 * give.
 *
 * Rules:
 * - `start(secret)` begins a run as initiator, or answers the contact's
 *   SMP1 when one is waiting (unMessage 0.1 prompts both people for the secret).
 * - An SMP1 that arrives before the user typed a secret is kept (one per
 *   conversation, the newest) and reported as `requested`.
 * - Both started at once: the side with the lower identity key (bytewise)
 *   stays initiator and sends its SMP1 again; the other drops its run and
 *   answers with the secret it already has, ignoring the copy. (A contact
 *   that restarted mid-run lost our first SMP1: the copy is what it
 *   answers, so neither side waits for the other for good.) The secret is bound with `smpSecret` to both identity
 *   keys in (initiator, responder) order and the conversation ID, so a
 *   relay between two conversations compares different secrets.
 * - `match` sets the level until {@linkcode AuthSession.reset} (the contact
 *   disconnected) or until a later run fails: `nomatch`, malformed input, a
 *   bad proof or an ABORT (runs that end as `aborted`; we answer malformed
 *   input with ABORT) drop the level back to the key's verification level,
 *   with `levelChanged`, so a failed run never leaves a stale
 *   "authenticated" (an attacker who took over the contact's key after a
 *   first match would fail the second run, and that must show).
 *
 * Pure: no I/O; the caller sends the returned messages and emits the
 * returned events. The typed secret lives in memory only during a run.
 *
 * @module
 */

import { equalBytes, type Rng } from "../crypto/bytes.ts";
import { SmpError } from "../crypto/smp/group.ts";
import {
  decodeSmpMessage,
  encodeSmpMessage,
  SMP_ABORT,
  type SmpMessage,
} from "../crypto/smp/message.ts";
import { ristretto255Group, type RistrettoPoint } from "../crypto/smp/ristretto.ts";
import { MAX_ANSWER_BYTES, normalizeAnswer, smpSecret } from "../crypto/smp/secret.ts";
import { Smp } from "../crypto/smp/smp.ts";
import { utf8 } from "../crypto/bytes.ts";
import { PeerError } from "./errors.ts";

/** What happened in a step, for the `auth` event. */
export interface AuthStatus {
  /** The `auth` event's status. */
  status: "requested" | "started" | "match" | "nomatch" | "aborted";
  /** Why a run was aborted. */
  reason?: string;
}

/** The result of a step: messages to send (encoded SMP) and statuses to report. */
export interface AuthStep {
  /** Encoded SMP messages for the contact, in order. */
  send: Uint8Array[];
  /** What to report, in order. */
  statuses: AuthStatus[];
  /** Whether the authenticated flag changed. */
  levelChanged: boolean;
}

/** A received SMP1, decoded and as its bytes came. */
interface Smp1 {
  msg: SmpMessage;
  data: Uint8Array;
}

/**
 * A run in progress. The initiator keeps its SMP1 to send it again when the
 * contact starts a run of its own meanwhile; the responder keeps the bytes
 * of the SMP1 it answers, so a copy of it is not taken for a new run (see
 * `#onSmp1`).
 */
type Run =
  & { smp: Smp<RistrettoPoint>; answer: string }
  & ({ role: "initiator"; smp1: SmpMessage } | { role: "responder"; answering: Uint8Array });

const group = ristretto255Group;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** Checks a typed secret; `bad_secret` when it is empty or too long. */
export function checkSecret(secret: unknown): string {
  if (typeof secret !== "string") {
    throw new PeerError("bad_secret", "Cannot authenticate: expected a secret");
  }
  const normalized = normalizeAnswer(secret);
  if (normalized.length === 0) {
    throw new PeerError(
      "bad_secret",
      "Cannot authenticate: the secret is empty; type the secret you agreed on",
    );
  }
  if (utf8(normalized).length > MAX_ANSWER_BYTES) {
    throw new PeerError(
      "bad_secret",
      `Cannot authenticate: the secret exceeds ${MAX_ANSWER_BYTES} bytes`,
    );
  }
  return secret;
}

/** SMP state of one conversation. */
export class AuthSession {
  readonly #own: Uint8Array;
  readonly #peer: Uint8Array;
  readonly #conversationId: Uint8Array;
  readonly #rng: Rng;
  #run: Run | null = null;
  #waiting: Smp1 | null = null;
  #authenticated = false;

  /** A session between our identity key and the contact's, in one conversation. */
  constructor(ownKey: Uint8Array, peerKey: Uint8Array, conversationId: Uint8Array, rng: Rng) {
    this.#own = ownKey;
    this.#peer = peerKey;
    this.#conversationId = conversationId;
    this.#rng = rng;
  }

  /** Whether the last run matched and the contact has not disconnected since. */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** Whether the contact started a run that waits for our secret. */
  get requested(): boolean {
    return this.#waiting !== null;
  }

  /** Starts a run with `secret`, or answers the contact's waiting SMP1. */
  start(secret: string): AuthStep {
    const answer = checkSecret(secret);
    const waiting = this.#waiting;
    this.#waiting = null;
    if (waiting !== null) return this.#respond(waiting, answer);
    const smp = new Smp(group, this.#secret(answer, "initiator"), this.#rng);
    const smp1 = smp.start();
    this.#run = { smp, role: "initiator", answer, smp1 };
    return this.#step([smp1], [{ status: "started" }]);
  }

  /** Processes the data of a received authentication element. */
  receive(data: Uint8Array): AuthStep {
    let msg: SmpMessage;
    try {
      msg = decodeSmpMessage(data, group);
    } catch (e) {
      return this.#abort(`malformed message (${(e as Error).message})`, true);
    }
    if (msg.type === "ABORT") {
      if (this.#run === null && this.#waiting === null) return this.#step([], []);
      this.#run = null;
      this.#waiting = null;
      return this.#failed(this.#step([], [{ status: "aborted", reason: "the contact cancelled" }]));
    }
    if (msg.type === "SMP1") return this.#onSmp1({ msg, data });
    const run = this.#run;
    if (run === null) return this.#abort(`unexpected ${msg.type}`, true);
    let reply: SmpMessage | null;
    try {
      reply = run.smp.receive(msg);
    } catch (e) {
      const code = e instanceof SmpError ? e.code : "smp_malformed";
      return this.#abort((e as Error).message, code !== "smp_aborted");
    }
    const send = reply === null ? [] : [reply];
    const result = run.smp.result;
    if (run.smp.state !== "done" || result === null) return this.#step(send, []);
    this.#run = null;
    if (result === "nomatch") return this.#failed(this.#step(send, [{ status: result }]));
    const changed = !this.#authenticated;
    this.#authenticated = true;
    return { ...this.#step(send, [{ status: result }]), levelChanged: changed };
  }

  /** Ends any run and the authenticated level (the contact disconnected). */
  reset(): { levelChanged: boolean; aborted: boolean } {
    const aborted = this.#run !== null || this.#waiting !== null;
    const levelChanged = this.#authenticated;
    this.#run = null;
    this.#waiting = null;
    this.#authenticated = false;
    return { levelChanged, aborted };
  }

  #onSmp1(smp1: Smp1): AuthStep {
    const run = this.#run;
    if (run?.role === "initiator" && run.smp.state === "awaiting_smp2") {
      // Both started: the lower identity key stays initiator and sends its
      // SMP1 again. When both really started at once, the contact answers
      // the first copy and ignores this one (below); when the contact
      // restarted and lost the first copy, it answers this one, instead of
      // both sides waiting for each other for good.
      if (compareBytes(this.#own, this.#peer) < 0) return this.#step([run.smp1], []);
      return this.#respond(smp1, run.answer);
    }
    // a copy of the SMP1 we answer (sent again as above): not a new run
    if (run?.role === "responder" && equalBytes(run.answering, smp1.data)) {
      return this.#step([], []);
    }
    this.#run = null;
    this.#waiting = smp1;
    return this.#step([], [{ status: "requested" }]);
  }

  #respond(smp1: Smp1, answer: string): AuthStep {
    const smp = new Smp(group, this.#secret(answer, "responder"), this.#rng);
    this.#run = { smp, role: "responder", answer, answering: smp1.data };
    try {
      const reply = smp.receive(smp1.msg);
      return this.#step(reply === null ? [] : [reply], [{ status: "started" }]);
    } catch (e) {
      return this.#abort((e as Error).message, true);
    }
  }

  #secret(answer: string, role: "initiator" | "responder"): bigint {
    const [initiator, responder] = role === "initiator"
      ? [this.#own, this.#peer]
      : [this.#peer, this.#own];
    return smpSecret(answer, initiator, responder, this.#conversationId, group);
  }

  #abort(reason: string, tellPeer: boolean): AuthStep {
    this.#run = null;
    return this.#failed(this.#step(tellPeer ? [SMP_ABORT] : [], [{ status: "aborted", reason }]));
  }

  /** A run failed: the level drops to the key's verification level. */
  #failed(step: AuthStep): AuthStep {
    const levelChanged = this.#authenticated;
    this.#authenticated = false;
    return { ...step, levelChanged };
  }

  #step(messages: SmpMessage[], statuses: AuthStatus[]): AuthStep {
    return {
      send: messages.map((m) => encodeSmpMessage(m, group)),
      statuses,
      levelChanged: false,
    };
  }
}
