import { assert, assertEquals, assertThrows } from "./_assert.ts";
import {
  buildCommit,
  compileArgs,
  entryText,
  selectTargets,
  TARGETS,
  writeEntry,
} from "../scripts/compile.ts";
import { versionText } from "../main.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

Deno.test("compileArgs() builds the entry with all permissions and the project's config, named per target", () => {
  assertEquals(compileArgs(undefined, "/tmp/x/entry.ts"), [
    "compile",
    "--allow-all",
    "--no-prompt",
    "--config",
    CONFIG,
    "--output",
    "dist/unmessage",
    "/tmp/x/entry.ts",
  ]);
  const windows = compileArgs("x86_64-pc-windows-msvc", "e.ts");
  assertEquals(windows.slice(5, 9), [
    "--target",
    "x86_64-pc-windows-msvc",
    "--output",
    "dist/unmessage-x86_64-pc-windows-msvc.exe",
  ]);
  assertEquals(
    compileArgs("aarch64-apple-darwin", "e.ts").at(-2),
    "dist/unmessage-aarch64-apple-darwin",
  );
});

Deno.test("the generated entry runs main() with the commit: --version names it (what a compiled build prints)", async () => {
  const commit = await buildCommit();
  // a checkout has a commit (CI builds from one); -dirty marks uncommitted changes
  assert(commit !== undefined && /^[0-9a-f]{40}(-dirty)?$/.test(commit), String(commit));
  const entry = await writeEntry("0123456789abcdef0123456789abcdef01234567");
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, entry, "--version"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assert(
      /^unmessage \d+\.\d+\.\d+ \(commit 0123456789abcdef0123456789abcdef01234567\)\n$/.test(text),
      text,
    );
  } finally {
    await Deno.remove(entry.replace(/\/entry\.ts$/, ""), { recursive: true });
  }
  assertEquals(versionText({}), versionText());
  assert(!versionText().includes("commit"), "a build from source names no commit");
  assertThrows(() => entryText('x"); Deno.exit(9); ("'), RangeError, "Not a commit");
  assert(entryText(undefined).includes("main(Deno.args, {})"));
});

Deno.test("selectTargets() takes this machine, all, or one known target", () => {
  assertEquals(selectTargets(undefined), [undefined]);
  assertEquals(selectTargets("all"), [...TARGETS]);
  assertEquals(selectTargets("x86_64-apple-darwin"), ["x86_64-apple-darwin"]);
  assertThrows(() => selectTargets("sparc-sun-solaris"), RangeError, "Unknown target");
});

Deno.test("main.ts reads nothing from the source tree at run time", async () => {
  // Compile-friendliness: no dynamic import() and no reads relative to import.meta.
  const problems: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (path.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        if (/\bimport\s*\(/.test(text)) problems.push(`${path}: dynamic import`);
        if (/import\.meta\.(url|dirname|filename)/.test(text)) {
          problems.push(`${path}: reads relative to its own file`);
        }
      }
    }
  };
  await walk(new URL("../lib", import.meta.url).pathname);
  const main = await Deno.readTextFile(new URL("../main.ts", import.meta.url));
  if (/\bimport\s*\(/.test(main)) problems.push("main.ts: dynamic import");
  assertEquals(problems, []);
});
