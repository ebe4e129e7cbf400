/**
 * The Socialist Millionaires' Protocol of OTR version 3 as a pure state
 * machine over any prime-order {@linkcode SmpGroup}: two peers learn whether
 * their secrets are equal and nothing else.
 *
 * The machine never does I/O: `start()` (initiator) and `receive()` return
 * the message to send. Every received element is validated by the group and
 * every proof is checked; any bad, tampered or out-of-order input fails the
 * machine with an {@linkcode SmpError} (the caller then sends
 * {@linkcode SMP_ABORT}). A finished or failed machine refuses every further
 * call with `"smp_finished"`.
 *
 * Flow (OTR v3 "Socialist Millionaires' Protocol"): Alice start() -> SMP1;
 * Bob receive(SMP1) -> SMP2; Alice receive(SMP2) -> SMP3; Bob receive(SMP3)
 * -> SMP4 (sent on a mismatch too, as the spec says) and his result; Alice
 * receive(SMP4) -> null and her result.
 *
 * Secrets are bigints, which JavaScript cannot wipe; references are dropped
 * when the machine ends.
 *
 * @module
 */

import type { Rng } from "../bytes.ts";
import { randomScalar, SmpError, type SmpGroup } from "./group.ts";
import { checkSmpMessage, SMP_ABORT, type SmpMessage, type SmpMessageType } from "./message.ts";
import {
  proveEqualCoords,
  proveEqualLogs,
  proveKnownLog,
  verifyEqualCoords,
  verifyEqualLogs,
  verifyKnownLog,
} from "./proofs.ts";

/** Where a machine is. */
export type SmpState =
  | "idle"
  | "awaiting_smp2"
  | "awaiting_smp3"
  | "awaiting_smp4"
  | "done"
  | "failed";

/** The outcome of a completed run. */
export type SmpResult = "match" | "nomatch";

/** Which message each waiting state accepts. */
const EXPECTED: Readonly<Record<SmpState, SmpMessageType | null>> = {
  idle: "SMP1",
  awaiting_smp2: "SMP2",
  awaiting_smp3: "SMP3",
  awaiting_smp4: "SMP4",
  done: null,
  failed: null,
};

/** Intermediate values; dropped when the machine ends. */
interface Work<E> {
  x2: bigint; // a2 / b2
  x3: bigint; // a3 / b3
  g3o?: E; // the peer's g1^x3
  g2?: E;
  g3?: E;
  p?: E; // own P
  q?: E; // own Q
}

/** One run of SMP, as initiator (call `start()`) or responder (`receive(SMP1)`). */
export class Smp<E> {
  readonly #group: SmpGroup<E>;
  readonly #rng: Rng;
  #secret: bigint;
  #state: SmpState = "idle";
  #result: SmpResult | null = null;
  #work: Work<E> | null = null;

  /** `secret` must lie in [1, q-1] (see `smpSecret`); `rng` is a CSPRNG. */
  constructor(group: SmpGroup<E>, secret: bigint, rng: Rng) {
    if (typeof secret !== "bigint" || secret < 1n || secret >= group.order) {
      throw new RangeError("Cannot start SMP: secret outside [1, q-1]");
    }
    if (typeof rng !== "function") throw new TypeError("Cannot start SMP: rng is not a function");
    this.#group = group;
    this.#secret = secret;
    this.#rng = rng;
  }

  /** The current state. */
  get state(): SmpState {
    return this.#state;
  }

  /** `"match"` / `"nomatch"` once done; null before or after a failure. */
  get result(): SmpResult | null {
    return this.#result;
  }

  /** Initiator: begins a run and returns SMP1. */
  start(): SmpMessage {
    this.#checkActive();
    if (this.#state !== "idle") {
      throw this.#fail(new SmpError("smp_unexpected", "Cannot start SMP: a run is under way"));
    }
    const g = this.#group;
    const work: Work<E> = { x2: randomScalar(g, this.#rng), x3: randomScalar(g, this.#rng) };
    this.#work = work;
    const g2a = g.exp(g.generator, work.x2);
    const g3a = g.exp(g.generator, work.x3);
    const p2 = proveKnownLog(g, this.#rng, work.x2, 1);
    const p3 = proveKnownLog(g, this.#rng, work.x3, 2);
    this.#state = "awaiting_smp2";
    return {
      type: "SMP1",
      values: [g.encodeElement(g2a), p2.c, p2.d, g.encodeElement(g3a), p3.c, p3.d],
    };
  }

  /**
   * Processes the peer's message and returns the reply (null when there is
   * none). Throws {@linkcode SmpError} and fails on bad input; `"smp_aborted"`
   * when the peer aborted.
   */
  receive(msg: SmpMessage): SmpMessage | null {
    this.#checkActive();
    try {
      if (msg === null || typeof msg !== "object") {
        throw new SmpError("smp_malformed", "Cannot use SMP message: not an object");
      }
      checkSmpMessage(msg);
      if (msg.type === "ABORT") throw new SmpError("smp_aborted", "SMP aborted by the peer");
      if (msg.type !== EXPECTED[this.#state]) {
        throw new SmpError("smp_unexpected", `Cannot accept ${msg.type} in state ${this.#state}`);
      }
      switch (msg.type) {
        case "SMP1":
          return this.#onSmp1(msg.values);
        case "SMP2":
          return this.#onSmp2(msg.values);
        case "SMP3":
          return this.#onSmp3(msg.values);
        default:
          this.#onSmp4(msg.values);
          return null;
      }
    } catch (e) {
      throw this.#fail(
        e instanceof SmpError
          ? e
          : new SmpError("smp_malformed", "Cannot process SMP message", { cause: e }),
      );
    }
  }

  /** Cancels the run and returns the ABORT message to send. */
  abort(): SmpMessage {
    this.#checkActive();
    this.#fail(new SmpError("smp_aborted", "SMP aborted locally"));
    return SMP_ABORT;
  }

  #checkActive(): void {
    if (this.#state === "done" || this.#state === "failed") {
      throw new SmpError("smp_finished", `Cannot use SMP: the run is ${this.#state}`);
    }
  }

  #fail(error: SmpError): SmpError {
    this.#state = "failed";
    this.#result = null;
    this.#drop();
    return error;
  }

  #drop(): void {
    this.#work = null;
    this.#secret = 0n;
  }

  #finish(result: SmpResult): void {
    this.#state = "done";
    this.#result = result;
    this.#drop();
  }

  #elements(values: readonly bigint[], names: Record<number, string>): Map<number, E> {
    const out = new Map<number, E>();
    for (const [i, name] of Object.entries(names)) {
      out.set(Number(i), this.#group.decodeElement(values[Number(i)]!, name));
    }
    return out;
  }

  /** Responder (Bob), OTR v3 SMP steps on receiving message 1. */
  #onSmp1(v: readonly bigint[]): SmpMessage {
    const g = this.#group;
    const rng = this.#rng;
    const e = this.#elements(v, { 0: "g2a", 3: "g3a" });
    const g2a = e.get(0)!;
    const g3a = e.get(3)!;
    verifyKnownLog(g, g2a, { c: v[1]!, d: v[2]! }, 1, "g2a proof");
    verifyKnownLog(g, g3a, { c: v[4]!, d: v[5]! }, 2, "g3a proof");
    const work: Work<E> = { x2: randomScalar(g, rng), x3: randomScalar(g, rng), g3o: g3a };
    this.#work = work;
    const g2b = g.exp(g.generator, work.x2);
    const g3b = g.exp(g.generator, work.x3);
    const p2 = proveKnownLog(g, rng, work.x2, 3);
    const p3 = proveKnownLog(g, rng, work.x3, 4);
    const g2 = (work.g2 = g.exp(g2a, work.x2));
    const g3 = (work.g3 = g.exp(g3a, work.x3));
    const r = randomScalar(g, rng);
    const pb = (work.p = g.exp(g3, r));
    const qb = (work.q = g.mul(g.exp(g.generator, r), g.exp(g2, this.#secret)));
    const pc = proveEqualCoords(g, rng, g2, g3, r, this.#secret, 5);
    this.#state = "awaiting_smp3";
    return {
      type: "SMP2",
      values: [
        g.encodeElement(g2b),
        p2.c,
        p2.d,
        g.encodeElement(g3b),
        p3.c,
        p3.d,
        g.encodeElement(pb),
        g.encodeElement(qb),
        pc.c,
        pc.d1,
        pc.d2,
      ],
    };
  }

  /** Initiator (Alice), OTR v3 SMP steps on receiving message 2. */
  #onSmp2(v: readonly bigint[]): SmpMessage {
    const g = this.#group;
    const rng = this.#rng;
    const work = this.#work!;
    const e = this.#elements(v, { 0: "g2b", 3: "g3b", 6: "Pb", 7: "Qb" });
    const [g2b, g3b, pb, qb] = [e.get(0)!, e.get(3)!, e.get(6)!, e.get(7)!];
    verifyKnownLog(g, g2b, { c: v[1]!, d: v[2]! }, 3, "g2b proof");
    verifyKnownLog(g, g3b, { c: v[4]!, d: v[5]! }, 4, "g3b proof");
    work.g3o = g3b;
    const g2 = (work.g2 = g.exp(g2b, work.x2));
    const g3 = (work.g3 = g.exp(g3b, work.x3));
    verifyEqualCoords(g, g2, g3, pb, qb, { c: v[8]!, d1: v[9]!, d2: v[10]! }, 5, "Pb/Qb proof");
    const s = randomScalar(g, rng);
    const pa = (work.p = g.exp(g3, s));
    const qa = (work.q = g.mul(g.exp(g.generator, s), g.exp(g2, this.#secret)));
    const pc = proveEqualCoords(g, rng, g2, g3, s, this.#secret, 6);
    // Keep Pa/Pb and Qa/Qb for the final check.
    work.p = g.mul(pa, g.inverse(pb));
    work.q = g.mul(qa, g.inverse(qb));
    const ra = g.exp(work.q, work.x3);
    const rc = proveEqualLogs(g, rng, work.q, work.x3, 7);
    this.#state = "awaiting_smp4";
    return {
      type: "SMP3",
      values: [
        g.encodeElement(pa),
        g.encodeElement(qa),
        pc.c,
        pc.d1,
        pc.d2,
        g.encodeElement(ra),
        rc.c,
        rc.d,
      ],
    };
  }

  /** Responder (Bob), OTR v3 SMP steps on receiving message 3. */
  #onSmp3(v: readonly bigint[]): SmpMessage {
    const g = this.#group;
    const work = this.#work!;
    const e = this.#elements(v, { 0: "Pa", 1: "Qa", 5: "Ra" });
    const [pa, qa, ra] = [e.get(0)!, e.get(1)!, e.get(5)!];
    verifyEqualCoords(
      g,
      work.g2!,
      work.g3!,
      pa,
      qa,
      { c: v[2]!, d1: v[3]!, d2: v[4]! },
      6,
      "Pa/Qa proof",
    );
    const pab = g.mul(pa, g.inverse(work.p!));
    const qab = g.mul(qa, g.inverse(work.q!));
    verifyEqualLogs(g, work.g3o!, qab, ra, { c: v[6]!, d: v[7]! }, 7, "Ra proof");
    const rb = g.exp(qab, work.x3);
    const rc = proveEqualLogs(g, this.#rng, qab, work.x3, 8);
    const rab = g.exp(ra, work.x3);
    this.#finish(g.equals(rab, pab) ? "match" : "nomatch");
    return { type: "SMP4", values: [g.encodeElement(rb), rc.c, rc.d] };
  }

  /** Initiator (Alice), OTR v3 SMP steps on receiving message 4. */
  #onSmp4(v: readonly bigint[]): void {
    const g = this.#group;
    const work = this.#work!;
    const rb = this.#group.decodeElement(v[0]!, "Rb");
    verifyEqualLogs(g, work.g3o!, work.q!, rb, { c: v[1]!, d: v[2]! }, 8, "Rb proof");
    const rab = g.exp(rb, work.x3);
    this.#finish(g.equals(rab, work.p!) ? "match" : "nomatch");
  }
}
