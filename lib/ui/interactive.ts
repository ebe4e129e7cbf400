/**
 * The interactive interface from start to finish: shows tor's bootstrap,
 * starts the peer (through the caller's `start`, so this module knows
 * nothing of flags or tor modes), runs the {@linkcode Repl}, and shuts down
 * cleanly on `/quit`, Ctrl-C, Ctrl-D or SIGTERM/SIGHUP: the core closes
 * (presence sent, state saved), tor stops, the history is saved and the
 * terminal is restored. Resolves with the exit status; exits the process
 * itself only on a signal (SIGINT while starting, SIGTERM/SIGHUP).
 *
 * @module
 */

import { join } from "node:path";
import type { EventSink } from "../peer/types.ts";
import type { RunningPeer } from "../runtime.ts";
import { peerPaths } from "../store/paths.ts";
import { HISTORY_FILE, loadHistory, saveHistory } from "./history.ts";
import { errorLine, notice } from "./render.ts";
import { Repl } from "./repl.ts";
import {
  denoTerminal,
  exitProcess,
  onInterruptSignal,
  onTerminationSignal,
  type Terminal,
} from "./terminal.ts";

/** Options of {@linkcode runInteractive}. */
export interface InteractiveOptions {
  /** The peer's name and the configuration root (for the history file). */
  name: string;
  configRoot: string;
  /** Starts the peer with the given event sink (see `startPeer`). */
  start: (events: EventSink) => Promise<RunningPeer>;
  /** Default: the process's terminal. */
  terminal?: Terminal;
  /** Default: SIGTERM/SIGHUP of the process. */
  onTermination?: (handler: () => void) => () => void;
  /** Default: SIGINT while starting (before raw mode takes Ctrl-C as a key). */
  onStartInterrupt?: (handler: () => void) => () => void;
}

/** Exit statuses (as `main.ts`). */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
/** Status after an interrupted start (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

/** Runs the REPL for one peer; see the module header. */
export async function runInteractive(o: InteractiveOptions): Promise<number> {
  const term = o.terminal ?? denoTerminal();
  const historyPath = join(peerPaths(o.configRoot, o.name).dir, HISTORY_FILE);
  const history = await loadHistory(historyPath);
  let saving: Promise<void> = Promise.resolve();
  const save = (lines: readonly string[]) => {
    const copy = [...lines];
    saving = saving.then(() => saveHistory(historyPath, copy)).catch(() => {
      // A history that cannot be written is not worth interrupting a chat.
    });
  };
  const repl = new Repl({ terminal: term, history, onHistory: save });
  if (term.isTTY) await term.write(notice(repl.style, `Starting ${o.name}…\n`));

  // Until raw mode, Ctrl-C is a signal: give up starting (tor dies with us).
  let interrupted = false;
  const undoStart = (o.onStartInterrupt ?? onInterruptSignal)(() => {
    interrupted = true;
    void term.write("\nInterrupted\n").then(() => exitProcess(EXIT_INTERRUPTED));
  });
  let running: RunningPeer;
  try {
    running = await o.start(repl.onEvent);
  } catch (e) {
    undoStart();
    const why = e instanceof Error ? e.message : String(e);
    await term.write(`\r\n${errorLine(repl.style, `Cannot start ${o.name}: ${why}`)}\n`);
    return EXIT_FAILURE;
  }
  undoStart();
  if (interrupted) return EXIT_INTERRUPTED;

  repl.attach(running.peer, running.identity);
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await term.write(`${notice(repl.style, "Shutting down…")}\n`);
      await running.stop();
      await saving;
    })();
  const undoTerm = (o.onTermination ?? onTerminationSignal)(() => {
    term.setRaw(false);
    void shutdown().then(() => exitProcess(EXIT_OK));
  });
  try {
    await repl.run();
  } finally {
    term.setRaw(false);
    undoTerm();
  }
  save(repl.history);
  await shutdown();
  await term.write(`${notice(repl.style, "Bye")}\n`);
  return EXIT_OK;
}
