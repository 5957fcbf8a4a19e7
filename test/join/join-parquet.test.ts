import fs from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import path from "node:path";
import { rejectedBy } from "../helpers/errors.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { join } from "../../src/join/index.js";
import { Storage } from "../../src/io/storage.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, duckTypes, sqlString } from "./duck.js";
import { jsonOut, makeRows, writeFixture, type Row } from "./fixture.js";

let dir: string;
let cleanup: () => Promise<void>;
const storage = new Storage();
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

/** What DuckDB must read back for rows joined with jsonOut predictions. */
function expected(rows: Row[]): Array<Record<string, unknown>> {
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    score: r.score,
    flag: r.flag,
    ts_us: r.ts,
    meta: r.meta,
    pred_label: BigInt(Number(r.id) % 3),
    pred_p: Number(r.id) / 1000 + 0.5,
  }));
}

const SELECT = "SELECT id, name, score, flag, epoch_us(ts) AS ts_us, meta, pred_label, pred_p";

describe("join to Parquet, read back by DuckDB", () => {
  it("joins several shards (one empty, sidecar batches sliced) value by value", async () => {
    const a = makeRows(23, 1, 0);
    const b = makeRows(0, 2, 23);
    const c = makeRows(17, 3, 23);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: "" }, { rows: c, out: jsonOut(c) }], sidecarBatchRows: 6 });
    const out = path.join(dir, "joined.parquet");
    const progress: string[] = [];
    const res = await join({ descriptor: fx.descriptor, out, storage, batchRows: 5, onProgress: (p) => progress.push(p.phase) });
    expect(res.results.rows).toBe(40);
    expect(res.results.rowsPerShard).toEqual({ "part-00000.csv": 23, "part-00001.csv": 0, "part-00002.csv": 17 });
    expect(res.results.missing).toEqual([]);
    expect(res.results.files).toEqual([`file://${out}`]);
    expect(res.descriptor.results).toBe(res.results);
    expect(progress).toContain("check");
    expect(progress.at(-1)).toBe("done");
    const rows = await duckRows(`${SELECT} FROM read_parquet(${sqlString(out)})`);
    expect(rows).toEqual(expected([...a, ...c]));
    const types = await duckTypes(`SELECT * FROM read_parquet(${sqlString(out)})`);
    // the features (not kept in the sidecar) are read back from the shards: the table is the input's whole, in its order
    expect(Object.entries(types)).toEqual(Object.entries({ id: "BIGINT", name: "VARCHAR", score: "DOUBLE", flag: "BOOLEAN", ts: "TIMESTAMP WITH TIME ZONE", meta: "VARCHAR", x1: "DOUBLE", x2: "BIGINT", pred_label: "BIGINT", pred_p: "DOUBLE" }));
    expect(await duckRows(`SELECT x1, x2 FROM read_parquet(${sqlString(out)})`)).toEqual([...a, ...c].map((r) => ({ x1: r.x1, x2: r.x2 })));
  });

  it("joins the Arrow IPC stream sidecars of a preparation made before sidecars were Parquet", async () => {
    const a = makeRows(11, 7, 0);
    const b = makeRows(6, 8, 11);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }], sidecarBatchRows: 4, sidecarForm: "arrow" });
    expect(fx.descriptor.shards.map((s) => path.basename(s.sidecar))).toEqual(["part-00000.arrow", "part-00001.arrow"]);
    const out = path.join(dir, "old.parquet");
    const res = await join({ descriptor: fx.descriptor, out, storage, batchRows: 5 });
    expect(res.results.rows).toBe(17);
    expect(await duckRows(`${SELECT} FROM read_parquet(${sqlString(out)})`)).toEqual(expected([...a, ...b]));
  });

  it("prediction numbers a double does not keep: an ID above 2^53 comes back exact as int64, a long decimal in float64 is counted in the notes", async () => {
    const a = makeRows(3, 9, 0);
    const out = ['{"id":9007199254740993,"p":0.5}', '{"id":9007199254740995,"p":0.12345678901234567891}', '{"id":1,"p":0.25}'].join("\n") + "\n";
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out }] });
    const file = path.join(dir, "big.parquet");
    const res = await join({ descriptor: fx.descriptor, out: file, storage });
    expect(await duckRows(`SELECT pred_id::VARCHAR AS id FROM read_parquet(${sqlString(file)})`)).toEqual([{ id: "9007199254740993" }, { id: "9007199254740995" }, { id: "1" }]);
    expect((res.results as unknown as { notes: unknown }).notes).toEqual([{ reason: expect.stringContaining("prediction numbers with more significant digits than a double keeps") as string, count: 1 }]);
  });

  it("keeps __btkit_row with rowNumber and writes snappy", async () => {
    const a = makeRows(9, 4, 0);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }] });
    const out = path.join(dir, "j.parquet");
    await join({ descriptor: fx.descriptor, out, storage, rowNumber: true, compression: "snappy" });
    const rows = await duckRows(`SELECT __btkit_row AS r FROM read_parquet(${sqlString(out)})`);
    expect(rows.map((r) => r.r)).toEqual(a.map((_, i) => BigInt(i)));
    const codec = await duckRows(`SELECT DISTINCT compression FROM parquet_metadata(${sqlString(out)})`);
    expect(codec).toEqual([{ compression: "SNAPPY" }]);
  });

  it("writes Parquet version 2 on request, read back by DuckDB", async () => {
    const a = makeRows(30, 9);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }] });
    const out = path.join(dir, "v2.parquet");
    await join({ descriptor: fx.descriptor, out, storage, parquetVersion: 2, batchRows: 7 });
    expect(await duckRows(`${SELECT} FROM read_parquet(${sqlString(out)})`)).toEqual(expected(a));
    const enc = await duckRows(`SELECT DISTINCT encodings FROM parquet_metadata(${sqlString(out)}) WHERE path_in_schema = 'id'`);
    expect(String(enc[0]!.encodings)).toContain("DELTA_BINARY_PACKED");
  });

  it("uses zstd by default and streams row groups", async () => {
    const a = makeRows(50, 5, 0);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }] });
    const out = path.join(dir, "j.parquet");
    await join({ descriptor: fx.descriptor, out, storage, rowGroupRows: 16, batchRows: 8 });
    const meta = await duckRows(`SELECT DISTINCT compression, row_group_id FROM parquet_metadata(${sqlString(out)}) ORDER BY row_group_id`);
    expect(meta.map((m) => m.compression)).toEqual(["ZSTD", "ZSTD", "ZSTD", "ZSTD"]);
    expect(await duckRows(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(out)})`)).toEqual([{ n: 50 }]);
  });

  it("writes one file per shard plus btkit.json last, forming one dataset", async () => {
    const a = makeRows(11, 6, 0);
    const b = makeRows(0, 7, 11);
    const c = makeRows(8, 8, 11);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: "" }, { rows: c, out: jsonOut(c) }] });
    const out = path.join(dir, "joined");
    const res = await join({ descriptor: fx.descriptor, out, storage, partitioned: true });
    expect(res.results.partitioned).toBe(true);
    expect(res.results.location).toBe(`file://${out}/`);
    expect(res.results.files).toEqual(["part-00000", "part-00001", "part-00002"].map((n) => `file://${out}/${n}.parquet`));
    const stored = JSON.parse(await storage.readText(path.join(out, "btkit.json"))) as { results: unknown };
    expect(stored.results).toEqual(JSON.parse(JSON.stringify(res.results)));
    const rows = await duckRows(`${SELECT} FROM read_parquet(${sqlString(`${out}/*.parquet`)}) ORDER BY id`);
    expect(rows).toEqual(expected([...a, ...c]));
  });

  it("a folder is one dataset: files of another (more shards, another part count, another format) are refused before anything is written", async () => {
    const a = makeRows(4, 21, 0);
    const b = makeRows(3, 22, 4);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }] });
    const out = path.join(dir, "joined");
    await fs.mkdir(out, { recursive: true });
    // a third shard's file of an earlier dataset: readers of out/*.parquet would read it too
    await fs.writeFile(path.join(out, "part-00002.parquet"), "old");
    await fs.writeFile(path.join(out, "README.txt"), "notes");
    const e = await rejectedBy(join({ descriptor: fx.descriptor, out, storage, partitioned: true }));
    expect(e.code).toBe("JOIN_OUTPUT_CONFLICT");
    expect(e.exitCode).toBe(75);
    expect(e.message).toContain(`${out} holds 1 file of another joined dataset (part-00002.parquet)`);
    expect(e.message).toContain("Join into an empty folder, or remove those files first");
    expect((await fs.readdir(out)).sort()).toEqual(["README.txt", "part-00002.parquet"]);
    // the way out the message names: removing them; the README (no table) stays
    await fs.rm(path.join(out, "part-00002.parquet"));
    const res = await join({ descriptor: fx.descriptor, out, storage, partitioned: true });
    expect(res.results.rows).toBe(7);
    // the same join again replaces its own files (a rerun is no conflict)
    await join({ descriptor: fx.descriptor, out, storage, partitioned: true });
    expect((await fs.readdir(out)).sort()).toEqual(["README.txt", "btkit.json", "part-00000.parquet", "part-00001.parquet"]);
    // another format into the same folder, or parts of another count, would mix
    expect((await rejectedBy(join({ descriptor: fx.descriptor, out, storage, partitioned: true, format: "jsonl" }))).code).toBe("JOIN_OUTPUT_CONFLICT");
    const parts = path.join(dir, "parts");
    await join({ descriptor: fx.descriptor, out: parts, storage, part: { index: 0, count: 2 } });
    await join({ descriptor: fx.descriptor, out: parts, storage, part: { index: 1, count: 2 } });
    const e3 = await rejectedBy(join({ descriptor: fx.descriptor, out: parts, storage, part: { index: 0, count: 3 } }));
    expect(e3.code).toBe("JOIN_OUTPUT_CONFLICT");
    // the other parts' files and their descriptors with results (btkit-part-KofN.json), table files named first
    expect(e3.message).toContain("holds 4 files of another joined dataset (part-0of2.parquet, part-1of2.parquet, btkit-part-0of2.json, ...)");
    // the same names from another job, or with other columns, are parts of another dataset too
    const other = await writeFixture(storage, storage.parse(path.join(dir, "other")), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }, { rows: a, out: jsonOut(a) }] });
    const otherJob = { ...other.descriptor, job: { ...other.descriptor.job!, name: "another-job" } };
    const e4 = await rejectedBy(join({ descriptor: otherJob, out: parts, storage, part: { index: 1, count: 2 } }));
    expect(e4.code).toBe("JOIN_OUTPUT_CONFLICT");
    expect(e4.message).toContain("holds parts of another joined dataset");
    expect(e4.message).toContain('"job":"another-job"');
    const e5 = await rejectedBy(join({ descriptor: fx.descriptor, out: parts, storage, part: { index: 1, count: 2 }, rowNumber: true }));
    expect(e5.code).toBe("JOIN_OUTPUT_CONFLICT");
    // the same part again, the same way: no conflict
    await join({ descriptor: fx.descriptor, out: parts, storage, part: { index: 1, count: 2 } });
  });

  it("a partitioned join that fails midway leaves no completion marker describing the files it began to replace", async () => {
    const a = makeRows(4, 31, 0);
    const b = makeRows(3, 32, 4);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }] });
    const out = path.join(dir, "joined");
    await join({ descriptor: fx.descriptor, out, storage, partitioned: true });
    expect(await storage.exists(path.join(out, "btkit.json"))).toBe(true);
    // the second shard's sidecar is replaced: the rerun fails on it, after the first file was rewritten
    await fs.writeFile(new URL(fx.descriptor.shards[1]!.sidecar), "not arrow");
    await expect(join({ descriptor: fx.descriptor, out, storage, partitioned: true })).rejects.toThrow();
    expect(await storage.exists(path.join(out, "btkit.json"))).toBe(false);
  });

  it("joins part i of N: the parts together hold every row once", async () => {
    const shards = [0, 1, 2, 3, 4].map((i) => makeRows(3 + i, 10 + i, i * 10));
    let first = 0;
    const fixed = shards.map((rows) => {
      const r = rows.map((x, k) => ({ ...x, id: BigInt(first + k) }));
      first += rows.length;
      return r;
    });
    const fx = await writeFixture(storage, storage.parse(dir), { shards: fixed.map((rows) => ({ rows, out: jsonOut(rows) })) });
    const out = path.join(dir, "ds");
    const r0 = await join({ descriptor: fx.descriptor, out, storage, part: { index: 0, count: 2 } });
    const r1 = await join({ descriptor: fx.descriptor, out, storage, part: { index: 1, count: 2 } });
    expect(Object.keys(r0.results.rowsPerShard)).toEqual(["part-00000.csv", "part-00001.csv"]);
    expect(Object.keys(r1.results.rowsPerShard)).toEqual(["part-00002.csv", "part-00003.csv", "part-00004.csv"]);
    expect(r0.results.files).toEqual([`file://${out}/part-0of2.parquet`]);
    expect(r0.results.part).toEqual({ index: 0, count: 2 });
    const rows = await duckRows(`${SELECT} FROM read_parquet(${sqlString(`${out}/*.parquet`)}) ORDER BY id`);
    expect(rows).toEqual(expected(fixed.flat()));
  });

  it("part labels are zero-padded so the parts sort; an earlier join's unpadded names are the dataset's still, and replaced", async () => {
    const shards = Array.from({ length: 12 }, (_, i) => makeRows(2, 60 + i, i * 2));
    const fx = await writeFixture(storage, storage.parse(dir), { shards: shards.map((rows) => ({ rows, out: jsonOut(rows) })) });
    const out = path.join(dir, "ds12");
    const files: string[] = [];
    for (let k = 0; k < 12; k++) files.push(...(await join({ descriptor: fx.descriptor, out, storage, part: { index: k, count: 12 } })).results.files);
    const names = Array.from({ length: 12 }, (_, k) => `part-${String(k).padStart(2, "0")}of12.parquet`);
    expect(files).toEqual(names.map((n) => `file://${out}/${n}`));
    // in name order is in part order
    expect((await fs.readdir(out)).filter((f) => f.endsWith(".parquet")).sort()).toEqual(names);
    // part 3 as a join before padding named its files
    await fs.rename(path.join(out, "part-03of12.parquet"), path.join(out, "part-3of12.parquet"));
    await fs.rename(path.join(out, ".btkit-part-03of12.json"), path.join(out, ".btkit-part-3of12.json"));
    // another part joins beside it (no conflict), and part 3 joined again replaces them
    await join({ descriptor: fx.descriptor, out, storage, part: { index: 4, count: 12 } });
    await join({ descriptor: fx.descriptor, out, storage, part: { index: 3, count: 12 } });
    const left = await fs.readdir(out);
    expect(left).not.toContain("part-3of12.parquet");
    expect(left).not.toContain(".btkit-part-3of12.json");
    expect(left.filter((f) => f.endsWith(".parquet")).sort()).toEqual(names);
    const rows = await duckRows(`${SELECT} FROM read_parquet(${sqlString(`${out}/*.parquet`)}) ORDER BY id`);
    expect(rows).toEqual(expected(shards.flat()));
  });

  it("--with-features reads the feature columns back from the (gzipped) model-input shards", async () => {
    const a = makeRows(12, 51);
    const b = makeRows(5, 52, 12);
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }], gzipShards: true });
    const out = path.join(dir, "f.parquet");
    await join({ descriptor: fx.descriptor, out, storage, withFeatures: true, batchRows: 5 });
    const rows = await duckRows(`SELECT id, x1, x2, pred_label FROM read_parquet(${sqlString(out)})`);
    expect(rows).toEqual([...a, ...b].map((r) => ({ id: r.id, x1: r.x1, x2: r.x2, pred_label: BigInt(Number(r.id) % 3) })));

    // a model-input shard with more lines than the descriptor says is a count mismatch naming the shard
    // (the file replaced on disk: a descriptor pointing shard 1 at shard 0's file is PROTO_INVALID)
    const short = fx.descriptor;
    await fs.copyFile(new URL(short.shards[0]!.location), new URL(short.shards[1]!.location));
    const err = await join({ descriptor: short, out: path.join(dir, "g.parquet"), storage, withFeatures: true }).then(
      () => undefined,
      (e: unknown) => e as { code: string; context: unknown },
    );
    if (err === undefined) throw new Error("join did not fail");
    expect(err.code).toBe("JOIN_COUNT_MISMATCH");
    expect(err.context).toMatchObject({ shard: "part-00001.csv.gz", expected: 5 });

    // the same lines with another value: the shard's sha256 no longer matches, and join says so
    // instead of joining features the model never saw
    const fy = await writeFixture(storage, storage.parse(path.join(dir, "y")), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }], gzipShards: true });
    const loc = new URL(fy.descriptor.shards[1]!.location);
    const text = gunzipSync(await fs.readFile(loc)).toString();
    const changed = text.replace(/\d/, (d) => String((Number(d) + 1) % 10));
    expect(changed.split("\n")).toHaveLength(text.split("\n").length);
    await fs.writeFile(loc, gzipSync(changed));
    const bad = await rejectedBy(join({ descriptor: fy.descriptor, out: path.join(dir, "h.parquet"), storage, withFeatures: true }));
    expect(bad.code).toBe("IO_CHANGED");
    expect(bad.context).toMatchObject({ shard: "part-00001.csv.gz", expected: fy.descriptor.shards[1]!.sha256 });
    expect(bad.message).toContain("changed after prep wrote it");
    await expect(fs.stat(path.join(dir, "h.parquet"))).rejects.toThrow();
  });
});
