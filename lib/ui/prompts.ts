/**
 * The interactive dialogs. The REPL's are asked on its input line (no
 * second reader on the terminal): a hidden secret for `/auth` (nothing typed
 * is echoed, not even its length, and it never enters the history) and a
 * yes/no confirmation for `/delete`. Before the REPL runs, the passphrase of
 * an encrypted peer (or a new one, typed twice) is asked by
 * {@linkcode terminalAsk}: the same line editor in hidden mode, reading the
 * terminal itself until the REPL takes it over. Ctrl-C or Ctrl-D cancels
 * any of them.
 *
 * @module
 */

import type { Key } from "./keys.ts";
import { KeyDecoder } from "./keys.ts";
import { CLEAR_ROW, LineEditor } from "./line_editor.ts";
import { notice, paint, type Style } from "./render.ts";
import type { Terminal } from "./terminal.ts";
import { textWidth } from "./width.ts";

/** Asks one question on the input line; undefined when cancelled. */
export type Ask = (question: string, options: { hidden: boolean }) => Promise<string | undefined>;

/** Asks for the `/auth` secret; undefined when cancelled or left empty. */
export async function askSecret(ask: Ask, name: string): Promise<string | undefined> {
  const secret = await ask(`Secret shared with ${name} (hidden, Enter to send): `, {
    hidden: true,
  });
  return secret === undefined || secret.trim() === "" ? undefined : secret;
}

/** Answers accepted as yes. */
const YES = new Set(["y", "yes"]);

/** Asks to confirm deleting a conversation; true only for an explicit yes. */
export async function confirmDelete(ask: Ask, name: string): Promise<boolean> {
  const answer = await ask(
    `Delete the conversation with ${name} and its keys? This cannot be undone [y/N] `,
    { hidden: false },
  );
  return answer !== undefined && YES.has(answer.trim().toLowerCase());
}

/** Tries at choosing a new passphrase (empty or mismatched) before giving up. */
export const NEW_PASSPHRASE_TRIES = 3;

/**
 * Asks for a new passphrase twice, hidden; an empty one or a mismatch is
 * refused and asked again, up to {@linkcode NEW_PASSPHRASE_TRIES} times.
 * Undefined when cancelled or when every try failed.
 */
export async function askNewPassphrase(
  ask: Ask,
  name: string,
  say: (text: string) => Promise<void>,
): Promise<string | undefined> {
  for (let attempt = 1; attempt <= NEW_PASSPHRASE_TRIES; attempt++) {
    const first = await ask(`New passphrase for ${name} (hidden): `, { hidden: true });
    if (first === undefined) return undefined;
    if (first === "") {
      await say("The passphrase cannot be empty");
      continue;
    }
    const again = await ask(`Type it again: `, { hidden: true });
    if (again === undefined) return undefined;
    if (again === first) return first;
    await say("The two passphrases differ");
  }
  return undefined;
}

/** Asks for an encrypted peer's passphrase, hidden; undefined when cancelled. */
export function askPassphrase(ask: Ask, name: string): Promise<string | undefined> {
  return ask(`Passphrase for ${name}: `, { hidden: true });
}

/** Questions asked on the terminal before the REPL reads it. */
export interface TerminalAsk {
  /** Asks one question (raw keys on a TTY, so a hidden answer is never echoed). */
  ask: Ask;
  /** Prints a notice line. */
  say(text: string): Promise<void>;
  /** Gives the terminal's input back (keys typed ahead of it are dropped). */
  close(): void;
}

/**
 * Asks questions on `term` with the REPL's line editor: the prompt is
 * drawn, a hidden answer shows nothing while typed and `(hidden)` once
 * entered. The input is read only while a question waits.
 */
export function terminalAsk(term: Terminal, style: Style): TerminalAsk {
  const decoder = new KeyDecoder();
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let queued: Key[] = [];
  let ended = false;
  const nextKey = async (): Promise<Key | undefined> => {
    while (queued.length === 0) {
      if (ended) return undefined;
      reader ??= term.input.getReader();
      try {
        const { value, done } = await reader.read();
        if (done) ended = true;
        else queued = decoder.push(value);
      } catch {
        ended = true; // the terminal went away: as at end of input
      }
    }
    return queued.shift();
  };
  const ask: Ask = async (question, { hidden }) => {
    const editor = new LineEditor();
    editor.hidden = hidden;
    const prompt = paint(style, "yellow", question);
    const draw = () => term.write(editor.render(prompt, textWidth(question), term.columns()));
    const done = async (answer: string | undefined) => {
      const shown = hidden ? (answer === undefined ? "(cancelled)" : "(hidden)") : answer ?? "";
      await term.write(`${CLEAR_ROW}${prompt}${shown}\r\n`);
      return answer;
    };
    term.setRaw(true);
    try {
      await draw();
      for (;;) {
        const key = await nextKey();
        if (key === undefined) return await done(undefined);
        const action = editor.handle(key);
        if (action.kind === "submit") return await done(action.line);
        if (action.kind === "interrupt" || action.kind === "eof") return await done(undefined);
        // hidden: the row stays as drawn, so not even the keystrokes show
        if (action.kind === "redraw" && !hidden) await draw();
      }
    } finally {
      term.setRaw(false);
    }
  };
  return {
    ask,
    say: (text) => term.write(`${notice(style, text)}\r\n`),
    close() {
      reader?.releaseLock();
      reader = undefined;
    },
  };
}
