/**
 * A WebAssembly text assembler for the small subset our `.wat` files use,
 * so that no downloaded toolchain is needed: one module with one memory,
 * functions with parameters, results and locals, and instructions in the
 * linear (stack) form. Run as a script it writes the embedding module:
 *
 * ```sh
 * deno run --allow-read --allow-write scripts/wat.ts lib/crypto/hsub_scan.wat lib/crypto/hsub_scan_wasm.ts
 * ```
 *
 * Supported: `(memory (export "name") pages)`; `(func $name (export
 * "name") (param $p type) (result type) (local $l type) ...instructions)`
 * with `block`, `loop` and `if ... else ... end` (with an optional `$label`
 * and `(result type)`), `br`/`br_if $label`, `return`, locals by name,
 * `i32.const`, `v128.const i32x4 a b c d`, memory instructions with
 * `offset=` and `align=`, the i32 and SIMD instructions of the tables
 * below, `;;` and `(; ;)` comments. Anything else is an error naming the
 * line. Encodings: WebAssembly core specification 2.0, §5 (binary format);
 * SIMD opcodes carry the 0xFD prefix and a LEB128 sub-opcode (§5.4.8).
 *
 * @module
 */

import { toBase64 } from "../lib/crypto/bytes.ts";

const VALTYPES: Record<string, number> = { i32: 0x7f, i64: 0x7e, v128: 0x7b };

/** Instructions without immediates: opcode bytes (SIMD: 0xFD, then the LEB128 sub-opcode). */
const PLAIN: Record<string, number[]> = {
  "unreachable": [0x00],
  "nop": [0x01],
  "return": [0x0f],
  "drop": [0x1a],
  "select": [0x1b],
  "i32.eqz": [0x45],
  "i32.eq": [0x46],
  "i32.ne": [0x47],
  "i32.lt_s": [0x48],
  "i32.lt_u": [0x49],
  "i32.gt_s": [0x4a],
  "i32.gt_u": [0x4b],
  "i32.le_u": [0x4d],
  "i32.ge_u": [0x4f],
  "i32.ctz": [0x68],
  "i32.add": [0x6a],
  "i32.sub": [0x6b],
  "i32.mul": [0x6c],
  "i32.and": [0x71],
  "i32.or": [0x72],
  "i32.xor": [0x73],
  "i32.shl": [0x74],
  "i32.shr_s": [0x75],
  "i32.shr_u": [0x76],
  "i32x4.splat": [0xfd, 17],
  "i32x4.eq": [0xfd, 55],
  "v128.not": [0xfd, 77],
  "v128.and": [0xfd, 78],
  "v128.andnot": [0xfd, 79],
  "v128.or": [0xfd, 80],
  "v128.xor": [0xfd, 81],
  "v128.bitselect": [0xfd, 82],
  "v128.any_true": [0xfd, 83],
  "i32x4.all_true": [0xfd, 163],
  "i32x4.bitmask": [0xfd, 164],
  "i32x4.shl": [0xfd, 171],
  "i32x4.shr_u": [0xfd, 173],
  "i32x4.add": [0xfd, 174],
  "i32x4.sub": [0xfd, 177],
};

/** Memory instructions: opcode bytes and natural alignment (log2 bytes). */
const MEMORY: Record<string, [number[], number]> = {
  "i32.load": [[0x28], 2],
  "i32.store": [[0x36], 2],
  "v128.load": [[0xfd, 0], 4],
  "v128.store": [[0xfd, 11], 4],
};

/** Lane instructions: opcode bytes; one lane-index immediate follows. */
const LANE: Record<string, number[]> = {
  "i32x4.extract_lane": [0xfd, 27],
  "i32x4.replace_lane": [0xfd, 28],
};

/** An error in the text, naming its line. */
export class WatError extends Error {}

interface Token {
  text: string;
  line: number;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  for (let i = 0; i < source.length;) {
    const c = source[i]!;
    if (c === "\n") line++;
    if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith(";;", i)) {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (source.startsWith("(;", i)) {
      const end = source.indexOf(";)", i);
      if (end < 0) throw new WatError(`line ${line}: unterminated comment`);
      line += source.slice(i, end).split("\n").length - 1;
      i = end + 2;
    } else if (c === "(" || c === ")") {
      tokens.push({ text: c, line });
      i++;
    } else if (c === '"') {
      const end = source.indexOf('"', i + 1);
      if (end < 0) throw new WatError(`line ${line}: unterminated string`);
      tokens.push({ text: source.slice(i, end + 1), line });
      i = end + 1;
    } else {
      let j = i;
      while (j < source.length && !/[\s()";]/.test(source[j]!)) j++;
      tokens.push({ text: source.slice(i, j), line });
      i = j;
    }
  }
  return tokens;
}

/** An S-expression: a token or a list. */
type Node = Token | Node[];

function parse(tokens: Token[]): Node[] {
  const stack: Node[][] = [[]];
  for (const t of tokens) {
    if (t.text === "(") stack.push([]);
    else if (t.text === ")") {
      const list = stack.pop()!;
      if (stack.length === 0) throw new WatError(`line ${t.line}: unbalanced ")"`);
      stack.at(-1)!.push(list);
    } else stack.at(-1)!.push(t);
  }
  if (stack.length !== 1) throw new WatError('unbalanced "(" at the end');
  return stack[0]!;
}

function head(node: Node): string | undefined {
  return Array.isArray(node) && !Array.isArray(node[0]) ? node[0]?.text : undefined;
}

function lineOf(node: Node): number {
  return Array.isArray(node) ? lineOf(node[0] ?? { text: "", line: 0 }) : node.line;
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function name(text: string): number[] {
  const bytes = new TextEncoder().encode(text.slice(1, -1));
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function int(token: Token | undefined): number {
  const text = token?.text ?? "";
  const value = Number(text.replaceAll("_", ""));
  if (!/^-?(0x[0-9a-fA-F_]+|[0-9_]+)$/.test(text) || !Number.isSafeInteger(value)) {
    throw new WatError(`line ${token?.line}: ${JSON.stringify(text)} is not an integer`);
  }
  return value;
}

interface Func {
  exportName?: string;
  params: number[];
  results: number[];
  locals: number[];
  body: number[];
}

/** Encodes one function's instructions (linear form). */
function assembleBody(items: Node[], localIndex: Map<string, number>): number[] {
  const out: number[] = [];
  const labels: (string | undefined)[] = [];
  // the block type after the instruction at `i`, and the index of its last item
  const blockType = (i: number): [number[], number] => {
    const next = items[i + 1];
    if (next !== undefined && head(next) === "result") {
      const t = VALTYPES[((next as Node[])[1] as Token).text];
      if (t === undefined) throw new WatError(`line ${lineOf(next)}: unknown result type`);
      return [[t], i + 1];
    }
    return [[0x40], i];
  };
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (Array.isArray(item) && head(item) === "result") continue; // a block type, read above
    if (Array.isArray(item)) {
      throw new WatError(`line ${lineOf(item)}: only the linear form is supported`);
    }
    const op = item.text;
    const at = `line ${item.line}`;
    if (op === "block" || op === "loop" || op === "if") {
      let label: string | undefined;
      if (
        !Array.isArray(items[i + 1]) && (items[i + 1] as Token | undefined)?.text.startsWith("$")
      ) {
        label = (items[++i] as Token).text;
      }
      const [type, j] = blockType(i);
      i = j;
      out.push(op === "block" ? 0x02 : op === "loop" ? 0x03 : 0x04, ...type);
      labels.push(label);
    } else if (op === "else") {
      out.push(0x05);
    } else if (op === "end") {
      if (labels.pop() === undefined && labels.length < 0) {
        throw new WatError(`${at}: end without block`);
      }
      out.push(0x0b);
    } else if (op === "br" || op === "br_if") {
      const target = (items[++i] as Token).text;
      const depth = labels.length - 1 - labels.lastIndexOf(target);
      if (!labels.includes(target)) throw new WatError(`${at}: unknown label ${target}`);
      out.push(op === "br" ? 0x0c : 0x0d, ...uleb(depth));
    } else if (op === "local.get" || op === "local.set" || op === "local.tee") {
      const ref = (items[++i] as Token).text;
      const index = ref.startsWith("$") ? localIndex.get(ref) : int(items[i] as Token);
      if (index === undefined) throw new WatError(`${at}: unknown local ${ref}`);
      out.push({ "local.get": 0x20, "local.set": 0x21, "local.tee": 0x22 }[op], ...uleb(index));
    } else if (op === "i32.const") {
      out.push(0x41, ...sleb(int(items[++i] as Token) | 0));
    } else if (op === "v128.const") {
      if ((items[++i] as Token).text !== "i32x4") {
        throw new WatError(`${at}: only v128.const i32x4`);
      }
      const lanes = new Int32Array(4).map(() => int(items[++i] as Token) | 0);
      out.push(0xfd, ...uleb(12), ...new Uint8Array(lanes.buffer));
    } else if (op in MEMORY) {
      const [code, natural] = MEMORY[op]!;
      let offset = 0;
      let align = natural;
      for (let t = items[i + 1] as Token | undefined; t !== undefined && !Array.isArray(t);) {
        if (t.text.startsWith("offset=")) offset = int({ text: t.text.slice(7), line: t.line });
        else if (t.text.startsWith("align=")) {
          align = Math.log2(int({ text: t.text.slice(6), line: t.line }));
        } else break;
        i++;
        t = items[i + 1] as Token | undefined;
      }
      out.push(...code.slice(0, -1), ...uleb(code.at(-1)!), ...uleb(align), ...uleb(offset));
    } else if (op in LANE) {
      const code = LANE[op]!;
      out.push(code[0]!, ...uleb(code[1]!), int(items[++i] as Token));
    } else if (op in PLAIN) {
      const code = PLAIN[op]!;
      out.push(...(code[0] === 0xfd ? [0xfd, ...uleb(code[1]!)] : code));
    } else {
      throw new WatError(`${at}: unknown instruction ${JSON.stringify(op)}`);
    }
  }
  out.push(0x0b);
  return out;
}

function assembleFunc(node: Node[]): Func {
  const func: Func = { params: [], results: [], locals: [], body: [] };
  const localIndex = new Map<string, number>();
  let i = 1;
  if (!Array.isArray(node[i]) && (node[i] as Token).text.startsWith("$")) i++;
  const declare = (list: Node[], into: number[]) => {
    const [, ref, type] = list as Token[];
    const t = VALTYPES[(type ?? ref)!.text];
    if (t === undefined) throw new WatError(`line ${lineOf(list)}: unknown type`);
    if (type !== undefined) localIndex.set(ref!.text, func.params.length + func.locals.length);
    into.push(t);
  };
  for (; i < node.length && Array.isArray(node[i]); i++) {
    const list = node[i] as Node[];
    const kind = head(list);
    if (kind === "export") func.exportName = (list[1] as Token).text;
    else if (kind === "param") declare(list, func.params);
    else if (kind === "result") declare(list, func.results);
    else if (kind === "local") declare(list, func.locals);
    else break;
  }
  func.body = assembleBody(node.slice(i), localIndex);
  return func;
}

/**
 * Assembles the text of one module into its binary form.
 *
 * @throws {WatError} naming the line of anything outside the subset
 */
export function assemble(source: string): Uint8Array {
  const [module, ...rest] = parse(tokenize(source));
  if (head(module ?? []) !== "module" || rest.length > 0) {
    throw new WatError("the text must be one (module ...)");
  }
  const funcs: Func[] = [];
  let memory: { pages: number; exportName?: string } | undefined;
  for (const field of (module as Node[]).slice(1)) {
    const kind = head(field);
    if (kind === "func") funcs.push(assembleFunc(field as Node[]));
    else if (kind === "memory") {
      const items = (field as Node[]).slice(1);
      const exp = items.find((n) => head(n) === "export") as Node[] | undefined;
      memory = {
        pages: int(items.find((n) => !Array.isArray(n)) as Token),
        ...(exp !== undefined ? { exportName: (exp[1] as Token).text } : {}),
      };
    } else throw new WatError(`line ${lineOf(field)}: unsupported module field ${kind}`);
  }
  const types = funcs.map((
    f,
  ) => [0x60, ...vector(f.params.map((t) => [t])), ...vector(f.results.map((t) => [t]))]);
  const exports: number[][] = [];
  funcs.forEach((f, i) =>
    f.exportName !== undefined && exports.push([...name(f.exportName), 0x00, ...uleb(i)])
  );
  if (memory?.exportName !== undefined) exports.push([...name(memory.exportName), 0x02, 0x00]);
  const codes = funcs.map((f) => {
    const locals = vector(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector(types)),
    ...section(3, vector(funcs.map((_, i) => uleb(i)))),
    ...(memory !== undefined ? section(5, vector([[0x00, ...uleb(memory.pages)]])) : []),
    ...section(7, vector(exports)),
    ...section(10, vector(codes)),
  ]);
}

/** The TypeScript module that embeds `wasm` (what `lib/` imports). */
export function embedding(wasm: Uint8Array, source: string): string {
  const lines = toBase64(wasm).match(/.{1,96}/g) ?? [];
  return [
    "/**",
    ` * The WebAssembly of \`${source}\`, assembled by \`scripts/wat.ts\` (do not edit;`,
    " * tests/crypto_hsub_scan_test.ts checks that it is the assembly of that text).",
    " *",
    " * @module",
    " */",
    "",
    "/** The module's bytes in base64. */",
    "export const WASM_BASE64: string =",
    ...lines.map((l, i) => `  "${l}"${i === lines.length - 1 ? ";" : " +"}`),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const [input, output] = Deno.args;
  if (input === undefined || output === undefined) {
    console.error("usage: deno run --allow-read --allow-write scripts/wat.ts <in.wat> <out.ts>");
    Deno.exit(2);
  }
  const wasm = assemble(Deno.readTextFileSync(input));
  Deno.writeTextFileSync(output, embedding(wasm, input));
  console.log(`${output}: ${wasm.length} bytes of WebAssembly`);
}
