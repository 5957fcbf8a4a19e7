/**
 * Builds join inputs the way prep and submit leave them, without importing either: model-input
 * shards (CSV, optionally gzipped), Parquet sidecars (or Arrow IPC streams; keep columns + __btkit_row), .out
 * files, and a descriptor with a job section. Data comes from a seeded generator.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Bool, DateDay, Field, Float64, Int64, makeData, makeVector, RecordBatch, RecordBatchStreamWriter, Schema, Struct, TimestampMicrosecond, Utf8, vectorFromArray, type Data } from "apache-arrow";
import type { ColumnSpec, ColumnType, Descriptor } from "../../src/protocol/descriptor.js";
import { outputNameFor, SIDECAR_ROW_COLUMN } from "../../src/protocol/layout.js";
import { childLocation, toUri, type Location } from "../../src/io/location.js";
import type { Storage } from "../../src/io/storage.js";
import * as pw from "parquet-wasm";

/** mulberry32: a small seeded generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Row = Record<string, unknown>;

/** The standard table: keep columns of every type, two features. */
export const COLUMNS: ColumnSpec[] = [
  { name: "id", type: "int64", roles: ["keep"] },
  { name: "name", type: "utf8", roles: ["keep"] },
  { name: "score", type: "float64", roles: ["keep"] },
  { name: "flag", type: "bool", roles: ["keep"] },
  { name: "ts", type: "timestamp", roles: ["keep"] },
  { name: "meta", type: "json", roles: ["keep"] },
  { name: "x1", type: "float64", roles: ["feature"] },
  { name: "x2", type: "int64", roles: ["feature"] },
];

/** Deterministic rows for COLUMNS; every 7th row has nulls in name and score; ts is micros (bigint). */
export function makeRows(n: number, seed: number, firstId = 0): Row[] {
  const r = rng(seed);
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    const id = firstId + i;
    rows.push({
      id: BigInt(id),
      name: i % 7 === 3 ? null : `név-${id}-${Math.floor(r() * 1000)}`,
      score: i % 7 === 5 ? null : Math.round(r() * 1e6) / 1e3,
      flag: r() < 0.5,
      ts: 1_700_000_000_000_000n + BigInt(id) * 1_000_123n,
      meta: JSON.stringify({ k: id % 3, tags: ["a", id] }),
      x1: Math.round(r() * 100) / 10,
      x2: BigInt(Math.floor(r() * 50)),
    });
  }
  return rows;
}

function dataOf(type: ColumnType, values: unknown[]): Data {
  switch (type) {
    case "int64":
      return vectorFromArray(values as Array<bigint | null>, new Int64()).data[0]!;
    case "float64":
      return vectorFromArray(values as Array<number | null>, new Float64()).data[0]!;
    case "bool":
      return vectorFromArray(values as Array<boolean | null>, new Bool()).data[0]!;
    case "utf8":
    case "json":
      return vectorFromArray(values as Array<string | null>, new Utf8()).data[0]!;
    case "timestamp":
    case "timestamp_ntz": {
      const arr = new BigInt64Array(values.map((v) => (v as bigint | null) ?? 0n));
      return makeData({ type: type === "timestamp" ? new TimestampMicrosecond("UTC") : new TimestampMicrosecond(), length: values.length, data: arr });
    }
    case "date":
      return makeData({ type: new DateDay(), length: values.length, data: new Int32Array(values.map((v) => (v as number | null) ?? 0)) });
    default:
      throw new Error(`no ${type} columns in fixtures`);
  }
}

/** Arrow IPC stream bytes of a sidecar: keep columns + __btkit_row, in batches of batchRows. */
export async function sidecarBytes(keep: ColumnSpec[], rows: Row[], firstRow: number, batchRows: number): Promise<Uint8Array> {
  const fields = [...keep.map((c) => new Field(c.name, dataOf(c.type, []).type, true)), new Field(SIDECAR_ROW_COLUMN, new Int64(), false)];
  const schema = new Schema(fields);
  const writer = new RecordBatchStreamWriter();
  const batches: RecordBatch[] = [];
  for (let off = 0; off < rows.length; off += batchRows) {
    const slice = rows.slice(off, off + batchRows);
    const children = keep.map((c) => dataOf(c.type, slice.map((r) => r[c.name])));
    children.push(makeVector(new BigInt64Array(slice.map((_, k) => BigInt(firstRow + off + k)))).data[0]!);
    batches.push(new RecordBatch(schema, makeData({ type: new Struct(fields), length: slice.length, nullCount: 0, children })));
  }
  if (batches.length === 0) writer.reset(undefined, schema);
  for (const b of batches) writer.write(b);
  writer.finish();
  return writer.toUint8Array(true);
}

export interface FixtureShard {
  rows: Row[];
  /** the .out text; undefined: no .out (missing) */
  out: string | Buffer | undefined;
  /** gzip the .out bytes (SageMaker writes them plain; tests use this for corrupt-gzip cases) */
  gzipOut?: boolean;
}

export interface FixtureOptions {
  columns?: ColumnSpec[];
  shards: FixtureShard[];
  accept?: string;
  joinSource?: "Input";
  sidecarBatchRows?: number;
  /** the sidecars' form: Parquet (what prep writes; default) or an Arrow IPC stream (what prep wrote before sidecars were compressed) */
  sidecarForm?: "parquet" | "arrow";
  gzipShards?: boolean;
}

export interface Fixture {
  descriptor: Descriptor;
  outputDir: Location;
}

/** Writes a whole fixture under `base` (a local folder or an S3 prefix) through storage. */
export async function writeFixture(storage: Storage, base: Location, o: FixtureOptions): Promise<Fixture> {
  const columns = o.columns ?? COLUMNS;
  const keep = columns.filter((c) => c.roles.includes("keep"));
  const features = columns.filter((c) => c.roles.includes("feature")).map((c) => c.name);
  const shardsDir = childLocation(base, "shards/");
  const outputDir = childLocation(base, "output/");
  const shards: Descriptor["shards"] = [];
  let firstRow = 0;
  for (const [i, s] of o.shards.entries()) {
    const name = `part-${String(i).padStart(5, "0")}.csv${o.gzipShards ? ".gz" : ""}`;
    const lines = s.rows.map((r) => features.map((f) => String(r[f])).join(","));
    const text = lines.map((l) => `${l}\n`).join("");
    const bytes = o.gzipShards ? gzipSync(text) : Buffer.from(text);
    const shardLoc = childLocation(base, `shards/${name}`);
    await storage.write(shardLoc, bytes);
    const arrowForm = o.sidecarForm === "arrow";
    const sidecarLoc = childLocation(base, `sidecars/part-${String(i).padStart(5, "0")}.${arrowForm ? "arrow" : "parquet"}`);
    const ipc = await sidecarBytes(keep, s.rows, firstRow, o.sidecarBatchRows ?? 4);
    // Parquet by parquet-wasm's whole-table writer with its defaults (not btkit's sidecar writer):
    // join must read any Parquet sidecar; one row group per sidecar batch
    const rowGroup = new pw.WriterPropertiesBuilder().setMaxRowGroupSize(o.sidecarBatchRows ?? 4).build();
    await storage.write(sidecarLoc, arrowForm ? ipc : pw.writeParquet(pw.Table.fromIPCStream(ipc), rowGroup));
    if (s.out !== undefined) {
      const raw = typeof s.out === "string" ? Buffer.from(s.out) : s.out;
      await storage.write(childLocation(outputDir, outputNameFor(name)), s.gzipOut ? gzipSync(raw) : raw);
    }
    shards.push({
      name,
      location: toUri(shardLoc),
      rows: s.rows.length,
      bytes: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      maxRecordBytes: Math.max(0, ...lines.map((l) => Buffer.byteLength(l))),
      sidecar: toUri(sidecarLoc),
      firstRow,
    });
    firstRow += s.rows.length;
  }
  const rows = firstRow;
  const descriptor: Descriptor = {
    btkit: "1.0",
    createdAt: "2026-01-01T00:00:00.000Z",
    tool: { name: "btkit", version: "0.1.0" },
    source: { inputs: [{ location: "file:///data/table.csv", format: "csv", compression: "none", rows }], options: {}, rowsRead: rows, rowsWritten: rows, rowsSkipped: 0, skipped: [] },
    schema: { columns },
    modelInput: { contentType: "text/csv", splitType: "Line", compression: o.gzipShards ? "Gzip" : "None", features, maxRecordBytes: 100 },
    shards,
    manifest: { location: toUri(childLocation(base, "manifest.json")), prefix: toUri(shardsDir).replace(/\/?$/, "/") },
    job: {
      backend: "emulator",
      name: "job-1",
      arn: "arn:aws:sagemaker:us-east-1:000000000000:transform-job/job-1",
      request: o.joinSource ? { DataProcessing: { JoinSource: o.joinSource } } : {},
      outputLocation: toUri(outputDir),
      accept: o.accept ?? "application/jsonlines",
      assembleWith: "Line",
      status: "Completed",
    },
  };
  return { descriptor, outputDir };
}

/** The .out text of JSON object predictions for rows: {"label": id % 3, "p": id / 1000}. */
export function jsonOut(rows: Row[]): string {
  return rows.map((r) => `${JSON.stringify({ label: Number(r.id) % 3, p: Number(r.id) / 1000 + 0.5 })}\n`).join("");
}
