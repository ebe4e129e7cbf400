/**
 * The control port password kept off the command line (issue 8 item 10):
 * `--control-password-file` and `$UNMESSAGE_CONTROL_PASSWORD` are read as
 * documented in lib/app/control_password.ts, `--control-password` still
 * works but warns, a bad file is a clear error, and a password read from a
 * file really authenticates to a tor with `HashedControlPassword` (and a
 * wrong one fails the start at once with `auth_failed`).
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import {
  CMDLINE_PASSWORD_WARNING,
  ControlPasswordError,
  MAX_PASSWORD_FILE_BYTES,
  resolveControlPassword,
} from "../lib/app/control_password.ts";
import { parseCli } from "../lib/app/cli_args.ts";
import { attachTor, launchTor } from "../lib/tor/launch.ts";
import { startPeer } from "../lib/runtime.ts";
import { isTorError } from "../lib/tor/errors.ts";
import { PeerProcess } from "./e2e/_peer_process.ts";
import { refusesFifo } from "./_fifo.ts";

const PASSWORD = "correct horse battery staple";
/** Bound on the launch of the test tor. */
const LAUNCH_MS = 30_000;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "control_password_test" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeSecret(path: string, text: string, mode = 0o600): Promise<void> {
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
}

Deno.test("resolveControlPassword(): flag warns, file and environment do not, in that order", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/pw`;
    await writeSecret(file, `${PASSWORD}\n`);
    assertEquals(await resolveControlPassword({ flag: "x", file, env: "y" }), {
      password: "x",
      warnings: [CMDLINE_PASSWORD_WARNING],
    });
    assertEquals(await resolveControlPassword({ file, env: "y" }), {
      password: PASSWORD,
      warnings: [],
    });
    assertEquals(await resolveControlPassword({ env: "y" }), { password: "y", warnings: [] });
    assertEquals(await resolveControlPassword({ env: "" }), { warnings: [] });
    assertEquals(await resolveControlPassword({}), { warnings: [] });
    // CRLF as a Windows editor writes it; spaces inside and at the end are the password's
    await writeSecret(file, " a b \r\n");
    assertEquals((await resolveControlPassword({ file })).password, " a b ");
  });
});

Deno.test("resolveControlPassword(): a file others can read still works but warns", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/pw`;
    await writeSecret(file, PASSWORD, 0o644);
    const r = await resolveControlPassword({ file });
    assertEquals(r.password, PASSWORD);
    assertEquals(r.warnings.length, 1);
    assert(r.warnings[0]!.includes("chmod 600"), r.warnings[0]);
  });
});

Deno.test("resolveControlPassword(): a missing, empty, multi-line, huge or binary file is refused by name", async () => {
  await withDir(async (dir) => {
    const cases: [string, string | Uint8Array | undefined, string][] = [
      ["missing", undefined, "Cannot read"],
      ["empty", "\n", "is empty"],
      ["two-lines", "one\ntwo\n", "on one line"],
      ["nul", "a\0b", "on one line"],
      ["huge", "x".repeat(MAX_PASSWORD_FILE_BYTES + 1), "larger than"],
      ["binary", new Uint8Array([0xff, 0xfe, 0x41]), "not UTF-8"],
    ];
    for (const [name, content, why] of cases) {
      const file = `${dir}/${name}`;
      if (typeof content === "string") await writeSecret(file, content);
      else if (content) await Deno.writeFile(file, content, { mode: 0o600 });
      const e = await assertRejects(
        () => resolveControlPassword({ file }),
        ControlPasswordError,
        why,
      );
      assert(e.message.includes(file), e.message);
      assertEquals(e.code, "control_password");
    }
    await assertRejects(() => resolveControlPassword({ file: dir }), ControlPasswordError, "not");
  });
});

Deno.test("resolveControlPassword(): a FIFO is refused at once, never waited on", async () => {
  const e = await refusesFifo((file) => resolveControlPassword({ file }));
  assert(e instanceof ControlPasswordError && e.message.includes("not a regular file"), String(e));
});

Deno.test("parseCli(): --control-password-file needs --control-port and excludes --control-password", () => {
  assertEquals(
    parseCli(["--control-port", "1", "--control-password-file", "/f"]).controlPasswordFile,
    "/f",
  );
  for (
    const args of [
      ["--control-password-file", "/f"],
      ["--control-port", "1", "--control-password-file", "/f", "--control-password", "p"],
    ]
  ) {
    let threw = false;
    try {
      parseCli(args);
    } catch {
      threw = true;
    }
    assert(threw, args.join(" "));
  }
});

/** A tor that asks for PASSWORD (HASHEDPASSWORD only) and never touches the network. */
async function passwordTor(dir: string) {
  const hash = new TextDecoder().decode(
    (await new Deno.Command("tor", { args: ["--quiet", "--hash-password", PASSWORD] }).output())
      .stdout,
  ).trim().split("\n").at(-1)!;
  assert(hash.startsWith("16:"), hash);
  return await launchTor({
    dataDir: `${dir}/tor`,
    extraTorrc: ["DisableNetwork 1", `HashedControlPassword ${hash}`],
    waitForBootstrap: false,
    timeoutMs: LAUNCH_MS,
  });
}

Deno.test("a password read from a file authenticates to tor; a wrong one fails the start with auth_failed", async () => {
  await withDir(async (dir) => {
    const tor = await passwordTor(dir);
    try {
      const file = `${dir}/pw`;
      await writeSecret(file, `${PASSWORD}\n`);
      const { password } = await resolveControlPassword({ file });
      const attached = await attachTor({ controlPort: tor.controlPort, password: password! });
      await attached.close();
      await writeSecret(file, "wrong\n");
      const wrong = await resolveControlPassword({ file });
      await assertRejects(
        () => attachTor({ controlPort: tor.controlPort, password: wrong.password! }),
        Error,
      ).then((e) =>
        assert(isTorError(e, "auth_failed") || isTorError(e, "control_reply"), e.message)
      );

      // The executable: a wrong file fails at once (exit 1, auth error); the
      // command-line password authenticates but warns.
      // (DisableNetwork: tor has no SOCKS listener of its own to find)
      const port = String(tor.controlPort);
      const args = ["--config-dir", `${dir}/cfg`, "--control-port", port, "--socks-port", "9"];
      const bad = new PeerProcess("alice", [...args, "--control-password-file", file]);
      const status = await bad.exited;
      assertEquals(status.code, 1, bad.stderr);
      const error = bad.events.find((e) => e.event === "error");
      assert(/auth|password/i.test(error?.message ?? ""), JSON.stringify(bad.events));
      assert(!bad.stderr.includes("wrong"), "the password was printed");

      const flag = new PeerProcess("alice", [...args, "--control-password", PASSWORD]);
      try {
        const warning = await flag.waitEvent((e) => e.event === "warning", "the warning");
        assertEquals(warning.code, "insecure_option");
        assert(warning.message.includes("--control-password-file"), warning.message);
        // authenticated: tor reports its (stalled, DisableNetwork) bootstrap phase
        await flag.waitEvent((e) => e.event === "bootstrap", "bootstrap");
      } finally {
        await flag.kill();
      }
    } finally {
      await tor.stop();
    }
  });
});

/**
 * A fake control port that lets anyone in (NULL authentication) and answers
 * what a start asks until ADD_ONION: it records every command it gets.
 */
function openPort(): { port: number; commands: string[]; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const commands: string[] = [];
  const replies: [RegExp, string][] = [
    [
      /^PROTOCOLINFO/,
      '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.8.1"\r\n250 OK',
    ],
    [/^GETINFO net\/listeners\/socks/, '250-net/listeners/socks="127.0.0.1:9"\r\n250 OK'],
    [
      /^GETINFO status\/bootstrap-phase/,
      '250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"\r\n250 OK',
    ],
    [/^ADD_ONION/, `250-ServiceID=${"a".repeat(56)}\r\n250 OK`],
    [/./, "250 OK"],
  ];
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      void (async () => {
        const buf = new Uint8Array(4096);
        let text = "";
        for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
          text += new TextDecoder().decode(buf.subarray(0, n));
          for (let i; (i = text.indexOf("\r\n")) >= 0;) {
            const line = text.slice(0, i);
            text = text.slice(i + 2);
            commands.push(line);
            const reply = replies.find(([re]) => re.test(line))![1];
            await conn.write(new TextEncoder().encode(`${reply}\r\n`)).catch(() => {});
          }
        }
      })();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    commands,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    },
  };
}

Deno.test("a port that asks for no password although one was given is refused before our onion key goes to it", async () => {
  await withDir(async (dir) => {
    // someone else's listener on the port our tor should have (tor not running yet, or a race)
    const fake = openPort();
    try {
      const e = await assertRejects(() =>
        startPeer({
          name: "alice",
          configRoot: dir,
          tor: { mode: "attach", controlPort: fake.port, password: PASSWORD },
          events: () => {},
          descriptorTimeoutMs: 1_000,
        })
      );
      assert(isTorError(e, "auth_failed"), String(e));
      assert(e.message.includes("no authentication"), e.message);
      assert(!fake.commands.some((c) => c.startsWith("ADD_ONION")), fake.commands.join("\n"));
      assert(!fake.commands.includes("AUTHENTICATE"), fake.commands.join("\n"));
    } finally {
      await fake.close();
    }
  });
});
