/**
 * Writers: stages from joined record batches to the bytes of one output file.
 *
 * - parquet: parquet-wasm's transformParquetStream in a worker thread (parquet-worker.ts), pulled
 *   one batch at a time (row groups are emitted as they fill, so memory stays flat); zstd by
 *   default, snappy or none on request.
 * - arrow / arrow-stream: apache-arrow's IPC file / stream writers. Their queue does not slow the
 *   producer down, so each batch's bytes are drained before the next batch is written.
 * - jsonl: one JSON object per row; int64 as JSON numbers (exact digits), timestamps as ISO 8601
 *   strings with microseconds, json columns embedded as JSON, non-finite floats as null.
 * - csv: a header line, then RFC 4180 rows (fields quoted when needed); null is an empty field.
 */
import { Field, makeData, RecordBatch, RecordBatchFileWriter, RecordBatchStreamWriter, Schema, Struct, Table, Time, TimeUnit, Timestamp, Type, tableToIPC, type Data, type DataType, type Vector } from "apache-arrow";
import * as pw from "parquet-wasm";
import { BtkitError } from "../errors.js";
import { decimalOf, type ColumnType } from "../protocol/descriptor.js";
import { decimalText, readDecimalWords } from "../protocol/decimal.js";
import { columnTypeOfField } from "./columns.js";
import { parquetInWorker } from "./parquet-worker.js";
import { csvField } from "./csv-fields.js";
import { temporalOf, temporalText } from "../protocol/time.js";
import { isNestedName } from "../protocol/nested.js";
import { leafText, nestedText } from "../protocol/nested-arrow.js";

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
}

export interface ResolvedWriterOptions {
  format: OutputFormat;
  compression: ParquetCompression;
  rowGroupRows: number;
  dictionary: boolean;
  statistics: "none" | "chunk" | "page";
  parquetVersion: 1 | 2;
  emptySchema: () => Schema | undefined;
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
  return { format, compression, rowGroupRows, dictionary: o.dictionary ?? false, statistics, parquetVersion, emptySchema: o.emptySchema ?? (() => undefined) };
}

/** Creates the writer stage for a format: record batches in, file bytes out. */
export function createWriter(options: WriterOptions = {}): (batches: AsyncIterable<RecordBatch>) => AsyncGenerator<Uint8Array> {
  const o = resolveWriterOptions(options);
  switch (o.format) {
    case "parquet":
      return (b) => writeParquet(b, o);
    case "arrow":
      return (b) => writeArrow(b, o, "file");
    case "arrow-stream":
      return (b) => writeArrow(b, o, "stream");
    case "jsonl":
      return (b) => writeText(b, o, "jsonl");
    case "csv":
      return (b) => writeText(b, o, "csv");
  }
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

/** A record batch with no rows (an empty output still has its columns). */
export function emptyBatch(schema: Schema): RecordBatch {
  const children = schema.fields.map((f) => makeData({ type: f.type, length: 0 }));
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

type Cell = (i: number) => string | null;

function cellOf(vector: Vector, type: ColumnType, csv: boolean): Cell {
  // read the buffers directly: Vector.get decodes through generic visitors and is far slower
  const data = vector.data[0]!;
  const bitmap = data.nullBitmap;
  const base = data.offset;
  const valid = data.nullCount === 0 || !bitmap || bitmap.length === 0 ? (): boolean => true : (i: number): boolean => ((bitmap[(base + i) >> 3]! >> ((base + i) & 7)) & 1) === 1;
  const raw = data.values as ArrayBufferView | undefined;
  const dec = decimalOf(type);
  if (dec) {
    // exact digits: a number in JSON Lines, the same text in CSV
    const words = new Uint32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4));
    return (i) => (valid(i) ? decimalText(readDecimalWords(words, i * 4), dec.scale) : null);
  }
  if (isNestedName(type)) {
    // JSON text, leaves exact: bare in JSON Lines, a quoted field in CSV
    const text = nestedText(type, data);
    return (i) => {
      const v = text(i);
      return v === null ? null : csv ? csvField(v) : v;
    };
  }
  const t = temporalOf(type);
  if (t && type !== "date" && type !== "timestamp_ntz" && type !== "timestamp") {
    // time and the temporal types in other units: ISO 8601 with their unit's fraction digits
    const bits = (data.type as unknown as { bitWidth?: number }).bitWidth;
    const values = bits === 32 ? new Int32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4)) : new BigInt64Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 8));
    return (i) => {
      if (!valid(i)) return null;
      const text = temporalText(BigInt(values[i]!), t);
      return csv ? text : `"${text}"`;
    };
  }
  switch (type) {
    case "int64":
    case "uint64":
    case "float64":
    case "bool":
      // the same text in CSV and JSON
      return leafText(type, data);
    case "utf8":
    case "json": {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = Buffer.from(raw!.buffer, raw!.byteOffset, raw!.byteLength);
      const text = (i: number): string => bytes.toString("utf8", offsets[i]!, offsets[i + 1]!);
      if (type === "json") return (i) => (valid(i) ? (csv ? csvField(text(i)) : text(i)) : null);
      return (i) => (valid(i) ? (csv ? csvField(text(i)) : JSON.stringify(text(i))) : null);
    }
    case "timestamp":
    case "timestamp_ntz": {
      // the raw 64-bit values (a sliced Data already starts its values at its first row)
      const values = new BigInt64Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 8));
      // a wall-clock time is written without a zone: none is invented
      const cut = type === "timestamp" ? 0 : 1;
      return (i) => {
        if (!valid(i)) return null;
        const iso = isoMicros(values[i]!);
        const text = cut === 0 ? iso : iso.slice(0, -1);
        return csv ? text : `"${text}"`;
      };
    }
    case "date": {
      const values = new Int32Array(raw!.buffer, raw!.byteOffset, Math.floor(raw!.byteLength / 4));
      return (i) => {
        if (!valid(i)) return null;
        const day = new Date(values[i]! * 86400000).toISOString().slice(0, 10);
        return csv ? day : `"${day}"`;
      };
    }
    case "null":
      return () => null;
    default:
      throw new Error(`no text form for column type ${type}`);
  }
}

/** Microseconds since the epoch as ISO 8601 with six fraction digits. */
export function isoMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const rest = micros - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, -1)}${String(rest).padStart(3, "0")}Z`;
}

async function* writeText(batches: AsyncIterable<RecordBatch>, o: ResolvedWriterOptions, kind: "jsonl" | "csv"): AsyncGenerator<Uint8Array> {
  const csv = kind === "csv";
  let header = false;
  for await (const b of orEmpty(batches, o)) {
    const fields = b.schema.fields;
    const lines: string[] = [];
    if (csv && !header) {
      lines.push(fields.map((f) => csvField(f.name)).join(","));
      header = true;
    }
    const cells = fields.map((f, j) => cellOf(b.getChildAt(j)!, columnTypeOfField(f), csv));
    const keys = fields.map((f) => `${JSON.stringify(f.name)}:`);
    for (let i = 0; i < b.numRows; i++) {
      if (csv) {
        let line = "";
        for (let j = 0; j < cells.length; j++) line += (j > 0 ? "," : "") + (cells[j]!(i) ?? "");
        lines.push(line);
      } else {
        let line = "{";
        for (let j = 0; j < cells.length; j++) line += (j > 0 ? "," : "") + keys[j] + (cells[j]!(i) ?? "null");
        lines.push(`${line}}`);
      }
    }
    if (lines.length > 0) yield Buffer.from(`${lines.join("\n")}\n`, "utf8");
  }
}
