import { describe, expect, it } from "vitest";
import { applyJsonPath, parseJsonPath } from "../../src/protocol/jsonpath.js";
import { Batcher, LineSplitter, RecordTooLargeError } from "../../src/emulator/records.js";
import { filterInput, formatCsvRecord, parseCsvRecord, planDataProcessing, PlanError, processOutput, sortedJsonText } from "../../src/emulator/data-processing.js";
import { predict } from "../../src/emulator/example-model.js";

describe("LineSplitter", () => {
  it("splits on \\n across chunk boundaries, keeping each record's newline and a final unterminated line", () => {
    const s = new LineSplitter();
    const out: Buffer[] = [];
    for (const c of ["a,1\nb", ",2\n\nc", "c\r\nd"]) s.push(Buffer.from(c), out);
    s.end(out);
    expect(out.map((b) => b.toString())).toEqual(["a,1\n", "b,2\n", "\n", "cc\r\n", "d"]);
  });
});

describe("Batcher", () => {
  const recs = ["aaaa\n", "bb\n", "cccccc\n", "d\n"].map((s) => Buffer.from(s));
  it("packs MultiRecord batches greedily up to the limit", () => {
    const b = new Batcher("MultiRecord", 10);
    const got = [...recs.map((r) => b.add(r)), b.flush()].filter((x) => x !== undefined).map((x) => ({ first: x.first, n: x.records.length, bytes: x.bytes }));
    expect(got).toEqual([{ first: 0, n: 2, bytes: 8 }, { first: 2, n: 2, bytes: 9 }]);
  });
  it("0 means no limit; SingleRecord sends one each; an oversize record throws with its index", () => {
    const u = new Batcher("MultiRecord", 0);
    for (const r of recs) expect(u.add(r)).toBeUndefined();
    expect(u.flush()?.records).toHaveLength(4);
    const s = new Batcher("SingleRecord", 100);
    expect(recs.map((r) => s.add(r)?.first)).toEqual([0, 1, 2, 3]);
    const t = new Batcher("MultiRecord", 5);
    t.add(recs[0]!);
    t.add(recs[1]!);
    expect(() => t.add(recs[2]!)).toThrow(RecordTooLargeError);
  });
});

describe("JSONPath subset", () => {
  const row = ["a", "b", "c", "d", "e", "f"];
  it("selects indexes, negative indexes, slices (inclusive by default, exclusive by option) and names", () => {
    expect(applyJsonPath(parseJsonPath("$[0,-1]"), row)).toEqual(["a", "f"]);
    expect(applyJsonPath(parseJsonPath("$[1:4]"), row)).toEqual(["b", "c", "d", "e"]);
    expect(applyJsonPath(parseJsonPath("$[1:4]"), row, "exclusive")).toEqual(["b", "c", "d"]);
    expect(applyJsonPath(parseJsonPath("$[:2]"), row)).toEqual(["a", "b", "c"]);
    expect(applyJsonPath(parseJsonPath("$[3:]"), row)).toEqual(["d", "e", "f"]);
    const o = { id: 1, f: { x: 2, y: 3, z: 4 }, SageMakerOutput: { s: 5 } };
    expect(applyJsonPath(parseJsonPath("$.f"), o)).toEqual({ x: 2, y: 3, z: 4 });
    expect(applyJsonPath(parseJsonPath("$['id','SageMakerOutput']"), o)).toEqual({ id: 1, SageMakerOutput: { s: 5 } });
    expect(applyJsonPath(parseJsonPath("$.f.['x','z']"), o)).toEqual({ x: 2, z: 4 });
    expect(applyJsonPath(parseJsonPath("$.*"), [1, 2])).toEqual([1, 2]);
    // indexes with one slice (API_DataProcessing's example "$[0,5:]")
    expect(applyJsonPath(parseJsonPath("$[0,4:]"), row)).toEqual(["a", "e", "f"]);
    expect(applyJsonPath(parseJsonPath("$[-1, :1]"), row)).toEqual(["f", "a", "b"]);
  });
  it("rejects what the service does not support", () => {
    expect(() => parseJsonPath("$[0:2,4:]")).toThrow("Invalid JsonPath: $[0:2,4:]: only single range filters of format (eg: [1:5]) are supported. Format [0:2,4:] is not supported");
    expect(() => parseJsonPath("$[0:2][3:4]")).toThrow("Format [3:4] is not supported");
    expect(() => parseJsonPath("$..x")).toThrow("recursive descent");
    expect(() => parseJsonPath("$[?(@.x)]")).toThrow("unsupported");
    expect(() => parseJsonPath("$['a','b.c']")).toThrow("without nesting");
    expect(() => applyJsonPath(parseJsonPath("$[9]"), row)).toThrow("outside the record");
  });
});

describe("CSV records", () => {
  it("parses RFC 4180 fields and refuses bare quotes like the service", () => {
    expect(parseCsvRecord('a,"b,c","d""e",', "input")).toEqual(["a", "b,c", 'd"e', ""]);
    expect(parseCsvRecord("", "input")).toEqual([""]);
    expect(() => parseCsvRecord('a,b"c', "input")).toThrow('Failed to parse input as CSV: bare " in non quoted field');
    expect(() => parseCsvRecord('"a"b', "output")).toThrow('Failed to parse output from the algorithm as CSV: extraneous or missing " in quoted-field');
    expect(() => parseCsvRecord('a,"b', "output")).toThrow('Failed to parse output from the algorithm as CSV: extraneous or missing " in quoted-field');
    expect(formatCsvRecord(["a", "b,c", 'q"'])).toBe('a,"b,c","q"""');
  });
});

describe("example model", () => {
  it("returns one line per record: score from numbers, length of text", () => {
    expect(predict("1,2,ab\n3,x,4.5\n", "text/csv", "application/jsonlines")).toBe('{"score":3,"length":2}\n{"score":7.5,"length":1}\n');
    expect(predict('1,"x,y",2\n', "text/csv", "text/csv")).toBe("3\n");
    expect(predict('{"a":1,"b":"hey","c":[2,"3"]}\n[1]\n', "application/jsonlines", "application/jsonlines")).toBe('{"score":6,"length":3}\n{"score":1,"length":0}\n');
    expect(predict('{\n "a": 2\n}', "application/json", "text/csv")).toBe("2\n");
    expect(predict("1\n2\n", "text/csv", "text/csv", { dropLine: true, echoEnv: undefined, id: undefined })).toBe("1\n");
    expect(predict("", "text/csv", "text/csv")).toBe("");
  });
});

describe("RangeBatcher", () => {
  it("cuts exactly the batches the record-by-record Batcher packs, across any chunking", async () => {
    const fc = await import("fast-check");
    const { RangeBatcher, Batcher: RecordBatcher, LineSplitter: Splitter } = await import("../../src/emulator/records.js");
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }).map((s) => s.replace(/\n/g, "")), { maxLength: 40 }), fc.boolean(), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 30 }), (rows, trailing, chunk, limit) => {
        const text = rows.join("\n") + (trailing && rows.length > 0 ? "\n" : "");
        const data = Buffer.from(text);
        const ref: Array<{ first: number; count: number; body: string }> = [];
        let refErr: number | undefined;
        try {
          const sp = new Splitter();
          const recs: Buffer[] = [];
          sp.push(data, recs);
          sp.end(recs);
          const b = new RecordBatcher("MultiRecord", limit);
          for (const r of recs) {
            const x = b.add(r);
            if (x) ref.push({ first: x.first, count: x.count, body: Buffer.concat(x.records).toString() });
          }
          const l = b.flush();
          if (l) ref.push({ first: l.first, count: l.count, body: Buffer.concat(l.records).toString() });
        } catch (err) {
          refErr = (err as { record: number }).record;
        }
        const got: Array<{ first: number; count: number; body: string }> = [];
        let gotErr: number | undefined;
        try {
          const rb = new RangeBatcher(limit);
          const out: import("../../src/emulator/records.js").Batch[] = [];
          for (let i = 0; i < data.length; i += chunk) rb.push(data.subarray(i, i + chunk), out);
          rb.end(out);
          for (const x of out) got.push({ first: x.first, count: x.count, body: x.records[0]!.toString() });
        } catch (err) {
          gotErr = (err as { record: number }).record;
        }
        expect(gotErr).toBe(refErr);
        if (refErr === undefined) expect(got).toEqual(ref);
      }),
      { seed: 4242, numRuns: 400 },
    );
  });
});

const settings = { sliceEnd: "inclusive", jsonJoinKeys: "sorted", joinMismatch: "run" } as const;
const jsonl = { ContentType: "application/jsonlines", Accept: "application/jsonlines", SplitType: "Line", AssembleWith: "Line" };

describe("JSON records joined and filtered", () => {
  it("keep every digit of their numbers (no trip through a double), in each key order", () => {
    const originals = [Buffer.from('{"id":12345678901234567890, "x":1.0,"big":[9007199254740993]}\n')];
    const body = Buffer.from('{"p":0.12345678901234567891}\n');
    const sorted = planDataProcessing({ DataProcessing: { JoinSource: "Input", OutputFilter: "$" }, ...jsonl }, settings);
    expect(processOutput(sorted, 1, originals, body).toString()).toBe('{"SageMakerOutput":{"p":0.12345678901234567891},"big":[9007199254740993],"id":12345678901234567890,"x":1.0}\n');
    const first = planDataProcessing({ DataProcessing: { JoinSource: "Input" }, ...jsonl }, { ...settings, jsonJoinKeys: "output-first" });
    expect(processOutput(first, 1, originals, body).toString()).toBe('{"SageMakerOutput":{"p":0.12345678901234567891},"id":12345678901234567890, "x":1.0,"big":[9007199254740993]}\n');
    const last = planDataProcessing({ DataProcessing: { JoinSource: "Input" }, ...jsonl }, { ...settings, jsonJoinKeys: "input-first" });
    expect(processOutput(last, 1, originals, body).toString()).toBe('{"id":12345678901234567890, "x":1.0,"big":[9007199254740993],"SageMakerOutput":{"p":0.12345678901234567891}}\n');
    expect(processOutput(last, 1, [Buffer.from("{ }\r\n")], body).toString()).toBe('{"SageMakerOutput":{"p":0.12345678901234567891}}\r\n');
    expect(processOutput(first, 1, [Buffer.from("[1, 2]")], body).toString()).toBe('{"SageMakerOutput":{"p":0.12345678901234567891},"SageMakerInput":[1, 2]}\n');
    const filtered = planDataProcessing({ DataProcessing: { InputFilter: "$.id" }, ...jsonl }, settings);
    expect(filterInput(filtered, originals[0]!).toString()).toBe("12345678901234567890\n");
  });

  it("sorts the keys of every object by UTF-16 code units, as recorded jobs show", () => {
    expect(sortedJsonText({ b: 1, SageMakerOutput: { z: 1, a: [{ y: 2, x: 1 }] }, A: null, _c: "s", "10": 1, "9": 2 })).toBe('{"10":1,"9":2,"A":null,"SageMakerOutput":{"a":[{"x":1,"y":2}],"z":1},"_c":"s","b":1}');
  });
});

describe("CSV records joined", () => {
  const csvPlan = (dp: Record<string, string>) => planDataProcessing({ DataProcessing: dp, ContentType: "text/csv", Accept: "text/csv", SplitType: "Line", AssembleWith: "Line" }, settings);
  it("splice the input's bytes, a comma, the output's bytes, and keep the input's line ending", () => {
    const originals = ['a,"b,c","say ""hi"""\r\n', "x,,12345678901234567890"].map((t) => Buffer.from(t));
    expect(processOutput(csvPlan({ JoinSource: "Input" }), 2, originals, Buffer.from('0.5,"p,q"\r\n1\n')).toString()).toBe('a,"b,c","say ""hi""",0.5,"p,q"\r\nx,,12345678901234567890,1\n');
    expect(processOutput(csvPlan({ JoinSource: "Input", OutputFilter: "$[1,-1]" }), 1, originals.slice(0, 1), Buffer.from("0.5\n")).toString()).toBe('"b,c",0.5\r\n');
    expect(processOutput(csvPlan({ JoinSource: "Input", OutputFilter: "$[0,2:]" }), 1, originals.slice(0, 1), Buffer.from("0.5\n")).toString()).toBe('a,"say ""hi""",0.5\r\n');
  });
});

describe("DataProcessing plans", () => {
  it("take a filter with two slices and fail each object with the service's words (aws/sagemaker-python-sdk#1112)", () => {
    const plan = planDataProcessing({ DataProcessing: { JoinSource: "Input", OutputFilter: "$[0:2,246:]" }, ContentType: "text/csv", Accept: "text/csv", SplitType: "Line", AssembleWith: "Line" }, settings);
    expect(plan.objectFailure).toBe("Invalid JsonPath: $[0:2,246:]: only single range filters of format (eg: [1:5]) are supported. Format [0:2,246:] is not supported");
  });
  it("a join whose Accept or AssembleWith does not match fails each object, or is refused at create", () => {
    const req = { DataProcessing: { JoinSource: "Input" }, ContentType: "text/csv", Accept: "application/json", SplitType: "Line", AssembleWith: "Line" };
    const why = 'JoinSource Input needs Accept to match ContentType and AssembleWith to match SplitType, both Line for text/csv (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html): ContentType "text/csv", Accept "application/json", SplitType Line, AssembleWith Line';
    expect(planDataProcessing(req, settings).objectFailure).toBe(why);
    expect(() => planDataProcessing(req, { ...settings, joinMismatch: "create" })).toThrow(new PlanError(why));
    expect(planDataProcessing({ ...req, Accept: "text/csv", AssembleWith: "None" }, settings).objectFailure).toContain("SplitType Line, AssembleWith None");
    expect(planDataProcessing({ ...jsonl, DataProcessing: { JoinSource: "Input" } }, settings).objectFailure).toBeUndefined();
  });
});
