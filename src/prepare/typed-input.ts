/**
 * Record inputs: a JSON array, Parquet and Arrow IPC, opened as batches of records of the JSON
 * Lines shape (values as text with their JSON kind). Parquet and the Arrow IPC file format need
 * random access: a local plain file is read in place, anything else (S3, stdin, gzip) is first
 * copied, decompressed, to a temporary local file. JSON arrays and Arrow IPC streams stream.
 */
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BtkitError } from "../errors.js";
import type { ColumnType } from "../protocol/descriptor.js";
import { arrowFromFile, arrowFromStream, type BatchSource } from "./arrow-reader.js";
import { ArrowRecordMaker, typedColumns, type TypedColumn, type TypedRecord } from "./arrow-values.js";
import type { OpenedInput, ResolvedInput } from "./inputs.js";
import { JsonArrayScanner } from "./json-array-reader.js";
import { parquetFromFile } from "./parquet-reader.js";

export interface RecordInput {
  /** the input's own columns and types (Parquet, Arrow); undefined for a JSON array */
  columns: TypedColumn[] | undefined;
  /** records in order, in batches; a record with `error` is an invalid row */
  records: AsyncGenerator<TypedRecord[]>;
  /** decompressed input bytes consumed so far (estimated within a Parquet or Arrow file) */
  bytes: () => number;
  bomStripped: () => boolean;
  cleanup: () => Promise<void>;
}

export interface RecordInputOptions {
  /** --schema overrides (decide the kinds of Arrow values) */
  schema: ReadonlyMap<string, ColumnType>;
  /** longest JSON element */
  maxRecordBytes: number;
  /** folder for temporary copies; default the OS temp folder */
  tmpDir?: string;
  /** rows per batch read from Parquet; default 8192 */
  batchSize?: number;
  /** columns never decoded (dropped, or neither a feature nor kept) */
  unused?: (name: string) => boolean;
}

async function localCopy(opened: OpenedInput, tmpDir: string | undefined): Promise<{ file: string; size: number; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(tmpDir ?? os.tmpdir(), "btkit-input-"));
  const file = path.join(dir, "input");
  await pipeline(Readable.from(opened.chunks), createWriteStream(file));
  const st = await fs.stat(file);
  return { file, size: st.size, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Opens an input whose format (after detectFormat) is json, parquet or arrow. */
export async function openRecordInput(input: ResolvedInput, opened: OpenedInput, o: RecordInputOptions): Promise<RecordInput> {
  if (input.format === "json") {
    const scanner = new JsonArrayScanner({ input: input.display, maxRecordBytes: o.maxRecordBytes });
    async function* records(): AsyncGenerator<TypedRecord[]> {
      for await (const chunk of opened.chunks) yield scanner.push(chunk);
      yield scanner.end();
    }
    return { columns: undefined, records: records(), bytes: () => scanner.bytes, bomStripped: () => scanner.bomStripped, cleanup: async () => undefined };
  }
  if (input.format !== "parquet" && input.format !== "arrow") throw new BtkitError("INTERNAL", `openRecordInput: ${input.format} is not a record format`, { input: input.display });
  const isStream = input.format === "arrow" && opened.head !== undefined && opened.head.length >= 4 && opened.head.readUInt32LE(0) === 0xffffffff;
  const cleanups: (() => Promise<void>)[] = [];
  let source: BatchSource;
  try {
    if (isStream && (input.stdin || input.location?.kind !== "local" || opened.gzip())) {
      source = await arrowFromStream(opened.chunks, input.display);
    } else {
      let file: string;
      let size: number;
      if (!input.stdin && input.location?.kind === "local" && !opened.gzip()) {
        await opened.close?.();
        file = input.location.path;
        size = (await fs.stat(file)).size;
      } else {
        const copy = await localCopy(opened, o.tmpDir);
        cleanups.push(copy.cleanup);
        file = copy.file;
        size = copy.size;
      }
      if (input.format === "parquet") source = await parquetFromFile(file, size, input.display, o.batchSize, o.unused);
      else {
        const handle = await fs.open(file, "r");
        cleanups.push(() => handle.close());
        source = await arrowFromFile(handle, size, input.display);
      }
    }
  } catch (err) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  }
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups) await c().catch(() => undefined);
  };
  let columns: TypedColumn[];
  let maker: ArrowRecordMaker;
  try {
    columns = typedColumns(source.schema, input.display);
    maker = new ArrowRecordMaker(input.display, columns, columns.map((c) => o.schema.get(c.name) ?? c.type), o.unused);
  } catch (err) {
    await cleanup();
    throw err;
  }
  async function* records(): AsyncGenerator<TypedRecord[]> {
    for await (const { batch, endAt } of source.batches) yield maker.make(batch, endAt);
  }
  return { columns, records: records(), bytes: source.bytes, bomStripped: () => false, cleanup };
}
