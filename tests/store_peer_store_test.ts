import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { PeerStore } from "../lib/store/peer_store.ts";
import { StoreError } from "../lib/store/errors.ts";
import { MIN_SCRYPT_N, Vault } from "../lib/store/vault.ts";
import { encodeJson } from "../lib/store/atomic.ts";

const POSIX = Deno.build.os !== "windows";
const FAST = { N: MIN_SCRYPT_N, r: 8, p: 1 };
const any = (v: unknown) => v;

interface Conv {
  contact: string;
  n: number;
}
const asConv = (v: unknown): Conv => {
  const c = v as Partial<Conv>;
  if (typeof c?.contact !== "string" || typeof c.n !== "number") {
    throw new TypeError("contact and n are required");
  }
  return c as Conv;
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

Deno.test("PeerStore creates the peer folder and saves and loads every kind of file", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    assertEquals(store.encrypted, false);
    assertEquals(await store.loadProfile(any), undefined);
    assertEquals(await store.loadOutbox(any), undefined);
    assertEquals(await store.loadRequests(any), undefined);
    await store.saveProfile({ name: "alice", key: "k" });
    await store.saveOutbox([{ to: "bob", packet: "AAAA" }]);
    await store.saveRequests({ inbound: [], outbound: ["bob"] });
    assertEquals(await store.loadProfile(any), { name: "alice", key: "k" });
    assertEquals(await store.loadOutbox(any), [{ to: "bob", packet: "AAAA" }]);
    assertEquals(await store.loadRequests(any), { inbound: [], outbound: ["bob"] });
    if (POSIX) {
      for (const d of [store.paths.dir, store.paths.tor, store.paths.conversations]) {
        assertEquals((await Deno.stat(d)).mode! & 0o777, 0o700, d);
      }
      for (const f of [store.paths.profile, store.paths.outbox, store.paths.requests]) {
        assertEquals((await Deno.stat(f)).mode! & 0o777, 0o600, f);
      }
    }
    await store.close();
    // closed: the lock is free again and the data is still there
    const again = await PeerStore.open(dir);
    assertEquals(await again.loadProfile(any), { name: "alice", key: "k" });
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

Deno.test("PeerStore lists, loads, saves and deletes conversations, ignoring foreign files", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveConversation("bb02", { contact: "bob", n: 2 });
    await store.saveConversation("aa01", { contact: "carol", n: 1 });
    await Deno.writeTextFile(join(store.paths.conversations, "README.txt"), "x");
    await Deno.writeTextFile(join(store.paths.conversations, "Upper.json"), "{}");
    await Deno.writeTextFile(join(store.paths.conversations, "aa01.json.corrupt-1"), "{");
    assertEquals(await store.listConversations(), ["aa01", "bb02"]);
    assertEquals(await store.loadConversation("bb02", asConv), { contact: "bob", n: 2 });
    assertEquals(await store.loadConversation("cc03", asConv), undefined);
    assertEquals(await store.deleteConversation("bb02"), true);
    assertEquals(await store.deleteConversation("bb02"), false);
    assertEquals(await store.listConversations(), ["aa01"]);
    await assertRejects(
      () => Deno.stat(join(store.paths.conversations, "bb02.json")),
      Deno.errors.NotFound,
    );
    for (const bad of ["../profile", "AA01", "a.b", ""]) {
      const e = await assertRejects(() => store.saveConversation(bad, {}), StoreError);
      assertEquals(e.code, "bad_name");
    }
    await store.close();
  });
});

Deno.test("PeerStore reports a damaged conversation, refuses to overwrite it, and quarantines it on request", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    await store.saveConversation("aa01", { contact: "bob", n: 1 });
    await store.saveConversation("bb02", { contact: "carol", n: 2 });
    await store.saveConversation("cc03", { contact: "dave", n: 3 });
    const broken = join(store.paths.conversations, "bb02.json");
    const handEdited = join(store.paths.conversations, "cc03.json");
    await Deno.writeTextFile(broken, '{"contact": "carol", "n": 2'); // truncated by hand
    await Deno.writeTextFile(handEdited, '{"contact": "dave"}'); // n removed by hand
    const { loaded, failed } = await store.loadConversations(asConv);
    assertEquals([...loaded.keys()], ["aa01"]);
    assertEquals(failed.map((e) => [e.code, e.path]).sort(), [
      ["corrupt", broken],
      ["invalid", handEdited],
    ]);
    assert(failed.some((e) => e.message.includes("contact and n are required")));
    // saving over them is refused and leaves the bytes as they were
    for (const [id, path] of [["bb02", broken], ["cc03", handEdited]] as const) {
      const before = await Deno.readTextFile(path);
      const e = await assertRejects(
        () => store.saveConversation(id, { contact: "x", n: 9 }),
        StoreError,
        path,
      );
      assertEquals(e.code, "refused");
      assertEquals(await Deno.readTextFile(path), before);
    }
    // explicit quarantine keeps the bytes aside and frees the name
    const moved = await store.quarantine(broken);
    assert(moved.startsWith(`${broken}.corrupt-`), moved);
    assertEquals(await Deno.readTextFile(moved), '{"contact": "carol", "n": 2');
    await store.saveConversation("bb02", { contact: "carol", n: 3 });
    assertEquals(await store.loadConversation("bb02", asConv), { contact: "carol", n: 3 });
    assertEquals(await store.listConversations(), ["aa01", "bb02", "cc03"]);
    await assertRejects(
      () => store.quarantine("/etc/passwd"),
      StoreError,
      "not a file of this peer",
    );
    await store.close();
  });
});

Deno.test("PeerStore with a passphrase encrypts every file and needs the passphrase to reopen", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir, { passphrase: "s3cret", scrypt: FAST });
    assertEquals(store.encrypted, true);
    await store.saveProfile({ identityKey: "PLAINTEXT-MARKER-1" });
    await store.saveConversation("aa01", { contact: "PLAINTEXT-MARKER-2", n: 1 });
    await store.saveOutbox({ q: "PLAINTEXT-MARKER-3" });
    await store.close();
    for (const f of ["profile.json", "outbox.json", join("conversations", "aa01.json")]) {
      const text = await Deno.readTextFile(join(dir, f));
      assert(!text.includes("PLAINTEXT-MARKER"), `${f} is not encrypted`);
      assertEquals(JSON.parse(text)["unmessage-vault"], 1);
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
    });
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

Deno.test("PeerStore (encrypted) rejects a planted plain file and a file swapped from another name", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir, { passphrase: "pw", scrypt: FAST });
    await store.saveProfile({ p: 1 });
    await store.saveConversation("aa01", { contact: "bob", n: 1 });
    await store.saveConversation("bb02", { contact: "carol", n: 2 });
    const a = join(store.paths.conversations, "aa01.json");
    const b = join(store.paths.conversations, "bb02.json");
    await Deno.copyFile(a, b); // an attacker swaps conversation states
    await Deno.writeTextFile(store.paths.outbox, '{"q": "planted"}');
    const e1 = await assertRejects(() => store.loadConversation("bb02", asConv), StoreError, b);
    assertEquals(e1.code, "tampered");
    const e2 = await assertRejects(() => store.loadOutbox(any), StoreError, "plain text");
    assertEquals(e2.code, "invalid");
    await assertRejects(() => store.saveOutbox({}), StoreError, "kept untouched");
    assertEquals(await store.loadConversation("aa01", asConv), { contact: "bob", n: 1 });
    await store.close();
  });
});

Deno.test("PeerStore serialises writes to one file: the last save wins", async () => {
  await withPeerDir(async (dir) => {
    const store = await PeerStore.open(dir);
    const big = "x".repeat(50_000);
    const saves = [];
    for (let n = 0; n < 50; n++) saves.push(store.saveConversation("aa01", { contact: big, n }));
    await Promise.all(saves);
    assertEquals((await store.loadConversation("aa01", asConv))?.n, 49);
    // close() waits for writes still in flight
    const last = store.saveConversation("aa01", { contact: "c", n: 50 });
    await store.close();
    await last;
    const again = await PeerStore.open(dir);
    assertEquals((await again.loadConversation("aa01", asConv))?.n, 50);
    await again.close();
  });
});

Deno.test("PeerStore.open() removes temporary files left by interrupted writes", async () => {
  await withPeerDir(async (dir) => {
    await Deno.mkdir(join(dir, "conversations"), { recursive: true });
    await Deno.writeTextFile(join(dir, ".profile.json.tmp-999-abcdef"), "{");
    await Deno.writeTextFile(join(dir, "conversations", ".aa01.json.tmp-999-012345"), "{");
    const store = await PeerStore.open(dir);
    assertEquals(await names(store.paths.conversations), []);
    assert(!(await names(dir)).some((n) => n.includes(".tmp-")));
    await store.close();
  });
});

// writes 1,000 small conversation files directly (the store would fsync each
// one: seconds on a real disk), sealed with the peer's vault when encrypted
async function timeLoad(dir: string, passphrase?: string): Promise<number> {
  const writer = await PeerStore.open(dir, { passphrase, scrypt: FAST });
  await writer.saveProfile({ name: "alice" });
  await writer.close();
  const vault = passphrase === undefined ? undefined : await Vault.unlock(
    passphrase,
    JSON.parse(await Deno.readTextFile(join(dir, "profile.json"))),
    "p",
  );
  const ids = Array.from({ length: 1000 }, (_, i) => i.toString(16).padStart(8, "0"));
  for (const [i, id] of ids.entries()) {
    let bytes = encodeJson({ contact: `c${i}`, n: i, state: "r".repeat(600) });
    if (vault !== undefined) bytes = encodeJson(vault.seal(bytes, `conversations/${id}.json`));
    await Deno.writeFile(join(dir, "conversations", `${id}.json`), bytes);
  }
  vault?.destroy();
  const reader = await PeerStore.open(dir, { passphrase });
  const start = performance.now();
  const { loaded, failed } = await reader.loadConversations(asConv);
  const ms = performance.now() - start;
  await reader.close();
  assertEquals(failed, []);
  assertEquals(loaded.size, 1000);
  assertEquals(loaded.get(ids[777]!)?.n, 777);
  return ms;
}

Deno.test("PeerStore loads 1,000 conversations quickly (plain and encrypted)", async () => {
  await withPeerDir(async (dir) => {
    const plain = await timeLoad(dir);
    await withPeerDir(async (dir2) => {
      const enc = await timeLoad(dir2, "pw");
      console.log(
        `    1,000 conversations: plain ${plain.toFixed(0)} ms, encrypted ${enc.toFixed(0)} ms`,
      );
      assert(plain < 1000 && enc < 1000, `too slow: ${plain} / ${enc} ms`);
    });
  });
});
