/**
 * Arrow IPC input, file and stream formats, read one record batch at a time (apache-arrow's
 * RecordBatchReader): a local file through a file handle (the file format's footer gives random
 * access to its batches), a byte stream (S3, stdin, gzip) for the stream format.
 */
import type { FileHandle } from "node:fs/promises";
import { RecordBatchReader, type RecordBatch, type Schema } from "apache-arrow";
import { BtkitError } from "../errors.js";

export interface BatchSource {
  schema: Schema;
  /** batches in order, each with the input byte position after each of its rows */
  batches: AsyncGenerator<{ batch: RecordBatch; endAt: (k: number) => number }>;
  /** input bytes consumed so far */
  bytes: () => number;
}

function formatError(input: string, err: unknown): BtkitError {
  if (err instanceof BtkitError) return err;
  return new BtkitError("PREP_FORMAT", `${input}: not readable as Arrow IPC: ${(err as Error).message}`, { input }, { cause: err });
}

/** Reads Arrow IPC from a local file handle (file or stream format) of `size` bytes. */
export async function arrowFromFile(handle: FileHandle, size: number, input: string): Promise<BatchSource> {
  let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
  try {
    reader = await RecordBatchReader.from(handle);
    await reader.open();
  } catch (err) {
    throw formatError(input, err);
  }
  const count = reader.isFile() ? reader.numRecordBatches : 0;
  let done = 0;
  let index = 0;
  async function* batches(): AsyncGenerator<{ batch: RecordBatch; endAt: (k: number) => number }> {
    const it = (reader as AsyncIterable<RecordBatch>)[Symbol.asyncIterator]();
    while (true) {
      let r: IteratorResult<RecordBatch>;
      try {
        r = await it.next();
      } catch (err) {
        throw formatError(input, err);
      }
      if (r.done) break;
      const before = done;
      // the file format knows its batch count; a stream in a file is measured by batches as well
      const after = count > 0 ? Math.floor((size * ++index) / count) : Math.min(size, before);
      done = after;
      const n = r.value.numRows;
      yield { batch: r.value, endAt: (k) => before + Math.floor(((after - before) * (k + 1)) / Math.max(1, n)) };
    }
    done = size;
  }
  return { schema: reader.schema, batches: batches(), bytes: () => done };
}

/** Reads the Arrow IPC stream format from bytes (any source), one batch at a time. */
export async function arrowFromStream(chunks: AsyncIterable<Uint8Array>, input: string): Promise<BatchSource> {
  let consumed = 0;
  async function* tap(): AsyncGenerator<Uint8Array> {
    for await (const c of chunks) {
      consumed += c.byteLength;
      yield c;
    }
  }
  let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
  try {
    reader = await RecordBatchReader.from(tap());
    await reader.open();
  } catch (err) {
    throw formatError(input, err);
  }
  if (reader.isFile()) throw new BtkitError("INTERNAL", `${input}: the Arrow IPC file format must be read from a local file`, { input });
  let pos = 0;
  async function* batches(): AsyncGenerator<{ batch: RecordBatch; endAt: (k: number) => number }> {
    const it = (reader as AsyncIterable<RecordBatch>)[Symbol.asyncIterator]();
    while (true) {
      let r: IteratorResult<RecordBatch>;
      try {
        r = await it.next();
      } catch (err) {
        throw formatError(input, err);
      }
      if (r.done) break;
      const before = pos;
      const after = Math.max(before, consumed);
      pos = after;
      const n = r.value.numRows;
      yield { batch: r.value, endAt: (k) => before + Math.floor(((after - before) * (k + 1)) / Math.max(1, n)) };
    }
    pos = consumed;
  }
  return { schema: reader.schema, batches: batches(), bytes: () => pos };
}
