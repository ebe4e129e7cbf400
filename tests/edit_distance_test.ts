/**
 * The one "did you mean" rule (`closestName` in `lib/edit_distance.ts`), as
 * commands, flags and peer names all use it: a typo or two, never more than
 * half the typed word, a prefix preferred, case folded.
 */

import { assertEquals, assertThrows } from "./_assert.ts";
import { closestName, MAX_SUGGESTION_DISTANCE } from "../lib/edit_distance.ts";
import { suggestCommand } from "../lib/ui/commands.ts";
import { CliUsageError, parseCli } from "../lib/app/cli_args.ts";

Deno.test("closestName(): within the distance bound and half the word; a prefix wins", () => {
  assertEquals(MAX_SUGGESTION_DISTANCE, 2);
  assertEquals(closestName("alcie", ["bob", "alice"]), "alice"); // a swap: 1
  assertEquals(closestName("ALICE", ["alice"]), "alice"); // case folded
  assertEquals(closestName("ali", ["bob", "alice"]), "alice"); // a prefix: half an edit
  assertEquals(closestName("pres-of", ["pres-on", "pres-off"]), "pres-off"); // prefix beats 1
  assertEquals(closestName("bxx", ["bob"]), undefined); // 2 edits of 3 letters: too far
  assertEquals(closestName("abcdefgh", ["abcdexyz"]), undefined); // 3 edits: too far
  assertEquals(closestName("abcdefgh", ["abcdefyz"]), "abcdefyz"); // 2 edits of 8 letters
  assertEquals(closestName("zed", []), undefined);
});

Deno.test("commands and flags follow the same rule as names", () => {
  // 3 edits were once enough for a command; now no command nor flag is 3 away
  assertEquals(suggestCommand("reqzzzcept"), undefined);
  assertEquals(suggestCommand("Convz"), "convs");
  assertThrows(() => parseCli(["--NAME", "x"]), CliUsageError, "did you mean --name?");
  assertThrows(() => parseCli(["--nzzz", "x"]), CliUsageError, "Unknown option --nzzz");
});
