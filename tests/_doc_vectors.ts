/**
 * The checkers of the test vectors in `docs/protocol.md`: one function per
 * vector kind, which computes the block's outputs from its inputs through
 * the code of `lib/` (and checks the way back, where there is one:
 * opening, decrypting, decoding). `docs_vectors_test.ts` compares what they
 * return with the outputs the document states. The handshake run receives
 * its packets through `dispatchPacket`, as a peer does (`_dispatch.ts`).
 *
 * Randomness a vector needs is given in the block: explicit bytes, drawn
 * in the order the block states (`scripted` of `_doc_inputs.ts` fails on
 * any other order or length), or the test RNG of `tests/_rng.ts` for long
 * runs.
 *
 * @module
 */

import { toHex, utf8 } from "../lib/crypto/bytes.ts";
import { deriveKey } from "../lib/crypto/kdf.ts";
import { keyPairFromSecret } from "../lib/crypto/keys.ts";
import {
  onionKeyFromSeed,
  signWithOnionKey,
  torKeyBlob,
  verifyOnionSignature,
} from "../lib/crypto/onion.ts";
import { initAlice, initBob, ratchetDecrypt, ratchetEncrypt } from "../lib/crypto/ratchet.ts";
import { bigintToBytes, byteLength, proofHash, type SmpGroup } from "../lib/crypto/smp/group.ts";
import {
  decodeSmpMessage,
  encodeSmpMessage,
  type SmpMessage,
  type SmpMessageType,
} from "../lib/crypto/smp/message.ts";
import { modp1536 } from "../lib/crypto/smp/modp.ts";
import { ristretto255Group } from "../lib/crypto/smp/ristretto.ts";
import { smpSecret } from "../lib/crypto/smp/secret.ts";
import { Smp } from "../lib/crypto/smp/smp.ts";
import { tripleDh } from "../lib/crypto/tripledh.ts";
import { decodeElement, type Element, encodeElement } from "../lib/protocol/elements.ts";
import { decodePart, fragmentElement } from "../lib/protocol/fragment.ts";
import { encodeFrame, FrameDecoder } from "../lib/protocol/frame.ts";
import { decodeHandshake, encodeHandshake } from "../lib/protocol/handshake_data.ts";
import { acceptRequest, createRequest } from "../lib/protocol/handshake.ts";
import {
  computeHsub,
  LABELS,
  openRegular,
  openReply,
  openRequest,
  sealRegular,
  sealReply,
  sealRequest,
} from "../lib/protocol/packets.ts";
import { paddedLength, PADDING_BUCKETS } from "../lib/protocol/padding.ts";
import { MAX_SEALED_PLAINTEXT, sealMessage } from "../lib/protocol/session.ts";
import { assert, assertEquals } from "./_assert.ts";
import { type Checker, digest, type Inputs, quote, scripted } from "./_doc_inputs.ts";
import { dispatchFirstReply, dispatchMessage, dispatchRequest } from "./_dispatch.ts";
import { seededRng } from "./_rng.ts";

const GROUPS: Record<string, SmpGroup<unknown>> = {
  ristretto255: ristretto255Group as SmpGroup<unknown>,
  modp1536: modp1536 as SmpGroup<unknown>,
};

function group(inputs: Inputs): SmpGroup<unknown> {
  const name = inputs.text("group");
  const found = GROUPS[name];
  if (found === undefined) throw new Error(`unknown group ${name}`);
  return found;
}

/** An SMP integer as hex of the group's value width (an element's encoding, a scalar). */
function smpHex(g: SmpGroup<unknown>, n: bigint): string {
  return toHex(bigintToBytes(n, byteLength(g.order)));
}

function bodyOf(inputs: Inputs, type: string): Element {
  const id = inputs.hex("id");
  switch (type) {
    case "message":
      return { type, text: inputs.text("text"), id };
    case "presence":
      return { type, status: inputs.text("status") as "online" | "offline", id };
    case "authentication":
    case "file":
      return { type, data: inputs.hex("data"), id };
    case "ack":
      return { type, ackedId: inputs.hex("acked_id"), id };
    case "request_accepted":
      return { type, id };
    default:
      throw new Error(`unknown element type ${type}`);
  }
}

/** The one part of a short element, as the core seals it (contact.ts). */
function soloPart(element: Element): Uint8Array {
  const parts = fragmentElement(encodeElement(element), MAX_SEALED_PLAINTEXT, element.id);
  assertEquals(parts.length, 1);
  return parts[0]!;
}

/** Every vector kind of docs/protocol.md. */
export const CHECKERS: Record<string, Checker> = {
  "test-rng": (i) => {
    const rng = seededRng(i.text("seed"));
    const out: Record<string, string> = {};
    i.words("draws").forEach((n, k) => (out[`draw_${k + 1}`] = toHex(rng(Number(n)))));
    return out;
  },

  "derive-key": (i) => ({ okm: toHex(deriveKey(i.hex("key"), i.text("label"), i.int("length"))) }),

  "triple-dh": (i) => {
    const bob = {
      identity: keyPairFromSecret(i.hex("bob_identity_secret")),
      handshake: keyPairFromSecret(i.hex("bob_handshake_secret")),
    };
    const alice = {
      identity: keyPairFromSecret(i.hex("alice_identity_secret")),
      handshake: keyPairFromSecret(i.hex("alice_handshake_secret")),
    };
    const pub = (p: typeof bob) => ({
      identityKey: p.identity.publicKey,
      handshakeKey: p.handshake.publicKey,
    });
    const secret = tripleDh("bob", bob, pub(alice));
    assertEquals(tripleDh("alice", alice, pub(bob)), secret, "both roles agree");
    return {
      bob_identity_public: toHex(bob.identity.publicKey),
      bob_handshake_public: toHex(bob.handshake.publicKey),
      alice_identity_public: toHex(alice.identity.publicKey),
      alice_handshake_public: toHex(alice.handshake.publicKey),
      secret: toHex(secret),
      conversation_id: toHex(deriveKey(secret, "handshake/conversation-id")),
    };
  },

  "ratchet-keys": (i) => {
    const secret = i.hex("secret");
    return {
      root_key: toHex(deriveKey(secret, "ratchet/root-key")),
      header_key_alice: toHex(deriveKey(secret, "ratchet/header-key-alice")),
      next_header_key_bob: toHex(deriveKey(secret, "ratchet/next-header-key-bob")),
    };
  },

  "ratchet-messages": (i) => {
    const secret = i.hex("secret");
    const ad = utf8(i.text("ad"));
    const bobPair = keyPairFromSecret(i.hex("bob_ratchet_secret"));
    const aliceRng = scripted(i.hex("alice_ratchet_secret"), i.hex("alice_header_nonce"));
    let alice = initAlice(secret, bobPair.publicKey, aliceRng);
    let bob = initBob(secret, bobPair);
    const m1 = ratchetEncrypt(alice, utf8(i.text("alice_plaintext")), ad, aliceRng);
    aliceRng.done();
    alice = m1.state;
    const r1 = ratchetDecrypt(bob, m1.message, ad, 0);
    bob = r1.state;
    const bobRng = scripted(i.hex("bob_next_ratchet_secret"), i.hex("bob_header_nonce"));
    const bobText = i.text("bob_plaintext");
    const m2 = ratchetEncrypt(bob, utf8(bobText), ad, bobRng);
    bobRng.done();
    assertEquals(
      new TextDecoder().decode(ratchetDecrypt(alice, m2.message, ad, 0).plaintext),
      bobText,
    );
    return {
      alice_message: toHex(m1.message),
      bob_reads: quote(new TextDecoder().decode(r1.plaintext)),
      bob_message_sha256: digest(m2.message),
    };
  },

  "onion-key": (i) => {
    const key = onionKeyFromSeed(i.hex("seed"));
    const signature = signWithOnionKey(key.seed, new Uint8Array(0));
    assert(verifyOnionSignature(key.publicKey, new Uint8Array(0), signature));
    return {
      public_key: toHex(key.publicKey),
      address: quote(key.address),
      add_onion_key: quote(torKeyBlob(key.seed)),
      empty_message_signature: toHex(signature),
    };
  },

  hsub: (i) => {
    const kind = i.text("kind");
    const receiver = i.hex("receiver_identity_public");
    const hsubKey = deriveKey(i.hex("secret"), `packet/${kind}/hsub`);
    const tagKey = deriveKey(new Uint8Array([...hsubKey, ...receiver]), LABELS.hsubReceiver);
    return {
      hsub_key: toHex(hsubKey),
      receiver_tag_key: toHex(tagKey),
      hsub: toHex(computeHsub(hsubKey, i.hex("iv"), receiver, false)),
    };
  },

  "regular-packet": (i) => {
    const conversationId = i.hex("conversation_id");
    const receiver = keyPairFromSecret(i.hex("receiver_identity_secret"));
    const payload = i.hex("payload");
    const rng = scripted(i.hex("iv"));
    const packet = sealRegular({
      conversationId,
      receiverIdentityKey: receiver.publicKey,
      payload,
      rng,
    });
    rng.done();
    assertEquals(openRegular(packet, conversationId, receiver.publicKey), payload);
    return { receiver_identity_public: toHex(receiver.publicKey), packet: toHex(packet) };
  },

  "request-packet": (i) => {
    const receiver = keyPairFromSecret(i.hex("receiver_identity_secret"));
    const handshake = i.hex("handshake");
    const rng = scripted(i.hex("request_secret"), i.hex("iv"));
    const sealed = sealRequest({ handshake, receiverIdentityKey: receiver.publicKey, rng });
    rng.done();
    const opened = openRequest(sealed.packet, receiver);
    assertEquals(opened?.handshake, handshake);
    return {
      receiver_identity_public: toHex(receiver.publicKey),
      request_public: toHex(sealed.requestKey.publicKey),
      shared_request_key: toHex(sealed.sharedRequestKey),
      length: String(sealed.packet.length),
      header: toHex(sealed.packet.subarray(0, 89)),
      packet_sha256: digest(sealed.packet),
    };
  },

  "reply-packet": (i) => {
    const sharedRequestKey = i.hex("shared_request_key");
    const receiver = i.hex("receiver_identity_public");
    const handshakePublicKey = i.hex("handshake_public");
    const payload = i.hex("payload");
    const rng = scripted(i.hex("iv"));
    const packet = sealReply({
      sharedRequestKey,
      receiverIdentityKey: receiver,
      handshakePublicKey,
      payload,
      rng,
    });
    rng.done();
    assertEquals(openReply(packet, sharedRequestKey, receiver), { handshakePublicKey, payload });
    return {
      length: String(packet.length),
      header: toHex(packet.subarray(0, 57)),
      packet_sha256: digest(packet),
    };
  },

  "handshake-data": (i) => {
    const onion = onionKeyFromSeed(i.hex("onion_seed"));
    const fields = {
      name: i.text("name"),
      onionPublicKey: onion.publicKey,
      port: i.int("port"),
      identityKey: i.hex("identity_public"),
      handshakeKey: i.hex("handshake_public"),
      ratchetKey: i.hex("ratchet_public"),
      createdAt: i.int("created_ms"),
    };
    const binding = {
      receiverIdentityKey: i.hex("receiver_identity_public"),
      requestPublicKey: i.hex("request_public"),
    };
    const data = encodeHandshake(fields, binding, onion.seed);
    assertEquals(decodeHandshake(data, binding), { ...fields, onionAddress: onion.address });
    return { onion_address: quote(onion.address), data: toHex(data) };
  },

  element: (i) => {
    const element = bodyOf(i, i.text("type"));
    const encoded = encodeElement(element);
    assertEquals(decodeElement(encoded), element);
    return { encoded: toHex(encoded) };
  },

  fragment: (i) => {
    const id = i.hex("element_id");
    const parts = fragmentElement(i.hex("element"), i.int("max_part_size"), id);
    for (const [k, p] of parts.entries()) assertEquals(decodePart(p).index, k);
    return Object.fromEntries(parts.map((p, k) => [`part_${k + 1}`, toHex(p)]));
  },

  frame: (i) => {
    const payload = i.hex("payload");
    const frame = encodeFrame(payload);
    assertEquals(new FrameDecoder().push(frame), [payload]);
    return { frame: toHex(frame) };
  },

  padding: (i) => {
    const overhead = i.int("overhead");
    const out: Record<string, string> = {};
    for (const bucket of PADDING_BUCKETS) {
      // the longest data whose padded form plus overhead is this bucket
      const n = bucket - overhead - 4;
      assertEquals(paddedLength(n, overhead) + overhead, bucket);
      assert(paddedLength(n + 1, overhead) + overhead !== bucket);
      out[`max_data_${bucket}`] = String(n);
    }
    return out;
  },

  "smp-secret": (i) => {
    const g = group(i);
    const secret = smpSecret(
      i.text("answer"),
      i.hex("initiator_identity_key"),
      i.hex("responder_identity_key"),
      i.hex("conversation_id"),
      g,
    );
    return { secret: smpHex(g, secret) };
  },

  "smp-proof-hash": (i) => {
    const g = group(i);
    const values = i.words("values").map((w) => BigInt("0x" + w));
    return { hash: toHex(bigintToBytes(proofHash(g, i.int("version"), ...values), 32)) };
  },

  "smp-message": (i) => {
    const g = group(i);
    const msg: SmpMessage = {
      type: i.text("type") as SmpMessageType,
      values: i.words("values").map((w) => BigInt("0x" + w)),
    };
    const encoded = encodeSmpMessage(msg, g);
    assertEquals(decodeSmpMessage(encoded, g), msg);
    return { encoded: toHex(encoded) };
  },

  "smp-run": (i) => {
    const g = group(i);
    const [initiatorKey, responderKey, conversation] = [
      i.hex("initiator_identity_key"),
      i.hex("responder_identity_key"),
      i.hex("conversation_id"),
    ];
    const secret = (answer: string) =>
      smpSecret(answer, initiatorKey, responderKey, conversation, g);
    const a = new Smp(g, secret(i.text("initiator_answer")), seededRng(i.text("initiator_rng")));
    const b = new Smp(g, secret(i.text("responder_answer")), seededRng(i.text("responder_rng")));
    const m1 = a.start();
    const m2 = b.receive(m1)!;
    const m3 = a.receive(m2)!;
    const m4 = b.receive(m3)!;
    assertEquals(a.receive(m4), null);
    const out: Record<string, string> = {};
    [m1, m2, m3, m4].forEach((
      m,
      k,
    ) => (out[`smp${k + 1}_sha256`] = digest(encodeSmpMessage(m, g))));
    out.smp1_g2a = smpHex(g, m1.values[0]!);
    out.initiator_result = quote(a.result!);
    out.responder_result = quote(b.result!);
    return out;
  },

  "handshake-run": (i) => {
    const bob = keyPairFromSecret(i.hex("bob_identity_secret"));
    const alice = keyPairFromSecret(i.hex("alice_identity_secret"));
    const bobRng = seededRng(i.text("bob_rng"));
    const aliceRng = seededRng(i.text("alice_rng"));
    const now = 0;
    const request = createRequest({
      ownName: i.text("bob_name"),
      ownIdentity: bob,
      onionKey: onionKeyFromSeed(i.hex("bob_onion_seed")),
      port: i.int("bob_port"),
      peerIdentityKey: alice.publicKey,
      rng: bobRng,
      now: i.int("bob_created_ms"),
    });
    const inbound = dispatchRequest(request.packet, alice)!;
    const aliceStart = acceptRequest(inbound, { ownIdentity: alice, rng: aliceRng });
    const accepted = soloPart({ type: "request_accepted", id: i.hex("accepted_id") });
    const reply = sealMessage(aliceStart, accepted, aliceRng);
    const bobGot = dispatchFirstReply(reply.packet, bob, request.outbound, now)!;
    assertEquals(bobGot.plaintext, accepted);
    assertEquals(bobGot.conversation.conversationId, aliceStart.conversationId);
    const ack = soloPart({ type: "ack", ackedId: i.hex("accepted_id"), id: i.hex("ack_id") });
    const regular = sealMessage(bobGot.conversation, ack, bobRng);
    const aliceGot = dispatchMessage(regular.packet, alice, reply.conversation, now)!;
    assertEquals(aliceGot.plaintext, ack);
    return {
      request_sha256: digest(request.packet),
      bob_suggested_name: quote(inbound.name),
      conversation_id: toHex(aliceStart.conversationId),
      reply_kind: quote(reply.kind),
      reply_plaintext: toHex(accepted),
      reply_sha256: digest(reply.packet),
      regular_kind: quote(regular.kind),
      regular_plaintext: toHex(ack),
      regular_sha256: digest(regular.packet),
      alice_established: String(aliceGot.conversation.established),
    };
  },
};
