/**
 * The one save-or-undo shape (`lib/peer/transaction.ts`): a change that did
 * not reach the disk is undone in memory and its save error reaches the
 * caller; a saved change is kept.
 */

import { assertEquals, assertRejects } from "./_assert.ts";
import { saveOrUndo } from "../lib/peer/transaction.ts";

Deno.test("saveOrUndo(): a failed save is undone and thrown; a good one is kept", async () => {
  const memory = ["a"];
  memory.push("b");
  await assertRejects(
    () => saveOrUndo(() => Promise.reject(new Error("disk full")), () => memory.pop()),
    Error,
    "disk full",
  );
  assertEquals(memory, ["a"]);
  memory.push("c");
  let undone = false;
  await saveOrUndo(() => Promise.resolve(), () => undone = true);
  assertEquals([memory, undone], [["a", "c"], false]);
});
