/**
 * The command line's mistakes, told from parseArgs' error codes and tokens
 * (`lib/app/cli_args.ts`), never from the wording of its messages: each
 * names the flag as typed and says what to do.
 */

import { assertThrows } from "./_assert.ts";
import { CliUsageError, parseCli } from "../lib/app/cli_args.ts";

const cases: [string[], string][] = [
  [["--nmae", "x"], "Unknown option --nmae; did you mean --name?"],
  [["-nmae", "x"], "Unknown option -nmae; did you mean --name?"],
  [["--bogus=3"], "Unknown option --bogus"],
  [["-z"], "Unknown option -z"],
  [["--name"], "--name needs a value: --name <value>"],
  [["-name"], "--name needs a value: --name <value>"],
  [["--port"], "--port needs a value: --port <value>"],
  [["--name", "--json"], 'for one that starts with "-", write --name=<value>'],
  [["--json=1"], "--json takes no value"],
  [["--encrypt=yes"], "--encrypt takes no value"],
];

Deno.test("parseCli(): every parseArgs mistake is a CliUsageError naming the flag", () => {
  for (const [args, message] of cases) {
    const e = assertThrows(() => parseCli(args), CliUsageError, message);
    if (e.message.includes("'") || e.message.includes("\n")) {
      throw new Error(`node's wording leaked for ${args.join(" ")}: ${e.message}`);
    }
  }
});
