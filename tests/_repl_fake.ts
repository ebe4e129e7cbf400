/**
 * A scripted stand-in of the core for REPL tests (records the calls, keeps
 * one conversation and one inbound request), and a REPL over an in-memory
 * terminal attached to it; and a real peer (direct mode, no tor) run by the
 * whole interactive flow over an in-memory terminal.
 *
 * @module
 */

import { MemoryTerminal } from "./_memory_terminal.ts";
import type { CommandPeer } from "../lib/ui/commands.ts";
import type { ConversationInfo, IdentityInfo, RequestInfo } from "../lib/peer/types.ts";
import { Repl } from "../lib/ui/repl.ts";
import { unknownName } from "../lib/peer/errors.ts";
import { runInteractive } from "../lib/ui/interactive.ts";
import { startPeer } from "../lib/runtime.ts";

export const ONION = "a".repeat(56) + ".onion";
export const IDENTITY: IdentityInfo = {
  name: "alice",
  onion: ONION,
  port: 50001,
  address: `alice@${ONION}:50001`,
  key: "A".repeat(43) + "=",
};

/** A stand-in core that records calls. */
export class FakePeer implements CommandPeer {
  calls: string[] = [];
  convs: ConversationInfo[] = [{
    name: "bob",
    address: `bob@${"b".repeat(56)}.onion:50001`,
    key: "B".repeat(43) + "=",
    level: "verified",
    presence: false,
    online: true,
    established: true,
    pending: 0,
  }];
  inbound: RequestInfo[] = [{
    name: "eve",
    direction: "in",
    address: "eve@e.onion:1",
    key: "E=",
    at: 0,
  }];
  identity() {
    return IDENTITY;
  }
  sendRequest(address: string, key: string) {
    this.calls.push(`sendRequest ${address} ${key}`);
    return Promise.resolve({ name: "carol", direction: "out" as const, address, key, at: 0 });
  }
  inboundRequests() {
    return this.inbound;
  }
  outboundRequests() {
    return [];
  }
  acceptRequest(name: string, newName?: string) {
    this.calls.push(`acceptRequest ${name} ${newName}`);
    return Promise.resolve({
      ...this.convs[0]!,
      name: newName ?? name,
      level: "unverified" as const,
    });
  }
  rejectRequest(name: string) {
    this.calls.push(`rejectRequest ${name}`);
    return Promise.resolve([name]);
  }
  cancelRequest(name: string) {
    this.calls.push(`cancelRequest ${name}`);
    return Promise.resolve();
  }
  checkConversation(name: string) {
    if (!this.convs.some((c) => c.name === name)) {
      throw unknownName(name, this.convs.map((c) => c.name));
    }
  }
  conversations() {
    return this.convs;
  }
  /** Every message text sent, whole, in order. */
  sent: { name: string; text: string; id: string }[] = [];
  /** What `sendMessage` says of `queued` (undefined: nothing, as an older core). */
  queued: boolean | undefined;
  sendMessage(name: string, text: string) {
    this.calls.push(`sendMessage ${name} ${text}`);
    const id = `m${this.sent.length + 1}`;
    this.sent.push({ name, text, id });
    return Promise.resolve({ id, ...(this.queued !== undefined ? { queued: this.queued } : {}) });
  }
  setPresence(name: string, on: boolean) {
    this.calls.push(`setPresence ${name} ${on}`);
    return Promise.resolve();
  }
  verify(name: string, key: string) {
    this.calls.push(`verify ${name} ${key}`);
    return Promise.resolve({ verified: key === this.convs[0]!.key });
  }
  /** Runs inside authenticate(), as the core emits its events there. */
  onAuthenticate: ((name: string) => void) | undefined;
  authenticate(name: string, secret: string) {
    this.calls.push(`authenticate ${name} ${secret}`);
    this.onAuthenticate?.(name);
    return Promise.resolve();
  }
  deleteConversation(name: string) {
    this.calls.push(`deleteConversation ${name}`);
    if (!this.convs.some((c) => c.name === name)) {
      return Promise.reject(unknownName(name, this.convs.map((c) => c.name)));
    }
    return Promise.resolve();
  }
}

/** A REPL attached to a {@linkcode FakePeer}, running. */
export function setup(
  options: { isTTY?: boolean; color?: boolean; columns?: number; stalled?: boolean } = {},
) {
  const term = new MemoryTerminal({
    isTTY: options.isTTY ?? true,
    color: options.color ?? false,
    ...(options.columns !== undefined ? { columns: options.columns } : {}),
    ...(options.stalled !== undefined ? { stalled: options.stalled } : {}),
  });
  const peer = new FakePeer();
  const repl = new Repl({ terminal: term, now: () => 0 });
  repl.attach(peer, IDENTITY);
  const done = repl.run();
  return { term, peer, repl, done };
}

/** A real peer (direct mode, no tor) run by the whole interactive flow. */
export async function interactivePeer(name: string, root: string, registryDir: string) {
  const term = new MemoryTerminal({ columns: 120 });
  const exit = runInteractive({
    name,
    configRoot: root,
    terminal: term,
    onTermination: () => () => {},
    onStartInterrupt: () => () => {},
    start: (events) =>
      startPeer({
        name,
        configRoot: root,
        tor: { mode: "direct", registryDir },
        events,
      }),
  });
  await term.waitFor(`${name}> `);
  const line = /(\S+@\S+\.onion:\d+) (\S{44})/.exec(term.output)!;
  return { term, exit, address: line[1]!, key: line[2]! };
}
