/**
 * Typed lines of the REPL → a command of the shared registry and its
 * argument strings. A command line starts with `/` (README.md, "Commands"). Word
 * arguments may be quoted (`"..."` with `\"` and `\\` escapes, or `'...'`
 * verbatim); the last, free-text argument (`/msg`'s text, `/auth`'s secret)
 * keeps its inner spacing, and is unquoted only when the whole of it is one
 * quoted string (`/auth bob "two words"` and `/auth bob two words` give the
 * same secret). Argument counts are checked by the registry's `parseArgs`.
 *
 * @module
 */

import { type Command, findCommand, UsageError } from "./commands.ts";

/** What a typed line is. */
export type ParsedLine =
  | { kind: "empty" }
  /** Text without a leading `/` (not a command). */
  | { kind: "text"; text: string }
  | { kind: "command"; command: Command; args: string[] };

/** One token read from the front of `text`. */
export interface Token {
  /** The word, unquoted and unescaped. */
  value: string;
  /** The text after the token (leading spaces removed). */
  rest: string;
  /** Whether it was written in quotes. */
  quoted: boolean;
}

/**
 * Reads one word (bare, or quoted) from the start of `text` (which has no
 * leading spaces). Returns undefined for an unterminated quote.
 */
export function readToken(text: string): Token | undefined {
  const q = text[0];
  if (q === '"' || q === "'") {
    let value = "";
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!;
      if (c === q) {
        const after = text.slice(i + 1);
        // A quote must end the word: `"a"b` is one word `ab`.
        if (after !== "" && !/^\s/.test(after)) {
          const next = readToken(after);
          if (!next) return undefined;
          return { value: value + next.value, rest: next.rest, quoted: true };
        }
        return { value, rest: after.trimStart(), quoted: true };
      }
      if (q === '"' && c === "\\" && i + 1 < text.length) {
        value += text[++i];
        continue;
      }
      value += c;
    }
    return undefined;
  }
  const m = /^([^\s"']+)([\s\S]*)$/.exec(text);
  if (!m) return undefined;
  const after = m[2]!;
  if (after.startsWith('"') || after.startsWith("'")) {
    const next = readToken(after);
    if (!next) return undefined;
    return { value: m[1]! + next.value, rest: next.rest, quoted: true };
  }
  return { value: m[1]!, rest: after.trimStart(), quoted: false };
}

/** Splits text into words (quotes honoured). */
export function splitWords(text: string, command: Command): string[] {
  const words: string[] = [];
  let rest = text.trim();
  while (rest !== "") {
    const t = readToken(rest);
    if (!t) throw unterminated(command);
    words.push(t.value);
    rest = t.rest;
  }
  return words;
}

function unterminated(command: Command): UsageError {
  return new UsageError(
    `Wrong arguments for ${command.name}: a quote is not closed; usage: /${command.usage}`,
    `/${command.usage}`,
  );
}

/**
 * Parses one typed line; see the module header.
 *
 * @throws {UnknownCommandError} for an unknown command (with a suggestion)
 * @throws {UsageError} for an unclosed quote
 */
export function parseLine(line: string): ParsedLine {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  if (!trimmed.startsWith("/")) return { kind: "text", text: trimmed };
  const m = /^\/(\S*)\s*([\s\S]*)$/.exec(trimmed)!;
  const command = findCommand(m[1]!);
  let remaining = m[2]!;
  const args: string[] = [];
  for (const spec of command.args) {
    if (remaining === "") break;
    if (spec.kind === "rest") {
      const whole = readToken(remaining);
      args.push(whole && whole.quoted && whole.rest === "" ? whole.value : remaining.trimEnd());
      remaining = "";
      break;
    }
    const t = readToken(remaining);
    if (!t) throw unterminated(command);
    args.push(t.value);
    remaining = t.rest;
  }
  // Extra words are kept so the registry reports "too many".
  if (remaining !== "") args.push(...splitWords(remaining, command));
  return { kind: "command", command, args };
}
