/**
 * Pure parsers for the contents of control-port replies framed by
 * `control_reply.ts`: argument lists with quoted strings (control-spec §2.1.1),
 * PROTOCOLINFO (§3.21), AUTHCHALLENGE (§3.24), ADD_ONION (§3.27), GETINFO
 * (§3.9) and the events we use (STATUS_CLIENT BOOTSTRAP §4.1.10, HS_DESC
 * §4.1.25). Malformed content throws `TorError("control_malformed")`;
 * unknown extra fields are ignored as §1.1 requires.
 *
 * @module
 */

import { fromHex } from "../crypto/bytes.ts";
import { type ControlReply, endText } from "./control_reply.ts";
import { TorError } from "./errors.ts";

/** Positional words and `KEY=value` pairs of one reply line. */
export interface ReplyArgs {
  /** Words without `=`, in order (quoted words unescaped). */
  readonly positional: readonly string[];
  /** `KEY=value` pairs; quoted values unescaped; the first of a key wins. */
  readonly named: ReadonlyMap<string, string>;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: false });
const utf8Encoder = new TextEncoder();
/** Largest octal escape, `\377` (control-spec §2.1.1). */
const MAX_OCTAL_ESCAPE = 0o377;

function malformed(what: string): TorError {
  return new TorError("control_malformed", `Malformed control reply: ${what}`);
}

/**
 * Reads a quoted string starting at `text[start] === '"'`; returns its value
 * and the index after the closing quote. control-spec §2.1.1: read `\n \t \r`
 * and `\0`..`\377` as C escapes, any other escaped character as itself.
 */
export function readQuoted(text: string, start: number): { value: string; end: number } {
  if (text[start] !== '"') throw malformed("expected a quoted string");
  const bytes: number[] = [];
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') return { value: utf8Decoder.decode(new Uint8Array(bytes)), end: i + 1 };
    if (c !== "\\") {
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of utf8Encoder.encode(ch)) bytes.push(b);
      i += ch.length;
      continue;
    }
    const ecp = text.codePointAt(i + 1);
    if (ecp === undefined) break;
    const e = String.fromCodePoint(ecp);
    if (e >= "0" && e <= "7") {
      let j = i + 1;
      let v = 0;
      while (j < text.length && j < i + 4 && text[j]! >= "0" && text[j]! <= "7") {
        v = v * 8 + (text.charCodeAt(j) - 0x30);
        j++;
      }
      if (v > MAX_OCTAL_ESCAPE) throw malformed("an octal escape exceeds \\377");
      bytes.push(v);
      i = j;
      continue;
    }
    const mapped = e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e;
    for (const b of utf8Encoder.encode(mapped)) bytes.push(b);
    i += 1 + e.length;
  }
  throw malformed("a quoted string is not terminated");
}

/** Splits one reply line into positional words and `KEY=value` pairs. */
export function parseArgs(text: string): ReplyArgs {
  const positional: string[] = [];
  const named = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    if (text[i] === " ") {
      i++;
      continue;
    }
    if (text[i] === '"') {
      const q = readQuoted(text, i);
      positional.push(q.value);
      i = afterToken(text, q.end);
      continue;
    }
    let j = i;
    while (j < text.length && text[j] !== " " && text[j] !== "=" && text[j] !== '"') j++;
    const word = text.slice(i, j);
    if (text[j] === '"') throw malformed("a quote inside a word");
    if (text[j] !== "=") {
      positional.push(word);
      i = j;
      continue;
    }
    if (word.length === 0) throw malformed("an argument has an empty key");
    let value: string;
    if (text[j + 1] === '"') {
      const q = readQuoted(text, j + 1);
      value = q.value;
      i = afterToken(text, q.end);
    } else {
      let k = j + 1;
      while (k < text.length && text[k] !== " ") k++;
      value = text.slice(j + 1, k);
      i = k;
    }
    if (!named.has(word)) named.set(word, value);
  }
  return { positional, named };
}

function afterToken(text: string, end: number): number {
  if (end < text.length && text[end] !== " ") throw malformed("text follows a closing quote");
  return end;
}

/** What PROTOCOLINFO says (control-spec §3.21). */
export interface ProtocolInfo {
  /** PIVERSION, "1" today. */
  readonly protocolVersion: number;
  /** Auth methods offered, upper case (NULL, HASHEDPASSWORD, COOKIE, SAFECOOKIE). */
  readonly methods: readonly string[];
  /** The cookie file path, when COOKIE or SAFECOOKIE is offered. */
  readonly cookieFile?: string;
  /** Tor's version string, e.g. "0.4.9.11". */
  readonly torVersion?: string;
}

/** Parses a PROTOCOLINFO reply. */
export function parseProtocolInfo(reply: ControlReply): ProtocolInfo {
  let protocolVersion: number | undefined;
  let methods: string[] | undefined;
  let cookieFile: string | undefined;
  let torVersion: string | undefined;
  for (const line of reply.lines) {
    const sp = line.text.indexOf(" ");
    const keyword = sp < 0 ? line.text : line.text.slice(0, sp);
    const rest = sp < 0 ? "" : line.text.slice(sp + 1);
    // §3.21: InfoLines come in any order; unknown keywords are ignored.
    if (keyword === "PROTOCOLINFO") {
      const v = Number.parseInt(rest, 10);
      if (!/^\d{1,9}/.test(rest)) throw malformed("PROTOCOLINFO has no version");
      protocolVersion = v;
    } else if (keyword === "AUTH") {
      const args = parseArgs(rest);
      const m = args.named.get("METHODS");
      if (m === undefined) throw malformed("PROTOCOLINFO AUTH has no METHODS");
      methods = m.split(",").filter((s) => s.length > 0).map((s) => s.toUpperCase());
      cookieFile = args.named.get("COOKIEFILE");
    } else if (keyword === "VERSION") {
      torVersion = parseArgs(rest).named.get("Tor");
    }
  }
  if (protocolVersion === undefined || methods === undefined) {
    throw malformed("PROTOCOLINFO lacks its PROTOCOLINFO or AUTH line");
  }
  return {
    protocolVersion,
    methods,
    ...(cookieFile === undefined ? {} : { cookieFile }),
    ...(torVersion === undefined ? {} : { torVersion }),
  };
}

/** Length of SERVERHASH and SERVERNONCE (control-spec §3.24). */
export const SAFECOOKIE_FIELD_BYTES = 32;

/** Parses `250 AUTHCHALLENGE SERVERHASH=<hex> SERVERNONCE=<hex>` (§3.24). */
export function parseAuthChallenge(
  reply: ControlReply,
): { serverHash: Uint8Array; serverNonce: Uint8Array } {
  const args = parseArgs(endText(reply));
  if (args.positional[0] !== "AUTHCHALLENGE") throw malformed("AUTHCHALLENGE reply expected");
  const hash = args.named.get("SERVERHASH") ?? "";
  const nonce = args.named.get("SERVERNONCE") ?? "";
  const hexLen = 2 * SAFECOOKIE_FIELD_BYTES;
  if (!/^[0-9A-Fa-f]+$/.test(hash + nonce) || hash.length !== hexLen || nonce.length !== hexLen) {
    throw malformed("AUTHCHALLENGE needs a 32-byte SERVERHASH and SERVERNONCE");
  }
  return { serverHash: fromHex(hash), serverNonce: fromHex(nonce) };
}

/** Parses an ADD_ONION reply (§3.27); the private key is only set for NEW keys. */
export function parseAddOnion(reply: ControlReply): { serviceId: string; privateKey?: string } {
  let serviceId: string | undefined;
  let privateKey: string | undefined;
  for (const line of reply.lines) {
    if (line.text.startsWith("ServiceID=")) serviceId = line.text.slice("ServiceID=".length);
    else if (line.text.startsWith("PrivateKey=")) {
      privateKey = line.text.slice("PrivateKey=".length);
    }
  }
  if (serviceId === undefined || !/^[a-z2-7]{16,56}$/.test(serviceId)) {
    throw malformed("ADD_ONION reply has no valid ServiceID");
  }
  return privateKey === undefined ? { serviceId } : { serviceId, privateKey };
}

/**
 * Parses a GETINFO reply (§3.9): `250-key=value` lines and `250+key=` data
 * blocks, ending in `250 OK`. Values are returned raw (not unquoted).
 */
export function parseGetInfo(reply: ControlReply): Map<string, string> {
  const out = new Map<string, string>();
  reply.lines.forEach((line, index) => {
    const isEnd = index === reply.lines.length - 1;
    if (isEnd && line.text === "OK") return;
    const eq = line.text.indexOf("=");
    if (eq <= 0) throw malformed("a GETINFO line is not key=value");
    const key = line.text.slice(0, eq);
    const value = line.data ?? line.text.slice(eq + 1);
    if (line.data !== undefined && eq !== line.text.length - 1) {
      throw malformed("a GETINFO data line has text after '='");
    }
    out.set(key, value);
  });
  return out;
}

/** An asynchronous event (§4.1): its name and the rest of its first line. */
export interface ControlEvent {
  /** Event name, e.g. "STATUS_CLIENT", "HS_DESC". */
  readonly name: string;
  /** First-line text after the name (without the separating space). */
  readonly text: string;
  /** The whole reply, for multi-line events. */
  readonly reply: ControlReply;
}

/** Splits an async reply into its event name and text. */
export function parseEvent(reply: ControlReply): ControlEvent {
  const first = reply.lines[0]?.text ?? "";
  const sp = first.indexOf(" ");
  const name = sp < 0 ? first : first.slice(0, sp);
  if (!/^[A-Z0-9_]+$/.test(name)) throw malformed("an event has no valid name");
  return { name, text: sp < 0 ? "" : first.slice(sp + 1), reply };
}

/** One bootstrap report (§4.1.10 STATUS_CLIENT BOOTSTRAP). */
export interface BootstrapStatus {
  /** 0..100. */
  readonly progress: number;
  /** Machine-readable phase, e.g. "conn_pt", "done". */
  readonly tag: string;
  /** Human-readable phase, e.g. "Done". */
  readonly summary: string;
  /** Present on a WARN report: why bootstrap is stuck, in tor's words. */
  readonly warning?: string;
  /**
   * On a WARN report, tor's stable keyword for the problem: one of the
   * ORCONN reasons (§4.1.3: CONNECTREFUSED, NOROUTE, TIMEOUT, IDENTITY,
   * PT_MISSING, ...).
   */
  readonly reason?: string;
  /** On a WARN report: "ignore" for the first few problems of a phase, then "warn". */
  readonly recommendation?: string;
  /** On a WARN report: the address:port tor was trying to reach. */
  readonly hostAddr?: string;
}

/** Largest bootstrap percentage. */
export const BOOTSTRAP_DONE = 100;

/**
 * Parses `NOTICE BOOTSTRAP PROGRESS=.. TAG=.. SUMMARY=".."` (the text of a
 * STATUS_CLIENT event or of `GETINFO status/bootstrap-phase`), with the
 * problem fields of a `WARN BOOTSTRAP` report (§4.1.10: WARNING, REASON,
 * RECOMMENDATION, HOSTADDR); `undefined` when the status is not a BOOTSTRAP
 * report.
 */
export function parseBootstrapStatus(text: string): BootstrapStatus | undefined {
  const args = parseArgs(text);
  if (args.positional[1] !== "BOOTSTRAP") return undefined;
  const p = args.named.get("PROGRESS") ?? "";
  const progress = /^\d{1,3}$/.test(p) ? Number(p) : NaN;
  if (!(progress >= 0 && progress <= BOOTSTRAP_DONE)) {
    throw malformed("BOOTSTRAP PROGRESS is not 0..100");
  }
  const optional = (key: string, field: string) => {
    const value = args.named.get(key);
    return value === undefined ? {} : { [field]: value };
  };
  return {
    progress,
    tag: args.named.get("TAG") ?? "",
    summary: args.named.get("SUMMARY") ?? "",
    ...optional("WARNING", "warning"),
    ...optional("REASON", "reason"),
    ...optional("RECOMMENDATION", "recommendation"),
    ...optional("HOSTADDR", "hostAddr"),
  };
}

/** An HS_DESC event (§4.1.25). */
export interface HsDescEvent {
  /** REQUESTED, UPLOAD, RECEIVED, UPLOADED, IGNORE, FAILED, CREATED ... */
  readonly action: string;
  /** Onion address without ".onion", or "UNKNOWN". */
  readonly address: string;
  /** NO_AUTH, BASIC_AUTH, STEALTH_AUTH or UNKNOWN. */
  readonly authType: string;
  /** The HSDir's `$fingerprint`, or UNKNOWN. */
  readonly hsDir: string;
  /** The descriptor ID (blinded key for v3), when given. */
  readonly descriptorId?: string;
  /** Set on FAILED, e.g. "UPLOAD_REJECTED". */
  readonly reason?: string;
}

/** Parses the text of an HS_DESC event (after the name). */
export function parseHsDescEvent(text: string): HsDescEvent {
  const args = parseArgs(text);
  const [action, address, authType, hsDir, descriptorId] = args.positional;
  if (action === undefined || address === undefined || authType === undefined) {
    throw malformed("HS_DESC has too few fields");
  }
  const reason = args.named.get("REASON");
  return {
    action,
    address,
    authType,
    hsDir: hsDir ?? "UNKNOWN",
    ...(descriptorId === undefined ? {} : { descriptorId }),
    ...(reason === undefined ? {} : { reason }),
  };
}
