/**
 * Look-alike names (issue 8 item 6): names with invisible or
 * direction-changing characters are refused (or cleaned, for a request's
 * suggestion), names that look like one in use are detected by their
 * skeleton, and a request that impersonates a contact cannot be accepted
 * under the contact's look-alike name. Each attack string of the issue is
 * tried, and properties run over random strings.
 *
 * @module
 */

import fc from "fast-check";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { checkContactName, sanitizeSuggestedName } from "../lib/peer/address.ts";
import { isPeerError, PeerError } from "../lib/peer/errors.ts";
import {
  confusableWith,
  hiddenCharacter,
  LOOKALIKES,
  nameSkeleton,
  removeHiddenCharacters,
  showName,
} from "../lib/peer/names.ts";
import { connect, TestNet } from "./_peer_harness.ts";
import { deliver, strangerRequest } from "./_requests.ts";
import { seededRng } from "./_rng.ts";
import { MAX_REQUESTS_PER_WINDOW } from "../lib/peer/requests.ts";

/** The attack strings against a contact "bob" that hide a character. */
const HIDDEN_ATTACKS = [
  "bob\u200b", // zero-width space
  "\u202ebob", // right-to-left override
  "bob\u2060", // word joiner
  "\u2068bob\u2069", // first-strong isolate ... pop directional isolate
];
/** The look-alike attacks: nothing hidden, other letters. */
const LOOKALIKE_ATTACKS = [
  "b\u043eb", // Cyrillic о
  "\u0412ob", // Cyrillic В
  "\uff42\uff4f\uff42", // fullwidth
  "\u{1d41b}\u{1d428}\u{1d41b}", // mathematical bold
  "bo\u0307b", // o with a combining dot
  "Bob",
  "B0B",
];

Deno.test("names: invisible and direction-changing characters are refused in a name, removed from a suggestion", () => {
  for (const attack of HIDDEN_ATTACKS) {
    const e = assertThrows(() => checkContactName(attack), PeerError);
    assertEquals(e.code, "bad_name");
    assert(/U\+[0-9A-F]{4}/.test(e.message) && e.message.includes("remove it"), e.message);
    assert(!e.message.includes(attack), "the message shows the character escaped");
    assertEquals(sanitizeSuggestedName(attack), "bob");
  }
  for (const c of ["\u00ad", "\ufeff", "\u200e", "\u061c", "\ufe00", "\u3164", "\u{e0041}"]) {
    assert(hiddenCharacter(`a${c}b`) !== undefined, `U+${c.codePointAt(0)!.toString(16)}`);
  }
  assert(hiddenCharacter("\ue000") !== undefined, "private use");
  // emoji keep their joiners and presentation selector
  for (const emoji of ["\u{1f469}\u200d\u{1f4bb}", "\u2764\ufe0f", "\u2764\ufe0f\u200d\u{1f525}"]) {
    assertEquals(checkContactName(emoji), emoji);
  }
  assertThrows(() => checkContactName("a\u200db"), PeerError); // a joiner between letters
  assertEquals(sanitizeSuggestedName("\u200b\u2060"), "contact");
  assertEquals(sanitizeSuggestedName("Bob \u202eSmith"), "Bob_Smith");
});

Deno.test("names: every attack string has the skeleton of bob and is confusable with it", () => {
  for (const attack of [...HIDDEN_ATTACKS, ...LOOKALIKE_ATTACKS]) {
    assertEquals(nameSkeleton(attack), nameSkeleton("bob"), showName(attack));
    assertEquals(confusableWith(attack, ["alice", "bob"]), "bob", showName(attack));
  }
  assertEquals(confusableWith("bob", ["bob"]), undefined, "a name is not its own look-alike");
  assertEquals(confusableWith("bop", ["bob", "alice"]), undefined);
  assertEquals(nameSkeleton("rnary"), nameSkeleton("mary"));
  assertEquals(nameSkeleton("a1ice"), nameSkeleton("alice"));
  assertEquals(nameSkeleton("AIice"), nameSkeleton("alice"));
  assert(nameSkeleton("ian") !== nameSkeleton("lan"), "i and l are told apart");
  assert(showName("b\u043eb").includes("U+043E"), showName("b\u043eb"));
});

Deno.test("names: look-alikes TS #39 lists in common scripts, and the braille blank, are caught", () => {
  // a blank that renders as nothing, and is neither a format character nor white space
  const e = assertThrows(() => checkContactName("bob\u2800"), PeerError);
  assertEquals(e.code, "bad_name");
  assertEquals(sanitizeSuggestedName("bob\u2800"), "bob");
  const attacks: [string, string][] = [
    ["b\u0966b", "bob"], // Devanagari digit zero
    ["b\u0e50b", "bob"], // Thai digit zero
    ["b\u0c66b", "bob"], // Telugu digit zero
    ["b\u0c02b", "bob"], // Telugu sign anusvara (a mark: mapped before marks are dropped)
    ["b\u05e1b", "bob"], // Hebrew samekh
    ["b\u0647b", "bob"], // Arabic heh
    ["b\u0665b", "bob"], // Arabic-Indic digit five
    ["b\u00f8b", "bob"], // o with stroke (TS #39: o and an overlay)
    ["b\u1d0fb", "bob"], // small capital o
    ["\u042cob", "bob"], // Cyrillic soft sign
    ["a\u0627ice", "alice"], // Arabic alef
    ["a\u0661ice", "alice"], // Arabic-Indic digit one
    ["a\u05d5ice", "alice"], // Hebrew vav
    ["a\u0142ice", "alice"], // l with stroke
    ["al\u026ace", "alice"], // small capital I
    ["\u0111ave", "dave"], // d with stroke
    ["\u0561ill", "will"], // Armenian ayb
  ];
  for (const [attack, victim] of attacks) {
    assertEquals(confusableWith(attack, ["carol", victim]), victim, showName(attack));
  }
  // names people use in their own scripts stay apart from each other
  const legit: [string, string][] = [
    ["\u0418\u0432\u0430\u043d", "Ivan"], // Иван
    ["\u0421\u0430\u0448\u0430", "\u041c\u0430\u0448\u0430"], // Саша, Маша
    ["\u5c71\u7530", "\u7530\u4e2d"], // 山田, 田中
    ["\u0645\u062d\u0645\u062f", "\u0623\u062d\u0645\u062f"], // محمد, أحمد
    ["\u039d\u03af\u03ba\u03bf\u03c2", "\u039d\u03b9\u03ba\u03bf\u03bb\u03b1\u03c2"], // Νίκος, Νικολας
    ["\u05d3\u05df", "\u05d3\u05d5\u05e8"], // דן, דור
    ["\u{1f600}", "\u{1f603}"],
    ["\u{1f469}\u200d\u{1f4bb}", "\u{1f468}\u200d\u{1f4bb}"],
  ];
  for (const [a, b] of legit) {
    assertEquals(checkContactName(a), a);
    assertEquals(confusableWith(a, [b]), undefined, `${showName(a)} and ${showName(b)}`);
  }
});

Deno.test("names: the look-alike table maps only non-ASCII letters, besides the listed ASCII ones", () => {
  const asciiSources = new Set(["I", "1", "|", "0", "`"]);
  for (const [to, from] of Object.entries(LOOKALIKES)) {
    for (const c of from) {
      const ascii = c.codePointAt(0)! < 0x80;
      assert(!ascii || asciiSources.has(c), `${to}: ${c}`);
      assertEquals(nameSkeleton(c), nameSkeleton(to), `${to}: U+${c.codePointAt(0)!.toString(16)}`);
    }
  }
});

Deno.test("names: properties over random strings", () => {
  const text = fc.string({ unit: "binary", minLength: 1, maxLength: 24 });
  const hidden = fc.constantFrom("\u200b", "\u200c", "\u2060", "\u202e", "\u2066", "\ufeff");
  fc.assert(
    fc.property(text, (s) => {
      // skeletons are stable, and a name without hidden characters is what checkContactName says
      const k = nameSkeleton(s);
      assertEquals(nameSkeleton(k), k);
      if (hiddenCharacter(s) !== undefined) {
        const e = assertThrows(() => checkContactName(s), PeerError);
        assertEquals(e.code, "bad_name");
      }
      // a suggestion is always cleaned into a valid name without hidden characters
      const cleaned = sanitizeSuggestedName(s);
      assertEquals(checkContactName(cleaned), cleaned);
      assertEquals(hiddenCharacter(cleaned), undefined);
      assertEquals(hiddenCharacter(removeHiddenCharacters(s)), undefined);
    }),
    { numRuns: 2000 },
  );
  const letters = fc.string({
    unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz"),
    minLength: 1,
    maxLength: 12,
  });
  fc.assert(
    fc.property(letters, hidden, fc.nat(), fc.nat(), (name, h, at, pick) => {
      // a hidden character anywhere does not change the skeleton
      const i = at % (name.length + 1);
      assertEquals(nameSkeleton(name.slice(0, i) + h + name.slice(i)), nameSkeleton(name));
      // nor does any look-alike of one of its letters
      const j = pick % name.length;
      const from = LOOKALIKES[name[j]!];
      if (from !== undefined) {
        const swapped = name.slice(0, j) + [...from][pick % [...from].length] + name.slice(j + 1);
        assertEquals(confusableWith(swapped, [name]), swapped === name ? undefined : name);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("Peer: a request impersonating the contact bob is listed apart and cannot be accepted as a look-alike", async () => {
  const net = new TestNet("names-1");
  const rng = seededRng("names-1/strangers");
  try {
    const alice = await net.peer("alice");
    const bob = await net.peer("bob");
    await connect(alice, bob);
    const attacks = [...HIDDEN_ATTACKS, ...LOOKALIKE_ATTACKS];
    const a = alice.mark();
    await deliver(alice, attacks.map((n) => strangerRequest(alice, n, rng)));
    // past MAX_REQUESTS_PER_WINDOW they are held as a flood, without an event each
    await alice.until(() => alice.peer.inboundRequests().length === attacks.length);
    assertEquals(alice.all("request-received", a).length, MAX_REQUESTS_PER_WINDOW);
    const listed = alice.peer.inboundRequests();
    for (const r of listed) {
      assertEquals(hiddenCharacter(r.name), undefined, showName(r.name));
      assert(r.name !== "bob");
      // every one is flagged as looking like bob (or like an earlier impersonator)
      assert(r.looksLike !== undefined, showName(r.name));
      // and none can be accepted under the name it came with
      const e = await assertRejects(() => alice.peer.acceptRequest(r.name), PeerError);
      assertEquals(e.code, "name_confusable", e.message);
    }
    assertEquals(listed.length, attacks.length);
    // the look-alike cannot be accepted under its own name
    const cyrillic = listed.find((r) => r.name === "b\u043eb")!;
    const e = await assertRejects(() => alice.peer.acceptRequest(cyrillic.name), PeerError);
    assert(isPeerError(e, "name_confusable"), e.message);
    assert(e.message.includes("U+043E") && e.message.includes("req-accept b"), e.message);
    // nor renamed to another look-alike; a distinct name works
    await assertRejects(() => alice.peer.acceptRequest(cyrillic.name, "B0b"), PeerError);
    const conv = await alice.peer.acceptRequest(cyrillic.name, "mallory");
    assertEquals(conv.name, "mallory");
    // an outbound request may not take a look-alike name either
    const carol = await net.peer("carol");
    const id = carol.peer.identity();
    const sent = await assertRejects(
      () => alice.peer.sendRequest(`b\u043eb@${id.onion}:${id.port}`, id.key),
      PeerError,
    );
    assertEquals(sent.code, "name_confusable");
  } finally {
    await net.close();
  }
});

Deno.test("Peer: a stranger who asks first under the name a friend will send is marked too, not only the friend", async () => {
  const net = new TestNet("names-race");
  const rng = seededRng("names-race/strangers");
  try {
    const alice = await net.peer("alice");
    const dave = await net.peer("dave");
    const id = alice.peer.identity();
    // the impostor knows dave will ask, and asks first under his name
    await deliver(alice, [strangerRequest(alice, "dave", rng)]);
    await alice.until(() => alice.peer.inboundRequests().length === 1);
    await dave.peer.sendRequest(`alice@${id.onion}:${id.port}`, id.key);
    await alice.until(() => alice.peer.inboundRequests().length === 2);
    const [first, second] = alice.peer.inboundRequests();
    assertEquals([first?.name, second?.name], ["dave", "dave-2"]);
    assertEquals(second?.looksLike, "dave");
    // the first is no more "the real dave" than the second: both say so, neither is accepted
    // under the contested name without a choice
    assertEquals(first?.looksLike, "dave-2", "the first comer passes for the genuine one");
    const e = await assertRejects(() => alice.peer.acceptRequest("dave"), PeerError);
    assertEquals(e.code, "name_confusable", e.message);
    await alice.peer.acceptRequest("dave-2", "dave-real");
    await dave.waitFor((ev) => ev.event === "conversation-established");
  } finally {
    await net.close();
  }
});
