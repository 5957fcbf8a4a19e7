/**
 * The sidecar file: how prep writes a shard's sidecar and how join (and merge) read it back.
 *
 * Written as Parquet through parquet-wasm (arrow-rs's writer): ZSTD pages, writer version 2, and
 * DELTA_BINARY_PACKED for the integer-like columns (int64, date, timestamps and the row number,
 * which is a run of consecutive integers and so takes almost nothing). The Arrow schema is stored
 * in the file (the ARROW:schema key), so the types read back are the ones written (timestamp
 * zones, decimal precision and scale); DuckDB, pyarrow and Spark read the file as it is. Measured
 * on 273,698 rows of the benchmark table: an ID column and the row number take 4.5 KB (4.4 MB as
 * an Arrow IPC stream); an ID, a user ID, a country code and a review text, 7.3 MB (30.7 MB).
 *
 * Read: the form is told by the bytes (Parquet's "PAR1" magic), so the Arrow IPC stream sidecars
 * of preparations made before sidecars were compressed still join. A sidecar is read whole (a
 * Parquet one is compressed, and small beside its shard) and checked before it is decoded, a
 * Parquet one a row group at a time into apache-arrow batches, Arrow IPC in between (a binary
 * copy: no value goes through text).
 */
import { RecordBatchReader, RecordBatchStreamWriter, Table, tableToIPC, type DataType, type RecordBatch, type Schema } from "apache-arrow";
import * as pw from "parquet-wasm";

/** rows per Parquet row group of a sidecar: the most join decodes at once */
export const SIDECAR_ROW_GROUP_ROWS = 65536;

/** The MIME type a sidecar is stored with. */
export const SIDECAR_CONTENT_TYPE = "application/vnd.apache.parquet";

export interface SidecarBatches {
  schema: Schema;
  batches: AsyncIterable<RecordBatch>;
}

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31];

function isParquet(head: Uint8Array): boolean {
  return head.length >= 4 && PARQUET_MAGIC.every((b, i) => head[i] === b);
}

/** WebAssembly.RuntimeError (a trap of the Parquet decoder), without the DOM lib's WebAssembly types. */
const WASM_RUNTIME_ERROR = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly.RuntimeError;

/**
 * Runs `work` (which decodes with parquet-wasm) so that a trap of the decoder on corrupt bytes (a
 * WebAssembly RuntimeError thrown from its own callback, outside any promise) rejects `work`'s
 * promise instead of ending the process.
 */
async function trapping<T>(work: () => Promise<T>): Promise<T> {
  let onTrap: ((err: unknown) => void) | undefined;
  const trapped = new Promise<never>((_, reject) => (onTrap = reject));
  trapped.catch(() => undefined);
  const onUncaught = (err: unknown): void => {
    if (err instanceof WASM_RUNTIME_ERROR) onTrap!(new Error(`the Parquet decoder failed (${String(err)}): the file is corrupt`));
    else {
      process.removeListener("uncaughtException", onUncaught);
      throw err;
    }
  };
  process.on("uncaughtException", onUncaught);
  try {
    return await Promise.race([work(), trapped]);
  } finally {
    process.removeListener("uncaughtException", onUncaught);
  }
}

/**
 * Opens a sidecar's bytes as record batches of at most `batchRows` rows (Parquet; an Arrow stream
 * keeps its own). The bytes are read whole first and `whole` runs before any is decoded (the
 * caller checks their sha256 there, so a changed file is reported as changed, not fed to the
 * decoder). An empty file, bytes that are neither form, or a decoder failure (a trap included)
 * throws an Error saying so; the batches are decoded as they are pulled.
 */
export async function readSidecar(bytes: AsyncIterable<Uint8Array>, batchRows: number, whole?: () => Promise<void> | undefined): Promise<SidecarBatches> {
  const chunks: Uint8Array[] = [];
  for await (const c of bytes) chunks.push(c);
  await whole?.();
  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (all.length === 0) throw new Error("is empty");
  if (!isParquet(all)) {
    const reader = RecordBatchReader.from(all);
    reader.open();
    if (!reader.schema) throw new Error("is neither Parquet nor an Arrow IPC stream");
    return { schema: reader.schema, batches: (async function* () { yield* reader; })() };
  }
  const file = await trapping(() => pw.ParquetFile.fromFile(new Blob([all])));
  let schema: Schema;
  let groups: number;
  try {
    schema = RecordBatchReader.from(file.schema().intoIPCStream()).open().schema;
    groups = file.metadata().numRowGroups();
  } catch (err) {
    file.free();
    throw err;
  }
  async function* batches(): AsyncGenerator<RecordBatch> {
    try {
      for (let g = 0; g < groups; g++) {
        const group = await trapping(async () => {
          const out: RecordBatch[] = [];
          const stream = (await file.stream({ rowGroups: [g], batchSize: batchRows })) as unknown as AsyncIterable<pw.RecordBatch>;
          for await (const b of stream) out.push(...RecordBatchReader.from(b.intoIPCStream()));
          return out;
        });
        yield* group;
      }
    } finally {
      try {
        file.free();
      } catch {
        // after a trap the decoder's memory may be gone with it
      }
    }
  }
  return { schema, batches: batches() };
}

/** Integer-like Arrow types (Int, Date, Timestamp): delta-encoded in a sidecar. */
function deltaEncoded(type: DataType): boolean {
  const name = String(type);
  return /^(Int|Uint)\d+$/.test(name) || name.startsWith("Date") || name.startsWith("Timestamp");
}

function writerProperties(schema: Schema): pw.WriterProperties {
  let b = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setWriterVersion(pw.WriterVersion.V2).setMaxRowGroupSize(SIDECAR_ROW_GROUP_ROWS);
  for (const f of schema.fields) {
    if (deltaEncoded(f.type)) b = b.setColumnDictionaryEnabled(f.name, false).setColumnEncoding(f.name, pw.Encoding.DELTA_BINARY_PACKED);
  }
  return b.build();
}

/** Arrow IPC stream bytes of one batch (the way batches cross into parquet-wasm). */
function ipcOf(batch: RecordBatch): Uint8Array {
  return RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true);
}

/**
 * Writes one sidecar as Parquet, streaming: write() batches (of one schema), then finish(); the
 * file's bytes come from bytes(), which throws at the end when the writer was aborted, so a
 * partial file is never published by an atomic write. Encoding runs on the calling thread, a row
 * group at a time (memory: the batches not yet encoded plus one row group).
 */
export class SidecarWriter {
  readonly #schema: Schema;
  readonly #queue: pw.RecordBatch[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #written = 0;
  #failure: unknown;

  constructor(schema: Schema) {
    this.#schema = schema;
  }

  write(batch: RecordBatch): void {
    if (this.#ended) return;
    const table = pw.Table.fromIPCStream(ipcOf(batch));
    for (const b of table.recordBatches()) this.#queue.push(b);
    table.free();
    this.#written++;
    this.#signal();
  }

  finish(): void {
    this.#ended = true;
    this.#signal();
  }

  /** Stops the writer: bytes() throws `err` (or its stand-in) instead of ending. */
  abort(err: unknown): void {
    this.#failure ??= err ?? new Error("aborted");
    this.#ended = true;
    for (const b of this.#queue.splice(0)) b.free();
    this.#signal();
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #waitForWork(): Promise<void> | undefined {
    if (this.#queue.length > 0 || this.#ended) return undefined;
    return new Promise((resolve) => (this.#wake = resolve));
  }

  async *bytes(): AsyncGenerator<Uint8Array> {
    while (this.#written === 0 && !this.#ended) await this.#waitForWork();
    if (this.#failure !== undefined) throw this.#failure;
    const props = writerProperties(this.#schema);
    if (this.#written === 0) {
      // no rows: the stream writer needs a batch, the whole-table writer does not
      yield pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(new Table(this.#schema), "stream")), props);
      return;
    }
    const input = new ReadableStream<pw.RecordBatch>(
      {
        pull: async (c) => {
          while (this.#queue.length === 0 && !this.#ended) await this.#waitForWork();
          if (this.#failure !== undefined) c.error(this.#failure);
          else if (this.#queue.length > 0) c.enqueue(this.#queue.shift()!);
          else c.close();
        },
      },
      { highWaterMark: 0 },
    );
    const out = (await pw.transformParquetStream(input, props)) as unknown as AsyncIterable<Uint8Array>;
    for await (const chunk of out) {
      if (this.#failure !== undefined) break;
      yield chunk;
    }
    if (this.#failure !== undefined) throw this.#failure;
  }
}
