/**
 * Parquet input (parquet-wasm, arrow-rs's reader), read from a local file one row group at a
 * time, in record batches of `batchSize` rows, each handed to apache-arrow through Arrow IPC
 * (a binary copy of the column buffers: no value goes through text). Memory is bounded by one
 * batch plus parquet-wasm's buffers for the row group being decoded.
 */
import fs from "node:fs";
import { RecordBatchReader, type RecordBatch } from "apache-arrow";
import * as pw from "parquet-wasm";
import { BtkitError, optionHint } from "../errors.js";
import type { BatchSource } from "./arrow-reader.js";

function formatError(input: string, err: unknown): BtkitError {
  if (err instanceof BtkitError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new BtkitError("PREP_FORMAT", `${input}: not readable as Parquet: ${msg}`, { input }, { cause: err });
}

/** WebAssembly.RuntimeError (a trap), without the DOM lib's WebAssembly types. */
const WASM_RUNTIME_ERROR = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly.RuntimeError;

function batchesOf(ipc: Uint8Array): RecordBatch[] {
  return [...RecordBatchReader.from(ipc)];
}

/**
 * Reads a local Parquet file of `size` bytes. Columns for which `unused(name)` holds are not read
 * at all (a dropped column that cannot be decoded does not stop prep); the batches then lack them.
 */
export async function parquetFromFile(path: string, size: number, input: string, batchSize = 8192, unused: (name: string) => boolean = () => false): Promise<BatchSource> {
  let file: pw.ParquetFile;
  let schemaIpc: Uint8Array;
  let groups: number;
  let total: number;
  try {
    file = await pw.ParquetFile.fromFile(await fs.openAsBlob(path));
    const md = file.metadata();
    groups = md.numRowGroups();
    total = md.fileMetadata().numRows();
    schemaIpc = file.schema().intoIPCStream();
  } catch (err) {
    throw formatError(input, err);
  }
  const reader = RecordBatchReader.from(schemaIpc);
  reader.open();
  const schema = reader.schema;
  const wanted = schema.fields.map((f) => f.name).filter((n) => !unused(n));
  const columns = wanted.length < schema.fields.length ? { columns: wanted } : {};
  let rows = 0;
  const at = (r: number): number => (total > 0 ? Math.floor((size * r) / total) : size);
  // a corrupt column chunk can make the decoder trap (a WebAssembly RuntimeError thrown from its
  // own callback, outside any promise): while reading, such a trap fails the read, coded
  let trap: ((err: unknown) => void) | undefined;
  const onUncaught = (err: unknown): void => {
    if (err instanceof WASM_RUNTIME_ERROR && trap) trap(err);
    else {
      process.removeListener("uncaughtException", onUncaught);
      throw err;
    }
  };
  const trapped = new Promise<never>((_, reject) => {
    trap = (err) => reject(new BtkitError("PREP_FORMAT", `${input}: the Parquet decoder failed (${String(err)}): a column chunk is corrupt or of an encoding it cannot read; if it is a column you do not need, drop it with ${optionHint("drop")} (dropped columns are not read)`, { input, option: "drop" }, { cause: err }));
  });
  trapped.catch(() => undefined);
  async function* batches(): AsyncGenerator<{ batch: RecordBatch; endAt: (k: number) => number }> {
    process.on("uncaughtException", onUncaught);
    try {
      for (let g = 0; g < groups; g++) {
        let stream: ReadableStream<pw.RecordBatch>;
        try {
          stream = (await file.stream({ rowGroups: [g], batchSize, ...columns })) as ReadableStream<pw.RecordBatch>;
        } catch (err) {
          throw formatError(input, err);
        }
        const r = stream.getReader();
        while (true) {
          const next = await Promise.race([
            r.read().catch((err: unknown) => {
              throw formatError(input, err);
            }),
            trapped,
          ]);
          if (next.done) break;
          let ipc: Uint8Array;
          try {
            ipc = next.value.intoIPCStream();
          } catch (err) {
            throw formatError(input, err);
          }
          for (const batch of batchesOf(ipc)) {
            const first = rows;
            rows += batch.numRows;
            yield { batch, endAt: (k) => at(first + k + 1) };
          }
        }
      }
    } finally {
      process.removeListener("uncaughtException", onUncaught);
      try {
        file.free();
      } catch {
        // after a trap the decoder's memory may be gone with it
      }
    }
  }
  return { schema, batches: batches(), bytes: () => at(rows) };
}
