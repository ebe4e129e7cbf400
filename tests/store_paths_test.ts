import { join, resolve } from "node:path";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import {
  appConfigPath,
  conversationPath,
  peerPaths,
  resolveConfigRoot,
  validateConversationId,
  validatePeerName,
} from "../lib/store/paths.ts";
import { StoreError } from "../lib/store/errors.ts";

const PATHS_URL = new URL("../lib/store/paths.ts", import.meta.url).href;

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("resolveConfigRoot(): --config-dir beats UNMESSAGE_HOME beats HOME", () => {
  const env = envOf({ UNMESSAGE_HOME: "/env/home", HOME: "/home/u" });
  assertEquals(resolveConfigRoot({ configDir: "/flag/dir", env, os: "linux" }), "/flag/dir");
  assertEquals(resolveConfigRoot({ env, os: "linux" }), "/env/home");
  assertEquals(
    resolveConfigRoot({ env: envOf({ HOME: "/home/u" }), os: "linux" }),
    "/home/u/.config/unMessage",
  );
  assertEquals(
    resolveConfigRoot({ env: envOf({ HOME: "/Users/u" }), os: "darwin" }),
    "/Users/u/.config/unMessage",
  );
  // empty values count as unset
  assertEquals(
    resolveConfigRoot({
      configDir: "",
      env: envOf({ UNMESSAGE_HOME: "", HOME: "/h" }),
      os: "linux",
    }),
    "/h/.config/unMessage",
  );
});

Deno.test("resolveConfigRoot() uses %APPDATA%\\unMessage on Windows", () => {
  const root = resolveConfigRoot({
    env: envOf({ APPDATA: "C:\\Users\\u\\AppData\\Roaming" }),
    os: "windows",
  });
  assert(root.startsWith("C:\\Users\\u\\AppData\\Roaming") && root.endsWith("unMessage"), root);
});

Deno.test("resolveConfigRoot() resolves a relative flag against the working folder", () => {
  assertEquals(resolveConfigRoot({ configDir: "rel/dir", env: envOf({}) }), resolve("rel/dir"));
});

Deno.test("resolveConfigRoot() without any home fails with no_home saying what to set", () => {
  const e = assertThrows(() => resolveConfigRoot({ env: envOf({}), os: "linux" }), StoreError);
  assertEquals(e.code, "no_home");
  assert(e.message.includes("--config-dir") && e.message.includes("UNMESSAGE_HOME"), e.message);
  assertThrows(
    () => resolveConfigRoot({ env: envOf({ HOME: "/h" }), os: "windows" }),
    StoreError,
    "APPDATA",
  );
});

Deno.test("resolveConfigRoot() reads the real environment of a process (flag > UNMESSAGE_HOME > HOME)", async () => {
  const home = await Deno.makeTempDir({ prefix: "um-store-paths-" });
  try {
    const run = async (env: Record<string, string>, configDir?: string) => {
      const code = `import { resolveConfigRoot } from ${JSON.stringify(PATHS_URL)};
        console.log(resolveConfigRoot({ configDir: ${JSON.stringify(configDir)} }));`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout).trim();
    };
    assertEquals(await run({ HOME: home, UNMESSAGE_HOME: "" }), join(home, ".config", "unMessage"));
    assertEquals(await run({ HOME: home, UNMESSAGE_HOME: "/um/env" }), "/um/env");
    assertEquals(await run({ HOME: home, UNMESSAGE_HOME: "/um/env" }, "/um/flag"), "/um/flag");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("validatePeerName() accepts the portable alphabet and rejects everything else", () => {
  for (const ok of ["alice", "Bob_2", "a", "x-y-z", "A".repeat(32), "_", "-", "con1", "console"]) {
    assertEquals(validatePeerName(ok), ok);
  }
  const bad = [
    "",
    ".",
    "..",
    "a/b",
    "../etc",
    "a\\b",
    "/abs",
    "al ice",
    "alice.",
    ".hidden",
    "A".repeat(33),
    "élan",
    "a\u0000b",
    "a\nb",
    "con",
    "NUL",
    "com1",
    "Lpt9",
    "aux",
  ];
  for (const name of bad) {
    const e = assertThrows(() => validatePeerName(name), StoreError, "letters, digits");
    assertEquals(e.code, "bad_name", JSON.stringify(name));
    assert(
      !e.message.includes("\n") && !e.message.includes("\u0000"),
      "control characters are escaped",
    );
  }
  assertThrows(() => validatePeerName(42 as unknown as string), StoreError);
});

Deno.test("validateConversationId() accepts lower-case hex or base32 only", () => {
  for (const ok of ["0", "deadbeef", "abcdefghijklmnopqrstuvwxyz234567", "a".repeat(104)]) {
    assertEquals(validateConversationId(ok), ok);
  }
  for (
    const bad of ["", "DEADBEEF", "a.json", "../x", "a/b", "a-b", "a".repeat(105), "con", "nul"]
  ) {
    const e = assertThrows(() => validateConversationId(bad), StoreError, "lower-case");
    assertEquals(e.code, "bad_name");
  }
});

Deno.test("peerPaths() lays out a peer folder under <root>/peers/<name>", () => {
  const p = peerPaths("/cfg", "alice");
  assertEquals(p.dir, join("/cfg", "peers", "alice"));
  assertEquals(p.tor, join(p.dir, "tor"));
  assertEquals(p.profile, join(p.dir, "profile.json"));
  assertEquals(p.state, join(p.dir, "state.jsonl"));
  assertEquals(p.journal, join(p.dir, "journal.jsonl"));
  assertEquals(p.requests, join(p.dir, "requests.json"));
  assertEquals(conversationPath(p, "ab12"), join(p.dir, "conversations", "ab12.json"));
  assertEquals(appConfigPath("/cfg"), join("/cfg", "config.json"));
  assertThrows(() => peerPaths("/cfg", ".."), StoreError);
  assertThrows(() => conversationPath(p, "../../x"), StoreError);
});
