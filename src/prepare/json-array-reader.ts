/**
 * JSON array scanner: one top-level JSON array of objects, streamed (never held whole). Bytes are
 * decoded as UTF-8 (fatal: invalid UTF-8 is PREP_ENCODING; a UTF-8 BOM is stripped and reported,
 * a UTF-16 one refused) and tokenized by stream-json's parser (numbers come as their exact text);
 * each element's tokens are written back as compact JSON text and checked by the JSON Lines
 * scanner's parseObjectLine, so an element gets exactly the checks of a JSON line: it must be an
 * object, no duplicate keys, numbers in range (integers beyond 2^53 keep their digits), no lone
 * surrogates, nesting at most MAX_DEPTH. Records have the JSON Lines shape; their `line` is the
 * physical line (1-based) where the element starts, and messages name "element N (index N-1)"
 * and that line. Lines are counted by a small lexer of their own (quotes, escapes, brackets),
 * since the parser's tokens carry no positions.
 */
import { getManyValues, isMany, none } from "stream-chain/defs.js";
import { jsonParser } from "stream-json/parser.js";
import { BtkitError, optionHint } from "../errors.js";
import { LATIN1_ADVICE, utf16Advice, utf16Bom } from "./encoding.js";
import { firstInvalidUtf8 } from "./csv-scanner.js";
import { MAX_DEPTH, parseObjectLine, type JsonRecord } from "./jsonl-scanner.js";

export interface JsonArrayScannerOptions {
  input?: string;
  /** longest element in characters of compact JSON before it is an error; default 64 MiB */
  maxRecordBytes?: number;
}

type Token = { name: string; value?: unknown };

export class JsonArrayScanner {
  readonly input: string;
  readonly maxRecordBytes: number;
  readonly #parse = jsonParser({ streamValues: false }) as unknown as (text: string | typeof none) => unknown;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  #head: Buffer | undefined = Buffer.alloc(0);
  #bom = false;
  /** 0 before the array, 1 inside it, more inside an element */
  #depth = 0;
  #opened = false;
  #closed = false;
  /** the element being built, as compact JSON text parts */
  #parts: string[] = [];
  #size = 0;
  /** per open container of the element: whether it already holds a value */
  #hasValue: boolean[] = [];
  #afterKey = false;
  #elements = 0;
  /** only whitespace so far */
  #blank = true;
  /** input bytes consumed (including a stripped BOM) */
  bytes = 0;
  // the line lexer, which runs ahead of the parser over the same text
  /** the physical line (1-based) of the lexer's position */
  #line = 1;
  #inString = false;
  #escape = false;
  /** bracket depth: 1 inside the top-level array */
  #lexDepth = 0;
  /** an element of the array has started and its "," or the closing "]" is not yet seen */
  #elementOpen = false;
  /** the start lines of the elements the lexer has seen begin and the parser not yet finished, in order */
  readonly #starts: number[] = [];

  constructor(options: JsonArrayScannerOptions = {}) {
    this.input = options.input ?? "input";
    this.maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
  }

  get bomStripped(): boolean {
    return this.#bom;
  }

  push(chunk: Buffer): JsonRecord[] {
    if (this.#head !== undefined) {
      // hold the first bytes until the byte order mark question is settled
      this.#head = Buffer.concat([this.#head, chunk]);
      if (this.#head.length < 3) return [];
      chunk = this.#start(this.#head);
    }
    return this.#feed(chunk, false);
  }

  end(): JsonRecord[] {
    const out = this.#head !== undefined ? this.#feed(this.#start(this.#head), false) : [];
    out.push(...this.#feed(Buffer.alloc(0), true));
    if (!this.#opened) throw this.#error(`expected a JSON array (starting with "["), got an empty input`, 0);
    if (!this.#closed) throw this.#truncated();
    return out;
  }

  #start(head: Buffer): Buffer {
    this.#head = undefined;
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      this.#bom = true;
      this.bytes += 3;
      return head.subarray(3);
    }
    if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff) || (head.length > 1 && head[1] === 0 && head[0] !== 0)) {
      const which = utf16Bom(head) ?? (head[1] === 0 ? "UTF-16LE" : "UTF-16BE");
      throw new BtkitError("PREP_ENCODING", `${this.input} is ${which}; ${utf16Advice(which)}`, { input: this.input, line: 1, option: "encoding" });
    }
    return head;
  }

  /** The line where element `n` (1-based; the one being built) starts, else the lexer's line. */
  #lineOf(n: number): number {
    return n === this.#elements + 1 ? (this.#starts[0] ?? this.#line) : this.#line;
  }

  #error(message: string, element: number, cause?: unknown): BtkitError {
    const line = element > 0 ? this.#lineOf(element) : this.#line;
    const where = element > 0 ? { line, element: element - 1 } : { line };
    const named = `element ${element} (index ${element - 1})`;
    const text = element <= 0 ? message : message.includes(named) ? message.replace(named, `element ${element} (index ${element - 1}, line ${line})`) : `${message} (line ${line})`;
    return new BtkitError("PREP_JSON", `${this.input}: ${text}`, { input: this.input, ...where }, cause === undefined ? undefined : { cause });
  }

  /** Counts lines and notes where each element starts (see the fields of the line lexer). */
  #lex(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) {
        this.#line++;
        continue;
      }
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === 92) this.#escape = true;
        else if (c === 34) this.#inString = false;
        continue;
      }
      if (c === 32 || c === 9 || c === 13) continue;
      if (this.#lexDepth === 1) {
        if (c === 44) {
          this.#elementOpen = false;
          continue;
        }
        if (c !== 93 && !this.#elementOpen) {
          this.#elementOpen = true;
          this.#starts.push(this.#line);
        }
      }
      if (c === 34) this.#inString = true;
      else if (c === 123 || c === 91) this.#lexDepth++;
      else if (c === 125 || c === 93) this.#lexDepth = Math.max(0, this.#lexDepth - 1);
    }
  }

  #feed(chunk: Buffer, final: boolean): JsonRecord[] {
    let text: string;
    try {
      text = this.#decoder.decode(chunk, { stream: !final });
    } catch (err) {
      const bad = firstInvalidUtf8(chunk);
      const n = this.#elements + 1;
      // the lines before the bad byte (it is not in a string the lexer could misread: bytes are bytes here)
      const lineAt = this.#line + chunk.subarray(0, Math.min(bad, chunk.length)).toString("latin1").split("\n").length - 1;
      const where = bad < chunk.length ? ` (byte 0x${chunk[bad]!.toString(16).padStart(2, "0")} at input byte ${this.bytes + bad}, line ${lineAt})` : ` (at the end of the input, line ${lineAt})`;
      throw new BtkitError("PREP_ENCODING", `${this.input}: element ${n} (index ${n - 1}) holds invalid UTF-8${where}; ${LATIN1_ADVICE}`, { input: this.input, line: lineAt, element: n - 1, offset: this.bytes + Math.min(bad, chunk.length) }, { cause: err });
    }
    this.bytes += chunk.length;
    if (this.#blank && text.trim() !== "") this.#blank = false;
    // Fed up to each "}" or "]" at a time: an element's (or the array's) closing token comes out
    // before the parser sees what follows, so a parse error names the element it is in. The line
    // lexer runs over each piece before the parser does, so the element being parsed has its start.
    const out: JsonRecord[] = [];
    let at = 0;
    while (at < text.length || final) {
      const brace = text.indexOf("}", at);
      const bracket = text.indexOf("]", at);
      const close = brace < 0 ? bracket : bracket < 0 ? brace : Math.min(brace, bracket);
      const piece = close < 0 ? text.slice(at) : text.slice(at, close + 1);
      at += piece.length;
      this.#lex(piece);
      const last = final && at >= text.length;
      let tokens: Token[] = [];
      try {
        if (piece !== "") {
          const r = this.#parse(piece);
          if (isMany(r)) tokens = getManyValues(r) as Token[];
        }
        if (last) {
          const r = this.#parse(none);
          if (isMany(r)) tokens.push(...(getManyValues(r) as Token[]));
        }
      } catch (err) {
        if (err instanceof BtkitError) throw err;
        if (this.#closed) throw this.#error(`unexpected data after the closing "]" of the array (${(err as Error).message})`, this.#elements, err);
        if (!this.#opened) throw this.#error(last && this.#blank ? `expected a JSON array (starting with "["), got an empty input` : `expected a JSON array (starting with "["): ${(err as Error).message}`, 0, err);
        if (last) throw this.#truncated(err);
        const n = this.#elements + 1;
        throw this.#error(`element ${n} (index ${n - 1}): invalid JSON: ${(err as Error).message}`, n, err);
      }
      for (const r of this.#tokens(tokens)) out.push(r);
      if (last) break;
    }
    return out;
  }

  #truncated(cause?: unknown): BtkitError {
    const n = this.#elements + 1;
    return this.#depth > 1
      ? this.#error(`the input ends inside element ${n} (index ${n - 1}): the array is truncated`, n, cause)
      : this.#error(`the input ends before the closing "]" of the array: it is truncated after element ${this.#elements}`, n, cause);
  }

  #tokens(tokens: Token[]): JsonRecord[] {
    const out: JsonRecord[] = [];
    for (const t of tokens) {
      if (this.#closed) throw this.#error(`unexpected data after the closing "]" of the array`, this.#elements);
      if (!this.#opened) {
        if (t.name !== "startArray") throw this.#error(`expected a JSON array (starting with "["), got ${describe(t)}; for one JSON object per line use ${optionHint("inputFormat", "jsonl")}`, 0);
        this.#opened = true;
        this.#depth = 1;
        continue;
      }
      if (this.#depth === 1 && t.name === "endArray") {
        this.#depth = 0;
        this.#closed = true;
        continue;
      }
      switch (t.name) {
        case "startObject":
        case "startArray":
          this.#value(t.name === "startObject" ? "{" : "[");
          this.#hasValue.push(false);
          if (++this.#depth > MAX_DEPTH + 1) {
            const n = this.#elements + 1;
            throw this.#error(`element ${n} (index ${n - 1}) nests deeper than ${MAX_DEPTH} levels`, n);
          }
          break;
        case "endObject":
        case "endArray":
          this.#hasValue.pop();
          this.#add(t.name === "endObject" ? "}" : "]");
          this.#depth--;
          break;
        case "keyValue":
          this.#add(`${this.#hasValue[this.#hasValue.length - 1] ? "," : ""}${JSON.stringify(t.value)}:`);
          this.#hasValue[this.#hasValue.length - 1] = true;
          this.#afterKey = true;
          break;
        case "stringValue":
          this.#value(JSON.stringify(t.value));
          break;
        case "numberValue":
          this.#value(t.value as string);
          break;
        case "nullValue":
          this.#value("null");
          break;
        case "trueValue":
          this.#value("true");
          break;
        case "falseValue":
          this.#value("false");
          break;
        default:
          continue;
      }
      if (this.#depth === 1 && this.#parts.length > 0) out.push(this.#finish());
    }
    return out;
  }

  /** A value token: a comma before it unless it follows a key or opens its container. */
  #value(text: string): void {
    const top = this.#hasValue.length - 1;
    if (this.#afterKey) this.#afterKey = false;
    else if (top >= 0) {
      if (this.#hasValue[top]) text = `,${text}`;
      this.#hasValue[top] = true;
    }
    this.#add(text);
  }

  #add(text: string): void {
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size > this.maxRecordBytes) {
      const n = this.#elements + 1;
      throw new BtkitError("PREP_RECORD_TOO_LARGE", `${this.input}: element ${n} (index ${n - 1}, line ${this.#lineOf(n)}) is longer than ${this.maxRecordBytes} bytes`, { input: this.input, line: this.#lineOf(n), element: n - 1, expected: this.maxRecordBytes, got: this.#size });
    }
  }

  #finish(): JsonRecord {
    const line = this.#starts.shift() ?? this.#line;
    const n = ++this.#elements;
    const text = this.#parts.join("");
    this.#parts = [];
    this.#size = 0;
    try {
      return parseObjectLine(text, this.input, line, this.bytes);
    } catch (err) {
      if (err instanceof BtkitError) {
        const message = err.message.replace(`${this.input}: line ${line}: `, `${this.input}: element ${n} (index ${n - 1}, line ${line}): `);
        throw new BtkitError(err.code, message, { ...err.context, line, element: n - 1 }, { cause: err });
      }
      throw err;
    }
  }
}

function describe(t: Token): string {
  switch (t.name) {
    case "startObject":
      return "an object";
    case "stringValue":
      return "a string";
    case "numberValue":
      return "a number";
    case "nullValue":
      return "null";
    default:
      return t.name === "trueValue" || t.name === "falseValue" ? "a boolean" : t.name;
  }
}
