/**
 * The sidecar file: written as Parquet by SidecarWriter, read back by DuckDB (an independent
 * reader) and by readSidecar, types and values as written; the Arrow IPC stream form of earlier
 * preparations still reads.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { RecordBatchStreamWriter, type RecordBatch } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SidecarBatcher } from "../../src/prepare/sidecar.js";
import { readSidecar, SidecarWriter } from "../../src/protocol/sidecar-file.js";
import type { ColumnType } from "../../src/protocol/descriptor.js";
import { duckRows, duckTypes, sqlString } from "../join/duck.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

const COLUMNS: Array<{ name: string; type: ColumnType }> = [
  { name: "id", type: "int64" },
  { name: "f", type: "float64" },
  { name: "b", type: "bool" },
  { name: "s", type: "utf8" },
  { name: "d", type: "date" },
  { name: "ntz", type: "timestamp_ntz" },
  { name: "tz", type: "timestamp" },
  { name: "price", type: "decimal(20,2)" },
  { name: "nothing", type: "null" },
];
const ROWS: Array<Array<string | null>> = [
  ["9007199254740993", "0.1", "true", "café, \"quoted\"\nline", "2024-02-29", "2024-01-01T00:00:00.000001", "2024-01-01T00:00:00.5Z", "123456789012345678.90", null],
  ["-1", "-0", "false", "", "1969-12-31", "1900-01-01T23:59:59", "1970-01-01T00:00:00Z", "-0.01", null],
  [null, null, null, null, null, null, null, null, null],
];

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of gen) chunks.push(c);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function batchesOf(bytes: Uint8Array, batchRows = 1024): Promise<RecordBatch[]> {
  const r = await readSidecar(once(bytes), batchRows);
  const out: RecordBatch[] = [];
  for await (const b of r.batches) out.push(b);
  return out;
}

function sidecarOf(rows: Array<Array<string | null>>, firstRow: number): { batch: RecordBatch; batcher: SidecarBatcher } {
  const batcher = new SidecarBatcher(COLUMNS);
  rows.forEach((r, k) => batcher.add(r, firstRow + k));
  return { batch: batcher.take(), batcher };
}

describe("sidecar file", () => {
  it("is Parquet that DuckDB reads with the logical types of the columns, value for value", async () => {
    const { batch } = sidecarOf(ROWS, 40);
    const w = new SidecarWriter(batch.schema);
    const bytes = collect(w.bytes());
    w.write(batch);
    w.finish();
    const file = path.join(dir, "part-00000.parquet");
    await fs.writeFile(file, await bytes);
    expect((await fs.readFile(file)).subarray(0, 4).toString()).toBe("PAR1");
    const types = await duckTypes(`SELECT * FROM read_parquet(${sqlString(file)})`);
    expect(types).toEqual({ id: "BIGINT", f: "DOUBLE", b: "BOOLEAN", s: "VARCHAR", d: "DATE", ntz: "TIMESTAMP", tz: "TIMESTAMP WITH TIME ZONE", price: "DECIMAL(20,2)", nothing: "INTEGER", __btkit_row: "BIGINT" });
    const rows = await duckRows(
      `SELECT id::VARCHAR AS id, f, b, s, d::VARCHAR AS d, strftime(ntz, '%Y-%m-%dT%H:%M:%S.%f') AS ntz, epoch_us(tz) AS tz_us, price::VARCHAR AS price, nothing, __btkit_row FROM read_parquet(${sqlString(file)})`,
    );
    expect(rows).toEqual([
      { id: "9007199254740993", f: 0.1, b: true, s: 'café, "quoted"\nline', d: "2024-02-29", ntz: "2024-01-01T00:00:00.000001", tz_us: 1704067200500000n, price: "123456789012345678.90", nothing: null, __btkit_row: 40n },
      { id: "-1", f: -0, b: false, s: "", d: "1969-12-31", ntz: "1900-01-01T23:59:59.000000", tz_us: 0n, price: "-0.01", nothing: null, __btkit_row: 41n },
      { id: null, f: null, b: null, s: null, d: null, ntz: null, tz_us: null, price: null, nothing: null, __btkit_row: 42n },
    ]);
    expect(Object.is(rows[1]!.f, -0)).toBe(true);
  });

  it("reads back with the Arrow types written (zone, decimal precision and scale), in batches of the size asked, across row groups", async () => {
    const batcher = new SidecarBatcher(COLUMNS);
    const w = new SidecarWriter(batcher.schema);
    const bytes = collect(w.bytes());
    for (let k = 0; k < 150_000; k++) {
      batcher.add(ROWS[k % 3]!, k);
      if (batcher.length === 16_384) w.write(batcher.take());
    }
    w.write(batcher.take());
    w.finish();
    const batch = sidecarOf(ROWS, 0).batch;
    const back = await batchesOf(await bytes, 10_000);
    expect(back.map((b) => b.numRows).reduce((a, n) => a + n, 0)).toBe(150_000);
    expect(Math.max(...back.map((b) => b.numRows))).toBeLessThanOrEqual(10_000);
    expect(back[0]!.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(batch.schema.fields.map((f) => `${f.name}:${String(f.type)}`));
    const rows = back.flatMap((b) => b.toArray().map((r) => r.toJSON() as Record<string, unknown>));
    expect(rows[149_999]!.__btkit_row).toBe(149_999n);
    expect(rows[100_000]!.s).toBe(ROWS[1]![3]);
    expect(rows[99_999]!.id).toBe(9007199254740993n);
    expect(rows[100_001]!.id).toBeNull();
  });

  it("is small for what prep keeps by default: 200,000 row numbers and consecutive IDs take under 8 KB", async () => {
    const batcher = new SidecarBatcher([{ name: "id", type: "int64" }]);
    for (let k = 0; k < 200_000; k++) batcher.add([String(k + 1)], k);
    const w = new SidecarWriter(batcher.schema);
    const bytes = collect(w.bytes());
    w.write(batcher.take());
    w.finish();
    const b = await bytes;
    expect(b.length).toBeLessThan(8 * 1024);
    const back = await batchesOf(b, 65_536);
    expect(back.reduce((a, x) => a + x.numRows, 0)).toBe(200_000);
    expect(back.at(-1)!.get(back.at(-1)!.numRows - 1)!.toJSON()).toEqual({ id: 200_000n, __btkit_row: 199_999n });
  });

  it("a writer given no rows writes a Parquet file with the columns and no rows", async () => {
    const batcher = new SidecarBatcher(COLUMNS);
    const w = new SidecarWriter(batcher.schema);
    const bytes = collect(w.bytes());
    w.finish();
    const file = path.join(dir, "empty.parquet");
    await fs.writeFile(file, await bytes);
    expect(await duckRows(`SELECT count(*) AS n FROM read_parquet(${sqlString(file)})`)).toEqual([{ n: 0n }]);
    const r = await readSidecar(once(await fs.readFile(file)), 100);
    expect(r.schema.fields.map((f) => f.name)).toEqual([...COLUMNS.map((c) => c.name), "__btkit_row"]);
  });

  it("an aborted writer's bytes end in its error, so an atomic write never publishes a partial file", async () => {
    const { batch } = sidecarOf(ROWS, 0);
    const w = new SidecarWriter(batch.schema);
    const bytes = collect(w.bytes());
    w.write(batch);
    w.abort(new Error("the shard failed"));
    await expect(bytes).rejects.toThrow("the shard failed");
  });

  it("reads the Arrow IPC stream sidecars of earlier preparations, told by the bytes", async () => {
    const { batch } = sidecarOf(ROWS, 7);
    const ipc = RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true);
    const back = await batchesOf(ipc);
    expect(back.flatMap((b) => b.toArray().map((r) => r.toJSON().__btkit_row as bigint))).toEqual([7n, 8n, 9n]);
    expect(back[0]!.schema.fields.map((f) => String(f.type))).toEqual(batch.schema.fields.map((f) => String(f.type)));
  });

  it("checks a Parquet sidecar's bytes (the whole callback) before it decodes them", async () => {
    const { batch } = sidecarOf(ROWS, 0);
    const w = new SidecarWriter(batch.schema);
    const bytes = collect(w.bytes());
    w.write(batch);
    w.finish();
    const garbage = Buffer.concat([Buffer.from("PAR1"), Buffer.alloc(64, 1)]);
    const seen: string[] = [];
    const refuse = (): Promise<void> => {
      seen.push("checked");
      return Promise.reject(new Error("changed after prep wrote it"));
    };
    await expect(readSidecar(once(garbage), 10, refuse)).rejects.toThrow("changed after prep wrote it");
    expect(seen).toEqual(["checked"]);
    const fine = await readSidecar(once(await bytes), 10, () => {
      seen.push("again");
      return Promise.resolve();
    });
    expect(fine.schema.fields.length).toBe(COLUMNS.length + 1);
    expect(seen).toEqual(["checked", "again"]);
  });
});
