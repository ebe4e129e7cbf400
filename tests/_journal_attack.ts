/**
 * The fixture and helpers of the attacks on a stopped peer's state files
 * (tests/store_journal_attack_test.ts): a plain and an encrypted peer
 * folder with conversations, a compacted state and a journal, and ways to
 * damage their files and open the result.
 *
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals } from "./_assert.ts";
import { connect, is, type Snapshot, snapshotSync, TestNet } from "./_peer_harness.ts";
import { PeerStore } from "../lib/store/peer_store.ts";
import { StoreError } from "../lib/store/errors.ts";
import { conversationFromStore } from "../lib/peer/stored_conversation.ts";
import type { ConversationRecord } from "../lib/peer/records.ts";

export const PASSPHRASE = "correct horse";
export const ROOT = Deno.uid() === 0;
/** A case that takes this long is a hang, not a loaded machine. */
export const HANG_MS = 30_000;

/** Folders of a peer with three conversations, stopped with a compacted state and a journal. */
export interface Fixture {
  plain: Snapshot;
  encrypted: Snapshot;
}

let fixture: Promise<Fixture> | undefined;

/** Alice (plain) and Eve (encrypted) each talk with Bob and Carol, restart, and talk again. */
export function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const net = new TestNet("journal-attack");
    try {
      const bob = await net.peer("bob");
      const carol = await net.peer("carol");
      const out: Snapshot[] = [];
      for (const [name, passphrase] of [["alice", undefined], ["eve", PASSPHRASE]] as const) {
        const me = await net.peer(name, passphrase === undefined ? {} : { passphrase });
        await connect(me, bob);
        await connect(me, carol);
        for (const to of [bob, carol]) {
          const m = to.mark();
          await me.peer.sendMessage(to.name, `hello ${to.name}`);
          await to.waitFor(is("message"), m);
        }
        await me.close(); // compacts: the conversations are in state.jsonl
        await me.open();
        const m = bob.mark();
        await me.peer.sendMessage("bob", "again");
        await bob.waitFor(is("message"), m);
        await me.until(() => me.peer.conversations().every((c) => c.pending === 0));
        out.push(snapshotSync(me.dir)); // as if killed now: commits in the journal
      }
      return { plain: out[0]!, encrypted: out[1]! };
    } finally {
      await net.close();
    }
  })();
  return fixture;
}

/** What opening a folder gave: refused with a code, or the conversations' values. */
export type Outcome =
  | { refused: string; message: string }
  | { heads: Map<string, string>; failed: string[] };

/** Writes `files` into a new folder and opens it as the peer does, reading every lazy part. */
export async function openFiles(files: Snapshot, passphrase?: string): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "um-attack-" });
  try {
    for (const [name, bytes] of files) await Deno.writeFile(join(dir, name), bytes);
    return await openDir(dir, passphrase);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function openDir(dir: string, passphrase?: string): Promise<Outcome> {
  let store: PeerStore;
  try {
    store = await PeerStore.open(
      dir,
      passphrase === undefined ? {} : { passphrase, scrypt: { N: 1024, r: 8, p: 1 } },
    );
  } catch (e) {
    if (e instanceof StoreError) return { refused: e.code, message: e.message };
    throw e;
  }
  try {
    const loaded = await store.loadConversations((head, parts, id, text) => {
      const record = conversationFromStore(id, head, parts, 0, text);
      touch(record);
      return text;
    });
    const failed = [...store.notices, ...loaded.failed].map((f) => f.message);
    return { heads: loaded.loaded, failed };
  } finally {
    await store.close();
  }
}

/** Reads every lazy part of a record (as the running peer does when it uses the conversation). */
export function touch(record: ConversationRecord): void {
  void record.session;
  void record.outbox;
  void record.inbox;
  void record.seen;
  void record.digests;
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
export const bytesOf = (s: string) => new TextEncoder().encode(s);

/** The lines of a file without its zeros made ahead. */
export function linesOf(bytes: Uint8Array): string[] {
  return text(bytes).replace(/\0+$/, "").split("\n").filter((l) => l !== "");
}

export function withFile(files: Snapshot, name: string, content: string | Uint8Array): Snapshot {
  const out = new Map(files);
  out.set(name, typeof content === "string" ? bytesOf(content) : content);
  return out;
}

export function show(o: Outcome): string {
  return "refused" in o
    ? `${o.refused}: ${o.message}`
    : JSON.stringify([[...o.heads.keys()], o.failed]);
}

export function refused(o: Outcome, code?: string): string {
  assert("refused" in o, `expected a refusal, got ${show(o)}`);
  if (code !== undefined) assertEquals(o.refused, code, o.message);
  return o.message;
}

export function heads(o: Outcome): Map<string, string> {
  assert("heads" in o, `expected an open, got ${show(o)}`);
  return o.heads;
}

/** The fixture's journal with `line` appended as one more commit (the next seq), then `after`. */
export function appendCommit(files: Snapshot, body: (seq: number) => string, after = ""): Snapshot {
  const lines = linesOf(files.get("journal.jsonl")!);
  const last = JSON.parse(lines.at(-1)!).seq as number;
  return withFile(files, "journal.jsonl", [...lines, body(last + 1), after].join("\n") + "\n");
}

/** A commit that is not the last one (so it cannot pass for a torn tail). */
export function middleCommit(files: Snapshot, put: string): Snapshot {
  return appendCommit(
    files,
    (seq) => `{"seq":${seq},"put":${put},"del":[]}`,
    `{"seq":${JSON.parse(linesOf(files.get("journal.jsonl")!).at(-1)!).seq + 2},"put":{},"del":[]}`,
  );
}
