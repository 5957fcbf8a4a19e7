import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepare, type PrepareOptions } from "../../src/prepare/index.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { tempDir } from "../helpers/tmp.js";
import { rejectedBy } from "../helpers/errors.js";
import { sidecarTable } from "../helpers/sidecar.js";

const FIX = path.resolve(import.meta.dirname, "../../fixtures/prepare");
let dir: string;
let cleanup: () => Promise<void>;
let n = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-prep-"));
});
afterAll(async () => cleanup());

async function write(name: string, text: string | Buffer): Promise<string> {
  const p = path.join(dir, name);
  await fs.writeFile(p, text);
  return p;
}

function out(): string {
  return path.join(dir, `out-${++n}`);
}

const read = (p: string): Promise<Buffer> => fs.readFile(p);

describe("prepare", () => {
  it("writes the golden CSV shard, a typed sidecar, the manifest and a valid descriptor", async () => {
    const o = out();
    const d = await prepare({ inputs: [path.join(FIX, "small.csv")], out: o, features: ["name", "score"] });
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe(await fs.readFile(path.join(FIX, "small.name-score.golden.csv"), "utf8"));
    expect(JSON.parse(await fs.readFile(path.join(o, "manifest.json"), "utf8"))).toEqual([{ prefix: `file://${o}/shards/` }, "part-00000.csv"]);
    expect(d.schema.columns.map((c) => [c.name, c.type, c.roles])).toEqual([
      // by default the sidecar holds what the model does not see: the features are in the shard already
      ["id", "int64", ["keep"]],
      ["name", "utf8", ["feature"]],
      ["score", "float64", ["feature"]],
      ["flag", "bool", ["keep"]],
      ["when", "timestamp", ["keep"]],
      // non-negative integers, one above int64: uint64 (its digits kept, not text)
      ["big", "uint64", ["keep"]],
    ]);
    expect(d.modelInput).toEqual({ contentType: "text/csv", splitType: "Line", compression: "None", features: ["name", "score"], maxRecordBytes: 16 });
    const shard = d.shards[0]!;
    const bytes = await read(path.join(o, "shards/part-00000.csv"));
    expect(shard).toMatchObject({ name: "part-00000.csv", rows: 3, firstRow: 0, bytes: bytes.length, maxRecordBytes: 16, sidecar: `file://${o}/sidecars/part-00000.parquet` });
    expect(shard.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(d.source).toMatchObject({ rowsRead: 3, rowsWritten: 3, rowsSkipped: 0, skipped: [] });
    expect(d.source.inputs).toEqual([{ location: `file://${FIX}/small.csv`, format: "csv", compression: "none", rows: 3, bytes: (await fs.stat(path.join(FIX, "small.csv"))).size }]);
    // btkit.json is the same document, valid
    expect(parseDescriptor(await fs.readFile(path.join(o, "btkit.json"), "utf8"))).toEqual(d);
    const t = await sidecarTable(path.join(o, "sidecars/part-00000.parquet"));
    expect(t.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(["id:Int64", "flag:Bool", "when:Timestamp<MICROSECOND, UTC>", "big:Uint64", "__btkit_row:Int64"]);
    expect(t.getChild("id")!.toArray()).toEqual(new BigInt64Array([1n, 2n, 3n]));
    expect([...t.getChild("flag")!]).toEqual([true, false, true]);
    // --keep stores features too, typed
    const withFeatures = out();
    await prepare({ inputs: [path.join(FIX, "small.csv")], out: withFeatures, features: ["name", "score"], keep: ["id", "name", "score"] });
    const t2 = await sidecarTable(path.join(withFeatures, "sidecars/part-00000.parquet"));
    expect([...t2.getChild("name")!]).toEqual(["a, b", null, 'x "y"']);
    expect([...t2.getChild("score")!]).toEqual([1.5, 2, -500]);
    expect(t.getChild("when")!.get(1)).toBe(Date.UTC(2024, 0, 2));
    expect(t.getChild("when")!.get(2)).toBe(null);
    expect([...t.getChild("big")!]).toEqual([9007199254740993n, null, 12345678901234567890n]);
    expect(t.getChild("__btkit_row")!.toArray()).toEqual(new BigInt64Array([0n, 1n, 2n]));
  });

  it("writes JSON Lines with JSON types from the schema and exact digits", async () => {
    const o = out();
    const d = await prepare({ inputs: [path.join(FIX, "small.csv")], out: o, format: "jsonl", features: ["id", "name", "score", "flag", "big"] });
    expect(await fs.readFile(path.join(o, "shards/part-00000.jsonl"), "utf8")).toBe(await fs.readFile(path.join(FIX, "small.golden.jsonl"), "utf8"));
    expect(d.modelInput.contentType).toBe("application/jsonlines");
    const src = await write("big.jsonl", '{"k":9007199254740993,"v":"a"}\n{"k":-9223372036854775808,"v":"b"}\n');
    const o2 = out();
    const d2 = await prepare({ inputs: [src], out: o2, format: "jsonl", keep: ["k"] });
    expect(d2.schema.columns.map((c) => c.type)).toEqual(["int64", "utf8"]);
    expect(await fs.readFile(path.join(o2, "shards/part-00000.jsonl"), "utf8")).toBe('{"k":9007199254740993,"v":"a"}\n{"k":-9223372036854775808,"v":"b"}\n');
    const t = await sidecarTable(path.join(o2, "sidecars/part-00000.parquet"));
    expect(t.getChild("k")!.toArray()).toEqual(new BigInt64Array([9007199254740993n, -9223372036854775808n]));
  });

  it("gzips deterministically: one gzip member, mtime 0, same bytes on every run, same content as plain", async () => {
    const rows = ["a,b,c"];
    for (let i = 0; i < 60000; i++) rows.push(`${i},name ${i % 97},${(i * 7919) % 10007}.5`);
    const src = await write("gz.csv", `${rows.join("\n")}\n`);
    const [o1, o2, o3] = [out(), out(), out()];
    const d1 = await prepare({ inputs: [src], out: o1, gzipLevel: 6, shardSize: 600_000 });
    const d2 = await prepare({ inputs: [src], out: o2, gzipLevel: 6, shardSize: 600_000 });
    await prepare({ inputs: [src], out: o3, shardSize: 600_000 });
    expect(d1.shards.length).toBeGreaterThan(1);
    expect(d1.shards.map((s) => s.sha256)).toEqual(d2.shards.map((s) => s.sha256));
    expect(d1.modelInput.compression).toBe("Gzip");
    let all = "";
    for (const s of d1.shards) {
      const gz = await read(path.join(o1, "shards", s.name));
      expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
      all += gunzipSync(gz).toString("utf8");
    }
    let plain = "";
    for (const s of d1.shards) plain += await fs.readFile(path.join(o3, "shards", s.name.replace(/\.gz$/, "")), "utf8");
    expect(all).toBe(plain);
    expect(all).toBe(`${rows.slice(1).join("\n")}\n`);
  });

  it("makes the shard count a multiple of --instances, balanced, also from stdin (spilled)", async () => {
    const rows = ["id,v"];
    for (let i = 0; i < 10000; i++) rows.push(`${i},${"x".repeat(i % 13)}`);
    const text = `${rows.join("\n")}\n`;
    const src = await write("inst.csv", text);
    for (const [inputs, stdin] of [[[src], undefined], [["-"], [Buffer.from(text)]]] as const) {
      const o = out();
      const d = await prepare({ inputs: [...inputs], out: o, instances: 3, shardSize: 20_000, stdin });
      expect(d.shards.length % 3).toBe(0);
      expect(d.shards.length).toBe(Math.ceil(Math.ceil(text.length / 20_000) / 3) * 3);
      const sizes = d.shards.map((s) => s.bytes);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(200);
      expect(d.shards.map((s) => s.firstRow)).toEqual(d.shards.map((_, i) => d.shards.slice(0, i).reduce((a, s) => a + s.rows, 0)));
      expect(d.source.rowsWritten).toBe(10000);
    }
    const few = await prepare({ inputs: [src], out: out(), instances: 4 });
    expect(few.shards.length).toBe(4);
  });

  it("--instances K with --shard-rows N: at most N rows a shard, the count a multiple of K, balanced after the first cut", async () => {
    const rows = ["id,v"];
    for (let i = 0; i < 10000; i++) rows.push(`${i},${"x".repeat(i % 13)}`);
    const src = await write("inst-rows.csv", `${rows.join("\n")}\n`);
    const d = await prepare({ inputs: [src], out: out(), instances: 3, shardRows: 1000 });
    // 3 planned by bytes; shard 0 reaches 1000 rows at about a tenth of the bytes, so about 9 more
    // of its size follow, rounded up to 12 in all: 1000 rows, then 11 byte-balanced ones
    expect(d.shards.length).toBe(12);
    expect(d.shards[0]!.rows).toBe(1000);
    const rest = d.shards.slice(1).map((s) => s.rows);
    expect(Math.max(...rest)).toBeLessThanOrEqual(1000);
    expect(Math.max(...rest) - Math.min(...rest)).toBeLessThan(40);
    expect(d.shards.reduce((a, s) => a + s.rows, 0)).toBe(10000);
    expect(d.source.options).toMatchObject({ shardRows: 1000, instances: 3, shardCount: 12, plannedShards: 12 });
    // rows that fit the planned shards change nothing: 3 shards of about 3,333 rows
    const wide = await prepare({ inputs: [src], out: out(), instances: 3, shardRows: 5000 });
    expect(wide.shards.map((s) => s.rows).every((r) => r > 3200 && r < 3500)).toBe(true);
    expect(wide.shards.length).toBe(3);
  });

  it("--instances with --shard-rows: rows denser than the first shard's grow the count by multiples of K, never past N rows", async () => {
    // long rows first, short ones after: the first cut underestimates the rows left
    const lines = ["id,v"];
    for (let i = 0; i < 300; i++) lines.push(`${i},${"y".repeat(60)}`);
    for (let i = 300; i < 3000; i++) lines.push(`${i},z`);
    const src = await write("dense-later.csv", `${lines.join("\n")}\n`);
    for (const [k, n] of [[2, 100], [3, 250], [4, 40], [5, 1000]] as const) {
      const d = await prepare({ inputs: [src], out: out(), instances: k, shardRows: n });
      const counts = d.shards.map((s) => s.rows);
      expect(Math.max(...counts)).toBeLessThanOrEqual(n);
      expect(counts.reduce((a, r) => a + r, 0)).toBe(3000);
      expect(d.shards.length % k).toBe(0);
      expect(d.source.options.plannedShards).toBe(d.shards.length);
      expect(d.shards.map((s) => s.firstRow)).toEqual(d.shards.map((_, i) => counts.slice(0, i).reduce((a, r) => a + r, 0)));
    }
  });

  it("library errors name the option a caller sets, and its flag; setting that option passes", async () => {
    const rows = ["id,price", ...Array.from({ length: 8 }, (_, i) => `${i},${i}`), "8,2.5"];
    const src = await write("lib-hint.csv", `${rows.join("\n")}\n`);
    const typeErr = await rejectedBy(prepare({ inputs: [src], out: out(), sampleRows: 4 }));
    expect(typeErr.code).toBe("PREP_TYPE");
    expect(typeErr.context.option).toBe("schema");
    expect(typeErr.message).toContain('declare the type with schema: "price:float64" (--schema price:float64)');
    const o = out();
    const typed = await prepare({ inputs: [src], out: o, sampleRows: 4, schema: "price:float64" });
    expect(typed.schema.columns.find((c) => c.name === "price")?.type).toBe("float64");
    const exists = await rejectedBy(prepare({ inputs: [src], out: o, sampleRows: 4, schema: "price:utf8" }));
    expect(exists.code).toBe("PREP_OUT_EXISTS");
    expect(exists.context.option).toBe("overwrite");
    expect(exists.message).toContain("use overwrite: true (--overwrite) to replace it");
    const again = await prepare({ inputs: [src], out: o, sampleRows: 4, schema: "price:utf8", overwrite: true });
    expect(again.schema.columns.find((c) => c.name === "price")?.type).toBe("utf8");
  });

  it("applies the newline policy for CSV output, naming input, row and column", async () => {
    const src = await write("nl.csv", 'a,b\n1,"x\ny"\n2,"p\r\nq"\n');
    const err = await rejectedBy(prepare({ inputs: [src], out: out() }));
    expect(err.code).toBe("PREP_NEWLINE");
    expect(err.context).toMatchObject({ input: src, row: 1, line: 2, column: "b" });
    const o = out();
    const d = await prepare({ inputs: [src], out: o, newlines: "replace" });
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1,x y\n2,p q\n");
    expect(d.source.notes).toContainEqual({ reason: "values with line breaks replaced", count: 2 });
    const o2 = out();
    await prepare({ inputs: [src], out: o2, newlines: "escape" });
    expect(await fs.readFile(path.join(o2, "shards/part-00000.csv"), "utf8")).toBe("1,x\\ny\n2,p\\r\\nq\n");
    const o3 = out();
    await prepare({ inputs: [src], out: o3, format: "jsonl" });
    expect(await fs.readFile(path.join(o3, "shards/part-00000.jsonl"), "utf8")).toBe('{"a":1,"b":"x\\ny"}\n{"a":2,"b":"p\\r\\nq"}\n');
  });

  it("fails on a value that does not fit its inferred type, naming row and column; --text and --schema avoid it", async () => {
    const src = await write("type.csv", "a,b\n1,x\n2,y\nthree,z\n");
    const err = await rejectedBy(prepare({ inputs: [src], out: out(), sampleRows: 2 }));
    expect(err.code).toBe("PREP_TYPE");
    expect(err.context).toMatchObject({ row: 3, line: 4, column: "a", expected: "int64", got: "three" });
    const d = await prepare({ inputs: [src], out: out(), sampleRows: 2, text: true });
    expect(d.schema.columns.map((c) => c.type)).toEqual(["utf8", "utf8"]);
    const d2 = await prepare({ inputs: [src], out: out(), sampleRows: 2, schema: "a:utf8" });
    expect(d2.schema.columns.map((c) => c.type)).toEqual(["utf8", "utf8"]);
    expect((await rejectedBy(prepare({ inputs: [src], out: out(), schema: "zz:int64" }))).code).toBe("PREP_SCHEMA");
    expect((await rejectedBy(prepare({ inputs: [src], out: out(), schema: "a:integer" }))).code).toBe("PREP_SCHEMA");
  });

  it("skips invalid rows to rejects.jsonl with --on-invalid skip, counted by reason", async () => {
    const src = await write("skip.csv", "a,b\n1,x\n2\n3,y,z\nfour,w\n5,v\n\n6,u\n");
    const err = await rejectedBy(prepare({ inputs: [src], out: out(), sampleRows: 1 }));
    expect(err.code).toBe("PREP_RAGGED_ROW");
    expect(err.context).toMatchObject({ line: 3, expected: 2, got: 1 });
    const o = out();
    const d = await prepare({ inputs: [src], out: o, sampleRows: 1, onInvalid: "skip" });
    expect(d.source).toMatchObject({ rowsRead: 7, rowsWritten: 3, rowsSkipped: 4, rejectLocation: `file://${o}/rejects.jsonl` });
    expect(d.source.skipped).toEqual([
      { reason: "PREP_RAGGED_ROW", count: 3 },
      { reason: "PREP_TYPE", count: 1 },
    ]);
    const rejects = (await fs.readFile(path.join(o, "rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { line: number; code: string });
    expect(rejects.map((r) => [r.line, r.code])).toEqual([[3, "PREP_RAGGED_ROW"], [4, "PREP_RAGGED_ROW"], [5, "PREP_TYPE"], [7, "PREP_RAGGED_ROW"]]);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1,x\n5,v\n6,u\n");
    const d2 = await prepare({ inputs: [src], out: out(), sampleRows: 1, onInvalid: "skip", blankLines: "skip" });
    expect(d2.source.skipped).toContainEqual({ reason: "blank line", count: 1 });
  });

  it("a JSON Lines line that is no JSON object stops the run naming --on-invalid skip, which skips it to rejects.jsonl and reads on (CLI and library)", async () => {
    // an array, a trailing comma, a bare word, each on a line of its own; inside and past the type sample
    const src = await write("bad.jsonl", '{"a":1,"b":"x"}\n[1,2]\n{"a":2,"b":"y"}\n{"a":3,}\n{"a":4,"b":"z"}\n\n{"a":5,"b":"w"}\nnope\n{"a":6,"b":"v"}\n');
    for (const sampleRows of [1, 1000]) {
      // the first invalid line is the one reported, also with a blank line later in the type sample
      const err = await rejectedBy(prepare({ inputs: [src], out: out(), sampleRows }));
      expect(err.code).toBe("PREP_JSON");
      expect(err.context).toMatchObject({ line: 2 });
      expect(err.message).toMatch(/line 2: expected a JSON object, got an array; fix the line, or skip such lines with onInvalid: "skip" \(--on-invalid skip\)/);
      const o = out();
      const d = await prepare({ inputs: [src], out: o, sampleRows, onInvalid: "skip", blankLines: "skip" });
      // nine lines read: five rows written, three lines that are no object and one blank line skipped
      expect(d.source).toMatchObject({ rowsRead: 9, rowsWritten: 5, rowsSkipped: 4 });
      expect([...d.source.skipped].sort((x, y) => x.reason.localeCompare(y.reason))).toEqual([{ reason: "blank line", count: 1 }, { reason: "PREP_JSON", count: 3 }]);
      const rejects = (await fs.readFile(path.join(o, "rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { line: number; code: string });
      expect(rejects.map((r) => [r.line, r.code])).toEqual([[2, "PREP_JSON"], [4, "PREP_JSON"], [8, "PREP_JSON"]]);
      expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1,x\n2,y\n4,z\n5,w\n6,v\n");
    }
    const { runCli } = await import("../helpers/cli.js");
    const failed = await runCli(["prep", src, "--out", out(), "--blank-lines", "skip"]);
    expect(failed.code).toBe(65);
    expect(failed.stderr).toMatch(/\[PREP_JSON\].*line 2: expected a JSON object, got an array; fix the line, or skip such lines with .*\(--on-invalid skip\)/);
    const o = out();
    const skipped = await runCli(["prep", src, "--out", o, "--blank-lines", "skip", "--on-invalid", "skip", "--quiet"]);
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout).source).toMatchObject({ rowsWritten: 5, rowsSkipped: 4 });
    expect((await fs.readFile(path.join(o, "rejects.jsonl"), "utf8")).trim().split("\n")).toHaveLength(3);
  });

  it("JSON Lines on stdin whose first line is an array is read as a JSON array, and its error names --input-format jsonl, which reads it as JSON Lines", async () => {
    const { runCli } = await import("../helpers/cli.js");
    const stdin = '[1,2]\n{"a":1}\n{"a":2}\n';
    const asArray = await runCli(["prep", "-", "--out", out(), "--on-invalid", "skip"], { stdin });
    expect(asArray.code).toBe(65);
    expect(asArray.stderr).toMatch(/\[PREP_JSON\]: stdin: element 1 .*expected a JSON object, got number; read as a JSON array because it starts with "\[" \(if it is JSON Lines, say .*--input-format jsonl\)/);
    const o = out();
    const asLines = await runCli(["prep", "-", "--out", o, "--on-invalid", "skip", "--input-format", "jsonl", "--quiet"], { stdin });
    expect(asLines.code).toBe(0);
    expect(JSON.parse(asLines.stdout).source).toMatchObject({ rowsWritten: 2, rowsSkipped: 1 });
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1\n2\n");
  });

  it("rejects lines in line order with their row numbers while the type sample fills: a value that does not fit, a blank line, a line that is no object", async () => {
    const src = await write("ord.jsonl", '{"id":1,"a":1}\n{"id":2,"a":"zz"}\n\nbad\n{"id":4,"a":4}\n');
    for (const sampleRows of [1, 1000]) {
      const o = out();
      const d = await prepare({ inputs: [src], out: o, sampleRows, onInvalid: "skip", schema: { a: "int64", id: "int64" } });
      expect(d.source).toMatchObject({ rowsRead: 5, rowsWritten: 2, rowsSkipped: 3 });
      const rejects = (await fs.readFile(path.join(o, "rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { line: number; code: string; message: string });
      expect(rejects.map((r) => [r.line, r.code])).toEqual([[2, "PREP_TYPE"], [3, "PREP_JSON"], [4, "PREP_JSON"]]);
      expect(rejects[0]!.message).toMatch(/line 2 \(row 2\)/);
      expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1,1\n4,4\n");
    }
  });

  it("ignores and counts trailing blank lines (C26) and accepts a header-only file with zero shards (C22)", async () => {
    const d = await prepare({ inputs: [await write("tb.csv", "a\n1\n2\n\n\n")], out: out() });
    expect(d.source.rowsWritten).toBe(2);
    expect(d.source.notes).toContainEqual({ reason: "trailing blank lines ignored", count: 2 });
    const o = out();
    const h = await prepare({ inputs: [await write("ho.csv", "a,b\n")], out: o });
    expect(h.shards).toEqual([]);
    expect(h.source.rowsWritten).toBe(0);
    expect(JSON.parse(await fs.readFile(path.join(o, "manifest.json"), "utf8"))).toEqual([{ prefix: `file://${o}/shards/` }]);
  });

  it("rejects empty, blank, duplicate and empty-named headers unless renamed (C19, C21, C23, C24)", async () => {
    expect((await rejectedBy(prepare({ inputs: [await write("e.csv", "")], out: out() }))).code).toBe("PREP_HEADER");
    expect((await rejectedBy(prepare({ inputs: [await write("ws.csv", "\n\n")], out: out() }))).code).toBe("PREP_HEADER");
    const dup = await rejectedBy(prepare({ inputs: [await write("dup.csv", "a,b,a\n1,2,3\n")], out: out() }));
    expect(dup.code).toBe("PREP_HEADER");
    expect(dup.context.column).toBe("a");
    expect(dup.message).toContain("columns 1 and 3");
    expect((await rejectedBy(prepare({ inputs: [await write("emp.csv", "a,,c\n1,2,3\n")], out: out() }))).code).toBe("PREP_HEADER");
    const d = await prepare({ inputs: [path.join(dir, "dup.csv")], out: out(), columns: ["a", "b", "a2"] });
    expect(d.schema.columns.map((c) => c.name)).toEqual(["a", "b", "a2"]);
  });

  it("checks the record size against --max-payload-mb (C31)", async () => {
    const src = await write("big.csv", `a\n${"x".repeat(2000)}\nshort\n`);
    const err = await rejectedBy(prepare({ inputs: [src], out: out(), maxPayloadMb: 0.001 }));
    expect(err.code).toBe("PREP_RECORD_TOO_LARGE");
    expect(err.context).toMatchObject({ row: 1, line: 2, expected: 1000, got: 2000 });
  });

  it("handles --features, --keep and --drop, and names unknown columns", async () => {
    const src = path.join(FIX, "small.csv");
    const o = out();
    const d = await prepare({ inputs: [src], out: o, features: ["score", "id"], keep: ["id"], drop: ["big"] });
    expect(d.schema.columns.map((c) => [c.name, c.roles])).toEqual([["id", ["feature", "keep"]], ["name", []], ["score", ["feature"]], ["flag", []], ["when", []]]);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1.5,1\n2,2\n-0.5e3,3\n");
    const t = await sidecarTable(path.join(o, "sidecars/part-00000.parquet"));
    expect(t.schema.fields.map((f) => f.name)).toEqual(["id", "__btkit_row"]);
    const err = await rejectedBy(prepare({ inputs: [src], out: out(), features: ["nope"] }));
    expect(err).toMatchObject({ code: "PREP_COLUMN", context: { column: "nope", option: "features" } });
    expect((await rejectedBy(prepare({ inputs: [src], out: out(), features: ["big"], drop: ["big"] }))).code).toBe("PREP_COLUMN");
  });

  it("reads several inputs in order with one row numbering; a different header is PREP_SCHEMA naming the column", async () => {
    const a = await write("m1.csv", "a,b\n1,x\n");
    const b = await write("m2.csv", "a,b\r\n2,y\r\n3,z\r\n");
    const o = out();
    const d = await prepare({ inputs: [a, b], out: o, shardRows: 2 });
    expect(d.shards.map((s) => [s.rows, s.firstRow])).toEqual([[2, 0], [1, 2]]);
    expect(d.source.inputs.map((i) => i.rows)).toEqual([1, 2]);
    const c = await write("m3.csv", "a,c\n1,x\n");
    const err = await rejectedBy(prepare({ inputs: [a, c], out: out() }));
    expect(err).toMatchObject({ code: "PREP_SCHEMA", context: { column: "b", got: "c" } });
    expect((await rejectedBy(prepare({ inputs: [a, a], out: out() }))).code).toBe("OPT_INVALID");
  });

  it("reads gzip inputs (detected by bytes) and JSON Lines with a schema drift error", async () => {
    const { gzipSync } = await import("node:zlib");
    const src = await write("g.csv.gz", gzipSync("a,b\n1,x\n"));
    const d = await prepare({ inputs: [src], out: out() });
    expect(d.source.inputs[0]!.compression).toBe("gzip");
    expect(d.source.rowsWritten).toBe(1);
    const jl = await write("drift.jsonl", '{"a":1}\n{"a":2,"b":3}\n');
    const err = await rejectedBy(prepare({ inputs: [jl], out: out(), sampleRows: 1 }));
    expect(err).toMatchObject({ code: "PREP_SCHEMA", context: { line: 2, column: "b" } });
    const d2 = await prepare({ inputs: [jl], out: out(), sampleRows: 5, format: "jsonl" });
    expect(d2.schema.columns.map((c) => [c.name, c.type])).toEqual([["a", "int64"], ["b", "int64"]]);
    const dupe = await rejectedBy(prepare({ inputs: [await write("dupe.jsonl", '{"a":1,"a":2}\n')], out: out() }));
    expect(dupe).toMatchObject({ code: "PREP_JSON", context: { line: 1 } });
  });

  it("is a no-op on a rerun with the same inputs and options; refuses other ones unless --overwrite", async () => {
    const src = await write("re.csv", "a,b\n1,x\n2,y\n3,z\n");
    const o = out();
    const d1 = await prepare({ inputs: [src], out: o, shardRows: 1 });
    const again = await prepare({ inputs: [src], out: o, shardRows: 1 });
    expect(again).toEqual(d1);
    const err = await rejectedBy(prepare({ inputs: [src], out: o, shardRows: 2 }));
    expect(err.code).toBe("PREP_OUT_EXISTS");
    const d3 = await prepare({ inputs: [src], out: o, shardRows: 2, overwrite: true });
    expect(d3.shards.length).toBe(2);
    expect((await fs.readdir(path.join(o, "shards"))).sort()).toEqual(["part-00000.csv", "part-00001.csv"]);
    expect((await fs.readdir(path.join(o, "sidecars"))).sort()).toEqual(["part-00000.parquet", "part-00001.parquet"]);
  });

  it("reports progress", async () => {
    const seen: number[] = [];
    await prepare({ inputs: [path.join(FIX, "small.csv")], out: out(), onProgress: (p) => (p.done ? seen.push(p.rowsWritten) : undefined) } satisfies PrepareOptions);
    expect(seen).toEqual([3]);
  });
});

describe("prepare input options", () => {
  it("reads TSV by extension and a custom quote character", async () => {
    const tsv = path.join(dir, "t.tsv");
    await fs.writeFile(tsv, "a\tb\n1\tx,y\n");
    const o = path.join(dir, "tsv-out");
    const d = await prepare({ inputs: [tsv], out: o });
    expect(d.source.inputs[0]!.format).toBe("tsv");
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe('1,"x,y"\n');
    const q = path.join(dir, "q.csv");
    await fs.writeFile(q, "a,b\n1,'x,''y'''\n");
    const o2 = path.join(dir, "q-out");
    await prepare({ inputs: [q], out: o2, quote: "'" });
    expect(await fs.readFile(path.join(o2, "shards/part-00000.csv"), "utf8")).toBe("1,\"x,'y'\"\n");
  });

  it("refuses formats this build does not read, with PREP_FORMAT", async () => {
    const p = path.join(dir, "x.parquet");
    await fs.writeFile(p, "PAR1");
    const err = await rejectedBy(prepare({ inputs: [p], out: path.join(dir, "pq-out") }));
    expect(err.code).toBe("PREP_FORMAT");
  });
});
