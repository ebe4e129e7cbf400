/**
 * Keeps the repository's documents true to the code:
 *
 * - the table "Limits and timing constants" of `docs/architecture.md`
 *   lists every `MAX_*` bound and every `*_MS` time constant declared in
 *   `lib/`, in the right file and with the value the code gives it, and
 *   nothing else;
 * - every file or folder of the repository that `docs/*.md`,
 *   `CONTRIBUTING.md` and `README.md` name (as `lib/…`, `tests/…`,
 *   `scripts/…`, `docs/…`) exists.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./_assert.ts";
import { section, tableRows, unquote } from "./_doc_blocks.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TABLE_HEADING = "Limits and timing constants";

/** A constant the table must list: a bound (`MAX` in its name) or a time (`_MS`). */
const LISTED = /(^|_)MAX(_|$)|_MS$/;
/** `const NAME = value;` (exported or not, typed or not) and `static readonly NAME = value;`. */
const DECLARATION =
  /^[ \t]*(?:export\s+)?(?:const|static\s+readonly)\s+([A-Z][A-Z0-9_]*)\s*(?::[^=\n]+)?=\s*([^;]+);/gm;

/** One row of the table, or one declaration in the code. */
interface Constant {
  /** `NAME`, or `Class.NAME` for a static member. */
  name: string;
  /** Path from the repository root. */
  file: string;
  /** The initialiser as written, white space collapsed. */
  value: string;
}

const squash = (text: string) => text.replace(/\s+/g, " ").trim();

/** The listed constants declared in one source file. */
function declaredIn(text: string, file: string): Constant[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
  const found: Constant[] = [];
  for (const m of code.matchAll(DECLARATION)) {
    if (!LISTED.test(m[1]!)) continue;
    const owner = m[0].includes("static")
      ? [...code.slice(0, m.index).matchAll(/\bclass\s+(\w+)/g)].pop()?.[1]
      : undefined;
    found.push({ name: owner ? `${owner}.${m[1]}` : m[1]!, file, value: squash(m[2]!) });
  }
  return found;
}

/** What is wrong between the declarations and the table's rows (empty when they agree). */
function compare(declared: Constant[], rows: Constant[]): string[] {
  const key = (c: Constant) => `${c.file} ${c.name}`;
  const table = new Map(rows.map((r) => [key(r), r]));
  const code = new Map(declared.map((d) => [key(d), d]));
  const problems: string[] = [];
  for (const d of declared) {
    const row = table.get(key(d));
    if (row === undefined) {
      problems.push(`missing from the table: ${d.name} (${d.file}) = ${d.value}`);
    } else if (row.value !== d.value) {
      problems.push(
        `${d.name} (${d.file}) is \`${d.value}\` in the code, \`${row.value}\` in the table`,
      );
    }
  }
  for (const r of rows) {
    if (!code.has(key(r))) problems.push(`in the table but not in ${r.file}: ${r.name}`);
  }
  return problems;
}

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

async function declaredInLib(): Promise<Constant[]> {
  const all: Constant[] = [];
  for await (const path of sources(join(ROOT, "lib"))) {
    all.push(...declaredIn(await Deno.readTextFile(path), relative(ROOT, path)));
  }
  return all;
}

async function tableOfLimits(): Promise<Constant[]> {
  const doc = await Deno.readTextFile(join(ROOT, "docs/architecture.md"));
  return tableRows(section(doc, TABLE_HEADING)).map((cells) => ({
    name: unquote(cells[0]!),
    file: unquote(cells[1]!),
    value: squash(unquote(cells[2]!)),
  }));
}

Deno.test("docs/architecture.md lists every MAX_* and *_MS constant of lib/ with its value", async () => {
  const declared = await declaredInLib();
  assert(declared.length > 50, `only ${declared.length} constants found: the scan is broken`);
  assertEquals(compare(declared, await tableOfLimits()), []);
});

Deno.test("the limits check notices a new constant, a changed value and a stale row", () => {
  const source = [
    "/** a bound */",
    "export const MAX_WIDGETS = 4;",
    "const RETRY_MS: number = 2 *",
    "  1000;",
    "class Box {",
    "  static readonly MAX = 9;",
    "}",
    "const MIN_WIDGETS = 1; // not listed: neither MAX nor _MS",
    "/* export const MAX_IN_COMMENT = 1; */",
  ].join("\n");
  const declared = declaredIn(source, "lib/x.ts");
  assertEquals(declared, [
    { name: "MAX_WIDGETS", file: "lib/x.ts", value: "4" },
    { name: "RETRY_MS", file: "lib/x.ts", value: "2 * 1000" },
    { name: "Box.MAX", file: "lib/x.ts", value: "9" },
  ]);
  const rows = [
    { name: "MAX_WIDGETS", file: "lib/x.ts", value: "5" },
    { name: "Box.MAX", file: "lib/x.ts", value: "9" },
    { name: "MAX_GONE", file: "lib/x.ts", value: "1" },
  ];
  assertEquals(compare(declared, rows), [
    "MAX_WIDGETS (lib/x.ts) is `4` in the code, `5` in the table",
    "missing from the table: RETRY_MS (lib/x.ts) = 2 * 1000",
    "in the table but not in lib/x.ts: MAX_GONE",
  ]);
});

Deno.test("the documents name only files and folders that exist", async () => {
  const docs = ["README.md", "CONTRIBUTING.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.name.endsWith(".md")) docs.push(`docs/${entry.name}`);
  }
  const missing: string[] = [];
  for (const doc of docs) {
    const text = await Deno.readTextFile(join(ROOT, doc));
    for (const m of text.matchAll(/`((?:lib|tests|scripts|docs)\/[A-Za-z0-9_./-]*)`/g)) {
      const path = m[1]!.replace(/\/$/, "");
      try {
        await Deno.stat(join(ROOT, path));
      } catch {
        missing.push(`${doc}: ${m[1]}`);
      }
    }
  }
  assertEquals(missing, []);
});
