/**
 * Parquet input (parquet-wasm, arrow-rs's reader), read from a local file one row group at a
 * time, in record batches of `batchSize` rows, each handed to apache-arrow through Arrow IPC
 * (a binary copy of the column buffers: no value goes through text). Memory is bounded by one
 * batch plus parquet-wasm's buffers for the row group being decoded.
 */
import fs from "node:fs";
import { RecordBatchReader, type RecordBatch } from "apache-arrow";
import * as pw from "parquet-wasm";
import { BtkitError } from "../errors.js";
import type { BatchSource } from "./arrow-reader.js";

function formatError(input: string, err: unknown): BtkitError {
  if (err instanceof BtkitError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new BtkitError("PREP_FORMAT", `${input}: not readable as Parquet: ${msg}`, { input }, { cause: err });
}

function batchesOf(ipc: Uint8Array): RecordBatch[] {
  return [...RecordBatchReader.from(ipc)];
}

/** Reads a local Parquet file of `size` bytes. */
export async function parquetFromFile(path: string, size: number, input: string, batchSize = 8192): Promise<BatchSource> {
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
  let rows = 0;
  const at = (r: number): number => (total > 0 ? Math.floor((size * r) / total) : size);
  async function* batches(): AsyncGenerator<{ batch: RecordBatch; endAt: (k: number) => number }> {
    try {
      for (let g = 0; g < groups; g++) {
        let stream: ReadableStream<pw.RecordBatch>;
        try {
          stream = (await file.stream({ rowGroups: [g], batchSize })) as ReadableStream<pw.RecordBatch>;
        } catch (err) {
          throw formatError(input, err);
        }
        const r = stream.getReader();
        while (true) {
          const next = await r.read().catch((err: unknown) => {
            throw formatError(input, err);
          });
          if (next.done) break;
          for (const batch of batchesOf(next.value.intoIPCStream())) {
            const first = rows;
            rows += batch.numRows;
            yield { batch, endAt: (k) => at(first + k + 1) };
          }
        }
      }
    } finally {
      file.free();
    }
  }
  return { schema, batches: batches(), bytes: () => at(rows) };
}
