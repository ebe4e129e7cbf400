/**
 * `unmessage --gui` from start to finish: starts the local web server
 * (`server.ts`) and the GUI application (`app.ts`), opens the browser (or,
 * with `--no-browser`, prints the address to open), starts the peer named
 * on the command line if it needs no passphrase typed, and waits until the
 * GUI quits (its Quit button, the `quit` command, SIGINT or SIGTERM): the
 * peer stops (tor with it), then the server. Resolves with the exit status.
 *
 * The address with the token is printed only when asked for (`--no-browser`)
 * or when no browser could be opened; diagnostics never contain it.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { EventSink } from "../peer/types.ts";
import type { RunningPeer, StoredPeer } from "../runtime.ts";
import { GuiApp } from "./app.ts";
import { openBrowser, type OpenFile } from "./open_browser.ts";
import { startGuiServer } from "./server.ts";

/** Options of {@linkcode runGui}. */
export interface RunGuiOptions {
  /** Peer to start at once, if any. */
  name?: string;
  /** `--encrypt`: a peer created here needs a passphrase. */
  encrypt: boolean;
  /** The passphrase from the environment. */
  envPassphrase?: string;
  /** Open the default browser (false: print the address). */
  openBrowser: boolean;
  /** How a peer is stored. */
  stored(name: string): Promise<StoredPeer>;
  /** The peers under the configuration root. */
  peers(): Promise<string[]>;
  /** Starts a peer with the flags' tor mode. */
  start(name: string, events: EventSink, passphrase?: string): Promise<RunningPeer>;
  /** Remembers the peer and the GUI as the last used. */
  remember(name: string): Promise<void>;
  /** Writes a line for the user (stdout). */
  say(line: string): Promise<void>;
  /** Diagnostics (stderr). */
  log(message: string): void;
  /** Default: SIGINT and SIGTERM of the process. */
  onSignal?: (handler: () => void) => () => void;
}

/** Exit status after a clean quit. */
const EXIT_OK = 0;

function processSignals(handler: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  return () => {
    for (const s of signals) Deno.removeSignalListener(s, handler);
  };
}

/** Runs the GUI; see the module header. */
export async function runGui(o: RunGuiOptions): Promise<number> {
  const app = new GuiApp({
    ...(o.name !== undefined ? { name: o.name } : {}),
    encrypt: o.encrypt,
    ...(o.envPassphrase !== undefined ? { envPassphrase: o.envPassphrase } : {}),
    stored: o.stored,
    peers: o.peers,
    start: o.start,
    remember: o.remember,
    log: o.log,
  });
  const server = startGuiServer({
    onSocket: (socket) => app.attach(socket),
    identitySvg: () => app.identitySvg(),
  });
  const undoSignals = (o.onSignal ?? processSignals)(() => void app.quit());
  let file: OpenFile | undefined;
  const local = `http://127.0.0.1:${server.port}/`;
  if (o.openBrowser) {
    try {
      file = await openBrowser(server.url);
      await o.say(`unMessage is open in your browser at ${local}`);
      await o.say(`If no window opened, open this file in your browser: ${file.path}`);
    } catch (e) {
      o.log(`Cannot open a browser: ${errorMessage(e)}`);
      await o.say(`Open this address in your browser: ${server.url}`);
    }
  } else {
    await o.say(`Open this address in your browser: ${server.url}`);
  }
  void app.autostart();
  await app.done;
  undoSignals();
  await server.close();
  await file?.remove();
  await o.say("Bye");
  return EXIT_OK;
}
