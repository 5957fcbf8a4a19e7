/**
 * CSV features read back from a model-input shard's bytes (join's hot path with the storage-lean
 * default, where every feature comes back from the shard): each line is split into fields in place
 * (RFC 4180 on one line, as protocol/csv-record.ts splits it) and each field goes into its column
 * without a string per value where the type allows:
 * - utf8: the field's bytes are copied into the column's UTF-8 data (a quoted field's doubled
 *   quotes undone); an empty field is null, a quoted empty field "" the empty string;
 * - float64: a plain decimal of at most 15 digits is its digits over a power of ten, correctly
 *   rounded (protocol/byte-values.ts, Clinger's fast path); one of 16 or 17 digits (how most
 *   writers print a double) is read exactly by longDecimalBytes, which also tells whether the
 *   double rounds the text (counted through `rounded`); anything else goes through Number(). An
 *   unquoted float64 or int64 field is read in the same scan that finds its end;
 * - int64: at most 15 digits are computed as a double, exactly; longer ones through BigInt;
 * - timestamp, timestamp_ntz: the common ISO 8601 forms with Z (timestamp) or without a zone
 *   (timestamp_ntz), within 2^53 microseconds of 1970, from their digits (protocol/byte-values.ts;
 *   an impossible date, an offset, a fraction finer than the microsecond go the slow way);
 * - bool: the spellings prep accepts, compared as bytes.
 * Every other type and every text the fast paths do not take is decoded and handed to `slow`, the
 * string path (features.ts), which applies the full rules and reports what does not fit. The
 * results are the string path's, value for value (test/join/csv-features.test.ts checks both on
 * random fields).
 */
import { makeData, Utf8, type Data } from "apache-arrow";
import type { ColumnType } from "../protocol/descriptor.js";
import { readDecimalField, timestampBytesTo } from "../protocol/byte-values.js";
import { accumulatorFor, BoolAcc, Float64Acc, Int64Acc, Validity, type Accumulator } from "./columns.js";
import type { RawLines } from "./lines.js";
import { fresh } from "./batch-transfer.js";
import { hasByte } from "../protocol/words.js";

const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const ZERO = 0x30;
const TWO32 = 4294967296;

/** Why a line is not what the features need (the caller words it): broken quoting, or too few fields. */
export type CsvFeatureFault = { kind: "invalid" } | { kind: "few"; fields: number; needed: number };

/** A field's text, decoded (a quoted field unquoted), for the slow path. */
function fieldText(bytes: Buffer, start: number, end: number, quoted: boolean): string {
  if (!quoted) return bytes.toString("utf8", start, end);
  const text = bytes.toString("utf8", start + 1, end - 1);
  return text.indexOf('"') < 0 ? text : text.replaceAll('""', '"');
}

/** One utf8 column built as bytes: offsets and data, grown as needed, copied out exactly at the end. */
class Utf8Bytes extends Validity {
  readonly offsets: Int32Array;
  data: Uint8Array;
  /** data as a DataView, for copies four bytes at a time */
  #view: DataView;
  at = 0;
  constructor(length: number, scratch: Uint8Array) {
    super(length);
    this.offsets = new Int32Array(length + 1);
    this.data = scratch;
    this.#view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
  }
  #room(n: number): void {
    if (this.at + n <= this.data.length) return;
    const grown = new Uint8Array(Math.max(this.data.length * 2, this.at + n));
    grown.set(this.data.subarray(0, this.at));
    this.data = grown;
    this.#view = new DataView(grown.buffer);
  }
  /**
   * the field's bytes as row i's value: bytes[start, end) as they are, or (`escaped`: a quoted
   * field with doubled quotes) with every doubled quote made one
   */
  set(i: number, bytes: Buffer, view: DataView, start: number, end: number, escaped: boolean): void {
    const len = end - start;
    this.#room(len);
    const data = this.data;
    let at = this.at;
    if (escaped) {
      for (let k = start; k < end; k++) {
        const b = bytes[k]!;
        data[at++] = b;
        if (b === QUOTE) k++;
      }
    } else {
      // four bytes at a time (view: of bytes), then byte by byte: as fast as Buffer#copy for the
      // longest fields here (a few hundred bytes), which makes a view object to copy from each time
      const out = this.#view;
      let k = start;
      for (; k + 4 <= end; k += 4, at += 4) out.setInt32(at, view.getInt32(k, true), true);
      for (; k < end; k++) data[at++] = bytes[k]!;
    }
    this.at = at;
    this.offsets[i + 1] = at;
  }
  override setNull(i: number): void {
    super.setNull(i);
    this.offsets[i + 1] = this.at;
  }
  finish(length: number): Data {
    // a copy: the scratch is filled again by the next batch
    const data = this.data.slice(0, this.at);
    return fresh(makeData({ type: new Utf8(), length, nullCount: this.nulls, nullBitmap: this.bitmap(), valueOffsets: this.offsets, data }));
  }
}

/** The columns a batch of CSV feature lines fills: where each field goes, and the builders. */
export interface CsvFeatureTarget {
  /** column slot of field k (its position on the line), or -1 when no column reads it */
  slotOfField: Int32Array;
  types: readonly ColumnType[];
  /**
   * the string path for field text the fast paths do not take: puts `text` into `acc` at row i
   * (an empty text is a null), or throws the error naming line and column
   */
  slow(acc: Accumulator, i: number, text: string, slot: number, line: number): void;
  /** counts a float64 value whose text has more significant digits than its double keeps (the string path counts its own) */
  rounded(): void;
}

/** longDecimalBytes's answer to whether the double rounds the text */
const LONG = { rounds: false };

/** A scratch buffer per utf8 column, reused from batch to batch (the column's data is copied out of it). */
export class CsvFeatureReader {
  readonly #target: CsvFeatureTarget;
  readonly #scratch: Uint8Array[];
  /** the fields a line must have at least (the highest position a column reads, plus one) */
  readonly #needed: number;

  constructor(target: CsvFeatureTarget) {
    this.#target = target;
    this.#scratch = target.types.map(() => new Uint8Array(0));
    let needed = 0;
    target.slotOfField.forEach((slot, k) => {
      if (slot >= 0) needed = k + 1;
    });
    this.#needed = needed;
  }

  /**
   * The columns of `n` lines. `fault(i, why)` reports line i that is not a CSV record or has too
   * few fields; it must throw.
   */
  read(raw: RawLines, n: number, lineNumber: (i: number) => number, fault: (i: number, why: CsvFeatureFault) => never): Data[] {
    const types = this.#target.types;
    const slotOfField = this.#target.slotOfField;
    const slow = this.#target.slow;
    const cols = types.length;
    const accs: (Accumulator | Utf8Bytes)[] = types.map((t, j) => (t === "utf8" ? new Utf8Bytes(n, this.#scratch[j]!) : accumulatorFor(t, n)));
    // int64 and the microsecond types written as two 32-bit halves (no BigInt per value)
    const halves: (Int32Array | undefined)[] = accs.map((a) => (a instanceof Int64Acc && a.type !== "date" ? new Int32Array(a.values.buffer, a.values.byteOffset, a.values.length * 2) : undefined));
    // float64 values are read straight into their column (a double returned would be boxed)
    const floats: (Float64Array | undefined)[] = accs.map((a) => (a instanceof Float64Acc ? a.values : undefined));
    const kinds = types.map((t) => KIND[t] ?? K_SLOW);
    const bytes = raw.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < n; i++) {
      const end = raw.ends[i]!;
      let at = raw.starts[i]!;
      let field = 0;
      // one pass over the line's bytes, field by field; a line is one empty field at least
      while (true) {
        const start = at;
        const slot = field < slotOfField.length ? slotOfField[field]! : -1;
        const kind = slot >= 0 ? kinds[slot]! : K_SLOW;
        let stop = -1;
        let quoted = false;
        let escaped = false;
        /** a float64 or int64 field read in the scan that found its end (its value in floats or halves; NaN: undecided) */
        let fused = false;
        if (at < end && bytes[at] === QUOTE) {
          quoted = true;
          // the closing quote: the next quote not doubled (memchr-fast; the field ends before the line does)
          let q = bytes.indexOf(QUOTE, at + 1);
          while (q >= 0 && q + 1 < end && bytes[q + 1] === QUOTE) {
            escaped = true;
            q = bytes.indexOf(QUOTE, q + 2);
          }
          if (q < 0 || q >= end) fault(i, { kind: "invalid" });
          stop = q + 1;
          if (stop < end && bytes[stop] !== COMMA) fault(i, { kind: "invalid" });
        } else {
          // a number column's field: its digits read as its end is found (a field that is not a
          // plain number, or is empty, is scanned below as any other)
          if (kind === K_FLOAT) stop = readDecimalField(bytes, at, end, COMMA, LONG, floats[slot]!, i);
          else if (kind === K_INT) stop = readIntField(bytes, at, end, halves[slot]!, i);
          fused = stop >= 0;
          if (!fused) {
            let k = at;
            // four bytes at a time while none is a comma or a quote, then byte by byte to the one that is
            while (k + 4 <= end) {
              const x = view.getInt32(k, true);
              if ((hasByte(x, 0x2c2c2c2c) | hasByte(x, 0x22222222)) !== 0) break;
              k += 4;
            }
            while (k < end) {
              const c = bytes[k]!;
              if (c === COMMA) break;
              // an unquoted field holding a quote is not RFC 4180
              if (c === QUOTE) fault(i, { kind: "invalid" });
              k++;
            }
            stop = k;
          }
        }
        if (slot >= 0) {
          const acc = accs[slot]!;
          if (start === stop) {
            acc.setNull(i);
          } else {
            let done = false;
            if (fused) {
              if (kind === K_INT) done = true;
              // NaN: the reader did not decide (the string path does)
              else if (!Number.isNaN(floats[slot]![i])) {
                if (LONG.rounds) this.#target.rounded();
                done = true;
              }
            } else if (kind === K_UTF8) {
              if (quoted) (acc as Utf8Bytes).set(i, bytes, view, start + 1, stop - 1, escaped);
              else (acc as Utf8Bytes).set(i, bytes, view, start, stop, false);
              done = true;
            } else if (!quoted) {
              // an unquoted float64 or int64 field the scan above did not read is no plain number
              // of its kind: the string path decides it (reading it again here would decline too)
              if (kind === K_TS || kind === K_TS_NTZ) done = readTimestamp(bytes, start, stop, kind === K_TS, halves[slot]!, i);
              else if (kind === K_BOOL) done = readBool(bytes, start, stop, acc as BoolAcc, i);
            }
            if (!done) {
              // a quoted empty field: the empty string for utf8 (handled above), a null for the rest
              if (quoted && stop - start === 2) acc.setNull(i);
              else slow(acc as Accumulator, i, fieldText(bytes, start, stop, quoted), slot, lineNumber(i));
            }
          }
        }
        field++;
        if (stop >= end) break;
        at = stop + 1;
      }
      if (field < this.#needed) fault(i, { kind: "few", fields: field, needed: this.#needed });
      // a utf8 column no field reached (never: field >= needed) keeps its offsets monotone
    }
    const out: Data[] = new Array<Data>(cols);
    for (let j = 0; j < cols; j++) {
      const acc = accs[j]!;
      if (acc instanceof Utf8Bytes) {
        this.#scratch[j] = acc.data;
        out[j] = acc.finish(n);
      } else {
        out[j] = acc.finish(n);
      }
    }
    return out;
  }
}

const K_SLOW = 0;
const K_UTF8 = 1;
const K_FLOAT = 2;
const K_INT = 3;
const K_TS = 4;
const K_TS_NTZ = 5;
const K_BOOL = 6;
const KIND: Partial<Record<ColumnType, number>> = { utf8: K_UTF8, float64: K_FLOAT, int64: K_INT, timestamp: K_TS, timestamp_ntz: K_TS_NTZ, bool: K_BOOL };

/** A whole number of at most 2^53 in magnitude as two 32-bit halves (little-endian int64). */
function setInt64(halves: Int32Array, i: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  halves[2 * i] = v - hi * TWO32;
  halves[2 * i + 1] = hi;
}

/**
 * readInt over a delimited field: `-?digits` of at most 15 digits from s up to the first comma or
 * e, written as row i; the field's end, or -1 (nothing written) for anything else or an empty field.
 */
function readIntField(b: Buffer, s: number, e: number, halves: Int32Array, i: number): number {
  let k = s;
  const negative = b[k] === MINUS;
  if (negative) k++;
  const first = k;
  let m = 0;
  for (; k < e; k++) {
    const c = b[k]!;
    if (c === COMMA) break;
    const d = c - ZERO;
    if (d < 0 || d > 9) return -1;
    m = m * 10 + d;
  }
  if (k === first || k - first > 15) return -1;
  setInt64(halves, i, negative ? -m : m);
  return k;
}

/**
 * An ISO date-time of the column's kind (ending in Z for timestamp, without a zone for
 * timestamp_ntz, which also takes a date alone) as microseconds; false for anything else.
 */
function readTimestamp(b: Buffer, start: number, end: number, zone: boolean, halves: Int32Array, i: number): boolean {
  if ((b[end - 1] === 0x5a) !== zone || !timestampBytesTo(b, start, end, MICROS, 0)) return false;
  setInt64(halves, i, MICROS[0]!);
  return true;
}

/** readTimestamp's scratch: the microseconds as a double, unboxed */
const MICROS = new Float64Array(1);

/** Whether b[at, at + word.length) is `word`, in lower case, or (upper: allowed) in upper case. */
function spelled(b: Buffer, at: number, lower: string, upper: boolean): boolean {
  let same = true;
  for (let k = 1; k < lower.length && same; k++) same = b[at + k] === lower.charCodeAt(k);
  if (same) return true;
  if (!upper) return false;
  for (let k = 1; k < lower.length; k++) if (b[at + k] !== lower.charCodeAt(k) - 32) return false;
  return true;
}

/** The spellings prep accepts: true, True, TRUE, 1 and false, False, FALSE, 0. */
function readBool(b: Buffer, start: number, end: number, acc: BoolAcc, i: number): boolean {
  const len = end - start;
  const c = b[start]!;
  if (len === 1) {
    if (c === 0x31) acc.set(i, true);
    else if (c !== 0x30) return false;
    return true;
  }
  // true, True, TRUE (not tRUE): the first letter either case, the rest lower, or all upper
  if (len === 4 && (c === 0x74 || c === 0x54) && spelled(b, start, "true", c === 0x54)) {
    acc.set(i, true);
    return true;
  }
  return len === 5 && (c === 0x66 || c === 0x46) && spelled(b, start, "false", c === 0x46);
}
