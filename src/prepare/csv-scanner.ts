/**
 * A byte-level, quote-aware CSV scanner: the prep hot path. Pure and synchronous: push Buffers in
 * (any chunking), get complete records out. It works on bytes and decodes each field once; it
 * never guesses the line ending from the first line (CRLF and LF may mix; a bare CR is an error,
 * because SageMaker's Line splitting, "on a newline character boundary"
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html, SplitType), and Node's readline, which also ends a
 * line at a bare CR, disagree on it).
 *
 * Strict RFC 4180 (https://datatracker.ietf.org/doc/rfc4180): a quote inside an unquoted field,
 * text after a closing quote and an unclosed quote (reported at the line where it opened) are
 * PREP_QUOTE. Invalid UTF-8 and NUL bytes are PREP_ENCODING, UTF-16 input too. A UTF-8 BOM is
 * stripped and reported. Line numbers are physical (1-based), counting quoted newlines.
 */
import { isUtf8 } from "node:buffer";
import { BtkitError } from "../errors.js";
import { hasBelow, hasByte } from "../protocol/words.js";
import { LATIN1_ADVICE, utf16Advice, utf16Bom } from "./encoding.js";

const LF = 10;
const CR = 13;

/** One CSV record. `values[i]` is null for an empty unquoted field, "" for a quoted empty one. */
export interface CsvRecord {
  values: (string | null)[];
  /** physical line (1-based) where the record starts */
  line: number;
  /** a quoted field holds CR or LF */
  multiline: boolean;
  /** an empty physical line (no fields at all) */
  blank: boolean;
  /** byte offset just after the record (its line break included), from the start of the input */
  end: number;
}

export interface CsvScannerOptions {
  /** field delimiter; default: detected from the header line among `,` `\t` `;` `|` (`,` when none) */
  delimiter?: string;
  /** quote character; default `"` */
  quote?: string;
  /** the input's name for errors; default "input" */
  input?: string;
  /** longest record in bytes before it is an error (bounded memory); default 64 MiB */
  maxRecordBytes?: number;
  /**
   * the bytes start at a record inside the input, not at its start (a --part that starts inside a
   * file: parts.ts): no byte order mark or UTF-16 check, and `delimiter` must be given; default false
   */
  resumed?: boolean;
}

/** Field flags of RawRecords.flag. */
export const FIELD = { unquoted: 0, quoted: 1, escaped: 2 } as const;

/**
 * Records of one push as byte ranges into `buf` (no strings made): record r has fields
 * firstField[r] .. firstField[r + 1] - 1; field f's content (quotes excluded) is
 * buf[start[f], end[f]) and flag[f] says whether it was quoted and whether it holds doubled quotes.
 * Record r's bytes, its line break included, are buf[r === 0 ? 0 : next[r - 1], next[r]).
 * Valid until the next push or end (the arrays are reused).
 */
export class RawRecords {
  buf: Buffer = Buffer.alloc(0);
  count = 0;
  fields = 0;
  firstField = new Int32Array(1024);
  line = new Float64Array(1024);
  end = new Float64Array(1024);
  /** offset in buf just after record r (its line break included) */
  next = new Int32Array(1024);
  multiline = new Uint8Array(1024);
  blank = new Uint8Array(1024);
  start = new Int32Array(16384);
  stop = new Int32Array(16384);
  flag = new Uint8Array(16384);
  /** the quote character, to undo doubled quotes */
  quote = 34;
  /** the field delimiter (a byte) */
  delimiter = 44;

  reset(buf: Buffer): void {
    this.buf = buf;
    this.count = 0;
    this.fields = 0;
    this.firstField[0] = 0;
  }

  field(s: number, e: number, flag: number): void {
    const f = this.fields;
    if (f === this.start.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.start = grow(this.start, (n) => new Int32Array(n));
      this.stop = grow(this.stop, (n) => new Int32Array(n));
      this.flag = grow(this.flag, (n) => new Uint8Array(n));
    }
    this.start[f] = s;
    this.stop[f] = e;
    this.flag[f] = flag;
    this.fields = f + 1;
  }

  /** Ends record r at buf offset `next` (after its line break), `base` + next in the input. */
  record(line: number, base: number, next: number, multiline: boolean, blank: boolean): void {
    const r = this.count;
    if (r + 1 >= this.firstField.length) {
      const n = this.firstField.length * 2;
      const ff = new Int32Array(n);
      ff.set(this.firstField);
      this.firstField = ff;
      const l = new Float64Array(n);
      l.set(this.line);
      this.line = l;
      const e = new Float64Array(n);
      e.set(this.end);
      this.end = e;
      const x = new Int32Array(n);
      x.set(this.next);
      this.next = x;
      const m = new Uint8Array(n);
      m.set(this.multiline);
      this.multiline = m;
      const b = new Uint8Array(n);
      b.set(this.blank);
      this.blank = b;
    }
    this.line[r] = line;
    this.end[r] = base + next;
    this.next[r] = next;
    this.multiline[r] = multiline ? 1 : 0;
    this.blank[r] = blank ? 1 : 0;
    this.count = r + 1;
    this.firstField[r + 1] = this.fields;
  }

  /** The text of field f (null for an empty unquoted field). */
  value(f: number): string | null {
    const s = this.start[f]!;
    const e = this.stop[f]!;
    const flag = this.flag[f]!;
    if (flag === FIELD.unquoted) return s === e ? null : this.buf.toString("utf8", s, e);
    const v = this.buf.toString("utf8", s, e);
    return flag === FIELD.escaped ? v.replaceAll(String.fromCharCode(this.quote, this.quote), String.fromCharCode(this.quote)) : v;
  }

  /** Record r as a CsvRecord (strings decoded). */
  toRecord(r: number): CsvRecord {
    const values: (string | null)[] = [];
    for (let f = this.firstField[r]!; f < this.firstField[r + 1]!; f++) values.push(this.value(f));
    return { values, line: this.line[r]!, multiline: this.multiline[r] === 1, blank: this.blank[r] === 1, end: this.end[r]! };
  }
}

export const DELIMITER_CANDIDATES = [",", "\t", ";", "|"] as const;

function singleByte(value: string, option: string): number {
  const b = Buffer.from(value, "utf8");
  if (b.length !== 1 || b[0] === LF || b[0] === CR) {
    throw new BtkitError("OPT_INVALID", `${option} must be one single-byte character other than CR or LF, got ${JSON.stringify(value)}`, { option, got: value });
  }
  return b[0]!;
}

/**
 * "UTF-16LE" or "UTF-16BE" when the first bytes (at least 4) look like UTF-16 text with no BOM:
 * NUL bytes at one parity in at least half of the pairs (ASCII and Latin-1 characters), and at
 * most a quarter as many at the other (a CJK character may have one), which UTF-8 text never has;
 * undefined otherwise.
 */
export function utf16WithoutBom(head: Buffer): "UTF-16LE" | "UTF-16BE" | undefined {
  const n = Math.min(head.length, 64) & ~1;
  if (n < 4) return undefined;
  let oddNul = 0;
  let evenNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (head[i] === 0) evenNul++;
    if (head[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  if (oddNul * 2 >= pairs && evenNul * 4 <= oddNul) return "UTF-16LE";
  if (evenNul * 2 >= pairs && oddNul * 4 <= evenNul) return "UTF-16BE";
  return undefined;
}

/** Picks the delimiter that occurs most often outside quotes in the header line (ties: the earlier candidate). */
export function detectDelimiter(headerLine: Buffer, quote: number): string {
  const counts = new Map<number, number>();
  let inQuote = false;
  for (let i = 0; i < headerLine.length; i++) {
    const c = headerLine[i]!;
    if (c === quote) inQuote = !inQuote;
    else if (!inQuote) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let best = ",";
  let bestCount = 0;
  for (const d of DELIMITER_CANDIDATES) {
    const n = counts.get(d.charCodeAt(0)) ?? 0;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

export class CsvScanner {
  readonly input: string;
  readonly quote: number;
  readonly maxRecordBytes: number;
  #delim: number | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #line = 1;
  #started = false;
  #bom = false;
  #ended = false;
  /** total bytes consumed (after the BOM) */
  bytes = 0;

  constructor(options: CsvScannerOptions = {}) {
    this.input = options.input ?? "input";
    this.quote = singleByte(options.quote ?? '"', "quote");
    this.#delim = options.delimiter === undefined ? undefined : singleByte(options.delimiter, "delimiter");
    if (this.#delim === this.quote) throw new BtkitError("OPT_INVALID", "the delimiter and the quote must differ", { option: "delimiter" });
    this.maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
    if (options.resumed) {
      if (this.#delim === undefined) throw new BtkitError("INTERNAL", "a CSV scanner resumed inside an input needs its delimiter", { input: this.input });
      this.#started = true;
    }
  }

  /** The delimiter in use (known once the header line was seen). */
  get delimiter(): string | undefined {
    return this.#delim === undefined ? undefined : String.fromCharCode(this.#delim);
  }

  /** Whether a UTF-8 BOM was stripped. */
  get bomStripped(): boolean {
    return this.#bom;
  }

  readonly #raw = new RawRecords();

  push(chunk: Buffer): CsvRecord[] {
    return decodeAll(this.pushRaw(chunk));
  }

  end(): CsvRecord[] {
    return decodeAll(this.endRaw());
  }

  /** Like push, but the records stay byte ranges (valid until the next call). */
  pushRaw(chunk: Buffer): RawRecords {
    this.#pending = this.#pending.length === 0 ? chunk : this.#join(this.#pending, chunk);
    return this.#run(false);
  }

  /** the scanner's own buffer, reused for a record begun in one chunk and ended in the next */
  #joined: Buffer | undefined;

  /**
   * The pending bytes followed by the chunk, in the scanner's own buffer (reused from push to push,
   * so no buffer is allocated per chunk: the records of the last push are no longer valid).
   */
  #join(pending: Buffer, chunk: Buffer): Buffer {
    const n = pending.length + chunk.length;
    let j = this.#joined;
    if (j === undefined || j.length < n) {
      const grown = Buffer.allocUnsafeSlow(Math.max(n, 2 * (j?.length ?? 0)));
      pending.copy(grown, 0);
      j = this.#joined = grown;
    } else if (pending.buffer !== j.buffer || pending.byteOffset !== j.byteOffset) {
      // pending may be the end of the buffer itself: copyWithin moves it safely
      if (pending.buffer === j.buffer) j.copyWithin(0, pending.byteOffset - j.byteOffset, pending.byteOffset - j.byteOffset + pending.length);
      else pending.copy(j, 0);
    }
    chunk.copy(j, pending.length);
    return j.subarray(0, n);
  }

  /** Like end, with byte ranges. */
  endRaw(): RawRecords {
    if (this.#ended) {
      this.#raw.reset(Buffer.alloc(0));
      return this.#raw;
    }
    this.#ended = true;
    return this.#run(true);
  }

  #run(final: boolean): RawRecords {
    const records = this.#raw;
    records.reset(Buffer.alloc(0));
    let buf = this.#pending;
    if (!this.#started) {
      if (buf.length < 3 && !final) return records;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
        this.#bom = true;
        buf = buf.subarray(3);
      } else if (utf16Bom(buf) !== undefined) {
        const which = utf16Bom(buf)!;
        throw new BtkitError("PREP_ENCODING", `${this.input} is ${which} (byte order mark ${buf[0]!.toString(16)} ${buf[1]!.toString(16)}); ${utf16Advice(which)}`, { input: this.input, line: 1, option: "encoding" });
      } else {
        const utf16 = utf16WithoutBom(buf);
        if (utf16 !== undefined) {
          // before the line-ending and NUL checks, which would name a symptom (a CR followed by NUL)
          throw new BtkitError("PREP_ENCODING", `${this.input} looks like ${utf16} without a byte order mark (every second byte is NUL); ${utf16Advice(utf16)}`, { input: this.input, line: 1, option: "encoding" });
        }
      }
      this.#started = true;
      this.#pending = buf;
    }
    if (this.#delim === undefined) {
      const end = this.#headerEnd(buf);
      if (end < 0 && !final) {
        this.#checkSize(buf.length);
        return records;
      }
      this.#delim = detectDelimiter(buf.subarray(0, end < 0 ? buf.length : end), this.quote).charCodeAt(0);
    }
    records.reset(buf);
    records.quote = this.quote;
    records.delimiter = this.#delim;
    const consumed = this.#scan(buf, final, records);
    const done = buf.subarray(0, consumed);
    this.#validate(done, records);
    this.bytes += consumed;
    this.#pending = consumed === buf.length ? Buffer.alloc(0) : buf.subarray(consumed);
    if (!final) this.#checkSize(this.#pending.length);
    return records;
  }

  #headerEnd(buf: Buffer): number {
    let inQuote = false;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (c === this.quote) inQuote = !inQuote;
      else if (!inQuote && (c === LF || c === CR)) return i;
    }
    return -1;
  }

  #checkSize(pending: number): void {
    if (pending > this.maxRecordBytes) {
      throw new BtkitError("PREP_RECORD_TOO_LARGE", `${this.input}: the record at line ${this.#line} is longer than ${this.maxRecordBytes} bytes (no record end found; an unclosed quote or a missing line break?)`, { input: this.input, line: this.#line, expected: this.maxRecordBytes, got: pending });
    }
  }

  /** Checks UTF-8 and NUL bytes of a span of complete records; on failure, names the record's line. */
  #validate(done: Buffer, records: RawRecords): void {
    if (done.length === 0) return;
    const nul = done.indexOf(0);
    const utf8 = isUtf8(done);
    if (nul < 0 && utf8) return;
    // Find the first offending line: count line breaks before the bad byte.
    let bad = nul;
    if (!utf8) {
      bad = firstInvalidUtf8(done);
      if (nul >= 0 && nul < bad) bad = nul;
    }
    const firstLine = records.count > 0 ? records.line[0]! : this.#line;
    let line = firstLine;
    for (let i = 0; i < bad; i++) if (done[i] === LF) line++;
    const what = done[bad] === 0 ? "a NUL byte (binary data, or UTF-16 read as UTF-8?)" : `invalid UTF-8 (byte 0x${done[bad]!.toString(16).padStart(2, "0")}); ${LATIN1_ADVICE}`;
    throw new BtkitError("PREP_ENCODING", `${this.input}: line ${line} holds ${what}, at byte ${this.bytes + bad + (this.#bom ? 3 : 0)} of the input`, { input: this.input, line, offset: this.bytes + bad });
  }

  #quoteError(line: number, message: string): never {
    throw new BtkitError("PREP_QUOTE", `${this.input}: line ${line}: ${message}`, { input: this.input, line });
  }

  /** Scans complete records; returns the number of bytes consumed. */
  #scan(buf: Buffer, final: boolean, out: RawRecords): number {
    const n = buf.length;
    const delim = this.#delim!;
    const quote = this.quote;
    let pos = 0;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    const delimWord = delim * 0x01010101;
    const quoteWord = quote * 0x01010101;
    // next CR at or after the current field (cached: a file without CR is searched once)
    let crNext = buf.indexOf(CR);
    outer: while (pos < n) {
      const recStart = pos;
      const startLine = this.#line;
      let line = startLine;
      const firstField = out.fields;
      let multiline = false;
      let i = pos;
      // an empty physical line
      if (buf[i] === LF || buf[i] === CR) {
        let next: number;
        if (buf[i] === LF) next = i + 1;
        else if (i + 1 < n) {
          if (buf[i + 1] !== LF) this.#bareCr(startLine);
          next = i + 2;
        } else if (final) this.#bareCr(startLine);
        else break;
        out.record(startLine, this.bytes, next, false, true);
        this.#line = startLine + 1;
        pos = next;
        continue;
      }
      while (true) {
        let c = i < n ? buf[i]! : -1;
        if (c === quote) {
          const open = line;
          let j = i + 1;
          let escaped = false;
          let closed = -1;
          while (true) {
            const q = buf.indexOf(quote, j);
            if (q < 0) break;
            if (q + 1 < n && buf[q + 1] === quote) {
              escaped = true;
              j = q + 2;
              continue;
            }
            if (q + 1 >= n && !final) break;
            closed = q;
            break;
          }
          if (closed < 0) {
            if (final) this.#quoteError(open, `a quote opened here is never closed (expected a closing ${String.fromCharCode(quote)} before the end of the input)`);
            this.#checkOpen(n - recStart, open);
            out.fields = firstField;
            break outer;
          }
          // newlines inside the quoted field
          let nl = buf.indexOf(LF, i + 1);
          if (crNext !== -1 && crNext <= i) crNext = buf.indexOf(CR, i + 1);
          if ((nl >= 0 && nl < closed) || (crNext >= 0 && crNext < closed)) {
            multiline = true;
            while (nl >= 0 && nl < closed) {
              line++;
              nl = buf.indexOf(LF, nl + 1);
            }
          }
          out.field(i + 1, closed, escaped ? FIELD.escaped : FIELD.quoted);
          i = closed + 1;
          c = i < n ? buf[i]! : -1;
          if (c !== delim && c !== LF && c !== CR && c !== -1) {
            this.#quoteError(line, `unexpected ${JSON.stringify(String.fromCharCode(c))} after a closing quote (expected a delimiter or a line end)`);
          }
        } else {
          const s = i;
          // four bytes at a time while none can end the field or is a quote (LF and CR are caught
          // with the rarer control bytes below 0x0e, a tab delimiter too: those are looked at one by one)
          while (i + 4 <= n) {
            const x = view.getInt32(i, true);
            if ((hasBelow(x, 0x0e0e0e0e) | hasByte(x, delimWord) | hasByte(x, quoteWord)) !== 0) break;
            i += 4;
          }
          while (i < n) {
            c = buf[i]!;
            if (c === delim || c === LF || c === CR) break;
            if (c === quote) this.#quoteError(line, `a quote inside an unquoted field (field ${out.fields - firstField + 1}); quote the whole field and double inner quotes`);
            i++;
          }
          if (i >= n) {
            if (!final) {
              out.fields = firstField;
              break outer;
            }
            c = -1;
          }
          out.field(s, i, FIELD.unquoted);
        }
        // here buf[i] is the terminator c (or -1 at the end of the input)
        if (c === delim) {
          i++;
          if (i >= n && !final) {
            out.fields = firstField;
            break outer;
          }
          continue;
        }
        if (c === LF) {
          i++;
        } else if (c === CR) {
          if (i + 1 >= n) {
            if (!final) {
              out.fields = firstField;
              break outer;
            }
            this.#bareCr(line);
          }
          if (buf[i + 1] !== LF) this.#bareCr(line);
          i += 2;
        }
        if (i > n) i = n;
        out.record(startLine, this.bytes, i, multiline, false);
        this.#line = line + (c === -1 ? 0 : 1);
        pos = i;
        continue outer;
      }
    }
    return pos;
  }

  #checkOpen(pending: number, openLine: number): void {
    if (pending > this.maxRecordBytes) {
      this.#quoteError(openLine, `a quote opened here is not closed within ${this.maxRecordBytes} bytes (unbalanced quote?)`);
    }
  }

  #bareCr(line: number): never {
    throw new BtkitError("PREP_FORMAT", `${this.input}: line ${line} ends with a bare CR (classic Mac line ending); SageMaker splits records on LF only: convert the file to LF or CRLF line endings`, { input: this.input, line });
  }
}

function decodeAll(raw: RawRecords): CsvRecord[] {
  const out: CsvRecord[] = [];
  for (let r = 0; r < raw.count; r++) out.push(raw.toRecord(r));
  return out;
}

/** Offset of the first byte that breaks UTF-8 (the buffer is known to be invalid). */
export function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      min = 0x10000;
    } else return i;
    if (i + len > n) return i;
    let cp = c & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return n;
}
