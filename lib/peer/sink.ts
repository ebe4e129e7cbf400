/**
 * The one guard around an {@linkcode EventSink}: a sink that throws, or whose
 * promise rejects, must not break whoever emits (the core, the runtime, the
 * console capture). The guarded sink still returns the sink's promise, so a
 * caller that waits until an event is shown (the core, before it
 * acknowledges a message) can, and one that ignores it leaves no unhandled
 * rejection.
 *
 * @module
 */

import type { EventSink } from "./types.ts";

/** `sink`, made safe to call: its throw is dropped, its rejection handled. */
export function guardedSink(sink: EventSink): EventSink {
  return (event) => {
    let shown: void | Promise<void>;
    try {
      shown = sink(event);
    } catch {
      return; // the sink's problem
    }
    if (shown instanceof Promise) shown.catch(() => {});
    return shown;
  };
}
