/**
 * The one registry of user commands, shared by every interface: the JSON
 * machine interface (`json.ts`) and the interactive REPL. Each command has a
 * name, aliases, a usage line, a one-line summary, an argument spec and a
 * `run(peer, args)` that calls the core and returns JSON-safe data.
 *
 * This module owns argument checking and command lookup; it does not render
 * anything, read a terminal or know the transport. User mistakes are typed:
 * {@linkcode UsageError} (code `usage`, carries the usage line) and
 * {@linkcode UnknownCommandError} (code `unknown_command`, carries the
 * closest command by the one "did you mean" rule, `edit_distance.ts`);
 * errors of the core pass through as they
 * are (they already carry a stable `code`).
 *
 * @module
 */

import { UnmessageError } from "../errors.ts";
import { closestName } from "../edit_distance.ts";
import { MAX_TEXT_BYTES } from "../peer/records.ts";
import type { CommandPeer } from "../peer/types.ts";
import { parseIdentityAddress, parseIdentityKey } from "../peer/address.ts";
import { MAX_TOR_LOG_LINES } from "../tor/tor_log.ts";

export type { CommandPeer };

/** Any JSON-safe value a command returns. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

/** One argument of a command. */
export interface ArgSpec {
  /** As shown in the usage line (`<name>`). */
  name: string;
  /** `word`: one token; `rest`: every remaining token, joined by spaces. */
  kind: "word" | "rest";
  /** May be left out (`[name]` in the usage line). */
  optional?: boolean;
}

/** One command of the registry. */
export interface Command {
  /** What is typed (`msg`; the REPL adds the slash). */
  name: string;
  /** Other names that run it (`exit` for `quit`). */
  aliases: readonly string[];
  /** e.g. `msg <name> <text...>` */
  usage: string;
  /** One line for `help`. */
  summary: string;
  /** What `parseArgs` checks, in order. */
  args: readonly ArgSpec[];
  /** True for `quit`: the interface ends after replying. */
  quits?: boolean;
  /**
   * Set for a command of one interface only, which that interface runs
   * itself (`warnings`: the REPL's quiet count); the others refuse it.
   */
  only?: "repl";
  /**
   * Throws what `run` would throw for arguments that name nothing, without
   * changing anything: an interface calls it before it asks for a
   * confirmation (`delete`).
   */
  check?(peer: CommandPeer, args: ParsedArgs): void;
  /** Calls the core with checked arguments; JSON-safe data back. */
  run(peer: CommandPeer, args: ParsedArgs): Promise<JsonValue>;
}

/** Arguments by name, after checking against the spec. */
export type ParsedArgs = Readonly<Record<string, string | undefined>>;

/** Wrong number or shape of arguments for a known command. */
export class UsageError extends UnmessageError {
  /** The command's usage line. */
  readonly usage: string;
  /** `message` says what is wrong; `usage` is the command's usage line. */
  constructor(message: string, usage: string) {
    super("usage", message);
    this.usage = usage;
  }
  /** The JSON form, with the usage line. */
  override toJSON(): { code: string; message: string; usage: string } {
    return { code: this.code, message: this.message, usage: this.usage };
  }
}

/** A command name that is not in the registry. */
export class UnknownCommandError extends UnmessageError {
  /** The closest known command, if one is close enough. */
  readonly suggestion: string | undefined;
  /** `name` as typed (quoted back, bounded) and the closest command, if any. */
  constructor(name: string, suggestion: string | undefined) {
    const shown = JSON.stringify(
      name.length > MAX_SHOWN_NAME ? name.slice(0, MAX_SHOWN_NAME) : name,
    );
    super(
      "unknown_command",
      `Unknown command ${shown}${
        suggestion ? `: did you mean "${suggestion}"?` : ""
      }; "help" lists the commands`,
    );
    this.suggestion = suggestion;
  }
  /** The JSON form, with the suggestion when there is one. */
  override toJSON(): { code: string; message: string; suggestion?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.suggestion ? { suggestion: this.suggestion } : {}),
    };
  }
}

/** Longest unknown name quoted back in an error. */
const MAX_SHOWN_NAME = 40;
/**
 * Longest argument accepted, in UTF-16 units: a message of
 * {@linkcode MAX_TEXT_BYTES} UTF-8 bytes has at most that many, so every
 * text the core can send passes, and the core refuses a longer one by its
 * byte count (`bad_message`). Nothing is ever cut.
 */
export const MAX_ARG_LENGTH: number = MAX_TEXT_BYTES;
/** Lines `tor-log` shows when not told how many. */
const DEFAULT_TOR_LOG_LINES = 30;

function cmd(
  name: string,
  usageArgs: string,
  summary: string,
  args: ArgSpec[],
  run: Command["run"],
  extra: { aliases?: string[]; quits?: boolean; only?: "repl"; check?: Command["check"] } = {},
): Command {
  return {
    name,
    aliases: extra.aliases ?? [],
    usage: usageArgs ? `${name} ${usageArgs}` : name,
    summary,
    args,
    ...(extra.quits ? { quits: true } : {}),
    ...(extra.only ? { only: extra.only } : {}),
    ...(extra.check ? { check: extra.check } : {}),
    run,
  };
}

const word = (name: string, optional = false): ArgSpec => ({ name, kind: "word", optional });
const rest = (name: string): ArgSpec => ({ name, kind: "rest" });
/** Reads a checked argument (present: `parseArgs` enforced the spec). */
const arg = (args: ParsedArgs, name: string): string => args[name] ?? "";

/** Every command, in the order `help` lists them (README.md, "Commands"). */
export const COMMANDS: readonly Command[] = [
  cmd(
    "help",
    "[command]",
    "List the commands, or show one command's usage",
    [
      word("command", true),
    ],
    (_peer, args) => Promise.resolve(helpResult(args["command"])),
    { aliases: ["?"] },
  ),
  cmd("peer", "", "Show your identity address (name@address.onion:port)", [], (peer) => {
    return Promise.resolve({ address: peer.identity().address });
  }),
  cmd("onion", "", "Show your onion address", [], (peer) => {
    return Promise.resolve({ onion: peer.identity().onion });
  }),
  cmd("key", "", "Show your public identity key", [], (peer) => {
    return Promise.resolve({ key: peer.identity().key });
  }),
  cmd("identity", "", "Show your address and key, ready to paste to a contact", [], (peer) => {
    const id = peer.identity();
    return Promise.resolve({ address: id.address, key: id.key, text: `${id.address} ${id.key}` });
  }, { aliases: ["id"] }),
  cmd(
    "req-send",
    "<name@address.onion[:port]> <key>",
    "Send a conversation request to a peer",
    [word("address"), word("key")],
    async (peer, a) => ({
      request: { ...await peer.sendRequest(arg(a, "address"), arg(a, "key")) },
    }),
  ),
  cmd(
    "req-check",
    "<address> [key]",
    "Check an identity address (and key) without sending anything",
    [word("address"), word("key", true)],
    (_peer, a) => Promise.resolve(checkIdentity(arg(a, "address"), a["key"])),
  ),
  cmd(
    "req-accept",
    "<name> [new-name]",
    "Accept an inbound request, optionally under another name",
    [word("name"), word("new-name", true)],
    async (peer, a) => {
      const newName = a["new-name"];
      const conv = newName === undefined
        ? await peer.acceptRequest(arg(a, "name"))
        : await peer.acceptRequest(arg(a, "name"), newName);
      return { conversation: { ...conv } };
    },
  ),
  cmd(
    "req-reject",
    "<name|pattern|--flood|--all>",
    "Reject inbound requests: one, those a * pattern matches, the flood ones, or all",
    [word("pattern")],
    // `rejected` is what was asked (as before patterns existed), `names` what it matched
    async (peer, a) => ({
      rejected: arg(a, "pattern"),
      names: await peer.rejectRequest(arg(a, "pattern")),
    }),
  ),
  cmd("req-cancel", "<name>", "Cancel a request you sent", [word("name")], async (peer, a) => {
    await peer.cancelRequest(arg(a, "name"));
    return { cancelled: arg(a, "name") };
  }),
  cmd("reqs-in", "", "List inbound requests", [], (peer) => {
    return Promise.resolve({ requests: peer.inboundRequests().map((r) => ({ ...r })) });
  }),
  cmd("reqs-out", "", "List outbound requests", [], (peer) => {
    return Promise.resolve({ requests: peer.outboundRequests().map((r) => ({ ...r })) });
  }),
  cmd("convs", "", "List conversations with their authentication level", [], (peer) => {
    return Promise.resolve({ conversations: peer.conversations().map((c) => ({ ...c })) });
  }),
  cmd("msg", "<name> <text...>", "Send a message", [word("name"), rest("text")], (peer, a) => {
    // `id`, and `queued` when the core says whether the contact was online
    return peer.sendMessage(arg(a, "name"), arg(a, "text")).then((sent) => ({ ...sent }));
  }),
  cmd("pres-on", "<name>", "Notify this peer when you go online or offline", [word("name")], (
    peer,
    a,
  ) => presence(peer, arg(a, "name"), true)),
  cmd("pres-off", "<name>", "Stop presence notifications to this peer", [word("name")], (
    peer,
    a,
  ) => presence(peer, arg(a, "name"), false)),
  cmd(
    "verify",
    "<name> <key>",
    "Compare this peer's identity key with one you got safely",
    [word("name"), word("key")],
    async (peer, a) => {
      const { verified } = await peer.verify(arg(a, "name"), arg(a, "key"));
      return { name: arg(a, "name"), verified };
    },
  ),
  cmd(
    "auth",
    "<name> [secret...]",
    "Authenticate with a secret you both know (SMP); asked hidden if left out",
    [word("name"), rest("secret")],
    async (peer, a) => {
      const started: unknown = await peer.authenticate(arg(a, "name"), arg(a, "secret"));
      // the core may first have to reach the contact
      const connecting = (started as { connecting?: unknown } | undefined)?.connecting === true;
      return { name: arg(a, "name"), status: "started", ...(connecting ? { connecting } : {}) };
    },
  ),
  cmd("delete", "<name>", "Delete a conversation and its keys", [word("name")], async (peer, a) => {
    await peer.deleteConversation(arg(a, "name"));
    return { deleted: arg(a, "name") };
  }, { check: (peer, a) => peer.checkConversation(arg(a, "name")) }),
  cmd(
    "tor-log",
    "[lines]",
    "Show tor's recent messages (why it is stuck, for one)",
    [word("lines", true)],
    (peer, a) => Promise.resolve(torLog(peer, a["lines"])),
  ),
  cmd(
    "warnings",
    "",
    "List the network warnings counted quietly",
    [],
    () => Promise.resolve({}),
    { only: "repl" },
  ),
  cmd("quit", "", "Leave unMessage", [], () => Promise.resolve({ quit: true }), {
    aliases: ["exit"],
    quits: true,
  }),
];

/** `req-check`: the parsed address, and whether the key decodes; throws `bad_address`/`bad_key`. */
function checkIdentity(address: string, key: string | undefined): JsonValue {
  const parsed = parseIdentityAddress(address);
  if (key !== undefined) parseIdentityKey(key);
  return {
    name: parsed.name,
    onion: `${parsed.onion}.onion`,
    port: parsed.port,
    key: key !== undefined,
  };
}

async function presence(peer: CommandPeer, name: string, on: boolean): Promise<JsonValue> {
  await peer.setPresence(name, on);
  return { name, presence: on };
}

function torLog(peer: CommandPeer, lines: string | undefined): JsonValue {
  const usage = "tor-log [lines]";
  const count = lines === undefined ? DEFAULT_TOR_LOG_LINES : Number(lines);
  if (!/^\d{1,4}$/.test(lines ?? "1") || count < 1 || count > MAX_TOR_LOG_LINES) {
    throw new UsageError(
      `Wrong arguments for tor-log: [lines] must be 1 to ${MAX_TOR_LOG_LINES}; usage: ${usage}`,
      usage,
    );
  }
  const entries = peer.torLog?.(count);
  if (entries === undefined) {
    throw new UnmessageError(
      "no_tor",
      "This peer runs without tor (--direct): there is no tor log",
    );
  }
  return { lines: entries.map((l) => ({ ...l })) };
}

const BY_NAME: ReadonlyMap<string, Command> = new Map(
  COMMANDS.flatMap((c) => [[c.name, c] as const, ...c.aliases.map((a) => [a, c] as const)]),
);

/** The commands every interface runs (the others are listed by their interface). */
export const SHARED_COMMANDS: readonly Command[] = COMMANDS.filter((c) => c.only === undefined);

function helpResult(name: string | undefined): JsonValue {
  const describe = (c: Command) => ({
    name: c.name,
    aliases: [...c.aliases],
    usage: c.usage,
    summary: c.summary,
    ...(c.only ? { only: c.only } : {}),
  });
  if (name === undefined) return { commands: SHARED_COMMANDS.map(describe) };
  return { commands: [describe(findCommand(name))] };
}

/**
 * The command called `name` (a leading `/`, as typed at the prompt, is
 * ignored; aliases count).
 *
 * @throws {UnknownCommandError} with the closest command suggested
 */
export function findCommand(name: string): Command {
  const key = name.startsWith("/") ? name.slice(1) : name;
  const found = BY_NAME.get(key.toLowerCase());
  if (found) return found;
  throw new UnknownCommandError(name, suggestCommand(key));
}

/** The closest command name (see `closestName`), if close enough. */
export function suggestCommand(name: string): string | undefined {
  const best = closestName(name.slice(0, MAX_SHOWN_NAME), BY_NAME.keys());
  return best === undefined ? undefined : BY_NAME.get(best)!.name;
}

/**
 * Checks `args` (one string per token) against the command's spec.
 *
 * @throws {UsageError} for a missing, extra, empty or oversized argument
 */
export function parseArgs(command: Command, args: readonly string[]): ParsedArgs {
  const fail = (why: string) => {
    throw new UsageError(
      `Wrong arguments for ${command.name}: ${why}; usage: ${command.usage}`,
      command.usage,
    );
  };
  const out: Record<string, string | undefined> = {};
  let i = 0;
  for (const spec of command.args) {
    if (spec.kind === "rest") {
      const text = args.slice(i).join(" ");
      i = args.length;
      if (text.trim() === "") fail(`<${spec.name}> is missing`);
      out[spec.name] = text;
      continue;
    }
    const value = args[i];
    if (value === undefined) {
      if (!spec.optional) fail(`<${spec.name}> is missing`);
      continue;
    }
    if (value.trim() === "" || /\s/.test(value)) fail(`<${spec.name}> must be one word`);
    out[spec.name] = value;
    i++;
  }
  if (i < args.length) fail(`${args.length - i} argument(s) too many`);
  for (const value of Object.values(out)) {
    if (value !== undefined && value.length > MAX_ARG_LENGTH) {
      fail(`an argument is longer than ${MAX_ARG_LENGTH} characters`);
    }
  }
  return out;
}

/**
 * Looks up `name`, checks `args` and runs the command.
 *
 * @throws {UnknownCommandError | UsageError} for user mistakes (and code
 *   `not_here` for a command of another interface); whatever the core
 *   throws (typed `UnmessageError`s) otherwise
 */
export async function runCommand(
  peer: CommandPeer,
  name: string,
  args: readonly string[],
): Promise<{ command: Command; result: JsonValue }> {
  const command = findCommand(name);
  if (command.only !== undefined) {
    throw new UnmessageError(
      "not_here",
      `${command.name} is a command of the interactive prompt only; here every warning ` +
        `is an event`,
    );
  }
  const parsed = parseArgs(command, args);
  return { command, result: await command.run(peer, parsed) };
}
