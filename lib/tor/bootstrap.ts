/**
 * Following tor's bootstrap over a control connection: the current phase
 * from `GETINFO status/bootstrap-phase` (control-spec §3.9), then each
 * `STATUS_CLIENT ... BOOTSTRAP` event (§4.1.10), reported to a callback as
 * `{ progress, tag, summary }` until 100%. Owns no connection: it subscribes
 * to a {@linkcode TorControl} and unsubscribes when done.
 *
 * @module
 */

import { deadline } from "../deadline.ts";
import type { TorControl } from "./control.ts";
import { BOOTSTRAP_DONE, type BootstrapStatus, parseBootstrapStatus } from "./control_parse.ts";
import { TorError } from "./errors.ts";

export type { BootstrapStatus } from "./control_parse.ts";
export { BOOTSTRAP_DONE } from "./control_parse.ts";

/** Default time for tor to reach 100% (public network, cold start). */
export const BOOTSTRAP_TIMEOUT_MS = 180_000;

/** Key of the current bootstrap phase in GETINFO (control-spec §3.9). */
const BOOTSTRAP_PHASE_KEY = "status/bootstrap-phase";

/** A running subscription made by {@linkcode watchBootstrap}. */
export interface BootstrapWatch {
  /** The phase tor reported when the watch started. */
  readonly initial: BootstrapStatus;
  /** The latest phase seen. */
  readonly latest: BootstrapStatus;
  /** Resolves when tor reports 100%; rejects if the connection closes first. */
  readonly done: Promise<BootstrapStatus>;
  /** Stops listening (idempotent). */
  stop(): void;
}

/**
 * Reports the current phase, then every change, to `onProgress` (repeats of
 * the same progress, tag, warning and reason are not reported twice). Enables STATUS_CLIENT
 * events in addition to those already enabled.
 */
export async function watchBootstrap(
  control: TorControl,
  onProgress: (status: BootstrapStatus) => void = () => {},
): Promise<BootstrapWatch> {
  let latest: BootstrapStatus | undefined;
  let resolveDone!: (s: BootstrapStatus) => void;
  let rejectDone!: (e: TorError) => void;
  const done = new Promise<BootstrapStatus>((res, rej) => [resolveDone, rejectDone] = [res, rej]);
  done.catch(() => {}); // Callers that never await `done` must not see an unhandled rejection.
  const report = (status: BootstrapStatus) => {
    const changed = latest === undefined || latest.progress !== status.progress ||
      latest.tag !== status.tag || latest.warning !== status.warning ||
      latest.reason !== status.reason;
    latest = status;
    if (changed) {
      try {
        onProgress(status);
      } catch {
        // A failing callback must not stop the watch.
      }
    }
    if (status.progress >= BOOTSTRAP_DONE) resolveDone(status);
  };
  // Subscribe before asking, so no event between the two is lost.
  const offEvent = control.onEvent("STATUS_CLIENT", (event) => {
    let status: BootstrapStatus | undefined;
    try {
      status = parseBootstrapStatus(event.text);
    } catch {
      return; // A malformed status event is dropped.
    }
    if (status) report(status);
  });
  const offClose = control.onClose((reason) => rejectDone(reason));
  const stop = () => {
    offEvent();
    offClose();
  };
  try {
    await control.addEvents("STATUS_CLIENT");
    const phase = (await control.getInfo(BOOTSTRAP_PHASE_KEY)).get(BOOTSTRAP_PHASE_KEY) ?? "";
    const initial = parseBootstrapStatus(phase);
    if (!initial) {
      throw new TorError("control_malformed", "Tor's bootstrap phase is not a BOOTSTRAP status");
    }
    // An event may already have moved us past the phase GETINFO returned.
    if (latest === undefined || latest.progress < initial.progress) report(initial);
    return {
      initial,
      get latest() {
        return latest ?? initial;
      },
      done,
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}

/** Options of {@linkcode waitForBootstrap}. */
export interface WaitForBootstrapOptions {
  /** Default {@linkcode BOOTSTRAP_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Called with each phase (see {@linkcode watchBootstrap}). */
  onProgress?: (status: BootstrapStatus) => void;
}

/**
 * Resolves with the final status once tor is 100% bootstrapped. Rejects with
 * `bootstrap_timeout` (naming the last phase) or `control_closed`.
 */
export async function waitForBootstrap(
  control: TorControl,
  options: WaitForBootstrapOptions = {},
): Promise<BootstrapStatus> {
  const timeoutMs = options.timeoutMs ?? BOOTSTRAP_TIMEOUT_MS;
  const watch = await watchBootstrap(control, options.onProgress);
  try {
    return await deadline(watch.done, timeoutMs, () => {
      const last = watch.latest;
      throw new TorError(
        "bootstrap_timeout",
        `Tor did not finish bootstrapping within ${timeoutMs} ms ` +
          `(stuck at ${last.progress}%: ${last.summary}${last.warning ? `; ${last.warning}` : ""})`,
      );
    });
  } finally {
    watch.stop();
  }
}
