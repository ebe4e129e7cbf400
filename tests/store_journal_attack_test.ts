/**
 * Attacks on the state files of a stopped peer (lib/store/journal.ts and
 * the conversation values of lib/peer/stored_conversation.ts): someone who
 * can write the peer folder while it is stopped (a restored backup, a sync
 * tool, malware with the user's rights, a failing disk) or a user editing
 * `state.jsonl` and `journal.jsonl` by hand. Whatever the files hold, the
 * store opens with the undamaged data or refuses with a typed StoreError
 * naming the file; never another exception, a hang, or a value quietly lost.
 *
 * @module
 */

import { join } from "node:path";
import fc from "fast-check";
import { assert, assertEquals } from "./_assert.ts";
import { connect, is, TestNet } from "./_peer_harness.ts";
import { StoreError } from "../lib/store/errors.ts";
import { Journal } from "../lib/store/journal.ts";

import {
  bytesOf,
  getFixture,
  HANG_MS,
  heads,
  linesOf,
  middleCommit,
  openDir,
  openFiles,
  PASSPHRASE,
  refused,
  ROOT,
  show,
  text,
  withFile,
} from "./_journal_attack.ts";

Deno.test("attack: the undamaged fixture opens with its two conversations, plain and encrypted", async () => {
  const { plain, encrypted } = await getFixture();
  assert(linesOf(plain.get("state.jsonl")!).length > 3, "conversations are in the state");
  assert(linesOf(plain.get("journal.jsonl")!).length > 1, "commits are in the journal");
  assertEquals(heads(await openFiles(plain)).size, 2);
  assertEquals(heads(await openFiles(encrypted, PASSPHRASE)).size, 2);
});

const DEEP = 100_000;
const deepArray = "[".repeat(DEEP) + "]".repeat(DEEP);

Deno.test("attack: 100,000 nested arrays in a hand-edited state line or a commit are kept as data", async () => {
  const { plain } = await getFixture();
  const before = heads(await openFiles(plain));
  const lines = linesOf(plain.get("state.jsonl")!);
  // a space after the brace: not the form the code writes, so parsed whole
  lines.push(`{ "key":"zz","value":${deepArray}}`);
  const header = JSON.parse(lines[0]!);
  lines[0] = JSON.stringify({ ...header, keys: header.keys + 1 });
  for (
    const files of [
      withFile(plain, "state.jsonl", lines.join("\n") + "\n"),
      middleCommit(plain, `{"zz":${deepArray}}`),
    ]
  ) {
    assertEquals(heads(await openFiles(files)), before);
  }
});

Deno.test("attack: 100,000 nested arrays as a conversation's head or part are reported for that conversation only", async () => {
  const { plain } = await getFixture();
  const ids = [...heads(await openFiles(plain)).keys()];
  for (const key of [`c/${ids[0]}`, `c/${ids[0]}/r`]) {
    const o = await openFiles(middleCommit(plain, `{"${key}":${deepArray}}`));
    assert("heads" in o, `${key}: ${show(o)}`);
    assertEquals([...o.heads.keys()], [ids[1]], `${key}: the other conversation loads`);
    assertEquals(o.failed.length, 1, key);
  }
});

Deno.test("attack: odd numbers where counters are expected are refused, typed", async () => {
  const { plain } = await getFixture();
  const state = linesOf(plain.get("state.jsonl")!);
  const journal = linesOf(plain.get("journal.jsonl")!);
  for (const n of ["1e999", "-1e999", "18446744073709551616", "1.5", "-1", '"1"', "null", "[1]"]) {
    for (const field of ["generation", "seq", "keys"]) {
      const h = state[0]!.replace(new RegExp(`"${field}":\\d+`), `"${field}":${n}`);
      const o = await openFiles(withFile(plain, "state.jsonl", [h, ...state.slice(1)].join("\n")));
      assert(refused(o).includes("state.jsonl"), `${field} ${n}`);
    }
    const c = journal[1]!.replace(/^\{"seq":\d+/, `{"seq":${n}`);
    const o = await openFiles(
      withFile(plain, "journal.jsonl", [journal[0], c, ...journal.slice(2)].join("\n") + "\n"),
    );
    assert(refused(o).includes("journal.jsonl"), `seq ${n}`);
  }
  // -0 is 0: the same number, and the file opens as it was
  const h = state[0]!.replace(/"generation":(\d+)/, '"generation":$1.0');
  const again = await openFiles(withFile(plain, "state.jsonl", [h, ...state.slice(1)].join("\n")));
  assertEquals(heads(again).size, 2);
});

Deno.test("attack: __proto__, duplicate keys and lone surrogates in a commit are refused or kept as plain data", async () => {
  const { plain } = await getFixture();
  const before = heads(await openFiles(plain));
  for (
    const put of [
      `{"__proto__":{"x":1}}`,
      `{"constructor":{"x":1}}`,
      `{"c/zz":1,"c/zz":2}`,
      `{"c/zz":{"__proto__":{"polluted":true}}}`,
      `{"c/zz":"\\ud800"}`,
      `{"c/\\ud800":1}`,
      `{"requests":{"__proto__":{"polluted":true}}}`,
    ]
  ) {
    const o = await openFiles(middleCommit(plain, put));
    assertEquals(({} as Record<string, unknown>).polluted, undefined, put);
    if ("refused" in o) {
      assert(o.message.includes("journal.jsonl"), put);
      continue;
    }
    // a head-less or broken conversation zz is reported, the others load as they were
    for (const [id, head] of before) assertEquals(o.heads.get(id), head, put);
  }
});

Deno.test("attack: a value of 200 MB is reported for its conversation only, unread in state.jsonl", async () => {
  const { plain } = await getFixture();
  const ids = [...heads(await openFiles(plain)).keys()];
  const big = `"${"a".repeat(200 * 1024 * 1024)}"`;
  const key = `c/${ids[0]}/o/0000000099`;
  // in state.jsonl, sorted among its keys and counted in the header (plain: as the code writes it)
  const lines = linesOf(plain.get("state.jsonl")!);
  lines.push(`{"key":"${key}","value":${big}}`);
  const header = JSON.parse(lines[0]!);
  lines[0] = JSON.stringify({ ...header, keys: header.keys + 1 });
  const sorted = [lines[0], ...lines.slice(1).sort()];
  for (
    const [files, code] of [
      [withFile(plain, "state.jsonl", sorted.join("\n") + "\n"), "too_large"],
      [middleCommit(plain, `{"${key}":${big}}`), "invalid"],
    ] as const
  ) {
    const o = await openFiles(files);
    assertEquals([...heads(o).keys()], [ids[1]], code);
    const failed = (o as { failed: string[] }).failed;
    assertEquals(failed.length, 1, code);
    assert(failed[0]!.includes(ids[0]!), failed[0]);
    if (code === "too_large") assert(failed[0]!.includes("exceeds the limit"), failed[0]);
  }
});

Deno.test("attack: commits out of order, repeated or missing are refused naming the line", async () => {
  const { plain } = await getFixture();
  const journal = linesOf(plain.get("journal.jsonl")!);
  assert(journal.length >= 3, "two commits at least");
  const cases = [
    [journal[0], journal[2], journal[1], ...journal.slice(3)], // swapped
    [journal[0], journal[1], ...journal.slice(1)], // repeated
    [journal[0], ...journal.slice(2)], // one missing
  ];
  for (const lines of cases) {
    // a good last commit after them, so none of them passes for a torn tail
    const last = JSON.parse(journal.at(-1)!).seq;
    lines.push(`{"seq":${last + 1},"put":{},"del":[]}`);
    const o = await openFiles(withFile(plain, "journal.jsonl", lines.join("\n") + "\n"));
    assert(/journal\.jsonl line \d+/.test(refused(o, "invalid")), show(o));
  }
});

Deno.test("attack: parts without a head, unknown conversations, a delete then a re-add", async () => {
  const { plain } = await getFixture();
  const before = heads(await openFiles(plain));
  const [id] = [...before.keys()];
  const head = before.get(id!)!;
  // parts of a conversation nobody knows: reported, the others load
  let o = await openFiles(middleCommit(plain, `{"c/ffff/r":{"x":1},"c/ffff/o/0000000001":2}`));
  assertEquals(heads(o), before);
  // a head that is not a conversation: reported alone
  o = await openFiles(middleCommit(plain, `{"c/ffff":{"name":"mallory"}}`));
  assertEquals([...heads(o).keys()].sort(), [...before.keys()].sort());
  assertEquals((o as { failed: string[] }).failed.length, 1);
  // a delete of the conversation, then its head put back without its parts
  const lines = linesOf(plain.get("journal.jsonl")!);
  let seq = JSON.parse(lines.at(-1)!).seq;
  const keys = [`c/${id}`, `c/${id}/r`];
  lines.push(`{"seq":${++seq},"put":{},"del":${JSON.stringify(keys)}}`);
  lines.push(`{"seq":${++seq},"put":{"c/${id}":${head}},"del":[]}`);
  o = await openFiles(withFile(plain, "journal.jsonl", lines.join("\n") + "\n"));
  assertEquals(heads(o).has(id!), false, "a head without its session does not load");
  assert((o as { failed: string[] }).failed.some((f) => f.includes(id!)), "it is reported");
});

Deno.test("attack: a journal from another peer's folder is refused", async () => {
  const { plain, encrypted } = await getFixture();
  // eve's journal in alice's folder and back
  let o = await openFiles(withFile(plain, "journal.jsonl", encrypted.get("journal.jsonl")!));
  refused(o);
  o = await openFiles(
    withFile(encrypted, "journal.jsonl", plain.get("journal.jsonl")!),
    PASSPHRASE,
  );
  refused(o);
});

Deno.test("attack: the journal of another plain folder at the same commit numbers is refused, not replayed", async () => {
  const a = await Deno.makeTempDir({ prefix: "um-attack-a-" });
  const b = await Deno.makeTempDir({ prefix: "um-attack-b-" });
  try {
    // two new folders: both at generation 1, commit 0
    const mine = Journal.create(a, new Map([["c/aa", '{"mine":1}']]));
    const theirs = Journal.create(b, new Map());
    theirs.stage("c/bb", '{"theirs":1}');
    await theirs.commit();
    // a sync tool copies their journal over ours while both are stopped
    await Deno.copyFile(join(b, "journal.jsonl"), join(a, "journal.jsonl"));
    await theirs.close();
    await mine.close();
    let error: unknown;
    try {
      Journal.open(a);
    } catch (e) {
      error = e;
    }
    assert(error instanceof StoreError, String(error));
    assertEquals(error.code, "invalid");
    assert(error.message.includes("another"), error.message);
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("attack: state.jsonl as a folder, a FIFO, a link to /dev/zero or outside, unreadable", async () => {
  const { plain } = await getFixture();
  const outside = await Deno.makeTempFile({ prefix: "um-outside-" });
  try {
    await Deno.writeFile(outside, plain.get("state.jsonl")!);
    const makers: [string, (path: string) => Promise<void>][] = [
      ["a folder", (p) => Deno.mkdir(p)],
      ["a FIFO", async (p) => {
        await new Deno.Command("mkfifo", { args: [p] }).output();
      }],
      ["a link to /dev/zero", (p) => Deno.symlink("/dev/zero", p)],
      ["a link outside the folder", (p) => Deno.symlink(outside, p)],
      ["a dangling link", (p) => Deno.symlink(join(outside, "gone"), p)],
    ];
    for (const name of ["state.jsonl", "journal.jsonl"]) {
      for (const [what, make] of makers) {
        const dir = await Deno.makeTempDir({ prefix: "um-attack-" });
        try {
          for (const [file, bytes] of plain) {
            if (file !== name) await Deno.writeFile(join(dir, file), bytes);
          }
          await make(join(dir, name));
          const o = await openDir(dir);
          assert(refused(o).includes(name), `${name} as ${what}: ${show(o)}`);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
    }
  } finally {
    await Deno.remove(outside);
  }
});

Deno.test({
  name: "attack: state.jsonl or journal.jsonl with permissions 000 is refused, typed",
  ignore: ROOT || Deno.build.os === "windows", // root reads any file
  fn: async () => {
    const { plain } = await getFixture();
    for (const name of ["state.jsonl", "journal.jsonl"]) {
      const dir = await Deno.makeTempDir({ prefix: "um-attack-" });
      try {
        for (const [file, bytes] of plain) await Deno.writeFile(join(dir, file), bytes);
        await Deno.chmod(join(dir, name), 0o000);
        const o = await openDir(dir);
        assert(refused(o, "io").includes(name), show(o));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test("attack: a damaged session found when first used is reported naming it; the peer goes on and closes", async () => {
  const net = new TestNet("journal-attack-lazy");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    const carol = await net.peer("carol");
    await connect(alice, bob);
    await connect(alice, carol);
    await alice.close();
    const path = join(alice.dir, "state.jsonl");
    const state = await Deno.readTextFile(path);
    // the first conversation's session is damaged where only its first use reads it
    const damaged = state.replace(/("key":"c\/[0-9a-f]+\/r","value":)\{/, "$1{{");
    assert(damaged !== state);
    await Deno.writeTextFile(path, damaged);
    const m = alice.mark();
    await alice.open();
    for (const name of ["bob", "carol"]) await alice.peer.sendMessage(name, `to ${name}`);
    const error = await alice.waitFor(is("error"), m);
    assert(error.message.includes("part r of conversation"), error.message);
    // the other conversation goes on
    await alice.until(() =>
      carol.all("message").some((e) => e.text === "to carol") ||
      bob.all("message").some((e) => e.text === "to bob")
    );
    await alice.close(); // no unhandled rejection, no throw
    assertEquals(await Deno.readTextFile(path).then((t) => t.includes("{{")), true, "kept");
  } finally {
    await net.close();
  }
});

/** One random damage to one of the two files. */
const damage = fc.record({
  file: fc.constantFrom("state.jsonl", "journal.jsonl"),
  kind: fc.constantFrom("flip", "truncate", "insert", "swap"),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

function damaged(bytes: Uint8Array, d: Damage): Uint8Array {
  const at = bytes.length === 0 ? 0 : d.at % bytes.length;
  switch (d.kind) {
    case "flip": {
      const out = bytes.slice();
      out[at] = out[at]! ^ (d.byte || 1);
      return out;
    }
    case "truncate":
      return bytes.slice(0, at);
    case "insert":
      return new Uint8Array([...bytes.subarray(0, at), ...d.bytes, ...bytes.subarray(at)]);
    default: {
      // two lines swapped
      const lines = linesOf(bytes);
      const i = at % lines.length;
      const j = d.byte % lines.length;
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return bytesOf(lines.join("\n") + "\n");
    }
  }
}

function withinBound<T>(p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms: a hang`)), HANG_MS);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

for (const kind of ["plain", "encrypted"] as const) {
  Deno.test(`attack (property): random damage to a ${kind} peer's files opens the undamaged data or refuses, typed`, async () => {
    const files = (await getFixture())[kind];
    const passphrase = kind === "encrypted" ? PASSPHRASE : undefined;
    const original = heads(await openFiles(files, passphrase));
    // what a dropped last commit (a torn tail) leaves
    const journal = linesOf(files.get("journal.jsonl")!);
    const earlier = heads(
      await openFiles(
        withFile(files, "journal.jsonl", journal.slice(0, -1).join("\n") + "\n"),
        passphrase,
      ),
    );
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const bytes = damaged(files.get(d.file)!, d);
        const o = await withinBound(openFiles(withFile(files, d.file, bytes), passphrase));
        if ("refused" in o) {
          assert(o.message.includes(".json") || o.message.includes("/"), o.message);
          return;
        }
        // sealed: every value that loads is one the peer wrote (a plain peer's files are
        // trusted as stored, docs/threat-model.md: a changed digit is a changed value)
        for (const [id, head] of kind === "encrypted" ? o.heads : []) {
          assert(head === original.get(id) || head === earlier.get(id), `${id} changed`);
        }
        // a conversation is never dropped unreported (but with the last commit, a torn tail)
        for (const id of original.keys()) {
          assert(
            o.heads.has(id) || o.failed.some((f) => f.includes(id)) || !earlier.has(id),
            `${id} silently dropped`,
          );
        }
      }),
      { numRuns: 60 },
    );
  });
}

Deno.test("attack: parts named by hand or claiming thousands of entries are reported for that conversation, without reading them", async () => {
  const { plain } = await getFixture();
  const before = heads(await openFiles(plain));
  const [id, other] = [...before.keys()];
  const entry = `{"id":"${"ab".repeat(16)}","type":"message","text":"x","at":1}`;
  const many = (prefix: string, n: number, value: string) =>
    `{${
      Array.from({ length: n }, (_, i) =>
        `"c/${id}/${prefix}${String(i).padStart(10, "0")}":${value}`)
        .join(",")
    }}`;
  const cases = [
    `{"c/${id}/o/zz":${entry}}`,
    `{"c/${id}/o/999999999999999999999999":${entry}}`,
    `{"c/${id}/s/zz":[]}`,
    `{"c/${id}/d/1":[]}`,
    // more than any bound, each value unreadable: refused by the count alone
    many("o/", 1_001, "{}"),
    many("i/", 65, "{}"),
    many("s/", 70, "{}"),
    many("d/", 70, "{}"),
  ];
  for (const put of cases) {
    const o = await openFiles(middleCommit(plain, put));
    const at = put.slice(0, 60);
    assertEquals([...heads(o).keys()], [other], at);
    const failed = (o as { failed: string[] }).failed;
    assertEquals(failed.length, 1, at);
    assert(failed[0]!.includes(`conversation ${id}`), failed[0]);
    assert(/items|blocks|numbered/.test(failed[0]!), failed[0]);
  }
});

Deno.test("attack: a byte that is not UTF-8 in a value of state.jsonl is reported naming its conversation", async () => {
  for (const kind of ["plain", "encrypted"] as const) {
    const files = (await getFixture())[kind];
    const passphrase = kind === "encrypted" ? PASSPHRASE : undefined;
    const [id, other] = [...heads(await openFiles(files, passphrase)).keys()];
    const state = files.get("state.jsonl")!.slice();
    // the last byte before the closing brace of the head's line
    const line = text(state).indexOf(`{"key":"c/${id}"`);
    const end = text(state).indexOf("}\n", line);
    state[end - 2] = 0xff;
    const o = await openFiles(withFile(files, "state.jsonl", state), passphrase);
    assertEquals([...heads(o).keys()], [other], kind);
    const failed = (o as { failed: string[] }).failed;
    assert(failed.length === 1 && failed[0]!.includes(`c/${id}`), `${kind}: ${failed}`);
  }
});
