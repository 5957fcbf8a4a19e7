/**
 * Line reading for .out files and model-input shards. Lines end at "\n" only (SageMaker splits on
 * "\n": https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html, SplitType; a bare "\r" stays inside its line).
 * One trailing "\r" per line is stripped and counted. A last line without "\n" is a line. Line
 * numbers are physical (1-based), whatever the blank-line policy: a skipped blank line still has
 * its number (unlike the `key` of stream-chain's JSONL parser, uhop/stream-chain src/jsonl/parser.js,
 * which changes with its error options and skips blank lines).
 */
import { isUtf8 } from "node:buffer";
import { BtkitError, optionHint } from "../errors.js";

/** blank lines: an error, skipped (counted), or records of their own ("keep": a model-input shard's row whose only feature is null) */
export type BlankLinePolicy = "error" | "skip" | "keep";

export interface LineBatch {
  /** the lines as text (a reader in byte mode decodes them on first access only) */
  readonly lines: string[];
  /** physical 1-based line number of lines[i] */
  lineNumber(i: number): number;
  /** a reader in byte mode: the lines' bytes, undecoded */
  readonly raw?: RawLines;
}

/** Lines as bytes: line i is `bytes[starts[i], ends[i])` (valid UTF-8; no "\n", its one trailing "\r" stripped). */
export interface RawLines {
  readonly bytes: Buffer;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

export interface LineReaderOptions {
  /** where, for messages */
  location: string;
  shard?: string;
  blankLines: BlankLinePolicy;
  /** longest line accepted, in bytes */
  maxLineBytes: number;
  /**
   * byte mode: lines stay bytes (`LineBatch.raw`), decoded to text only when `lines` is read (for
   * readers that parse bytes: join's CSV features)
   */
  bytes?: boolean;
}

/** A decoded region's lines not yet taken: LineReader's state for them. */
interface Decoded {
  lines: string[];
  raw: RawRegion | undefined;
  count: number;
  firstNo: number;
  numbers: number[] | undefined;
  pos: number;
}

/**
 * The most line offsets a byte-mode region's arrays start with (two Int32Arrays, 512 KiB); more are
 * grown by doubling. A 1 MiB read chunk of 190-byte .out lines needs about 5,500.
 */
const MAX_FIRST_OFFSETS = 65536;

/** One decoded region's lines in byte mode. */
interface RawRegion {
  bytes: Buffer;
  starts: Int32Array;
  ends: Int32Array;
}

/** How many lines a batch holds (a byte-mode batch's are not decoded for it). */
export function lineCount(batch: LineBatch): number {
  return batch.raw ? batch.raw.starts.length : batch.lines.length;
}

function rawBatch(raw: RawLines, length: number, lineNumber: (i: number) => number): LineBatch {
  let lines: string[] | undefined;
  return {
    lineNumber,
    raw,
    get lines(): string[] {
      if (lines === undefined) {
        lines = new Array<string>(length);
        for (let i = 0; i < length; i++) lines[i] = raw.bytes.toString("utf8", raw.starts[i], raw.ends[i]);
      }
      return lines;
    },
  };
}

export class LineReader {
  readonly #it: AsyncIterator<Buffer>;
  readonly #o: LineReaderOptions;
  #lines: string[] = [];
  /** byte mode: the current region's lines (#lines stays empty; #count is their number) */
  #raw: RawRegion | undefined;
  /** lines in the current region */
  #count = 0;
  /** physical number of #lines[0] */
  #firstNo = 1;
  /** physical number of each of #lines, when blank lines were skipped in their span */
  #numbers: number[] | undefined;
  #pos = 0;
  #carry: Buffer[] = [];
  #carryBytes = 0;
  /** the lines of the last chunk after the one it finished, decoded with it, taken after that one */
  #next: Decoded | undefined;
  #eof = false;
  /** physical lines read so far (blank ones included) */
  #physical = 0;
  /** bytes and lines #decodeRaw has seen: the mean line length sizes its offset arrays */
  #seenBytes = 0;
  #seenLines = 0;
  /** lines whose trailing "\r" was stripped */
  crlf = 0;
  /** blank lines skipped under the skip policy */
  blank = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>, options: LineReaderOptions) {
    this.#it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.#o = options;
  }

  /** Stops reading: the source is closed (a stream destroyed, its file or socket released) unless it ended. */
  async close(): Promise<void> {
    if (this.#eof) return;
    this.#eof = true;
    this.#lines = [];
    this.#raw = undefined;
    this.#count = 0;
    this.#carry = [];
    this.#carryBytes = 0;
    this.#next = undefined;
    await this.#it.return?.();
  }

  /** Up to n lines (fewer only at the end). */
  async take(n: number): Promise<LineBatch> {
    const lines: string[] = [];
    /** byte mode: the regions' line ranges this batch takes */
    const pieces: { region: RawRegion; from: number; k: number }[] = [];
    let taken = 0;
    let numbers: number[] | undefined;
    let first = 0;
    while (taken < n) {
      if (this.#pos >= this.#count) {
        if (!(await this.#fill())) break;
        continue;
      }
      const k = Math.min(n - taken, this.#count - this.#pos);
      const regionNumbers = this.#numbers;
      if (numbers === undefined && regionNumbers === undefined && (taken === 0 || first + taken === this.#firstNo + this.#pos)) {
        if (taken === 0) first = this.#firstNo + this.#pos;
      } else {
        if (numbers === undefined) {
          numbers = [];
          for (let i = 0; i < taken; i++) numbers.push(first + i);
        }
        for (let i = 0; i < k; i++) numbers.push(regionNumbers === undefined ? this.#firstNo + this.#pos + i : regionNumbers[this.#pos + i]!);
      }
      if (this.#raw) pieces.push({ region: this.#raw, from: this.#pos, k });
      else for (let i = 0; i < k; i++) lines.push(this.#lines[this.#pos + i]!);
      this.#pos += k;
      taken += k;
    }
    const nums = numbers;
    const lineNumber = nums === undefined ? (i: number) => first + i : (i: number) => nums[i]!;
    if (this.#o.bytes) return rawBatch(joinPieces(pieces, taken), taken, lineNumber);
    return { lines, lineNumber };
  }

  async #fill(): Promise<boolean> {
    while (!this.#eof) {
      const next = this.#next;
      if (next !== undefined) {
        this.#next = undefined;
        this.#resume(next);
        if (this.#count > 0) return true;
        continue;
      }
      const r = await this.#it.next();
      if (r.done) {
        this.#eof = true;
        if (this.#carryBytes > 0) {
          const rest = Buffer.concat(this.#carry);
          this.#carry = [];
          this.#carryBytes = 0;
          this.#decode(rest, false);
          return true;
        }
        return false;
      }
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      const last = chunk.lastIndexOf(10);
      if (last < 0) {
        this.#carry.push(chunk);
        this.#carryBytes += chunk.length;
        if (this.#carryBytes > this.#o.maxLineBytes) this.#tooLong();
        continue;
      }
      let head = chunk.subarray(0, last + 1);
      let rest: Buffer | undefined;
      if (this.#carryBytes > 0) {
        // only the line the chunk finishes is joined with what came before; the chunk's other
        // lines are decoded where they are (joining the whole chunk copied every byte once more)
        const first = chunk.indexOf(10);
        rest = first < last ? chunk.subarray(first + 1, last + 1) : undefined;
        head = Buffer.concat([...this.#carry, chunk.subarray(0, first + 1)]);
      }
      this.#carry = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
      this.#carryBytes = chunk.length - last - 1;
      this.#decode(head, true);
      if (rest !== undefined) {
        // the rest is decoded now too, as the whole chunk always was: a fault in it (a bad byte, a
        // blank line under the error policy) fails this take, before the lines already taken are
        // parsed or written; its lines wait in #next
        const finished = this.#suspend();
        this.#decode(rest, true);
        this.#next = this.#suspend();
        this.#resume(finished);
      }
      if (this.#count > 0) return true;
    }
    return false;
  }

  #tooLong(): never {
    const line = this.#physical + 1;
    throw new BtkitError("JOIN_PARSE", `line ${line} of ${this.#o.location} is longer than ${this.#o.maxLineBytes} bytes (maxLineBytes): is this really a line-per-record file?`, { location: this.#o.location, shard: this.#o.shard, line });
  }

  /** The decoded lines not yet taken, as they stand. */
  #suspend(): Decoded {
    return { lines: this.#lines, raw: this.#raw, count: this.#count, firstNo: this.#firstNo, numbers: this.#numbers, pos: this.#pos };
  }

  #resume(d: Decoded): void {
    this.#lines = d.lines;
    this.#raw = d.raw;
    this.#count = d.count;
    this.#firstNo = d.firstNo;
    this.#numbers = d.numbers;
    this.#pos = d.pos;
  }

  #decode(region: Buffer, endsWithNewline: boolean): void {
    if (!isUtf8(region)) this.#badUtf8(region);
    if (this.#o.bytes) {
      this.#decodeRaw(region, endsWithNewline);
      return;
    }
    const parts = region.toString("utf8").split("\n");
    if (endsWithNewline) parts.pop();
    this.#firstNo = this.#physical + 1;
    this.#physical += parts.length;
    this.#numbers = undefined;
    this.#pos = 0;
    let kept = 0;
    for (let i = 0; i < parts.length; i++) {
      let line = parts[i]!;
      if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) {
        line = line.slice(0, -1);
        this.crlf++;
      }
      if (line.length === 0 && this.#o.blankLines !== "keep") {
        const no = this.#firstNo + i;
        if (this.#o.blankLines === "error") this.#blankError(no);
        if (this.#numbers === undefined) {
          this.#numbers = [];
          for (let j = 0; j < kept; j++) this.#numbers.push(this.#firstNo + j);
        }
        this.blank++;
        continue;
      }
      this.#numbers?.push(this.#firstNo + i);
      parts[kept++] = line;
    }
    parts.length = kept;
    this.#lines = parts;
    this.#count = kept;
  }

  /** #decode in byte mode: the region's line offsets, by the same rules (CR stripped, blank lines by the policy). */
  #decodeRaw(region: Buffer, endsWithNewline: boolean): void {
    // room for the lines the region holds at the mean line length so far, and a quarter more, grown
    // as needed; at most MAX_FIRST_OFFSETS to start with (a long line after many short ones is one
    // line in a large region), and never more than the region has bytes
    const estimate = this.#seenLines === 0 ? 1024 : Math.ceil(((region.length * this.#seenLines) / Math.max(1, this.#seenBytes)) * 1.25) + 16;
    let cap = Math.min(estimate, MAX_FIRST_OFFSETS, region.length + 1);
    let starts = new Int32Array(cap);
    let ends = new Int32Array(cap);
    this.#firstNo = this.#physical + 1;
    this.#numbers = undefined;
    this.#pos = 0;
    let kept = 0;
    let physical = 0;
    let at = 0;
    while (at < region.length || (!endsWithNewline && at === region.length && physical === 0)) {
      const nl = region.indexOf(10, at);
      if (nl < 0 && endsWithNewline) break;
      const stop = nl < 0 ? region.length : nl;
      let end = stop;
      if (end > at && region[end - 1] === 13) {
        end--;
        this.crlf++;
      }
      physical++;
      if (end === at && this.#o.blankLines !== "keep") {
        const no = this.#firstNo + physical - 1;
        if (this.#o.blankLines === "error") this.#blankError(no);
        if (this.#numbers === undefined) {
          this.#numbers = [];
          for (let j = 0; j < kept; j++) this.#numbers.push(this.#firstNo + j);
        }
        this.blank++;
      } else {
        this.#numbers?.push(this.#firstNo + physical - 1);
        if (kept === cap) {
          cap *= 2;
          const s2 = new Int32Array(cap);
          s2.set(starts);
          starts = s2;
          const e2 = new Int32Array(cap);
          e2.set(ends);
          ends = e2;
        }
        starts[kept] = at;
        ends[kept] = end;
        kept++;
      }
      if (nl < 0) break;
      at = nl + 1;
    }
    this.#physical += physical;
    this.#raw = { bytes: region, starts, ends };
    this.#count = kept;
    this.#seenBytes += region.length;
    this.#seenLines += physical;
  }

  #blankError(no: number): never {
    throw new BtkitError("JOIN_BLANK_LINE", `line ${no} of ${this.#o.location} is blank: a blank line shifts every later prediction (AssembleWith=Line adding a newline after a response that already ended with one?); use ${optionHint("blankLines", "skip")} if blank lines carry no record`, { location: this.#o.location, shard: this.#o.shard, line: no });
  }

  #badUtf8(region: Buffer): never {
    let start = 0;
    let line = this.#physical + 1;
    while (start < region.length) {
      const nl = region.indexOf(10, start);
      const end = nl < 0 ? region.length : nl;
      if (!isUtf8(region.subarray(start, end))) {
        let off = start;
        while (off < end && isUtf8(region.subarray(start, off + 1))) off++;
        throw new BtkitError("JOIN_PARSE", `line ${line} of ${this.#o.location} is not valid UTF-8 (byte ${off - start + 1} of the line)`, { location: this.#o.location, shard: this.#o.shard, line });
      }
      start = end + 1;
      line++;
    }
    throw new BtkitError("JOIN_PARSE", `${this.#o.location} is not valid UTF-8`, { location: this.#o.location, shard: this.#o.shard });
  }
}

/** The lines of a batch's regions as one RawLines: the region itself when one region holds them all, else their bytes copied together. */
function joinPieces(pieces: readonly { region: RawRegion; from: number; k: number }[], total: number): RawLines {
  if (pieces.length === 1) {
    const { region, from, k } = pieces[0]!;
    return { bytes: region.bytes, starts: region.starts.subarray(from, from + k), ends: region.ends.subarray(from, from + k) };
  }
  let size = 0;
  for (const { region, from, k } of pieces) if (k > 0) size += region.ends[from + k - 1]! - region.starts[from]!;
  const bytes = Buffer.allocUnsafe(size);
  const starts = new Int32Array(total);
  const ends = new Int32Array(total);
  let at = 0;
  let line = 0;
  for (const { region, from, k } of pieces) {
    if (k === 0) continue;
    const base = region.starts[from]!;
    region.bytes.copy(bytes, at, base, region.ends[from + k - 1]!);
    for (let i = 0; i < k; i++) {
      starts[line] = region.starts[from + i]! - base + at;
      ends[line] = region.ends[from + i]! - base + at;
      line++;
    }
    at += region.ends[from + k - 1]! - base;
  }
  return { bytes, starts, ends };
}

/** What a pre-pass over an .out file found: counts and the first suspicious lines. */
export interface LineScan {
  /** physical lines (a last line without "\n" counts) */
  lines: number;
  blank: number;
  firstBlank?: number;
  crlf: number;
  /** the first line that starts with "[" (a whole mini-batch as one JSON array?) */
  firstArray?: number;
  /** the first line, up to 100 bytes */
  firstLine: string;
  bytes: number;
}

/**
 * Counts the lines of a byte stream without decoding them (the check that runs before anything is
 * published), noting blank lines, CRLF endings and lines that start a JSON array.
 */
export async function scanLines(source: AsyncIterable<Buffer | Uint8Array>): Promise<LineScan> {
  const scan: LineScan = { lines: 0, blank: 0, crlf: 0, firstLine: "", bytes: 0 };
  let lineStart = true;
  let prevCr = false;
  let lineLen = 0;
  const head: Buffer[] = [];
  let headBytes = 0;
  for await (const raw of source) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    scan.bytes += chunk.length;
    if (scan.lines === 0 && headBytes < 100) {
      head.push(chunk);
      headBytes += chunk.length;
    }
    let i = 0;
    while (i < chunk.length) {
      if (lineStart && chunk[i] === 91 && scan.firstArray === undefined) scan.firstArray = scan.lines + 1;
      const nl = chunk.indexOf(10, i);
      if (nl < 0) {
        lineLen += chunk.length - i;
        prevCr = chunk[chunk.length - 1] === 13;
        lineStart = false;
        break;
      }
      const len = lineLen + (nl - i);
      const cr = nl > i ? chunk[nl - 1] === 13 : prevCr && len > 0;
      if (cr) scan.crlf++;
      if (len === 0 || (cr && len === 1)) {
        scan.blank++;
        scan.firstBlank ??= scan.lines + 1;
      }
      scan.lines++;
      lineLen = 0;
      prevCr = false;
      lineStart = true;
      i = nl + 1;
    }
  }
  if (lineLen > 0) {
    scan.lines++;
    if (prevCr) scan.crlf++;
    if (prevCr && lineLen === 1) {
      scan.blank++;
      scan.firstBlank ??= scan.lines;
    }
  }
  const first = Buffer.concat(head);
  const nl = first.indexOf(10);
  scan.firstLine = first.subarray(0, nl < 0 ? Math.min(first.length, 100) : Math.min(nl, 100)).toString("utf8").replace(/\r$/, "");
  return scan;
}
