/**
 * Values read from their bytes without a string: the hot paths of prep (sidecar columns, type
 * checks of CSV fields) and join (CSV features read back from the shards) share them. Each answers
 * NaN (or false) where it does not decide, and the caller then takes the string path
 * (protocol/time.ts, Number()), with which it agrees wherever it answers.
 *
 * The hot paths use the `…To` forms, which store the value in `dst[i]` (a Float64Array) and
 * return whether they answered: a double returned from a function V8 does not inline is boxed (a
 * 16-byte HeapNumber per value: about 36 MB per 100 MB of CSV features on the join's main thread,
 * a third of its allocation), a double stored in a typed array is not. The forms that return the
 * number are for everything else.
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
  return timestampBytesTo(buf, s, e, ONE, 0) ? ONE[0]! : NaN;
}

/** A scratch for the forms that return the number. */
const ONE = new Float64Array(1);

/** Whether timestampBytes answers (a type check that needs no value). */
export function isTimestampBytes(buf: Buffer, s: number, e: number): boolean {
  return timestampBytesTo(buf, s, e, ONE, 0);
}

/** timestampBytes into dst[i]: true when it answers (dst untouched when not). */
export function timestampBytesTo(buf: Buffer, s: number, e: number, dst: Float64Array, i: number): boolean {
  const n = e - s;
  if (n < 10 || buf[s + 4] !== MINUS || buf[s + 7] !== MINUS) return false;
  const y1 = two(buf, s);
  const y2 = two(buf, s + 2);
  const mo = two(buf, s + 5);
  const d = two(buf, s + 8);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1) return false;
  const y = y1 * 100 + y2;
  if (d > daysInMonth(y, mo)) return false;
  let k = s + 10;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let frac = 0;
  if (k < e && buf[k] !== 90) {
    if ((buf[k] !== 84 && buf[k] !== 32) || k + 6 > e || buf[k + 3] !== 58) return false;
    h = two(buf, k + 1);
    mi = two(buf, k + 4);
    if (h < 0 || h > 23 || mi < 0 || mi > 59) return false;
    k += 6;
    if (k < e && buf[k] === 58) {
      if (k + 3 > e) return false;
      sec = two(buf, k + 1);
      if (sec < 0 || sec > 59) return false;
      k += 3;
      if (k < e && buf[k] === 46) {
        k++;
        const f0 = k;
        let scale = 100000;
        while (k < e && isDigit(buf[k]!)) {
          if (scale >= 1) frac += (buf[k]! - 48) * scale;
          // below a microsecond: a non-zero digit would be lost (distinct instants made equal)
          else if (buf[k] !== 48) return false;
          scale /= 10;
          k++;
        }
        if (k === f0 || k - f0 > 9) return false;
      }
    }
  }
  if (k < e) {
    if (buf[k] !== 90 || k + 1 !== e) return false;
  }
  const us = (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000 + frac;
  if (!Number.isSafeInteger(us)) return false;
  dst[i] = us;
  return true;
}

/** 10^k for k <= 22: exact doubles */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
/**
 * Clinger's fast path (W. D. Clinger, "How to read floating point numbers accurately", PLDI 1990):
 * a plain decimal (-?digits[.digits], no exponent, at most 15 significant digits and 22 fraction
 * digits) as its digits over a power of ten, both exact doubles, so the quotient is correctly
 * rounded: the value Number() gives. NaN otherwise.
 */
export function decimalBytes(buf: Buffer, s: number, e: number): number {
  return scanDecimal(buf, s, e, -1) && shortOfScan(ONE, 0) ? ONE[0]! : NaN;
}

/**
 * A plain decimal read from its bytes with one scan: decimalBytes's value for at most 15
 * significant digits (`out.rounds` false: such a text always survives), longDecimalBytes's for 16
 * or 17 (with its rounding answer); NaN, `out` untouched, where neither answers.
 */
export function readDecimal(buf: Buffer, s: number, e: number, out: { rounds: boolean }): number {
  return readDecimalTo(buf, s, e, out, ONE, 0) ? ONE[0]! : NaN;
}

/** readDecimal into dst[i]: true when it answers (dst and `out` untouched when not). */
export function readDecimalTo(buf: Buffer, s: number, e: number, out: { rounds: boolean }, dst: Float64Array, i: number): boolean {
  return scanDecimal(buf, s, e, -1) && valueOfScan(out, dst, i);
}

/**
 * readDecimal over a delimited field: the field starting at s ends at the first `stop` byte or at
 * e (the scan that reads the digits also finds the end, so a CSV reader need not scan the field
 * twice). When the bytes before that end are a plain decimal of at most 17 significant digits:
 * the end, with readDecimal's value for them in dst[i] (NaN where it does not answer). -1, dst
 * untouched, when they are not one, or the field is empty: the caller finds the end itself.
 */
export function readDecimalField(buf: Buffer, s: number, e: number, stop: number, out: { rounds: boolean }, dst: Float64Array, i: number): number {
  if (!scanDecimal(buf, s, e, stop)) return -1;
  if (!valueOfScan(out, dst, i)) dst[i] = NaN;
  return SCAN.end;
}

/** readDecimal's answer over SCAN, into dst[i]: whether it answers. */
function valueOfScan(out: { rounds: boolean }, dst: Float64Array, i: number): boolean {
  if (SCAN.digits > 15) return longOfScan(out, dst, i);
  if (!shortOfScan(dst, i)) return false;
  out.rounds = false;
  return true;
}

/** Clinger's fast path over SCAN (decimalBytes), into dst[i]: whether it answers. */
function shortOfScan(dst: Float64Array, i: number): boolean {
  if (SCAN.digits > 15 || SCAN.scale > 22) return false;
  // at most 15 digits: below 10^15, every part exact
  const m = SCAN.a * POW10[SCAN.nb]! + SCAN.b;
  const v = SCAN.scale > 0 ? m / POW10[SCAN.scale]! : m;
  dst[i] = SCAN.neg ? -v : v;
  return true;
}

/** A plain decimal's parts, as scanDecimal leaves them: its significant digits D = a * 10^nb + b. */
const SCAN = {
  neg: false,
  /** the first 9 significant digits */
  a: 0,
  /** the significant digits after the first 9, and how many they are */
  b: 0,
  nb: 0,
  /** significant digits: from the first that is not 0 ("0.0283" has 3) */
  digits: 0,
  /** digits after the point; -1 without one */
  scale: -1,
  /** the last digit */
  last: 0,
  /** where the scan stopped: e, or the stop byte's position */
  end: 0,
};

/**
 * Scans -?digits[.digits] (one digit at least) of at most 17 significant digits into SCAN, up to e
 * or the first `stop` byte (-1: none); false for any other text.
 */
function scanDecimal(buf: Buffer, s: number, e: number, stop: number): boolean {
  let k = s;
  const neg = buf[k] === MINUS;
  if (neg) k++;
  let a = 0;
  let b = 0;
  let nb = 0;
  let digits = 0;
  let scale = -1;
  let last = 0;
  let any = false;
  for (; k < e; k++) {
    const c = buf[k]!;
    if (c === stop) break;
    if (c === 46) {
      if (scale >= 0) return false;
      scale = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return false;
    any = true;
    if (scale >= 0) scale++;
    if (digits === 0 && d === 0) continue;
    if (++digits <= 9) a = a * 10 + d;
    else if (digits > 17) return false;
    else {
      b = b * 10 + d;
      nb++;
    }
    last = d;
  }
  if (!any) return false;
  SCAN.neg = neg;
  SCAN.a = a;
  SCAN.b = b;
  SCAN.nb = nb;
  SCAN.digits = digits;
  SCAN.scale = scale;
  SCAN.last = last;
  SCAN.end = k;
  return true;
}


/** 2^27 + 1: Dekker's splitter for doubles */
const SPLIT = 134217729;
/** how close to a rounding boundary (relative) a long decimal is left to the string path */
const MARGIN = 1e-6;
const BITS = new Float64Array(1);
const WORDS = new Uint32Array(BITS.buffer);
// the word order of a double in memory (the low word first on little-endian machines)
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const HIGH = 1 - LOW;

/**
 * The rounding error of p = x * y: x * y is exactly p + productError(x, y, p) (T. J. Dekker, "A
 * floating-point technique for extending the available precision", 1971), for products far from
 * overflow and underflow (|x * y| < 2^900, and not subnormal).
 */
export function productError(x: number, y: number, p: number): number {
  let c = SPLIT * x;
  const xh = c - (c - x);
  const xl = x - xh;
  c = SPLIT * y;
  const yh = c - (c - y);
  const yl = y - yh;
  return xh * yh - p + xh * yl + xl * yh + xl * yl;
}

/** Whether normal x is a power of two (its mantissa bits all 0): the spacing below it is half the spacing above. */
export function isPowerOfTwo(x: number): boolean {
  BITS[0] = x;
  return (WORDS[HIGH]! & 0xfffff) === 0 && WORDS[LOW] === 0;
}

/** Half the distance from positive normal x (at least 2^-960) to the next double up: 2^(e - 53) for x in [2^e, 2^(e+1)). */
export function halfSpacing(x: number): number {
  BITS[0] = x;
  WORDS[HIGH] = ((WORDS[HIGH]! >>> 20) - 53) << 20;
  WORDS[LOW] = 0;
  return BITS[0];
}

/**
 * The positive double in BITS moved to its neighbour, up (+1) or down (-1). In place: a double
 * passed to and returned from a function V8 does not inline (this one is called too rarely to be)
 * is boxed each way.
 */
function stepBits(dir: 1 | -1): void {
  const lo = WORDS[LOW]!;
  if (dir > 0) {
    if (lo === 0xffffffff) {
      WORDS[LOW] = 0;
      WORDS[HIGH] = WORDS[HIGH]! + 1;
    } else WORDS[LOW] = lo + 1;
  } else if (lo === 0) {
    WORDS[LOW] = 0xffffffff;
    WORDS[HIGH] = WORDS[HIGH]! - 1;
  } else WORDS[LOW] = lo - 1;
}

/**
 * A plain decimal of 16 or 17 significant digits (-?digits[.digits], at most 22 fraction digits,
 * the last digit not 0: what JavaScript's and Python's shortest float printing writes for most
 * doubles) read exactly, where Clinger's fast path (decimalBytes) stops: the correctly rounded
 * double, the value Number() gives. `out.rounds` is set to whether the text has more significant
 * digits than that double keeps (decimal.ts roundsInDouble's answer: the text is not the
 * double's shortest form). NaN, `out` untouched, for any other text and where the answer lies
 * within a millionth of a rounding boundary (then Number() and roundsInDouble decide).
 *
 * How: with D the digits as an integer and k the fraction digits, x = D / 10^k. A candidate
 * double c (two roundings off at most) is checked by its residual r = c * 10^k - D, computed
 * exactly (Dekker's product, Sterbenz's lemma for the differences): c is the nearest double when
 * |r| is below half of c's spacing times 10^k, else its neighbour is tried. The text is c's
 * shortest form when D is the integer nearest c * 10^k (|r| < 1/2, or the even one at a tie) and
 * no multiple of 10 (a decimal with fewer digits) lies within c's rounding interval; ECMA-262
 * Number::toString defines that form (fewest digits that read back as c, then the nearest, then
 * the even).
 */
export function longDecimalBytes(buf: Buffer, s: number, e: number, out: { rounds: boolean }): number {
  return scanDecimal(buf, s, e, -1) && longOfScan(out, ONE, 0) ? ONE[0]! : NaN;
}

/** The exact 16/17-digit read over SCAN (longDecimalBytes), into dst[i]: whether it answers. */
function longOfScan(out: { rounds: boolean }, dst: Float64Array, i: number): boolean {
  if (SCAN.digits < 16 || SCAN.last === 0 || SCAN.scale > 22) return false;
  const { neg, b, scale, last } = SCAN;
  const p10 = POW10[scale > 0 ? scale : 0]!;
  // D = high + b: the first 9 digits times 10^nb (exact: below 2^49 times a power of two), and
  // the last 7 or 8 digits
  const high = SCAN.a * POW10[SCAN.nb]!;
  let x = (high + b) / p10;
  let r: number;
  let w: number;
  for (let tries = 0; ; tries++) {
    // a power of two: its rounding interval is lopsided (left to the string path)
    if (isPowerOfTwo(x)) return false;
    // half of x's spacing, times 10^k (exact: a power of two times an exact power of ten)
    w = halfSpacing(x) * p10;
    const p = x * p10;
    // p - high is exact (Sterbenz: high >= 10^15 > p / 2), and so is its difference with b (both
    // multiples of p's spacing, which is at least 1/8, and below 2^27)
    r = p - high - b + productError(x, p10, p);
    const off = Math.abs(r);
    if (off < w * (1 - MARGIN)) break;
    if (off <= w * (1 + MARGIN) || tries === 1) return false;
    BITS[0] = x;
    stepBits(r > 0 ? -1 : 1);
    x = BITS[0]!;
  }
  const near = Math.abs(r);
  // whether D is the integer nearest x * 10^k. At a tie (x * 10^k ends in .5) the shortest form
  // takes the even one (ECMA-262 Number::toString). A computed .5 is a true tie from x >= 256
  // on: there the exact residual is a multiple of 2^-44 or coarser, and the error far smaller.
  let nearest: boolean;
  if (near === 0.5 && x >= 256) nearest = last % 2 === 0;
  else if (Math.abs(near - 0.5) < MARGIN) return false;
  else nearest = near < 0.5;
  if (!nearest) out.rounds = true;
  else {
    // the decimals with a digit fewer nearest x * 10^k = D + r: D - last and D - last + 10
    const shorter = Math.min(last + r, 10 - last - r);
    if (Math.abs(shorter - w) < MARGIN * w) return false;
    // one within reach reads back as x too, so the shortest form has fewer digits than the text
    out.rounds = shorter < w;
  }
  dst[i] = neg ? -x : x;
  return true;
}
