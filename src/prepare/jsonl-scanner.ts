/**
 * JSON Lines scanner (https://jsonlines.org): pure and synchronous, Buffers in (any chunking), one
 * object per physical line out. Lines are split on LF only (a bare CR inside a line is trailing
 * data); one trailing CR is stripped. Each line must be one JSON object; duplicate keys,
 * NaN/Infinity, out-of-range numbers and lone surrogates (cases JSONTestSuite leaves to the
 * implementation or rejects: https://github.com/nst/JSONTestSuite) are PREP_JSON; invalid UTF-8
 * and a UTF-16 BOM are PREP_ENCODING. A UTF-8 BOM is stripped and reported. Numbers keep their
 * exact text (integers beyond 2^53 are not rounded).
 */
import { isUtf8 } from "node:buffer";
import { BtkitError, optionHint } from "../errors.js";
import { LATIN1_ADVICE, utf16Advice, utf16Bom } from "./encoding.js";
import { firstInvalidUtf8 } from "./csv-scanner.js";

/** What a JSON value was: decides inference and how it is written out again. */
export const KIND = { string: 0, number: 1, bool: 2, json: 3, null: 4 } as const;
export type Kind = (typeof KIND)[keyof typeof KIND];

export interface JsonRecord {
  keys: string[];
  /** strings decoded; numbers, booleans and nested values as their JSON text; null as null */
  values: (string | null)[];
  kinds: Kind[];
  line: number;
  /** an empty or whitespace-only line ("a blank line is not" a JSON Lines value: https://jsonlines.org) */
  blank: boolean;
  /** byte offset just after the line, from the start of the input */
  end: number;
  /**
   * why the record is invalid (its values are not to be used): with `lineErrors: "record"`, a line
   * that is no JSON object (PREP_JSON, naming onInvalid "skip"); from typed-input.ts, a value that
   * does not fit its column (PREP_TYPE)
   */
  error?: BtkitError;
}

export interface JsonlScannerOptions {
  input?: string;
  /** longest line in bytes before it is an error; default 64 MiB */
  maxRecordBytes?: number;
  /** the bytes start at a line inside the input (a --part that starts inside a file): no byte order mark or UTF-16 check; default false */
  resumed?: boolean;
  /**
   * A line that is not one JSON object (PREP_JSON): "throw" it (default), or "record" it as a
   * JsonRecord with `error`, the lines after it read as usual (each JSON Lines line stands alone,
   * so prep's onInvalid "skip" can skip it). Encoding errors and over-long lines always throw.
   */
  lineErrors?: "throw" | "record";
}

/** deepest nesting accepted inside a value */
export const MAX_DEPTH = 512;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class JsonlScanner {
  readonly input: string;
  readonly maxRecordBytes: number;
  readonly lineErrors: "throw" | "record";
  #pending: Buffer = Buffer.alloc(0);
  #line = 1;
  #started = false;
  #bom = false;
  bytes = 0;

  constructor(options: JsonlScannerOptions = {}) {
    this.input = options.input ?? "input";
    this.maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
    this.#started = options.resumed ?? false;
    this.lineErrors = options.lineErrors ?? "throw";
  }

  get bomStripped(): boolean {
    return this.#bom;
  }

  push(chunk: Buffer): JsonRecord[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    return this.#run(false);
  }

  end(): JsonRecord[] {
    return this.#run(true);
  }

  #run(final: boolean): JsonRecord[] {
    let buf = this.#pending;
    if (!this.#started) {
      if (buf.length < 3 && !final) return [];
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
        this.#bom = true;
        buf = buf.subarray(3);
      } else if (utf16Bom(buf) !== undefined || (buf.length > 1 && buf[1] === 0 && buf[0] !== 0) || (buf.length > 1 && buf[0] === 0 && buf[1] !== 0)) {
        const which = utf16Bom(buf) ?? (buf[1] === 0 ? "UTF-16LE" : "UTF-16BE");
        throw new BtkitError("PREP_ENCODING", `${this.input} is ${which}; ${utf16Advice(which)}`, { input: this.input, line: 1, option: "encoding" });
      }
      this.#started = true;
    }
    const out: JsonRecord[] = [];
    let pos = 0;
    while (pos < buf.length) {
      let nl = buf.indexOf(10, pos);
      if (nl < 0) {
        if (!final) break;
        nl = buf.length;
      }
      let stop = nl;
      if (stop > pos && buf[stop - 1] === 13) stop--;
      const span = buf.subarray(pos, stop);
      if (!isUtf8(span)) {
        const bad = firstInvalidUtf8(span);
        throw new BtkitError("PREP_ENCODING", `${this.input}: line ${this.#line} holds invalid UTF-8 (byte 0x${span[bad]!.toString(16).padStart(2, "0")} at column ${bad + 1}); ${LATIN1_ADVICE}`, { input: this.input, line: this.#line, offset: this.bytes + pos + bad });
      }
      const end = this.bytes + Math.min(nl + 1, buf.length);
      try {
        out.push(parseObjectLine(span.toString("utf8"), this.input, this.#line, end));
      } catch (err) {
        if (this.lineErrors === "throw" || !(err instanceof BtkitError) || err.code !== "PREP_JSON") throw err;
        const error = new BtkitError(err.code, `${err.message}; fix the line, or skip such lines with ${optionHint("onInvalid", "skip")}`, err.context, { cause: err });
        out.push({ keys: [], values: [], kinds: [], line: this.#line, blank: false, end, error });
      }
      this.#line++;
      pos = Math.min(nl + 1, buf.length);
    }
    this.bytes += pos;
    this.#pending = buf.subarray(pos);
    if (this.#pending.length > this.maxRecordBytes) {
      throw new BtkitError("PREP_RECORD_TOO_LARGE", `${this.input}: line ${this.#line} is longer than ${this.maxRecordBytes} bytes`, { input: this.input, line: this.#line, expected: this.maxRecordBytes, got: this.#pending.length });
    }
    return out;
  }
}

function jsonError(input: string, line: number, message: string): never {
  throw new BtkitError("PREP_JSON", `${input}: line ${line}: ${message}`, { input, line });
}

/** Parses one line that must hold one JSON object; keeps top-level keys in order and numbers as text. */
export function parseObjectLine(text: string, input: string, line: number, end: number): JsonRecord {
  if (text.trim().length === 0) return { keys: [], values: [], kinds: [], line, blank: true, end };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const hint = line <= 2 && /^\s*[[{]?\s*$/.test(text) ? ` (pretty-printed JSON or a JSON array is not JSON Lines: use ${optionHint("inputFormat", "json")})` : "";
    const msg = err instanceof RangeError ? "nesting is too deep" : (err as Error).message;
    jsonError(input, line, `invalid JSON: ${msg}${hint}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    jsonError(input, line, `expected a JSON object, got ${parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed}`);
  }
  const obj = parsed as Record<string, unknown>;
  const keys: string[] = [];
  const values: (string | null)[] = [];
  const kinds: Kind[] = [];
  const seen = new Set<string>();
  // Walk the top level of the (valid) text: key spans and raw value spans.
  const n = text.length;
  let i = text.indexOf("{") + 1;
  while (i < n) {
    while (i < n && text[i] !== '"' && text[i] !== "}") i++;
    if (i >= n || text[i] === "}") break;
    const kEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, kEnd)) as string;
    if (seen.has(key)) jsonError(input, line, `duplicate key ${JSON.stringify(key)}`);
    if (LONE_SURROGATE.test(key)) jsonError(input, line, `key ${JSON.stringify(key)} holds a lone surrogate (\\ud800-\\udfff escape)`);
    seen.add(key);
    i = text.indexOf(":", kEnd) + 1;
    while (text[i] === " " || text[i] === "\t" || text[i] === "\r") i++;
    const vStart = i;
    const c = text[i];
    if (c === '"') {
      i = stringEnd(text, i);
      const v = obj[key] as string;
      if (LONE_SURROGATE.test(v)) jsonError(input, line, `the value of ${JSON.stringify(key)} holds a lone surrogate (\\ud800-\\udfff escape)`);
      values.push(v);
      kinds.push(KIND.string);
    } else if (c === "{" || c === "[") {
      i = nestedEnd(text, i);
      if (i < 0) jsonError(input, line, `the value of ${JSON.stringify(key)} nests deeper than ${MAX_DEPTH} levels`);
      const raw = text.slice(vStart, i);
      if (LONE_SURROGATE.test(JSON.stringify(obj[key]))) jsonError(input, line, `the value of ${JSON.stringify(key)} holds a lone surrogate`);
      values.push(raw);
      kinds.push(KIND.json);
    } else {
      while (i < n && text[i] !== "," && text[i] !== "}" && text[i] !== " " && text[i] !== "\t" && text[i] !== "\r") i++;
      const raw = text.slice(vStart, i);
      if (raw === "null") {
        values.push(null);
        kinds.push(KIND.null);
      } else if (raw === "true" || raw === "false") {
        values.push(raw);
        kinds.push(KIND.bool);
      } else {
        const num = Number(raw);
        if (!Number.isFinite(num)) jsonError(input, line, `the number ${raw} of ${JSON.stringify(key)} is out of range for a 64-bit float`);
        if (num === 0 && /[1-9]/.test(raw.replace(/[eE].*$/, ""))) jsonError(input, line, `the number ${raw} of ${JSON.stringify(key)} underflows to 0`);
        values.push(raw);
        kinds.push(KIND.number);
      }
    }
    keys.push(key);
  }
  return { keys, values, kinds, line, blank: false, end };
}

function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (true) {
    const q = text.indexOf('"', i);
    let bs = 0;
    for (let k = q - 1; text[k] === "\\"; k--) bs++;
    if (bs % 2 === 0) return q + 1;
    i = q + 1;
  }
}

function nestedEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = stringEnd(text, i);
      continue;
    }
    if (c === "{" || c === "[") {
      if (++depth > MAX_DEPTH) return -1;
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return i;
}
