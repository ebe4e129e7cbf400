/**
 * The one definition of a TCP port (`lib/ports.ts`), as every layer checks
 * it: an integer from 1 to 65535, nothing else.
 */

import { assertEquals } from "./_assert.ts";
import { isPort, MAX_PORT, MIN_PORT } from "../lib/ports.ts";
import { MAX_PORT as ONION_MAX_PORT } from "../lib/protocol/handshake_data.ts";

Deno.test("isPort(): integers 1 to 65535 only", () => {
  assertEquals([MIN_PORT, MAX_PORT, ONION_MAX_PORT], [1, 65535, 65535]);
  for (const good of [1, 80, 50001, 65535]) assertEquals(isPort(good), true, String(good));
  for (const bad of [0, -1, 65536, 1.5, NaN, Infinity, "80", null, undefined]) {
    assertEquals(isPort(bad), false, String(bad));
  }
});
