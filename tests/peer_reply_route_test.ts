/**
 * Replies take the connection their packet came on (link.ts): an
 * acknowledgement goes back over the sender's own connection, so a round
 * trip uses one circuit both ways (issue 4), and it needs no dial of ours.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import type { FramedConn } from "../lib/net/framed_conn.ts";
import { NetError } from "../lib/net/net_error.ts";
import type { PeerAddress, Transport } from "../lib/net/transport.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";

/** Counts the frames a peer writes on its outbound and on its inbound connections. */
class SendCounter {
  outbound = 0;
  inbound = 0;
  /** Dials to these hosts fail (not retryable). */
  readonly refuse = new Set<string>();

  transport(base: Transport): Transport {
    return {
      connect: async (address: PeerAddress, key: string, signal?: AbortSignal) => {
        if (this.refuse.has(address.host)) {
          throw new NetError("connection_refused", "Refused by the test", { retryable: false });
        }
        const conn = await base.connect(address, key, signal);
        const send = conn.send.bind(conn);
        conn.send = (payload) => (this.outbound++, send(payload));
        return conn;
      },
    };
  }

  inboundConn(conn: FramedConn): FramedConn {
    const send = conn.send.bind(conn);
    conn.send = (payload) => (this.inbound++, send(payload));
    return conn;
  }
}

Deno.test("Peer: a message's acknowledgement goes back on the connection the message came on", async () => {
  const net = new TestNet("reply-route");
  try {
    const bobCount = new SendCounter();
    const alice = await net.peer("alice");
    const bob = await net.peer("bob", {
      transport: (base) => bobCount.transport(base),
      wrapInbound: (conn) => bobCount.inboundConn(conn),
    });
    await connect(alice, bob);
    for (let i = 0; i < 3; i++) {
      const a = alice.mark();
      const [out, inb] = [bobCount.outbound, bobCount.inbound];
      const { id } = await alice.peer.sendMessage("bob", `hello ${i}`);
      await alice.waitFor(is("delivered", { id }), a);
      // (the answer to the probe alice's new connection opened with may go there too)
      assert(bobCount.inbound - inb >= 1, `acknowledgement ${i} on alice's connection`);
      assertEquals(bobCount.outbound - out, 0, `nothing on bob's own connection for ${i}`);
    }
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a message is acknowledged even when its receiver cannot dial back", async () => {
  const net = new TestNet("reply-no-dial");
  try {
    const bobCount = new SendCounter();
    const alice = await net.peer("alice");
    const bob = await net.peer("bob", {
      transport: (base) => bobCount.transport(base),
      wrapInbound: (conn) => bobCount.inboundConn(conn),
    });
    await connect(alice, bob);
    // bob restarts and can no longer reach alice: only her connection is left
    await bob.close();
    bobCount.refuse.add(alice.host);
    await bob.open();
    const [out, inb] = [bobCount.outbound, bobCount.inbound];
    const a = alice.mark();
    const { id } = await alice.peer.sendMessage("bob", "are you there?");
    await alice.waitFor(is("delivered", { id }), a);
    assert(bobCount.inbound > inb, "the acknowledgement went back on alice's connection");
    assertEquals(bobCount.outbound, out);
  } finally {
    await net.close();
  }
});
