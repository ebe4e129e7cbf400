/**
 * The interactive interface from start to finish: shows tor's bootstrap,
 * starts the peer (through the caller's `start`, so this module knows
 * nothing of flags or tor modes), runs the {@linkcode Repl}, and shuts down
 * cleanly on `/quit`, Ctrl-C, Ctrl-D or SIGTERM/SIGHUP: the core closes
 * (presence sent, state saved), tor stops, the history is saved and the
 * terminal is restored. While it runs, whatever a module writes through
 * `console` becomes a quiet `console` warning of the REPL (`/warnings`),
 * never text beside the prompt. Resolves with the exit status; exits the process
 * itself only on a signal (SIGINT while starting, SIGTERM/SIGHUP).
 *
 * Passphrases (README.md, "Flags"):
 * a peer created with `newPassphrase` asks for one twice (prompts.ts); an
 * encrypted peer started without one (the store says `passphrase_required`)
 * asks "Passphrase for <name>:" and retries up to
 * {@linkcode PASSPHRASE_TRIES} times on `bad_passphrase` (each failed start
 * has released the peer's lock). Asking needs a terminal: with piped input
 * the start fails with a message naming `$UNMESSAGE_PASSPHRASE`.
 *
 * @module
 */

import { join } from "node:path";
import { PASSPHRASE_ENV } from "../app/cli_args.ts";
import { errorMessage, isUnmessageError, UnmessageError } from "../errors.ts";
import { guardedSink } from "../peer/sink.ts";
import type { CommandPeer, EventSink } from "../peer/types.ts";
import type { RunningPeer } from "../runtime.ts";
import { peerPaths } from "../store/paths.ts";
import { HISTORY_FILE, loadHistory, saveHistory } from "./history.ts";
import { errorLine, notice, sanitizeLines } from "./render.ts";
import { END_FLUSH_TIMEOUT_MS, Repl } from "./repl.ts";
import { bounded } from "../deadline.ts";
import { askNewPassphrase, askPassphrase, type TerminalAsk, terminalAsk } from "./prompts.ts";
import {
  captureConsole,
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
  /** The configuration folder (`--config-dir`). */
  configRoot: string;
  /** Starts the peer with the given event sink and passphrase (see `startPeer`). */
  start: (events: EventSink, passphrase?: string) => Promise<RunningPeer>;
  /** The passphrase given beforehand (environment); when set, none is asked. */
  passphrase?: string;
  /** True to create the peer encrypted: a new passphrase is asked twice. */
  newPassphrase?: boolean;
  /** Default: the process's terminal. */
  terminal?: Terminal;
  /** Default: SIGTERM/SIGHUP of the process. */
  onTermination?: (handler: () => void) => () => void;
  /** Default: SIGINT while starting (before raw mode takes Ctrl-C as a key). */
  onStartInterrupt?: (handler: () => void) => () => void;
  /** Default: the process's `console` (see the module header). */
  captureConsole?: (handler: (text: string) => void) => () => void;
}

/** Exit statuses (as `main.ts`). */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
/** Status after an interrupted start (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

/** Passphrases tried for an encrypted peer before giving up. */
export const PASSPHRASE_TRIES = 3;

/** Starts the peer, asking for its passphrase when needed (see the module header). */
async function startUnlocked(
  o: InteractiveOptions,
  term: Terminal,
  events: EventSink,
  questions: TerminalAsk,
): Promise<RunningPeer> {
  const needTerminal = () => {
    if (term.isTTY) return;
    throw new UnmessageError(
      "passphrase_required",
      `${o.name} needs a passphrase and the input is not a terminal: set $${PASSPHRASE_ENV}`,
    );
  };
  let passphrase = o.passphrase;
  if (o.newPassphrase && passphrase === undefined) {
    needTerminal();
    passphrase = await askNewPassphrase(questions.ask, o.name, questions.say);
    if (passphrase === undefined) {
      throw new UnmessageError("no_passphrase", "no passphrase was chosen");
    }
  }
  try {
    return await o.start(events, passphrase);
  } catch (e) {
    if (passphrase !== undefined || !isUnmessageError(e, "passphrase_required")) throw e;
  }
  needTerminal();
  for (let attempt = 1; attempt <= PASSPHRASE_TRIES; attempt++) {
    const typed = await askPassphrase(questions.ask, o.name);
    if (typed === undefined) throw new UnmessageError("no_passphrase", "no passphrase was given");
    if (typed !== "") {
      try {
        return await o.start(events, typed);
      } catch (e) {
        if (!isUnmessageError(e, "bad_passphrase")) throw e;
      }
    }
    if (attempt < PASSPHRASE_TRIES) await questions.say("Wrong passphrase, try again");
  }
  throw new UnmessageError(
    "bad_passphrase",
    `wrong passphrase ${PASSPHRASE_TRIES} times; check it and start again`,
  );
}

/** Which words are names in use, for the history on disk. */
interface KnownNames {
  isName(word: string): boolean;
}

/** The names a command may take now: conversations and requests both ways. */
function namesInUse(peer: CommandPeer): Set<string> {
  return new Set([
    ...peer.conversations().map((c) => c.name),
    ...peer.inboundRequests().map((r) => r.name),
    ...peer.outboundRequests().map((r) => r.name),
  ]);
}

/** Runs the REPL for one peer; see the module header. */
export async function runInteractive(o: InteractiveOptions): Promise<number> {
  const term = o.terminal ?? denoTerminal();
  const historyPath = join(peerPaths(o.configRoot, o.name).dir, HISTORY_FILE);
  const history = await loadHistory(historyPath);
  let saving: Promise<void> = Promise.resolve();
  // the names in use when saving (set once the peer runs): other words in a name's place go
  const known: KnownNames = { isName: () => false };
  const save = (lines: readonly string[]) => {
    const copy = [...lines];
    saving = saving.then(() => saveHistory(historyPath, copy, known.isName)).catch(() => {
      // A history that cannot be written is not worth interrupting a chat.
    });
  };
  const repl = new Repl({ terminal: term, history, onHistory: save });
  // Once the REPL has ended (shutting down), a captured line is dropped.
  const toRepl = guardedSink(repl.onEvent);
  const undoConsole = (o.captureConsole ?? captureConsole)((message) => {
    void toRepl({ event: "warning", code: "console", message });
  });
  try {
    return await runRepl(o, term, repl, save, () => saving, known);
  } finally {
    undoConsole();
  }
}

async function runRepl(
  o: InteractiveOptions,
  term: Terminal,
  repl: Repl,
  save: (lines: readonly string[]) => void,
  saved: () => Promise<void>,
  known: KnownNames,
): Promise<number> {
  if (term.isTTY) await term.write(notice(repl.style, `Starting ${o.name}…\n`));

  // Until raw mode, Ctrl-C is a signal: give up starting (tor dies with us).
  let interrupted = false;
  const undoStart = (o.onStartInterrupt ?? onInterruptSignal)(() => {
    interrupted = true;
    void bounded(term.write("\nInterrupted\n"), END_FLUSH_TIMEOUT_MS)
      .then(() => exitProcess(EXIT_INTERRUPTED));
  });
  let running: RunningPeer;
  const questions = terminalAsk(term, repl.style);
  try {
    running = await startUnlocked(o, term, repl.onEvent, questions);
  } catch (e) {
    questions.close();
    undoStart();
    // The reason may quote tor (or whatever answers on its control port): no escapes.
    const why = sanitizeLines(errorMessage(e));
    await term.write(`\r\n${errorLine(repl.style, `Cannot start ${o.name}: ${why}`)}\n`);
    return EXIT_FAILURE;
  }
  questions.close();
  undoStart();
  if (interrupted) return EXIT_INTERRUPTED;

  repl.attach(running.peer, running.identity);
  known.isName = (word) => namesInUse(running.peer).has(word);
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      // A terminal that does not read (its output blocked) must not hold the stop up.
      await bounded(term.write(`${notice(repl.style, "Shutting down…")}\n`), END_FLUSH_TIMEOUT_MS);
      await running.stop();
      await saved();
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
  await bounded(term.write(`${notice(repl.style, "Bye")}\n`), END_FLUSH_TIMEOUT_MS);
  return EXIT_OK;
}
