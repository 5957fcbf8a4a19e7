/**
 * The byte-level fast path for CSV input: type checks and record encoders that read field bytes
 * straight from the scanner's buffer (RawRecords) and write the encoded line into a reusable
 * buffer, making no strings. They cover the common case only and answer "not here" (false, -1)
 * for anything else (a value that does not fit its type, a line break headed for CSV, another
 * quote character, a record over the payload limit): the caller then takes the string path
 * (encode.ts, schema.ts), which decides and reports exactly as before. Output is byte-identical
 * to the string path's.
 */
import { decimalOf, type ColumnType } from "../protocol/descriptor.js";
import { isNestedName } from "../protocol/nested.js";
import { isTimestampBytes } from "../protocol/byte-values.js";
import { copyJsonSafeWords, copyWordsPast } from "../protocol/words.js";
import { FIELD, type RawRecords } from "./csv-scanner.js";
import { fits, temporalFits, temporalTypeOf } from "./schema.js";

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;
const BACKSLASH = 92;
const MINUS = 45;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether buf[s, e) is a JSON integer (the INT_RE of schema.ts); the int64 range is checked for up to 18 digits only. */
function intSyntax(buf: Buffer, s: number, e: number): boolean {
  let k = s;
  if (buf[k] === MINUS) k++;
  if (k >= e) return false;
  if (buf[k] === 48) return k + 1 === e;
  for (; k < e; k++) if (!isDigit(buf[k]!)) return false;
  return true;
}

/** JSON number syntax (FLOAT_RE of schema.ts); sets hasExp when an exponent is present. */
function floatSyntax(buf: Buffer, s: number, e: number): 0 | 1 | 2 {
  let k = s;
  if (buf[k] === MINUS) k++;
  if (k >= e) return 0;
  if (buf[k] === 48) k++;
  else if (isDigit(buf[k]!)) while (k < e && isDigit(buf[k]!)) k++;
  else return 0;
  if (k < e && buf[k] === 46) {
    k++;
    const d = k;
    while (k < e && isDigit(buf[k]!)) k++;
    if (k === d) return 0;
  }
  if (k === e) return 1;
  if (buf[k] !== 101 && buf[k] !== 69) return 0;
  k++;
  if (k < e && (buf[k] === 43 || buf[k] === MINUS)) k++;
  const d = k;
  while (k < e && isDigit(buf[k]!)) k++;
  return k === e && k > d ? 2 : 0;
}

function boolBytes(buf: Buffer, s: number, e: number): boolean {
  const n = e - s;
  if (n === 4) {
    const a = buf[s]!;
    return (a === 116 && buf[s + 1] === 114 && buf[s + 2] === 117 && buf[s + 3] === 101) || (a === 84 && ((buf[s + 1] === 114 && buf[s + 2] === 117 && buf[s + 3] === 101) || (buf[s + 1] === 82 && buf[s + 2] === 85 && buf[s + 3] === 69)));
  }
  if (n === 5) {
    const a = buf[s]!;
    return (
      (a === 102 && buf[s + 1] === 97 && buf[s + 2] === 108 && buf[s + 3] === 115 && buf[s + 4] === 101) ||
      (a === 70 && ((buf[s + 1] === 97 && buf[s + 2] === 108 && buf[s + 3] === 115 && buf[s + 4] === 101) || (buf[s + 1] === 65 && buf[s + 2] === 76 && buf[s + 3] === 83 && buf[s + 4] === 69)))
    );
  }
  return false;
}

/** Copies buf[s, e) to dst at `at`; returns the count (a byte loop for short spans: Buffer.copy has a fixed cost per call). */
export function copyBytes(buf: Buffer, s: number, e: number, dst: Buffer, at: number): number {
  const n = e - s;
  if (n > 48) return buf.copy(dst, at, s, e);
  for (let i = s; i < e; i++) dst[at++] = buf[i]!;
  return n;
}

/** Whether field f of raw records fits a column type (the fits() of schema.ts for CSV text, without strings where possible). */
export function fieldFits(raw: RawRecords, f: number, type: ColumnType): boolean {
  const s = raw.start[f]!;
  const e = raw.stop[f]!;
  const flag = raw.flag[f]!;
  if (flag === FIELD.unquoted && s === e) return true; // null
  if (flag === FIELD.escaped) return fits(type, raw.value(f), undefined);
  const buf = raw.buf;
  switch (type) {
    case "utf8":
      return true;
    case "int64":
      if (e - s < 19) return intSyntax(buf, s, e);
      return fits(type, raw.value(f), undefined);
    case "float64": {
      const syn = floatSyntax(buf, s, e);
      if (syn === 0) return false;
      // without an exponent, a finite double has at most 309 integer digits
      if (syn === 1 && e - s < 300) return true;
      return fits(type, raw.value(f), undefined);
    }
    case "bool":
      return boolBytes(buf, s, e);
    case "date":
    case "timestamp_ntz":
    case "timestamp":
      // timestampBytes answers YYYY-MM-DD (a date), a date-time without zone, or one ending in Z
      if (isTimestampBytes(buf, s, e)) return temporalFits(type, e - s === 10 ? "date" : buf[e - 1] === 90 ? "timestamp" : "timestamp_ntz");
      // the syntax is ASCII only: a latin1 view decides the same as the UTF-8 text
      return temporalFits(type, temporalTypeOf(buf.toString("latin1", s, e)));
    default:
      return fits(type, raw.value(f), undefined);
  }
}

/** A growable output buffer for one encoded line. */
export class LineBuffer {
  buf = Buffer.allocUnsafe(64 * 1024);

  ensure(n: number): Buffer {
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    return this.buf;
  }
}

/** An upper bound of the bytes a record's fields take (its span in the buffer). */
function span(raw: RawRecords, r: number): number {
  const a = raw.firstField[r]!;
  const b = raw.firstField[r + 1]!;
  return b > a ? raw.stop[b - 1]! - raw.start[a]! + 2 : 0;
}

/**
 * A line encoder over raw records that writes straight into a caller's buffer (the shard writer's
 * block). `bound` is an upper bound of the bytes record r's line takes (all its fields counted);
 * `into` writes the line (without newline) at dst[at...] (room for bound bytes) and returns its
 * length, or -1 when the string path must decide (then it may have written garbage past `at`).
 * `fields`: the feature fields within the record in order, all when undefined.
 */
export interface RawLineEncoder {
  bound(raw: RawRecords, r: number): number;
  into(raw: RawRecords, r: number, fields: readonly number[] | undefined, dst: Buffer, at: number): number;
  /**
   * Where record r's line starts in raw.buf when the line and its newline are the record's input
   * bytes as they stand, buf[run, raw.next[r]) (a writer may then copy runs of such records in
   * one piece); -1 otherwise.
   */
  run?(raw: RawRecords, r: number, fields: readonly number[] | undefined): number;
}

/**
 * Whether record r's CSV line (all its fields, in order) is its bytes in the input as they stand:
 * a comma delimiter, no line break in a value, and every quoted value one the encoder quotes too
 * (empty, holding a doubled quote, or a comma). Unquoted values cannot hold the delimiter.
 */
function verbatimCsv(raw: RawRecords, r: number): boolean {
  if (raw.delimiter !== COMMA || raw.multiline[r] === 1) return false;
  const buf = raw.buf;
  const flags = raw.flag;
  const starts = raw.start;
  const stops = raw.stop;
  for (let f = raw.firstField[r]!, last = raw.firstField[r + 1]!; f < last; f++) {
    if (flags[f] !== FIELD.quoted) continue;
    const e = stops[f]!;
    let i = starts[f]!;
    if (i === e) continue;
    while (i < e && buf[i] !== COMMA) i++;
    if (i === e) return false;
  }
  return true;
}

/**
 * Encodes record r as a headerless CSV line (makeCsvEncoder's output) at dst[at...]; returns its
 * length, or -1 when the string path must decide (a value with a line break, or a quote character
 * other than `"`). dst needs room for csvLine.bound(raw, r) bytes. A line that is its input bytes
 * (verbatimCsv) is copied in one piece.
 */
function csvInto(raw: RawRecords, r: number, fields: readonly number[] | undefined, dst: Buffer, at: number): number {
  if (raw.quote !== QUOTE) return -1;
  const first = raw.firstField[r]!;
  const buf = raw.buf;
  if (fields === undefined && verbatimCsv(raw, r)) {
    const last = raw.firstField[r + 1]! - 1;
    const s = raw.start[first]! - (raw.flag[first] === FIELD.unquoted ? 0 : 1);
    const e = raw.stop[last]! + (raw.flag[last] === FIELD.unquoted ? 0 : 1);
    return copyBytes(buf, s, e, dst, at);
  }
  const n = fields === undefined ? raw.firstField[r + 1]! - first : fields.length;
  const multiline = raw.multiline[r] === 1;
  // with a comma delimiter an unquoted value holds no comma: nothing to look for
  const commaFree = raw.delimiter === COMMA;
  const at0 = at;
  for (let k = 0; k < n; k++) {
    if (k > 0) dst[at++] = COMMA;
    const f = first + (fields === undefined ? k : fields[k]!);
    const s = raw.start[f]!;
    const e = raw.stop[f]!;
    const flag = raw.flag[f]!;
    if (s === e) {
      if (flag !== FIELD.unquoted) {
        dst[at++] = QUOTE;
        dst[at++] = QUOTE;
      }
      continue;
    }
    let quote = flag === FIELD.escaped;
    if (!quote && !(commaFree && flag === FIELD.unquoted)) {
      for (let i = s; i < e; i++) {
        const c = buf[i]!;
        if (c === COMMA) quote = true;
        else if (multiline && (c === LF || c === CR)) return -1;
      }
    } else if (multiline && flag !== FIELD.unquoted) {
      for (let i = s; i < e; i++) {
        const c = buf[i]!;
        if (c === LF || c === CR) return -1;
      }
    }
    // a quoted value's bytes already hold its quotes doubled: exactly the RFC 4180 form
    if (quote) dst[at++] = QUOTE;
    at += copyBytes(buf, s, e, dst, at);
    if (quote) dst[at++] = QUOTE;
  }
  return at - at0;
}

/** The headerless CSV line encoder (makeCsvEncoder's output, newlines rejected) over raw records. */
export const csvLine: RawLineEncoder = {
  bound: (raw, r) => span(raw, r) + 3 * (raw.firstField[r + 1]! - raw.firstField[r]!) + 8,
  into: csvInto,
  run: (raw, r, fields) => {
    if (fields !== undefined || raw.quote !== QUOTE || !verbatimCsv(raw, r)) return -1;
    const next = raw.next[r]!;
    // ended by LF alone (a CR before it can only be a CRLF's: a value holding one is multiline)
    if (raw.buf[next - 1] !== LF || raw.buf[next - 2] === CR) return -1;
    return r === 0 ? 0 : raw.next[r - 1]!;
  },
};

/**
 * Encodes record r as a headerless CSV line (makeCsvEncoder's output) into out; returns its length,
 * or -1 when the string path must decide (a value with a line break, or a quote character other
 * than `"`). `fields`: the feature fields within the record in order, all when undefined.
 */
export function encodeCsvRaw(raw: RawRecords, r: number, fields: readonly number[] | undefined, out: LineBuffer): number {
  return csvInto(raw, r, fields, out.ensure(csvLine.bound(raw, r)), 0);
}

const HEX = "0123456789abcdef";
const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");

/** How a JSON Lines encoder writes a column's CSV text: as it is (numbers, JSON), as true/false, or as a JSON string. */
const AS_IS = 0;
const AS_BOOL = 1;
const AS_STRING = 2;

/**
 * JSON.stringify's escapes by byte: 0 passes as it is, 1 is `"` or `\` (a backslash before it),
 * else the letter after the backslash (b t n f r, or u for \u00XX). UTF-8 bytes above 0x7f pass.
 */
const JSON_ESCAPE = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 0x20; c++) t[c] = 117;
  t[8] = 98;
  t[9] = 116;
  t[10] = 110;
  t[12] = 102;
  t[13] = 114;
  t[QUOTE] = 1;
  t[BACKSLASH] = 1;
  return t;
})();

/**
 * A JSON Lines encoder over raw records (makeJsonlEncoder's output) for the given feature names
 * and types; it returns the line's length, or -1 for a quote character other than `"`.
 */
export function makeJsonlRawEncoder(features: readonly string[], types: readonly ColumnType[]): (raw: RawRecords, r: number, fields: readonly number[] | undefined, out: LineBuffer) => number {
  const line = jsonlLine(features, types);
  return (raw, r, fields, out) => line.into(raw, r, fields, out.ensure(line.bound(raw, r)), 0);
}

/** The JSON Lines line encoder (makeJsonlEncoder's output) over raw records, for the given feature names and types. */
export function jsonlLine(features: readonly string[], types: readonly ColumnType[]): RawLineEncoder {
  // every key with its lead ({ or ,) and colon, in one buffer: key k is keys[keyAt[k], keyAt[k + 1]);
  // 3 bytes more at the end, so the last key too is read in whole words
  const keys = Buffer.concat([...features.map((f, i) => Buffer.from(`${i > 0 ? "," : "{"}${JSON.stringify(f)}:`, "utf8")), Buffer.alloc(3)]);
  const keyAt = new Int32Array(features.length + 1);
  features.forEach((f, i) => (keyAt[i + 1] = keyAt[i]! + Buffer.byteLength(`${i > 0 ? "," : "{"}${JSON.stringify(f)}:`, "utf8")));
  // a decimal is a JSON number with its exact digits, as float64 is; a nested value is its JSON text
  const kinds = Int8Array.from(types.map((t) => (decimalOf(t) || t === "int64" || t === "uint64" || t === "float64" || t === "json" || isNestedName(t) ? AS_IS : t === "bool" ? AS_BOOL : AS_STRING)));
  const n = features.length;
  // 8 bytes a field more than its value and key: room for the null, the quotes and the 3 bytes a word copy writes past its span
  const bound = (raw: RawRecords, r: number): number => span(raw, r) * 6 + keys.length + 8 * n + 8;
  // the keys read in whole words (copyWordsPast: the 3 bytes past a key are the next key's, or the padding)
  const keyView = new DataView(keys.buffer, keys.byteOffset, keys.length);
  // DataViews of the last source and destination buffers (a block holds many records)
  let srcBuf: Buffer | undefined;
  let src: DataView = new DataView(new ArrayBuffer(0));
  let dstBuf: Buffer | undefined;
  let out: DataView = new DataView(new ArrayBuffer(0));
  const into = (raw: RawRecords, r: number, fields: readonly number[] | undefined, dst: Buffer, at0: number): number => {
    if (raw.quote !== QUOTE) return -1;
    const first = raw.firstField[r]!;
    const buf = raw.buf;
    if (buf !== srcBuf) {
      srcBuf = buf;
      src = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    // a value is read in whole words where 3 bytes follow it in the source
    const wordsTo = buf.length - 3;
    if (dst !== dstBuf) {
      dstBuf = dst;
      out = new DataView(dst.buffer, dst.byteOffset, dst.length);
    }
    let at = at0;
    if (n === 0) dst[at++] = 123; // "{"
    for (let k = 0; k < n; k++) {
      at += copyWordsPast(keyView, keyAt[k]!, keyAt[k + 1]!, out, at);
      const f = first + (fields === undefined ? k : fields[k]!);
      const s = raw.start[f]!;
      const e = raw.stop[f]!;
      const flag = raw.flag[f]!;
      if (flag === FIELD.unquoted && s === e) {
        dst[at++] = 110; // null
        dst[at++] = 117;
        dst[at++] = 108;
        dst[at++] = 108;
        continue;
      }
      const escaped = flag === FIELD.escaped;
      const kind = kinds[k];
      if (kind === AS_IS) {
        if (!escaped) {
          at += e <= wordsTo && e - s <= 48 ? copyWordsPast(src, s, e, out, at) : copyBytes(buf, s, e, dst, at);
          continue;
        }
        for (let i = s; i < e; i++) {
          const c = buf[i]!;
          dst[at++] = c;
          if (c === QUOTE) i++;
        }
        continue;
      }
      if (kind === AS_BOOL) {
        at += buf[s] === 116 || buf[s] === 84 ? copyBytes(TRUE, 0, 4, dst, at) : copyBytes(FALSE, 0, 5, dst, at);
        continue;
      }
      // JSON.stringify of the text: escape " \ and control characters; UTF-8 bytes pass
      dst[at++] = QUOTE;
      for (let i = s; i < e; i++) {
        // four bytes at a time while none needs an escape
        const copied = copyJsonSafeWords(src, i, e, out, at);
        i += copied;
        at += copied;
        if (i === e) break;
        const c = buf[i]!;
        const x = JSON_ESCAPE[c]!;
        if (x === 0) {
          dst[at++] = c;
          continue;
        }
        dst[at++] = BACKSLASH;
        if (x === 1) {
          // a quote is doubled in an escaped CSV value: one of the two
          if (escaped && c === QUOTE) i++;
          dst[at++] = c;
        } else if (x === 117) {
          dst[at++] = 117;
          dst[at++] = 48;
          dst[at++] = 48;
          dst[at++] = HEX.charCodeAt(c >> 4);
          dst[at++] = HEX.charCodeAt(c & 15);
        } else dst[at++] = x;
      }
      dst[at++] = QUOTE;
    }
    dst[at++] = 125; // "}"
    return at - at0;
  };
  return { bound, into };
}
