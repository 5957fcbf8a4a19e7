import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { tableFromIPC } from "apache-arrow";
import { join, joinFiles, type JoinOptions } from "../../src/join/index.js";
import type { BtkitError } from "../../src/errors.js";
import { Storage } from "../../src/io/storage.js";
import { rejectedBy } from "../helpers/errors.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, duckTypes, sqlString } from "./duck.js";
import { jsonOut, makeRows, writeFixture, type FixtureShard } from "./fixture.js";

let dir: string;
let cleanup: () => Promise<void>;
const storage = new Storage();
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

async function fixture(shards: FixtureShard[], extra: Partial<Parameters<typeof writeFixture>[2]> = {}) {
  return writeFixture(storage, storage.parse(dir), { shards, ...extra });
}

const failure = (options: JoinOptions): Promise<BtkitError> => rejectedBy(join(options));

async function listOut(): Promise<string[]> {
  const names = await fs.readdir(dir);
  return names.filter((n) => n.startsWith("joined") || n.startsWith(".joined"));
}

const lines = (rows: ReturnType<typeof makeRows>): string[] => jsonOut(rows).split("\n").slice(0, -1);

describe("count checks before anything is published", () => {
  it("fewer lines: JOIN_COUNT_MISMATCH with shard, expected and found; nothing written", async () => {
    const a = makeRows(10, 1);
    const b = makeRows(6, 2, 10);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }, { rows: b, out: lines(b).slice(0, 5).join("\n") + "\n" }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_COUNT_MISMATCH");
    expect(err.context).toMatchObject({ shard: "part-00001.csv", expected: 6, got: 5 });
    expect(err.message).toContain("has 5 lines, but shard part-00001.csv has 6 rows");
    expect(await listOut()).toEqual([]);
  });

  it("more lines, a header line first: the hint names line 1", async () => {
    const a = makeRows(4, 3);
    const fx = await fixture([{ rows: a, out: `label,p\n${jsonOut(a)}` }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_COUNT_MISMATCH");
    expect(err.context).toMatchObject({ expected: 4, got: 5, line: 1 });
    expect(err.message).toContain('line 1 may be a header: "label,p"');
  });

  it("a blank line that shifts the count is named in the mismatch", async () => {
    const a = makeRows(5, 4);
    const l = lines(a);
    const fx = await fixture([{ rows: a, out: [...l.slice(0, 2), "", ...l.slice(2)].join("\n") + "\n" }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_COUNT_MISMATCH");
    expect(err.context).toMatchObject({ expected: 5, got: 6, line: 3 });
    expect(err.message).toContain("line 3 is blank");
  });

  it("a blank line with a matching count (one prediction lost) is JOIN_BLANK_LINE", async () => {
    const a = makeRows(5, 5);
    const l = lines(a);
    const fx = await fixture([{ rows: a, out: [...l.slice(0, 2), "", ...l.slice(3)].join("\n") + "\n" }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_BLANK_LINE");
    expect(err.context).toMatchObject({ shard: "part-00000.csv", line: 3 });
  });

  it("one JSON array per mini-batch: the hint says the arrays hold exactly the shard's rows", async () => {
    const a = makeRows(6, 6);
    const preds = a.map((r) => ({ label: Number(r.id) % 3 }));
    const fx = await fixture([{ rows: a, out: `${JSON.stringify(preds.slice(0, 4))}\n${JSON.stringify(preds.slice(4))}\n` }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_COUNT_MISMATCH");
    expect(err.context).toMatchObject({ expected: 6, got: 2, line: 1 });
    expect(err.message).toContain("the arrays hold 6 values in all, exactly the shard's rows");
  });

  it("--blank-lines skip drops blank lines (counted) and keeps physical line numbers in errors", async () => {
    const a = makeRows(4, 7);
    const l = lines(a);
    const fx = await fixture([{ rows: a, out: `${l[0]}\n\n${l[1]}\n${l[2]}\n\n${l[3]}\n` }]);
    const out = path.join(dir, "joined.parquet");
    const res = await join({ descriptor: fx.descriptor, out, storage, blankLines: "skip" });
    expect(res.results.rows).toBe(4);
    expect((res.results as unknown as { notes: unknown }).notes).toEqual([{ reason: "blank .out lines skipped (--blank-lines skip)", count: 2 }]);
    expect((await duckRows(`SELECT pred_label FROM read_parquet(${sqlString(out)})`)).map((r) => r.pred_label)).toEqual(a.map((r) => BigInt(Number(r.id) % 3)));

    // a bad value after skipped blank lines is reported at its physical line (6), not its record index (4)
    const b = makeRows(4, 8);
    const m = lines(b);
    const fx2 = await writeFixture(storage, storage.parse(path.join(dir, "two")), { shards: [{ rows: b, out: `${m[0]}\n\n${m[1]}\n${m[2]}\n\n{"label":"x","p":1}\n` }] });
    const err = await failure({ descriptor: fx2.descriptor, out: path.join(dir, "two", "joined.parquet"), storage, blankLines: "skip", batchRows: 2 });
    expect(err.code).toBe("JOIN_TYPE_CONFLICT");
    expect(err.context).toMatchObject({ line: 6, column: "pred_label" });
  });

  it("CRLF line ends are stripped and counted; a last line without newline counts", async () => {
    const a = makeRows(3, 9);
    const l = lines(a);
    const fx = await fixture([{ rows: a, out: `${l[0]}\r\n${l[1]}\r\n${l[2]}` }]);
    const out = path.join(dir, "joined.jsonl");
    const res = await join({ descriptor: fx.descriptor, out, storage, format: "jsonl" });
    expect((res.results as unknown as { notes: unknown }).notes).toEqual([{ reason: "CR before LF stripped from .out lines", count: 2 }]);
    const got = (await fs.readFile(out, "utf8")).trim().split("\n").map((x) => JSON.parse(x) as { pred_label: number; pred_p: number });
    expect(got.map((g) => [g.pred_label, g.pred_p])).toEqual(a.map((r) => [Number(r.id) % 3, Number(r.id) / 1000 + 0.5]));
  });
});

describe("missing and corrupt inputs", () => {
  it("missing .out: JOIN_MISSING_OUTPUT lists the shards and points at --retry-failed", async () => {
    const rows = [makeRows(3, 1), makeRows(2, 2, 3), makeRows(2, 3, 5)];
    const fx = await fixture([{ rows: rows[0]!, out: jsonOut(rows[0]!) }, { rows: rows[1]!, out: undefined }, { rows: rows[2]!, out: undefined }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_MISSING_OUTPUT");
    expect(err.context.missing).toEqual(["part-00001.csv", "part-00002.csv"]);
    expect(err.message).toContain("btkit submit --retry-failed");
    expect(err.message).toContain("--allow-missing");
    expect(await listOut()).toEqual([]);
  });

  it("--allow-missing joins the complete shards and records the missing ones", async () => {
    const a = makeRows(3, 1);
    const b = makeRows(2, 2, 3);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }, { rows: b, out: undefined }]);
    const out = path.join(dir, "joined.parquet");
    const res = await join({ descriptor: fx.descriptor, out, storage, allowMissing: true });
    expect(res.results.missing).toEqual(["part-00001.csv"]);
    expect(res.results.rowsPerShard).toEqual({ "part-00000.csv": 3 });
    expect((await duckRows(`SELECT id FROM read_parquet(${sqlString(out)})`)).map((r) => r.id)).toEqual([0n, 1n, 2n]);
  });

  it("--allow-missing with every .out missing writes a table of the known columns, never an empty file", async () => {
    const a = makeRows(3, 1);
    const fx = await fixture([{ rows: a, out: undefined }]);
    const pq = path.join(dir, "none.parquet");
    const res = await join({ descriptor: fx.descriptor, out: pq, storage, allowMissing: true, rowNumber: true, predictionTypes: { prediction: "float64" } });
    expect(res.results.rows).toBe(0);
    expect(res.results.missing).toEqual(["part-00000.csv"]);
    // the input's columns in its order, the row number, the declared prediction (the only one known without .out lines)
    const columns = ["id", "name", "score", "flag", "ts", "meta", "x1", "x2", "__btkit_row", "prediction"];
    expect(res.results.columns!.map((c) => c.name)).toEqual(columns);
    expect(res.results.columns!.at(-1)).toEqual({ name: "prediction", type: "float64" });
    const types = await duckTypes(`SELECT * FROM read_parquet(${sqlString(pq)})`);
    expect(Object.keys(types)).toEqual(columns);
    expect(types).toMatchObject({ id: "BIGINT", ts: "TIMESTAMP WITH TIME ZONE", __btkit_row: "BIGINT", prediction: "DOUBLE" });
    expect(await duckRows(`SELECT count(*)::INT AS n FROM read_parquet(${sqlString(pq)})`)).toEqual([{ n: 0 }]);
    const csv = path.join(dir, "none.csv");
    await join({ descriptor: fx.descriptor, out: csv, format: "csv", storage, allowMissing: true });
    expect(await fs.readFile(csv, "utf8")).toBe("id,name,score,flag,ts,meta,x1,x2\n");
  });

  it("with no shard joined, declared nested predictions are columns of every format's empty table", async () => {
    const a = makeRows(3, 1);
    const fx = await fixture([{ rows: a, out: undefined }]);
    const predictionTypes = { pred_v: "list<int64>", pred_s: 'struct<"a":utf8>', pred_m: "map<utf8,int64>" } as const;
    for (const format of ["parquet", "arrow", "jsonl", "csv"] as const) {
      const out = path.join(dir, `nested.${format}`);
      const res = await join({ descriptor: fx.descriptor, out, format, storage, allowMissing: true, predictionTypes });
      expect(res.results.columns!.slice(-3)).toEqual([
        { name: "pred_v", type: "list<int64>" },
        { name: "pred_s", type: 'struct<"a":utf8>' },
        { name: "pred_m", type: "map<utf8,int64>" },
      ]);
      const bytes = await fs.readFile(out);
      if (format === "arrow") {
        const t = tableFromIPC(bytes);
        expect(t.numRows).toBe(0);
        expect(t.schema.fields.slice(-3).map((f) => String(f.type))).toEqual(["List<Int64>", "Struct<{a:Utf8}>", "Map<{key:Utf8, value:Int64}>"]);
      } else if (format === "parquet") {
        expect(await duckTypes(`SELECT pred_v, pred_s, pred_m FROM read_parquet(${sqlString(out)})`)).toEqual({ pred_v: "BIGINT[]", pred_s: 'STRUCT("a" VARCHAR)', pred_m: "MAP(VARCHAR, BIGINT)" });
      } else if (format === "csv") expect(bytes.toString()).toBe("id,name,score,flag,ts,meta,x1,x2,pred_v,pred_s,pred_m\n");
      else expect(bytes.length).toBe(0);
    }
  });

  it("with no shard joined, a declared name of an input column is OPT_INVALID before anything is written; declaring predictions only passes", async () => {
    const a = makeRows(3, 1);
    const fx = await fixture([{ rows: a, out: undefined }]);
    const out = path.join(dir, "joined.parquet");
    const err = await failure({ descriptor: fx.descriptor, out, storage, allowMissing: true, predictionTypes: { id: "utf8", pred_p: "float64" } });
    expect(err.code).toBe("OPT_INVALID");
    expect(err.message).toBe('predictionTypes declares "id", which is a column of the input, not a prediction column: declare the prediction columns only (PREFIX+key of objects, PREFIX+index of arrays, or the scalar\'s name)');
    expect(await listOut()).toEqual([]);
    const ok = await join({ descriptor: fx.descriptor, out, storage, allowMissing: true, predictionTypes: { pred_p: "float64" } });
    expect(ok.results.columns!.map((c) => c.name)).toEqual(["id", "name", "score", "flag", "ts", "meta", "x1", "x2", "pred_p"]);
    expect(await duckTypes(`SELECT id, pred_p FROM read_parquet(${sqlString(out)})`)).toEqual({ id: "BIGINT", pred_p: "DOUBLE" });
  });

  it("without a descriptor, nothing to join is JOIN_MISSING_OUTPUT, never an empty file; the descriptor's join with --allow-missing writes the empty table", async () => {
    const a = makeRows(3, 1);
    const fx = await fixture([{ rows: a, out: undefined }]);
    const out = path.join(dir, "joined.parquet");
    const err = await rejectedBy(joinFiles({ inputs: [fileURLToPath(fx.descriptor.shards[0]!.location)], outputs: fileURLToPath(fx.descriptor.job!.outputLocation), out, storage, allowMissing: true }));
    expect(err.code).toBe("JOIN_MISSING_OUTPUT");
    expect(err.message).toContain("nothing to join: none of the 1 input has its .out under");
    expect(err.message).toContain("and without a descriptor no column of the table is known. Transform the inputs (again), or join with the preparation's descriptor, which knows them (btkit join --descriptor PATH --allow-missing writes a table of its columns with no rows)");
    expect(await listOut()).toEqual([]);
    const ok = await join({ descriptor: fx.descriptor, out, storage, allowMissing: true });
    expect(ok.results).toMatchObject({ rows: 0, missing: ["part-00000.csv"] });
    expect(await duckRows(`SELECT count(*)::INT AS n FROM read_parquet(${sqlString(out)})`)).toEqual([{ n: 0 }]);
  });

  it("--partitioned again with a shard now missing removes that shard's file of the earlier join: the folder holds the joined shards only", async () => {
    const a = makeRows(3, 1);
    const b = makeRows(2, 2, 3);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }]);
    const out = path.join(dir, "joined");
    await join({ descriptor: fx.descriptor, out, storage, partitioned: true });
    expect((await fs.readdir(out)).filter((n) => n.endsWith(".parquet")).sort()).toEqual(["part-00000.parquet", "part-00001.parquet"]);
    await fs.rm(new URL(`${fx.descriptor.job!.outputLocation}part-00001.csv.out`));
    const again = await join({ descriptor: fx.descriptor, out, storage, partitioned: true, allowMissing: true });
    expect(again.results).toMatchObject({ rows: 3, missing: ["part-00001.csv"], files: [`file://${out}/part-00000.parquet`] });
    expect((await fs.readdir(out)).filter((n) => n.endsWith(".parquet"))).toEqual(["part-00000.parquet"]);
    expect(await duckRows(`SELECT count(*)::INT AS n FROM read_parquet(${sqlString(path.join(out, "*.parquet"))})`)).toEqual([{ n: 3 }]);
  });

  it("truncated gzip .out: IO_GZIP_CORRUPT and nothing published", async () => {
    const a = makeRows(200, 1);
    const gz = gzipSync(jsonOut(a));
    const fx = await fixture([{ rows: a, out: gz.subarray(0, gz.length - 20) }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("IO_GZIP_CORRUPT");
    expect(await listOut()).toEqual([]);
  });

  it("invalid UTF-8 in an .out: JOIN_PARSE with the line", async () => {
    const a = makeRows(3, 1);
    const l = lines(a);
    const fx = await fixture([{ rows: a, out: Buffer.concat([Buffer.from(`${l[0]}\n{"label":"`), Buffer.from([0xff, 0xfe]), Buffer.from(`","p":1}\n${l[2]}\n`)]) }]);
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_PARSE");
    expect(err.context).toMatchObject({ line: 2 });
    expect(await listOut()).toEqual([]);
  });

  it("a bad byte later in a read chunk is reported before an earlier line's fault the batch boundary would reach first (the chunk is decoded whole, as it is read)", async () => {
    // 5,000 lines of 256 bytes, but line 4,095 shorter, so that line 4,096 (the last of the first
    // 4,096-row batch) crosses the local reader's 1 MiB chunk; line 4,098, in that chunk, holds a
    // byte that is not UTF-8, and line 10, in the batch before it, is not JSON
    const a = makeRows(5000, 1);
    const line = (i: number, len: number): Buffer => {
      const head = `{"label":${i % 3},"p":0.5,"pad":"`;
      return Buffer.from(`${head}${"a".repeat(len - head.length - 3)}"}\n`);
    };
    const out = Array.from({ length: 5000 }, (_, i) => line(i, i === 4094 ? 100 : i === 4095 ? 800 : 256));
    out[4097] = Buffer.concat([Buffer.from('{"label":"'), Buffer.from([0xff]), Buffer.from('"}\n')]);
    out[9] = Buffer.from(`{"label":${"1".repeat(245)}\n`);
    const start4096 = out.slice(0, 4095).reduce((n, b) => n + b.length, 0);
    expect(start4096).toBeLessThan(1 << 20);
    expect(start4096 + out[4095]!.length).toBeGreaterThan(1 << 20);
    const fx = await fixture([{ rows: a, out: Buffer.concat(out) }], { sidecarBatchRows: 4096 });
    for (const ext of [".jsonl", ".csv"]) {
      const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, `joined${ext}`), storage });
      expect(err.code).toBe("JOIN_PARSE");
      expect(err.context).toMatchObject({ line: 4098 });
      expect(err.message).toContain("line 4098 of");
      expect(err.message).toContain("is not valid UTF-8");
    }
    expect(await listOut()).toEqual([]);
  });

  it("a corrupt sidecar: JOIN_SIDECAR, nothing published", async () => {
    const a = makeRows(5, 1);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }]);
    await fs.writeFile(new URL(fx.descriptor.shards[0]!.sidecar), "not arrow at all");
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_SIDECAR");
    expect(err.context.shard).toBe("part-00000.csv");
    expect(await listOut()).toEqual([]);
  });

  it.each([
    ["truncated", (b: Buffer) => b.subarray(0, b.length - 9)],
    ["with its pages overwritten", (b: Buffer) => Buffer.concat([b.subarray(0, 4), Buffer.alloc(b.length - 12, 0x5a), b.subarray(b.length - 8)])],
    ["with every seventh byte flipped", (b: Buffer) => Buffer.from(b.map((x, k) => (k > 4 && k < b.length - 8 && k % 7 === 0 ? x ^ 0x5a : x)))],
    ["emptied", (b: Buffer) => b.subarray(0, 0)],
  ])("a Parquet sidecar %s: JOIN_SIDECAR, nothing published", async (_, damage) => {
    const a = makeRows(5, 1);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }]);
    const file = new URL(fx.descriptor.shards[0]!.sidecar);
    await fs.writeFile(file, damage(await fs.readFile(file)));
    const err = await failure({ descriptor: fx.descriptor, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_SIDECAR");
    expect(err.message).toContain("the sidecar of shard part-00000.csv");
    expect(await listOut()).toEqual([]);
  });

  it("a sidecar whose row numbers do not follow the shard: JOIN_SIDECAR", async () => {
    const a = makeRows(4, 1);
    const b = makeRows(4, 2, 4);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }]);
    // swap the sidecars: shard 1 now has rows 0..3
    const d = structuredClone(fx.descriptor);
    [d.shards[0]!.sidecar, d.shards[1]!.sidecar] = [d.shards[1]!.sidecar, d.shards[0]!.sidecar];
    const err = await failure({ descriptor: d, out: path.join(dir, "joined.parquet"), storage });
    expect(err.code).toBe("JOIN_SIDECAR");
    expect(err.context).toMatchObject({ shard: "part-00000.csv", column: "__btkit_row" });
  });

  it("a failed partitioned join removes the shard files it wrote", async () => {
    const a = makeRows(3, 1);
    const b = makeRows(3, 2, 3);
    const fx = await fixture([{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b).replace('"label":1', '"label":"one"') }]);
    const out = path.join(dir, "joined");
    const err = await failure({ descriptor: fx.descriptor, out, storage, partitioned: true });
    expect(err.code).toBe("JOIN_TYPE_CONFLICT");
    expect(err.context).toMatchObject({ shard: "part-00001.csv", line: 2, column: "pred_label" });
    expect(await fs.readdir(out).catch(() => [])).toEqual([]);
  });
});
