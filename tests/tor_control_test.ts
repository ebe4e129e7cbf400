/**
 * TorControl against a scripted fake control port (ordering, timeouts,
 * closes, hostile replies), its command builders and authentication
 * choice; against a real tor: tor_control_real_test.ts.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { toHex } from "../lib/crypto/bytes.ts";
import { onionKeyFromSeed } from "../lib/crypto/onion.ts";
import { MAX_TIMED_OUT_COMMANDS, TorControl } from "../lib/tor/control.ts";
import { chooseAuthMethod } from "../lib/tor/control_auth.ts";
import { waitForBootstrap } from "../lib/tor/bootstrap.ts";
import {
  addOnionCommand,
  delOnionCommand,
  getInfoCommand,
  setEventsCommand,
  signalCommand,
} from "../lib/tor/control_commands.ts";
import { TorError } from "../lib/tor/errors.ts";
import { addDefendedOnion } from "../lib/app/tor_supervisor.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server side of a fake control port: read command lines, write replies. */
class FakeTor {
  #buf = "";
  constructor(readonly conn: Deno.Conn) {}
  async line(): Promise<string> {
    const chunk = new Uint8Array(4096);
    while (!this.#buf.includes("\r\n")) {
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("client closed");
      this.#buf += new TextDecoder().decode(chunk.subarray(0, n));
    }
    const i = this.#buf.indexOf("\r\n");
    const line = this.#buf.slice(0, i);
    this.#buf = this.#buf.slice(i + 2);
    return line;
  }
  async send(text: string): Promise<void> {
    const bytes = enc(text);
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }
  /** Everything the client sends until it closes. */
  async rest(): Promise<string> {
    const chunk = new Uint8Array(4096);
    for (;;) {
      const n = await this.conn.read(chunk).catch(() => null);
      if (n === null) return this.#buf;
      this.#buf += new TextDecoder().decode(chunk.subarray(0, n));
    }
  }
}

async function withFake(
  fn: (control: TorControl, tor: FakeTor) => Promise<void>,
  options: { timeoutMs?: number; maxReplyBytes?: number } = {},
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const accepted = listener.accept();
    const control = await TorControl.connect({ port: listener.addr.port, ...options });
    const server = await accepted;
    try {
      await fn(control, new FakeTor(server));
    } finally {
      await control.close();
      try {
        server.close();
      } catch { /* closed by the test */ }
    }
  } finally {
    listener.close();
  }
}

Deno.test("TorControl matches replies FIFO and dispatches interleaved events", async () => {
  await withFake(async (control, tor) => {
    const events: string[] = [];
    control.onEvent("*", (e) => events.push(`*${e.name}`));
    control.onEvent("SIGNAL", (e) => events.push(`SIGNAL ${e.text}`));
    const info = control.getInfo("version");
    const refused = control.command("SIGNAL NEWNYM");
    assertEquals(await tor.line(), "GETINFO version");
    assertEquals(await tor.line(), "SIGNAL NEWNYM");
    await tor.send("650 SIGNAL NEWNYM\r\n250-version=0.4.9.11\r\n250 OK\r\n650-X\r\n650 OK\r\n");
    await tor.send('552 Unrecognized signal "NEWNYM"\r\n');
    assertEquals((await info).get("version"), "0.4.9.11");
    const e = await assertRejects(() => refused, TorError);
    assertEquals([e.code, e.status, e.torText], [
      "control_reply",
      552,
      'Unrecognized signal "NEWNYM"',
    ]);
    assertEquals(events, ["SIGNAL NEWNYM", "*SIGNAL", "*X"]);
  });
});

Deno.test("TorControl times a command out and still matches the late reply to it", async () => {
  await withFake(async (control, tor) => {
    const slow = control.request("GETINFO slow");
    assertEquals((await assertRejects(() => slow, TorError)).code, "control_timeout");
    const next = control.request("GETINFO next", { timeoutMs: 2000 });
    await tor.line();
    await tor.line();
    await tor.send("250 late reply for slow\r\n250 reply for next\r\n");
    assertEquals((await next).lines, [{ text: "reply for next" }]);
  }, { timeoutMs: 100 });
});

Deno.test("TorControl closes with control_timeout once too many commands go unanswered", async () => {
  await withFake(async (control, tor) => {
    const calls = Array.from(
      { length: MAX_TIMED_OUT_COMMANDS },
      (_, i) => control.request(`GETINFO q${i}`).catch((e) => e),
    );
    for (let i = 0; i < MAX_TIMED_OUT_COMMANDS; i++) {
      assertEquals(await tor.line(), `GETINFO q${i}`);
    }
    for (const e of await Promise.all(calls)) {
      assertEquals([e instanceof TorError, e.code], [true, "control_timeout"]);
    }
    const reason = await Promise.race([control.closed, delay(2000).then(() => undefined)]);
    assertEquals(reason?.code, "control_timeout");
    assert(control.isClosed);
    const after = await assertRejects(() => control.request("GETINFO version"), TorError);
    assertEquals(after.code, "control_timeout");
    assertEquals(await tor.rest(), "");
  }, { timeoutMs: 50 });
  // Late replies free their slots: timeouts answered later never add up.
  await withFake(async (control, tor) => {
    for (let i = 0; i < 2 * MAX_TIMED_OUT_COMMANDS; i++) {
      const slow = control.request(`GETINFO s${i}`);
      assertEquals((await assertRejects(() => slow, TorError)).code, "control_timeout");
      await tor.line();
      await tor.send("250 late\r\n");
    }
    const last = control.request("GETINFO last", { timeoutMs: 2000 });
    await tor.line();
    await tor.send("250 on time\r\n");
    assertEquals((await last).lines, [{ text: "on time" }]);
    assert(!control.isClosed);
  }, { timeoutMs: 50 });
});

Deno.test("TorControl rejects pending commands and notifies when tor closes", async () => {
  await withFake(async (control, tor) => {
    let notified: TorError | undefined;
    control.onClose((reason) => notified = reason);
    const pending = control.request("GETINFO version");
    await tor.line();
    tor.conn.close();
    assertEquals((await assertRejects(() => pending, TorError)).code, "control_closed");
    assertEquals((await control.closed).code, "control_closed");
    assertEquals(notified?.code, "control_closed");
    assert(control.isClosed);
    const after = await assertRejects(() => control.request("GETINFO version"), TorError);
    assertEquals(after.code, "control_closed");
  });
});

Deno.test("TorControl fails on malformed, oversized and unsolicited replies", async () => {
  for (
    const [reply, code] of [
      ["garbage\r\n", "control_malformed"],
      ["250-" + "x".repeat(3000), "control_too_large"],
    ]
  ) {
    await withFake(async (control, tor) => {
      const pending = control.request("GETINFO version");
      await tor.line();
      await tor.send(reply!);
      assertEquals((await assertRejects(() => pending, TorError)).code, code);
      assertEquals((await control.closed).code, code);
    }, { maxReplyBytes: 1024 });
  }
  await withFake(async (control, tor) => {
    await tor.send("250 OK\r\n");
    assertEquals((await control.closed).code, "control_malformed");
  });
});

Deno.test("TorControl refuses line breaks and bad onion arguments without echoing keys", async () => {
  await withFake(async (control, tor) => {
    const inject = await assertRejects(
      () => control.request("GETINFO version\r\nSIGNAL SHUTDOWN"),
      TorError,
    );
    assertEquals(inject.code, "invalid_argument");
    const secretBlob = "ED25519-V3:c2VjcmV0 Port=1";
    const e = await assertRejects(
      () => control.addOnion(secretBlob, [{ virtualPort: 1, target: 1 }]),
      TorError,
    );
    assert(!e.message.includes("c2VjcmV0"));
    for (const port of [{ virtualPort: 0, target: 1 }, { virtualPort: 80, target: "a b" }]) {
      await assertRejects(() => control.addOnion("NEW:ED25519-V3", [port]), TorError);
    }
    await assertRejects(() => control.delOnion("not-an-id"), TorError);
    await assertRejects(() => control.signal("NEWNYM\r\nX"), TorError);
    // Nothing reached the wire.
    await control.close();
    assertEquals(await tor.rest(), "");
  });
});

Deno.test("addDefendedOnion() asks for the stream cap and PoW, and retries without PoW on a tor that refuses it", async () => {
  await withFake(async (control, tor) => {
    const warnings: string[] = [];
    const ports = [{ virtualPort: 50001, target: 4242 }];
    const id = "a".repeat(56);
    const published = addDefendedOnion(control, "NEW:ED25519-V3", ports, (m) => warnings.push(m));
    assertEquals(
      await tor.line(),
      "ADD_ONION NEW:ED25519-V3 Flags=MaxStreamsCloseCircuit MaxStreams=8 " +
        "PoWDefensesEnabled=1 PoWQueueRate=25 PoWQueueBurst=100 Port=50001,127.0.0.1:4242",
    );
    // what tor 0.4.7 says to a keyword it does not know
    await tor.send(
      '512 Bad arguments to ADD_ONION: Unrecognized keyword argument "PoWDefensesEnabled"\r\n',
    );
    assertEquals(
      await tor.line(),
      "ADD_ONION NEW:ED25519-V3 Flags=MaxStreamsCloseCircuit MaxStreams=8 Port=50001,127.0.0.1:4242",
    );
    await tor.send(`250-ServiceID=${id}\r\n250 OK\r\n`);
    assertEquals(await published, id);
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes("proof-of-work"), warnings[0]);
  });
});

Deno.test("command builders write control-spec §3 lines and refuse injections", () => {
  assertEquals(
    addOnionCommand("ED25519-V3:QUJD+/==", [{ virtualPort: 80, target: 8080 }, {
      virtualPort: 22,
      target: "unix:/run/x.sock",
    }], { flags: ["Detach"], maxStreams: 3 }),
    "ADD_ONION ED25519-V3:QUJD+/== Flags=Detach MaxStreams=3 Port=80,127.0.0.1:8080 Port=22,unix:/run/x.sock",
  );
  assertEquals(
    addOnionCommand("NEW:BEST", [{ virtualPort: 1, target: 2 }], {
      powDefenses: { queueRate: 25, queueBurst: 100 },
    }),
    "ADD_ONION NEW:BEST PoWDefensesEnabled=1 PoWQueueRate=25 PoWQueueBurst=100 Port=1,127.0.0.1:2",
  );
  assertEquals(
    getInfoCommand(["version", "net/listeners/socks"]),
    "GETINFO version net/listeners/socks",
  );
  assertEquals(setEventsCommand([]), "SETEVENTS");
  assertEquals(signalCommand("NEWNYM"), "SIGNAL NEWNYM");
  const id = "a".repeat(56);
  assertEquals(delOnionCommand(id), `DEL_ONION ${id}`);
  const bad: (() => string)[] = [
    () => addOnionCommand("RSA1024:abc", [{ virtualPort: 1, target: 1 }]),
    () => addOnionCommand("ED25519-V3:abc Port=1", [{ virtualPort: 1, target: 1 }]),
    () => addOnionCommand("NEW:BEST", []),
    () => addOnionCommand("NEW:BEST", [{ virtualPort: 65536, target: 1 }]),
    () => addOnionCommand("NEW:BEST", [{ virtualPort: 1, target: 0 }]),
    () => addOnionCommand("NEW:BEST", [{ virtualPort: 1, target: "x\r\nSIGNAL HALT" }]),
    () => addOnionCommand("NEW:BEST", [{ virtualPort: 1, target: 1 }], { flags: ["A,B"] }),
    () => addOnionCommand("NEW:BEST", [{ virtualPort: 1, target: 1 }], { maxStreams: -1 }),
    () =>
      addOnionCommand("NEW:BEST", [{ virtualPort: 1, target: 1 }], {
        powDefenses: { queueRate: 1.5, queueBurst: 1 },
      }),
    () => getInfoCommand([]),
    () => getInfoCommand(["a b"]),
    () => setEventsCommand(["hs_desc"]),
    () => signalCommand("NEWNYM HALT"),
    () => delOnionCommand(id + ".onion"),
  ];
  for (const f of bad) assertEquals(assertThrows(f, TorError).code, "invalid_argument");
});

Deno.test("authenticate() refuses a port that fails the SAFECOOKIE server hash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tor_control_test" });
  try {
    const cookieFile = `${dir}/cookie`;
    await Deno.writeFile(cookieFile, new Uint8Array(32).fill(7));
    await withFake(async (control, tor) => {
      const auth = control.authenticate({ rng: seededRng("nonce") });
      assertEquals(await tor.line(), "PROTOCOLINFO 1");
      await tor.send(
        `250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="${cookieFile}"\r\n` +
          '250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n',
      );
      const challenge = await tor.line();
      assertEquals(challenge, `AUTHCHALLENGE SAFECOOKIE ${toHex(seededRng("nonce")(32))}`);
      // An impostor does not know the cookie, so its hash is wrong.
      await tor.send(
        `250 AUTHCHALLENGE SERVERHASH=${"00".repeat(32)} SERVERNONCE=${"11".repeat(32)}\r\n`,
      );
      const e = await assertRejects(() => auth, TorError, "SAFECOOKIE");
      assertEquals(e.code, "auth_failed");
      // The cookie (COOKIE method) or a client hash was never sent.
      assertEquals(await tor.rest(), "");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("authenticate() will not send the file a COOKIE-only port names, unless allowed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tor_control_test" });
  try {
    const secretFile = `${dir}/secret`;
    const secret = new Uint8Array(32).fill(0x5a);
    await Deno.writeFile(secretFile, secret);
    const protocolInfo =
      `250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE="${secretFile}"` +
      '\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n';
    for (const options of [{}, { method: "COOKIE" as const }]) {
      await withFake(async (control, tor) => {
        const auth = control.authenticate(options);
        assertEquals(await tor.line(), "PROTOCOLINFO 1");
        await tor.send(protocolInfo);
        const e = await assertRejects(() => auth, TorError, "pass a password or use SAFECOOKIE");
        assertEquals(e.code, "auth_failed");
        assert(control.isClosed);
        const sent = await tor.rest();
        assertEquals(sent, "");
        assert(!sent.toLowerCase().includes(toHex(secret)));
      });
    }
    // The explicit opt-in sends it (the caller trusts this port).
    await withFake(async (control, tor) => {
      const auth = control.authenticate({ allowPlainCookie: true });
      await tor.line();
      await tor.send(protocolInfo);
      assertEquals(await tor.line(), `AUTHENTICATE ${toHex(secret)}`);
      await tor.send("250 OK\r\n");
      assertEquals(await auth, "COOKIE");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chooseAuthMethod() prefers NULL, a given password, SAFECOOKIE, then COOKIE", () => {
  const info = (methods: string[]) => ({ protocolVersion: 1, methods });
  assertEquals(chooseAuthMethod(info(["NULL", "SAFECOOKIE"]), {}), "NULL");
  assertEquals(
    chooseAuthMethod(info(["COOKIE", "SAFECOOKIE", "HASHEDPASSWORD"]), { password: "x" }),
    "HASHEDPASSWORD",
  );
  assertEquals(
    chooseAuthMethod(info(["COOKIE", "SAFECOOKIE", "HASHEDPASSWORD"]), {}),
    "SAFECOOKIE",
  );
  // Plain COOKIE: with our own cookie (file), or opted in without SAFECOOKIE.
  assertEquals(chooseAuthMethod(info(["COOKIE", "HASHEDPASSWORD"]), { cookieFile: "c" }), "COOKIE");
  assertEquals(chooseAuthMethod(info(["COOKIE"]), { allowPlainCookie: true }), "COOKIE");
  assertEquals(
    chooseAuthMethod(info(["COOKIE", "SAFECOOKIE"]), { method: "COOKIE", cookieFile: "c" }),
    "COOKIE",
  );
  for (
    const [methods, options] of [
      [["HASHEDPASSWORD"], {}],
      [[], {}],
      [["COOKIE"], { method: "SAFECOOKIE" as const }],
      [["COOKIE", "HASHEDPASSWORD"], {}],
      [["COOKIE", "SAFECOOKIE"], { method: "COOKIE" as const, allowPlainCookie: true }],
      // a port that lets anyone in, when we were told this tor wants a password or cookie
      [["NULL"], { password: "x" }],
      [["NULL", "SAFECOOKIE"], { cookieFile: "c" }],
    ] as const
  ) {
    const e = assertThrows(() => chooseAuthMethod(info([...methods]), options), TorError);
    assertEquals(e.code, "auth_failed");
  }
});

Deno.test("waitForDescriptorUpload() waits for HS_DESC UPLOADED of its own service", async () => {
  const id = onionKeyFromSeed(new Uint8Array(32).fill(1)).address;
  const other = onionKeyFromSeed(new Uint8Array(32).fill(2)).address;
  await withFake(async (control, tor) => {
    const waiting = control.waitForDescriptorUpload(`${id}.onion`, 2000);
    assertEquals(await tor.line(), "SETEVENTS HS_DESC");
    await tor.send("250 OK\r\n");
    await tor.send(`650 HS_DESC UPLOADED ${other} UNKNOWN $AA~r1\r\n`);
    await tor.send(`650 HS_DESC FAILED ${id} UNKNOWN $AA~r1 REASON=UPLOAD_REJECTED\r\n`);
    await tor.send(`650 HS_DESC UPLOADED ${id} UNKNOWN $BB~r2 HSDIR_INDEX=00\r\n`);
    await waiting;
    // Remembered: a later wait for an uploaded service resolves at once.
    await control.waitForDescriptorUpload(other, 100);
    const third = onionKeyFromSeed(new Uint8Array(32).fill(3)).address;
    const e = await assertRejects(() => control.waitForDescriptorUpload(third, 100), TorError);
    assertEquals(e.code, "descriptor_timeout");
  });
});

Deno.test("waitForDescriptorUpload() after delOnion() waits for the new upload", async () => {
  const id = onionKeyFromSeed(new Uint8Array(32).fill(4)).address;
  await withFake(async (control, tor) => {
    const first = control.waitForDescriptorUpload(id, 2000);
    assertEquals(await tor.line(), "SETEVENTS HS_DESC");
    await tor.send("250 OK\r\n");
    await tor.send(`650 HS_DESC UPLOADED ${id} UNKNOWN $AA~r1\r\n`);
    await first;
    const removed = control.delOnion(id);
    assertEquals(await tor.line(), `DEL_ONION ${id}`);
    await tor.send("250 OK\r\n");
    await removed;
    // The old upload no longer counts: without a new event this times out.
    const e = await assertRejects(() => control.waitForDescriptorUpload(id, 150), TorError);
    assertEquals(e.code, "descriptor_timeout");
    const second = control.waitForDescriptorUpload(id, 2000);
    await tor.send(`650 HS_DESC UPLOADED ${id} UNKNOWN $BB~r2\r\n`);
    await second;
  });
});

Deno.test("waitForBootstrap() reports each new phase until 100%, or times out", async () => {
  await withFake(async (control, tor) => {
    const seen: number[] = [];
    const done = waitForBootstrap(control, {
      timeoutMs: 2000,
      onProgress: (s) => seen.push(s.progress),
    });
    assertEquals(await tor.line(), "SETEVENTS STATUS_CLIENT");
    await tor.send("250 OK\r\n");
    assertEquals(await tor.line(), "GETINFO status/bootstrap-phase");
    await tor.send(
      '250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="Connected"\r\n250 OK\r\n',
    );
    for (const p of [10, 50, 50, 100]) {
      await tor.send(
        `650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=${p} TAG=${
          p === 10 ? "conn_done" : `t${p}`
        } SUMMARY="s"\r\n`,
      );
    }
    assertEquals((await done).progress, 100);
    assertEquals(seen, [10, 50, 100]);
  });
  await withFake(async (control, tor) => {
    const done = waitForBootstrap(control, { timeoutMs: 300 });
    await tor.line();
    await tor.send("250 OK\r\n");
    await tor.line();
    await tor.send(
      '250-status/bootstrap-phase=WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting" WARNING="refused"\r\n250 OK\r\n',
    );
    const e = await assertRejects(() => done, TorError, "stuck at 5%");
    assertEquals(e.code, "bootstrap_timeout");
  });
});
