import { makeVector, type Data } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PredictionParser, WidenToFloat64, type PredictionParserOptions } from "../../src/join/index.js";
import type { BtkitError } from "../../src/errors.js";
import { thrownBy } from "../helpers/errors.js";

const SRC = { shard: "part-00003.csv", location: "file:///o/part-00003.csv.out" };

function batch(lines: string[], first = 1) {
  return { lines, lineNumber: (i: number) => first + i };
}

/** Parses batches and returns { column: values } (int64 as bigint, nulls as null). */
function run(options: PredictionParserOptions, ...batches: string[][]): Record<string, unknown[]> {
  return runWith(new PredictionParser(options), ...batches);
}

/** run() with a parser of the caller's, to read its counters after. */
function runWith(p: PredictionParser, ...batches: string[][]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  let first = 1;
  for (const b of batches) {
    const datas: Data[] = p.parse(batch(b, first), SRC);
    first += b.length;
    const fields = p.fields() ?? [];
    fields.forEach((f, j) => {
      const v = makeVector(datas[j]!);
      (out[`${f.name}:${f.metadata.get("btkit.type")}`] ??= []).push(...Array.from({ length: v.length }, (_, i) => v.get(i)));
    });
  }
  return out;
}

const fails = (options: PredictionParserOptions, ...batches: string[][]): BtkitError => thrownBy(() => run(options, ...batches));

describe("PredictionParser", () => {
  it("a declared type for no prediction column is OPT_INVALID naming the columns there are; declaring one of those passes", () => {
    // scalars: one column, named by predictionName
    const scalar = fails({ format: "json", types: { score: "float64" } }, ["1", "2.5"]);
    expect(scalar.code).toBe("OPT_INVALID");
    expect(scalar.message).toBe(
      'predictionTypes declares "score", which is no prediction column: line 1 of file:///o/part-00003.csv.out (shard part-00003.csv) holds one value per line, column prediction (predictionName (--prediction-name) names it); declare one of those, for example predictionTypes: { "prediction": "float64" } (--prediction-type prediction=float64)',
    );
    expect(scalar.context).toEqual({ shard: "part-00003.csv", location: "file:///o/part-00003.csv.out", option: "predictionTypes", got: "score", expected: ["prediction"] });
    expect(run({ format: "json", types: { prediction: "float64" } }, ["1", "2.5"])).toEqual({ "prediction:float64": [1, 2.5] });
    expect(run({ format: "json", scalarName: "score", types: { score: "float64" } }, ["1"])).toEqual({ "score:float64": [1] });
    // arrays: one column per position
    const array = fails({ format: "json", types: { pred_2: "float64" } }, ["[1, 2]"]);
    expect(array.message).toContain('predictionTypes declares "pred_2", which is no prediction column: line 1 of file:///o/part-00003.csv.out (shard part-00003.csv) holds arrays of 2 values, columns pred_0, pred_1; declare one of those');
    expect(run({ format: "json", types: { pred_1: "float64" } }, ["[1, 2]"])).toEqual({ "pred_0:int64": [1n], "pred_1:float64": [2] });
    // objects: a name with the prefix declares a key (one later lines may bring); one without it is no column
    const object = fails({ format: "json", types: { label: "utf8" } }, ['{"label":"a","p":0.5}']);
    expect(object.message).toContain('predictionTypes declares "label", which is no prediction column: line 1 of file:///o/part-00003.csv.out (shard part-00003.csv) holds objects, whose keys are columns "pred_" + key (pred_label, pred_p); declare one of those, for example predictionTypes: { "pred_label": "utf8" }');
    expect(run({ format: "json", types: { pred_label: "utf8", pred_q: "float64" } }, ['{"label":"a","p":0.5}'], ['{"label":"b","p":1,"q":2}'])).toEqual({
      "pred_label:utf8": ["a", "b"],
      "pred_p:float64": [0.5, 1],
      "pred_q:float64": [null, 2],
    });
  });

  it("numbers a double does not keep: integers above 2^53 are int64 or uint64 exactly, a declared decimal keeps every digit, float64 rounds them and counts it", () => {
    expect(run({}, ['{"id":9007199254740993,"u":18446744073709551615}', '{"id":-9007199254740993,"u":1}'])).toEqual({
      "pred_id:int64": [9007199254740993n, -9007199254740993n],
      "pred_u:uint64": [18446744073709551615n, 1n],
    });
    // even integers beyond 2^53 print the same as doubles, yet a column of IDs one apart must stay int64
    const ids = Array.from({ length: 6 }, (_, i) => 9007199254740993n + BigInt(i));
    expect(run({}, ids.map((id) => `{"id":${id}}`))).toEqual({ "pred_id:int64": ids });
    expect(run({ types: { pred_id: "int64" } }, ['{"id":9007199254740994}', '{"id":9007199254740995}'])).toEqual({ "pred_id:int64": [9007199254740994n, 9007199254740995n] });
    expect(run({ format: "csv" }, ["9223372036854776000"])).toEqual({ "prediction:uint64": [9223372036854776000n] });
    // the slow path (spacing the fast path does not take) and CSV scalars too
    expect(run({}, ['{ "id" : 9007199254740993 }'])).toEqual({ "pred_id:int64": [9007199254740993n] });
    expect(run({ format: "csv" }, ["9007199254740993", "18446744073709551615"])).toEqual({ "prediction:uint64": [9007199254740993n, 18446744073709551615n] });
    // declared: the hint's types take them exactly
    expect(run({ types: { pred_u: "uint64" } }, ['{"u":18446744073709551615}'])).toEqual({ "pred_u:uint64": [18446744073709551615n] });
    const dec = new PredictionParser({ types: { pred_p: "decimal(22,20)" } });
    const d = dec.parse(batch(['{"p":0.12345678901234567891}']), SRC);
    expect(String(makeVector(d[0]!).type)).toBe("Decimal[22e+20]");
    expect(dec.rounded).toBe(0);
    // float64 (inferred from the first value) rounds a later one and says so
    const f = new PredictionParser({});
    f.parse(batch(['{"p":0.5}', '{"p":0.12345678901234567891}', '{"p":0.25}']), SRC);
    expect(f.rounded).toBe(1);
  });

  it("JSON objects become prefixed columns; deeper values JSON text; missing keys null", () => {
    expect(run({ format: "json" }, ['{"label":"pos","score":0.5,"probs":[0.1,0.9]}', '{"label":"neg","score":1,"probs":{"a":1}}', '{"label":null}'])).toEqual({
      "pred_label:utf8": ["pos", "neg", null],
      "pred_score:float64": [0.5, 1, null],
      "pred_probs:json": ["[0.1,0.9]", '{"a":1}', null],
    });
  });

  it("the fast path and JSON.parse agree, whatever the spacing, escapes or key order", () => {
    const lines = ['{"label":"pos","score":0.25}', '{"label": "ne\\"g", "score": -1.5e-3}', '{"score":2,"label":"x"}', '{ "label" : "é🙂" , "score" : 0 }', '{"label":"a","score":10}'];
    const p = new PredictionParser({ format: "json" });
    expect(runWith(p, lines.slice(0, 1), lines.slice(1))).toEqual({
      "pred_label:utf8": ["pos", 'ne"g', "x", "é🙂", "a"],
      "pred_score:float64": [0.25, -0.0015, 2, 0, 10],
    });
    // the first batch fixes the columns through JSON.parse; after it, the fast path reads the last
    // two lines, and the escape and the other key order go through JSON.parse
    expect(p.fastLines).toBe(2);
  });

  it("fast path property: any flat object reads as JSON.parse reads it", () => {
    const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null));
    fc.assert(
      fc.property(fc.array(fc.tuple(num, fc.string()), { minLength: 1, maxLength: 20 }), fc.boolean(), (rows, spaced) => {
        const lines = rows.map(([a, b]) => (spaced ? `{"a": ${JSON.stringify(a)}, "b": ${JSON.stringify(b)}}` : JSON.stringify({ a, b })));
        const p = new PredictionParser({ format: "json" });
        const got = runWith(p, ['{"a":0.5,"b":"s"}'], lines);
        const want = lines.map((l) => JSON.parse(l) as { a: number | null; b: string });
        expect(got["pred_a:float64"]).toEqual([0.5, ...want.map((w) => w.a)]);
        expect(got["pred_b:utf8"]).toEqual(["s", ...want.map((w) => w.b)]);
        // every line the fast path can read (a string without escapes) was read by it, not by JSON.parse
        expect(p.fastLines).toBe(rows.filter(([, b]) => !JSON.stringify(b).includes("\\")).length);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("a negative zero inside a JSON value keeps its sign in the json column's text (-0.0)", () => {
    expect(run({ format: "json" }, ['{"vec":[1.5,-0.0,null]}', '{"vec":{"a":-0}}'])).toEqual({ "pred_vec:json": ["[1.5,-0.0,null]", '{"a":-0.0}'] });
  });

  it("a float64 column counts as rounded the numbers its doubles change (beyond its range too), and not an integer beyond 2^53 a double holds exactly", () => {
    const p = new PredictionParser({ format: "json", types: { pred_s: "float64" } });
    const got = runWith(p, ['{"s":9007199254740994}', '{"s":9007199254740993}', '{"s":-18014398509481988}', '{"s":1e400}', '{"s":1e-400}', '{"s":1e100}', '{"s":0.1000000000000000055511151231257827}']);
    expect(got["pred_s:float64"]).toEqual([9007199254740994, 9007199254740992, -18014398509481988, Infinity, 0, 1e100, 0.1]);
    // 9007199254740993 becomes ...992, 1e400 Infinity (written as null), 1e-400 0, 0.1000...0555 0.1
    expect(p.rounded).toBe(4);
  });

  it("int64 widens to float64 inside the first batch; a float after it asks join to start again with float64; text after it is a conflict", () => {
    expect(run({ format: "json" }, ['{"s":1}', '{"s":1.5}'])).toEqual({ "pred_s:float64": [1, 1.5] });
    expect(run({ format: "json" }, ['{"s":1}', '{"s":2}'], ['{"s":3}'])).toEqual({ "pred_s:int64": [1n, 2n, 3n] });
    const p = new PredictionParser({ format: "json" });
    p.parse(batch(['{"s":1}', '{"s":2}']), SRC);
    let widen: unknown;
    try {
      p.parse(batch(['{"s":3}', '{"s":3.5}'], 3), SRC);
    } catch (err) {
      widen = err;
    }
    expect(widen).toBeInstanceOf(WidenToFloat64);
    // a number a double does not hold exactly is a float too (it was a conflict printing {"text":...})
    for (const late of ["0.10000000000000001", "1e400", "-1e-400"]) {
      const q = new PredictionParser({ format: "json" });
      q.parse(batch(['{"s":1}', '{"s":2}']), SRC);
      expect(() => q.parse(batch([`{"s":${late}}`], 3), SRC)).toThrow(WidenToFloat64);
    }
    expect(widen).toMatchObject({ column: "pred_s", shard: "part-00003.csv", line: 4 });
    // a declared int64 is the user's word: a float is a conflict
    const declared = fails({ format: "json", types: { pred_s: "int64" } }, ['{"s":1}'], ['{"s":3.5}']);
    expect(declared.code).toBe("JOIN_TYPE_CONFLICT");
    const err = fails({ format: "json" }, ['{"s":1}', '{"s":2}'], ['{"s":3}', '{"s":"x"}']);
    expect(err.code).toBe("JOIN_TYPE_CONFLICT");
    expect(err.context).toMatchObject({ shard: "part-00003.csv", line: 4, column: "pred_s", expected: "int64", got: "utf8" });
    expect(err.message).toContain("--prediction-type pred_s=TYPE");
  });

  it("a negative zero is never an int64 value (written 0 it would lose its sign): it makes the column float64, in the first batch or after it, JSON and CSV alike", () => {
    const signs = (xs: unknown[]) => xs.map((x) => (Object.is(x, -0) ? "-0" : x));
    // inferred from it, and beside integers in the first batch
    expect(signs(run({ format: "json" }, ['{"s":-0}', '{"s":1}'])["pred_s:float64"]!)).toEqual(["-0", 1]);
    expect(signs(run({ format: "csv" }, ["1", "-0.0", "-0"])["prediction:float64"]!)).toEqual([1, "-0", "-0"]);
    // after a batch of integers: join starts again with float64, as for any float
    for (const late of ["-0", "-0.0", "-0e5"]) {
      const q = new PredictionParser({ format: "json" });
      q.parse(batch(['{"s":0}', '{"s":2}']), SRC);
      expect(() => q.parse(batch([`{"s":${late}}`], 3), SRC)).toThrow(WidenToFloat64);
    }
    // a positive zero stays an integer
    expect(run({ format: "json" }, ['{"s":0}', '{"s":0.0}'])).toEqual({ "pred_s:int64": [0n, 0n] });
    // declared int64 (or uint64): a conflict naming the value with its sign, and the declaration its message suggests reads it
    for (const type of ["int64", "uint64"] as const) {
      const err = fails({ format: "json", types: { pred_s: type } }, ['{"s":1}', '{"s":-0.0}']);
      expect(err.code).toBe("JOIN_TYPE_CONFLICT");
      expect(err.message).toContain(`column pred_s is ${type} (declared), got float64 -0.0`);
      expect(err.message).toContain("--prediction-type pred_s=TYPE");
      expect(signs(run({ format: "json", types: { pred_s: "float64" } }, ['{"s":1}', '{"s":-0.0}'])["pred_s:float64"]!)).toEqual([1, "-0"]);
    }
  });

  it("a value that does not fit a declared nested type is JOIN_TYPE_CONFLICT naming its line and column (it was a plain error, worded by join as an unreadable sidecar)", () => {
    const err = fails({ format: "json", types: { pred_p: "list<int64>" } }, ['{"p":[1,2]}'], ['{"p":[3]}', '{"p":null}', '{"p":[0,"x"]}', '{"p":[4]}']);
    expect(err.code).toBe("JOIN_TYPE_CONFLICT");
    expect(err.context).toMatchObject({ shard: "part-00003.csv", line: 4, column: "pred_p", expected: "list<int64>" });
    expect(err.message).toBe(`line 4 of ${SRC.location} (shard part-00003.csv): column pred_p is list<int64> (declared), got [0,"x"] (value[] holds the string "x", not a int64); declare it with predictionTypes: { "pred_p": "TYPE" } (--prediction-type pred_p=TYPE)`);
    // a scalar where a list is declared, on the first line
    const scalar = fails({ format: "csv", types: { prediction: "list<int64>" } }, ["1", "2"]);
    expect(scalar.code).toBe("JOIN_TYPE_CONFLICT");
    expect(scalar.message).toContain("line 1 of");
    expect(scalar.message).toContain("column prediction is list<int64> (declared), got 1 (value holds the number 1, not a list)");
    // the declaration the message suggests reads it
    expect(run({ format: "json", types: { pred_p: "json" } }, ['{"p":[1,2]}'], ['{"p":[0,"x"]}'])).toEqual({ "pred_p:json": ["[1,2]", '[0,"x"]'] });
  });

  it("declared types settle it; widenToUtf8 turns conflicts into counted JSON text", () => {
    expect(run({ format: "json", types: { pred_s: "float64" } }, ['{"s":1}'], ['{"s":3.5}'])).toEqual({ "pred_s:float64": [1, 3.5] });
    const p = new PredictionParser({ format: "json", widenToUtf8: true });
    p.parse(batch(['{"v":"a"}', '{"v":2}']), SRC);
    p.parse(batch(['{"v":true}'], 3), SRC);
    expect(p.fields()!.map((f) => String(f.type))).toEqual(["Utf8"]);
    expect(p.widened).toBe(2);
  });

  it("a key the first batch did not have is a conflict", () => {
    const err = fails({ format: "json" }, ['{"a":1}'], ['{"a":1,"b":2}']);
    expect(err.code).toBe("JOIN_TYPE_CONFLICT");
    expect(err.context).toMatchObject({ line: 2, column: "pred_b" });
  });

  it("arrays become indexed columns; scalars become prediction; a shape change is a conflict", () => {
    expect(run({ format: "json" }, ["[0.1,0.9]", "[0.7,0.3]"])).toEqual({ "pred_0:float64": [0.1, 0.7], "pred_1:float64": [0.9, 0.3] });
    expect(run({ format: "json" }, ["1", "0"], ["2"])).toEqual({ "prediction:int64": [1n, 0n, 2n] });
    expect(run({ format: "json", scalarName: "y" }, ['"cat"'])).toEqual({ "y:utf8": ["cat"] });
    expect(fails({ format: "json" }, ["[1,2]"], ["[1,2,3]"]).context).toMatchObject({ line: 2, expected: 2, got: 3 });
    expect(fails({ format: "json" }, ['{"a":1}', "[1]"]).code).toBe("JOIN_TYPE_CONFLICT");
  });

  it("invalid JSON is JOIN_PARSE with the line and an excerpt", () => {
    const err = fails({ format: "json" }, ['{"a":1}', '{"a":'], []);
    expect(err.code).toBe("JOIN_PARSE");
    expect(err.context).toMatchObject({ line: 2 });
    expect(err.message).toContain('{"a":');
  });

  it("CSV fields become indexed columns (one field: prediction); empty is null; quotes per RFC 4180", () => {
    expect(run({ format: "csv" }, ["0.25,pos", '0.5,"a,""b"""', ",neg"])).toEqual({ "pred_0:float64": [0.25, 0.5, null], "pred_1:utf8": ["pos", 'a,"b"', "neg"] });
    expect(run({ format: "csv" }, ["0.8123", "0.1"])).toEqual({ "prediction:float64": [0.8123, 0.1] });
    expect(fails({ format: "csv" }, ['1,"x'], []).code).toBe("JOIN_PARSE");
  });

  it('CSV: in a column declared utf8 a quoted "" is the empty string and an empty field null, as prep reads CSV; elsewhere both are null', () => {
    const lines = ['"",x', ',""', "a,b"];
    expect(run({ format: "csv", types: { pred_0: "utf8", pred_1: "utf8" } }, lines)).toEqual({ "pred_0:utf8": ["", null, "a"], "pred_1:utf8": ["x", "", "b"] });
    expect(run({ format: "csv" }, lines)).toEqual({ "pred_0:utf8": [null, null, "a"], "pred_1:utf8": ["x", null, "b"] });
  });

  it("CSV: a non-number after numbers names --prediction-type NAME=utf8, which keeps every field as written", () => {
    const e = fails({ format: "csv" }, ["2.5", "1.50"], ["Infinity"]);
    expect(e.code).toBe("JOIN_TYPE_CONFLICT");
    expect(e.message).toContain('declare it with predictionTypes: { "prediction": "TYPE" } (--prediction-type prediction=TYPE)');
    expect(run({ format: "csv", types: { prediction: "utf8" } }, ["2.5", "1.50"], ["Infinity", ""])).toEqual({ "prediction:utf8": ["2.5", "1.50", "Infinity", null] });
  });

  it("text keeps the whole line", () => {
    expect(run({ format: "text" }, ["hello, world", "{not json"])).toEqual({ "prediction:utf8": ["hello, world", "{not json"] });
  });

  it("auto uses Accept, else the first line", () => {
    expect(run({ accept: "text/csv" }, ["1"])).toEqual({ "prediction:int64": [1n] });
    expect(run({ accept: "application/jsonlines" }, ['{"a":true}'])).toEqual({ "pred_a:bool": [true] });
    expect(run({}, ["0.1,0.9"])).toEqual({ "pred_0:float64": [0.1], "pred_1:float64": [0.9] });
    expect(run({}, ["cat"])).toEqual({ "prediction:utf8": ["cat"] });
  });

});
