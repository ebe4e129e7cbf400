import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { type ControlReply, endText, isAsyncReply, ReplyFramer } from "../lib/tor/control_reply.ts";
import {
  parseAddOnion,
  parseArgs,
  parseAuthChallenge,
  parseBootstrapStatus,
  parseEvent,
  parseGetInfo,
  parseHsDescEvent,
  parseProtocolInfo,
  readQuoted,
} from "../lib/tor/control_parse.ts";
import { isTorError, TorError } from "../lib/tor/errors.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Frames a whole transcript; throws if anything is left half-read. */
function frameAll(bytes: Uint8Array, max?: number): ControlReply[] {
  const framer = new ReplyFramer(max === undefined ? {} : { maxReplyBytes: max });
  framer.push(bytes);
  const out: ControlReply[] = [];
  for (let r = framer.next(); r; r = framer.next()) out.push(r);
  return out;
}

// A PROTOCOLINFO reply as tor 0.4.9 sends it, with an escaped cookie path.
const PROTOCOLINFO = "250-PROTOCOLINFO 1\r\n" +
  '250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE="/tmp/a \\"b\\"\\\\c/control_auth_cookie"\r\n' +
  '250-VERSION Tor="0.4.9.11"\r\n' +
  "250 OK\r\n";

const MIXED =
  '650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay"\r\n' +
  "250-version=0.4.9.11\r\n" +
  "250+config-text=\r\nSocksPort 0\r\n..hidden\r\n\r\n.\r\n" +
  "250 OK\r\n" +
  "650-CONF_CHANGED\r\n650-DisableNetwork=1\r\n650 OK\r\n" +
  '552 Unrecognized key "nope"\r\n';

Deno.test("ReplyFramer yields a single-line reply", () => {
  const [r] = frameAll(enc("250 OK\r\n"));
  assertEquals(r, { status: 250, lines: [{ text: "OK" }] });
});

Deno.test("ReplyFramer and parseProtocolInfo() read tor's PROTOCOLINFO transcript", () => {
  const replies = frameAll(enc(PROTOCOLINFO));
  assertEquals(replies.length, 1);
  const info = parseProtocolInfo(replies[0]!);
  assertEquals(info.protocolVersion, 1);
  assertEquals(info.methods, ["COOKIE", "SAFECOOKIE", "HASHEDPASSWORD"]);
  assertEquals(info.cookieFile, '/tmp/a "b"\\c/control_auth_cookie');
  assertEquals(info.torVersion, "0.4.9.11");
});

Deno.test("ReplyFramer separates interleaved events, data blocks and errors", () => {
  const replies = frameAll(enc(MIXED));
  assertEquals(replies.map((r) => r.status), [650, 250, 650, 552]);
  assertEquals(replies.map(isAsyncReply), [true, false, true, false]);
  // control-spec §2.4: the doubled leading dot is removed, empty lines kept.
  assertEquals(replies[1]!.lines[1], { text: "config-text=", data: "SocksPort 0\n.hidden\n" });
  const info = parseGetInfo(replies[1]!);
  assertEquals(info.get("version"), "0.4.9.11");
  assertEquals(info.get("config-text"), "SocksPort 0\n.hidden\n");
  assertEquals(parseEvent(replies[2]!).name, "CONF_CHANGED");
  assertEquals(replies[2]!.lines.length, 3);
  assertEquals(endText(replies[3]!), 'Unrecognized key "nope"');
});

Deno.test("ReplyFramer asks for more on every truncated prefix", () => {
  const bytes = enc(MIXED);
  const whole = frameAll(bytes);
  // The prefixes that end exactly on a reply boundary yield whole replies;
  // every other prefix must yield only the replies completed so far.
  for (let cut = 0; cut < bytes.length; cut++) {
    const framer = new ReplyFramer();
    framer.push(bytes.subarray(0, cut));
    const got: ControlReply[] = [];
    for (let r = framer.next(); r; r = framer.next()) got.push(r);
    assertEquals(got, whole.slice(0, got.length));
    assert(got.length < whole.length, `prefix ${cut} completed everything`);
    framer.push(bytes.subarray(cut));
    for (let r = framer.next(); r; r = framer.next()) got.push(r);
    assertEquals(got, whole, `split at ${cut}`);
    assert(framer.idle);
  }
});

Deno.test("ReplyFramer gives the same replies for any chunking", () => {
  const bytes = enc(PROTOCOLINFO + MIXED);
  const whole = frameAll(bytes);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      const framer = new ReplyFramer();
      const got: ControlReply[] = [];
      for (let i = 1; i < points.length; i++) {
        framer.push(bytes.subarray(points[i - 1], points[i]));
        for (let r = framer.next(); r; r = framer.next()) got.push(r);
      }
      assertEquals(got, whole);
    }),
  );
});

Deno.test("ReplyFramer accepts a bare LF line ending", () => {
  assertEquals(frameAll(enc("250-a=1\n250 OK\n"))[0]!.lines, [{ text: "a=1" }, { text: "OK" }]);
});

Deno.test("ReplyFramer rejects malformed lines with control_malformed", () => {
  for (
    const bad of [
      "25 OK\r\n",
      "2\r\n",
      "abc OK\r\n",
      "150 OK\r\n",
      "750 OK\r\n",
      "250*OK\r\n",
      "250-a\r\n251 b\r\n",
      "250-a\r\n650 event\r\n",
    ]
  ) {
    const framer = new ReplyFramer();
    framer.push(enc(bad));
    const e = assertThrows(() => {
      while (framer.next());
    }, TorError);
    assertEquals(e.code, "control_malformed", bad);
    // A failed framer refuses further use.
    assertThrows(() => framer.next(), TorError);
    assertThrows(() => framer.push(enc("250 OK\r\n")), TorError);
  }
});

Deno.test("ReplyFramer rejects a reply larger than its bound", () => {
  // One endless line without LF.
  const framer = new ReplyFramer({ maxReplyBytes: 64 });
  framer.push(enc("250-" + "x".repeat(40)));
  assertEquals(framer.next(), undefined);
  framer.push(enc("x".repeat(40)));
  assertEquals(assertThrows(() => framer.next(), TorError).code, "control_too_large");
  // Many short lines that never end the reply.
  const many = new ReplyFramer({ maxReplyBytes: 64 });
  many.push(enc("250-a=1\r\n".repeat(10)));
  assertEquals(assertThrows(() => many.next(), TorError).code, "control_too_large");
  // An endless data block.
  const data = new ReplyFramer({ maxReplyBytes: 64 });
  data.push(enc("250+k=\r\n" + "line\r\n".repeat(20)));
  assertEquals(assertThrows(() => data.next(), TorError).code, "control_too_large");
  // Replies at the bound pass, and the bound is per reply.
  const ok = "250 " + "y".repeat(58) + "\r\n";
  assertEquals(ok.length, 64);
  assertEquals(frameAll(enc(ok.repeat(5)), 64).length, 5);
});

Deno.test("ReplyFramer on random bytes only returns replies or throws TorError", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc.constantFrom(
            ...["250 OK\r\n", "250-", "250+", "\r\n.\r\n", "650 X\r\n", ".."].map(enc),
          ),
        ),
        { maxLength: 30 },
      ),
      (chunks) => {
        const framer = new ReplyFramer({ maxReplyBytes: 256 });
        try {
          for (const c of chunks) {
            framer.push(c);
            for (let r = framer.next(); r; r = framer.next()) {
              assert(r.lines.length > 0 && r.status >= 200 && r.status < 700);
            }
          }
        } catch (e) {
          assert(
            isTorError(e, "control_malformed") || isTorError(e, "control_too_large"),
            String(e),
          );
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("readQuoted() decodes control-spec §2.1.1 escapes", () => {
  const cases: [string, string][] = [
    ['"plain"', "plain"],
    ['"a\\"b"', 'a"b'],
    ['"back\\\\slash"', "back\\slash"],
    ['"\\n\\t\\r"', "\n\t\r"],
    ['"\\101\\0\\7x"', "A\u0000\u0007x"],
    ['"\\303\\251"', "é"],
    ['"\\q"', "q"],
    ['"é ü"', "é ü"],
  ];
  for (const [input, value] of cases) {
    assertEquals(readQuoted(input, 0), { value, end: input.length });
  }
  for (const bad of ['"open', '"trail\\', '"\\400"', "noquote"]) {
    assertEquals(assertThrows(() => readQuoted(bad, 0), TorError).code, "control_malformed");
  }
});

Deno.test("parseArgs() splits positional words and KEY=value pairs", () => {
  const a = parseArgs(
    'NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn SUMMARY="Connecting to a relay" X=',
  );
  assertEquals(a.positional, ["NOTICE", "BOOTSTRAP"]);
  assertEquals(a.named.get("PROGRESS"), "85");
  assertEquals(a.named.get("SUMMARY"), "Connecting to a relay");
  assertEquals(a.named.get("X"), "");
  assertEquals(parseArgs('"quoted word" K=1 K=2').positional, ["quoted word"]);
  assertEquals(parseArgs("K=1 K=2").named.get("K"), "1");
  for (const bad of ['K="x"y', 'a"b', "=v", 'K="open']) {
    assertEquals(assertThrows(() => parseArgs(bad), TorError).code, "control_malformed");
  }
});

Deno.test("parseBootstrapStatus() reads progress, tag, summary and warnings", () => {
  assertEquals(
    parseBootstrapStatus('NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"'),
    { progress: 100, tag: "done", summary: "Done" },
  );
  assertEquals(
    parseBootstrapStatus(
      'WARN BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="x" WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore',
    )?.warning,
    "Connection refused",
  );
  assertEquals(parseBootstrapStatus("NOTICE CIRCUIT_ESTABLISHED"), undefined);
  for (
    const bad of [
      "NOTICE BOOTSTRAP PROGRESS=101",
      "NOTICE BOOTSTRAP TAG=x",
      "NOTICE BOOTSTRAP PROGRESS=-1",
    ]
  ) {
    assertThrows(() => parseBootstrapStatus(bad), TorError);
  }
});

Deno.test("parseHsDescEvent() reads UPLOADED and FAILED events", () => {
  const addr = "a".repeat(56);
  const up = parseEvent(
    frameAll(enc(
      `650 HS_DESC UPLOADED ${addr} UNKNOWN $AAAA~relay1 ${"b".repeat(43)} HSDIR_INDEX=00\r\n`,
    ))[0]!,
  );
  assertEquals(up.name, "HS_DESC");
  assertEquals(parseHsDescEvent(up.text), {
    action: "UPLOADED",
    address: addr,
    authType: "UNKNOWN",
    hsDir: "$AAAA~relay1",
    descriptorId: "b".repeat(43),
  });
  const failed = parseHsDescEvent(`FAILED ${addr} NO_AUTH UNKNOWN REASON=QUERY_NO_HSDIR`);
  assertEquals([failed.action, failed.reason], ["FAILED", "QUERY_NO_HSDIR"]);
  assertThrows(() => parseHsDescEvent("UPLOAD"), TorError);
});

Deno.test("parseAddOnion() and parseAuthChallenge() read their replies", () => {
  const id = "n35etu3yjxrqjpntmfziom5sjwspoydchmelc4xleoy4jk2u4lziz2yd";
  assertEquals(
    parseAddOnion(frameAll(enc(`250-ServiceID=${id}\r\n250 OK\r\n`))[0]!),
    { serviceId: id },
  );
  assertEquals(
    parseAddOnion(
      frameAll(enc(`250-ServiceID=${id}\r\n250-PrivateKey=ED25519-V3:x\r\n250 OK\r\n`))[0]!,
    )
      .privateKey,
    "ED25519-V3:x",
  );
  assertThrows(() => parseAddOnion(frameAll(enc("250 OK\r\n"))[0]!), TorError);
  assertThrows(
    () => parseAddOnion(frameAll(enc("250-ServiceID=BAD!\r\n250 OK\r\n"))[0]!),
    TorError,
  );
  const h = "AB".repeat(32);
  const n = "0c".repeat(32);
  const ch = parseAuthChallenge(
    frameAll(enc(`250 AUTHCHALLENGE SERVERHASH=${h} SERVERNONCE=${n}\r\n`))[0]!,
  );
  assertEquals(ch.serverHash, new Uint8Array(32).fill(0xab));
  assertEquals(ch.serverNonce, new Uint8Array(32).fill(0x0c));
  for (
    const bad of [
      `AUTHCHALLENGE SERVERHASH=${h}`,
      `AUTHCHALLENGE SERVERHASH=${h}0 SERVERNONCE=${n}`,
      `X SERVERHASH=${h} SERVERNONCE=${n}`,
    ]
  ) {
    assertThrows(() => parseAuthChallenge(frameAll(enc(`250 ${bad}\r\n`))[0]!), TorError);
  }
});

Deno.test("parseGetInfo() rejects lines that are not key=value", () => {
  assertThrows(() => parseGetInfo(frameAll(enc("250-novalue\r\n250 OK\r\n"))[0]!), TorError);
  assertEquals(parseGetInfo(frameAll(enc("250 k=v\r\n"))[0]!).get("k"), "v");
});
