/**
 * `--part i/N` by input bytes: which inputs, and which bytes of them, part i of N prepares.
 *
 * The rule. The N parts split the concatenation of all inputs (in resolved order; sizes as listed,
 * T bytes in all) into N contiguous byte ranges [floor(i*T/N), floor((i+1)*T/N)). A part takes
 * the records that START inside its range: a record belongs to the part where its first byte is,
 * and the part reads on past its range end to the end of the record in progress there. A file
 * that lies inside one range is taken whole by that part. A file that straddles ranges is split
 * when it can be read from a byte offset: plain (not gzip) CSV, TSV or JSON Lines, local or S3
 * (a ranged GET), UTF-8 (no --encoding), and `splitFiles` not false. Any other file (gzip,
 * Parquet, Arrow, a JSON array, stdin, a size unknown) is taken whole by the part whose range
 * holds its middle byte, floor(size/2) into it (stdin counts 0 bytes: the part holding its
 * place). With `splitFiles: false` (--no-split-files) every file is taken whole by that rule.
 * Every file, and every record of a split file, is so taken by exactly one part.
 *
 * Where a part's records begin (resynchronization), inside a file, from its range start `a`:
 * - JSON Lines: a line starts at `a` if byte a-1 is "\n"; else the first line after the first
 *   "\n" after `a` (https://jsonlines.org: lines end at "\n").
 * - CSV (RFC 4180, https://datatracker.ietf.org/doc/rfc4180): a quoted field may hold line
 *   breaks, so a "\n" after `a` may be inside quotes. Inside or outside a quoted field is the
 *   parity of the quote characters since the record began (a doubled quote toggles twice), so
 *   there are two hypotheses about byte a-1: an even count (outside quotes) or an odd one (inside).
 *   Each one reads on from a-1 to the first "\n" at even parity (its candidate start), dying on
 *   what csv-scanner.ts refuses: a closing quote followed by anything but the delimiter, a line
 *   break or another quote; an opening quote after anything but the delimiter, a line break or a
 *   quote (a quote inside an unquoted field); a quote never closed. From its candidate start the
 *   strict scanner then reads up to RESYNC_RECORDS records, and the hypothesis dies on a quote or
 *   encoding error, or on a record whose field count is not the header's (the first record of the
 *   file, read with a small ranged read: the header, or the first data row with --no-header).
 *   Exactly one hypothesis must survive; both or neither is PREP_SPLIT naming the file, the
 *   offset and --no-split-files. A wrong guess that slips through is caught by merge(): each part
 *   records the byte range of the records it took, and the ranges of a split file must tile it.
 */
import { BtkitError, optionHint, counted } from "../errors.js";
import type { Storage } from "../io/storage.js";
import type { Part } from "../protocol/layout.js";
import { CsvScanner, type CsvRecord } from "./csv-scanner.js";
import { formatFromBytes, type ResolvedInput } from "./inputs.js";

const LF = 10;

/** Records a CSV hypothesis must read without fault from its candidate start (fewer at the end of the file). */
export const RESYNC_RECORDS = 64;
/** Bytes read first to decide where a part's records begin; grown fourfold up to the longest record allowed. */
export const RESYNC_WINDOW = 1024 * 1024;

/** The byte range [start, end) of the concatenated inputs (T = `total` bytes) that part i of N owns. */
export function partRange(total: number, part: Part): { start: number; end: number } {
  const at = (i: number): number => Number((BigInt(i) * BigInt(total)) / BigInt(part.count));
  return { start: at(part.index), end: at(part.index + 1) };
}

/** The part (0-based) whose range holds byte `x` of `total`: the last part whose range starts at or before x (x >= total: the last part). */
export function partOwning(x: number, total: number, count: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (partRange(total, { index: mid, count }).start <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The inputs part `part` reads, in order: whole ones as given, split ones as copies with `slice`
 * (the file's bytes [start, stop) whose records the part takes). Reads the first bytes of each
 * file that straddles part ranges (gzip magic, the format when the name does not tell).
 */
export async function planPart(storage: Storage, inputs: readonly ResolvedInput[], part: Part, o: { splitFiles: boolean; encoding: string }): Promise<ResolvedInput[]> {
  const total = inputs.reduce((a, i) => a + (i.rawBytes ?? 0), 0);
  const mine = partRange(total, part);
  const out: ResolvedInput[] = [];
  let g = 0;
  for (const input of inputs) {
    const size = input.rawBytes ?? 0;
    const first = g;
    g += size;
    const whole = partOwning(first + Math.floor(size / 2), total, part.count) === part.index;
    const straddles = size > 0 && partOwning(first, total, part.count) !== partOwning(first + size - 1, total, part.count);
    if (straddles && o.splitFiles && o.encoding === "utf-8" && (await splittable(storage, input))) {
      const start = Math.max(mine.start, first) - first;
      const stop = Math.min(mine.end, first + size) - first;
      if (start < stop) out.push({ ...input, slice: { start, stop } });
    } else if (whole) out.push(input);
  }
  return out;
}

/**
 * Whether an input can be read from a byte offset: a stored (not stdin), plain (not gzip) CSV,
 * TSV or JSON Lines file. Reads its first 64 bytes; a format guessed from no telling name is
 * settled from them (as detectFormat does).
 */
export async function splittable(storage: Storage, input: ResolvedInput): Promise<boolean> {
  if (input.stdin || input.rows || input.location === undefined || input.rawBytes === undefined) return false;
  const head = await readWindow(storage, input, 0, 64);
  if (head[0] === 0x1f && head[1] === 0x8b) return false;
  if (input.sniff) {
    const shown = formatFromBytes(head);
    if (shown !== undefined) input.format = shown;
    input.sniff = false;
  }
  return input.format === "csv" || input.format === "tsv" || input.format === "jsonl";
}

/** Bytes [start, min(end, size)) of a stored input, at the version seen when prep began (S3 If-Match). */
export async function readWindow(storage: Storage, input: ResolvedInput, start: number, end: number): Promise<Buffer> {
  const stop = Math.min(end, input.rawBytes ?? end);
  if (stop <= start) return Buffer.alloc(0);
  const stream = await storage.read(input.location!, { decompress: "never", range: { start, end: stop }, ...(input.rawEtag !== undefined ? { ifMatch: input.rawEtag } : {}) });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The first record of a CSV file (its header, or its first data row with --no-header), the delimiter in use, and the file offset just after it. */
export async function firstCsvRecord(storage: Storage, input: ResolvedInput, o: { delimiter: string | undefined; quote: string; maxRecordBytes: number }): Promise<{ record: CsvRecord; delimiter: string; end: number }> {
  const scanner = new CsvScanner({ input: input.display, delimiter: o.delimiter, quote: o.quote, maxRecordBytes: o.maxRecordBytes });
  const size = input.rawBytes ?? 0;
  let at = 0;
  let len = 64 * 1024;
  while (true) {
    const chunk = await readWindow(storage, input, at, at + len);
    at += chunk.length;
    let raw = scanner.pushRaw(chunk);
    if (raw.count === 0 && at >= size) raw = scanner.endRaw();
    if (raw.count > 0) {
      const record = raw.toRecord(0);
      return { record, delimiter: scanner.delimiter!, end: record.end + (scanner.bomStripped ? 3 : 0) };
    }
    if (at >= size) throw new BtkitError("PREP_HEADER", `${input.display} is empty: expected a header row`, { input: input.display, line: 1 });
    len *= 2;
  }
}

/** A part's label and range start, for messages. */
interface Where {
  input: ResolvedInput;
  part: Part;
  /** the part's range start inside the file */
  at: number;
}

/** JSON Lines: the offset of the first line that starts at or after `at` (the file's size when none does). */
export async function jsonlRecordStart(storage: Storage, input: ResolvedInput, at: number, maxRecordBytes: number): Promise<number> {
  const size = input.rawBytes ?? 0;
  for (let len = RESYNC_WINDOW; ; len *= 4) {
    const win = await readWindow(storage, input, at - 1, at - 1 + len);
    const nl = win.indexOf(LF);
    if (nl >= 0) return at + nl;
    if (at - 1 + win.length >= size) return size;
    if (len > maxRecordBytes) {
      throw new BtkitError("PREP_RECORD_TOO_LARGE", `${input.display}: no line break within ${len} bytes after byte ${at}: a line is longer than ${maxRecordBytes} bytes`, { input: input.display, offset: at, expected: maxRecordBytes });
    }
  }
}

/** What one hypothesis made of a window. */
export type Hypothesis =
  | { kind: "dead"; reason: string }
  /** its candidate start, and the records read from it without fault (all of them to the end of the file: `eof`) */
  | { kind: "alive"; start: number; records: number; eof: boolean }
  /** the window ended before RESYNC_RECORDS records or the file's end: read more */
  | { kind: "short" };

/**
 * One CSV resynchronization hypothesis over a window of the file (pure): `win` holds the file's
 * bytes from `winStart` (the byte before the part's range start); `inQuotes` says whether
 * byte winStart is inside a quoted field; `eof` whether the window reaches the end of the file.
 * `fields` is the field count every record must have.
 */
export function csvHypothesis(win: Buffer, winStart: number, inQuotes: boolean, eof: boolean, o: { quote: number; delimiter: string; quoteChar: string; fields: number; input: string }): Hypothesis {
  const delim = o.delimiter.charCodeAt(0);
  const q = o.quote;
  const n = win.length;
  let odd = inQuotes;
  let start = -1;
  for (let i = 0; i < n; i++) {
    const c = win[i]!;
    if (c === q) {
      if (!odd) {
        const prev = i > 0 ? win[i - 1] : undefined;
        if (prev !== undefined && prev !== delim && prev !== LF && prev !== q) return { kind: "dead", reason: `a quote inside an unquoted field at byte ${winStart + i}` };
      } else if (i + 1 < n) {
        const next = win[i + 1]!;
        if (next !== delim && next !== LF && next !== 13 && next !== q) return { kind: "dead", reason: `${JSON.stringify(String.fromCharCode(next))} after a closing quote at byte ${winStart + i}` };
      } else if (!eof) return { kind: "short" };
      odd = !odd;
    } else if (c === LF && !odd) {
      start = i + 1;
      break;
    }
  }
  if (start < 0) {
    if (!eof) return { kind: "short" };
    if (odd) return { kind: "dead", reason: "a quote never closed before the end of the file" };
    return { kind: "alive", start: winStart + n, records: 0, eof: true };
  }
  // from the candidate start, the strict scanner (the same rules as the part's own read)
  const from = winStart + start;
  const scanner = new CsvScanner({ input: `${o.input} from byte ${from}`, delimiter: o.delimiter, quote: o.quoteChar, resumed: true, maxRecordBytes: Math.max(n, 1) });
  let records = 0;
  let recStart = from;
  const PIECE = 64 * 1024;
  try {
    for (let p = start; p <= n; p += PIECE) {
      const last = p + PIECE >= n;
      const piece = win.subarray(p, Math.min(n, p + PIECE));
      let raw = scanner.pushRaw(piece);
      const check = (): Hypothesis | undefined => {
        for (let r = 0; r < raw.count; r++) {
          const at = recStart;
          recStart = from + raw.end[r]!;
          if (raw.blank[r] === 1) continue;
          const got = raw.firstField[r + 1]! - raw.firstField[r]!;
          if (got !== o.fields) return { kind: "dead", reason: `the record at byte ${at} has ${counted(got, "field")}, the header ${o.fields}` };
          if (++records >= RESYNC_RECORDS) return { kind: "alive", start: from, records, eof: false };
        }
        return undefined;
      };
      const verdict = check();
      if (verdict) return verdict;
      if (last) {
        if (!eof) return { kind: "short" };
        raw = scanner.endRaw();
        const end = check();
        if (end) return end;
        return { kind: "alive", start: from, records, eof: true };
      }
    }
  } catch (err) {
    if (err instanceof BtkitError && (err.code === "PREP_QUOTE" || err.code === "PREP_ENCODING" || err.code === "PREP_FORMAT" || err.code === "PREP_RECORD_TOO_LARGE")) return { kind: "dead", reason: err.message };
    throw err;
  }
  return { kind: "short" };
}

/**
 * CSV: the offset of the first record that starts at or after `at` (0 < at < size), by
 * speculative resynchronization (see the module header); PREP_SPLIT when it cannot be told.
 */
export async function csvRecordStart(storage: Storage, where: Where, o: { delimiter: string; quote: string; fields: number; maxRecordBytes: number }): Promise<number> {
  const { input, at } = where;
  const size = input.rawBytes ?? 0;
  const opts = { quote: Buffer.from(o.quote)[0]!, quoteChar: o.quote, delimiter: o.delimiter, fields: o.fields, input: input.display };
  for (let len = RESYNC_WINDOW; ; len *= 4) {
    const win = await readWindow(storage, input, at - 1, at - 1 + len);
    const eof = at - 1 + win.length >= size;
    const final = eof || len >= o.maxRecordBytes;
    // at the longest window, a hypothesis that found no record end is dead: its record would be too long
    const settle = (h: Hypothesis): Hypothesis => (final && h.kind === "short" ? { kind: "dead", reason: `no record ends within ${len} bytes` } : h);
    const outside = settle(csvHypothesis(win, at - 1, false, eof, opts));
    const inside = settle(csvHypothesis(win, at - 1, true, eof, opts));
    const label = `part ${where.part.index}/${where.part.count}`;
    const wayOut = `prepare every part with ${optionHint("splitFiles", false, "--no-split-files")} (each file read whole by one part), then merge`;
    const context = { input: input.display, offset: at, part: `${where.part.index}/${where.part.count}`, option: "splitFiles" };
    if (outside.kind === "dead" && inside.kind === "dead") {
      throw new BtkitError("PREP_SPLIT", `${input.display}: ${label} starts at byte ${at}, inside the file, and the CSV records after it read neither outside a quoted field (${outside.reason}) nor inside one (${inside.reason}); ${wayOut}`, context);
    }
    if (outside.kind === "dead" && inside.kind === "alive") return inside.start;
    if (inside.kind === "dead" && outside.kind === "alive") return outside.start;
    if (outside.kind === "alive" && inside.kind === "alive") {
      throw new BtkitError("PREP_SPLIT", `${input.display}: ${label} starts at byte ${at}, inside the file, and the CSV records after it read both outside a quoted field (records from byte ${outside.start}) and inside one (records from byte ${inside.start}), ${counted(Math.min(outside.records, inside.records), "record")} of ${o.fields} fields each; ${wayOut}`, context);
    }
    // one is short (the other dead or short): read more, up to the longest record allowed
    if (final) {
      throw new BtkitError("PREP_SPLIT", `${input.display}: ${label} starts at byte ${at}, inside the file, and ${len} bytes after it do not tell whether it is inside a quoted field; ${wayOut}`, context);
    }
  }
}
