/**
 * The GitHub Actions workflows (issue 11 item 4) are valid and do what
 * README.md says: each file passes action-validator (a linter that checks
 * a workflow against the schema GitHub Actions accepts, from npm), and its
 * structure, parsed as YAML, is the one we rely on: CI runs `.ci/run` on
 * pushes and pull requests; a version tag runs those same tests, then
 * compiles every target, writes SHA-256 checksums and attaches the binaries
 * and SHA256SUMS to the release, with write access only where it publishes.
 *
 * @module
 */

import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";
import { assert, assertEquals } from "./_assert.ts";
import { versionText } from "../main.ts";

const DIR = new URL("../.github/workflows/", import.meta.url);

// deno-lint-ignore no-explicit-any
type Yaml = any;

async function load(name: string): Promise<{ text: string; doc: Yaml }> {
  const text = await Deno.readTextFile(new URL(name, DIR));
  return { text, doc: parse(text) };
}

/** The `run` scripts of a job's steps, joined. */
function runs(job: Yaml): string {
  return (job.steps ?? []).map((s: Yaml) => s.run ?? "").join("\n");
}

Deno.test("every workflow passes action-validator (GitHub Actions' workflow schema)", async () => {
  const names = [...Deno.readDirSync(DIR)].map((e) => e.name).sort();
  assertEquals(names, ["ci.yml", "release.yml"]);
  for (const name of names) {
    const { text } = await load(name);
    const result = validateWorkflow(text) as { errors: unknown[] };
    assertEquals(result.errors, [], `${name}: ${JSON.stringify(result.errors)}`);
  }
  // the linter is real: a misspelt key and a job without steps are caught
  const bad = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n";
  assert((validateWorkflow(bad) as { errors: unknown[] }).errors.length > 0);
});

Deno.test("ci.yml runs .ci/run on Debian 12 for pushes and pull requests, and can be called", async () => {
  const { doc } = await load("ci.yml");
  for (const event of ["push", "pull_request", "workflow_call"]) {
    assert(event in doc.on, `ci.yml does not run on ${event}`);
  }
  assertEquals(doc.permissions, { contents: "read" });
  const jobs = Object.values(doc.jobs) as Yaml[];
  assertEquals(jobs.length, 1);
  assertEquals(jobs[0].container, "debian:12");
  assert(/^bash \.ci\/run$/m.test(runs(jobs[0])), runs(jobs[0]));
  assert(jobs[0]["timeout-minutes"] <= 90, "longer than CI may take");
});

Deno.test("release.yml: on a version tag, the CI tests, then compile all targets, checksums, release", async () => {
  const { doc } = await load("release.yml");
  assertEquals(doc.on, { push: { tags: ["v*"] } });
  assertEquals(doc.permissions, { contents: "read" });
  assertEquals(doc.jobs.test.uses, "./.github/workflows/ci.yml");
  const build = doc.jobs.build;
  assertEquals(build.needs, "test");
  assertEquals(build.permissions, { contents: "write" });
  const script = runs(build);
  const order = [
    "deno task compile --target all",
    "--version",
    "sha256sum unmessage-* > SHA256SUMS",
    "gh release create",
  ].map((needle) => {
    const at = script.indexOf(needle);
    assert(at >= 0, `release.yml does not run ${needle}`);
    return at;
  });
  assertEquals([...order].sort((a, b) => a - b), order, "steps out of order");
  assert(script.includes("dist/unmessage-* dist/SHA256SUMS"), "binaries or checksums not attached");
  assert(script.includes("jq -r .version deno.json"), "the tag is not checked against the version");
  // the token only where the release is published
  const withToken = build.steps.filter((s: Yaml) => JSON.stringify(s).includes("github.token"));
  assertEquals(withToken.length, 1);
  assert(withToken[0].run.includes("gh release create"));
});

Deno.test("the release's --version check matches what a compiled build prints", async () => {
  const { doc } = await load("release.yml");
  const check = runs(doc.jobs.build);
  // the workflow expects "unmessage <version> (commit <sha>)"
  const printed = versionText({ commit: "0".repeat(40) });
  assert(/^unmessage \S+ \(commit 0{40}\)\n$/.test(printed), printed);
  assert(check.includes('"unmessage ${GITHUB_REF_NAME#v} (commit $GITHUB_SHA)"'), check);
});

Deno.test("workflows: actions pinned to a commit, no token left in .git/config, no ${{ }} in a script", async () => {
  for (const name of ["ci.yml", "release.yml"]) {
    const { doc } = await load(name);
    for (const [jobName, job] of Object.entries(doc.jobs) as [string, Yaml][]) {
      for (const step of job.steps ?? []) {
        if (typeof step.uses === "string" && !step.uses.startsWith("./")) {
          // a tag (v4) can be moved to other code; a commit cannot
          assert(
            /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/.test(step.uses),
            `${name} ${jobName}: ${step.uses}`,
          );
        }
        if (typeof step.uses === "string" && step.uses.startsWith("actions/checkout@")) {
          // else the job's GITHUB_TOKEN stays in .git/config for every later step
          assertEquals(step.with?.["persist-credentials"], false, `${name} ${jobName}: checkout`);
        }
        // an expression in a script is pasted into the shell before it runs
        assert(!/\$\{\{/.test(step.run ?? ""), `${name} ${jobName}: \${{ }} in a run script`);
      }
    }
  }
});
