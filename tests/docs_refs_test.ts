/**
 * The repository explains itself to someone with only a clone: no source
 * file, test, script or document points at a document the clone does not
 * contain (the design notes and fact sheets the project was started from,
 * the folder beside the repository that held them, or the original
 * program's pages). Comments point at `docs/protocol.md`,
 * `docs/architecture.md`, `docs/threat-model.md` and `CONTRIBUTING.md` by
 * section instead, and say "unMessage 0.1" where they mean the original
 * program.
 *
 * Scanned: every text file under `lib/`, `scripts/`, `tests/` and `docs/`,
 * and `main.ts`, `README.md`, `CONTRIBUTING.md`, this file included: it
 * spells the names it looks for in parts ({@linkcode OUTSIDE}), so that it
 * names no outside document either.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./_assert.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The outside documents' names, in parts (see the module header). */
const OUTSIDE = {
  design: "DESIGN" + ".md",
  style: "STYLE" + ".md",
  tornet: "TORNET" + "-FACTS",
  bridge: "BRIDGE" + "-FACTS",
  browser: "BROWSER" + "-FACTS",
  folder: "../" + "shared",
  seedWord: "se" + "ed",
};
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** What a reference to a document outside the repository looks like. */
const OUTSIDE_REFERENCES: readonly RegExp[] = [
  ...[OUTSIDE.design, OUTSIDE.style, OUTSIDE.tornet, OUTSIDE.bridge, OUTSIDE.browser]
    .map((name) => new RegExp(escape(name))),
  new RegExp(`${escape(OUTSIDE.folder)}\\b`),
  ...[
    `the ${OUTSIDE.seedWord}\\b`,
    `${OUTSIDE.seedWord}'s\\b`,
    `${OUTSIDE.seedWord} (?:stages? \\d|"[A-Z])`,
    `${OUTSIDE.seedWord}: ["\`]`,
    `${OUTSIDE.seedWord} commands?\\b`,
  ].map((pattern) => new RegExp(`\\b${pattern}`, "i")),
];

/** Folders scanned whole, and single files, from the repository root. */
const FOLDERS = ["lib", "scripts", "tests", "docs"];
const FILES = ["main.ts", "README.md", "CONTRIBUTING.md"];
/** Files read as text (the rest, e.g. screenshots, is skipped). */
const TEXT = /\.(ts|js|md|html|css|py|txt|json|sh|ya?ml)$/;

/** Each line of `text` that matches a pattern, as `file:line: text`. */
function outsideReferences(text: string, file: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (OUTSIDE_REFERENCES.some((p) => p.test(line))) {
      found.push(`${file}:${i + 1}: ${line.trim()}`);
    }
  });
  return found;
}

async function* textFiles(folder: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(ROOT, folder))) {
    const path = join(folder, entry.name);
    if (entry.isDirectory) yield* textFiles(path);
    else if (entry.isFile && TEXT.test(entry.name)) yield path;
  }
}

async function scanned(): Promise<string[]> {
  const files = [...FILES];
  for (const folder of FOLDERS) for await (const f of textFiles(folder)) files.push(f);
  return files.sort();
}

Deno.test("the pattern finds each kind of outside reference, and not ordinary seeds", () => {
  const hits = (line: string) => outsideReferences(line, "x").length;
  for (
    const bad of [
      `see ${OUTSIDE.design}`,
      `(${OUTSIDE.tornet}.md: a few seconds)`,
      `the rules of ${OUTSIDE.style}`,
      `${OUTSIDE.bridge}.md says`,
      `${OUTSIDE.browser}.md says`,
      `import from ${OUTSIDE.folder}/notes`,
      `as the ${OUTSIDE.seedWord} says`,
      `The ${OUTSIDE.seedWord}'s hSub`,
      `(${OUTSIDE.seedWord} Stage 2)`,
      `Packet kinds (${OUTSIDE.seedWord} stages 2 and 3)`,
      `(${OUTSIDE.seedWord} "Identifying conversations")`,
      `(${OUTSIDE.seedWord}: "valid until one of the peers disconnect")`,
      `(warnings.ts; ${OUTSIDE.seedWord}: "When unMessage fails to`,
      `every ${OUTSIDE.seedWord} command`,
    ]
  ) assertEquals(hits(bad), 1, bad);
  for (
    const fine of [
      "const rng = seededRng(seed);",
      "its onion service key's secret seed",
      "signWithOnionKey(key.seed, message)",
      "{ seed: 0x4a5d, numRuns: 60 }",
      "function prng(seed: number) {",
      "the RNG seed is fixed so a failure replays",
      "unMessage 0.1's examples use 50001",
    ]
  ) assertEquals(hits(fine), 0, fine);
});

Deno.test("no file points at a document the repository does not contain", async () => {
  const files = await scanned();
  assert(files.includes("lib/protocol/session.ts") && files.includes("tests/docs_refs_test.ts"));
  const problems: string[] = [];
  for (const file of files) {
    problems.push(...outsideReferences(await Deno.readTextFile(join(ROOT, file)), file));
  }
  assertEquals(
    problems,
    [],
    "Point these at docs/protocol.md, docs/architecture.md, docs/threat-model.md or " +
      'CONTRIBUTING.md by section, or say "unMessage 0.1" for the original program:\n' +
      problems.join("\n"),
  );
});
