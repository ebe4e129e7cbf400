/**
 * The GUI's flags and how it opens a browser: `--gui` and `--no-browser`
 * parse (and cannot be mixed with `--json`), the browser command for each
 * system (with `$BROWSER` first), and the redirect file that carries the
 * token: readable by its owner only, the address escaped, never a script.
 *
 * @module
 */

import { dirname } from "node:path";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { CliUsageError, parseCli, usageText } from "../lib/app/cli_args.ts";
import { browserCommand, writeOpenFile } from "../lib/gui/open_browser.ts";

Deno.test("--gui and --no-browser parse; with --json they are a usage mistake", () => {
  const o = parseCli(["--gui", "--no-browser", "--name", "alice"]);
  assertEquals([o.gui, o.noBrowser, o.name, o.json], [true, true, "alice", false]);
  assertEquals(parseCli(["-gui"]).gui, true);
  assertEquals(parseCli([]).gui, false);
  for (const bad of [["--gui", "--json"], ["--json", "--no-browser"]]) {
    assertThrows(() => parseCli(bad), CliUsageError, "--json");
  }
  assert(usageText("0").includes("--gui") && usageText("0").includes("--no-browser"));
});

Deno.test("the browser command: $BROWSER first, then the system's opener", () => {
  assertEquals(browserCommand("file:///x", "linux", undefined), ["xdg-open", "file:///x"]);
  assertEquals(browserCommand("file:///x", "darwin", undefined), ["open", "file:///x"]);
  assertEquals(browserCommand("C:\\x", "windows", undefined), [
    "cmd",
    "/c",
    "start",
    '""',
    "C:\\x",
  ]);
  assertEquals(browserCommand("file:///x", "linux", "firefox"), ["firefox", "file:///x"]);
  assertEquals(browserCommand("file:///x", "linux", " "), ["xdg-open", "file:///x"]);
});

Deno.test("the redirect file is private, escapes the address and holds no script", async () => {
  const url = `http://127.0.0.1:1234/?token=abc"><script>x</script>`;
  const file = await writeOpenFile(url);
  try {
    const html = await Deno.readTextFile(file.path);
    assertEquals((await Deno.stat(file.path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(dirname(file.path))).mode! & 0o777, 0o700);
    assert(!html.includes("<script>") && html.includes("&#34;&#62;&#60;script&#62;"), html);
    assert(html.includes('http-equiv="refresh"') && html.includes("no-referrer"));
  } finally {
    await file.remove();
  }
  assertThrows(() => Deno.statSync(file.path));
});
