/**
 * Splitting input into lines, one way for the whole tree:
 * {@linkcode readLines} for a byte stream (the JSON interface's stdin,
 * `scripts/smp-peer.ts`), bounded per line, and {@linkcode contentLines}
 * for the text of a small configuration file (bridges, `--torrc-extra`):
 * trimmed, with blank lines and `#` comments skipped.
 *
 * @module
 */

/** One line of a configuration file that carries content. */
export interface ContentLine {
  /** Its 1-based number in the file, for error messages. */
  number: number;
  /** The line without surrounding white space. */
  text: string;
}

/** The lines of `text` (LF or CRLF) that are neither blank nor a `#` comment, trimmed. */
export function contentLines(text: string): ContentLine[] {
  const out: ContentLine[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed !== "" && !trimmed.startsWith("#")) out.push({ number: i + 1, text: trimmed });
  });
  return out;
}

/**
 * Splits a byte stream into UTF-8 lines (without `\n` or `\r\n`). A line
 * longer than `maxBytes` is skipped up to its newline and yields `null`, so
 * memory stays bounded. A last line without a newline is yielded too.
 */
export async function* readLines(
  input: AsyncIterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<string | null> {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  let skipping = false;
  const take = (): string => {
    const all = new Uint8Array(size);
    let off = 0;
    for (const p of parts) all.set(p, (off += p.length) - p.length);
    parts = [];
    size = 0;
    return decoder.decode(all).replace(/\r$/, "");
  };
  for await (const chunk of input) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        if (size + (end - start) > maxBytes) {
          skipping = true;
          parts = [];
          size = 0;
        } else {
          parts.push(chunk.slice(start, end));
          size += end - start;
        }
      }
      if (nl < 0) break;
      if (skipping) {
        skipping = false;
        yield null;
      } else {
        yield take();
      }
      start = nl + 1;
    }
  }
  if (skipping) yield null;
  else if (size > 0) yield take();
}
