/**
 * TorControl against a real tor with DisableNetwork 1 (authentication,
 * GETINFO, ADD_ONION with our own key, events); against a scripted fake
 * control port: tor_control_test.ts.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { seededRng } from "./_rng.ts";
import { toHex } from "../lib/crypto/bytes.ts";
import { onionKeyFromSeed, torKeyBlob } from "../lib/crypto/onion.ts";
import { TorControl } from "../lib/tor/control.ts";
import { safeCookieHashes } from "../lib/tor/control_auth.ts";
import { TorError } from "../lib/tor/errors.ts";
import { launchTor, type TorProcess } from "../lib/tor/launch.ts";
import { ONION_SERVICE_DEFENCES } from "../lib/app/tor_supervisor.ts";

// DisableNetwork 1: no traffic leaves the machine

const PASSWORD = "correct horse battery staple";

async function hashPassword(password: string): Promise<string> {
  const out = await new Deno.Command("tor", {
    args: ["--hash-password", password, "--quiet"],
    env: { PATH: `${Deno.env.get("PATH")}:/usr/sbin:/usr/local/sbin` },
    stdout: "piped",
    stderr: "null",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  assert(/^16:[0-9A-F]+$/.test(line), `unexpected hash ${line}`);
  return line;
}

async function withRealTor(fn: (tor: TorProcess) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "tor_control_test" });
  let tor: TorProcess | undefined;
  try {
    tor = await launchTor({
      dataDir,
      extraTorrc: ["DisableNetwork 1", `HashedControlPassword ${await hashPassword(PASSWORD)}`],
      waitForBootstrap: false,
      timeoutMs: 30_000,
    });
    await fn(tor);
  } finally {
    if (tor) {
      await tor.stop();
      await Deno.stat(`/proc/${tor.pid}`).then(
        () => {
          throw new Error(`tor ${tor!.pid} still running`);
        },
        () => {},
      );
    }
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function second(tor: TorProcess): Promise<TorControl> {
  return await TorControl.connect({ port: tor.controlPort, timeoutMs: 10_000 });
}

Deno.test("real tor: SAFECOOKIE, COOKIE and HASHEDPASSWORD authenticate; a wrong password fails", async () => {
  await withRealTor(async (tor) => {
    const cookieFile = `${tor.dataDir}/control_auth_cookie`;
    const cases = [
      [{ cookieFile }, "SAFECOOKIE"],
      [{}, "SAFECOOKIE"],
      // Plain COOKIE only with our own cookie file (launchTor's case).
      [{ cookieFile, method: "COOKIE" as const }, "COOKIE"],
      [{ password: PASSWORD }, "HASHEDPASSWORD"],
    ] as const;
    for (const [options, method] of cases) {
      const c = await second(tor);
      try {
        assertEquals(await c.authenticate(options), method);
        assert((await c.getInfo("version")).get("version")!.startsWith("0."));
      } finally {
        await c.close();
      }
    }
    // Not with the file tor names while SAFECOOKIE is offered, even opted in.
    const plain = await second(tor);
    const refusedPlain = await assertRejects(
      () => plain.authenticate({ method: "COOKIE", allowPlainCookie: true }),
      TorError,
      "use SAFECOOKIE",
    );
    assertEquals(refusedPlain.code, "auth_failed");
    const bad = await second(tor);
    const e = await assertRejects(() => bad.authenticate({ password: "wrong" }), TorError);
    assertEquals([e.code, e.status], ["auth_failed", 515]);
    assert(bad.isClosed);
    // Before authenticating, tor refuses other commands (514) and hangs up.
    const early = await second(tor);
    const refused = await assertRejects(() => early.getInfo("version"), TorError);
    assertEquals([refused.code, refused.status], ["control_reply", 514]);
    assertEquals((await early.closed).code, "control_closed");
  });
});

Deno.test("real tor: SAFECOOKIE hashes match tor's (server hash verified)", async () => {
  // authenticate() only sends AUTHENTICATE after tor's SERVERHASH matched
  // safeCookieHashes(); this checks the helper directly against tor too.
  await withRealTor(async (tor) => {
    const c = await second(tor);
    try {
      const cookie = await Deno.readFile(`${tor.dataDir}/control_auth_cookie`);
      const nonce = seededRng("tor")(32);
      await c.protocolInfo();
      const reply = await c.command(`AUTHCHALLENGE SAFECOOKIE ${toHex(nonce)}`);
      const m = /SERVERHASH=([0-9A-F]{64}) SERVERNONCE=([0-9A-F]{64})/.exec(reply.lines[0]!.text)!;
      const { serverHash, clientHash } = safeCookieHashes(
        cookie,
        nonce,
        Uint8Array.from(m[2]!.match(/../g)!, (h) => parseInt(h, 16)),
      );
      assertEquals(toHex(serverHash).toUpperCase(), m[1]);
      await c.command(`AUTHENTICATE ${toHex(clientHash)}`);
    } finally {
      await c.close();
    }
  });
});

Deno.test("real tor: ADD_ONION with torKeyBlob() gives our own onion address; 550 and 552 are typed", async () => {
  await withRealTor(async (tor) => {
    const rng = seededRng("onion keys");
    for (let i = 0; i < 4; i++) {
      const key = onionKeyFromSeed(rng(32));
      const id = await tor.control.addOnion(torKeyBlob(key.seed), [{ virtualPort: 80, target: 9 }]);
      // THE cross-check of torKeyBlob(): tor derives the same address we do.
      assertEquals(id, key.address);
      const again = await assertRejects(
        () => tor.control.addOnion(torKeyBlob(key.seed), [{ virtualPort: 80, target: 9 }]),
        TorError,
      );
      assertEquals([again.code, again.status], ["control_reply", 550]);
      assert(!again.message.includes(torKeyBlob(key.seed).slice(11, 30)));
      await tor.control.delOnion(id);
      const twice = await assertRejects(() => tor.control.delOnion(id), TorError);
      assertEquals([twice.code, twice.status], ["control_reply", 552]);
    }
    const fresh = await tor.control.addOnion("NEW:ED25519-V3", [{ virtualPort: 1, target: 2 }], {
      flags: ["DiscardPK"],
      maxStreams: 5,
    });
    assertEquals(fresh.length, 56);
    // the defences the runtime asks for (stream cap, closing circuit, PoW) are accepted as they are
    const defended = await tor.control.addOnion("NEW:ED25519-V3", [{ virtualPort: 1, target: 2 }], {
      ...ONION_SERVICE_DEFENCES,
      flags: ["DiscardPK", ...ONION_SERVICE_DEFENCES.flags!],
    });
    assertEquals(defended.length, 56);
  });
});

Deno.test("real tor: SETEVENTS delivers SIGNAL and multi-line CONF_CHANGED events", async () => {
  await withRealTor(async (tor) => {
    const got: string[] = [];
    const signal = new Promise<void>((resolve) =>
      tor.control.onEvent("SIGNAL", (e) => {
        got.push(e.text);
        resolve();
      })
    );
    const conf = new Promise<string[]>((resolve) =>
      tor.control.onEvent("CONF_CHANGED", (e) => resolve(e.reply.lines.map((l) => l.text)))
    );
    await tor.control.setEvents("SIGNAL", "CONF_CHANGED");
    await tor.control.signal("NEWNYM");
    await tor.control.command("SETCONF MaxCircuitDirtiness=700");
    await signal;
    assertEquals(got, ["NEWNYM"]);
    assertEquals(await conf, ["CONF_CHANGED", "MaxCircuitDirtiness=700", "OK"]);
    await assertRejects(() => tor.control.setEvents("NO_SUCH_EVENT"), TorError);
  });
});
