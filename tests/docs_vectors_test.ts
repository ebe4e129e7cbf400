/**
 * Keeps the test vectors of `docs/protocol.md` true: every `vector` block
 * is run through its checker (`tests/_doc_vectors.ts`), which computes the
 * outputs from the inputs with the code of `lib/`, and the outputs must be
 * exactly the ones the document states, in its order. A deliberate wire
 * change fails here with the block as the code now computes it, ready to
 * paste into the document.
 *
 * @module
 */

import { assert, assertEquals } from "./_assert.ts";
import { formatVector, type VectorBlock, vectorBlocks } from "./_doc_blocks.ts";
import { Inputs } from "./_doc_inputs.ts";
import { CHECKERS } from "./_doc_vectors.ts";

const DOC = new URL("../docs/protocol.md", import.meta.url);
const blocks = vectorBlocks(await Deno.readTextFile(DOC));

/** Null when the block's outputs are what the code computes, else the block as computed. */
function mismatch(block: VectorBlock): string | null {
  const inputs = new Inputs(block.inputs);
  const computed = CHECKERS[block.kind]!(inputs);
  assertEquals(inputs.unused(), [], `line ${block.line}: inputs the checker does not read`);
  if (JSON.stringify(computed) === JSON.stringify(block.outputs)) return null;
  return `docs/protocol.md line ${block.line} does not match the code, which computes:\n` +
    formatVector(block, computed);
}

Deno.test("docs/protocol.md has a vector of every kind, and every vector has a checker", () => {
  const kinds = new Set(blocks.map((b) => b.kind));
  assertEquals([...kinds].filter((k) => !(k in CHECKERS)), [], "kinds without a checker");
  assertEquals(Object.keys(CHECKERS).filter((k) => !kinds.has(k)), [], "checkers without a vector");
});

for (const block of blocks) {
  Deno.test(`docs/protocol.md line ${block.line}: vector ${block.kind}`, () => {
    const problem = mismatch(block);
    assert(problem === null, problem ?? "");
  });
}

Deno.test("a vector with one output digit changed, or an output left out, no longer matches", () => {
  for (const kind of Object.keys(CHECKERS)) {
    const block = blocks.find((b) => b.kind === kind)!;
    const [name, value] = Object.entries(block.outputs)[0]!;
    const last = value.at(-1) === "0" ? "1" : "0";
    const changed = { ...block, outputs: { ...block.outputs, [name]: value.slice(0, -1) + last } };
    assert(mismatch(changed) !== null, `${kind}: a changed ${name} still matches`);
    const { [name]: _, ...rest } = block.outputs;
    assert(mismatch({ ...block, outputs: rest }) !== null, `${kind}: ${name} is never compared`);
  }
});
