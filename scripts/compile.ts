/**
 * Builds the single unMessage executable with `deno compile`, for this
 * machine or for the release targets.
 *
 * ```sh
 * deno task compile                    # dist/unmessage for this machine
 * deno task compile --target all       # dist/unmessage-<target>[.exe] for every release target
 * deno task compile --target x86_64-apple-darwin
 * ```
 *
 * `deno compile` downloads Deno's `denort` runtime for each target from
 * Deno's servers; where that is not possible, set `DENORT_BIN` to a local
 * `denort` of the right target. The program needs nothing from the source
 * tree at run time (no dynamic imports, no files read from it).
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Targets of a release (`deno compile --target`). */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The `deno compile` arguments for one target (undefined: this machine). */
export function compileArgs(target: string | undefined, outDir = "dist"): string[] {
  const name = target === undefined
    ? "unmessage"
    : `unmessage-${target}${target.includes("windows") ? ".exe" : ""}`;
  return [
    "compile",
    "--allow-all",
    "--no-prompt",
    ...(target === undefined ? [] : ["--target", target]),
    "--output",
    `${outDir}/${name}`,
    "main.ts",
  ];
}

/** Which targets `--target` names; throws RangeError for an unknown one. */
export function selectTargets(value: string | undefined): (string | undefined)[] {
  if (value === undefined) return [undefined];
  if (value === "all") return [...TARGETS];
  if (!(TARGETS as readonly string[]).includes(value)) {
    throw new RangeError(`Unknown target ${value}; use all or one of: ${TARGETS.join(", ")}`);
  }
  return [value];
}

if (import.meta.main) {
  let targets: (string | undefined)[];
  try {
    const { values } = parseArgs({ options: { target: { type: "string" } }, strict: true });
    targets = selectTargets(values.target);
  } catch (e) {
    console.error(`compile: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(2);
  }
  for (const target of targets) {
    const args = compileArgs(target);
    console.error(`compile: deno ${args.join(" ")}`);
    const { code } = await new Deno.Command(Deno.execPath(), { args, stdin: "null" }).spawn()
      .status;
    if (code !== 0) {
      console.error(
        `compile: deno compile failed for ${target ?? "this machine"} (exit ${code}). ` +
          "If it could not download denort, set DENORT_BIN to a local denort binary.",
      );
      Deno.exit(code);
    }
  }
}
