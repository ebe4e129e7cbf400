/**
 * Why tor is stuck, in plain words, and what the user can do about it. Tor
 * reports bootstrap problems as `WARN BOOTSTRAP ... REASON=<keyword>`
 * (control-spec §4.1.10, the reasons of ORCONN §4.1.3); this module turns a
 * reason into a sentence ({@linkcode explainProblem}; while tor connects to
 * the upstream proxy, the sentence names the proxy) and, once bootstrap has
 * made no progress for a while, gives the likely causes and the flags that
 * address them ({@linkcode stallAdvice}). Pure: no I/O; the caller passes
 * the time and how this tor is configured.
 *
 * @module
 */

import type { BootstrapStatus } from "./control_parse.ts";

/** Default time without bootstrap progress after which the user is advised. */
export const BOOTSTRAP_STALL_MS = 45_000;

/** Plain words for tor's problem keywords (ORCONN reasons, control-spec §4.1.3). */
const REASONS: Readonly<Record<string, string>> = {
  CONNECTREFUSED: "the relay or bridge refused the connection (it is down, or the connection " +
    "is blocked on the way)",
  NOROUTE: "there is no route to the Tor network (this computer seems to be offline, or a " +
    "firewall drops the connection)",
  TIMEOUT: "connections to the Tor network time out (a firewall or censor may be dropping them)",
  CONNECTRESET: "the connection was reset during the handshake (a censor may be blocking Tor)",
  DONE: "the connection was closed before the handshake finished (a censor may be blocking " +
    "Tor, or a bridge line is wrong)",
  IDENTITY: "a relay or bridge answered with another identity than expected (a bridge line's " +
    "fingerprint is wrong or out of date, or someone is in the middle)",
  IOERROR: "a network error broke the connection to the Tor network",
  RESOURCELIMIT: "this computer ran out of resources (open files, memory) for connections",
  PT_MISSING: "the pluggable transport program for the bridges is missing or failed to start",
};

/**
 * The same keywords when tor was connecting to the upstream proxy (bootstrap
 * tags `conn_proxy`, `conn_done_proxy`): then it is the proxy that refused or
 * did not answer, not a relay, and the address tor names is the relay it
 * wanted to reach through it.
 */
const PROXY_REASONS: Readonly<Record<string, string>> = {
  CONNECTREFUSED: "the proxy refused the connection (is it running, and are its address and " +
    "port right?)",
  NOROUTE: "there is no route to the proxy (is its address right, and is this computer online?)",
  TIMEOUT: "the proxy does not answer (is its address right, or does a firewall drop the " +
    "connection?)",
  CONNECTRESET: "the proxy reset the connection (is it a SOCKS or HTTPS proxy, as its URL says?)",
  DONE: "the proxy closed the connection (does it need a user name and password, or refuse " +
    "this destination?)",
};

/** Whether a bootstrap report is about the upstream proxy (control-spec §5, bootstrap phases). */
function atProxy(status: BootstrapStatus): boolean {
  return status.tag === "conn_proxy" || status.tag === "conn_done_proxy";
}

/** How this tor reaches the network, for advice that fits. */
export interface TorSetup {
  /** launch: we configure tor (flags apply); attach: someone else's tor. */
  mode: "launch" | "attach";
  /** Bridges in use (their transport names, e.g. ["obfs4"]); empty: none. */
  bridges: readonly string[];
  /** The upstream proxy, as `host:port`, if one is set. */
  proxy?: string;
}

/**
 * Tor's problem in plain words ("Tor cannot connect: ..."), or `undefined`
 * for a report that is not a problem.
 */
export function explainProblem(status: BootstrapStatus): string | undefined {
  if (status.warning === undefined && status.reason === undefined) return undefined;
  const proxy = atProxy(status);
  const words = proxy ? PROXY_REASONS : REASONS;
  const known = status.reason !== undefined && Object.hasOwn(words, status.reason)
    ? words[status.reason]
    : undefined;
  const why = known ?? (status.warning ? `tor says "${status.warning}"` : "an unknown problem");
  const where = status.hostAddr
    ? proxy ? ` (on its way to ${status.hostAddr})` : ` (trying ${status.hostAddr})`
    : "";
  return `Tor cannot connect at ${status.progress}% (${status.summary}): ${why}${where}`;
}

/** What {@linkcode stallAdvice} returns. */
export interface StallAdvice {
  /** One sentence: how long nothing moved, where, and the last problem tor named. */
  message: string;
  /** What to check or try, most likely first. */
  advice: string[];
}

/** The advice once bootstrap has not moved for `stalledMs` (see the module header). */
export function stallAdvice(
  status: BootstrapStatus,
  stalledMs: number,
  setup: TorSetup,
  now: Date,
): StallAdvice {
  const seconds = Math.round(stalledMs / 1000);
  const problem = explainProblem(status);
  const message = `Tor has made no progress for ${seconds} s (stuck at ${status.progress}%: ` +
    `${status.summary})` + (problem ? `. ${problem}` : "");
  const advice: string[] = [];
  const proxyAdvice = setup.proxy === undefined ? undefined : `Check the proxy ${setup.proxy}: ` +
    "tor connects only through it" +
    (setup.mode === "launch" ? " (--no-proxy stops using it)." : ".");
  // Stuck at the proxy: that is the first thing to check.
  if (proxyAdvice !== undefined && atProxy(status)) advice.push(proxyAdvice);
  advice.push(
    "Check that this computer is online: can it open a web page?",
    `Check the clock, date and time zone: this computer says ${now.toISOString()} (UTC); ` +
      "tor cannot connect when the clock is off by more than a few hours.",
  );
  if (setup.mode === "attach") {
    advice.push(
      "This tor is not started by unMessage (--control-port): if Tor is blocked here, " +
        "configure bridges in its own torrc (UseBridges 1, ClientTransportPlugin, Bridge).",
    );
  } else if (setup.bridges.length === 0) {
    advice.push(
      "If Tor is blocked where you are, use bridges: start again with --bridges snowflake " +
        'or --bridges obfs4 (built in), or --bridge "<line>" with lines from ' +
        "https://bridges.torproject.org or from an email to bridges@torproject.org.",
    );
  } else {
    advice.push(
      `Your ${[...new Set(setup.bridges)].join(" and ")} bridges may be blocked or gone: ` +
        "try other ones (--bridges snowflake, --bridges obfs4, or fresh lines with --bridge), " +
        "or --no-bridges if Tor is not blocked here.",
    );
  }
  if (proxyAdvice !== undefined) {
    if (!atProxy(status)) advice.push(proxyAdvice);
  } else if (setup.mode === "launch") {
    advice.push(
      "If this network allows traffic only through a proxy, give it with " +
        "--proxy socks5://host:port or --proxy https://host:port.",
    );
  }
  // No command runs before the peer has started: the lines come with the advice.
  advice.push("Tor's own last messages come with this advice (once the peer runs, /tor-log).");
  return { message, advice };
}
