/**
 * Model-based tests of handshakes and sessions between three parties in
 * memory, all driven through `dispatchPacket` (lib/protocol/dispatch.ts), the
 * dispatcher the core drives for every received frame: A receives a
 * request from B (A is Alice there) and sends one to C (A is Bob there).
 * fast-check draws schedules of sends, deliveries in any order, losses,
 * replays, tampering, misdelivery and reloads from JSON; every delivered
 * packet must open to exactly what was sent, in the right conversation.
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { flip, outcome, type Party, party, read, request, text } from "./_handshake_fixtures.ts";
import { equalBytes, type Rng, toHex } from "../lib/crypto/bytes.ts";
import { acceptRequest } from "../lib/protocol/handshake.ts";
import {
  type Conversation,
  deserializeConversation,
  deserializeOutboundRequest,
  type OutboundRequest,
  serializeConversation,
  serializeOutboundRequest,
} from "../lib/protocol/handshake_state.ts";
import { dispatchPacket, type PacketBook } from "../lib/protocol/dispatch.ts";
import { sealMessage } from "../lib/protocol/session.ts";

const NOW = 1_700_000_000_000;
type Name = "A" | "B" | "C";
const NAMES: readonly Name[] = ["A", "B", "C"];
/** Requester → receiver. */
const PAIRS: readonly [Name, Name][] = [["B", "A"], ["A", "C"]];
/** Who may talk to whom once a pair's handshake ran. */
const LINKS: readonly [Name, Name][] = [["A", "B"], ["B", "A"], ["A", "C"], ["C", "A"]];

interface Peer {
  party: Party;
  conversations: Map<Name, Conversation>;
  outbound: Map<Name, OutboundRequest>;
  /** Packets received from each peer (Alice is established after Bob's first). */
  receivedFrom: Set<Name>;
  /** Request keys of the requests received (hex), as the core remembers them. */
  requestKeys: Set<string>;
}

interface InFlight {
  from: Name;
  to: Name;
  bytes: Uint8Array;
  /** Expected plaintext, or null for a request. */
  message: string | null;
}

class World {
  readonly rng: Rng;
  readonly peers: Record<Name, Peer>;
  readonly flight: InFlight[] = [];
  readonly delivered: InFlight[] = [];
  sent = 0;

  constructor(seed: number) {
    this.rng = seededRng(`handshake-model-${seed}`);
    const make = (name: Name): Peer => ({
      party: party(name, this.rng),
      conversations: new Map(),
      outbound: new Map(),
      receivedFrom: new Set(),
      requestKeys: new Set(),
    });
    this.peers = { A: make("A"), B: make("B"), C: make("C") };
    for (const [from, to] of PAIRS) {
      const { packet, outbound } = request(this.peers[from].party, this.peers[to].party, this.rng);
      this.peers[from].outbound.set(to, outbound);
      this.flight.push({ from, to, bytes: packet, message: null });
    }
  }

  /** What `name` holds, by the other party's name (as the core holds contacts). */
  book(name: Name): PacketBook<Name, Name> {
    const p = this.peers[name];
    return {
      ownIdentity: p.party.identity,
      conversations: [...p.conversations.keys()],
      outbound: [...p.outbound.keys()],
      conversationOf: (n) => p.conversations.get(n)!,
      requestOf: (n) => p.outbound.get(n)!,
      knownRequest: (key) => p.requestKeys.has(toHex(key)),
    };
  }

  nameOf(identityKey: Uint8Array): Name {
    return NAMES.find((n) => equalBytes(this.peers[n].party.identity.publicKey, identityKey))!;
  }

  send(from: Name, to: Name): void {
    const c = this.peers[from].conversations.get(to);
    if (c === undefined) return; // no conversation yet: nothing to send with
    const message = `${from}->${to}#${this.sent++}`;
    const sealed = sealMessage(c, text(message), this.rng);
    // docs/protocol.md §6.2, §6.3: Alice sends replies until she has received from Bob
    const expectReply = c.role === "alice" && !this.peers[from].receivedFrom.has(to);
    assertEquals(sealed.kind, expectReply ? "reply" : "regular");
    this.peers[from].conversations.set(to, sealed.conversation);
    this.flight.push({ from, to, bytes: sealed.packet, message });
  }

  deliver(pick: number): void {
    if (this.flight.length === 0) return;
    const [packet] = this.flight.splice(pick % this.flight.length, 1);
    this.receive(packet!);
    this.delivered.push(packet!);
  }

  receive({ from, to, bytes, message }: InFlight): void {
    const peer = this.peers[to];
    const got = dispatchPacket(bytes, this.book(to), NOW);
    assert(got !== null, `${from}->${to} was not recognised`);
    assert(got.kind !== "known_request", `${from}->${to} was taken for a known request`);
    if (got.kind === "request") {
      assertEquals([message, this.nameOf(got.request.identityKey)], [null, from]);
      peer.requestKeys.add(toHex(got.request.requestPublicKey));
      const c = acceptRequest(got.request, { ownIdentity: peer.party.identity, rng: this.rng });
      peer.conversations.set(from, c);
      return;
    }
    assertEquals(read(got.plaintext), message);
    if (got.kind === "first_reply") {
      assertEquals(got.outbound, from, "first reply to another request");
      peer.outbound.delete(from);
    } else {
      assertEquals(got.handle, from, "message opened in another conversation");
      assert(peer.conversations.get(from) === got.previous, "message opened in an old state");
    }
    peer.conversations.set(from, got.conversation);
    peer.receivedFrom.add(from);
    if (got.conversation.role === "alice") assertEquals(got.conversation.established, true);
  }

  drop(pick: number): void {
    const index = pick % Math.max(1, this.flight.length);
    if (this.flight[index]?.message) this.flight.splice(index, 1); // requests are not lost
  }

  /**
   * A delivered packet again, a tampered one, or one to the wrong party:
   * nothing changes. A replayed request is recognised by its request key
   * (before its signature is checked) and ignored.
   */
  refuse(pick: number, mode: "replay" | "tamper" | "misdeliver", byte: number): void {
    const pool = mode === "replay" ? this.delivered : this.flight;
    const packet = pool[pick % Math.max(1, pool.length)];
    if (packet === undefined) return;
    const before = this.snapshot();
    if (mode === "replay" && packet.message === null) {
      const got = dispatchPacket(packet.bytes, this.book(packet.to), NOW);
      assertEquals(got?.kind, "known_request", `replayed request ${packet.from}->${packet.to}`);
      assertEquals(this.snapshot(), before);
      return;
    }
    const to = mode === "misdeliver"
      ? NAMES.find((n) => n !== packet.to && n !== packet.from)!
      : packet.to;
    const bytes = mode === "tamper"
      ? flip(packet.bytes, byte % packet.bytes.length, 1 << (byte % 8))
      : packet.bytes;
    const code = outcome(() => dispatchPacket(bytes, this.book(to), NOW));
    assert(code !== "ok", `${mode} of ${packet.from}->${packet.to} was accepted`);
    assertEquals(this.snapshot(), before);
  }

  reload(name: Name): void {
    const p = this.peers[name];
    for (const [k, c] of p.conversations) {
      p.conversations.set(
        k,
        deserializeConversation(JSON.parse(JSON.stringify(serializeConversation(c)))),
      );
    }
    for (const [k, o] of p.outbound) {
      p.outbound.set(
        k,
        deserializeOutboundRequest(JSON.parse(JSON.stringify(serializeOutboundRequest(o)))),
      );
    }
  }

  snapshot(): string {
    return JSON.stringify(NAMES.map((n) => [
      [...this.peers[n].conversations].map(([k, c]) => [k, serializeConversation(c)]),
      [...this.peers[n].outbound].map(([k, o]) => [k, serializeOutboundRequest(o)]),
    ]));
  }
}

type Action =
  | { kind: "send"; link: number }
  | { kind: "deliver"; pick: number }
  | { kind: "drop"; pick: number }
  | { kind: "refuse"; pick: number; mode: "replay" | "tamper" | "misdeliver"; byte: number }
  | { kind: "reload"; who: number };

const pick = fc.nat(1000);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("send" as const), link: fc.nat(3) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("deliver" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("refuse" as const),
      pick,
      mode: fc.constantFrom("replay" as const, "tamper" as const, "misdeliver" as const),
      byte: fc.nat(1 << 20),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reload" as const), who: fc.nat(2) }) },
);

function run(world: World, actions: readonly Action[]): void {
  for (const a of actions) {
    if (a.kind === "send") world.send(...LINKS[a.link]!);
    else if (a.kind === "deliver") world.deliver(a.pick);
    else if (a.kind === "drop") world.drop(a.pick);
    else if (a.kind === "refuse") world.refuse(a.pick, a.mode, a.byte);
    else world.reload(NAMES[a.who]!);
  }
  // everything still in flight arrives, last first, and opens
  while (world.flight.length > 0) world.deliver(world.flight.length - 1);
}

Deno.test("random schedules: every delivered packet opens once, in its own conversation", () => {
  fc.assert(
    fc.property(fc.nat(), fc.array(action, { minLength: 5, maxLength: 60 }), (seed, actions) => {
      run(new World(seed), actions);
    }),
    { seed: 0x4a4d, numRuns: 60 },
  );
});

Deno.test("three parties: A talks to B and C, and packets never cross", () => {
  const world = new World(7);
  world.deliver(0); // B's request reaches A
  world.deliver(0); // A's request reaches C
  for (const [from, to] of [["A", "B"], ["C", "A"], ["A", "B"], ["C", "A"]] as const) {
    world.send(from, to);
  }
  for (let i = 0; i < world.flight.length; i++) world.refuse(i, "misdeliver", 0);
  run(world, []);
  assertEquals(world.peers.A.conversations.get("B")!.established, false); // B has not sent yet
  assertEquals(world.peers.A.conversations.get("C")!.role, "bob");
  assertEquals(world.peers.C.conversations.get("A")!.established, false); // nor has A
  world.send("B", "A");
  world.send("A", "C");
  run(world, []);
  assertEquals(world.peers.A.conversations.get("B")!.established, true);
  assertEquals(world.peers.C.conversations.get("A")!.established, true);
  run(world, [{ kind: "send", link: 0 }, { kind: "send", link: 3 }]);
  assertEquals(world.sent, 8);
});
