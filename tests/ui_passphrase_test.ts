/**
 * Passphrases in the interactive interface, through the in-memory terminal
 * and a real peer in direct mode (fast scrypt, N = 2^10): `--encrypt`'s new
 * passphrase typed twice and never shown, files on disk without plain-text
 * keys, the start-up question, three tries, and the prompt-side helpers.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { MemoryTerminal } from "./_memory_terminal.ts";
import { startPeer, storedPeer } from "../lib/runtime.ts";
import { PeerStore } from "../lib/store/peer_store.ts";
import { peerPaths } from "../lib/store/paths.ts";
import { isVaultEnvelope } from "../lib/store/vault.ts";
import { runInteractive } from "../lib/ui/interactive.ts";
import { type Ask, askNewPassphrase, NEW_PASSPHRASE_TRIES } from "../lib/ui/prompts.ts";

/** The smallest scrypt cost the vault accepts: tests only. */
const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const SECRET = "correct horse 42";

function interactive(
  root: string,
  term: MemoryTerminal,
  extra: { newPassphrase?: boolean; passphrase?: string } = {},
): Promise<number> {
  return runInteractive({
    name: "alice",
    configRoot: root,
    terminal: term,
    onTermination: () => () => {},
    onStartInterrupt: () => () => {},
    ...extra,
    start: (events, passphrase) =>
      startPeer({
        name: "alice",
        configRoot: root,
        tor: { mode: "direct", registryDir: `${root}/registry` },
        events,
        scrypt: FAST_SCRYPT,
        ...(passphrase !== undefined ? { passphrase } : {}),
      }),
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await filesUnder(path));
    else out.push(path);
  }
  return out;
}

Deno.test("--encrypt asks twice hidden, stores no plain key, and asks again at each start", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/registry`);
    // Creation: a mismatch, an empty one, then the same passphrase twice.
    const term = new MemoryTerminal();
    const exit = interactive(root, term, { newPassphrase: true });
    await term.waitFor("New passphrase for alice (hidden): ");
    term.type("first try\r");
    await term.waitFor("Type it again: ");
    term.type("first trx\r");
    await term.waitFor("The two passphrases differ");
    await term.waitFor("New passphrase for alice (hidden): ");
    term.type("\r");
    await term.waitFor("The passphrase cannot be empty");
    await term.waitFor("New passphrase for alice (hidden): ");
    term.type(`${SECRET}\r`);
    await term.waitFor("Type it again: ");
    term.type(`${SECRET}\r`);
    await term.waitFor("alice> ");
    term.type("/quit\r");
    assertEquals(await exit, 0);
    for (const typed of [SECRET, "first try", "first trx"]) {
      assert(!term.output.includes(typed), `typed text shown: ${typed}`);
    }
    assert(term.output.includes("Type it again: (hidden)"), term.output);

    // On disk: an envelope, and the keys it holds appear in no file.
    assertEquals(await storedPeer(root, "alice"), "encrypted");
    const dir = peerPaths(root, "alice").dir;
    const store = await PeerStore.open(dir, { passphrase: SECRET });
    const profile = await store.loadProfile((v) => v as Record<string, string>);
    await store.close();
    const secrets = [profile!.identitySecretKey!, profile!.onionSeed!];
    assert(secrets.every((s) => s.length >= 43), JSON.stringify(Object.keys(profile!)));
    const profileJson = JSON.parse(await Deno.readTextFile(peerPaths(root, "alice").profile));
    assert(isVaultEnvelope(profileJson), "profile.json is a vault envelope");
    for (const path of await filesUnder(dir)) {
      const text = await Deno.readTextFile(path);
      for (const s of [...secrets, "identitySecretKey", "onionSeed", SECRET]) {
        assert(!text.includes(s), `${path} holds plain key material`);
      }
    }

    // Restart: a wrong passphrase, then the right one (the failed try freed the lock).
    const again = new MemoryTerminal();
    const exit2 = interactive(root, again);
    await again.waitFor("Passphrase for alice: ");
    again.type("wrong\r");
    await again.waitFor("Wrong passphrase, try again");
    await again.waitFor("Passphrase for alice: ");
    again.type(`${SECRET}\r`);
    await again.waitFor("alice> ");
    again.type("/quit\r");
    assertEquals(await exit2, 0);
    assert(!again.output.includes(SECRET) && !again.output.includes("wrong"), again.output);

    // Three wrong ones: exit 1 with a message, the peer still closed and unlocked.
    const third = new MemoryTerminal();
    const exit3 = interactive(root, third);
    for (let i = 0; i < 3; i++) {
      await third.waitFor("Passphrase for alice: ");
      third.type(`nope ${i}\r`);
    }
    await third.waitFor("Cannot start alice: wrong passphrase 3 times");
    assertEquals(await exit3, 1);
    const reopened = await PeerStore.open(dir, { passphrase: SECRET });
    await reopened.close();

    // Ctrl-C at the question gives up; piped input cannot be asked.
    const cancelled = new MemoryTerminal();
    const exit4 = interactive(root, cancelled);
    await cancelled.waitFor("Passphrase for alice: ");
    cancelled.type("abc\x03");
    await cancelled.waitFor("Passphrase for alice: (cancelled)");
    assertEquals(await exit4, 1);
    const piped = new MemoryTerminal({ isTTY: false });
    assertEquals(await interactive(root, piped), 1);
    assert(piped.output.includes("set $UNMESSAGE_PASSPHRASE"), piped.output);
    // A passphrase given beforehand is used without asking.
    const given = new MemoryTerminal();
    const exit5 = interactive(root, given, { passphrase: SECRET });
    await given.waitFor("alice> ");
    given.type("/quit\r");
    assertEquals(await exit5, 0);
    assert(!given.output.includes("Passphrase for"), given.output);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("askNewPassphrase() gives up after its tries and returns undefined when cancelled", async () => {
  const scripted = (answers: (string | undefined)[]): { ask: Ask; asked: string[] } => {
    const asked: string[] = [];
    return {
      asked,
      ask: (q, { hidden }) => {
        assert(hidden, "a passphrase is always hidden");
        asked.push(q);
        return Promise.resolve(answers.shift());
      },
    };
  };
  const said: string[] = [];
  const say = (t: string) => {
    said.push(t);
    return Promise.resolve();
  };
  const mismatches = scripted(["a", "b", "c", "d", "e", "f", "g", "g"]);
  assertEquals(await askNewPassphrase(mismatches.ask, "bob", say), undefined);
  assertEquals(mismatches.asked.length, 2 * NEW_PASSPHRASE_TRIES);
  assertEquals(said.length, NEW_PASSPHRASE_TRIES);
  const cancel = scripted(["x", undefined]);
  assertEquals(await askNewPassphrase(cancel.ask, "bob", say), undefined);
  const ok = scripted(["", "p", "p"]);
  assertEquals(await askNewPassphrase(ok.ask, "bob", say), "p");
});
