import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import {
  listPeers,
  loadAppConfig,
  saveAppConfig,
  validateAppConfig,
} from "../lib/store/app_config.ts";
import { StoreError } from "../lib/store/errors.ts";

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "um-store-app-" });
  try {
    await fn(join(dir, "unMessage"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadAppConfig() gives an empty config when config.json does not exist", async () => {
  await withRoot(async (root) => {
    assertEquals(await loadAppConfig(root), {});
  });
});

Deno.test("saveAppConfig() then loadAppConfig() round-trips the last interface and peer", async () => {
  await withRoot(async (root) => {
    await saveAppConfig(root, { lastInterface: "json", lastPeer: "alice" });
    assertEquals(await loadAppConfig(root), { lastInterface: "json", lastPeer: "alice" });
    await saveAppConfig(root, { lastInterface: "cli" });
    assertEquals(await loadAppConfig(root), { lastInterface: "cli" });
    if (Deno.build.os !== "windows") {
      assertEquals((await Deno.stat(root)).mode! & 0o777, 0o700);
      assertEquals((await Deno.stat(join(root, "config.json"))).mode! & 0o777, 0o600);
    }
  });
});

Deno.test("validateAppConfig() ignores unknown keys and rejects bad values", () => {
  assertEquals(validateAppConfig({ lastPeer: "bob", future: 1 }), { lastPeer: "bob" });
  assertThrows(() => validateAppConfig([]), TypeError);
  assertThrows(() => validateAppConfig(null), TypeError);
  assertThrows(() => validateAppConfig({ lastInterface: "web" }), TypeError, "lastInterface");
  assertThrows(() => validateAppConfig({ lastPeer: "../x" }), TypeError, "lastPeer");
});

Deno.test("saveAppConfig() refuses an invalid peer name or interface", async () => {
  await withRoot(async (root) => {
    const e = await assertRejects(() => saveAppConfig(root, { lastPeer: "a/b" }), StoreError);
    assertEquals(e.code, "bad_name");
    await assertRejects(
      () => saveAppConfig(root, { lastInterface: "web" as unknown as "cli" }),
      TypeError,
    );
  });
});

Deno.test("a hand-damaged config.json is reported, kept, and replaced only when asked", async () => {
  await withRoot(async (root) => {
    await Deno.mkdir(root, { recursive: true });
    const path = join(root, "config.json");
    for (
      const [text, code] of [['{"lastPeer": ', "corrupt"], ['{"lastInterface": "web"}', "invalid"]]
    ) {
      await Deno.writeTextFile(path, text!);
      const e = await assertRejects(() => loadAppConfig(root), StoreError, path);
      assertEquals(e.code, code);
      const r = await assertRejects(
        () => saveAppConfig(root, { lastPeer: "bob" }),
        StoreError,
        path,
      );
      assertEquals(r.code, "refused");
      assertEquals(await Deno.readTextFile(path), text);
    }
    await saveAppConfig(root, { lastPeer: "bob" }, { replaceDamaged: true });
    assertEquals(await loadAppConfig(root), { lastPeer: "bob" });
  });
});

Deno.test("listPeers() lists valid peer folders only, sorted", async () => {
  await withRoot(async (root) => {
    assertEquals(await listPeers(root), []);
    for (const name of ["zed", "alice", "bad.name"]) {
      await Deno.mkdir(join(root, "peers", name), { recursive: true });
    }
    await Deno.writeTextFile(join(root, "peers", "file"), "");
    const peers = await listPeers(root);
    assertEquals(peers, ["alice", "zed"]);
    assert(!peers.includes("file"));
  });
});
