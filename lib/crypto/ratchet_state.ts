/**
 * The state of one Double Ratchet conversation (Signal's Double Ratchet
 * specification §4.3, header-encryption variant) and its JSON form for the
 * store.
 *
 * This module owns the shape of the state, its invariants and their checks,
 * and its lossless (de)serialisation. It does not know the algorithm: the
 * transitions live in `ratchet.ts`.
 *
 * A {@linkcode RatchetState} is immutable: the algorithm builds a new one for
 * each step and never writes into the arrays of an old one. It never shows
 * its keys when printed, inspected or passed to `JSON.stringify`; only
 * {@linkcode serializeRatchetState} exports them, for the (encrypted) store.
 *
 * @module
 */

import { CryptoError } from "../errors.ts";
import { fromBase64, toBase64 } from "./bytes.ts";
import { isLowOrderPublicKey, KEY_LENGTH, type KeyPair } from "./keys.ts";
import { MAX_COUNTER } from "./ratchet_header.ts";
import { exactObject } from "../strict_json.ts";

export type { KeyPair } from "./keys.ts";

/** Version of {@linkcode RatchetStateJson}; bump on any change of shape. */
export const RATCHET_STATE_VERSION = 1;

/**
 * Most skipped message keys kept in total, over all chains (spec §3.5,
 * §6.4): bounds memory and the trial decryptions per message. When more are
 * skipped, the oldest are evicted (their messages can no longer be read).
 */
export const MAX_SKIPPED_KEYS = 2000;

/** A message key kept for a message that has not arrived yet (spec §4.3 MKSKIPPED). */
export interface SkippedKey {
  /** Header key of the chain the message belongs to. */
  readonly headerKey: Uint8Array;
  /** Number of the message in its chain. */
  readonly n: number;
  /** The message key. */
  readonly messageKey: Uint8Array;
  /** The caller's `now` (milliseconds) when the key was stored. */
  readonly createdAt: number;
}

/** The state variables of spec §4.3; `null` is the spec's None. */
export interface RatchetFields {
  /** DHRs: our ratchet key pair; `null` while a new one waits for our next send (spec §6.5). */
  readonly dhs: KeyPair | null;
  /** DHRr: the peer's ratchet public key; `null` until known. */
  readonly dhr: Uint8Array | null;
  /** RK: the root key. */
  readonly rk: Uint8Array;
  /** CKs: the sending chain key. */
  readonly cks: Uint8Array | null;
  /** CKr: the receiving chain key. */
  readonly ckr: Uint8Array | null;
  /** HKs: the sending header key. */
  readonly hks: Uint8Array | null;
  /** HKr: the receiving header key. */
  readonly hkr: Uint8Array | null;
  /** NHKs: the next sending header key. */
  readonly nhks: Uint8Array;
  /** NHKr: the next receiving header key. */
  readonly nhkr: Uint8Array;
  /** Ns: messages sent in the current sending chain. */
  readonly ns: number;
  /** Nr: messages received in the current receiving chain. */
  readonly nr: number;
  /** PN: messages in the previous sending chain. */
  readonly pn: number;
  /** MKSKIPPED, oldest first. */
  readonly skipped: readonly SkippedKey[];
}

const REDACTED = "RatchetState { [redacted] }";

// skipped-key entries made by frozenEntry: frozen plain copies, shared as
// they are by the next states instead of being copied again at every step
const frozenEntries = new WeakSet<SkippedKey>();

/** A frozen plain copy of `k`, or `k` itself when it already is one. */
function frozenEntry(k: SkippedKey): SkippedKey {
  if (frozenEntries.has(k)) return k;
  const copy = Object.freeze({ ...k });
  frozenEntries.add(copy);
  return copy;
}

/** One conversation's ratchet state: immutable, never printed with its keys. */
export class RatchetState implements RatchetFields {
  readonly dhs: KeyPair | null;
  readonly dhr: Uint8Array | null;
  readonly rk: Uint8Array;
  readonly cks: Uint8Array | null;
  readonly ckr: Uint8Array | null;
  readonly hks: Uint8Array | null;
  readonly hkr: Uint8Array | null;
  readonly nhks: Uint8Array;
  readonly nhkr: Uint8Array;
  readonly ns: number;
  readonly nr: number;
  readonly pn: number;
  readonly skipped: readonly SkippedKey[];

  /**
   * Wraps checked fields.
   *
   * @throws {CryptoError} `bad_state` when the fields break an invariant
   */
  constructor(fields: RatchetFields) {
    checkInvariants(fields);
    this.dhs = fields.dhs;
    this.dhr = fields.dhr;
    this.rk = fields.rk;
    this.cks = fields.cks;
    this.ckr = fields.ckr;
    this.hks = fields.hks;
    this.hkr = fields.hkr;
    this.nhks = fields.nhks;
    this.nhkr = fields.nhkr;
    this.ns = fields.ns;
    this.nr = fields.nr;
    this.pn = fields.pn;
    this.skipped = Object.freeze(fields.skipped.map(frozenEntry));
    Object.freeze(this);
  }

  /** No key material: counters only. */
  toJSON(): { ns: number; nr: number; pn: number; skipped: number } {
    return { ns: this.ns, nr: this.nr, pn: this.pn, skipped: this.skipped.length };
  }

  /** No key material. */
  toString(): string {
    return REDACTED;
  }

  /** Deno's inspect (console.log, Deno.inspect) shows no key material. */
  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }

  /** node:util inspect shows no key material. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}

function badState(what: string): CryptoError {
  return new CryptoError("bad_state", `Cannot load ratchet state: ${what}`);
}

function isCounter(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= MAX_COUNTER;
}

function checkKey(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array) || value.length !== KEY_LENGTH) {
    throw badState(`${name} is not a ${KEY_LENGTH}-byte key`);
  }
}

/** Checks the shape and the cross-field invariants of spec §4.4's states. */
function checkInvariants(f: RatchetFields): void {
  for (const name of ["rk", "nhks", "nhkr"] as const) checkKey(f[name], name);
  for (const name of ["dhr", "cks", "ckr", "hks", "hkr"] as const) {
    if (f[name] !== null) checkKey(f[name], name);
  }
  if (f.dhs !== null) {
    checkKey(f.dhs.secretKey, "dhs.secretKey");
    checkKey(f.dhs.publicKey, "dhs.publicKey");
  }
  for (const name of ["ns", "nr", "pn"] as const) {
    if (!isCounter(f[name])) throw badState(`${name} is not a counter`);
  }
  // a sending chain needs its key pair, header key and the peer's key
  if (f.cks !== null && (f.dhs === null || f.hks === null || f.dhr === null)) {
    throw badState("sending chain is incomplete");
  }
  // spec §6.5: a deferred key pair is made at the next send, from DHRr
  if (f.dhs === null && (f.cks !== null || f.dhr === null || f.hks === null)) {
    throw badState("deferred ratchet step is incomplete");
  }
  if ((f.ckr === null) !== (f.hkr === null)) throw badState("receiving chain is incomplete");
  if (f.ckr !== null && f.dhr === null) throw badState("receiving chain has no peer key");
  if (!Array.isArray(f.skipped) || f.skipped.length > MAX_SKIPPED_KEYS) {
    throw badState(`skipped keys are not a list of at most ${MAX_SKIPPED_KEYS}`);
  }
  for (const k of f.skipped) {
    checkKey(k.headerKey, "skipped.headerKey");
    checkKey(k.messageKey, "skipped.messageKey");
    if (!isCounter(k.n)) throw badState("skipped.n is not a counter");
    if (typeof k.createdAt !== "number" || !Number.isFinite(k.createdAt)) {
      throw badState("skipped.createdAt is not a finite number");
    }
  }
}

/** A skipped key in JSON. */
export interface SkippedKeyJson {
  /** The header key it was skipped under (base64). */
  headerKey: string;
  /** Its message number in that chain. */
  n: number;
  /** The message key (base64). */
  messageKey: string;
  /** When it was skipped (ms), for its expiry. */
  createdAt: number;
}

/** The JSON-safe form of a {@linkcode RatchetState}: keys in base64, `null` for None. */
export interface RatchetStateJson {
  /** Format version of this JSON. */
  version: number;
  /** Our ratchet key pair (DHs), base64. */
  dhs: { secretKey: string; publicKey: string } | null;
  /** The contact's ratchet public key (DHr), base64. */
  dhr: string | null;
  /** Root key (RK). */
  rk: string;
  /** Sending chain key (CKs). */
  cks: string | null;
  /** Receiving chain key (CKr). */
  ckr: string | null;
  /** Sending header key (HKs). */
  hks: string | null;
  /** Receiving header key (HKr). */
  hkr: string | null;
  /** Next sending header key (NHKs). */
  nhks: string;
  /** Next receiving header key (NHKr). */
  nhkr: string;
  /** Messages sent in the sending chain (Ns). */
  ns: number;
  /** Messages received in the receiving chain (Nr). */
  nr: number;
  /** Messages in the previous sending chain (PN). */
  pn: number;
  /** Skipped message keys kept for late messages. */
  skipped: SkippedKeyJson[];
}

const b64OrNull = (v: Uint8Array | null): string | null => v === null ? null : toBase64(v);

/** Exports every field, keys in base64. The result holds secrets: store it encrypted. */
export function serializeRatchetState(state: RatchetState): RatchetStateJson {
  return {
    version: RATCHET_STATE_VERSION,
    dhs: state.dhs === null
      ? null
      : { secretKey: toBase64(state.dhs.secretKey), publicKey: toBase64(state.dhs.publicKey) },
    dhr: b64OrNull(state.dhr),
    rk: toBase64(state.rk),
    cks: b64OrNull(state.cks),
    ckr: b64OrNull(state.ckr),
    hks: b64OrNull(state.hks),
    hkr: b64OrNull(state.hkr),
    nhks: toBase64(state.nhks),
    nhkr: toBase64(state.nhkr),
    ns: state.ns,
    nr: state.nr,
    pn: state.pn,
    skipped: state.skipped.map((k) => ({
      headerKey: toBase64(k.headerKey),
      n: k.n,
      messageKey: toBase64(k.messageKey),
      createdAt: k.createdAt,
    })),
  };
}

const STATE_FIELDS = "version dhs dhr rk cks ckr hks hkr nhks nhkr ns nr pn skipped".split(" ");
const SKIPPED_FIELDS = ["headerKey", "n", "messageKey", "createdAt"];
const DHS_FIELDS = ["secretKey", "publicKey"];

/** A plain object with exactly `fields` (no more, no fewer: lib/strict_json.ts). */
function record(value: unknown, fields: string[], name: string): Record<string, unknown> {
  return exactObject(value, fields, (problem) => {
    throw badState(`${name} ${problem}`);
  });
}

function key(value: unknown, name: string): Uint8Array {
  if (typeof value !== "string") throw badState(`${name} is not a base64 string`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(value);
  } catch {
    throw badState(`${name} is not valid base64`);
  }
  checkKey(bytes, name);
  return bytes;
}

const keyOrNull = (v: unknown, name: string) => v === null ? null : key(v, name);

function counter(value: unknown, name: string): number {
  if (!isCounter(value)) throw badState(`${name} is not a counter`);
  return value;
}

/**
 * Rebuilds a state from {@linkcode serializeRatchetState}'s output (after any
 * JSON round trip), checking every field, every length and the invariants.
 *
 * @throws {CryptoError} `bad_state` for anything malformed; the message
 *   names the field, never its value
 */
export function deserializeRatchetState(json: unknown): RatchetState {
  const o = record(json, STATE_FIELDS, "state");
  if (o.version !== RATCHET_STATE_VERSION) throw badState("version is not supported");
  let dhs: KeyPair | null = null;
  if (o.dhs !== null) {
    const d = record(o.dhs, DHS_FIELDS, "dhs");
    // the stored public key is used as it is: recomputing it from the secret
    // costs an X25519 base-point multiplication (23-46 µs) per state loaded,
    // and the file is authenticated when the peer is encrypted
    dhs = {
      secretKey: key(d.secretKey, "dhs.secretKey"),
      publicKey: key(d.publicKey, "dhs.publicKey"),
    };
  }
  if (!Array.isArray(o.skipped)) throw badState("skipped is not a list");
  if (o.skipped.length > MAX_SKIPPED_KEYS) throw badState("skipped has too many keys");
  // one key object per chain, as the algorithm makes them (ratchet.ts
  // converts each distinct header key object once per message)
  const headerKeys = new Map<string, Uint8Array>();
  const skipped = o.skipped.map((item: unknown): SkippedKey => {
    const s = record(item, SKIPPED_FIELDS, "skipped key");
    if (typeof s.createdAt !== "number" || !Number.isFinite(s.createdAt)) {
      throw badState("skipped.createdAt is not a finite number");
    }
    const headerKey = key(s.headerKey, "skipped.headerKey");
    const shared = headerKeys.get(s.headerKey as string);
    if (shared === undefined) headerKeys.set(s.headerKey as string, headerKey);
    return {
      headerKey: shared ?? headerKey,
      n: counter(s.n, "skipped.n"),
      messageKey: key(s.messageKey, "skipped.messageKey"),
      createdAt: s.createdAt,
    };
  });
  const dhr = keyOrNull(o.dhr, "dhr");
  // RFC 7748 §6.1: a stored peer key that is a low-order point was never accepted
  if (dhr !== null && isLowOrderPublicKey(dhr)) throw badState("dhr is a low-order point");
  return new RatchetState({
    dhs,
    dhr,
    rk: key(o.rk, "rk"),
    cks: keyOrNull(o.cks, "cks"),
    ckr: keyOrNull(o.ckr, "ckr"),
    hks: keyOrNull(o.hks, "hks"),
    hkr: keyOrNull(o.hkr, "hkr"),
    nhks: key(o.nhks, "nhks"),
    nhkr: key(o.nhkr, "nhkr"),
    ns: counter(o.ns, "ns"),
    nr: counter(o.nr, "nr"),
    pn: counter(o.pn, "pn"),
    skipped,
  });
}
