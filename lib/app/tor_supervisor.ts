/**
 * The supervised tor modes (launch and attach) as one {@linkcode TorStrategy}:
 * it reaches tor through a {@linkcode TorSource}, reports bootstrap, publishes
 * the onion service with the peer's key (virtual port → listener port) and
 * tor's own defences ({@linkcode ONION_SERVICE_DEFENCES}), waits
 * (bounded) for the first descriptor upload, and then watches tor. When tor
 * goes away (the one we launched dies, or the one we attached to closes its
 * control port) it reports a `tor` event, reconnects with back-off, publishes
 * the same onion again and swaps the core's transport (`TorLink`) over to
 * the new tor, so the core never notices more than failed dials meanwhile.
 * `stop()` also ends a tor still being started (the first or a restart):
 * it closes that tor's control connection and waits, bounded, until it is
 * gone, so no tor outlives the stop.
 *
 * @module
 */

import { torKeyBlob } from "../crypto/onion.ts";
import { bounded, delay } from "../deadline.ts";
import { errorMessage, isUnmessageError } from "../errors.ts";
import type { EventSink } from "../peer/types.ts";
import type { AddOnionOptions, OnionPort, TorControl } from "../tor/control.ts";
import type { BootstrapStatus } from "../tor/control_parse.ts";
import { BOOTSTRAP_STALL_MS, explainProblem, stallAdvice, type TorSetup } from "../tor/diagnose.ts";
import { isTorError, TorError } from "../tor/errors.ts";
import { TorLog } from "../tor/tor_log.ts";
import { TorLink } from "./tor_link.ts";
import type { ConnectedTor, OnionService, TorSource, TorStrategy } from "./tor_strategy.ts";

/** Bound on waiting for the first descriptor upload before `ready`. */
export const DESCRIPTOR_TIMEOUT_MS = 60_000;
/** Back-off between tor restart attempts: first delay, doubled each failure… */
export const TOR_RESTART_FIRST_DELAY_MS = 500;
/** …up to this cap. */
export const TOR_RESTART_MAX_DELAY_MS = 30_000;
/** Before tor reported any phase. */
const NO_STATUS: BootstrapStatus = { progress: 0, tag: "starting", summary: "Starting" };
/** Tor's last log lines given with the stall advice and a failed start's error. */
export const STALL_LOG_LINES = 8;
/** Bound on each step of stopping (here: remove the onion, let tor go; the runtime's steps too). */
export const STOP_STEP_TIMEOUT_MS = 10_000;

/**
 * Tor's own defences of our onion service, passed with ADD_ONION
 * (control-spec §3.27, tor-manual "Denial of service mitigation"):
 * - at most 8 streams open at once per rendezvous circuit, and a ninth
 *   closes that circuit (tor counts the streams open now, per circuit, and
 *   a circuit serves one client: a stranger cannot close a contact's). A
 *   contact's link uses one stream on its own circuit (and a redial may
 *   overlap it), so a stranger must pay for a new rendezvous circuit for
 *   every 8 connections it holds open at once; streams opened one after
 *   another on one circuit are not limited (the listener's admission is);
 * - the proof-of-work defence (tor 0.4.8+, `pow` module): under load tor
 *   asks clients for a puzzle and serves the hardest workers first. Its
 *   queue lets 25 rendezvous a second through (burst 100), far above what
 *   contacts need and what the listener accepts anyway (net/admission.ts),
 *   so tor raises the effort before we fall behind.
 * A tor without PoW refuses the keyword; {@linkcode addDefendedOnion} then
 * publishes without it and says so.
 */
export const ONION_SERVICE_DEFENCES: AddOnionOptions = {
  flags: ["MaxStreamsCloseCircuit"],
  maxStreams: 8,
  powDefenses: { queueRate: 25, queueBurst: 100 },
};

/**
 * ADD_ONION with {@linkcode ONION_SERVICE_DEFENCES}; a tor that refuses
 * the proof-of-work keywords (older than 0.4.8, or built without `pow`)
 * gets the same call without them, and `warn` is told.
 */
export async function addDefendedOnion(
  control: TorControl,
  keyBlob: string,
  ports: readonly OnionPort[],
  warn: (message: string) => void,
): Promise<string> {
  try {
    return await control.addOnion(keyBlob, ports, ONION_SERVICE_DEFENCES);
  } catch (e) {
    // 512 "Unrecognized keyword argument" from a tor before 0.4.8; any other
    // refusal is retried once too, and fails again if PoW was not the cause
    if (!isTorError(e, "control_reply")) throw e;
    const { flags, maxStreams } = ONION_SERVICE_DEFENCES;
    const serviceId = await control.addOnion(keyBlob, ports, {
      ...(flags !== undefined ? { flags } : {}),
      ...(maxStreams !== undefined ? { maxStreams } : {}),
    });
    warn(
      `This tor has no proof-of-work defence (${e.message}); the onion service runs without it. ` +
        "Tor 0.4.8 or later built with the pow module provides it",
    );
    return serviceId;
  }
}

/** Options of a {@linkcode SupervisedTor}. */
export interface SupervisedTorOptions {
  /** How to reach tor, on each (re)start. */
  source: TorSource;
  /** Where `bootstrap`, `tor` and `warning` events go (never throws). */
  emit: EventSink;
  /** Default {@linkcode DESCRIPTOR_TIMEOUT_MS}. */
  descriptorTimeoutMs?: number;
  /** Bridges and proxy of a launched tor, for advice that fits (default none). */
  network?: Omit<TorSetup, "mode">;
  /** Time without bootstrap progress before `bootstrap-stalled`; default {@linkcode BOOTSTRAP_STALL_MS}. */
  stallMs?: number;
  /** Clock (default Date.now). */
  now?: () => number;
}

/** A launched or attached tor, kept alive; see the module header. */
export class SupervisedTor implements TorStrategy {
  readonly #o: SupervisedTorOptions;
  readonly #link = new TorLink();
  readonly #log: TorLog;
  #tor: ConnectedTor | undefined;
  #service: OnionService | undefined;
  #serviceId: string | undefined;
  #stopping: Promise<void> | undefined;
  /** A (re)start under way: it settles once that tor is bootstrapped or gone. */
  #starting: Promise<unknown> | undefined;
  /** Its control connection, once authenticated (closing it stops a tor we launched). */
  #startingControl: TorControl | undefined;

  /** A supervisor that does nothing until `start`. */
  constructor(options: SupervisedTorOptions) {
    this.#o = options;
    this.#log = new TorLog(options.now);
  }

  /** Tor's recent log lines, across restarts (see `tor/tor_log.ts`). */
  get log(): TorLog {
    return this.#log;
  }

  #setup(): TorSetup {
    return { mode: this.#o.source.mode, bridges: [], ...this.#o.network };
  }

  get transport(): TorLink {
    return this.#link;
  }

  get torPid(): number | undefined {
    return this.#tor?.pid;
  }

  async start(service: OnionService): Promise<void> {
    this.#service = service;
    let tor: ConnectedTor;
    try {
      tor = await this.#connect();
    } catch (e) {
      if (!isTorError(e, "bootstrap_timeout")) throw e;
      // The start fails: say once more what to do, in the error itself.
      const advice =
        stallAdvice(this.#lastStatus ?? NO_STATUS, 0, this.#setup(), this.#date()).advice;
      const lines = this.#log.recent(STALL_LOG_LINES).map((l) => `  ${l.severity} ${l.text}`);
      const log = lines.length > 0 ? `\nTor's last messages:\n${lines.join("\n")}` : "";
      throw new TorError("bootstrap_timeout", `${e.message}\n- ${advice.join("\n- ")}${log}`, {
        cause: e,
      });
    }
    this.#tor = tor;
    await this.#publish(tor, true);
    this.#supervise(tor);
  }

  #lastStatus: BootstrapStatus | undefined;

  #date(): Date {
    return new Date((this.#o.now ?? Date.now)());
  }

  /**
   * Reaches tor, reporting each bootstrap phase (with tor's problem in plain
   * words) and, whenever progress stops for `stallMs`, what to do.
   */
  async #connect(): Promise<ConnectedTor> {
    const emit = this.#o.emit;
    const stallMs = this.#o.stallMs ?? BOOTSTRAP_STALL_MS;
    let best = -1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const status = this.#lastStatus!;
        const { message, advice } = stallAdvice(status, stallMs, this.#setup(), this.#date());
        const last = this.#log.lastWarning()?.text;
        emit({
          event: "bootstrap-stalled",
          progress: status.progress,
          summary: status.summary,
          seconds: Math.round(stallMs / 1000),
          ...(status.reason !== undefined ? { reason: status.reason } : {}),
          message: last ? `${message}. Tor's last warning: ${last}` : message,
          advice,
          log: this.#log.recent(STALL_LOG_LINES),
        });
      }, stallMs);
    };
    const connecting = this.#o.source.connect({
      onProgress: (s) => {
        this.#lastStatus = s;
        if (s.progress > best) {
          best = s.progress;
          arm();
        }
        const problem = explainProblem(s);
        emit({
          event: "bootstrap",
          progress: s.progress,
          summary: s.summary,
          ...(s.warning !== undefined ? { warning: s.warning } : {}),
          ...(s.reason !== undefined ? { reason: s.reason } : {}),
          ...(problem !== undefined ? { problem } : {}),
        });
      },
      onControl: (control) => {
        // stop() came first: this tor must not go on (launchTor then kills it).
        if (this.#stopping) throw new TorError("stopped", "Stopping: this tor is not wanted");
        this.#startingControl = control;
        return this.#log.follow(control);
      },
    });
    this.#starting = connecting;
    try {
      return await connecting;
    } finally {
      clearTimeout(timer);
      this.#starting = undefined;
      this.#startingControl = undefined;
    }
  }

  /** ADD_ONION with our key, then a bounded wait for the descriptor upload. */
  async #publish(tor: ConnectedTor, first: boolean): Promise<void> {
    const service = this.#service!;
    const serviceId = await addDefendedOnion(tor.control, torKeyBlob(service.key.seed), [
      { virtualPort: service.virtualPort, target: service.listenerPort },
    ], (message) => this.#o.emit({ event: "warning", code: "pow_unavailable", message }));
    this.#serviceId = serviceId;
    this.#link.attach(tor.socksPort, tor.control);
    try {
      await tor.control.waitForDescriptorUpload(
        serviceId,
        this.#o.descriptorTimeoutMs ?? DESCRIPTOR_TIMEOUT_MS,
      );
    } catch (e) {
      // Contacts cannot reach us until it is uploaded, but we can reach them.
      if (isUnmessageError(e, "descriptor_timeout")) {
        this.#o.emit({ event: "warning", code: "descriptor_timeout", message: e.message });
      } else if (first) {
        throw e;
      }
    }
  }

  /** Watches tor and brings it back when it goes away. */
  #supervise(tor: ConnectedTor): void {
    void tor.gone.then(async (why) => {
      if (this.#stopping || this.#tor !== tor) return;
      this.#link.detach();
      this.#o.emit({ event: "tor", state: "exited", message: why });
      await bounded(tor.close(), STOP_STEP_TIMEOUT_MS);
      await this.#restart();
    });
  }

  async #restart(): Promise<void> {
    const emit = this.#o.emit;
    let wait = TOR_RESTART_FIRST_DELAY_MS;
    for (let attempt = 1; !this.#stopping; attempt++) {
      emit({ event: "tor", state: "restarting", message: `Restarting tor (attempt ${attempt})` });
      await delay(wait);
      if (this.#stopping) return;
      let tor: ConnectedTor | undefined;
      try {
        tor = await this.#connect();
        if (this.#stopping) {
          // stop() began while this tor was starting: it only knows the dead one.
          await bounded(tor.close(), STOP_STEP_TIMEOUT_MS);
          return;
        }
        this.#tor = tor;
        await this.#publish(tor, false);
        this.#supervise(tor);
        emit({
          event: "tor",
          state: "restarted",
          message: "Tor is back; onion service published again",
        });
        return;
      } catch (e) {
        if (tor) await bounded(tor.close(), STOP_STEP_TIMEOUT_MS);
        if (this.#stopping) return; // stop() ended this start: not a failure
        emit({ event: "tor", state: "failed", message: `Cannot restart tor: ${errorMessage(e)}` });
        wait = Math.min(wait * 2, TOR_RESTART_MAX_DELAY_MS);
      }
    }
  }

  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    const tor = this.#tor;
    this.#link.detach();
    if (this.#starting) {
      // A tor being (re)started: closing its control connection makes one we
      // launched exit (it is owned) and ends the wait for an attached one.
      void this.#startingControl?.close();
      await bounded(this.#starting, STOP_STEP_TIMEOUT_MS);
    }
    if (!tor) return;
    if (this.#serviceId !== undefined && !tor.control.isClosed) {
      await bounded(tor.control.delOnion(this.#serviceId), STOP_STEP_TIMEOUT_MS);
    }
    await bounded(tor.close(), STOP_STEP_TIMEOUT_MS);
  }
}
