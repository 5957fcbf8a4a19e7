/**
 * The text writers: joined record batches -> JSON Lines or CSV bytes, written straight from the
 * Arrow buffers into one reused output buffer. Text columns are copied as bytes (escaped where
 * JSON or CSV needs it), integers, dates and microsecond timestamps are written as digits; only
 * the rarer types (floats, decimals, nested values, other time units) go through their text
 * (nested-arrow.ts, time.ts). No string is built per row.
 *
 * - jsonl: one JSON object per row, keys in column order; int64 as JSON numbers (exact digits),
 *   times as ISO 8601 strings (microseconds: six fraction digits), json columns embedded as
 *   their JSON text (line breaks between its tokens written as spaces), non-finite floats as null. Strings are escaped as JSON.stringify escapes them
 *   (`"`, `\`, and control characters below U+0020), so the bytes are the same.
 * - csv: a header line, then RFC 4180 rows: a field is quoted (quotes doubled) when it holds a
 *   comma, a quote, CR or LF; null is an empty field, the empty string `""` (how prep reads them).
 */
import type { RecordBatch, Vector } from "apache-arrow";
import { decimalOf, type ColumnType } from "../protocol/descriptor.js";
import { decimalText, readDecimalWords } from "../protocol/decimal.js";
import { isNestedName } from "../protocol/nested.js";
import { leafText, nestedText, validity } from "../protocol/nested-arrow.js";
import { halfSpacing, isPowerOfTwo, productError } from "../protocol/byte-values.js";
import { civilFromDays, temporalOf, temporalText } from "../protocol/time.js";
import { columnTypeOfField } from "./columns.js";
import { csvField } from "./csv-fields.js";
import { copyJsonSafeWords, hasByte } from "../protocol/words.js";

/** A growable output buffer, reused from batch to batch; take() hands on a copy of what was written. */
export class ByteSink {
  buf: Buffer = Buffer.allocUnsafe(1 << 16);
  /** buf as a DataView, for writes of four bytes at once */
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  pos = 0;

  /** Makes room for n more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  byte(b: number): void {
    if (this.pos === this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** Writes a string as UTF-8. */
  text(s: string): void {
    const n = s.length;
    this.reserve(n * 3);
    if (n < 32) {
      // short ASCII text (numbers, most keys' values) byte by byte: cheaper than Buffer#write
      const buf = this.buf;
      let p = this.pos;
      let k = 0;
      for (; k < n; k++) {
        const c = s.charCodeAt(k);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (k === n) {
        this.pos = p;
        return;
      }
    }
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** Copies src[start, end). */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(n);
    const buf = this.buf;
    if (n < 64) {
      // short spans (most cells, every key): a loop beats making a view to copy from
      let p = this.pos;
      for (let k = start; k < end; k++) buf[p++] = src[k]!;
    } else buf.set(src.subarray(start, end), this.pos);
    this.pos += n;
  }

  /** Writes a Fixed's bytes (four at a time). */
  fixed(f: Fixed): void {
    const bytes = f.bytes;
    const n = bytes.length;
    this.reserve(n);
    const view = this.view;
    const words = f.words;
    let p = this.pos;
    for (let w = 0; w < words.length; w++, p += 4) view.setInt32(p, words[w]!, true);
    const buf = this.buf;
    for (let k = words.length * 4; k < n; k++) buf[p++] = bytes[k]!;
    this.pos = p;
  }

  /** What was written since the last take(), as a buffer of its own. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }
}

/**
 * Bytes written on every row (a JSON key with its punctuation, true, false), also as little-endian
 * 32-bit words: a row's keys are a large part of a JSON Lines line, and four bytes a store copy
 * them in a third of the time of a byte loop.
 */
export interface Fixed {
  readonly bytes: Uint8Array;
  /** bytes[0, 4 * words.length) as words */
  readonly words: Int32Array;
}

export function fixed(text: string): Fixed {
  const bytes = new TextEncoder().encode(text);
  const words = new Int32Array(bytes.length >> 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let w = 0; w < words.length; w++) words[w] = view.getInt32(4 * w, true);
  return { bytes, words };
}

/**
 * The decimal digits of a whole m, 0 <= m < 2^53, into DIGITS as ASCII, least significant first;
 * returns their count (one for 0). Above 2^31 a digit at a time in doubles (m - 10q exact); below,
 * in 32-bit integers (a division by 10 that compiles to a multiplication; `%` on a double is a call).
 */
function integerDigits(m: number): number {
  let nd = 0;
  while (m >= 2147483648) {
    const q = Math.floor(m / 10);
    DIGITS[nd++] = 0x30 + (m - q * 10);
    m = q;
  }
  let v = m | 0;
  do {
    const q = (v / 10) | 0;
    DIGITS[nd++] = 0x30 + v - q * 10;
    v = q;
  } while (v > 0);
  return nd;
}

/** 10^k for k <= 22: exact doubles */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
/** below 2^51, x * 10^k is within a quarter of the integer a shorter text gives, so it rounds to it */
const SHORT_LIMIT = 2 ** 51;
const DIGITS = new Uint8Array(24);

/**
 * Writes a finite double as JavaScript's Number#toString (the shortest text that reads back as
 * it) does, for the doubles whose shortest text is a plain decimal of digits below 2^51 (1e-6 <=
 * |x|): the fewest fraction digits k for which m = round(x * 10^k) gives m / 10^k === x (m and
 * 10^k exact doubles, so the quotient is what reading m's text back gives). No text with fewer
 * digits reads back as x (it would have been found at a smaller k), and below 2^51 the product
 * is within far less than a half of the shortest text's digits, so m is them. False for every
 * other double (the caller writes String(x)), and for one that needs more than `maxK` fraction
 * digits. `fromK`: fewer fraction digits are known not to read back (a caller's earlier try), so
 * the search starts there. Checked against String(x) by property tests.
 */
export function writeShortDouble(s: ByteSink, x: number, maxK = 22, fromK = 0): boolean {
  X[0] = x;
  return shortX(s, maxK, fromK);
}

/**
 * The double being written, for the writers below: they read it from here rather than take it as
 * an argument, since a double passed to (or returned from) a function V8 does not inline is boxed,
 * a 16-byte HeapNumber each (most of the text worker's allocation: a few per float64 cell).
 */
const X = new Float64Array(1);

/** writeShortDouble of X[0]. */
function shortX(s: ByteSink, maxK: number, fromK: number): boolean {
  const x = X[0]!;
  const a = x < 0 ? -x : x;
  if (!(a >= 1e-6 && a < SHORT_LIMIT)) return false;
  let k = fromK;
  const first = a * POW10[k]!;
  if (first >= SHORT_LIMIT) return false;
  let m = Math.round(first);
  while (m / POW10[k]! !== a) {
    if (++k > maxK) return false;
    const scaled = a * POW10[k]!;
    if (scaled >= SHORT_LIMIT) return false;
    m = Math.round(scaled);
  }
  const nd = m > 0 ? integerDigits(m) : 0;
  s.reserve(nd + k + 3);
  const buf = s.buf;
  let p = s.pos;
  if (x < 0) buf[p++] = 0x2d;
  if (nd <= k) {
    // 0.000ddd
    buf[p++] = 0x30;
    buf[p++] = 0x2e;
    for (let z = nd; z < k; z++) buf[p++] = 0x30;
    for (let d = nd - 1; d >= 0; d--) buf[p++] = DIGITS[d]!;
  } else {
    for (let d = nd - 1; d >= 0; d--) {
      if (d === k - 1) buf[p++] = 0x2e;
      buf[p++] = DIGITS[d]!;
    }
  }
  s.pos = p;
  return true;
}

/** how close to a tie or a boundary (relative) longX leaves a double to String(x) */
const MARGIN = 1e-6;
const LONG_DIGITS = new Uint8Array(17);

/**
 * The digits of the integer N nearest a * 10^k (a = |X[0]|, a * 10^k in [10^15, 10^17), 10^k exact) into
 * LONG_DIGITS, most significant first; returns their count. -1 when N lies clearly beyond a's
 * rounding interval (|a * 10^k - N| more than half of a's spacing times 10^k: then no integer
 * does), 0 when that is too close to call (within a millionth). At a tie between two integers
 * (a * 10^k ending in .5, both within reach) the even one, as ECMA-262 Number::toString picks;
 * a computed .5 is a true tie from a >= 256 on (the exact residual is a multiple of 2^-44 or
 * coarser there, the error far smaller); below, a near-tie is 0.
 */
function nearestDigits(k: number): number {
  const x = X[0]!;
  const a = x < 0 ? -x : x;
  const scale = POW10[k]!;
  const p = a * scale;
  const q = productError(a, scale, p);
  // a * 10^k = p + q exactly; N = whole + t, with residual r = f - t
  const whole = Math.floor(p);
  const f = p - whole + q;
  const t = Math.round(f);
  const r = f - t;
  const w = halfSpacing(a) * scale;
  const off = Math.abs(r);
  if (Math.abs(off - w) < MARGIN * w) return 0;
  if (off > w) return -1;
  const tie = off === 0.5 && a >= 256;
  if (!tie && Math.abs(off - 0.5) < MARGIN) return 0;
  // N in two parts of up to 9 and 8 digits (whole < 2^57: its division by 10^8 and the remainder exact)
  let hi = Math.floor(whole / 1e8);
  let lo = whole - hi * 1e8 + t;
  // Math.round took the upper of the two: the even one is the other when lo is odd
  if (tie && lo % 2 !== 0) lo--;
  while (lo < 0) {
    lo += 1e8;
    hi--;
  }
  while (lo >= 1e8) {
    lo -= 1e8;
    hi++;
  }
  // hi's digits (none for 0) then lo's eight, in 32-bit integers (hi < 2^31, lo < 10^8)
  const n = hi > 0 ? integerDigits(hi) : 0;
  for (let d = 0; d < n; d++) LONG_DIGITS[d] = DIGITS[n - 1 - d]! - 0x30;
  let v = lo | 0;
  for (let d = n + 7; d >= n; d--) {
    const q = (v / 10) | 0;
    LONG_DIGITS[d] = v - q * 10;
    v = q;
  }
  return n + 8;
}

/**
 * Writes a finite double as String(x) writes it when writeShortDouble or longX (below) can
 * (plain decimals from 1e-6 to 2^51 in magnitude, but for a power of two or a text near a tie or
 * boundary); false, nothing written, otherwise (the caller writes String(x)).
 */
export function writeDouble(s: ByteSink, x: number): boolean {
  X[0] = x;
  return doubleX(s);
}

/** writeDouble of values[i] (the double is not boxed on the way: X). */
export function writeDoubleAt(s: ByteSink, values: Float64Array, i: number): boolean {
  X[0] = values[i]!;
  return doubleX(s);
}

/** writeDouble of X[0]. */
function doubleX(s: ByteSink): boolean {
  const x = X[0]!;
  const a = x < 0 ? -x : x;
  if (!(a >= 1e-6 && a < SHORT_LIMIT)) return false;
  // a few fraction digits (prices, rates, rounded scores) in a few steps, before the scale's log10
  if (shortX(s, 4, 0)) return true;
  // 15 significant digits first: when none reads back as x, its text has 16 or 17 (writeShortDouble's
  // search would only run on to its limit)
  const k16 = sixteenDigitScale(a);
  const k = k16 - 1;
  if (k >= 0 && Math.round(a * POW10[k]!) / POW10[k]! !== a) return longX(s, k16);
  // up to 4 fraction digits were tried above: the search goes on from 5
  return shortX(s, 22, 5) || longX(s, k16);
}

/** k with a * 10^k in [10^15, 10^16), for 1e-6 <= a < 2^51 (log10 may miss by one near a power of ten: checked). */
function sixteenDigitScale(a: number): number {
  let k = 15 - Math.floor(Math.log10(a));
  if (a * POW10[k]! >= 1e16) k--;
  else if (a * POW10[k]! < 1e15) k++;
  return k;
}

/**
 * Writes the finite double x = X[0] whose shortest text has 16 or 17 significant digits (what
 * writeShortDouble leaves, so only after it, from writeDouble: 1e-6 <= |x| < 2^51, and k16 with
 * |x| * 10^k16 in [10^15, 10^16)) as String(x) writes it, exactly: the 16-digit
 * integer nearest |x| * 10^k when it lies within x's rounding interval, else the 17-digit one
 * (ECMA-262 Number::toString: the fewest digits that read back as x, then the nearest). The
 * products are exact (Dekker's, protocol/byte-values.ts). False, nothing written, for every other
 * double and within a millionth of a boundary or a tie (the caller writes String(x)). Checked
 * against String(x) by property tests.
 */
function longX(s: ByteSink, k16: number): boolean {
  const x = X[0]!;
  const a = x < 0 ? -x : x;
  if (isPowerOfTwo(a)) return false;
  let k = k16;
  if (k < 0 || k > 21) return false;
  let n = nearestDigits(k);
  if (n === 0) return false;
  if (n < 0) {
    k++;
    n = nearestDigits(k);
    if (n <= 0) return false;
  }
  if (LONG_DIGITS[n - 1] === 0 || n < 16) return false;
  s.reserve(n + k + 3);
  const buf = s.buf;
  let p = s.pos;
  if (x < 0) buf[p++] = 0x2d;
  // digits n, point k places from the right
  if (k >= n) {
    buf[p++] = 0x30;
    buf[p++] = 0x2e;
    for (let z = n; z < k; z++) buf[p++] = 0x30;
    for (let d = 0; d < n; d++) buf[p++] = 0x30 + LONG_DIGITS[d]!;
  } else {
    for (let d = 0; d < n; d++) {
      if (d === n - k) buf[p++] = 0x2e;
      buf[p++] = 0x30 + LONG_DIGITS[d]!;
    }
  }
  s.pos = p;
  return true;
}

/** Writes cell i of a column (null as the format's null: `null` in JSON Lines, nothing in CSV). */
type CellWriter = (i: number, s: ByteSink) => void;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const HEX_BYTES = new TextEncoder().encode("0123456789abcdef");
/** JSON.stringify's short escapes, by byte */
const SHORT_ESCAPE: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72, 0x22: QUOTE, 0x5c: BACKSLASH };

/** Whether one of the four bytes of x is a comma, a quote, LF or CR (what makes a CSV field quoted). */
function csvSpecial(x: number): boolean {
  return (hasByte(x, 0x2c2c2c2c) | hasByte(x, 0x22222222) | hasByte(x, 0x0a0a0a0a) | hasByte(x, 0x0d0d0d0d)) !== 0;
}

/** A DataView of exactly src's bytes (view.getInt32(k) reads src[k, k + 4)). */
export function viewOf(src: Uint8Array): DataView {
  return new DataView(src.buffer, src.byteOffset, src.byteLength);
}

/**
 * Bytes src[start, end) of UTF-8 text as a JSON string, escaped as JSON.stringify escapes. With
 * `view` (viewOf(src)), runs of four bytes that need no escape are checked and copied as words.
 */
export function writeJsonString(s: ByteSink, src: Uint8Array, start: number, end: number, view?: DataView): void {
  s.reserve(end - start + 2);
  let buf = s.buf;
  let out = s.view;
  let p = s.pos;
  buf[p++] = QUOTE;
  // one pass: each byte (or word) checked and copied (a scan, then a copy of the runs, read every byte twice)
  let k = start;
  while (k < end) {
    if (view !== undefined) {
      const copied = copyJsonSafeWords(view, k, end, out, p);
      k += copied;
      p += copied;
      if (k === end) break;
    }
    const c = src[k]!;
    k++;
    if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) {
      buf[p++] = c;
      continue;
    }
    // room for the longest escape, the rest and the closing quote
    s.pos = p;
    s.reserve(7 + end - k);
    buf = s.buf;
    out = s.view;
    p = s.pos;
    buf[p++] = BACKSLASH;
    const short = SHORT_ESCAPE[c];
    if (short !== undefined) buf[p++] = short;
    else {
      buf[p++] = 0x75;
      buf[p++] = 0x30;
      buf[p++] = 0x30;
      buf[p++] = HEX_BYTES[c >> 4]!;
      buf[p++] = HEX_BYTES[c & 15]!;
    }
  }
  buf[p++] = QUOTE;
  s.pos = p;
}

/**
 * Bytes src[start, end) as one CSV field: quoted, quotes doubled, when they hold a comma, quote, CR
 * or LF; no bytes (the empty string) as `""`. With `view` (viewOf(src)), a field that needs no quotes is checked and copied four bytes
 * at a time.
 */
export function writeCsvField(s: ByteSink, src: Uint8Array, start: number, end: number, view?: DataView): void {
  if (start === end) {
    // the empty string is "", apart from null's empty field (as prep reads CSV, and DuckDB writes it)
    s.byte(QUOTE);
    s.byte(QUOTE);
    return;
  }
  let k = start;
  if (view !== undefined) {
    // copied as it is checked; committed (pos moved) only when no byte needs the quotes
    s.reserve(end - start);
    const out = s.view;
    const buf = s.buf;
    let p = s.pos;
    for (; k + 4 <= end; k += 4, p += 4) {
      const x = view.getInt32(k, true);
      if (csvSpecial(x)) break;
      out.setInt32(p, x, true);
    }
    for (; k < end; k++) {
      const c = src[k]!;
      if (c === COMMA || c === QUOTE || c === 0x0a || c === 0x0d) break;
      buf[p++] = c;
    }
    if (k === end) {
      s.pos = p;
      return;
    }
  } else {
    while (k < end) {
      const c = src[k]!;
      if (c === COMMA || c === QUOTE || c === 0x0a || c === 0x0d) break;
      k++;
    }
    if (k === end) return s.copy(src, start, end);
  }
  if (view !== undefined) return quoteCsvWords(s, src, start, end, view);
  s.byte(QUOTE);
  let run = start;
  for (k = start; k < end; k++) {
    if (src[k] !== QUOTE) continue;
    s.copy(src, run, k + 1);
    s.byte(QUOTE);
    run = k + 1;
  }
  s.copy(src, run, end);
  s.byte(QUOTE);
}

/** src[start, end) quoted, each quote doubled: words without a quote copied as they are, the rest byte by byte. */
function quoteCsvWords(s: ByteSink, src: Uint8Array, start: number, end: number, view: DataView): void {
  // at most every byte a quote, and the two around them
  s.reserve(2 * (end - start) + 2);
  const out = s.view;
  const buf = s.buf;
  let p = s.pos;
  buf[p++] = QUOTE;
  let k = start;
  while (k < end) {
    if (k + 4 <= end) {
      const x = view.getInt32(k, true);
      if (hasByte(x, 0x22222222) === 0) {
        out.setInt32(p, x, true);
        k += 4;
        p += 4;
        continue;
      }
    }
    const c = src[k++]!;
    buf[p++] = c;
    if (c === QUOTE) buf[p++] = QUOTE;
  }
  buf[p++] = QUOTE;
  s.pos = p;
}

/** Copies src[start, end) with each CR and LF written as a space. */
function copyOneLine(s: ByteSink, src: Uint8Array, start: number, end: number): void {
  const from = s.pos;
  s.copy(src, start, end);
  const buf = s.buf;
  for (let k = from; k < s.pos; k++) if (buf[k] === 0x0a || buf[k] === 0x0d) buf[k] = 0x20;
}

/** A 64-bit integer held in halves (lo unsigned, hi signed) as a Number when it is one exactly (|v| < 2^53), else undefined. */
function safeInt64(lo: number, hi: number): number | undefined {
  return hi >= -0x200000 && hi < 0x200000 ? hi * 0x100000000 + lo : undefined;
}

const TRUE = fixed("true");
const FALSE = fixed("false");

/** Writes a whole number of magnitude below 2^53 as String(n) does (no -0: a zero is 0). */
export function writeInteger(s: ByteSink, n: number): void {
  s.reserve(17);
  const buf = s.buf;
  let p = s.pos;
  let m = n;
  if (m < 0) {
    buf[p++] = 0x2d;
    m = -m;
  }
  let nd = integerDigits(m);
  while (nd > 0) buf[p++] = DIGITS[--nd]!;
  s.pos = p;
}

/** Writes n (0 <= n < 10^width, width <= 9) as `width` digits. */
function digits(s: ByteSink, n: number, width: number): void {
  const buf = s.buf;
  // in 32-bit integers: a division by a constant 10 is a multiplication, not a call
  let v = n | 0;
  for (let k = s.pos + width - 1; k >= s.pos; k--) {
    const q = (v / 10) | 0;
    buf[k] = 0x30 + v - q * 10;
    v = q;
  }
  s.pos += width;
}

/** the last day writeDay wrote, and its 10 bytes (rows in time order share their day) */
let lastDay = NaN;
const DAY_BYTES = new Uint8Array(10);

/** YYYY-MM-DD of a day count since 1970-01-01, when its year is 0000-9999 (false otherwise, nothing written). */
function writeDay(s: ByteSink, day: number): boolean {
  s.reserve(10);
  const buf = s.buf;
  const at = s.pos;
  if (day === lastDay) {
    for (let k = 0; k < 10; k++) buf[at + k] = DAY_BYTES[k]!;
    s.pos = at + 10;
    return true;
  }
  const [y, m, d] = civilFromDays(day);
  if (y < 0 || y > 9999) return false;
  digits(s, y, 4);
  buf[s.pos++] = 0x2d;
  digits(s, m, 2);
  buf[s.pos++] = 0x2d;
  digits(s, d, 2);
  for (let k = 0; k < 10; k++) DAY_BYTES[k] = buf[at + k]!;
  lastDay = day;
  return true;
}

/** [floor(n / d), n mod d] for a whole n, |n| < 2^53, and d > 0 (the quotient corrected where n / d rounded across a whole number) */
const QR = new Float64Array(2);
function divmod(n: number, d: number): Float64Array {
  let q = Math.floor(n / d);
  let r = n - q * d;
  if (r < 0) {
    q--;
    r += d;
  } else if (r >= d) {
    q++;
    r -= d;
  }
  QR[0] = q;
  QR[1] = r;
  return QR;
}

/**
 * Microseconds since the epoch, row i of an int64 column given as 32-bit halves (lo, hi), as
 * YYYY-MM-DDTHH:MM:SS.ffffff, plus `Z` for an instant; false (nothing written) when the value is
 * 2^53 or more in magnitude or the year leaves 0000-9999.
 */
function writeMicrosAt(s: ByteSink, halves: Int32Array, i: number, zone: boolean): boolean {
  // from the halves here: a double passed to a function V8 does not inline is boxed (X)
  const us = safeInt64(halves[2 * i]! >>> 0, halves[2 * i + 1]!);
  if (us === undefined) return false;
  let qr = divmod(us, 1_000_000);
  const frac = qr[1]!;
  qr = divmod(qr[0]!, 86400);
  const r = qr[1]!;
  if (!writeDay(s, qr[0]!)) return false;
  s.reserve(17);
  const buf = s.buf;
  buf[s.pos++] = 0x54;
  const hours = (r / 3600) | 0;
  const minutes = ((r - hours * 3600) / 60) | 0;
  digits(s, hours, 2);
  buf[s.pos++] = 0x3a;
  digits(s, minutes, 2);
  buf[s.pos++] = 0x3a;
  digits(s, r - hours * 3600 - minutes * 60, 2);
  buf[s.pos++] = 0x2e;
  digits(s, frac, 6);
  if (zone) buf[s.pos++] = 0x5a;
  return true;
}

/** Microseconds since the epoch as ISO 8601 with six fraction digits, as Date writes it (years beyond 0000-9999 as +YYYYYY or -YYYYYY). */
export function isoMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const rest = micros - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, -1)}${String(rest).padStart(3, "0")}Z`;
}

/** isoMicros without the Z for a wall clock; undefined beyond Date's range (±275,760 years). */
function instantText(us: bigint, zone: boolean): string | undefined {
  if (us > 8640000000000000000n || us < -8640000000000000000n) return undefined;
  const iso = isoMicros(us);
  return zone ? iso : iso.slice(0, -1);
}

/** A day count as Date writes its date (years beyond 0000-9999 as +YYYYYY-MM-DD); undefined beyond Date's range. */
function dayText(day: number): string | undefined {
  const d = new Date(day * 86400000);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().slice(0, d.toISOString().indexOf("T"));
}

/** A column's cells through their text (the rarer types): `text` gives the cell's JSON Lines or CSV text, null for null. */
function viaText(text: (i: number) => string | null, csv: boolean): CellWriter {
  return csv
    ? (i, s) => {
        const t = text(i);
        if (t !== null) s.text(t);
      }
    : (i, s) => s.text(text(i) ?? "null");
}

function cellWriterOf(vector: Vector, type: ColumnType, csv: boolean): CellWriter {
  const data = vector.data[0]!;
  const valid = validity(data);
  const raw = data.values as ArrayBufferView | undefined;
  const nullCell: CellWriter = csv ? () => undefined : (_i, s) => s.text("null");
  const dec = decimalOf(type);
  if (dec) {
    // exact digits: a number in JSON Lines, the same text in CSV
    const words = new Uint32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4));
    return viaText((i) => (valid(i) ? decimalText(readDecimalWords(words, i * 4), dec.scale) : null), csv);
  }
  if (isNestedName(type)) {
    // JSON text, leaves exact: bare in JSON Lines, a quoted field in CSV
    const text = nestedText(type, data);
    return viaText((i) => {
      const v = text(i);
      return v === null ? null : csv ? csvField(v) : v;
    }, csv);
  }
  const t = temporalOf(type);
  switch (type) {
    case "utf8":
    case "json": {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = raw as Uint8Array;
      const view = viewOf(bytes);
      if (csv) return (i, s) => (valid(i) ? writeCsvField(s, bytes, offsets[i]!, offsets[i + 1]!, view) : undefined);
      // a json column holds JSON text: embedded as it is, but on one line (a CSV input's JSON may be
      // spread over lines; a raw CR or LF in valid JSON is whitespace between tokens, never in a string)
      if (type === "json") return (i, s) => (valid(i) ? copyOneLine(s, bytes, offsets[i]!, offsets[i + 1]!) : nullCell(i, s));
      return (i, s) => (valid(i) ? writeJsonString(s, bytes, offsets[i]!, offsets[i + 1]!, view) : nullCell(i, s));
    }
    case "int64": {
      const halves = new Int32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4));
      const slow = leafText(type, data);
      return (i, s) => {
        if (!valid(i)) return nullCell(i, s);
        const n = safeInt64(halves[2 * i]! >>> 0, halves[2 * i + 1]!);
        if (n !== undefined) writeInteger(s, n);
        else s.text(slow(i)!);
      };
    }
    case "float64": {
      // the shortest text, as String(x) writes it (-0 as -0.0, non-finite as null): from the digits
      // when writeShortDouble can, else through leafText
      const values = raw as Float64Array;
      const slow = viaText(leafText(type, data), csv);
      return (i, s) => {
        if (!valid(i)) return nullCell(i, s);
        if (!writeDoubleAt(s, values, i)) slow(i, s);
      };
    }
    case "bool": {
      // true or false, the same in CSV and JSON
      const bits = raw as Uint8Array;
      const base = data.offset;
      return (i, s) => {
        if (!valid(i)) return nullCell(i, s);
        const word = ((bits[(base + i) >> 3]! >> ((base + i) & 7)) & 1) === 1 ? TRUE : FALSE;
        s.fixed(word);
      };
    }
    case "uint64":
      // the same text in CSV and JSON
      return viaText(leafText(type, data), csv);
    case "date": {
      const days = new Int32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4));
      const slow = (i: number): string => temporalText(BigInt(days[i]!), t!);
      return (i, s) => {
        if (!valid(i)) return nullCell(i, s);
        if (!csv) s.byte(QUOTE);
        if (!writeDay(s, days[i]!)) s.text(dayText(days[i]!) ?? slow(i));
        if (!csv) s.byte(QUOTE);
      };
    }
    case "timestamp":
    case "timestamp_ntz": {
      // microseconds; a wall-clock time is written without a zone: none is invented
      const halves = new Int32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4));
      const values = new BigInt64Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 8));
      const zone = type === "timestamp";
      return (i, s) => {
        if (!valid(i)) return nullCell(i, s);
        if (!csv) s.byte(QUOTE);
        if (!writeMicrosAt(s, halves, i, zone)) s.text(instantText(values[i]!, zone) ?? temporalText(values[i]!, t!));
        if (!csv) s.byte(QUOTE);
      };
    }
    case "null":
      return nullCell;
  }
  if (t) {
    // time and the temporal types in other units: ISO 8601 with their unit's fraction digits
    const bits = (data.type as unknown as { bitWidth?: number }).bitWidth;
    const values = bits === 32 ? new Int32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4)) : new BigInt64Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 8));
    return viaText((i) => {
      if (!valid(i)) return null;
      const text = temporalText(BigInt(values[i]!), t);
      return csv ? text : `"${text}"`;
    }, csv);
  }
  throw new Error(`no text form for column type ${type}`);
}

/** Record batches -> JSON Lines or CSV bytes, one buffer per batch (CSV: the header first unless `header` is false). */
export async function* writeText(batches: AsyncIterable<RecordBatch>, kind: "jsonl" | "csv", options: { header?: boolean } = {}): AsyncGenerator<Uint8Array> {
  const csv = kind === "csv";
  const s = new ByteSink();
  let headerDone = options.header === false;
  for await (const b of batches) {
    const fields = b.schema.fields;
    if (csv && !headerDone) {
      s.text(`${fields.map((f) => csvField(f.name)).join(",")}\n`);
      headerDone = true;
    }
    const cells = fields.map((f, j) => cellWriterOf(b.getChildAt(j)!, columnTypeOfField(f), csv));
    const keys = fields.map((f, j) => fixed(`${j > 0 ? "," : "{"}${JSON.stringify(f.name)}:`));
    const n = cells.length;
    for (let i = 0; i < b.numRows; i++) {
      if (csv) {
        for (let j = 0; j < n; j++) {
          if (j > 0) s.byte(COMMA);
          cells[j]!(i, s);
        }
      } else {
        if (n === 0) s.byte(0x7b);
        for (let j = 0; j < n; j++) {
          s.fixed(keys[j]!);
          cells[j]!(i, s);
        }
        s.byte(0x7d);
      }
      s.byte(0x0a);
    }
    if (s.pos > 0) yield s.take();
  }
}
