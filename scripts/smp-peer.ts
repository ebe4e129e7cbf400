/**
 * Plays one side of the Socialist Millionaires' Protocol over stdin/stdout,
 * one JSON object per line, for interoperability tests (e.g. against
 * python-potr, see `tests/potr_smp.py`).
 *
 *   deno run scripts/smp-peer.ts --group modp1536|ristretto255 \
 *     --role initiator|responder --secret-hex HEX
 *
 * `--secret-hex` is the integer that enters the SMP math (already derived,
 * in [1, q-1]). Lines out and in: `{"msg":"SMP1"|...|"ABORT","mpis":[hex...]}`
 * with the message's integers in OTR v3 order. For modp1536 each is the
 * integer in hex; for ristretto255 every value is 64 hex digits: an element
 * is the hex of its 32-byte canonical encoding, a scalar its big-endian hex.
 * The last line out is `{"result":"match"|"nomatch"|"abort","reason":"..."}`
 * and the exit status is 0; bad flags print a message on stderr and exit 2.
 *
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { parseArgs } from "node:util";
import { SmpError, type SmpGroup } from "../lib/crypto/smp/group.ts";
import { SMP_ABORT, SMP_VALUE_COUNTS, type SmpMessage } from "../lib/crypto/smp/message.ts";
import { modp1536 } from "../lib/crypto/smp/modp.ts";
import { ristretto255Group } from "../lib/crypto/smp/ristretto.ts";
import { Smp } from "../lib/crypto/smp/smp.ts";
import { readLines } from "../lib/lines.ts";
import { systemRng } from "../lib/rng.ts";

/** Longest input line accepted (bytes): bounds memory on garbage. */
const MAX_LINE_BYTES = 16_384;
/** Hex digits of one ristretto255 value. */
const RISTRETTO_HEX_DIGITS = 64;

const USAGE =
  "Usage: smp-peer --group modp1536|ristretto255 --role initiator|responder --secret-hex HEX";

// deno-lint-ignore no-explicit-any
type AnyGroup = SmpGroup<any>;
const GROUPS: Record<string, AnyGroup> = {
  modp1536: modp1536,
  ristretto255: ristretto255Group,
};

function usage(message: string): never {
  console.error(`smp-peer: ${message}\n${USAGE}`);
  Deno.exit(2);
}

function parseFlags(): { group: AnyGroup; initiator: boolean; secret: bigint } {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        group: { type: "string" },
        role: { type: "string" },
        "secret-hex": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage(errorMessage(e));
  }
  const group = GROUPS[values.group ?? ""];
  if (group === undefined) usage(`unknown --group ${JSON.stringify(values.group ?? "")}`);
  if (values.role !== "initiator" && values.role !== "responder") {
    usage(`unknown --role ${JSON.stringify(values.role ?? "")}`);
  }
  const hex = values["secret-hex"] ?? "";
  if (!/^[0-9a-fA-F]{1,1024}$/.test(hex)) usage("--secret-hex must be hex digits");
  const secret = BigInt("0x" + hex);
  if (secret < 1n || secret >= group.order) usage("--secret-hex must lie in [1, q-1]");
  return { group, initiator: values.role === "initiator", secret };
}

function toLine(msg: SmpMessage, group: AnyGroup): string {
  const pad = group === ristretto255Group ? RISTRETTO_HEX_DIGITS : 0;
  const mpis = msg.values.map((v) => v.toString(16).padStart(pad, "0"));
  return JSON.stringify({ msg: msg.type, mpis });
}

function fromLine(line: string, group: AnyGroup): SmpMessage {
  const bad = (why: string) => new SmpError("smp_malformed", `Cannot parse input line: ${why}`);
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw bad("not JSON");
  }
  if (typeof data !== "object" || data === null) throw bad("not an object");
  const { msg, mpis } = data as { msg?: unknown; mpis?: unknown };
  if (typeof msg !== "string" || !Object.hasOwn(SMP_VALUE_COUNTS, msg)) throw bad("unknown msg");
  if (!Array.isArray(mpis)) throw bad("mpis is not an array");
  const maxDigits = 2 * group.valueBytes;
  const values = mpis.map((h) => {
    if (typeof h !== "string" || !new RegExp(`^[0-9a-fA-F]{1,${maxDigits}}$`).test(h)) {
      throw bad("mpis must be hex strings");
    }
    return BigInt("0x" + h);
  });
  return { type: msg as SmpMessage["type"], values };
}

async function main(): Promise<void> {
  const { group, initiator, secret } = parseFlags();
  const out = (obj: string) => console.log(obj);
  const finish = (result: string, reason: string) => out(JSON.stringify({ result, reason }));
  const smp = new Smp(group, secret, systemRng);
  if (initiator) out(toLine(smp.start(), group));
  try {
    for await (const line of readLines(Deno.stdin.readable, MAX_LINE_BYTES)) {
      if (line === null) throw new RangeError("Input line too long");
      if (line.trim() === "") continue;
      let reply: SmpMessage | null;
      try {
        reply = smp.receive(fromLine(line, group));
      } catch (e) {
        if (!(e instanceof SmpError)) throw e;
        if (e.code !== "smp_aborted") out(toLine(SMP_ABORT, group));
        return finish("abort", `${e.code}: ${e.message}`);
      }
      if (reply !== null) out(toLine(reply, group));
      if (smp.state === "done") {
        const result = smp.result ?? "abort";
        return finish(result, result === "match" ? "secrets are equal" : "secrets differ");
      }
    }
  } catch (e) {
    out(toLine(SMP_ABORT, group));
    return finish("abort", e instanceof Error ? e.message : "input error");
  }
  finish("abort", "input ended before the run finished");
}

if (import.meta.main) await main();
