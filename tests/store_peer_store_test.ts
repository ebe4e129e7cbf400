import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { PeerStore, type StoredParts } from "../lib/store/peer_store.ts";
import { StoreError } from "../lib/store/errors.ts";
import { MIN_SCRYPT_N } from "../lib/store/vault.ts";

const POSIX = Deno.build.os !== "windows";
const FAST = { N: MIN_SCRYPT_N, r: 8, p: 1 };
const any = (v: unknown) => v;

interface Conv {
  contact: string;
  n: number;
  parts?: Record<string, unknown>;
}
const asConv = (v: unknown, parts?: StoredParts): Conv => {
  const c = v as Partial<Conv>;
  if (typeof c?.contact !== "string" || typeof c.n !== "number") {
    throw new TypeError("contact and n are required");
  }
  if (parts === undefined || parts.names.length === 0) return c as Conv;
  const read = parts.names.map((name) => [name, JSON.parse(parts.text(name)!)]);
  return { ...c, parts: Object.fromEntries(read) } as Conv;
};

async function withPeerDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "um-store-peer-" });
  try {
    await fn(join(root, "peers", "alice"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("PeerStore creates the peer folder and saves and loads every kind of value", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    assertEquals(store.encrypted, false);
    assertEquals(await store.loadProfile(any), undefined);
    assertEquals(await store.loadRequests(any), undefined);
    await store.saveProfile({ name: "alice", key: "k" });
    await store.saveRequests({ inbound: [], outbound: ["bob"] });
    assertEquals(await store.loadProfile(any), { name: "alice", key: "k" });
    assertEquals(await store.loadRequests(any), { inbound: [], outbound: ["bob"] });
    if (POSIX) {
      for (const d of [store.paths.dir, store.paths.tor]) {
        assertEquals((await Deno.stat(d)).mode! & 0o777, 0o700, d);
      }
      for (const f of [store.paths.profile, store.paths.state, store.paths.journal]) {
        assertEquals((await Deno.stat(f)).mode! & 0o777, 0o600, f);
      }
    }
    await store.close();
    // closed: the lock is free again and the data is still there
    const again = await PeerStore.open(dir);
    assertEquals(await again.loadProfile(any), { name: "alice", key: "k" });
    assertEquals(await again.loadRequests(any), { inbound: [], outbound: ["bob"] });
    await again.close();
  });
});

Deno.test("PeerStore.open() holds the peer lock: a second open fails with locked", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    const e = await assertRejects(() => PeerStore.open(dir), StoreError);
    assertEquals(e.code, "locked");
    await store.close();
    await store.close(); // idempotent
    await assertRejects(() => store.loadProfile(any), StoreError, "closed");
  });
});

Deno.test("PeerStore lists, loads, saves and deletes conversations with their parts", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveProfile({});
    await store.saveConversation("bb02", { contact: "bob", n: 2 }, {
      put: [["o/1", { text: "hi" }], ["o/2", { text: "there" }]],
    });
    await store.saveConversation("aa01", { contact: "carol", n: 1 });
    // a conversation whose id is a prefix of another keeps its own parts
    await store.saveConversation("bb", { contact: "dave", n: 3 }, { put: [["s/0", ["x"]]] });
    assertEquals(await store.listConversations(), ["aa01", "bb", "bb02"]);
    assertEquals(await store.loadConversation("bb02", asConv), {
      contact: "bob",
      n: 2,
      parts: { "o/1": { text: "hi" }, "o/2": { text: "there" } },
    });
    await store.saveConversation("bb02", { contact: "bob", n: 4 }, { delete: ["o/1"] });
    assertEquals((await store.loadConversation("bb02", asConv))?.parts, {
      "o/2": { text: "there" },
    });
    await store.saveConversation("bb02", { contact: "bob", n: 5 }, {
      put: [["o/3", 3]],
      replace: true,
    });
    assertEquals((await store.loadConversation("bb02", asConv))?.parts, { "o/3": 3 });
    assertEquals(await store.loadConversation("cc03", asConv), undefined);
    assertEquals(await store.deleteConversation("bb02"), true);
    assertEquals(await store.deleteConversation("bb02"), false);
    assertEquals(await store.listConversations(), ["aa01", "bb"]);
    assertEquals((await store.loadConversation("bb", asConv))?.parts, { "s/0": ["x"] });
    for (const bad of ["../profile", "AA01", "a.b", ""]) {
      const e = await assertRejects(() => store.saveConversation(bad, {}), StoreError);
      assertEquals(e.code, "bad_name");
    }
    const e = await assertRejects(
      () => store.saveConversation("aa01", {}, { put: [["../x", 1]] }),
      StoreError,
    );
    assertEquals(e.code, "bad_name");
    await store.close();
    // compacted at close: one line per key, readable
    const lines = (await Deno.readTextFile(store.paths.state)).trim().split("\n");
    assertEquals(lines.slice(1).map((l) => JSON.parse(l).key), ["c/aa01", "c/bb", "c/bb/s/0"]);
    const again = await PeerStore.open(dir);
    assertEquals(await again.loadConversation("aa01", asConv), { contact: "carol", n: 1 });
    await again.close();
  });
});

Deno.test("PeerStore reports a damaged conversation, loads the others and refuses to overwrite it", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveProfile({});
    await store.saveConversation("aa01", { contact: "bob", n: 1 });
    await store.saveConversation("bb02", { contact: "carol", n: 2 });
    await store.saveConversation("cc03", { contact: "dave", n: 3 });
    await store.close();
    // hand edits after compaction: one value broken, one missing a field
    const text = await Deno.readTextFile(join(dir, "state.jsonl"));
    const edited = text.replace('{"contact":"carol","n":2}', '{"contact":"carol","n":2')
      .replace('{"contact":"dave","n":3}', '{"contact":"dave"}');
    await Deno.writeTextFile(join(dir, "state.jsonl"), edited);
    const again = await PeerStore.open(dir);
    const { loaded, failed } = await again.loadConversations(asConv);
    assertEquals([...loaded.keys()], ["aa01"]);
    assertEquals(failed.map((e) => e.code).sort(), ["corrupt", "invalid"]);
    assert(failed.every((e) => e.path === join(dir, "state.jsonl")));
    assert(failed.some((e) => e.message.includes("c/bb02")));
    assert(failed.some((e) => e.message.includes("contact and n are required")));
    for (const id of ["bb02", "cc03"]) {
      const e = await assertRejects(() => again.saveConversation(id, { contact: "x", n: 9 }));
      assertEquals((e as StoreError).code, "refused");
    }
    await again.close();
    // the damaged values are kept as they were, also through a compaction
    assertEquals(await Deno.readTextFile(join(dir, "state.jsonl")), edited);
    const third = await PeerStore.open(dir);
    await third.saveConversation("aa01", { contact: "bob", n: 7 });
    await third.close();
    const compacted = await Deno.readTextFile(join(dir, "state.jsonl"));
    for (
      const line of edited.split("\n").filter((l) => l.includes("carol") || l.includes("dave"))
    ) {
      assert(compacted.includes(line), `lost ${line}`);
    }
  });
});

Deno.test("PeerStore with a passphrase encrypts every file and needs the passphrase to reopen", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir, { passphrase: "s3cret", scrypt: FAST });
    assertEquals(store.encrypted, true);
    await store.saveProfile({ identityKey: "PLAINTEXT-MARKER-1" });
    await store.saveConversation("aa01", { contact: "PLAINTEXT-MARKER-2", n: 1 }, {
      put: [["o/1", "PLAINTEXT-MARKER-3"]],
    });
    await store.saveRequests({ q: "PLAINTEXT-MARKER-4" });
    // the journal is encrypted too (before any compaction)
    const journal = await Deno.readTextFile(join(dir, "journal.jsonl"));
    assert(!journal.includes("PLAINTEXT-MARKER"), "journal.jsonl is not encrypted");
    await store.close();
    for (const f of ["profile.json", "state.jsonl", "journal.jsonl"]) {
      const text = await Deno.readTextFile(join(dir, f));
      assert(!text.includes("PLAINTEXT-MARKER"), `${f} is not encrypted`);
    }
    const e1 = await assertRejects(() => PeerStore.open(dir), StoreError, "profile.json");
    assertEquals(e1.code, "passphrase_required");
    const e2 = await assertRejects(() => PeerStore.open(dir, { passphrase: "wrong" }), StoreError);
    assertEquals(e2.code, "bad_passphrase");
    const again = await PeerStore.open(dir, { passphrase: "s3cret" });
    assertEquals(await again.loadProfile(any), { identityKey: "PLAINTEXT-MARKER-1" });
    assertEquals(await again.loadConversation("aa01", asConv), {
      contact: "PLAINTEXT-MARKER-2",
      n: 1,
      parts: { "o/1": "PLAINTEXT-MARKER-3" },
    });
    assertEquals(await again.loadRequests(any), { q: "PLAINTEXT-MARKER-4" });
    await again.close();
  });
});

Deno.test("PeerStore refuses a passphrase for a plain-text peer (not_encrypted)", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveProfile({ a: 1 });
    await store.close();
    const e = await assertRejects(
      () => PeerStore.open(dir, { passphrase: "x", scrypt: FAST }),
      StoreError,
    );
    assertEquals(e.code, "not_encrypted");
  });
});

Deno.test("PeerStore (encrypted) refuses planted plain lines and lines swapped between keys", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir, { passphrase: "pw", scrypt: FAST });
    await store.saveProfile({ p: 1 });
    await store.saveConversation("aa01", { contact: "bob", n: 1 });
    await store.saveConversation("bb02", { contact: "carol", n: 2 });
    await store.close();
    const path = join(dir, "state.jsonl");
    const good = await Deno.readTextFile(path);
    const lines = good.trim().split("\n");
    const swapped = [lines[0], { ...JSON.parse(lines[2]!), key: "c/aa01" }, lines[2]]
      .map((l) => typeof l === "string" ? l : JSON.stringify(l));
    const planted = [lines[0], '{"key":"c/aa01","value":{"contact":"eve","n":0}}', lines[2]];
    // a planted plain line is refused as the store opens
    await Deno.writeTextFile(path, planted.join("\n") + "\n");
    const e1 = await assertRejects(() => PeerStore.open(dir, { passphrase: "pw" }), StoreError);
    assertEquals([e1.code, e1.path], ["invalid", path]);
    // a line moved to another key fails authentication when read; the others load
    await Deno.writeTextFile(path, swapped.join("\n") + "\n");
    const opened = await PeerStore.open(dir, { passphrase: "pw" });
    const { loaded, failed } = await opened.loadConversations(asConv);
    assertEquals([...loaded.keys()], ["bb02"]);
    assertEquals(failed.map((e) => [e.code, e.path]), [["tampered", path]]);
    await opened.close();
    await Deno.writeTextFile(path, good);
    const again = await PeerStore.open(dir, { passphrase: "pw" });
    assertEquals(await again.loadConversation("aa01", asConv), { contact: "bob", n: 1 });
    await again.close();
  });
});

Deno.test("PeerStore merges saves of one conversation: the last save wins, in one commit", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveProfile({});
    const big = "x".repeat(50_000);
    const before = { ...store.stats };
    const saves = [];
    for (let n = 0; n < 50; n++) saves.push(store.saveConversation("aa01", { contact: big, n }));
    for (let n = 0; n < 10; n++) saves.push(store.saveConversation(`b${n}`, { contact: "c", n }));
    await Promise.all(saves);
    assertEquals(store.stats.commits - before.commits, 1);
    assertEquals(store.stats.staged - before.staged, 60);
    assertEquals((await store.loadConversation("aa01", asConv))?.n, 49);
    const journal = await Deno.readTextFile(store.paths.journal);
    assertEquals(journal.split(big).length - 1, 1, "the merged commit holds the value once");
    // close() writes what is still staged
    const last = store.saveConversation("aa01", { contact: "c", n: 50 });
    await store.close();
    await last;
    const again = await PeerStore.open(dir);
    assertEquals((await again.loadConversation("aa01", asConv))?.n, 50);
    await again.close();
  });
});

Deno.test("PeerStore.saveConversationLater() encodes once per commit, as the conversation is then", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveProfile({});
    await store.saveConversation("bb02", { contact: "d", n: 0 });
    const conv = { contact: "c", n: 0 };
    let calls = 0;
    const changes = () => {
      calls++;
      return { head: { ...conv }, parts: { put: [["o/1", { n: conv.n }]] as [string, unknown][] } };
    };
    const before = { ...store.stats };
    const saves = [];
    for (let n = 1; n <= 20; n++) {
      conv.n = n; // changed after each save is asked for: the commit writes the last
      saves.push(store.saveConversationLater("aa01", changes));
    }
    // one that fails to encode fails its own saves, not the others of the commit
    const broken = store.saveConversationLater("cc03", () => {
      throw new TypeError("cannot encode");
    });
    const gone = store.saveConversationLater(
      "bb02",
      () => ({ head: { contact: "x", n: 9 }, parts: {} }),
    );
    const deleted = store.deleteConversation("bb02");
    // nothing to write any more: the save resolves, nothing is staged for it
    const nothing = store.saveConversationLater("dd04", () => null);
    await Promise.all(saves);
    await assertRejects(() => broken, TypeError, "cannot encode");
    await gone;
    assertEquals(await deleted, true);
    await nothing;
    assertEquals(calls, 1);
    assertEquals(store.stats.commits - before.commits, 1);
    assertEquals(await store.loadConversation("aa01", asConv), {
      contact: "c",
      n: 20,
      parts: { "o/1": { n: 20 } },
    });
    assertEquals(await store.listConversations(), ["aa01"]);
    await store.close();
  });
});

Deno.test("PeerStore.open() removes temporary files left by interrupted writes", async () => {
  await withPeerDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, ".profile.json.tmp-999-abcdef"), "{");
    await Deno.writeTextFile(join(dir, ".state.jsonl.tmp-999-012345"), "{");
    const store = await PeerStore.open(dir);
    assert(!(await names(dir)).some((n) => n.includes(".tmp-")));
    await store.close();
  });
});
