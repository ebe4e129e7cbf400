/**
 * unMessage: a serverless, peer-to-peer instant messenger over Tor onion
 * services. Entry point: parses flags and starts the chosen interface.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

const USAGE = `unMessage ${VERSION}: private, serverless instant messaging over Tor onion services

Usage:
  unmessage --name <name>     start (or create) the peer <name>
  unmessage                   relaunch the last interface and peer used
  unmessage --help            show this help
  unmessage --version         show the version
`;

if (import.meta.main) {
  const args = Deno.args;
  if (args.includes("--version") || args.includes("-V")) {
    console.log(`unmessage ${VERSION}`);
  } else {
    console.log(USAGE);
  }
}
