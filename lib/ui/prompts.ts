/**
 * The REPL's dialogs, asked on the input line itself (no second reader on
 * the terminal): a hidden secret for `/auth` (nothing typed is echoed, not
 * even its length, and it never enters the history) and a yes/no
 * confirmation for `/delete`. Ctrl-C or Ctrl-D cancels either.
 *
 * @module
 */

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
