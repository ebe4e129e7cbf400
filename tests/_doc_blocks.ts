/**
 * Readers of the repository's own documents for the tests that keep them
 * true: the fenced `vector` blocks of `docs/protocol.md` (test vectors that
 * `docs_vectors_test.ts` checks against the code) and the Markdown tables
 * of `docs/architecture.md` (the limits table that `docs_limits_test.ts`
 * checks against `lib/`).
 *
 * A vector block looks like this (inputs, a line `--`, expected outputs):
 *
 * ````
 * ```vector derive-key
 * key:    000102…
 * label:  "packet/regular/hsub"
 * length: 32
 * --
 * okm:    8a5f…
 *         0c1d…      (a line that starts with white space continues the value)
 * ```
 * ````
 *
 * A value in double quotes is a JSON string (UTF-8 text); anything else is
 * hex, a decimal number or a word, as the vector's kind defines. Lines that
 * start with `#` are comments.
 *
 * @module
 */

/** One parsed `vector` block. */
export interface VectorBlock {
  /** The word after `vector`: which checker runs it. */
  kind: string;
  /** Line of the opening fence (1-based), for messages. */
  line: number;
  /** The fields above the `--` line, by name. */
  inputs: Record<string, string>;
  /** The fields below it: what the code must compute. */
  outputs: Record<string, string>;
}

const FENCE = /^```vector\s+([a-z0-9-]+)\s*$/;

/**
 * Every `vector` block of `markdown`, in order.
 *
 * @throws {SyntaxError} for a block without its `--` line, a field without
 *   a name, a field given twice or a block that never closes
 */
export function vectorBlocks(markdown: string): VectorBlock[] {
  const lines = markdown.split("\n");
  const blocks: VectorBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const block: VectorBlock = { kind: open[1]!, line: i + 1, inputs: {}, outputs: {} };
    let target: Record<string, string> | null = block.inputs;
    let last: string | null = null;
    for (i++;; i++) {
      if (i >= lines.length) throw new SyntaxError(`vector at line ${block.line} never closes`);
      const text = lines[i]!;
      if (text.startsWith("```")) break;
      if (text.trim() === "" || text.trimStart().startsWith("#")) continue;
      if (text.trim() === "--") {
        if (target === block.outputs) throw new SyntaxError(`line ${i + 1}: a second --`);
        target = block.outputs;
        last = null;
        continue;
      }
      if (/^\s/.test(text)) {
        if (last === null) throw new SyntaxError(`line ${i + 1}: continues no field`);
        target[last] += text.trim();
        continue;
      }
      const field = /^([a-z0-9_]+):\s*(.*)$/.exec(text);
      if (field === null) throw new SyntaxError(`line ${i + 1}: expected "name: value"`);
      if (field[1]! in block.inputs || field[1]! in block.outputs) {
        throw new SyntaxError(`line ${i + 1}: ${field[1]} is given twice`);
      }
      last = field[1]!;
      target[last] = field[2]!.trim();
    }
    if (target !== block.outputs) throw new SyntaxError(`vector at line ${block.line} has no --`);
    blocks.push(block);
  }
  return blocks;
}

/** The text of a vector block with `outputs` in place of its own (for failure messages). */
export function formatVector(block: VectorBlock, outputs: Record<string, string>): string {
  const width =
    Math.max(...[...Object.keys(block.inputs), ...Object.keys(outputs)].map((k) => k.length)) + 2;
  const field = (name: string, value: string) => {
    const pad = " ".repeat(width);
    const chunks = value.startsWith('"') ? [value] : value.match(/.{1,64}/g) ?? [""];
    return `${(name + ":").padEnd(width)}${chunks[0]}` +
      chunks.slice(1).map((c) => `\n${pad}${c}`).join("");
  };
  return [
    "```vector " + block.kind,
    ...Object.entries(block.inputs).map(([k, v]) => field(k, v)),
    "--",
    ...Object.entries(outputs).map(([k, v]) => field(k, v)),
    "```",
  ].join("\n");
}

/** The text under the heading `heading` (any level), up to the next heading of that level or higher. */
export function section(markdown: string, heading: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, "") === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = lines[start]!.indexOf(" ");
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^#+ /.test(l) && l.indexOf(" ") <= level);
  return (end < 0 ? rest : rest.slice(0, end)).join("\n");
}

/** The body rows of the Markdown tables in `text`, as trimmed cells (header and rule rows left out). */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line.startsWith("|")) continue;
    const cells = line.slice(1, line.endsWith("|") ? -1 : undefined).split("|").map((c) =>
      c.trim()
    );
    const isRule = cells.every((c) => /^:?-+:?$/.test(c));
    const isHeader = /^\|\s*:?-+/.test(lines[i + 1]?.trim() ?? "");
    if (!isRule && !isHeader) rows.push(cells);
  }
  return rows;
}

/** A cell's content without its backticks. */
export function unquote(cell: string): string {
  return cell.replace(/^`(.*)`$/, "$1");
}
