/**
 * The flat-object fast path of .out lines (src/join/fast-json.ts): `readBytes`, over a line's
 * bytes, takes exactly the lines `read` takes, with the same values (numbers a double does not
 * hold kept as JsonNumbers, repeated labels, every spacing and malformed shape), and the
 * prediction parser gives the same columns and counts from byte batches as from text ones.
 */
import { makeVector, type Data } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FlatObjectReader } from "../../src/join/fast-json.js";
import type { LineBatch } from "../../src/join/lines.js";
import { PredictionParser } from "../../src/join/predictions.js";

/** Lines as a byte-mode batch: one buffer, each line at its offsets, a filler byte between them (what follows a line is never read as part of it). */
function rawBatch(lines: string[], first = 1, filler = "\n"): LineBatch {
  const starts = new Int32Array(lines.length);
  const ends = new Int32Array(lines.length);
  const parts: Buffer[] = [];
  let at = 0;
  lines.forEach((l, i) => {
    const b = Buffer.from(l, "utf8");
    starts[i] = at;
    ends[i] = at + b.length;
    parts.push(b, Buffer.from(filler));
    at += b.length + Buffer.byteLength(filler);
  });
  const bytes = Buffer.concat(parts);
  return { raw: { bytes, starts, ends }, lines, lineNumber: (i) => first + i };
}

/** read() and readBytes() of one line: whether each took it, and what each read. */
function both(keys: string[], text: string, filler = "}"): { text: [boolean, unknown[]]; bytes: [boolean, unknown[]] } {
  // a line is valid UTF-8 (the line reader checks): a lone surrogate a mutation made is what its bytes decode to
  const line = Buffer.from(text, "utf8").toString("utf8");
  const a = new FlatObjectReader(keys);
  const outA = new Array<unknown>(keys.length);
  const okA = a.read(line, outA);
  const b = new FlatObjectReader(keys);
  const outB = new Array<unknown>(keys.length);
  const buf = Buffer.from(`${filler}${line}${filler}`, "utf8");
  const okB = b.readBytes(buf, Buffer.byteLength(filler), buf.length - Buffer.byteLength(filler), outB);
  return { text: [okA, okA ? outA : []], bytes: [okB, okB ? outB : []] };
}

const NUMBER_TEXTS = ["0", "-0", "7", "-12", "0.5", "1e3", "-1.5E-3", "2e+2", "9007199254740993", "9007199254740992", "-9007199254740993", "12345678901234567890", "0.1234567890123456789", "0.30000000000000004", "0.1000000000000000055511151231257827", "123.45678901234567", "1.7976931348623157e308", "5e-324", "00", "01", "1.", ".5", "-", "1e", "1e+", "--1", "1.2.3", "0x10", "1-2", "+1", "Infinity", "NaN"];

describe("FlatObjectReader.readBytes", () => {
  it("takes the lines read takes, with the same values: numbers at every edge, strings, words, spacing", () => {
    const keys = ["label", "score"];
    for (const n of NUMBER_TEXTS) {
      for (const line of [`{"label":"x","score":${n}}`, `{"label": "x", "score": ${n}}`, `{"label":"x","score":${n} }`]) {
        const r = both(keys, line);
        expect(r.bytes, line).toEqual(r.text);
      }
    }
    for (const line of ['{"label":"pos","score":true}', '{"label":null,"score":false}', '{"label":"é🙂 ü","score":null}', '{"label":"a\\"b","score":1}', '{"label":"a\tb","score":1}', '{"score":1,"label":"a"}', '{"label":"a","score":1', '{"label":"a","score":1}}', '{"label":"a","score":1,"x":2}', '{"label":"a"}', "", "{}", "{", '{"label":"a","score":tru}', '{"label":"a","score":nul}', '{"label":"a" ,"score":fals}', ' {"label":"a","score":1}', '{"label":"a","score":1} ', '{"lab":"a","score":1}', '{"label":"a,"score":1}']) {
      const r = both(keys, line);
      expect(r.bytes, line).toEqual(r.text);
    }
    // the byte after the line is never read as the line's: a truncated line followed by what would complete it
    for (const [line, filler] of [['{"label":"a","score":1', "}"], ['{"label":"a","score":', "1"], ['{"label":"a"', ","], ['{"label"', ":"], ["", "{"]] as const) {
      const r = both(keys, line, filler);
      expect(r.bytes, line).toEqual(r.text);
      expect(r.bytes[0], line).toBe(false);
    }
  });

  it("property: any flat object, mutated or not, reads the same from its bytes as from its text", () => {
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
      fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String),
      fc.tuple(fc.integer({ min: 0, max: 99999999 }), fc.integer({ min: 0, max: 999999999 }), fc.integer({ min: 0, max: 9 })).map(([a, b, c]) => `0.${a}${b}${c}`),
      fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => JSON.stringify(s)),
      fc.constantFrom("true", "false", "null", '"neu"', '"pos"', '"neg"'),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), fc.constantFrom("", " "), fc.option(fc.tuple(fc.nat(), fc.constantFrom("", " ", ",", "}", '"', "\\", "1", "e", ".", "-", "\u0001"))), (vals, sp, mutation) => {
        const keys = vals.map((_, j) => `k${j}`);
        let line = `{${vals.map((v, j) => `"k${j}":${sp}${v}`).join(`,${sp}`)}}`;
        if (mutation) {
          const [at, ins] = mutation;
          const k = at % (line.length + 1);
          line = line.slice(0, k) + ins + line.slice(k + (ins === "" ? 1 : 0));
        }
        const r = both(keys, line);
        expect(r.bytes).toEqual(r.text);
      }),
      { seed: 7, numRuns: 3000 },
    );
  });

  it("a repeated label is the same text each time, and more distinct labels than it remembers still read right", () => {
    const r = new FlatObjectReader(["label"]);
    const labels = Array.from({ length: 20 }, (_, k) => `label-${k % 11}-é`);
    const got = labels.map((l) => {
      const out: unknown[] = [];
      const buf = Buffer.from(`{"label":${JSON.stringify(l)}}`);
      expect(r.readBytes(buf, 0, buf.length, out)).toBe(true);
      return out[0];
    });
    expect(got).toEqual(labels);
  });
});

/** The parser's columns over batches, as { name:type: values }, and its counters. */
function parseAll(batches: LineBatch[]): { columns: Record<string, unknown[]>; fastLines: number; rounded: number } {
  const p = new PredictionParser({ format: "json" });
  const columns: Record<string, unknown[]> = {};
  for (const b of batches) {
    const datas: Data[] = p.parse(b, { shard: "part-00000.csv", location: "file:///o/part-00000.csv.out" });
    (p.fields() ?? []).forEach((f, j) => {
      const v = makeVector(datas[j]!);
      (columns[`${f.name}:${f.metadata.get("btkit.type")}`] ??= []).push(...Array.from({ length: v.length }, (_, i) => v.get(i)));
    });
  }
  return { columns, fastLines: p.fastLines, rounded: p.rounded };
}

describe("PredictionParser over byte batches", () => {
  it("gives the columns and counts text batches give: fast lines, lines left to JSON.parse, rounded numbers", () => {
    const first = ['{"label":"pos","score":0.25,"n":1}'];
    const rest = ['{"label":"neg","score":0.1000000000000000055511151231257827,"n":2}', '{"label": "ne\\"u", "score": -1.5e-3, "n": 3}', '{"n":4,"label":"x","score":1}', '{"label":"neu","score":0.30000000000000004,"n":9007199254740993}', '{"label":"neu","score":null,"n":null}'];
    const fromText = parseAll([{ lines: first, lineNumber: (i) => 1 + i }, { lines: rest, lineNumber: (i) => 2 + i }]);
    const fromBytes = parseAll([rawBatch(first), rawBatch(rest, 2)]);
    expect(fromBytes).toEqual(fromText);
    expect(fromBytes.fastLines).toBe(3);
    expect(fromBytes.rounded).toBe(1);
    expect(fromBytes.columns["pred_n:int64"]).toEqual([1n, 2n, 3n, 4n, 9007199254740993n, null]);
    expect(fromBytes.columns["pred_score:float64"]).toEqual([0.25, 0.1, -0.0015, 1, 0.30000000000000004, null]);
  });

  it("names the line a byte batch's conflict is on, as for text", () => {
    const p = new PredictionParser({ format: "json" });
    const src = { shard: "part-00000.csv", location: "file:///o/part-00000.csv.out" };
    p.parse(rawBatch(['{"label":"pos","score":0.5}']), src);
    expect(() => p.parse(rawBatch(['{"label":"pos","score":0.5}', '{"label":"pos","score":"high"}'], 2), src)).toThrow(/line 3 of file:\/\/\/o\/part-00000.csv.out \(shard part-00000.csv\): column pred_score is float64/);
  });
});
