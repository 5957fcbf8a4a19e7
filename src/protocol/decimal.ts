/**
 * Exact decimals (`decimal(P,S)`, Arrow Decimal128): text <-> unscaled integers <-> the 128-bit
 * little-endian two's complement words Arrow stores. Shared by prep (sidecars, checks) and join
 * (text outputs, features read back), so both read and write the same digits.
 */

const DECIMAL_TEXT_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;

/**
 * The unscaled integer of a decimal text at `scale` (value x 10^scale), or undefined when the text
 * is no number, has non-zero digits below the scale (they would be lost), or needs more than
 * `precision` digits. Accepts JSON and CSV number syntax, exponents included ("1.5e2" at scale 2
 * is 15000n).
 */
export function unscaledOf(text: string, precision: number, scale: number): bigint | undefined {
  const m = DECIMAL_TEXT_RE.exec(text);
  if (!m) return undefined;
  const int = m[2] ?? "";
  const frac = m[3] ?? "";
  if (int === "" && frac === "") return undefined;
  let digits = int + frac;
  // value = digits x 10^-(frac.length - exponent); bring it to 10^-scale
  const shift = scale - (frac.length - Number(m[4] ?? 0));
  if (shift < 0) {
    const cut = digits.slice(Math.max(0, digits.length + shift));
    if (/[1-9]/.test(cut)) return undefined;
    digits = digits.slice(0, Math.max(0, digits.length + shift));
  } else {
    if (shift > precision + 1) return /[1-9]/.test(digits) ? undefined : 0n;
    digits += "0".repeat(shift);
  }
  const u = digits === "" ? 0n : BigInt(digits);
  if (u >= 10n ** BigInt(precision)) return undefined;
  return m[1] === "-" ? -u : u;
}

/** An unscaled integer and its scale -> exact decimal text ("-12.30" for -1230n at scale 2). */
export function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  } else if (scale < 0 && digits !== "0") digits += "0".repeat(-scale);
  return neg ? `-${digits}` : digits;
}

const MASK32 = 0xffffffffn;

/** Writes an unscaled integer as `words` 32-bit little-endian two's complement words at words[at...]. */
export function writeDecimalWords(u: bigint, out: Uint32Array, at: number, words = 4): void {
  let v = BigInt.asUintN(words * 32, u);
  for (let k = 0; k < words; k++) {
    out[at + k] = Number(v & MASK32);
    v >>= 32n;
  }
}

/** Reads `words` 32-bit little-endian two's complement words at words[at...] as a signed integer. */
export function readDecimalWords(w: Uint32Array, at: number, words = 4): bigint {
  let v = 0n;
  for (let k = words - 1; k >= 0; k--) v = (v << 32n) | BigInt(w[at + k]!);
  return BigInt.asIntN(words * 32, v);
}

/** The significant digits of a decimal or exponent text ("-12.50e3" -> "125"). */
function significantDigits(text: string): string {
  let m = text;
  const e = m.search(/[eE]/);
  if (e >= 0) m = m.slice(0, e);
  return m.replace(/[-+.]/g, "").replace(/^0+/, "").replace(/0+$/, "");
}

/**
 * Whether a number text has more significant digits than its nearest double keeps (a float64
 * column holds doubles, so such a value is rounded in the sidecar and the joined table, while the
 * model input keeps the text). A text of at most 15 significant digits always survives, so callers
 * ask only about longer ones.
 */
export function roundsInDouble(text: string, value: number): boolean {
  // the common case: the text is the double's shortest form already (what JavaScript, Python and
  // most writers print)
  if (String(value) === text) return false;
  return significantDigits(text) !== significantDigits(value.toExponential());
}
