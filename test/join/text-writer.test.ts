/**
 * The byte writers of join's JSON Lines and CSV outputs give the bytes the string forms give:
 * JSON.stringify for strings, RFC 4180 quoting for CSV fields, ISO 8601 for dates and
 * microsecond timestamps (checked against Date arithmetic), every digit of an int64, over the
 * whole range including the values where the fast paths hand over to the exact ones.
 */
import { Bool, DateDay, Field, Float64, Int64, RecordBatch, Schema, Struct, TimestampMicrosecond, TimeUnit, Timestamp, Utf8, makeData, makeVector, vectorFromArray, type Vector } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { ByteSink, viewOf, writeCsvField, writeDouble, writeInteger, writeJsonString, writeShortDouble, writeText } from "../../src/join/text-writer.js";
import { isoMicros } from "../../src/join/writers.js";
import { TYPE_METADATA_KEY } from "../../src/join/columns.js";

/**
 * s written by `write` from the middle of a larger column (`skip` bytes before it, a tail after it,
 * so the word reads start unaligned and must stop at the field's end); with `words`, through a view
 * of the column (four bytes at a time), else byte by byte
 */
function written(write: typeof writeJsonString, s: string, words = false, skip = 0): string {
  const sink = new ByteSink();
  const text = Buffer.from(s, "utf8");
  const column = new Uint8Array(skip + text.length + 5);
  column.fill(0x7a);
  column.set(text, skip);
  write(sink, column, skip, skip + text.length, words ? viewOf(column) : undefined);
  return sink.take().toString("utf8");
}

const jsonOf = (s: string, words = false, skip = 0): string => written(writeJsonString, s, words, skip);
const csvOf = (s: string, words = false, skip = 0): string => written(writeCsvField, s, words, skip);

async function textOf(batch: RecordBatch, kind: "jsonl" | "csv"): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of writeText((async function* () {
    yield batch;
  })(), kind)) parts.push(c);
  return Buffer.concat(parts).toString("utf8");
}

function batchOf(columns: Record<string, Vector>): RecordBatch {
  const fields = Object.entries(columns).map(([name, v]) => new Field(name, v.type, true));
  const schema = new Schema(fields);
  const length = Object.values(columns)[0]!.length;
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children: Object.values(columns).map((v) => v.data[0]!) }));
}

/** short strings of the characters that matter: quotes, backslashes, control characters, separators, multi-byte */
const TEXT = fc.array(fc.constantFrom(..."az ,\"\\\n\r\t\b\f\u0000\u0001\u001f\u007fé€👍\u2028"), { maxLength: 12 }).map((cs) => cs.join(""));

describe("strings", () => {
  it("a JSON string is escaped byte for byte as JSON.stringify escapes it (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.oneof(TEXT, fc.string({ unit: "grapheme" })), (s) => {
        expect(jsonOf(s)).toBe(JSON.stringify(s));
      }),
      { seed: 20261130, numRuns: 2000 },
    );
    expect(jsonOf('a"b\\c\u0000\u001f\n')).toBe('"a\\"b\\\\c\\u0000\\u001f\\n"');
  });

  /** longer strings: runs of plain bytes between the characters that matter, so words are read whole */
  const LONG_TEXT = fc.array(fc.oneof(TEXT, fc.constantFrom("plain text ", "abcd", "ab", "éé", "👍👍")), { maxLength: 8 }).map((parts) => parts.join(""));

  it("four bytes at a time (a view of the column, any start) a string is escaped and a field quoted as byte by byte (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.oneof(TEXT, LONG_TEXT, fc.string({ unit: "grapheme", maxLength: 40 })), fc.integer({ min: 0, max: 7 }), (s, skip) => {
        expect(jsonOf(s, true, skip)).toBe(JSON.stringify(s));
        expect(csvOf(s, true, skip)).toBe(csvOf(s));
      }),
      { seed: 20261130, numRuns: 3000 },
    );
    // an escape in each position of a word, and a word that ends exactly at the field's end
    for (const s of ["abc\"", "ab\"c", "a\"bc", "\"abc", "abcd", "abcdabcd\u001f", "abcd\u0020efg", "a,bcdefg", "abcdefg\r"]) {
      for (let skip = 0; skip < 4; skip++) {
        expect(jsonOf(s, true, skip)).toBe(JSON.stringify(s));
        expect(csvOf(s, true, skip)).toBe(csvOf(s));
      }
    }
  });

  it("a CSV field of quotes, written four bytes at a time, grows the sink to twice its length (each quote doubled) however full it was", () => {
    const field = Buffer.from(`${'"'.repeat(40_000)},`);
    for (const fill of [0, 65_533, 65_536, 100_000]) {
      const sink = new ByteSink();
      const before = Buffer.alloc(fill, 0x61);
      sink.copy(before, 0, fill);
      writeCsvField(sink, field, 0, field.length, viewOf(field));
      const out = sink.take().toString("latin1");
      expect(out.length).toBe(fill + 2 * 40_000 + 3);
      expect(out.slice(fill)).toBe(`"${'""'.repeat(40_000)},"`);
      expect(out.slice(0, fill)).toBe(before.toString("latin1"));
    }
  });

  it("a CSV field is quoted only when it must be, and csv-parse reads back the text (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(TEXT, (s) => {
        const field = csvOf(s);
        expect(field.startsWith('"')).toBe(s === "" || /[",\r\n]/.test(s));
        expect((parse(`${field},x\n`) as string[][])[0]![0]).toBe(s);
      }),
      { seed: 20261130, numRuns: 2000 },
    );
  });
});

describe("rows", () => {
  const INT64 = [0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 4294967295n, 4294967296n, -4294967296n];

  it("int64 cells keep every digit on both sides of the 2^53 fast-path edge, and nulls are null", async () => {
    const ids = vectorFromArray([...INT64, null], new Int64());
    const text = await textOf(batchOf({ id: ids }), "jsonl");
    expect(text).toBe([...INT64.map((v) => `{"id":${v}}`), '{"id":null}'].join("\n") + "\n");
    expect(await textOf(batchOf({ id: ids }), "csv")).toBe(["id", ...INT64.map(String), ""].join("\n") + "\n");
  });

  it("float64 cells, read from their column, are String(x) in both formats (-0 as -0.0, non-finite as null), nulls null (fast-check, fixed seed)", async () => {
    const SPECIAL = [0, -0, 0.1, -0.05536588979884982, 136.61, 1e-7, 2 ** 51, 1e21, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity];
    const cell = (x: number | null, csv: boolean): string => {
      if (x === null) return csv ? "" : "null";
      if (!Number.isFinite(x)) return csv ? "" : "null";
      return Object.is(x, -0) ? "-0.0" : String(x);
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.double(), fc.constantFrom(...SPECIAL), fc.constant(null)), { minLength: 1, maxLength: 40 }), async (xs) => {
        const batch = batchOf({ x: vectorFromArray(xs, new Float64()) });
        expect(await textOf(batch, "jsonl")).toBe(xs.map((x) => `{"x":${cell(x, false)}}`).join("\n") + "\n");
        expect(await textOf(batch, "csv")).toBe(["x", ...xs.map((x) => cell(x, true))].join("\n") + "\n");
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });

  it("whole numbers below 2^53 are written as String(n) writes them (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.constantFrom(0, -0, 9, 10, -10, 2 ** 53 - 1, -(2 ** 53 - 1))), (n) => {
        const sink = new ByteSink();
        writeInteger(sink, n);
        expect(sink.take().toString("latin1")).toBe(String(n));
      }),
      { seed: 20261130, numRuns: 5000 },
    );
  });

  it("bool cells are true, false or null, in a sliced column too (its bit offset)", async () => {
    const flags = vectorFromArray([true, false, null, true, true, false, false, true, null, false, true], new Bool());
    expect(await textOf(batchOf({ f: flags }), "jsonl")).toBe('{"f":true}\n{"f":false}\n{"f":null}\n{"f":true}\n{"f":true}\n{"f":false}\n{"f":false}\n{"f":true}\n{"f":null}\n{"f":false}\n{"f":true}\n');
    const sliced = flags.slice(3, 10);
    expect(sliced.data[0]!.offset).toBe(3);
    expect(await textOf(batchOf({ f: sliced }), "csv")).toBe("f\ntrue\ntrue\nfalse\nfalse\ntrue\n\nfalse\n");
  });

  it("timestamps and dates are ISO 8601 as Date arithmetic gives them, zone only for instants (fast-check, fixed seed)", async () => {
    // years 0000-9999, beyond 2^53 microseconds too (after 2255), before 1970 too
    // and around one day's midnight: rows that share their day, and rows just either side of it
    const midnight = 1704067200000000n;
    const micros = fc.oneof(fc.bigInt({ min: -62167219200000000n, max: 253402300799999999n }), fc.bigInt({ min: midnight - 2n, max: midnight + 1n }), fc.bigInt({ min: midnight - 86400000000n, max: midnight + 86400000000n }));
    await fc.assert(
      fc.asyncProperty(fc.array(micros, { minLength: 1, maxLength: 20 }), async (values) => {
        const micro = (type: TimestampMicrosecond | Timestamp) => makeVector(makeData({ type, length: values.length, nullCount: 0, data: BigInt64Array.from(values) }));
        const days = Int32Array.from(values.map((v) => Number((v - (((v % 86400000000n) + 86400000000n) % 86400000000n)) / 86400000000n)));
        const batch = batchOf({
          at: micro(new TimestampMicrosecond("UTC")),
          wall: micro(new Timestamp(TimeUnit.MICROSECOND)),
          day: makeVector(makeData({ type: new DateDay(), length: values.length, nullCount: 0, data: days })),
        });
        const lines = (await textOf(batch, "jsonl")).trimEnd().split("\n");
        lines.forEach((line, i) => {
          const iso = isoMicros(values[i]!);
          expect(JSON.parse(line)).toEqual({ at: iso, wall: iso.slice(0, -1), day: iso.slice(0, 10) });
        });
      }),
      { seed: 20261130, numRuns: 200 },
    );
  });

  it("timestamps and dates beyond 0000-9999 are written as Date writes them (+YYYYYY), as before the byte writer", async () => {
    const values = [253402300800000000n, -62167219200000001n, 8640000000000000000n];
    const micro = makeVector(makeData({ type: new TimestampMicrosecond("UTC"), length: 3, nullCount: 0, data: BigInt64Array.from(values) }));
    const day = makeVector(makeData({ type: new DateDay(), length: 3, nullCount: 0, data: Int32Array.from([2932897, -719529, 100000000]) }));
    const lines = (await textOf(batchOf({ at: micro, day }), "jsonl")).trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { at: "+010000-01-01T00:00:00.000000Z", day: "+010000-01-01" },
      { at: "-000001-12-31T23:59:59.999999Z", day: "-000001-12-31" },
      { at: "+275760-09-13T00:00:00.000000Z", day: "+275760-09-13" },
    ]);
    expect(lines.map((l) => new Date(l.at as string).getUTCFullYear())).toEqual([10000, -1, 275760]);
  });

  it("a json column from a CSV input, its JSON spread over lines, stays on one JSON Lines line", async () => {
    const text = vectorFromArray(['{"a": 1,\r\n "b": [1, 2]}', "  7  "], new Utf8());
    const field = new Field("j", text.type, true, new Map([[TYPE_METADATA_KEY, "json"]]));
    const batch = new RecordBatch(new Schema([field]), makeData({ type: new Struct([field]), length: 2, nullCount: 0, children: [text.data[0]!] }));
    const lines = (await textOf(batch, "jsonl")).split("\n");
    expect(lines).toEqual(['{"j":{"a": 1,   "b": [1, 2]}}', '{"j":  7  }', ""]);
    expect(lines.slice(0, 2).map((l) => JSON.parse(l))).toEqual([{ j: { a: 1, b: [1, 2] } }, { j: 7 }]);
  });

  it("a CSV row quotes text with commas, quotes and line breaks, and a JSON Lines row escapes it", async () => {
    const batch = batchOf({ id: vectorFromArray([1n, 2n], new Int64()), text: vectorFromArray(['a,"b"\r\nc', null], new Utf8()) });
    expect(await textOf(batch, "csv")).toBe('id,text\n1,"a,""b""\r\nc"\n2,\n');
    expect(await textOf(batch, "jsonl")).toBe('{"id":1,"text":"a,\\"b\\"\\r\\nc"}\n{"id":2,"text":null}\n');
  });
});

describe("floats written from their digits", () => {
  /** What the writer makes of x: its bytes, or undefined when it leaves x to String(x). */
  const shortOf = (x: number): string | undefined => {
    const sink = new ByteSink();
    sink.text("<");
    return writeShortDouble(sink, x) ? sink.take().toString("latin1").slice(1) : undefined;
  };

  it("write String(x) whenever they write (fast-check, fixed seed): every double, and decimals of up to 17 digits", () => {
    const seed = 20261132;
    console.log(`fast-check seed ${seed}`);
    let written = 0;
    const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }), fc.integer({ min: 0, max: 24 })).map(([m, k]) => Number(`${m}e-${k}`));
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true }), decimal, fc.integer().map((n) => n / 100)), (x) => {
        const got = shortOf(x);
        if (got === undefined) return;
        written++;
        expect(got).toBe(String(x));
      }),
      { seed, numRuns: 20000 },
    );
    // the fast path takes most of them (not a vacuous check)
    expect(written).toBeGreaterThan(5000);
  });

  it("the edges: 1e-6 and below, 2^51 and above, -0, integers, negative fractions", () => {
    expect(shortOf(1e-6)).toBe("0.000001");
    expect(shortOf(1.5e-6)).toBe("0.0000015");
    expect(shortOf(9.99e-7)).toBeUndefined();
    expect(shortOf(2 ** 51 - 1)).toBe(String(2 ** 51 - 1));
    expect(shortOf(2 ** 51)).toBeUndefined();
    expect(shortOf(0)).toBeUndefined();
    expect(shortOf(-0)).toBeUndefined();
    expect(shortOf(-136.61)).toBe("-136.61");
    // 17 digits: beyond 2^51, left to String(x)
    expect(shortOf(0.1 + 0.2)).toBeUndefined();
    expect(shortOf(Infinity)).toBeUndefined();
  });

  /** writeDouble: the short digits, else the 16- or 17-digit ones; undefined when it leaves x to String(x). */
  const anyOf = (x: number): string | undefined => {
    const sink = new ByteSink();
    sink.text("<");
    return writeDouble(sink, x) ? sink.take().toString("latin1").slice(1) : undefined;
  };

  it("16 and 17 digits: write String(x) whenever they write, and take nearly every such double from 1e-6 to 2^51 (fast-check, fixed seed)", () => {
    let long = 0;
    let left = 0;
    // doubles of every magnitude in the range, from random bits (most print 16 or 17 digits)
    const bits = fc.tuple(fc.integer({ min: 1003, max: 1073 }), fc.integer({ min: 0, max: 2 ** 20 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.boolean()).map(([e, hi, lo, neg]) => {
      const view = new DataView(new ArrayBuffer(8));
      view.setUint32(0, ((neg ? 0x800 : 0) | e) * 2 ** 20 + hi);
      view.setUint32(4, lo);
      return view.getFloat64(0);
    });
    fc.assert(
      fc.property(fc.oneof(bits, fc.double({ min: 1e-6, max: 2 ** 51, noNaN: true })), (x) => {
        const want = String(x);
        const got = anyOf(x);
        if (got === undefined) {
          if (Math.abs(x) >= 1e-6 && Math.abs(x) < 2 ** 51) left++;
          return;
        }
        expect({ x, got }).toEqual({ x, got: want });
        if (shortOf(x) === undefined) long++;
      }),
      { seed: 20261203, numRuns: 30000 },
    );
    expect(long).toBeGreaterThan(20000);
    // left to String(x): powers of two, and a text within a millionth of a tie or boundary
    expect(left).toBeLessThan(long / 1000);
  });

  it("16 and 17 digits at the edges: a power of ten, just below one, powers of two, 0.1 + 0.2, the bench's scores", () => {
    for (const x of [0.1 + 0.2, 1 / 3, 2 / 3, -0.05536588979884982, 0.11319955857470632, 9.999999999999999e-6, 0.9999999999999999, 99.99999999999999, 1e15 + 0.5, 2 ** 51 - 0.5, 1.0000000000000002, 123456.78901234567, 5e-324 * 2 ** 1000]) {
      const got = anyOf(x);
      if (got !== undefined) expect({ x, got }).toEqual({ x, got: String(x) });
    }
    expect(anyOf(0.1 + 0.2)).toBe("0.30000000000000004");
    expect(anyOf(-0.05536588979884982)).toBe("-0.05536588979884982");
    expect(anyOf(0.9999999999999999)).toBe("0.9999999999999999");
    // x * 10^k ending in .5 with both neighbours in reach: String(x) takes the even one
    expect(anyOf(444227139950.59375)).toBe("444227139950.59375");
    expect(anyOf(237608793705893.25)).toBe("237608793705893.25");
    // numbers beyond 2^51 are left to String(x)
    expect(anyOf(2 ** 51 + 0.5)).toBeUndefined();
  });
});

