import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import {
  DIR_MODE,
  ensureDir,
  FILE_MODE,
  isTempName,
  MAX_JSON_BYTES,
  quarantineFile,
  readJson,
  removeTempFiles,
  writeFileAtomic,
  writeJsonAtomic,
} from "../lib/store/atomic.ts";
import { StoreError } from "../lib/store/errors.ts";

const POSIX = Deno.build.os !== "windows";
const ATOMIC_URL = new URL("../lib/store/atomic.ts", import.meta.url).href;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "um-store-atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

const anyValue = (v: unknown) => v;

Deno.test("writeJsonAtomic() then readJson() round-trips a value", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.json");
    const value = { name: "alice", n: [1, 2, 3], nested: { ok: true, s: "é\u0000" } };
    await writeJsonAtomic(path, value);
    assertEquals(await readJson(path, anyValue), value);
    await writeJsonAtomic(path, { replaced: 1 });
    assertEquals(await readJson(path, anyValue), { replaced: 1 });
    // nothing but the target remains in the folder
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["a.json"]);
  });
});

Deno.test({
  name: "writeFileAtomic() creates folders 0700 and files 0600, tightening existing ones",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "root", "peers", "alice", "profile.json");
      await writeFileAtomic(path, new Uint8Array([1, 2]));
      assertEquals(await mode(join(dir, "root")), DIR_MODE);
      assertEquals(await mode(join(dir, "root", "peers")), DIR_MODE);
      assertEquals(await mode(join(dir, "root", "peers", "alice")), DIR_MODE);
      assertEquals(await mode(path), FILE_MODE);
      // a pre-existing 0644 file is replaced by a 0600 one
      const loose = join(dir, "root", "loose.json");
      await Deno.writeTextFile(loose, "{}", { mode: 0o644 });
      await Deno.chmod(loose, 0o644);
      await writeJsonAtomic(loose, { a: 1 });
      assertEquals(await mode(loose), FILE_MODE);
      // ensureDir() tightens our own folder but never an existing parent
      await Deno.chmod(join(dir, "root"), 0o755);
      await ensureDir(join(dir, "root"));
      assertEquals(await mode(join(dir, "root")), DIR_MODE);
      assertEquals(await mode(dir), 0o700); // makeTempDir's own mode, untouched
    });
  },
});

Deno.test({
  name: "writeFileAtomic() gives 0700/0600 whatever the umask (0277 and 0000)",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      for (const umask of ["0277", "0000"]) {
        const path = join(dir, `u${umask}`, "deep", "f.json");
        const code = `import { writeJsonAtomic } from ${JSON.stringify(ATOMIC_URL)};
          await writeJsonAtomic(${JSON.stringify(path)}, { ok: 1 });`;
        const out = await new Deno.Command("sh", {
          args: ["-c", `umask ${umask} && exec "$0" eval "$1"`, Deno.execPath(), code],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert(out.success, new TextDecoder().decode(out.stderr));
        assertEquals(await mode(join(dir, `u${umask}`)), DIR_MODE);
        assertEquals(await mode(join(dir, `u${umask}`, "deep")), DIR_MODE);
        assertEquals(await mode(path), FILE_MODE);
      }
    });
  },
});

Deno.test("readJson() reports a missing file as not_found with its path", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nope.json");
    const e = await assertRejects(() => readJson(path, anyValue), StoreError, path);
    assertEquals(e.code, "not_found");
    assertEquals(e.path, path);
  });
});

Deno.test("readJson() reports unparseable files as corrupt, never quoting content, and leaves them untouched", async () => {
  await withTempDir(async (dir) => {
    const cases: [string, Uint8Array][] = [
      ["garbage", new TextEncoder().encode('{"key": "SECRETKEYMATERIAL" oops')],
      ["empty", new Uint8Array(0)],
      ["truncated", new TextEncoder().encode('{"key": "SECRETKEYMATERIAL", "n": [1, 2')],
      ["not utf-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
    ];
    for (const [label, bytes] of cases) {
      const path = join(dir, `${label}.json`);
      await Deno.writeFile(path, bytes);
      const e = await assertRejects(() => readJson(path, anyValue), StoreError, path);
      assertEquals(e.code, "corrupt", label);
      assert(!e.message.includes("SECRET"), `${label}: message quotes content: ${e.message}`);
      assert(e.message.includes("untouched"), e.message);
      assertEquals(await Deno.readFile(path), bytes, `${label} was modified`);
    }
  });
});

Deno.test("readJson() reports a failed validation as invalid with the validator's reason", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "profile.json");
    await writeJsonAtomic(path, { name: 42 });
    const validate = (v: unknown) => {
      const name = (v as { name?: unknown }).name;
      if (typeof name !== "string") throw new TypeError("name must be a string");
      return name;
    };
    const e = await assertRejects(() => readJson(path, validate), StoreError, path);
    assertEquals(e.code, "invalid");
    assert(e.message.includes("name must be a string"), e.message);
    await writeJsonAtomic(path, { name: "bob" });
    assertEquals(await readJson(path, validate), "bob");
  });
});

Deno.test("readJson() refuses a file larger than MAX_JSON_BYTES without reading it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "huge.json");
    await Deno.writeFile(path, new Uint8Array(0));
    await Deno.truncate(path, MAX_JSON_BYTES + 1); // sparse: costs no disk
    const e = await assertRejects(() => readJson(path, anyValue), StoreError, path);
    assertEquals(e.code, "too_large");
  });
});

Deno.test({
  name: "readJson() refuses a FIFO with io at once instead of blocking in open()",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "profile.json");
      const made = await new Deno.Command("mkfifo", { args: [path] }).output();
      assert(made.success, "mkfifo failed");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 2_000)));
      const read = readJson(path, anyValue).then(() => "read", (e: unknown) => e);
      const outcome = await Promise.race([read, hung]);
      clearTimeout(timer);
      if (outcome === "hung") {
        // release the blocked open(2) so the test fails instead of hanging
        (await Deno.open(path, { write: true })).close();
        await read;
      }
      assert(outcome instanceof StoreError, `expected a StoreError, got ${String(outcome)}`);
      assertEquals(outcome.code, "io");
      assertEquals(outcome.path, path);
    });
  },
});

Deno.test("writeFileAtomic() onto a folder fails with io and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "taken");
    await Deno.mkdir(target);
    const e = await assertRejects(() => writeFileAtomic(target, new Uint8Array([1])), StoreError);
    assertEquals(e.code, "io");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assertEquals(names, ["taken"]);
  });
});

Deno.test("writeJsonAtomic() rejects values JSON cannot represent with TypeError", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(() => writeJsonAtomic(join(dir, "x.json"), { n: 1n }), TypeError);
    await assertRejects(() => writeJsonAtomic(join(dir, "x.json"), undefined), TypeError);
  });
});

Deno.test("quarantineFile() moves a damaged file aside, keeping its bytes", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "c.json");
    await Deno.writeTextFile(path, "{broken");
    const now = new Date("2030-01-02T03:04:05.678Z");
    const moved = await quarantineFile(path, now);
    assertEquals(moved, `${path}.corrupt-20300102T030405Z`);
    assertEquals(await Deno.readTextFile(moved), "{broken");
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
    // a second quarantine in the same second gets a distinct name
    await Deno.writeTextFile(path, "{again");
    assertEquals(await quarantineFile(path, now), `${path}.corrupt-20300102T030405Z-2`);
  });
});

Deno.test("removeTempFiles() removes only leftovers of interrupted writes", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, ".a.json.tmp-123-0a1b2c"), "{");
    await Deno.writeTextFile(join(dir, "a.json"), "{}");
    await Deno.writeTextFile(join(dir, ".hidden"), "x");
    assert(isTempName(".a.json.tmp-123-0a1b2c"));
    assert(!isTempName("a.json") && !isTempName(".hidden"));
    assertEquals(await removeTempFiles(dir), 1);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.sort(), [".hidden", "a.json"]);
  });
});

// ---- crash safety: a writer SIGKILLed at random moments --------------------

// deterministic content per version, of varying size (200 to 500 KiB) so a
// truncated or mixed file cannot pass for a valid version
function expectedData(v: number): string {
  return String(v % 10).repeat(200_000 + (v % 7) * 50_000);
}

const WRITER = (path: string, start: number) =>
  `import { writeJsonAtomic } from ${JSON.stringify(ATOMIC_URL)};
const data = (v) => String(v % 10).repeat(200_000 + (v % 7) * 50_000);
for (let v = ${start}; ; v++) {
  await writeJsonAtomic(${JSON.stringify(path)}, { v, data: data(v) });
  if (v === ${start}) console.log("wrote");
}`;

Deno.test({
  name: "writeJsonAtomic() killed mid-way (SIGKILL) never leaves a truncated or empty file",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "state.json");
      const KILLS = 30;
      let midWrite = 0; // kills that left a temporary file: the write was in progress
      const seen = new Set<number>();
      for (let i = 0; i < KILLS; i++) {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["eval", WRITER(path, i * 1_000_000)],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = child.stdout.getReader();
        await reader.read(); // first write done
        await new Promise((r) => setTimeout(r, (i * 7) % 25));
        child.kill("SIGKILL");
        await child.status;
        reader.releaseLock();
        await child.stdout.cancel();
        const value = await readJson(path, (v) => v as { v: number; data: string });
        assertEquals(typeof value.v, "number");
        assert(value.data === expectedData(value.v), `version ${value.v} is damaged`);
        seen.add(value.v);
        let temps = 0;
        for await (const e of Deno.readDir(dir)) if (isTempName(e.name)) temps++;
        if (temps > 0) midWrite++;
        await removeTempFiles(dir);
      }
      assertEquals(seen.size, KILLS); // every child wrote and the file moved on
      console.log(`    ${KILLS} kills, ${midWrite} during a write; every file parsed whole`);
    });
  },
});
