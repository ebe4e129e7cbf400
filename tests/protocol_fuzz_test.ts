/**
 * Fuzzing of the whole wire layer: random and mutated frames, packets,
 * elements and parts (bit flips, byte writes, truncations, extensions and
 * length-field edits of valid inputs) go through FrameDecoder,
 * identifyPacket/open*, decodeElement and the Reassembler. Only
 * ProtocolError, CryptoError or null may come out, and the bounded
 * structures must stay within their bounds. The counts are sized to keep the
 * file under ~20 s on 2 cores; the RNG seed is fixed so a failure replays.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { generateKeyPair } from "../lib/crypto/keys.ts";
import { CryptoError, ProtocolError } from "../lib/errors.ts";
import { type Element, encodeElement } from "../lib/protocol/elements.ts";
import {
  decodePart,
  fragmentElement,
  MAX_PENDING_BYTES,
  MAX_PENDING_ELEMENTS,
  Reassembler,
} from "../lib/protocol/fragment.ts";
import { decodeElement } from "../lib/protocol/elements.ts";
import {
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  MAX_FRAME_LENGTH,
} from "../lib/protocol/frame.ts";
import {
  identifyPacket,
  openRegular,
  openReply,
  openRequest,
  regularKeys,
  replyKeys,
  sealRegular,
  sealReply,
  sealRequest,
} from "../lib/protocol/packets.ts";
import { unpad } from "../lib/protocol/padding.ts";

/** Cases per target; 340,000 in total. */
const FRAME_CASES = 100_000;
const ELEMENT_CASES = 100_000;
const PART_CASES = 100_000;
const PACKET_CASES = 40_000;
/** One packet in this many also takes the request path (an X25519 each). */
const REQUEST_PATH_EVERY = 4;

const SEED = 0x5eed_f022;

/** xorshift32: a fast, replayable source of mutation decisions (not crypto). */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const int = (n: number) => next() % n;
  const bytes = (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = next();
      out[i] = v;
      out[i + 1] = v >>> 8;
      out[i + 2] = v >>> 16;
      out[i + 3] = v >>> 24;
    }
    return out;
  };
  return { int, bytes };
}

type Prng = ReturnType<typeof prng>;

/** One random mutation of `input`; `lengthFields` are offsets of u16/u32 length fields. */
function mutate(p: Prng, input: Uint8Array, lengthFields: number[] = []): Uint8Array {
  const out = input.slice();
  switch (p.int(7)) {
    case 0: { // flip a few bits
      for (let k = 1 + p.int(3); k > 0 && out.length > 0; k--) {
        out[p.int(out.length)]! ^= 1 << p.int(8);
      }
      return out;
    }
    case 1: // overwrite one byte
      if (out.length > 0) out[p.int(out.length)] = p.int(256);
      return out;
    case 2: // truncate
      return out.subarray(0, p.int(out.length + 1));
    case 3: { // extend
      const ext = new Uint8Array(out.length + 1 + p.int(64));
      ext.set(out);
      ext.set(p.bytes(ext.length - out.length), out.length);
      return ext;
    }
    case 4: { // edit a length field to an extreme or nearby value
      const at = lengthFields.length > 0 ? lengthFields[p.int(lengthFields.length)]! : 0;
      if (at + 4 > out.length) return out;
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      const old = view.getUint32(at);
      const values = [
        0,
        1,
        0xffffffff,
        0x7fffffff,
        old + 1,
        old - 1,
        MAX_FRAME_LENGTH,
        MAX_FRAME_LENGTH + 1,
      ];
      view.setUint32(at, values[p.int(values.length)]! >>> 0);
      return out;
    }
    case 5: // pure random of similar size
      return p.bytes(p.int(out.length + 8));
    default: { // drop a slice in the middle
      const a = p.int(out.length + 1);
      const b = a + p.int(out.length - a + 1);
      const cut = new Uint8Array(out.length - (b - a));
      cut.set(out.subarray(0, a));
      cut.set(out.subarray(b), a);
      return cut;
    }
  }
}

/** Runs `fn`; only typed errors may escape it. */
function typed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError || e instanceof CryptoError) return;
    throw new Error(`untyped failure: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

Deno.test(`FrameDecoder survives ${FRAME_CASES} mutated streams with bounded buffering`, () => {
  const p = prng(SEED);
  const seeds = [1, 2, 300, 5000].map((n) => encodeFrame(p.bytes(n)));
  for (let i = 0; i < FRAME_CASES; i++) {
    const a = seeds[p.int(seeds.length)]!;
    const b = seeds[p.int(seeds.length)]!;
    const stream = new Uint8Array(a.length + b.length);
    stream.set(a);
    stream.set(b, a.length);
    const input = mutate(p, stream, [0, a.length]);
    const d = new FrameDecoder();
    typed(() => {
      let pos = 0;
      while (pos < input.length) {
        const n = 1 + p.int(input.length - pos);
        for (const frame of d.push(input.subarray(pos, pos + n))) {
          assert(frame.length <= MAX_FRAME_LENGTH);
        }
        assert(d.buffered <= FRAME_HEADER_LENGTH + MAX_FRAME_LENGTH);
        pos += n;
      }
    });
  }
});

Deno.test(`decodeElement() survives ${ELEMENT_CASES} mutated elements`, () => {
  const p = prng(SEED + 1);
  const id = p.bytes(16);
  const valid: Element[] = [
    { type: "message", text: "hello\nworld ✓", id },
    { type: "presence", status: "online", id },
    { type: "authentication", data: p.bytes(200), id },
    { type: "request_accepted", id },
    { type: "ack", ackedId: p.bytes(16), id },
    { type: "file", data: p.bytes(50), id },
  ];
  const encoded = valid.map(encodeElement);
  for (let i = 0; i < ELEMENT_CASES; i++) {
    const input = mutate(p, encoded[p.int(encoded.length)]!, [17]);
    typed(() => decodeElement(input));
  }
});

Deno.test(`Reassembler survives ${PART_CASES} mutated parts within its bounds`, () => {
  const p = prng(SEED + 2);
  const r = new Reassembler();
  const elements = [p.bytes(10), p.bytes(3000), p.bytes(20000)];
  const parts = elements.flatMap((e) => fragmentElement(e, 1000, p.bytes(16)));
  let now = 0;
  for (let i = 0; i < PART_CASES; i++) {
    const valid = parts[p.int(parts.length)]!;
    const input = p.int(3) === 0 ? valid : mutate(p, valid, [14, 16]);
    now += p.int(1000);
    typed(() => decodePart(input));
    typed(() => r.push(input, now));
    assert(r.pendingElements <= MAX_PENDING_ELEMENTS);
    assert(r.pendingBytes <= MAX_PENDING_BYTES);
  }
});

Deno.test(`identifyPacket() and open*() survive ${PACKET_CASES} random and mutated packets`, () => {
  const rng = seededRng(SEED);
  const p = prng(SEED + 3);
  const alice = generateKeyPair(rng);
  const bob = generateKeyPair(rng);
  const conversationId = rng(32);
  const request = sealRequest({ handshake: rng(100), receiverIdentityKey: alice.publicKey, rng });
  const srk = request.sharedRequestKey;
  const valid = [
    request.packet,
    sealReply({
      sharedRequestKey: srk,
      receiverIdentityKey: bob.publicKey,
      handshakePublicKey: alice.publicKey,
      payload: rng(700),
      rng,
    }),
    sealRegular({ conversationId, receiverIdentityKey: bob.publicKey, payload: rng(20), rng }),
    sealRegular({ conversationId, receiverIdentityKey: alice.publicKey, payload: rng(3000), rng }),
  ];
  const conversations = [{ conversationId: rng(32) }, {
    conversationId,
    keys: regularKeys(conversationId),
  }];
  const pendingRequests = [{ sharedRequestKey: srk, keys: replyKeys(srk) }];
  for (let i = 0; i < PACKET_CASES; i++) {
    const base = valid[p.int(valid.length)]!;
    // keep most mutants at the valid length so they reach the tag checks
    let sized = mutate(p, base, [0]);
    if (p.int(4) !== 0 && sized.length !== base.length) {
      const fixed = p.bytes(base.length);
      fixed.set(sized.subarray(0, base.length));
      sized = fixed;
    }
    const who = p.int(2) === 0 ? alice : bob;
    typed(() => {
      const acceptRequests = i % REQUEST_PATH_EVERY === 0;
      const candidates = { ownIdentity: who, conversations, pendingRequests, acceptRequests };
      const result = identifyPacket(sized, candidates);
      // a mutant that opens must be byte-identical to the valid packet it came from
      if (result !== null) {
        assert(valid.some((v) => v.length === sized.length && v.every((b, j) => b === sized[j])));
      }
    });
    if (i % 16 === 0) {
      typed(() => openRequest(sized, alice));
      typed(() => openReply(sized, srk, bob.publicKey));
      typed(() => openRegular(sized, conversationId, bob.publicKey));
      typed(() => unpad(sized, 73));
    }
  }
});
