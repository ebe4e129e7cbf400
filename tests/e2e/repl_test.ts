/**
 * End to end: the real program (`deno run -A main.ts --name ...`) in a
 * pseudo-terminal (tmux, its own server socket), two peers talking in
 * direct mode (no tor: `--direct <folder>`). Alice has colours, bob runs
 * with NO_COLOR. Checked on the screens: the colour and the word of each
 * level, a message arriving while text is typed, tab completion, history,
 * `/help`, wrong usage of every command, the hidden `/auth` secret,
 * `/quit` and Ctrl-C. Screens are compared with snapshots in
 * `tests/snapshots/` (addresses, keys and times normalised); run with
 * `UPDATE_SNAPSHOTS=1` to rewrite them.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { directPeerCommand, hasTmux, removeSoon, ROOT, Tmux } from "./_tmux.ts";
import { WRONG_USAGE } from "../_repl_usage.ts";

const SNAPSHOTS = join(ROOT, "tests", "snapshots");
/** Screen text with addresses, keys and times replaced by placeholders. */
function normalise(screen: string): string {
  return screen
    .replace(/[a-z2-7]{56}\.onion/g, "<ONION>")
    .replace(/[a-z2-7]{16}…\.onion/g, "<ONION…>")
    .replace(/[A-Za-z0-9+/]{43}=/g, "<KEY>")
    .replace(/\b\d\d:\d\d\b/g, "HH:MM")
    .replace(/[─┌┐└┘├┤┬┴┼]+/g, (m) => m.length > 3 ? "─…" : m)
    .split("\n").map((l) => l.trimEnd()).join("\n").replace(/\n+$/, "\n");
}

async function snapshot(name: string, text: string): Promise<void> {
  const path = join(SNAPSHOTS, `${name}.txt`);
  if (Deno.env.get("UPDATE_SNAPSHOTS")) {
    await Deno.mkdir(SNAPSHOTS, { recursive: true });
    await Deno.writeTextFile(path, text);
    return;
  }
  assertEquals(text, await Deno.readTextFile(path), `snapshot ${name} differs`);
}

Deno.test({
  name:
    "the real REPL in a terminal: colours, typing kept, completion, history, usage, secrets, quit",
  ignore: !hasTmux,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "um-repl-e2e-" });
    const tmux = new Tmux();
    try {
      await Deno.mkdir(join(dir, "registry"));
      const run = (name: string) => directPeerCommand(dir, name);
      // Alice gets colours even when the test itself runs under NO_COLOR (as CI does).
      await tmux.start("alice", `unset NO_COLOR; ${run("alice")}`);
      await tmux.start("bob", run("bob"), { NO_COLOR: "1" });
      const a = await tmux.waitFor("alice", /alice> $/m);
      const b = await tmux.waitFor("bob", /bob> $/m);
      const [aliceId] = /alice@\S+ \S{44}/.exec(a)!;
      const bobKey = /bob@\S+ (\S{44})/.exec(b)![1]!;
      await snapshot("repl_ready", normalise(await tmux.screen("bob")));

      // /help, then wrong usage of every command (bob, without colours).
      await tmux.type("bob", "/help", "Enter");
      const help = await tmux.waitFor("bob", "/quit ");
      await snapshot("repl_help", normalise(help.slice(help.indexOf("bob> /help"))));
      await tmux.run("clear-history", "-t", "bob");
      for (const [name, line] of Object.entries(WRONG_USAGE)) {
        await tmux.type("bob", line, "Enter");
        await tmux.waitFor("bob", new RegExp(`usage: /${name}( |$)`, "m"));
      }
      await tmux.type("bob", "/mgs alice hi", "Enter");
      await tmux.waitFor("bob", "did you mean /msg?");

      // Request, accept; levels: red / word "unverified".
      await tmux.type("bob", `/req-send ${aliceId}`, "Enter");
      await tmux.waitFor("alice", "Request from bob");
      await tmux.type("alice", "/req-a", "Tab");
      await tmux.waitInput("alice", "alice> /req-accept ");
      await tmux.type("alice", "", "Tab");
      await tmux.waitInput("alice", "alice> /req-accept bob ");
      await tmux.type("alice", "", "Enter");
      await tmux.waitFor("bob", "alice [unverified] accepted your request");
      await tmux.waitFor("alice", "\x1b[1m\x1b[31mbob", { colors: true });

      // A message arrives while alice is typing: her text survives.
      await tmux.type("alice", "/msg bob I was in the middle of typ");
      await tmux.waitFor("alice", "alice> /msg bob I was in the middle of typ");
      await tmux.type("bob", "/msg alice hello alice", "Enter");
      await tmux.waitFor("alice", "bob: hello alice");
      await tmux.waitInput("alice", "alice> /msg bob I was in the middle of typ");
      await tmux.type("alice", "ing", "Enter");
      await tmux.waitFor("bob", "alice [unverified]: I was in the middle of typing");

      // History (Up) and completion of a command.
      await tmux.type("alice", "", "Up");
      await tmux.waitInput("alice", "alice> /msg bob I was in the middle of typing");
      await tmux.type("alice", "", "C-u");
      await tmux.type("alice", "/con", "Tab");
      await tmux.waitInput("alice", "alice> /convs ");

      // Verified: green.
      await tmux.type("alice", "", "C-u");
      await tmux.type("alice", `/verify bob ${bobKey}`, "Enter");
      await tmux.waitFor("alice", "\x1b[1m\x1b[32mbob", { colors: true });

      // Authenticated with hidden secrets: cyan, and the word on bob's side.
      await tmux.type("alice", "/auth bob", "Enter");
      await tmux.waitFor("alice", "Secret shared with bob");
      await tmux.type("alice", "hunter2 horse", "Enter");
      await tmux.waitFor("bob", "asks to authenticate"); // keeps the snapshot's order fixed
      await tmux.type("bob", "/auth alice", "Enter");
      await tmux.waitFor("bob", "Secret shared with alice");
      await tmux.type("bob", "hunter2 horse", "Enter");
      await tmux.waitFor("bob", "alice [authenticated] is now authenticated");
      await tmux.waitFor("alice", "\x1b[1m\x1b[36mbob", { colors: true });
      await tmux.type("alice", "/convs", "Enter");
      const convs = await tmux.waitFor("alice", /│ bob\s+│ authenticated/);
      for (const s of [convs, await tmux.screen("bob", { history: true })]) {
        assert(!s.includes("hunter2"), "the secret never appears on screen");
      }
      await snapshot("repl_chat_bob", normalise(await tmux.screen("bob")));

      // Leave: /quit for alice, Ctrl-C for bob; both exit 0 after a clean shutdown.
      await tmux.type("alice", "/quit", "Enter");
      await tmux.type("bob", "", "C-c");
      await tmux.waitFor("alice", /Bye\s+EXIT=0/);
      await tmux.waitFor("bob", /Bye\s+EXIT=0/);
      const history = await Deno.readTextFile(join(dir, "alice", "peers", "alice", "repl_history"));
      assert(!history.includes("hunter2") && !history.includes("typing"), history);
    } finally {
      await tmux.kill();
      await removeSoon(dir);
    }
  },
});
