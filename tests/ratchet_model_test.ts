/**
 * Model-based test of lib/crypto/ratchet.ts: fast-check (seeded) drives two
 * real ratchets through random sequences of send (either side), deliver in
 * any order, drop, replay, tamper, clock jumps and save-and-reload, and
 * checks each outcome against a small model of the spec's chains:
 *
 * - every message that can still be read (its key is current or a skipped
 *   key younger than SKIPPED_KEY_TTL_MS) decrypts, once, to its plaintext;
 * - replays, tampered messages and expired skipped keys are refused with
 *   `decrypt_failed`, and a refused message leaves the state untouched;
 * - a reloaded state serialises to exactly what was saved, and goes on.
 *
 * Runs stay well under MAX_SKIP and MAX_SKIPPED_KEYS (their unit tests are
 * in ratchet_test.ts), so the model does not need eviction.
 *
 * @module
 */

import fc from "fast-check";
import { utf8 } from "../lib/crypto/bytes.ts";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import {
  initAlice,
  initBob,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  SKIPPED_KEY_TTL_MS,
} from "../lib/crypto/ratchet.ts";
import { deserializeRatchetState, serializeRatchetState } from "../lib/crypto/ratchet_state.ts";
import { CryptoError } from "../lib/errors.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";

const SECRET = new Uint8Array(32).fill(0x42);
const AD = utf8("model ad");
const dec = new TextDecoder();

type Side = 0 | 1; // 0: Alice, 1: Bob

type Action =
  | { kind: "send"; side: Side }
  | { kind: "deliver"; to: Side; pick: number }
  | { kind: "drop"; to: Side; pick: number }
  | { kind: "replay"; to: Side; pick: number }
  | { kind: "tamper"; to: Side; pick: number; byte: number }
  | { kind: "reload"; side: Side }
  | { kind: "tick"; ms: number };

/** A message on the wire, with what the model knows of it. */
interface Sent {
  readonly to: Side;
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly chain: number; // index of the sender's sending chain
  readonly n: number;
}

/** One real ratchet and the model of its chains. */
interface Peer {
  state: RatchetState;
  readonly rng: ReturnType<typeof seededRng>;
  // sending side of the model
  sendChain: number; // -1: none yet (Bob before his first message arrives)
  sendCount: number;
  newChainDue: boolean; // a DH ratchet step happened since our last send
  chainLengths: number[]; // messages sent per chain so far
  // receiving side of the model
  recvChain: number; // -1: none yet
  nr: number;
  skippedAt: Map<string, number>; // "chain/n" -> time its key was stored
}

const side = fc.constantFrom<Side>(0, 1);
const pick = fc.nat(1000);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("send" as const), side }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("deliver" as const), to: side, pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), to: side, pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replay" as const), to: side, pick }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("tamper" as const), to: side, pick, byte: pick }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reload" as const), side }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("tick" as const),
      ms: fc.integer({ min: 0, max: Math.floor(SKIPPED_KEY_TTL_MS * 0.7) }),
    }),
  },
);

function snapshot(state: RatchetState): string {
  return JSON.stringify(serializeRatchetState(state));
}

function refuse(peer: Peer, bytes: Uint8Array, now: number): void {
  const before = snapshot(peer.state);
  const e = assertThrows(() => ratchetDecrypt(peer.state, bytes, AD, now), CryptoError);
  assertEquals(e.code, "decrypt_failed");
  assertEquals(snapshot(peer.state), before, "a refused message changed the state");
}

/** What the model expects when `m` arrives at `peer` for the first time. */
function readable(peer: Peer, m: Sent, now: number): boolean {
  if (m.chain > peer.recvChain || (m.chain === peer.recvChain && m.n >= peer.nr)) return true;
  const at = peer.skippedAt.get(`${m.chain}/${m.n}`);
  return at !== undefined && now - at < SKIPPED_KEY_TTL_MS;
}

/** Updates the receiving model after `m` was read at `now` (spec §4.6). */
function advance(peer: Peer, sender: Peer, m: Sent, now: number): void {
  const key = `${m.chain}/${m.n}`;
  if (peer.skippedAt.delete(key)) return; // read with a skipped key
  const skip = (chain: number, from: number, until: number) => {
    for (let n = from; n < until; n++) peer.skippedAt.set(`${chain}/${n}`, now);
  };
  if (m.chain > peer.recvChain) {
    // DH ratchet step: the rest of the previous chain becomes skipped keys
    if (peer.recvChain >= 0) skip(peer.recvChain, peer.nr, sender.chainLengths[peer.recvChain]!);
    assertEquals(m.chain, peer.recvChain + 1, "chains arrive one after the other");
    peer.recvChain = m.chain;
    peer.nr = 0;
    peer.newChainDue = true;
  }
  skip(m.chain, peer.nr, m.n);
  peer.nr = m.n + 1;
}

function run(seed: number, actions: Action[]): void {
  const rng = seededRng(`model ${seed}`);
  const bobKeys = generateKeyPair(rng);
  const make = (state: RatchetState, sendChain: number, name: string): Peer => ({
    state,
    rng: seededRng(`model ${seed} ${name}`),
    sendChain,
    sendCount: 0,
    newChainDue: false,
    chainLengths: sendChain === 0 ? [0] : [],
    recvChain: -1,
    nr: 0,
    skippedAt: new Map(),
  });
  const peers: [Peer, Peer] = [
    make(initAlice(SECRET, bobKeys.publicKey, rng), 0, "alice"),
    make(initBob(SECRET, bobKeys), -1, "bob"),
  ];
  const inFlight: Sent[] = [];
  const delivered: Sent[] = [];
  let now = 1_700_000_000_000;
  let id = 0;

  const deliver = (m: Sent) => {
    const peer = peers[m.to];
    const sender = peers[1 - m.to as Side];
    if (!readable(peer, m, now)) return refuse(peer, m.bytes, now);
    const r = ratchetDecrypt(peer.state, m.bytes, AD, now);
    assertEquals(dec.decode(r.plaintext), m.text);
    peer.state = r.state;
    advance(peer, sender, m, now);
    delivered.push(m);
  };
  const take = (to: Side, n: number, remove: boolean): Sent | undefined => {
    const mine = inFlight.filter((m) => m.to === to);
    const m = mine[n % Math.max(1, mine.length)];
    if (m && remove) inFlight.splice(inFlight.indexOf(m), 1);
    return m;
  };

  for (const a of actions) {
    switch (a.kind) {
      case "send": {
        const peer = peers[a.side];
        if (peer.sendChain < 0 && !peer.newChainDue) {
          const e = assertThrows(() => ratchetEncrypt(peer.state, utf8("x"), AD, peer.rng));
          assert(e instanceof CryptoError && e.code === "not_ready");
          break;
        }
        if (peer.newChainDue) {
          peer.sendChain += 1;
          peer.sendCount = 0;
          peer.chainLengths.push(0);
          peer.newChainDue = false;
        }
        const text = `${a.side ? "bob" : "alice"} #${id++}`;
        const r = ratchetEncrypt(peer.state, utf8(text), AD, peer.rng);
        peer.state = r.state;
        const to = (1 - a.side) as Side;
        inFlight.push({ to, bytes: r.message, text, chain: peer.sendChain, n: peer.sendCount });
        peer.sendCount += 1;
        peer.chainLengths[peer.sendChain] = peer.sendCount;
        break;
      }
      case "deliver": {
        const m = take(a.to, a.pick, true);
        if (m) deliver(m);
        break;
      }
      case "drop":
        take(a.to, a.pick, true);
        break;
      case "replay": {
        const mine = delivered.filter((m) => m.to === a.to);
        const m = mine[a.pick % Math.max(1, mine.length)];
        if (m) refuse(peers[a.to], m.bytes, now);
        break;
      }
      case "tamper": {
        const m = take(a.to, a.pick, false);
        if (!m) break;
        const bad = m.bytes.slice();
        bad[a.byte % bad.length]! ^= 1 << (a.byte % 8);
        refuse(peers[a.to], bad, now);
        break;
      }
      case "reload": {
        const peer = peers[a.side];
        const saved = JSON.stringify(serializeRatchetState(peer.state));
        peer.state = deserializeRatchetState(JSON.parse(saved));
        assertEquals(snapshot(peer.state), saved);
        break;
      }
      case "tick":
        now += a.ms;
        break;
    }
  }
  // every message still on the wire arrives now, in order of sending
  while (inFlight.length > 0) deliver(inFlight.shift()!);
  for (const m of delivered) refuse(peers[m.to], m.bytes, now);
}

Deno.test("ratchet model: random send, deliver, drop, replay, tamper, reload and clock runs", () => {
  fc.assert(
    fc.property(
      fc.nat(),
      fc.array(action, { minLength: 10, maxLength: 80, size: "max" }),
      (seed, actions) => {
        run(seed, actions);
      },
    ),
    { seed: 0x5eed, numRuns: 120 },
  );
});

Deno.test("ratchet model: a long conversation with heavy reordering converges", () => {
  const actions: Action[] = [];
  const r = seededRng("long run");
  for (let i = 0; i < 400; i++) {
    const [x, y] = r(2) as unknown as [number, number];
    if (x % 3 === 0) actions.push({ kind: "send", side: (y & 1) as Side });
    else if (x % 17 === 0) actions.push({ kind: "reload", side: (y & 1) as Side });
    else actions.push({ kind: "deliver", to: (y & 1) as Side, pick: x });
  }
  run(7, actions);
});
