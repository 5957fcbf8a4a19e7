/**
 * Values read from their bytes without a string: the hot paths of prep (sidecar columns, type
 * checks of CSV fields) and join (CSV features read back from the shards) share them. Each answers
 * NaN where it does not decide, and the caller then takes the string path (protocol/time.ts,
 * Number()), with which it agrees wherever it answers.
 */
import { daysFromCivil, daysInMonth } from "./time.js";

const MINUS = 45;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function two(buf: Buffer, k: number): number {
  const a = buf[k]! - 48;
  const b = buf[k + 1]! - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Microseconds since the epoch of the common ISO 8601 forms, from bytes: YYYY-MM-DD, optionally
 * with [T ]HH:MM, :SS, .fraction (1-9 digits, non-zero digits only down to the microsecond) and Z. NaN when the text is not one of these forms
 * or out of range (then timestampMicros/isTimestampText on the text decide), including zone
 * offsets and results beyond the safe integers. Agrees with timestampMicros where it answers.
 */
export function timestampBytes(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n < 10 || buf[s + 4] !== MINUS || buf[s + 7] !== MINUS) return NaN;
  const y1 = two(buf, s);
  const y2 = two(buf, s + 2);
  const mo = two(buf, s + 5);
  const d = two(buf, s + 8);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1) return NaN;
  const y = y1 * 100 + y2;
  if (d > daysInMonth(y, mo)) return NaN;
  let k = s + 10;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let frac = 0;
  if (k < e && buf[k] !== 90) {
    if ((buf[k] !== 84 && buf[k] !== 32) || k + 6 > e || buf[k + 3] !== 58) return NaN;
    h = two(buf, k + 1);
    mi = two(buf, k + 4);
    if (h < 0 || h > 23 || mi < 0 || mi > 59) return NaN;
    k += 6;
    if (k < e && buf[k] === 58) {
      if (k + 3 > e) return NaN;
      sec = two(buf, k + 1);
      if (sec < 0 || sec > 59) return NaN;
      k += 3;
      if (k < e && buf[k] === 46) {
        k++;
        const f0 = k;
        let scale = 100000;
        while (k < e && isDigit(buf[k]!)) {
          if (scale >= 1) frac += (buf[k]! - 48) * scale;
          // below a microsecond: a non-zero digit would be lost (distinct instants made equal)
          else if (buf[k] !== 48) return NaN;
          scale /= 10;
          k++;
        }
        if (k === f0 || k - f0 > 9) return NaN;
      }
    }
  }
  if (k < e) {
    if (buf[k] !== 90 || k + 1 !== e) return NaN;
  }
  const us = (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000 + frac;
  return Number.isSafeInteger(us) ? us : NaN;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
/**
 * Clinger's fast path (W. D. Clinger, "How to read floating point numbers accurately", PLDI 1990):
 * a plain decimal (-?digits[.digits], no exponent, at most 15 digits) as its digits over a power
 * of ten, both exact doubles, so the quotient is correctly rounded: the value Number() gives. NaN otherwise.
 */
export function decimalBytes(buf: Buffer, s: number, e: number): number {
  let k = s;
  const neg = buf[k] === MINUS;
  if (neg) k++;
  let m = 0;
  let digits = 0;
  let scale = -1;
  for (; k < e; k++) {
    const c = buf[k]!;
    if (c === 46) {
      if (scale >= 0) return NaN;
      scale = 0;
      continue;
    }
    if (c < 48 || c > 57) return NaN;
    m = m * 10 + (c - 48);
    digits++;
    if (scale >= 0) scale++;
  }
  if (digits === 0 || digits > 15) return NaN;
  const v = scale > 0 ? m / POW10[scale]! : m;
  return neg ? -v : v;
}

