/**
 * Enforces the shape rules of CONTRIBUTING.md "Layers and modules" and
 * docs/architecture.md "Layers" on the source tree:
 * pure layers (`lib/crypto`, `lib/protocol`) touch no I/O, clock, console or
 * global randomness, `lib/` layers import downwards only, and no source
 * file of `lib/`, `scripts/` or `tests/` passes {@linkcode MAX_FILE_LINES}.
 */

import { assertEquals } from "./_assert.ts";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const LIB = fileURLToPath(new URL("../lib/", import.meta.url));
const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** CONTRIBUTING.md: "split one that passes 500". */
const MAX_FILE_LINES = 500;

/** Layer rank: a module may import only from its own rank or lower. */
const RANK: Record<string, number> = {
  "errors.ts": 0,
  "edit_distance.ts": 0,
  "deadline.ts": 0,
  "lines.ts": 0,
  "ports.ts": 0,
  "strict_json.ts": 0,
  "rng.ts": 1,
  crypto: 1,
  protocol: 2,
  tor: 3,
  net: 4,
  store: 3,
  "peer.ts": 5,
  peer: 5,
  "runtime.ts": 6,
  app: 6,
  ui: 7,
  gui: 8,
};

const PURE = ["crypto", "protocol"];
const FORBIDDEN_IN_PURE: [RegExp, string][] = [
  [/\bDeno\.(?!customInspect)/, "Deno.*"],
  [/\bconsole\./, "console"],
  [/\bDate\.now\(/, "Date.now"],
  [/\bnew Date\(/, "new Date"],
  [/\bMath\.random\(/, "Math.random"],
  [/getRandomValues\(/, "global randomness"],
  [/\bperformance\.now\(/, "performance.now"],
  [/\bsetTimeout\(/, "timers"],
];

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (/\.(ts|js)$/.test(entry.name)) yield path;
  }
}

function layerOf(rel: string): string {
  return rel.split("/")[0]!;
}

/** Strips comments so that documentation may name what code may not use. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

Deno.test("pure layers use no I/O, clock, console or global randomness", async () => {
  const problems: string[] = [];
  for (const layer of PURE) {
    for await (const path of walk(join(LIB, layer))) {
      const text = code(await Deno.readTextFile(path));
      for (const [pattern, what] of FORBIDDEN_IN_PURE) {
        if (pattern.test(text)) problems.push(`${relative(LIB, path)} uses ${what}`);
      }
    }
  }
  assertEquals(problems, []);
});

Deno.test("lib/ layers import downwards only", async () => {
  const problems: string[] = [];
  for await (const path of walk(LIB)) {
    const rel = relative(LIB, path);
    const own = RANK[layerOf(rel)];
    if (own === undefined) continue;
    const text = await Deno.readTextFile(path);
    for (const m of text.matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)) {
      const spec = m[1]!;
      if (!spec.startsWith(".")) continue;
      const target = relative(LIB, join(path, "..", spec));
      const rank = RANK[layerOf(target)];
      if (rank !== undefined && rank > own) problems.push(`${rel} imports ${target}`);
    }
  }
  assertEquals(problems, []);
});

Deno.test("no source file passes 500 lines", async () => {
  const long: string[] = [];
  for (const dir of ["lib", "scripts", "tests"]) {
    for await (const path of walk(join(ROOT, dir))) {
      const lines = (await Deno.readTextFile(path)).split("\n").length - 1;
      if (lines > MAX_FILE_LINES) long.push(`${relative(ROOT, path)}: ${lines} lines`);
    }
  }
  assertEquals(long, [], "split these along a seam (CONTRIBUTING.md)");
});
