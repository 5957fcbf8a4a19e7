import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BtkitError } from "../../src/errors.js";
import { prepare } from "../../src/prepare/index.js";
import { formatFromBytes, formatGuess } from "../../src/prepare/inputs.js";
import { JsonArrayScanner } from "../../src/prepare/json-array-reader.js";
import { JsonlScanner } from "../../src/prepare/jsonl-scanner.js";
import { thrownBy } from "../helpers/errors.js";
import { tempDir } from "../helpers/tmp.js";
import { sidecarTable } from "../helpers/sidecar.js";

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-prep-json-"));
});
afterAll(async () => cleanup());

const out = (): string => path.join(dir, `out-${++n}`);
function scanError(text: string | Buffer, chunk = 5): BtkitError {
  const s = new JsonArrayScanner({ input: "x.json" });
  const b = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return thrownBy(() => {
    for (let i = 0; i < b.length; i += chunk) s.push(b.subarray(i, i + chunk));
    s.end();
  });
}
function scan(text: string, chunk: number): { keys: string[]; values: (string | null)[]; kinds: number[]; line: number }[] {
  const s = new JsonArrayScanner({ input: "x.json" });
  const b = Buffer.from(text);
  const recs = [];
  for (let i = 0; i < b.length; i += chunk) recs.push(...s.push(b.subarray(i, i + chunk)));
  recs.push(...s.end());
  return recs.map((r) => ({ keys: r.keys, values: r.values, kinds: r.kinds, line: r.line }));
}

/** Deterministic objects (seeded LCG): strings with escapes, big integers, nested values, nulls. */
function objects(count: number, seed = 42): string[] {
  let x = seed;
  const rnd = (m: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % m;
  };
  return Array.from({ length: count }, (_, i) => {
    const parts = [`"id": ${rnd(2) ? "9007199254740993" : String(i)}`, `"s": ${JSON.stringify(`v${rnd(100)}\n"é\\}`)}`, `"f": ${rnd(3) === 0 ? "null" : `${rnd(1000)}.5e-3`}`, `"nest": {"a": [1, {"b": "}"}], "c": ${rnd(2) ? "true" : "false"}}`];
    return `{${parts.join(", ")}}`;
  });
}

describe("JSON array input", () => {
  it("gives the same records as JSON Lines for every chunking (1, 2, 3, 7, 4096 bytes)", () => {
    const objs = objects(40);
    const jsonl = new JsonlScanner({ input: "x" });
    const expected = [...jsonl.push(Buffer.from(objs.join("\n"))), ...jsonl.end()].map((r) => ({ keys: r.keys, values: r.values.map((v, i) => (r.kinds[i] === 3 ? JSON.stringify(JSON.parse(v!)) : v)), kinds: r.kinds, line: r.line }));
    // one element a line after the "[" line: element i starts on line i + 2 (the physical line, as for JSON Lines)
    const text = `[\n  ${objs.join(",\n  ")}\n]\n`;
    for (const chunk of [1, 2, 3, 7, 4096]) expect(scan(text, chunk)).toEqual(expected.map((r) => ({ ...r, line: r.line + 1 })));
    // elements several to a line, and one over several lines (a "}" and "\\n" inside strings are no line or bracket)
    const packed = `[${objs.slice(0, 3).join(", ")},\n${objs[3]!.replace(", ", ",\n\n ")}, {"s": "a}\\"\\n]"},\n  {"z": [1,\n 2]}]`;
    for (const chunk of [1, 5, 4096]) expect(scan(packed, chunk).map((r) => r.line)).toEqual([1, 1, 1, 2, 4, 5]);
    expect(expected[0]!.kinds).toEqual([1, 0, expected[0]!.values[2] === null ? 4 : 1, 3]);
  });

  it("names the element of a truncated array, a non-object element, a duplicate key and an out-of-range number", () => {
    const e1 = scanError('[{"a":1},{"a":2},{"a":');
    expect(e1.code).toBe("PREP_JSON");
    expect(e1.context).toMatchObject({ line: 1, element: 2 });
    expect(e1.message).toContain("ends inside element 3 (index 2, line 1)");
    const e2 = scanError('[{"a":1},{"a":2}');
    expect(e2.code).toBe("PREP_JSON");
    expect(e2.message).toContain("truncated after element 2");
    const e3 = scanError('[{"a":1},{"a":2},"x"]');
    expect(e3.context).toMatchObject({ line: 1, element: 2 });
    expect(e3.message).toBe('x.json: element 3 (index 2, line 1): expected a JSON object, got string');
    const e4 = scanError('[{"a":1},\n\n{"a":2,\n"a":3}]');
    expect(e4.message).toBe('x.json: element 2 (index 1, line 3): duplicate key "a"');
    expect(e4.context).toMatchObject({ line: 3, element: 1 });
    const e5 = scanError('[{"a":1},\n  {"n":-1e400}]');
    expect(e5.context).toMatchObject({ line: 2, element: 1 });
    expect(e5.message).toContain("out of range");
    const e6 = scanError('{"a":1}');
    expect(e6.message).toContain("expected a JSON array");
    const e7 = scanError('[{"a":1},{"a":2}] {"b":3}');
    expect(e7.message).toContain('after the closing "]"');
    const e8 = scanError(Buffer.concat([Buffer.from('[{"a":"x'), Buffer.from([0xff]), Buffer.from('"}]')]));
    expect(e8.code).toBe("PREP_ENCODING");
    expect(e8.context).toMatchObject({ line: 1, offset: 8 });
    const e9 = scanError(`[{"a":1},\n{"b":2},\n{"c":3 "d":4}]`, 4);
    expect(e9.context).toMatchObject({ line: 3, element: 2 });
    expect(e9.message).toContain("element 3 (index 2, line 3): invalid JSON");
  });

  it("prepares a gzip-wrapped JSON array (detected by bytes) into shards and sidecar, value by value", async () => {
    const f = path.join(dir, "rows.json.gz");
    await fs.writeFile(f, gzipSync(Buffer.from('\ufeff[{"id": 12345678901234567891, "t": "2024-05-06T07:08:09Z", "x": 1.50, "tags": [1, 2]},\n {"id": 2, "t": null, "x": -3, "tags": {"k": "v"}}]')));
    const o = out();
    const d = await prepare({ inputs: [f], out: o, format: "jsonl", sampleRows: 1, keep: ["id", "t", "x", "tags"] });
    expect(d.source.inputs[0]).toMatchObject({ format: "json", compression: "gzip", rows: 2 });
    // the 20-digit id is a JSON number beyond int64, and no id is negative: uint64, every digit kept
    expect(d.source.notes).toEqual([{ reason: "utf-8 byte order mark stripped", count: 1 }]);
    expect(d.schema.columns.map((c) => [c.name, c.type])).toEqual([
      ["id", "uint64"],
      ["t", "timestamp"],
      ["x", "float64"],
      ["tags", "json"],
    ]);
    expect(await fs.readFile(path.join(o, "shards/part-00000.jsonl"), "utf8")).toBe('{"id":12345678901234567891,"t":"2024-05-06T07:08:09Z","x":1.50,"tags":[1,2]}\n{"id":2,"t":null,"x":-3,"tags":{"k":"v"}}\n');
    const side = await sidecarTable(path.join(o, "sidecars/part-00000.parquet"));
    expect([...side.getChild("t")!.data[0]!.values].slice(0, 1)).toEqual([BigInt(Date.UTC(2024, 4, 6, 7, 8, 9)) * 1000n]);
    expect(side.getChild("t")!.get(1)).toBeNull();
    expect([...side.getChild("tags")!]).toEqual(["[1,2]", '{"k":"v"}']);
    expect([...side.getChild("x")!]).toEqual([1.5, -3]);
    expect([...side.getChild("id")!]).toEqual([12345678901234567891n, 2n]);
  });

  it("a JSON array and JSON Lines inputs combine; stdin is detected from its bytes; a bad element fails prep with its element", async () => {
    const a = path.join(dir, "a.json");
    const b = path.join(dir, "b.jsonl");
    await fs.writeFile(a, '[{"k": 1}, {"k": 2}]');
    await fs.writeFile(b, '{"k": 3}\n');
    const o = out();
    const d = await prepare({ inputs: [a, b], out: o });
    expect(d.source.inputs.map((i) => [i.format, i.rows])).toEqual([
      ["json", 2],
      ["jsonl", 1],
    ]);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1\n2\n3\n");
    const d2 = await prepare({ inputs: ["-"], stdin: [Buffer.from(' [{"k": "a"}, '), Buffer.from('{"k": "b"}]')], out: out() });
    expect(d2.source.inputs[0]).toMatchObject({ location: "-", format: "json", rows: 2 });
    const bad = path.join(dir, "bad.json");
    await fs.writeFile(bad, '[{"k": 1},\n [1, 2]]');
    let err: unknown;
    await prepare({ inputs: [bad], out: out() }).catch((e: unknown) => (err = e));
    expect(err).toBeInstanceOf(BtkitError);
    expect((err as BtkitError).code).toBe("PREP_JSON");
    expect((err as BtkitError).context).toMatchObject({ input: bad, line: 2, element: 1 });
    // a value that does not fit its column names the physical line of a pretty-printed array
    const pretty = path.join(dir, "pretty.json");
    await fs.writeFile(pretty, '[\n  {"a": 1},\n  {"a": 2},\n  {"a": "oops"}\n]\n');
    const typed = await prepare({ inputs: [pretty], out: out(), schema: "a:int64" }).catch((e: unknown) => e);
    expect(typed).toBeInstanceOf(BtkitError);
    expect((typed as BtkitError).message).toContain(`${pretty}: line 4 (row 3), column "a": "oops" does not fit int64`);
  });

  it("detects formats by name and by first bytes", () => {
    expect(formatGuess("s3://b/x.parquet", undefined)).toEqual({ format: "parquet", sniff: false });
    expect(formatGuess("x.feather.gz", undefined)).toEqual({ format: "arrow", sniff: false });
    expect(formatGuess("x.json", undefined).sniff).toBe(true);
    expect(formatGuess("x.json", "jsonl")).toEqual({ format: "jsonl", sniff: false });
    expect(formatFromBytes(Buffer.from("PAR1\x15\x04"))).toBe("parquet");
    expect(formatFromBytes(Buffer.from("ARROW1\0\0"))).toBe("arrow");
    expect(formatFromBytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0]))).toBe("arrow");
    expect(formatFromBytes(Buffer.from("\ufeff \n[{"))).toBe("json");
    expect(formatFromBytes(Buffer.from('{"a":1}'))).toBe("jsonl");
    expect(formatFromBytes(Buffer.from("a,b\n"))).toBeUndefined();
  });
});
