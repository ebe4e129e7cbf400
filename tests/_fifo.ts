/**
 * A FIFO where a file is expected: what a reader of user-given files must
 * refuse at once (opening one blocks until a writer appears).
 *
 * @module
 */

import { assert } from "./_assert.ts";

/**
 * Runs `read` on a FIFO no one writes to: it must refuse at once, not wait for
 * a writer. If it hangs, the test fails after `ms` and then writes to the FIFO
 * itself so that the blocked open returns and nothing is left behind.
 */
export async function refusesFifo(
  read: (path: string) => Promise<unknown>,
  ms = 15_000,
): Promise<Error> {
  const dir = await Deno.makeTempDir({ prefix: "fifo_test" });
  const fifo = `${dir}/fifo`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert(made.success, "mkfifo failed");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reading = read(fifo).then(
    () => new Error("a FIFO was read as a file"),
    (e: Error) => e,
  );
  try {
    const outcome = await Promise.race([
      reading,
      new Promise<"hung">((r) => timer = setTimeout(() => r("hung"), ms)),
    ]);
    if (outcome === "hung") {
      // release the blocked open(2): a writer appears and goes at once
      (await Deno.open(fifo, { write: true })).close();
      await reading;
      throw new Error(`reading a FIFO hung for ${ms} ms instead of being refused`);
    }
    return outcome;
  } finally {
    clearTimeout(timer);
    await Deno.remove(dir, { recursive: true });
  }
}
