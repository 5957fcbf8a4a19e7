import { makeVector, type Data } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BtkitError } from "../../src/errors.js";
import { FeatureParser, type FeatureColumn } from "../../src/join/features.js";
import { LineReader, type LineBatch } from "../../src/join/lines.js";
import type { ColumnType } from "../../src/protocol/descriptor.js";

const SRC = { shard: "part-00000.csv", location: "mem://part-00000.csv" };

/** Each column's values (null where null), comparable with toEqual (-0 kept apart from 0 by Object.is). */
function valuesOf(data: Data[]): unknown[][] {
  return data.map((d) => {
    const v = makeVector(d);
    // timestamps as their stored microseconds (Vector#get converts them)
    if (String(d.type).startsWith("Timestamp")) return Array.from({ length: v.length }, (_, i) => (v.isValid(i) ? `${(d.values as BigInt64Array)[i]!}n` : null));
    return Array.from({ length: v.length }, (_, i) => {
      const x = v.get(i) as unknown;
      if (typeof x === "number" && Object.is(x, -0)) return "-0";
      if (typeof x === "bigint") return `${x}n`;
      return x;
    });
  });
}

type Outcome = { values: unknown[][]; rounded: number } | { code: string; message: string };

function outcome(run: () => Data[], parser: FeatureParser): Outcome {
  try {
    return { values: valuesOf(run()), rounded: parser.rounded };
  } catch (err) {
    if (!(err instanceof BtkitError)) throw err;
    return { code: err.code, message: err.message };
  }
}

/** The lines read by the string path and by the byte path (a LineReader in byte mode, in chunks of `chunk` bytes). */
async function both(columns: FeatureColumn[], lines: string[], chunk = 7): Promise<[Outcome, Outcome]> {
  const stringParser = new FeatureParser(columns, "text/csv");
  const batch: LineBatch = { lines, lineNumber: (i) => i + 1 };
  const byString = outcome(() => stringParser.parse(batch, SRC), stringParser);
  const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(""));
  const reader = new LineReader(
    (async function* () {
      for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
    })(),
    { location: SRC.location, blankLines: "keep", maxLineBytes: 1 << 20, bytes: true },
  );
  const raw = await reader.take(lines.length);
  expect(raw.raw).toBeDefined();
  const byteParser = new FeatureParser(columns, "text/csv");
  expect(byteParser.readsBytes).toBe(true);
  const byBytes = outcome(() => byteParser.parse(raw, SRC), byteParser);
  return [byString, byBytes];
}

const columnsOf = (types: ColumnType[]): FeatureColumn[] => types.map((type, index) => ({ name: `c${index}`, type, index }));

/** A field as prep or a hand would write it: quoted when it must be, sometimes when it need not be. */
const quoted = (text: string, always: boolean): string => (always || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
const floatText = fc.oneof(
  fc.tuple(fc.constantFrom("", "-", "+"), digits(0, 12), fc.constantFrom("", "."), digits(0, 12)).map(([s, a, dot, b]) => `${s}${a}${dot}${dot ? b : ""}`),
  fc.tuple(fc.constantFrom("", "-"), digits(1, 20), digits(0, 25)).map(([s, a, b]) => `${s}${a}.${b}`),
  fc.double({ noNaN: false }).map((x) => String(x)),
  fc.double().map((x) => x.toExponential()),
  fc.constantFrom("NaN", "Infinity", "-0", "-0.0", ".5", "5.", "0x10", " 1", "1e5", "1_0", "", "-", ".", '1"', '12"3', "1 ", "1.2.3", "--1"),
);
const intText = fc.oneof(
  fc.tuple(fc.constantFrom("", "-"), digits(1, 20)).map(([s, d]) => `${s}${d}`),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.constantFrom("", "+1", "1.0", "1e3", "-", "9223372036854775808", '1"', '12"3', "1 ", "--1", "0123"),
);
const pad = (n: number, w: number) => String(n).padStart(w, "0");
const timestampText = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    // mostly real dates and times; days 29-31 in short months and a 13th month or 24th hour are impossible
    fc.oneof({ arbitrary: fc.integer({ min: 1, max: 12 }), weight: 9 }, { arbitrary: fc.constantFrom(0, 13), weight: 1 }),
    fc.integer({ min: 1, max: 31 }),
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 23 }), weight: 9 }, { arbitrary: fc.constant(24), weight: 1 }),
    fc.integer({ min: 0, max: 59 }),
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 59 }), weight: 9 }, { arbitrary: fc.constant(60), weight: 1 }),
    fc.constantFrom("", ".", ".1", ".123", ".123456", ".123456000", ".123456789", ".1234567890"),
    fc.constantFrom("Z", "Z", "", "", "+02:00", "-0530", "z"),
    fc.constantFrom("T", "T", " ", "t"),
  )
  .map(([y, mo, d, h, mi, s, f, z, sep]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}${sep}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${f}${z}`);
const boolText = fc.constantFrom("true", "True", "TRUE", "1", "false", "False", "FALSE", "0", "yes", "", "tru", "truee", "tRUE", "TRue", "fALSE", "FaLSE", "2", "Fals");
const utf8Text = fc.stringMatching(/^[a-z ,"é👍ø0-9]{0,8}$/u);

const TYPES: ColumnType[] = ["utf8", "float64", "int64", "timestamp", "timestamp_ntz", "bool", "date", "uint64", "decimal(10,2)", "json"];
const textFor: Record<string, fc.Arbitrary<string>> = {
  utf8: utf8Text,
  float64: floatText,
  int64: intText,
  timestamp: timestampText,
  timestamp_ntz: timestampText,
  bool: boolText,
  date: fc.oneof(timestampText.map((t) => t.slice(0, 10)), fc.constant("2024-02-30")),
  uint64: intText,
  "decimal(10,2)": floatText,
  json: fc.constantFrom('{"a":1}', "[1,2]", "3", "{", '"x"', "null"),
};

describe("CSV features read as bytes", () => {
  it("give what the string path gives, value for value, error for error (fast-check, fixed seed)", async () => {
    const seed = 20261130;
    console.log(`fast-check seed ${seed}`);
    const table = fc
      .array(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 4 })
      .chain((types) =>
        fc.tuple(
          fc.constant(types),
          fc.array(fc.tuple(...types.map((t) => fc.tuple(textFor[t]!, fc.boolean()))), { minLength: 1, maxLength: 5 }),
          fc.integer({ min: 1, max: 40 }),
        ),
      );
    await fc.assert(
      fc.asyncProperty(table, async ([types, rows, chunk]) => {
        const lines = rows.map((r) => r.map(([t, q]) => quoted(t, q)).join(","));
        const [byString, byBytes] = await both(columnsOf(types), lines, chunk);
        expect(byBytes).toEqual(byString);
      }),
      { seed, numRuns: 1500 },
    );
  });

  it("one column at a time: every type's every spelling, so no earlier error hides a field (fast-check, fixed seed)", async () => {
    const seed = 20261131;
    console.log(`fast-check seed ${seed}`);
    const column = fc.constantFrom(...TYPES).chain((type) => fc.tuple(fc.constant(type), fc.array(fc.tuple(textFor[type]!, fc.boolean()), { minLength: 1, maxLength: 2 })));
    await fc.assert(
      fc.asyncProperty(column, async ([type, rows]) => {
        const [byString, byBytes] = await both(columnsOf([type]), rows.map(([t, q]) => quoted(t, q)));
        expect(byBytes).toEqual(byString);
      }),
      { seed, numRuns: 4000 },
    );
  });

  it("exact values on the fast paths: shortest floats, int64 beyond 2^53 through BigInt, microseconds, -0", async () => {
    const [s, b] = await both(columnsOf(["float64", "int64", "timestamp", "utf8", "bool"]), [
      "136.61,9007199254740993,2024-01-01T00:00:03.006Z,café,true",
      '-0,-42,1970-01-01T00:00:00Z,"a ""q"", b",0',
      '0.1,0,9999-12-31T23:59:59.999999Z,"",FALSE',
      ",,,,",
    ]);
    expect(b).toEqual(s);
    expect(b).toEqual({
      values: [
        [136.61, "-0", 0.1, null],
        ["9007199254740993n", "-42n", "0n", null],
        // microseconds since 1970 (the last beyond 2^53: the slow path's BigInt)
        ["1704067203006000n", "0n", "253402300799999999n", null],
        ["café", 'a "q", b', "", null],
        [true, false, false, null],
      ],
      rounded: 0,
    });
  });

  it("a broken line is JOIN_PARSE naming shard, line and column, as the string path says it", async () => {
    for (const lines of [['1,"abc'], ['1,"a"b'], ['1,a"b'], ["1"], ["1,2", "3"], ["x,2"]]) {
      const [s, b] = await both(columnsOf(["float64", "int64"]), lines);
      expect(b).toEqual(s);
      expect(b).toMatchObject({ code: "JOIN_PARSE" });
    }
    // a quote inside a long unquoted field, at each place in the four-byte words it is scanned by
    for (let at = 0; at < 9; at++) {
      const text = `${"abcdefghij".slice(0, at)}"${"klmnopqrs".slice(at)}`;
      const [s, b] = await both(columnsOf(["utf8", "int64"]), ["plain text here,1", `${text},2`]);
      expect(b).toEqual(s);
      expect(b).toMatchObject({ code: "JOIN_PARSE", message: expect.stringContaining("line 2 ") });
    }
    const [, few] = await both(columnsOf(["float64", "int64"]), ["1,2", "3"]);
    expect(few).toEqual({ code: "JOIN_PARSE", message: "line 2 of model-input shard mem://part-00000.csv (shard part-00000.csv), feature c1, has 1 field, fewer than the 2 the features need" });
  });

  it("the error is the string path's, whatever the byte reader met first: a broken line before a bad value, columns in output order", async () => {
    const [s1, b1] = await both(columnsOf(["int64", "float64", "int64"]), ['1,abc,"x']);
    expect(b1).toEqual(s1);
    expect(b1).toEqual({ code: "JOIN_PARSE", message: 'line 1 of model-input shard mem://part-00000.csv (shard part-00000.csv) is not valid CSV: 1,abc,"x' });
    // --features w,id,v: the line holds w first, but id and v come first among the columns
    const permuted: FeatureColumn[] = [
      { name: "id", type: "int64", index: 1 },
      { name: "v", type: "float64", index: 2 },
      { name: "w", type: "int64", index: 0 },
    ];
    const [s2, b2] = await both(permuted, ["6,4,5.5", "abc,1"]);
    expect(b2).toEqual(s2);
    expect(b2).toEqual({ code: "JOIN_PARSE", message: "line 2 of model-input shard mem://part-00000.csv (shard part-00000.csv), feature v, has 2 fields, fewer than the 3 the features need" });
  });

  it("a file without a quote or a comma is read in one pass", async () => {
    // 200,000 one-column lines in one region: a search from every field for the next comma or
    // quote to the end of the bytes would be quadratic (terabytes here) and never finish
    const lines = Array.from({ length: 200000 }, (_, i) => `${i}.5`);
    const [s, b] = await both(columnsOf(["float64"]), lines, 1 << 24);
    expect(b).toEqual(s);
    expect((b as { values: unknown[][] }).values[0]![199999]).toBe(199999.5);
  });
});
