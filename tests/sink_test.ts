/**
 * The one guard around an event sink (`lib/peer/sink.ts`): a throwing sink
 * does not reach the emitter, a rejecting sink's promise is still returned
 * (the core waits on it) and, ignored, is no unhandled rejection (Deno fails
 * a test that leaves one).
 */

import { assertEquals, assertRejects } from "./_assert.ts";
import { guardedSink } from "../lib/peer/sink.ts";
import type { PeerEvent } from "../lib/peer/types.ts";

const EVENT: PeerEvent = { event: "warning", code: "test", message: "hello" };

Deno.test("guardedSink(): a throwing sink does not throw at the emitter", () => {
  const seen: PeerEvent[] = [];
  const emit = guardedSink((e) => {
    seen.push(e);
    throw new Error("sink broke");
  });
  assertEquals(emit(EVENT), undefined);
  assertEquals(seen, [EVENT]);
});

Deno.test("guardedSink(): a rejecting sink's promise is returned, and harmless if ignored", async () => {
  const emit = guardedSink(() => Promise.reject(new Error("output closed")));
  void emit(EVENT); // ignored: no unhandled rejection
  await assertRejects(async () => await emit(EVENT), Error, "output closed");
  const shown = guardedSink(() => Promise.resolve())(EVENT);
  assertEquals(shown instanceof Promise, true);
  await shown;
});
