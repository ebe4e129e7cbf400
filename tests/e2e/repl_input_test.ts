/**
 * End to end: the real program in a pseudo-terminal (tmux, its own server
 * socket), two peers in direct mode, checked on the screens as a person
 * sees them. Real pastes (`paste-buffer -p`, bracketed as terminals paste):
 * 100 KB arrives whole as one message, several lines arrive as one
 * message. Editing: Backspace removes a whole emoji with its skin tone, the
 * cursor stands in the right column after CJK characters. Quiet: Enter on
 * an empty line shows no `(hidden)`, garbage sent to a peer's port prints
 * no transport warning beside the prompt (`/warnings` counts it). Notices:
 * messages to a contact who left say they are queued, and their delivery
 * once the contact is back is one line naming the first and the last.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { directPeerCommand, hasTmux, removeSoon, Tmux } from "./_tmux.ts";

/** Numbered words: a cut, a drop or a reordering shows. */
function longText(chars: number): string {
  let text = "";
  for (let i = 0; text.length < chars; i++) text += `w${i} `;
  return text.slice(0, chars).trimEnd() + ".";
}

/** The text of the (joined) screen line that starts with `prefix`, after it. */
function lineAfter(screen: string, prefix: RegExp): string | undefined {
  for (const line of screen.split("\n")) {
    const m = prefix.exec(line);
    if (m && m.index === 0) return line.slice(m[0].length).trimEnd();
  }
  return undefined;
}

Deno.test({
  name: "the real REPL: long and multi-line pastes, emoji and CJK editing, quiet warnings",
  ignore: !hasTmux,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "um-repl-input-" });
    const tmux = new Tmux();
    try {
      await Deno.mkdir(join(dir, "registry"));
      await tmux.start("alice", directPeerCommand(dir, "alice"), { NO_COLOR: "1" });
      await tmux.start("bob", directPeerCommand(dir, "bob"), { NO_COLOR: "1" });
      const a = await tmux.waitFor("alice", /alice> $/m);
      await tmux.waitFor("bob", /bob> $/m);
      const [aliceId] = /alice@\S+ \S{44}/.exec(a)!;
      await tmux.type("bob", `/req-send ${aliceId}`, "Enter");
      await tmux.waitFor("alice", "Request from bob");
      await tmux.type("alice", "/req-accept bob", "Enter");
      await tmux.waitFor("bob", "alice [unverified] accepted your request");
      await tmux.waitFor("alice", "Conversation with bob [unverified] established");

      // Enter on an empty line: the bare prompt stays as the record, nothing hidden.
      await tmux.type("alice", "", "Enter");
      await tmux.type("alice", "/peer", "Enter");
      await tmux.waitFor("alice", /alice> \/peer\nalice@/);
      assert(!(await tmux.screen("alice", { history: true })).includes("(hidden)"));

      // A 100 KB paste: one message, whole, on bob's screen.
      const text = longText(102_403);
      await tmux.type("alice", "/msg bob ");
      await tmux.paste("alice", text);
      await tmux.type("alice", "", "Enter");
      await tmux.waitFor("alice", "delivered to bob [unverified]", { timeoutMs: 60_000 });
      const got = lineAfter(await tmux.screen("bob", { history: true }), /\d\d:\d\d alice.*?: /);
      assertEquals(got?.length, text.length, "the whole text arrived");
      assertEquals(got, text);
      await tmux.run("clear-history", "-t", "bob");
      await tmux.run("clear-history", "-t", "alice");

      // Several lines pasted: one message, not one command per line.
      await tmux.type("alice", "/msg bob ");
      await tmux.paste("alice", "first line\nsecond line\nthird line\n");
      await tmux.waitInput("alice", "alice> /msg bob first line↵second line↵third line");
      await tmux.type("alice", "", "Enter");
      const b = await tmux.waitFor(
        "bob",
        /alice \[unverified\]: first line\n\s+second line\n\s+third line/,
      );
      assertEquals(b.split("first line").length - 1, 1, "shown once");
      assert(!(await tmux.screen("alice")).includes("Commands start with /"), "a line ran alone");

      // Backspace on 👍🏽 removes the emoji and its skin tone together.
      await tmux.type("alice", "/msg bob ok 👍🏽", "BSpace");
      await tmux.type("alice", "done", "Enter");
      await tmux.waitFor("bob", "alice [unverified]: ok done");

      // CJK: two columns each, the cursor where the text goes.
      await tmux.type("alice", "/msg bob 你好世界", "Left", "Left");
      await tmux.waitCursor("alice", "alice> /msg bob ".length + 4);
      await tmux.type("alice", "X");
      await tmux.waitInput("alice", "alice> /msg bob 你好X世界");
      await tmux.waitCursor("alice", "alice> /msg bob ".length + 5);
      await tmux.type("alice", "", "Enter");
      await tmux.waitFor("bob", "alice [unverified]: 你好X世界");

      // Garbage on bob's port: no transport line beside his prompt, one count in /warnings.
      const ports = [...Deno.readDirSync(join(dir, "registry"))].map((e) =>
        Number(Deno.readTextFileSync(join(dir, "registry", e.name)))
      );
      assertEquals(ports.length, 2);
      for (const port of ports) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(new Uint8Array(600).fill(0x41));
        conn.close();
      }
      await tmux.type("bob", "/warnings", "Enter");
      const warned = await tmux.waitFor("bob", /^\s+\d+ {2}\S+( \([^)]*\))? {2}last \d\d:\d\d: /m);
      assert(!/^(bob> )?(\[net\]|warning:)/m.test(warned), warned);

      // bob leaves; alice's messages wait and say so; when bob is back, one line says
      // which were delivered.
      await tmux.type("bob", "/quit", "Enter");
      await tmux.waitFor("bob", /Bye\s+EXIT=0/);
      await tmux.run("clear-history", "-t", "alice");
      await tmux.type("alice", "/convs", "Enter");
      await tmux.waitFor("alice", /│ bob \[unverified\] │ unverified │ no /);
      for (let i = 1; i <= 5; i++) {
        await tmux.type("alice", `/msg bob queued ${i}`, "Enter");
        await tmux.waitFor("alice", new RegExp(`queued ${i}\n-- queued for bob \\(offline\\)`));
      }
      await tmux.start("bob2", directPeerCommand(dir, "bob"), { NO_COLOR: "1" });
      await tmux.waitFor("bob2", "alice [unverified]: queued 5", { timeoutMs: 90_000 });
      const flushed = await tmux.waitFor(
        "alice",
        /delivered 5 messages to bob \[unverified\]: “queued 1” … “queued 5”/,
        { timeoutMs: 30_000 },
      );
      const afterQueued = flushed.slice(flushed.lastIndexOf("queued for bob"));
      assertEquals(afterQueued.split("delivered").length - 1, 1, afterQueued);

      await tmux.type("alice", "/quit", "Enter");
      await tmux.type("bob2", "/quit", "Enter");
      await tmux.waitFor("alice", /Bye\s+EXIT=0/);
      await tmux.waitFor("bob2", /Bye\s+EXIT=0/);
    } finally {
      await tmux.kill();
      await removeSoon(dir);
    }
  },
});
