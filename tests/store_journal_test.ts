/**
 * The state files under crashes and tampering (lib/store/journal.ts): a
 * commit torn by a crash is dropped, a crash in the middle of a compaction
 * is finished at the next open, a state or journal put back from an older
 * copy is refused, and a new identity is never made over existing
 * conversations or over a profile path that exists in another form.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { Journal } from "../lib/store/journal.ts";
import { PeerStore } from "../lib/store/peer_store.ts";
import { StoreError } from "../lib/store/errors.ts";
import { TEST_SCRYPT } from "./_peer_harness.ts";

const POSIX = Deno.build.os !== "windows";
const any = (v: unknown) => v;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "um-journal-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function values(j: Journal): Record<string, unknown> {
  return Object.fromEntries(j.keys().map((k) => [k, JSON.parse(j.get(k)!)]));
}

async function put(j: Journal, key: string, value: unknown): Promise<void> {
  j.stage(key, JSON.stringify(value));
  await j.commit();
}

/** Where the journal's last line ends (its zeros after are space made ahead). */
function lineEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return bytes.subarray(0, end).lastIndexOf(0x0a) + 1;
}

Deno.test("Journal: a commit torn by a crash is dropped and cut off; every acknowledged one stays", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "journal.jsonl");
    const j = Journal.create(dir, new Map());
    await put(j, "c/a", { n: 1 });
    await put(j, "c/b", { n: 2 });
    await put(j, "c/a", { n: 3 });
    const good = await Deno.readFile(path);
    const end = lineEnd(good);
    assert(good.length > end, "space is made ahead of the last line");
    // no close: the process dies; then each kind of torn tail in turn
    const tails = [
      '{"seq":4,"put":{"c/a":{"n"',
      '{"seq":4,"put":{"c/a":{"n":4}},"del":[]',
      "\0\0\0\0",
      '{"seq":4,"put":{"c/a":{"n":4}},"de\n',
      // the second half of a line on disk, its first half not (a page lost)
      '\0\0\0\0\0\0"put":{"c/a":{"n":4}},"del":[]}\n',
    ];
    for (const tail of tails) {
      for (const padded of [true, false]) {
        // written over the zeros made ahead, or appended to a file without them
        const base = padded ? good.slice() : good.slice(0, end);
        const torn = new TextEncoder().encode(tail);
        const bytes = new Uint8Array(Math.max(base.length, end + torn.length));
        bytes.set(base);
        bytes.set(torn, end);
        await Deno.writeFile(path, bytes);
        const again = Journal.open(dir);
        const at = `${JSON.stringify(tail)}${padded ? "" : ", unpadded"}`;
        assertEquals(values(again), { "c/a": { n: 3 }, "c/b": { n: 2 } }, at);
        const after = await Deno.readFile(path);
        assertEquals(after.subarray(0, end), good.subarray(0, end), `good lines kept, ${at}`);
        assert(after.subarray(end).every((b) => b === 0), `torn tail cut off, ${at}`);
        // later commits land on a clean line
        await put(again, "c/c", { n: 5 });
        assertEquals(values(Journal.open(dir))["c/c"], { n: 5 }, at);
      }
    }
    await j.close();
  });
});

Deno.test("Journal: a damaged commit that is not the last is refused, not skipped", async () => {
  await withDir(async (dir) => {
    const j = Journal.create(dir, new Map());
    await put(j, "c/a", { n: 1 });
    await put(j, "c/a", { n: 2 });
    const path = join(dir, "journal.jsonl");
    const lines = (await Deno.readTextFile(path)).split("\n");
    lines[1] = lines[1]!.slice(0, -3);
    await Deno.writeTextFile(path, lines.join("\n"));
    const e = assertThrows(() => Journal.open(dir), StoreError, "line 2");
    assertEquals(e.code, "corrupt");
    await j.close();
  });
});

Deno.test("Journal: a crash between writing the new state and the new journal is finished at open", async () => {
  await withDir(async (dir) => {
    const j = Journal.create(dir, new Map([["requests", "[]"]]));
    await put(j, "c/a", { n: 1 });
    await put(j, "c/a", { n: 2 });
    const oldJournal = await Deno.readFile(join(dir, "journal.jsonl"));
    await j.close(); // compacts: state of the next generation, then a new journal
    await Deno.writeFile(join(dir, "journal.jsonl"), oldJournal); // the second rename never happened
    const again = Journal.open(dir);
    assertEquals(values(again), { "c/a": { n: 2 }, requests: [] });
    const state = JSON.parse((await Deno.readTextFile(join(dir, "state.jsonl"))).split("\n")[0]!);
    const journal = JSON.parse(
      (await Deno.readTextFile(join(dir, "journal.jsonl"))).split("\n")[0]!,
    );
    assertEquals([journal.generation, journal.base], [state.generation, state.seq]);
    await put(again, "c/a", { n: 3 });
    await again.close();
    assertEquals(values(Journal.open(dir))["c/a"], { n: 3 });
  });
});

Deno.test("Journal: saves staged together are one commit, and one fdatasync", async () => {
  await withDir(async (dir) => {
    const j = Journal.create(dir, new Map());
    const before = { ...j.stats };
    const waits = [];
    for (let i = 0; i < 100; i++) {
      j.stage(`c/k${i % 7}`, JSON.stringify({ i }));
      waits.push(j.commit());
    }
    await Promise.all(waits);
    assertEquals(j.stats.commits - before.commits, 1);
    assertEquals(j.stats.syncs - before.syncs, 1);
    assertEquals(values(j)["c/k6"], { i: 97 });
    await j.close();
  });
});

Deno.test("Journal: a commit resolves only once its line is in the file, also while saves keep coming", async () => {
  await withDir(async (dir) => {
    const j = Journal.create(dir, new Map());
    const checks: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const key = `c/k${i % 5}`;
      j.stage(key, JSON.stringify({ i }));
      // commits come back to back (an fdatasync still running) and after pauses
      checks.push(
        j.commit().then(async () => {
          // what the files hold the instant the commit resolves, opened as after a crash
          const files = ["state.jsonl", "journal.jsonl"].map((name) =>
            [name, Deno.readFileSync(join(dir, name))] as const
          );
          const copy = await Deno.makeTempDir({ prefix: "um-journal-copy-" });
          try {
            for (const [name, bytes] of files) await Deno.writeFile(join(copy, name), bytes);
            const reopened = Journal.open(copy);
            const seen = JSON.parse(reopened.get(key)!).i;
            await reopened.close();
            assert(seen >= i, `commit ${i} resolved before it was written (file has ${seen})`);
          } finally {
            await Deno.remove(copy, { recursive: true });
          }
        }),
      );
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, i % 3));
    }
    await Promise.all(checks);
    await j.close();
    const reopened = Journal.open(dir);
    assertEquals(values(reopened)["c/k4"], { i: 299 });
    await reopened.close();
  });
});

/** An encrypted peer store in `dir` holding conversation `aa01` with `n`. */
async function encryptedPeer(dir: string, n: number): Promise<void> {
  const store = await PeerStore.open(dir, { passphrase: "pw", scrypt: TEST_SCRYPT });
  if (await store.loadProfile(any) === undefined) await store.saveProfile({ name: "alice" });
  await store.saveConversation("aa01", { n });
  await store.close();
}

Deno.test("PeerStore (encrypted): a state or journal put back from an older copy is refused (rolled_back)", async () => {
  await withDir(async (dir) => {
    await encryptedPeer(dir, 1);
    const copy = (name: string) => Deno.readFile(join(dir, name));
    const v1 = { state: await copy("state.jsonl"), journal: await copy("journal.jsonl") };
    await encryptedPeer(dir, 2);
    const v2 = { state: await copy("state.jsonl"), journal: await copy("journal.jsonl") };
    await encryptedPeer(dir, 3);
    const open = () => PeerStore.open(dir, { passphrase: "pw" });
    for (
      const [label, name, bytes] of [
        ["an older state", "state.jsonl", v2.state],
        ["a journal two generations old", "journal.jsonl", v1.journal],
      ] as const
    ) {
      const current = await copy(name);
      await Deno.writeFile(join(dir, name), bytes);
      const e = await assertRejects(open, StoreError, "older copy");
      assertEquals(e.code, "rolled_back", label);
      await Deno.writeFile(join(dir, name), current);
    }
    // the journal of the generation just before is what a crash in a compaction leaves: harmless
    await Deno.writeFile(join(dir, "journal.jsonl"), v2.journal);
    const store = await open();
    assertEquals(await store.loadConversation("aa01", any), { n: 3 });
    await store.close();
    // a generation number cannot be edited: it is authenticated
    const path = join(dir, "state.jsonl");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(
      path,
      text.replace(/"generation":(\d+)/, (_, g) => `"generation":${+g + 1}`),
    );
    const e = await assertRejects(open, StoreError);
    assertEquals(e.code, "tampered");
  });
});

Deno.test("PeerStore: a missing journal is refused unless the state is its first generation", async () => {
  await withDir(async (dir) => {
    await encryptedPeer(dir, 1);
    await encryptedPeer(dir, 2);
    await Deno.remove(join(dir, "journal.jsonl"));
    const e = await assertRejects(() => PeerStore.open(dir, { passphrase: "pw" }), StoreError);
    assertEquals(e.code, "rolled_back");
  });
});

Deno.test({
  name: "PeerStore never makes an identity over a dangling profile.json link",
  ignore: !POSIX,
  fn: async () => {
    await withDir(async (dir) => {
      const peer = join(dir, "peer");
      await Deno.mkdir(peer);
      const link = join(peer, "profile.json");
      await Deno.symlink(join(dir, "unmounted", "profile.json"), link);
      const e = await assertRejects(() => PeerStore.open(peer), StoreError, "unmounted");
      assertEquals(e.code, "refused");
      assert((await Deno.lstat(link)).isSymlink, "the link was replaced");
      // a link to a profile that is there is followed
      await Deno.mkdir(join(dir, "unmounted"));
      await Deno.writeTextFile(join(dir, "unmounted", "profile.json"), '{"name":"alice"}');
      const store = await PeerStore.open(peer);
      assertEquals(await store.loadProfile(any), { name: "alice" });
      await store.close();
    });
  },
});

Deno.test("PeerStore never makes an identity where conversations exist without a profile", async () => {
  await withDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveProfile({ name: "alice" });
    await store.saveConversation("aa01", { n: 1 });
    await store.close();
    await Deno.rename(join(dir, "profile.json"), join(dir, "profile.json.away"));
    const e = await assertRejects(() => PeerStore.open(dir), StoreError, "profile.json is missing");
    assertEquals(e.code, "refused");
    // the same for a folder of the first layout
    const old = join(dir, "old");
    await Deno.mkdir(join(old, "conversations"), { recursive: true });
    await Deno.writeTextFile(join(old, "conversations", "aa01.json"), "{}");
    const e2 = await assertRejects(
      () => PeerStore.open(old),
      StoreError,
      "profile.json is missing",
    );
    assertEquals(e2.code, "refused");
    // but empty state files (a crash before the first profile was saved) are no conversations
    const fresh = join(dir, "fresh");
    const first = await PeerStore.open(fresh);
    await first.close();
    await Deno.remove(join(fresh, "profile.json")).catch(() => {});
    const again = await PeerStore.open(fresh);
    await again.close();
  });
});

Deno.test({
  name: "PeerStore reports files of the peer folder that are not regular files",
  ignore: !POSIX,
  fn: async () => {
    await withDir(async (dir) => {
      await Deno.writeTextFile(join(dir, "profile.json"), '{"name":"alice"}');
      const made = await new Deno.Command("mkfifo", { args: [join(dir, "requests.json")] })
        .output();
      assert(made.success, "mkfifo failed");
      const store = await PeerStore.open(dir);
      assertEquals(store.notices.map((n) => n.path), [join(dir, "requests.json")]);
      assert(store.notices[0]!.message.includes("not a regular file"));
      await store.close();
    });
  },
});
