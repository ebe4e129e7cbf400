/**
 * What the checkers of `tests/_doc_vectors.ts` share: typed readers of a
 * vector's inputs (that also notice inputs nobody reads), the scripted RNG
 * that hands out a vector's random bytes in the stated order, and the
 * formats of outputs.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, toHex } from "../lib/crypto/bytes.ts";
import { assertEquals } from "./_assert.ts";

/** Inputs of a vector, with typed readers; each read marks the field as used. */
export class Inputs {
  readonly #fields: Record<string, string>;
  readonly #used = new Set<string>();

  /** Wraps the raw fields of one vector block. */
  constructor(fields: Record<string, string>) {
    this.#fields = fields;
  }

  #get(name: string): string {
    const value = this.#fields[name];
    if (value === undefined) throw new Error(`input ${name} is missing`);
    this.#used.add(name);
    return value;
  }

  /** Bytes given in hex. */
  hex(name: string): Uint8Array {
    return fromHex(this.#get(name));
  }

  /** A JSON string literal. */
  text(name: string): string {
    const value = this.#get(name);
    if (!value.startsWith('"')) throw new Error(`input ${name} must be a "quoted" string`);
    return JSON.parse(value) as string;
  }

  /** A decimal integer. */
  int(name: string): number {
    const value = this.#get(name);
    if (!/^[0-9]+$/.test(value)) throw new Error(`input ${name} must be a decimal integer`);
    return Number(value);
  }

  /** Space-separated words. */
  words(name: string): string[] {
    return this.#get(name).split(/\s+/).filter((w) => w !== "");
  }

  /** Names of the inputs no reader asked for (a vector may not carry dead fields). */
  unused(): string[] {
    return Object.keys(this.#fields).filter((k) => !this.#used.has(k));
  }
}

/** A checker: the outputs of one vector kind from its inputs. */
export type Checker = (inputs: Inputs) => Record<string, string>;

/** A JSON string literal (how a vector writes text). */
export const quote = (text: string): string => JSON.stringify(text);
/** SHA-256 in hex. */
export const digest = (bytes: Uint8Array): string => toHex(sha256(bytes));

/**
 * An rng that returns exactly `chunks`, in order, and fails on a draw of
 * another length or a draw too many; `done()` fails if any is left.
 */
export function scripted(...chunks: Uint8Array[]): ((n: number) => Uint8Array) & {
  done(): void;
} {
  let next = 0;
  const rng = (n: number) => {
    const chunk = chunks[next++];
    if (chunk === undefined) throw new Error(`draw ${next} of ${n} bytes was not scripted`);
    if (chunk.length !== n) {
      throw new Error(`draw ${next} wants ${n} bytes, scripted ${chunk.length}`);
    }
    return chunk.slice();
  };
  return Object.assign(rng, {
    done: () => assertEquals(next, chunks.length, "every scripted draw is used"),
  });
}
