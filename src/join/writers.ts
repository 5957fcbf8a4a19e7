/**
 * Writers: stages from joined record batches to the bytes of one output file.
 *
 * - parquet: parquet-wasm's transformParquetStream in a worker thread (parquet-worker.ts), pulled
 *   one batch at a time (row groups are emitted as they fill, so memory stays flat); zstd by
 *   default, snappy or none on request.
 * - arrow / arrow-stream: apache-arrow's IPC file / stream writers. Their queue does not slow the
 *   producer down, so each batch's bytes are drained before the next batch is written.
 * - jsonl, csv: written from the Arrow buffers as bytes by text-writer.ts: the first
 *   `textWorkerAfterRows` rows on the main thread, the rest on a worker thread (text-worker.ts), so
 *   a large join's writing overlaps its reading and a small one does not pay for a worker's start.
 */
import { Field, makeBuilder, makeData, RecordBatch, RecordBatchFileWriter, RecordBatchStreamWriter, Schema, Struct, Table, Time, TimeUnit, Timestamp, Type, tableToIPC, type Data, type DataType } from "apache-arrow";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WriteOptions } from "../io/storage.js";
import * as pw from "parquet-wasm";
import { BtkitError } from "../errors.js";
import { throughWorker } from "./batch-worker.js";
import { sameSchema } from "./ipc-buffers.js";
import { parquetInWorker } from "./parquet-worker.js";
import { writeText } from "./text-writer.js";
import type { TextWorkerData } from "./text-worker.js";

/**
 * How a joined table is stored: with the caller's signal, and without a sha256 of a local file's
 * bytes (nothing records it, and it costs about 1.6 CPU-s per 1.9 GB of JSON Lines on the thread
 * that also joins); an S3 write still hashes, for the object's metadata and its check.
 */
export function tableWriteOptions(signal: AbortSignal | undefined): WriteOptions & { sha256: false } {
  return { signal, sha256: false };
}

export const OUTPUT_FORMATS = ["parquet", "arrow", "arrow-stream", "jsonl", "csv"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const PARQUET_COMPRESSIONS = ["zstd", "snappy", "none"] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];

/** File extension of each format. */
export const EXTENSION_OF: Record<OutputFormat, string> = {
  parquet: ".parquet",
  arrow: ".arrow",
  "arrow-stream": ".arrows",
  jsonl: ".jsonl",
  csv: ".csv",
};

export interface WriterOptions {
  /** default "parquet" */
  format?: OutputFormat;
  /** Parquet compression; default "zstd" */
  compression?: ParquetCompression;
  /** Parquet rows per row group; default 65536 */
  rowGroupRows?: number;
  /** Parquet dictionary encoding; default false (faster, and smaller on high-cardinality data) */
  dictionary?: boolean;
  /** Parquet statistics: "none", "chunk" (row-group min/max, the default) or "page" */
  statistics?: "none" | "chunk" | "page";
  /**
   * Parquet writer version; default 1 (read by every Parquet reader). 2 writes data page v2 with
   * delta encodings: much smaller and faster on sequential numbers, no faster on text; read by
   * DuckDB, Spark 3, Trino/Athena and pyarrow, but not by some older readers.
   */
  parquetVersion?: 1 | 2;
  /** the schema to write when no batch comes (an empty output still has its columns); default none */
  emptySchema?: () => Schema | undefined;
  /**
   * JSON Lines and CSV: rows written on the main thread before the rest go to a worker thread
   * (rows, whole batches: the worker takes over from the batch after the one that reaches it);
   * default 16384. 0 sends every row to the worker, Infinity none. The bytes are the same either way.
   */
  textWorkerAfterRows?: number;
}

export interface ResolvedWriterOptions {
  format: OutputFormat;
  compression: ParquetCompression;
  rowGroupRows: number;
  dictionary: boolean;
  statistics: "none" | "chunk" | "page";
  parquetVersion: 1 | 2;
  emptySchema: () => Schema | undefined;
  textWorkerAfterRows: number;
}

export function resolveWriterOptions(o: WriterOptions = {}): ResolvedWriterOptions {
  const format = o.format ?? "parquet";
  if (!OUTPUT_FORMATS.includes(format)) throw new BtkitError("OPT_INVALID", `format must be one of ${OUTPUT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`, { option: "format", got: format });
  const compression = o.compression ?? "zstd";
  if (!PARQUET_COMPRESSIONS.includes(compression)) throw new BtkitError("OPT_INVALID", `compression must be one of ${PARQUET_COMPRESSIONS.join(", ")}, got ${JSON.stringify(compression)}`, { option: "compression", got: compression });
  const rowGroupRows = o.rowGroupRows ?? 65536;
  if (!Number.isInteger(rowGroupRows) || rowGroupRows < 1) throw new BtkitError("OPT_INVALID", `rowGroupRows must be a whole number >= 1, got ${rowGroupRows}`, { option: "rowGroupRows", got: rowGroupRows });
  const statistics = o.statistics ?? "chunk";
  if (statistics !== "none" && statistics !== "chunk" && statistics !== "page") throw new BtkitError("OPT_INVALID", `statistics must be none, chunk or page, got ${JSON.stringify(statistics)}`, { option: "statistics", got: statistics });
  const parquetVersion = o.parquetVersion ?? 1;
  if (parquetVersion !== 1 && parquetVersion !== 2) throw new BtkitError("OPT_INVALID", `parquetVersion must be 1 or 2, got ${JSON.stringify(parquetVersion)}`, { option: "parquetVersion", got: parquetVersion });
  const textWorkerAfterRows = o.textWorkerAfterRows ?? 16384;
  if (!(textWorkerAfterRows >= 0) || (!Number.isInteger(textWorkerAfterRows) && textWorkerAfterRows !== Infinity)) throw new BtkitError("OPT_INVALID", `textWorkerAfterRows must be a whole number >= 0 or Infinity, got ${textWorkerAfterRows}`, { option: "textWorkerAfterRows", got: textWorkerAfterRows });
  return { format, compression, rowGroupRows, dictionary: o.dictionary ?? false, statistics, parquetVersion, emptySchema: o.emptySchema ?? (() => undefined), textWorkerAfterRows };
}

/**
 * Creates the writer stage for a format: record batches in, file bytes out. The batches must share
 * one schema: one that differs from the first batch's is OPT_INVALID, never written otherwise or
 * left out (apache-arrow's writers end their file at a new schema, parquet-wasm's stream skipped it).
 */
export function createWriter(options: WriterOptions = {}): (batches: AsyncIterable<RecordBatch>) => AsyncGenerator<Uint8Array> {
  const o = resolveWriterOptions(options);
  switch (o.format) {
    case "parquet":
      return (b) => writeParquet(oneSchema(b, o.format), o);
    case "arrow":
      return (b) => writeArrow(oneSchema(b, o.format), o, "file");
    case "arrow-stream":
      return (b) => writeArrow(oneSchema(b, o.format), o, "stream");
    case "jsonl":
    case "csv": {
      const kind = o.format;
      return (b) => writeTextStaged(orEmpty(oneSchema(b, kind), o), kind, o.textWorkerAfterRows);
    }
  }
}

/** The batches, each checked to have the first one's schema (ipc-buffers.ts sameSchema). */
async function* oneSchema(batches: AsyncIterable<RecordBatch>, format: OutputFormat): AsyncGenerator<RecordBatch> {
  let first: Schema | undefined;
  let k = 0;
  for await (const b of batches) {
    k++;
    if (first === undefined) first = b.schema;
    else if (!sameSchema(b.schema, first)) {
      const describe = (s: Schema): string => s.fields.map((f) => `${f.name}: ${String(f.type)}${f.nullable ? "" : " not null"}`).join(", ");
      throw new BtkitError("OPT_INVALID", `the batches given to one ${format} writer must share one schema: batch ${k} has (${describe(b.schema)}), the first had (${describe(first)}); write each schema to a writer of its own`, { option: "batches", expected: describe(first), got: describe(b.schema) });
    }
    yield b;
  }
}

/** The first `afterRows` rows (whole batches) written on this thread, the rest by a worker; the bytes are writeText's. */
async function* writeTextStaged(batches: AsyncIterable<RecordBatch>, kind: "jsonl" | "csv", afterRows: number): AsyncGenerator<Uint8Array> {
  const source = batches[Symbol.asyncIterator]();
  let rows = 0;
  let ended = false;
  const head = async function* (): AsyncGenerator<RecordBatch> {
    while (rows < afterRows) {
      const r = await source.next();
      if (r.done) {
        ended = true;
        return;
      }
      rows += r.value.numRows;
      yield r.value;
    }
  };
  // on this thread: a header-only CSV when no batch comes is still written here
  if (afterRows > 0) yield* writeText(head(), kind);
  if (ended) return;
  const first = await source.next();
  if (first.done) return;
  const rest = async function* (): AsyncGenerator<RecordBatch> {
    yield first.value;
    while (true) {
      const r = await source.next();
      if (r.done) return;
      yield r.value;
    }
  };
  const data: TextWorkerData = { btkitTextWorker: true, kind, header: afterRows === 0 };
  yield* throughWorker(rest(), () => startTextWorker(data), kind === "csv" ? "CSV writing" : "JSON Lines writing", {}, "parts");
}

/** Loads text-worker.js beside this module in a worker; from the TypeScript sources (tests, tsx) through tsx's loader, registered in the worker. */
const TEXT_WORKER_BOOT = `
const { workerData, parentPort } = require("node:worker_threads");
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.module);
})().catch((e) => parentPort.postMessage({ type: "error", message: String((e && e.message) || e) }));
`;

function startTextWorker(data: TextWorkerData): Worker {
  const fromSource = import.meta.url.endsWith(".ts");
  const module = new URL(fromSource ? "./text-worker.ts" : "./text-worker.js", import.meta.url).href;
  // tsx's ESM API (a development dependency): resolved only when running from the sources
  const tsx = fromSource ? pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href : undefined;
  return new Worker(TEXT_WORKER_BOOT, { eval: true, workerData: { ...data, module, tsx } });
}

/** Batches, or one empty batch of the empty schema when none came. */
async function* orEmpty(batches: AsyncIterable<RecordBatch>, o: ResolvedWriterOptions): AsyncGenerator<RecordBatch> {
  let any = false;
  for await (const b of batches) {
    any = true;
    yield b;
  }
  if (!any) {
    const schema = o.emptySchema();
    if (schema) yield emptyBatch(schema);
  }
}

/**
 * A record batch with no rows (an empty output still has its columns). Each column comes from
 * apache-arrow's builder of its type, which makes the child data and offsets a list, struct or
 * map column needs (makeData alone leaves them out, and the writers then fail on them).
 */
export function emptyBatch(schema: Schema): RecordBatch {
  const children = schema.fields.map((f) => makeBuilder({ type: f.type }).finish().flush());
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children }));
}

function inSeconds(t: DataType): boolean {
  return (t.typeId === Type.Timestamp || t.typeId === Type.Time) && (t as unknown as { unit: TimeUnit }).unit === TimeUnit.SECOND;
}

/**
 * Parquet has no second unit (its TIMESTAMP and TIME take MILLIS, MICROS, NANOS): a
 * Timestamp(SECOND) or Time32(SECOND) column is written in milliseconds (its values x 1000), so
 * readers that go by Parquet's logical types (DuckDB, Spark) read times, not integers. The btkit
 * type on the field (timestamp(s), time(s)) stays.
 */
function parquetUnits(batch: RecordBatch): RecordBatch {
  const fields = batch.schema.fields;
  if (!fields.some((f) => inSeconds(f.type as DataType))) return batch;
  const newFields: Field[] = [];
  const children: Data[] = [];
  fields.forEach((f, j) => {
    const d = batch.data.children[j]!;
    if (!inSeconds(f.type as DataType)) {
      newFields.push(f);
      children.push(d);
      return;
    }
    const timestamp = f.type.typeId === Type.Timestamp;
    const type = timestamp ? new Timestamp(TimeUnit.MILLISECOND, (f.type as unknown as { timezone: string | null }).timezone) : new Time(TimeUnit.MILLISECOND, 32);
    const data = timestamp ? (d.values as BigInt64Array).map((v) => v * 1000n) : (d.values as Int32Array).map((v) => v * 1000);
    newFields.push(new Field(f.name, type, f.nullable, f.metadata));
    children.push(makeData({ type, length: d.length, nullCount: d.nullCount, nullBitmap: d.nullBitmap, data } as Parameters<typeof makeData>[0]));
  });
  const schema = new Schema(newFields, batch.schema.metadata);
  return new RecordBatch(schema, makeData({ type: new Struct(newFields), length: batch.numRows, nullCount: 0, children }));
}

async function* writeParquet(input: AsyncIterable<RecordBatch>, o: ResolvedWriterOptions): AsyncGenerator<Uint8Array> {
  const batches = (async function* () {
    for await (const b of input) yield parquetUnits(b);
  })();
  const source = batches[Symbol.asyncIterator]();
  const head = await source.next();
  if (head.done) {
    // no rows: parquet-wasm's stream writer needs a batch, the whole-table writer does not
    const empty = o.emptySchema();
    if (!empty) return;
    const schema = parquetUnits(emptyBatch(empty)).schema;
    const compression = o.compression === "zstd" ? pw.Compression.ZSTD : o.compression === "snappy" ? pw.Compression.SNAPPY : pw.Compression.UNCOMPRESSED;
    const props = new pw.WriterPropertiesBuilder().setCompression(compression).build();
    yield pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(new Table(schema), "stream")), props);
    return;
  }
  const all = (async function* () {
    yield head.value;
    while (true) {
      const r = await source.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  yield* parquetInWorker(all, { compression: o.compression, rowGroupRows: o.rowGroupRows, dictionary: o.dictionary, statistics: o.statistics, version: o.parquetVersion });
}

async function* writeArrow(batches: AsyncIterable<RecordBatch>, o: ResolvedWriterOptions, kind: "file" | "stream"): AsyncGenerator<Uint8Array> {
  const writer = kind === "file" ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
  const queued: Uint8Array[] = [];
  let failed: unknown;
  const drain = (async () => {
    try {
      for await (const chunk of writer) queued.push(chunk);
    } catch (err) {
      failed = err;
    }
  })();
  const flush = async (): Promise<Uint8Array[]> => {
    // the writer hands its bytes to the pending read synchronously; one macrotask turn lets the
    // reading loop collect them all, so at most one batch's bytes are ever held
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (failed !== undefined) throw failed;
    return queued.splice(0, queued.length);
  };
  for await (const b of orEmpty(batches, o)) {
    writer.write(b);
    for (const c of await flush()) yield c;
  }
  writer.finish();
  await drain;
  if (failed !== undefined) throw failed;
  for (const c of queued.splice(0, queued.length)) yield c;
}

export { isoMicros } from "./text-writer.js";
