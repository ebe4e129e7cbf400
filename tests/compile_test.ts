import { assertEquals, assertThrows } from "./_assert.ts";
import { compileArgs, selectTargets, TARGETS } from "../scripts/compile.ts";

Deno.test("compileArgs() builds main.ts with all permissions, named per target", () => {
  assertEquals(compileArgs(undefined), [
    "compile",
    "--allow-all",
    "--no-prompt",
    "--output",
    "dist/unmessage",
    "main.ts",
  ]);
  const windows = compileArgs("x86_64-pc-windows-msvc");
  assertEquals(windows.slice(3, 7), [
    "--target",
    "x86_64-pc-windows-msvc",
    "--output",
    "dist/unmessage-x86_64-pc-windows-msvc.exe",
  ]);
  assertEquals(compileArgs("aarch64-apple-darwin").at(-2), "dist/unmessage-aarch64-apple-darwin");
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
