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

type Reader = Awaited<ReturnType<typeof RecordBatchReader.from>>;
type Positioned = { batch: RecordBatch; endAt: (k: number) => number };

/**
 * The reader's batches in order, each with the byte position after each of its rows: `advance`
 * gives the position after a batch from the one before it; rows share the batch's bytes evenly.
 */
async function* positioned(reader: Reader, input: string, start: number, advance: (before: number) => number): AsyncGenerator<Positioned> {
  const it = (reader as AsyncIterable<RecordBatch>)[Symbol.asyncIterator]();
  let before = start;
  while (true) {
    let r: IteratorResult<RecordBatch>;
    try {
      r = await it.next();
    } catch (err) {
      throw formatError(input, err);
    }
    if (r.done) return;
    const from = before;
    const after = advance(from);
    before = after;
    const n = r.value.numRows;
    yield { batch: r.value, endAt: (k) => from + Math.floor(((after - from) * (k + 1)) / Math.max(1, n)) };
  }
}

/** Reads Arrow IPC from a local file handle (file or stream format) of `size` bytes. */
export async function arrowFromFile(handle: FileHandle, size: number, input: string): Promise<BatchSource> {
  let reader: Reader;
  try {
    reader = await RecordBatchReader.from(handle);
    await reader.open();
  } catch (err) {
    throw formatError(input, err);
  }
  const count = reader.isFile() ? reader.numRecordBatches : 0;
  let done = 0;
  let index = 0;
  async function* batches(): AsyncGenerator<Positioned> {
    // the file format knows its batch count; a stream in a file is measured by batches as well
    yield* positioned(reader, input, 0, (before) => (done = count > 0 ? Math.floor((size * ++index) / count) : Math.min(size, before)));
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
  let reader: Reader;
  try {
    reader = await RecordBatchReader.from(tap());
    await reader.open();
  } catch (err) {
    throw formatError(input, err);
  }
  if (reader.isFile()) throw new BtkitError("INTERNAL", `${input}: the Arrow IPC file format must be read from a local file`, { input });
  let pos = 0;
  async function* batches(): AsyncGenerator<Positioned> {
    yield* positioned(reader, input, 0, (before) => (pos = Math.max(before, consumed)));
    pos = consumed;
  }
  return { schema: reader.schema, batches: batches(), bytes: () => pos };
}
