/**
 * Migration of peer folders of the first layout (one file per conversation,
 * `requests.json`) to the journal (lib/store/migrate.ts). The fixtures in
 * `tests/fixtures/layout1-*` were written by the code of that layout (commit
 * 9393206, through its tests/_peer_harness.ts; the encrypted ones with the
 * passphrase below and scrypt N = 2^10): alice and bob talked, carol's
 * request waits at alice, and alice queued a message while bob was away. After the migration the conversation goes on
 * where it stopped, both ways, the queued message arrives, and nothing of
 * the old layout is left.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "./_assert.ts";
import { is, TestNet } from "./_peer_harness.ts";
import { PeerStore } from "../lib/store/peer_store.ts";
import { StoreError } from "../lib/store/errors.ts";
import { exists } from "../lib/store/atomic.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const PASSPHRASE = "fixture passphrase";
const CONVERSATION = "a7e5666dbc800590c046eab0e4c94fff";

for (const kind of ["plain", "encrypted"] as const) {
  Deno.test(`Migration: a ${kind} peer folder of the first layout goes on where it stopped`, async () => {
    const net = new TestNet(`migrate-${kind}`);
    const passphrase = kind === "encrypted" ? { passphrase: PASSPHRASE } : {};
    try {
      const bob = await net.peer("bob", {
        from: join(FIXTURES, `layout1-${kind}`, "bob"),
        ...passphrase,
      });
      const b = bob.mark();
      const alice = await net.peer("alice", {
        from: join(FIXTURES, `layout1-${kind}`, "alice"),
        ...passphrase,
      });
      // what alice had: the conversation, carol's request, the queued message
      assertEquals(alice.peer.conversations().map((c) => c.name), ["bob"]);
      assertEquals(alice.peer.inboundRequests().map((r) => r.name), ["carol"]);
      const queued = await bob.waitFor(is("message", { name: "alice" }), b);
      assertEquals(queued.text, "queued while bob was away");
      await alice.until(() => alice.peer.conversations()[0]?.pending === 0);
      // and the ratchets go on both ways
      const a = alice.mark();
      const m1 = await alice.peer.sendMessage("bob", "after the migration");
      await alice.waitFor(is("delivered", { id: m1.id }), a);
      const m2 = await bob.peer.sendMessage("alice", "reply after the migration");
      await bob.waitFor(is("delivered", { id: m2.id }), b);
      assertEquals(
        bob.all("message", b).map((e) => e.text),
        ["queued while bob was away", "after the migration"],
      );
      assertEquals(alice.all("message", a).map((e) => e.text), ["reply after the migration"]);
      assertEquals(alice.all("error", 0), []);
      for (const p of [alice, bob]) {
        await p.close();
        assert(!(await exists(join(p.dir, "conversations"))), "conversations/ left");
        assert(!(await exists(join(p.dir, "requests.json"))), "requests.json left");
        for (const f of ["state.jsonl", "journal.jsonl"]) {
          const text = await Deno.readTextFile(join(p.dir, f));
          assertEquals(text.includes("after the migration"), false, `${f} holds plain text`);
          if (kind === "encrypted") assert(!text.includes('"session"'), `${f} is not encrypted`);
        }
      }
      // once more, from the new layout only
      await bob.open();
      await alice.open();
      const c = bob.mark();
      await alice.peer.sendMessage("bob", "third start");
      assertEquals((await bob.waitFor(is("message"), c)).text, "third start");
    } finally {
      await net.close();
    }
  });
}

async function copyFixture(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "um-migrate-" });
  const from = join(FIXTURES, "layout1-plain", name);
  await Deno.mkdir(join(dir, "conversations"));
  for (const f of ["profile.json", "requests.json"]) {
    await Deno.copyFile(join(from, f), join(dir, f));
  }
  for await (const e of Deno.readDir(join(from, "conversations"))) {
    await Deno.copyFile(join(from, "conversations", e.name), join(dir, "conversations", e.name));
  }
  return dir;
}

Deno.test("Migration: old files left by a crash after the migration are removed; others are reported, never imported", async () => {
  const dir = await copyFixture("alice");
  const old = await Deno.readFile(join(dir, "conversations", `${CONVERSATION}.json`));
  try {
    const first = await PeerStore.open(dir);
    assertEquals(await first.listConversations(), [CONVERSATION]);
    assertEquals(first.notices, []);
    await first.close();
    // a crash before the old files were removed leaves them; a stranger's file comes too
    await Deno.mkdir(join(dir, "conversations"));
    await Deno.writeFile(join(dir, "conversations", `${CONVERSATION}.json`), old);
    await Deno.writeFile(join(dir, "conversations", "ffff0000.json"), old);
    const second = await PeerStore.open(dir);
    assertEquals(await second.listConversations(), [CONVERSATION]);
    assertEquals(second.notices.map((n) => n.path), [join(dir, "conversations", "ffff0000.json")]);
    assert(second.notices[0]!.message.includes("not migrated"));
    await second.close();
    assert(!(await exists(join(dir, "conversations", `${CONVERSATION}.json`))));
    assert(await exists(join(dir, "conversations", "ffff0000.json")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "Migration: a damaged or non-regular old file is reported and left; the others migrate",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await copyFixture("alice");
    try {
      await Deno.writeTextFile(join(dir, "conversations", "bbbb.json"), '{"version": 1,');
      const fifo = join(dir, "conversations", "cccc.json");
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert(made.success, "mkfifo failed");
      const store = await PeerStore.open(dir);
      assertEquals(await store.listConversations(), [CONVERSATION]);
      const notices = new Map(store.notices.map((n) => [n.path, n]));
      assertEquals(notices.get(join(dir, "conversations", "bbbb.json"))?.code, "corrupt");
      assert(notices.get(fifo)?.message.includes("not a regular file"), "the FIFO is not reported");
      assert(store.notices.every((n) => n instanceof StoreError));
      await store.close();
      assert(await exists(join(dir, "conversations", "bbbb.json")));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
