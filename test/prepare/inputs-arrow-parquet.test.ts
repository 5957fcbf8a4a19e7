import { openAsBlob } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import {
  Binary,
  Bool,
  DateDay,
  Decimal,
  Field,
  Int32,
  List,
  Struct,
  Table,
  Time,
  TimeUnit,
  TimestampMillisecond,
  TimestampNanosecond,
  Uint64,
  Utf8,
  makeData,
  makeVector,
  tableToIPC,
  vectorFromArray,
  type RecordBatch,
} from "apache-arrow";
import * as pw from "parquet-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepare } from "../../src/prepare/index.js";
import { decimalText } from "../../src/prepare/arrow-values.js";
import { tempDir } from "../helpers/tmp.js";
import { rejectedBy } from "../helpers/errors.js";
import { sidecarTable } from "../helpers/sidecar.js";
import { nestedText } from "../../src/protocol/nested-arrow.js";

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-prep-typed-"));
});
afterAll(async () => cleanup());

const out = (): string => path.join(dir, `out-${++n}`);
/** Deterministic rows: 10 of them, with nulls, int64 beyond 2^53, timestamps and nested values. */
const ROWS = 10;
const BIG = 9007199254740993n; // 2^53 + 1
function table(): Table {
  const ids = new BigInt64Array(ROWS).map((_, i) => (i === 3 ? BIG : i === 4 ? -9223372036854775808n : BigInt(i * 7)));
  const scores = new Float64Array(ROWS).map((_, i) => i * 0.1 + 0.5);
  const names = Array.from({ length: ROWS }, (_, i) => (i % 4 === 2 ? null : `n${i},"q"`));
  const flags = Array.from({ length: ROWS }, (_, i) => (i === 5 ? null : i % 2 === 0));
  // 2024-01-02T03:04:05.123Z plus i seconds, in ms; row 6 null
  const ts = Array.from({ length: ROWS }, (_, i) => (i === 6 ? null : new Date(Date.UTC(2024, 0, 2, 3, 4, 5 + i, 123))));
  const tags = Array.from({ length: ROWS }, (_, i) => (i === 7 ? null : Array.from({ length: i % 3 }, (_, k) => k + i)));
  const pts = Array.from({ length: ROWS }, (_, i) => ({ x: i, s: `p${i}` }));
  return new Table({
    id: makeVector(ids),
    score: makeVector(scores),
    name: vectorFromArray(names, new Utf8()),
    flag: vectorFromArray(flags, new Bool()),
    ts: vectorFromArray(ts, new TimestampMillisecond("UTC")),
    tags: vectorFromArray(tags, new List(new Field("item", new Int32(), true))),
    pt: vectorFromArray(pts, new Struct([new Field("x", new Int32(), true), new Field("s", new Utf8(), true)])),
  });
}

/** The same table cut into batches of 3 rows (several batches / row groups). */
function batched(t: Table): Table {
  const batches: RecordBatch[] = [];
  for (let i = 0; i < t.numRows; i += 3) batches.push(...t.slice(i, Math.min(t.numRows, i + 3)).batches);
  return new Table(batches);
}

const csvField = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
// a millisecond timestamp keeps its unit: three fraction digits in the shard, milliseconds in the sidecar
const tsText = (i: number): string => `2024-01-02T03:04:${String(5 + i).padStart(2, "0")}.123Z`;
const expectedFeatureRows = (): string[][] =>
  Array.from({ length: ROWS }, (_, i) => [
    i === 3 ? BIG.toString() : i === 4 ? "-9223372036854775808" : String(i * 7),
    String(i * 0.1 + 0.5),
    i % 4 === 2 ? "" : `"n${i},""q"""`,
    i === 5 ? "" : String(i % 2 === 0),
    i === 6 ? "" : tsText(i),
    i === 7 ? "" : csvField(JSON.stringify(Array.from({ length: i % 3 }, (_, k) => k + i))),
    `"${JSON.stringify({ x: i, s: `p${i}` }).replaceAll('"', '""')}"`,
  ]);

/** The nested types of the table's nested columns: Int32 leaves widen to int64, as top-level integers do. */
const NESTED_TYPES: Record<string, string> = { tags: "list<int64>", pt: 'struct<"x":int64,"s":utf8>' };

async function sidecarRows(o: string): Promise<Record<string, unknown>[]> {
  const files = (await fs.readdir(path.join(o, "sidecars"))).sort();
  const rows: Record<string, unknown>[] = [];
  for (const f of files) {
    const t = await sidecarTable(path.join(o, "sidecars", f));
    for (let i = 0; i < t.numRows; i++) {
      const r: Record<string, unknown> = {};
      for (const field of t.schema.fields) {
        const col = t.getChild(field.name)!;
        // nested columns (typed in the sidecar) as their JSON text
        const nested = NESTED_TYPES[field.name];
        r[field.name] = nested ? nestedText(nested, col.data[0]!)(i) : col.get(i);
        if (String(field.type).startsWith("Timestamp")) r[`${field.name}:raw`] = col.isValid(i) ? (col.data[0]!.values as BigInt64Array)[i]! : null;
      }
      rows.push(r);
    }
  }
  return rows;
}

async function checkOutputs(o: string, shardCount: number): Promise<void> {
  const files = (await fs.readdir(path.join(o, "shards"))).sort();
  expect(files.length).toBe(shardCount);
  const lines = (await Promise.all(files.map((f) => fs.readFile(path.join(o, "shards", f), "utf8")))).join("").split("\n").filter((l) => l !== "");
  expect(lines).toEqual(expectedFeatureRows().map((r) => r.join(",")));
  const side = await sidecarRows(o);
  expect(side.length).toBe(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const r = side[i]!;
    expect(r.__btkit_row).toBe(BigInt(i));
    expect(r.id).toBe(i === 3 ? BIG : i === 4 ? -9223372036854775808n : BigInt(i * 7));
    expect(r.score).toBe(i * 0.1 + 0.5);
    expect(r.name).toBe(i % 4 === 2 ? null : `n${i},"q"`);
    expect(r.flag).toBe(i === 5 ? null : i % 2 === 0);
    expect(r["ts:raw"]).toBe(i === 6 ? null : BigInt(Date.UTC(2024, 0, 2, 3, 4, 5 + i, 123)));
    expect(r.tags).toBe(i === 7 ? null : JSON.stringify(Array.from({ length: i % 3 }, (_, k) => k + i)));
    expect(r.pt).toBe(JSON.stringify({ x: i, s: `p${i}` }));
  }
}

// these tests check the sidecar's Arrow types, so every column is kept (by default only the columns that are not features are)
const ALL = ["id", "score", "name", "flag", "ts", "tags", "pt"];

describe("Arrow IPC and Parquet inputs", () => {
  it("maps the Arrow types and writes CSV shards and typed sidecars value by value (Arrow stream, several batches, 2 shards)", async () => {
    const f = path.join(dir, "t.arrows");
    await fs.writeFile(f, tableToIPC(batched(table()), "stream"));
    const o = out();
    const d = await prepare({ inputs: [f], out: o, shardRows: 5, keep: ALL });
    expect(d.schema.columns.map((c) => [c.name, c.type])).toEqual([
      ["id", "int64"],
      ["score", "float64"],
      ["name", "utf8"],
      ["flag", "bool"],
      ["ts", "timestamp(ms)"],
      ["tags", "list<int64>"],
      ["pt", 'struct<"x":int64,"s":utf8>'],
    ]);
    expect(d.source.inputs[0]!.format).toBe("arrow");
    expect(d.source.rowsRead).toBe(ROWS);
    await checkOutputs(o, 2);
  });

  it("reads the Arrow IPC file format from a local file and from a gzip copy (detected by bytes, no telling name)", async () => {
    const ipc = tableToIPC(batched(table()), "file");
    const f = path.join(dir, "t.arrow");
    await fs.writeFile(f, ipc);
    const o = out();
    const d = await prepare({ inputs: [f], out: o, shardRows: 4, keep: ALL });
    await checkOutputs(o, 3);
    const g = path.join(dir, "t-file-bin.gz");
    await fs.writeFile(g, gzipSync(ipc));
    const o2 = out();
    const d2 = await prepare({ inputs: [g], out: o2, shardRows: 4, keep: ALL });
    expect(d2.source.inputs[0]).toMatchObject({ format: "arrow", compression: "gzip", rows: ROWS });
    await checkOutputs(o2, 3);
    expect(d2.shards.map((s) => s.sha256)).toEqual(d.shards.map((s) => s.sha256));
  });

  it("reads Parquet row group by row group (3 row groups) into JSON Lines with exact digits", async () => {
    const pq = pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(table(), "stream")), new pw.WriterPropertiesBuilder().setMaxRowGroupSize(4).build());
    const f = path.join(dir, "t.parquet");
    await fs.writeFile(f, pq);
    const file = await pw.ParquetFile.fromFile(await openAsBlob(f));
    expect(file.metadata().numRowGroups()).toBe(3);
    file.free();
    const o = out();
    const d = await prepare({ inputs: [f], out: o, format: "jsonl", features: ["id", "score", "name", "flag", "ts", "tags", "pt"], keep: ALL });
    expect(d.source.inputs[0]).toMatchObject({ format: "parquet", rows: ROWS });
    const lines = (await fs.readFile(path.join(o, "shards/part-00000.jsonl"), "utf8")).trimEnd().split("\n");
    expect(lines[3]).toBe(`{"id":9007199254740993,"score":0.8,"name":"n3,\\"q\\"","flag":false,"ts":"${tsText(3)}","tags":[],"pt":{"x":3,"s":"p3"}}`);
    expect(lines[2]).toBe(`{"id":14,"score":0.7,"name":null,"flag":true,"ts":"${tsText(2)}","tags":[2,3],"pt":{"x":2,"s":"p2"}}`);
    expect(lines[7]).toContain(`"tags":null`);
    const side = await sidecarRows(o);
    expect(side.map((r) => r.id)).toEqual(Array.from({ length: ROWS }, (_, i) => (i === 3 ? BIG : i === 4 ? -9223372036854775808n : BigInt(i * 7))));
    expect(side[6]!.ts).toBeNull();
    expect(side[6]!["ts:raw"]).toBeNull();
    expect(side[0]!["ts:raw"]).toBe(BigInt(Date.UTC(2024, 0, 2, 3, 4, 5, 123)));
    // CSV model input from the same Parquet file equals the Arrow stream's
    const o2 = out();
    await prepare({ inputs: [f], out: o2, shardRows: 5, keep: ALL });
    await checkOutputs(o2, 2);
  });

  it("keeps decimals exact as decimal(P,S), dates as dates, and nanosecond timestamps in nanoseconds", async () => {
    const dec = makeData({ type: new Decimal(2, 10, 128), length: 2, nullCount: 0, data: new Uint32Array([12345, 0, 0, 0, 0xffffff85, 0xffffffff, 0xffffffff, 0xffffffff]) });
    const wide = makeData({ type: new Decimal(3, 30, 128), length: 2, nullCount: 0, data: new Uint32Array([0xffffffff, 0xffffffff, 0x1, 0, 5, 0, 0, 0]) });
    const t = new Table({
      d: makeVector(dec),
      w: makeVector(wide),
      day: vectorFromArray([new Date(Date.UTC(2020, 1, 29)), new Date(Date.UTC(1969, 11, 31))], new DateDay()),
      ns: makeVector(makeData({ type: new TimestampNanosecond("UTC"), length: 2, nullCount: 0, data: new BigInt64Array([1700000000123456789n, -1n]) })),
    });
    const f = path.join(dir, "dec.arrow");
    await fs.writeFile(f, tableToIPC(t, "file"));
    const o = out();
    const d = await prepare({ inputs: [f], out: o, format: "jsonl", keep: ["d", "w", "day", "ns"] });
    expect(d.schema.columns.map((c) => c.type)).toEqual(["decimal(10,2)", "decimal(30,3)", "date", "timestamp(ns)"]);
    const lines = (await fs.readFile(path.join(o, "shards/part-00000.jsonl"), "utf8")).trimEnd().split("\n");
    expect(lines).toEqual([
      // JSON numbers with their exact digits, the wide one too (a double would round it)
      `{"d":123.45,"w":36893488147419103.231,"day":"2020-02-29","ns":"2023-11-14T22:13:20.123456789Z"}`,
      `{"d":-1.23,"w":0.005,"day":"1969-12-31","ns":"1969-12-31T23:59:59.999999999Z"}`,
    ]);
    const side = await sidecarTable(path.join(o, "sidecars/part-00000.parquet"));
    // Decimal128 in the sidecar: the same unscaled integers as the input's
    expect(String(side.getChild("d")!.type)).toBe("Decimal[10e+2]");
    expect([...(side.getChild("d")!.data[0]!.values as Uint32Array)]).toEqual([...(dec.values as Uint32Array)]);
    expect([...(side.getChild("w")!.data[0]!.values as Uint32Array)]).toEqual([...(wide.values as Uint32Array)]);
    // a date stays a date (days since 1970, Date32), not a timestamp at midnight UTC
    expect(String(side.getChild("day")!.type)).toBe("Date32<DAY>");
    expect([...(side.getChild("day")!.data[0]!.values as Int32Array)]).toEqual([Date.UTC(2020, 1, 29) / 86400000, -1]);
    // nanoseconds in the sidecar, with the zone
    expect(String(side.getChild("ns")!.type)).toBe("Timestamp<NANOSECOND, UTC>");
    expect([...(side.getChild("ns")!.data[0]!.values as BigInt64Array)]).toEqual([1700000000123456789n, -1n]);
  });

  it("unit: decimal text", () => {
    expect(decimalText(-5n, 3)).toBe("-0.005");
    expect(decimalText(120n, 0)).toBe("120");
    expect(decimalText(12n, -2)).toBe("1200");
  });

  it("rejects a column it cannot represent with PREP_FORMAT naming the column and its Arrow type", async () => {
    const bin = new Table({ a: makeVector(new Int32Array([1])), blob: vectorFromArray([new Uint8Array([1, 2])], new Binary()) });
    const f = path.join(dir, "bin.arrow");
    await fs.writeFile(f, tableToIPC(bin, "file"));
    const e = await rejectedBy(prepare({ inputs: [f], out: out() }));
    expect(e.code).toBe("PREP_FORMAT");
    expect(e.context).toMatchObject({ column: "blob", got: "Binary" });
    expect(e.message).toContain('column "blob" has Arrow type Binary');
    // binary has no text form: the message names --drop only, which works on the same file
    expect(e.message).toContain('drop it with drop: "blob" (--drop blob)');
    expect(e.message).not.toContain("--schema");
    const d = await prepare({ inputs: [f], out: out(), drop: ["blob"] });
    expect(d.schema.columns.map((c) => [c.name, c.type])).toEqual([["a", "int64"]]);
    expect(d.source.rowsWritten).toBe(1);
    // neither a feature nor kept: not decoded either
    const d2 = await prepare({ inputs: [f], out: out(), features: ["a"], keep: ["a"] });
    expect(d2.schema.columns.find((c) => c.name === "blob")).toMatchObject({ type: "null", roles: [] });
  });

  it("a value it cannot carry (NaN) is a PREP_TYPE row error, skippable and counted; a uint64 above 2^63-1 is carried", async () => {
    const t = new Table({
      id: makeVector(new Int32Array([1, 2, 3])),
      f: makeVector(new Float64Array([1.5, Number.NaN, 2])),
      u: makeVector(makeData({ type: new Uint64(), length: 3, nullCount: 0, data: new BigUint64Array([1n, 2n, 18446744073709551615n]) })),
    });
    const f = path.join(dir, "bad.arrows");
    await fs.writeFile(f, tableToIPC(t, "stream"));
    const e = await rejectedBy(prepare({ inputs: [f], out: out() }));
    expect(e.code).toBe("PREP_TYPE");
    expect(e.context).toMatchObject({ line: 2, column: "f", got: "Float64" });
    const o = out();
    const d = await prepare({ inputs: [f], out: o, onInvalid: "skip" });
    expect(d.source).toMatchObject({ rowsRead: 3, rowsWritten: 2, rowsSkipped: 1 });
    expect(d.source.skipped).toEqual([{ reason: "PREP_TYPE", count: 1 }]);
    expect(d.schema.columns.map((c) => c.type)).toEqual(["int64", "float64", "uint64"]);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1,1.5,1\n3,2,18446744073709551615\n");
    const rejects = (await fs.readFile(path.join(o, "rejects.jsonl"), "utf8")).trimEnd().split("\n").map((l) => JSON.parse(l) as { line: number; column: string });
    expect(rejects.map((r) => [r.line, r.column])).toEqual([[2, "f"]]);
  });

  it("a time of day of 24:00:00 or more, or before midnight, is a PREP_TYPE row error (never wrapped); a timestamp beyond 9999 is one too, and --schema NAME:utf8 reads it as text", async () => {
    const t = new Table({
      id: makeVector(new Int32Array([1, 2, 3])),
      tm: makeVector(makeData({ type: new Time(TimeUnit.SECOND, 32), length: 3, nullCount: 0, data: new Int32Array([86400, -1, 3600]) })),
    });
    const f = path.join(dir, "tod.arrows");
    await fs.writeFile(f, tableToIPC(t, "stream"));
    const e = await rejectedBy(prepare({ inputs: [f], out: out() }));
    expect(e.code).toBe("PREP_TYPE");
    expect(e.message).toContain('row 1, column "tm" (Arrow Time32<SECOND>): 86400 s since midnight is not a time of day from 00:00:00 to 23:59:59');
    const o = out();
    const d = await prepare({ inputs: [f], out: o, onInvalid: "skip" });
    expect(d.schema.columns.map((c) => c.type)).toEqual(["int64", "time(s)"]);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("3,01:00:00\n");
    // year 10000 in milliseconds: PREP_TYPE naming --schema ts:utf8, which then keeps it as text
    const far = new Table({ ts: makeVector(makeData({ type: new TimestampMillisecond(), length: 1, nullCount: 0, data: new BigInt64Array([253402300800000n]) })) });
    const g = path.join(dir, "far.arrows");
    await fs.writeFile(g, tableToIPC(far, "stream"));
    const e2 = await rejectedBy(prepare({ inputs: [g], out: out() }));
    expect(e2.code).toBe("PREP_TYPE");
    expect(e2.message).toContain("--schema ts:utf8");
    const o2 = out();
    await prepare({ inputs: [g], out: o2, schema: "ts:utf8" });
    expect(await fs.readFile(path.join(o2, "shards/part-00000.csv"), "utf8")).toBe("10000-01-01T00:00:00.000\n");
  });

  it("--schema can read an int column as utf8 (JSON string) but not as bool; inputs must agree on columns and types", async () => {
    const a = path.join(dir, "a.arrows");
    const b = path.join(dir, "b.arrows");
    await fs.writeFile(a, tableToIPC(new Table({ k: makeVector(new BigInt64Array([5n, 6n])), v: makeVector(new Float64Array([1, 2])) }), "stream"));
    await fs.writeFile(b, tableToIPC(new Table({ k: makeVector(new BigInt64Array([7n])), v: makeVector(new Int32Array([3])) }), "stream"));
    const o = out();
    await prepare({ inputs: [a], out: o, format: "jsonl", schema: "k:utf8" });
    expect(await fs.readFile(path.join(o, "shards/part-00000.jsonl"), "utf8")).toBe('{"k":"5","v":1}\n{"k":"6","v":2}\n');
    const e1 = await rejectedBy(prepare({ inputs: [a], out: out(), schema: "k:bool" }));
    expect(e1.code).toBe("PREP_SCHEMA");
    expect(e1.context).toMatchObject({ column: "k", option: "schema" });
    const e2 = await rejectedBy(prepare({ inputs: [a, b], out: out() }));
    expect(e2.code).toBe("PREP_SCHEMA");
    expect(e2.context).toMatchObject({ column: "v", expected: "v:float64", got: "v:int64" });
  });

  it("a .parquet name on bytes that are not Parquet is PREP_FORMAT; an empty Parquet file gives the columns and no rows", async () => {
    const f = path.join(dir, "fake.parquet");
    await fs.writeFile(f, "a,b\n1,2\n");
    const e = await rejectedBy(prepare({ inputs: [f], out: out() }));
    expect(e.code).toBe("PREP_FORMAT");
    expect(e.context).toMatchObject({ expected: "PAR1" });
    const empty = new Table({ a: makeVector(new BigInt64Array(0)), b: vectorFromArray([] as string[], new Utf8()) });
    const g = path.join(dir, "empty.parquet");
    await fs.writeFile(g, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(empty, "stream"))));
    const d = await prepare({ inputs: [g], out: out() });
    expect(d.schema.columns.map((c) => [c.name, c.type])).toEqual([
      ["a", "int64"],
      ["b", "utf8"],
    ]);
    expect(d.source.rowsRead).toBe(0);
  });

  it("balanced shards (--instances) over a Parquet input cut at row boundaries", async () => {
    const big = new Table({ i: makeVector(new BigInt64Array(2000).map((_, k) => BigInt(k))), s: vectorFromArray(Array.from({ length: 2000 }, (_, k) => `row-${k}`), new Utf8()) });
    const f = path.join(dir, "big.parquet");
    await fs.writeFile(f, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(big, "stream")), new pw.WriterPropertiesBuilder().setMaxRowGroupSize(300).build()));
    const d = await prepare({ inputs: [f], out: out(), instances: 2, shardSize: 1 << 30 });
    expect(d.shards.length).toBe(2);
    expect(d.shards[0]!.rows + d.shards[1]!.rows).toBe(2000);
    expect(d.shards[0]!.rows).toBeGreaterThan(500);
    expect(d.shards[1]!.rows).toBeGreaterThan(500);
  });
});
