/**
 * longDecimalBytes reads the 16- and 17-digit decimals that shortest double printing writes,
 * exactly: wherever it answers, its double is Number()'s and its rounding answer is
 * roundsInDouble's (both the string path's), including texts a hair from a rounding boundary,
 * where it must hand over rather than guess.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decimalBytes, longDecimalBytes, readDecimal, readDecimalField, readDecimalTo } from "../../src/protocol/byte-values.js";
import { roundsInDouble } from "../../src/protocol/decimal.js";

/** longDecimalBytes's answer for a text: undefined when it hands over to the string path */
function read(text: string): { x: number; rounds: boolean } | undefined {
  const out = { rounds: false };
  const b = Buffer.from(`#${text}#`);
  const x = longDecimalBytes(b, 1, b.length - 1, out);
  return Number.isNaN(x) ? undefined : { x, rounds: out.rounds };
}

/** The string path's answer. */
function want(text: string): { x: number; rounds: boolean } {
  const x = Number(text);
  return { x, rounds: roundsInDouble(text, x) };
}

/** readDecimal (one scan) answers as decimalBytes or longDecimalBytes does, whichever answers. */
function oneScan(text: string): void {
  const b = Buffer.from(text);
  const out = { rounds: true };
  const x = readDecimal(b, 0, b.length, out);
  const short = decimalBytes(b, 0, b.length);
  const long = read(text);
  const want = Number.isNaN(short) ? (long === undefined ? { x: NaN, rounds: true } : long) : { x: short, rounds: false };
  if (!Object.is(x, want.x) || out.rounds !== want.rounds) expect({ text, x, rounds: out.rounds }).toEqual({ text, ...want });
  // the forms the hot paths use, which store the double rather than return it: readDecimalTo into
  // dst[i] (untouched when it does not answer), readDecimalField up to a comma (the field's end,
  // and NaN in dst[i] where it does not answer; -1, dst untouched, for a field that is no plain decimal)
  const dst = new Float64Array([7, 7, 7]);
  const to = { rounds: !want.rounds };
  const answered = readDecimalTo(b, 0, b.length, to, dst, 1);
  if (answered !== !Number.isNaN(want.x) || !Object.is(dst[1], answered ? want.x : 7) || (answered && to.rounds !== want.rounds) || dst[0] !== 7 || dst[2] !== 7) {
    expect({ text, answered, value: dst[1], rounds: to.rounds }).toEqual({ text, answered: !Number.isNaN(want.x), value: want.x, rounds: want.rounds });
  }
  const field = Buffer.from(`${text},9,x`);
  dst.fill(7);
  const end = readDecimalField(field, 0, field.length, 0x2c, { rounds: false }, dst, 2);
  const plain = /^-?[0-9]*\.?[0-9]*$/.test(text) && /[0-9]/.test(text) && (text.match(/\./g) ?? []).length <= 1;
  if (plain && text.replace(/^-?0*\.?0*/, "").replace(".", "").length <= 17) {
    expect(end).toBe(b.length);
    expect(Object.is(dst[2], Number.isNaN(want.x) ? NaN : want.x)).toBe(true);
  } else if (end < 0) expect(dst[2]).toBe(7);
  else expect(Object.is(dst[2], want.x) || Number.isNaN(dst[2]!)).toBe(true);
}

/** Checks every answer; returns how many texts were answered. */
function agree(texts: string[]): number {
  let answered = 0;
  for (const t of texts) {
    oneScan(t);
    const got = read(t);
    if (got === undefined) continue;
    answered++;
    const w = want(t);
    if (!Object.is(got.x, w.x) || got.rounds !== w.rounds) expect({ text: t, ...got }).toEqual({ text: t, ...w });
  }
  return answered;
}

/** The exact decimal text of the midpoint between positive double x and the next double up (BigInt arithmetic). */
function midpointText(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number(bits >> 52n);
  const m = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  // x = m * 2^(exp - 1075); the midpoint (2m + 1) * 2^(exp - 1076)
  const e2 = exp - 1076;
  const num = 2n * m + 1n;
  if (e2 >= 0) return String(num << BigInt(e2));
  const digits = String(num * 5n ** BigInt(-e2)).padStart(-e2 + 1, "0");
  return `${digits.slice(0, digits.length + e2)}.${digits.slice(digits.length + e2)}`;
}

/** The first n significant digits of a plain decimal text, the rest cut (not rounded); `bump` added to the last kept digit's place. */
function cut(text: string, n: number, bump: number): string | undefined {
  const first = text.search(/[1-9]/);
  let seen = 0;
  let end = first;
  while (end < text.length && seen < n) {
    if (text[end] !== ".") seen++;
    end++;
  }
  const kept = text.slice(0, end);
  const point = kept.indexOf(".");
  const whole = BigInt(kept.replace(".", "")) + BigInt(bump);
  if (whole <= 0n) return undefined;
  const fraction = point < 0 ? 0 : kept.length - point - 1;
  const s = String(whole).padStart(fraction + 1, "0");
  return fraction === 0 ? s : `${s.slice(0, s.length - fraction)}.${s.slice(s.length - fraction)}`;
}

const positiveDouble = fc.double({ min: 1e-7, max: 1e17, noNaN: true, noDefaultInfinity: true }).filter((x) => x > 0);

describe("longDecimalBytes", () => {
  it("reads every double's shortest text of 16 or 17 digits as Number() does, none of them rounded (fast-check, fixed seed)", () => {
    const texts: string[] = [];
    fc.assert(
      fc.property(positiveDouble, fc.boolean(), (x, neg) => {
        const t = String(neg ? -x : x);
        if (!t.includes("e") && t.replace(/[-.]/g, "").replace(/^0+/, "").length >= 16) texts.push(t);
      }),
      { seed: 20261130, numRuns: 20000 },
    );
    expect(texts.length).toBeGreaterThan(10000);
    agree(texts);
    expect(texts.filter((t) => read(t)?.rounds === true)).toEqual([]);
    // the fast path answers all but a power of two and a text within a millionth of a boundary;
    // whole numbers ending in 0, and beyond 2^53 those with a shorter one on the boundary, are handed over
    const plain = texts.filter((t) => Math.abs(Number(t)) < 2 ** 53 && !t.endsWith("0"));
    expect(plain.filter((t) => read(t) !== undefined).length).toBeGreaterThan(plain.length * 0.999);
  });

  it("reads any 16 or 17 digits, wherever the point, as Number() and roundsInDouble do (fast-check, fixed seed)", () => {
    const texts: string[] = [];
    fc.assert(
      fc.property(fc.stringMatching(/^[1-9][0-9]{14,15}[1-9]$/), fc.integer({ min: 0, max: 22 }), fc.constantFrom("", "-"), (d, at, sign) => {
        texts.push(at <= d.length ? `${sign}${d.slice(0, at)}.${d.slice(at)}` : `${sign}0.${"0".repeat(at - d.length)}${d}`);
      }),
      { seed: 20261201, numRuns: 20000 },
    );
    const answered = agree(texts);
    // handed over: texts near a boundary, ties between two doubles (odd integers beyond 2^53), more than 22 fraction digits
    expect(answered).toBeGreaterThan(texts.length * 0.95);
    // most random 17-digit texts are not a double's shortest form: both answers occur
    expect(texts.some((t) => read(t)?.rounds === true)).toBe(true);
    expect(texts.some((t) => read(t)?.rounds === false)).toBe(true);
  });

  it("a hair from a rounding boundary (the midpoint between two doubles, cut to 16 or 17 digits, and one unit either side) it answers right or hands over", () => {
    const texts: string[] = [];
    fc.assert(
      fc.property(positiveDouble, fc.constantFrom(16, 17), fc.integer({ min: -1, max: 1 }), (x, n, bump) => {
        const t = cut(midpointText(x), n, bump);
        if (t !== undefined && !t.endsWith("0")) texts.push(t);
      }),
      { seed: 20261202, numRuns: 20000 },
    );
    expect(texts.length).toBeGreaterThan(15000);
    agree(texts);
    // the midpoints' own 16- and 17-digit cuts sit right at the edge for many doubles: some are handed over
    expect(texts.filter((t) => read(t) === undefined).length).toBeGreaterThan(0);
  });

  it("hands over what it does not read: fewer than 16 or more than 17 digits, a last digit 0, exponents, signs, spaces, more than 22 fraction digits", () => {
    for (const t of ["0.123456789012345", "1234567890123456789", "0.1234567890123450", "1.234567890123456e5", "+0.12345678901234567", " 0.12345678901234567", "0.12345678901234567 ", "0.0000000123456789012345678", "1.2.34567890123456", "12345678901234567.", "-", "", "0x1234567890123456"]) {
      expect({ t, got: read(t) }).toEqual({ t, got: undefined });
    }
    // a power of two's interval is lopsided: handed over
    expect(read("0.0009765625000000000")).toBeUndefined();
    // 2^53 + 1 lies halfway between two doubles: a boundary, handed over; 2^53 + 2 is exact
    expect(read("9007199254740993")).toBeUndefined();
    expect(read("9007199254740994")).toEqual({ x: 9007199254740994, rounds: false });
    // 2^54 + 5 reads as 2^54 + 4, whose shortest text differs
    expect(read("18014398509481989")).toEqual({ x: 18014398509481988, rounds: true });
    // x * 10 ends in .5: two 17-digit texts are equally near, and the shortest form is the even one
    expect(read("1565054152883007.8")).toEqual({ x: 1565054152883007.8, rounds: false });
    expect(read("1565054152883007.7")).toEqual({ x: 1565054152883007.8, rounds: true });
    expect(read("-0.05536588979884982")).toEqual({ x: -0.05536588979884982, rounds: false });
    expect(read("0.10000000000000001")).toEqual({ x: 0.1, rounds: true });
  });
});

describe("decimalBytes (Clinger's fast path)", () => {
  const read15 = (text: string): number => {
    const b = Buffer.from(`#${text}#`);
    return decimalBytes(b, 1, b.length - 1);
  };

  it("reads plain decimals of at most 15 significant digits, leading zeros not counted, as Number() does (fast-check, fixed seed)", () => {
    let answered = 0;
    fc.assert(
      fc.property(fc.constantFrom("", "-"), fc.stringMatching(/^0{0,3}$/), fc.stringMatching(/^[0-9]{0,15}$/), fc.integer({ min: 0, max: 24 }), (sign, zeros, d, at) => {
        const body = zeros + d;
        if (body.length === 0) return;
        const cut = Math.min(at, body.length);
        const text = at % 3 === 0 ? `${sign}${body}` : `${sign}${body.slice(0, cut)}.${body.slice(cut)}`;
        oneScan(text);
        const got = read15(text);
        if (Number.isNaN(got)) return;
        answered++;
        expect({ text, got }).toEqual({ text, got: Number(text) });
      }),
      { seed: 20261204, numRuns: 20000 },
    );
    expect(answered).toBeGreaterThan(15000);
    // what the bench's scores look like: 15 significant digits after "0.0"
    expect(read15("0.0283636343665421")).toBe(0.0283636343665421);
    expect(read15("-0.786717934999615")).toBe(-0.786717934999615);
    expect(Object.is(read15("-0"), -0)).toBe(true);
    for (const t of ["1234567890123456", "0.1234567890123456", "1e5", "", "-", ".", "1.2.3", "0.00000000000000000000001"]) expect({ t, got: read15(t) }).toEqual({ t, got: NaN });
  });
});
