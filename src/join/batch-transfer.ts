/**
 * Record batches handed to a worker thread as their column buffers (batch-worker.ts), not as an
 * Arrow IPC stream: the main thread does not encode the batch into one IPC buffer, and the worker
 * does not decode one. A buffer is transferred, leaving the main thread's heap at once (and no
 * longer counting towards its next full garbage collection), only when both:
 * - it belongs to a column Data an accumulator made for this batch alone (marked with `fresh`; a
 *   slice of it is another Data, sharing its buffers, and is not), and
 * - the batch was handed over (`handedOver`): its consumer owns it and nothing reads it after
 *   (join() writing its own batches; batches a library caller got from joinRows() and passes to
 *   a writer are theirs, and may be written twice).
 * Every other buffer (a view of a sidecar's or a shard's bytes, a pooled Buffer, one shared with
 * other batches) is copied, so nothing the main thread may still read is ever detached.
 *
 * The parts follow Arrow's Data layout (apache-arrow's Data: offset, length, null count, the
 * buffers [valueOffsets, values, nullBitmap, typeIds], children); the worker rebuilds each column
 * against the schema it was sent once. Dictionary-encoded and view columns are not carried this
 * way (`partsOf` answers undefined: the caller sends IPC).
 */
import { Data, RecordBatch, Struct, type DataType, type Schema } from "apache-arrow";

/** Column Data whose buffers were made for it alone (column accumulators' results). */
const FRESH = new WeakSet<Data>();

/** Batches whose consumer owns them (see above). */
const HANDED = new WeakSet<RecordBatch>();

/** The batches, each marked as handed over to their consumer (see above): for join()'s own writer only. */
export async function* handedOver(batches: AsyncIterable<RecordBatch>): AsyncGenerator<RecordBatch> {
  for await (const b of batches) {
    HANDED.add(b);
    yield b;
  }
}

/** Marks a column Data as holding buffers made for it alone (see above); returns it. */
export function fresh(data: Data): Data {
  FRESH.add(data);
  return data;
}

type Buffers = [ArrayBufferView | undefined, ArrayBufferView | undefined, ArrayBufferView | undefined, ArrayBufferView | undefined];

/** One column's Data as structured-cloneable parts. */
export interface DataParts {
  offset: number;
  length: number;
  nullCount: number;
  buffers: Buffers;
  children: DataParts[];
}

/** The buffer itself when it may move and is whole (added to `transfer`), else a copy of its bytes. */
function owned(x: ArrayBufferView | undefined, transfer: Set<ArrayBuffer>, move: boolean): ArrayBufferView | undefined {
  if (x === undefined || x === null) return undefined;
  const ab = x.buffer;
  if (move && x.byteOffset === 0 && x.byteLength === ab.byteLength && !(ab instanceof SharedArrayBuffer)) {
    transfer.add(ab as ArrayBuffer);
    return x;
  }
  if (transfer.has(ab as ArrayBuffer)) return x;
  // a copy in a buffer of its own, of the same element type (a Buffer's copy is a plain Uint8Array)
  const Ctor = (Buffer.isBuffer(x) ? Uint8Array : x.constructor) as new (b: ArrayBuffer) => ArrayBufferView;
  const copy = new Ctor((ab as ArrayBuffer).slice(x.byteOffset, x.byteOffset + x.byteLength));
  transfer.add(copy.buffer as ArrayBuffer);
  return copy;
}

/** Whether a column's Data (and its children's) can travel as parts: no dictionary, no view buffers. */
function carried(data: Data): boolean {
  return data.dictionary === undefined && (data.variadicBuffers?.length ?? 0) === 0 && data.children.every(carried);
}

function parts(data: Data, transfer: Set<ArrayBuffer>, handed: boolean): DataParts {
  const children = data.children.map((c) => parts(c, transfer, handed));
  const move = handed && FRESH.has(data);
  if (move) FRESH.delete(data);
  return {
    offset: data.offset,
    length: data.length,
    nullCount: data.nullCount,
    buffers: [owned(data.valueOffsets, transfer, move), owned(data.values as ArrayBufferView | undefined, transfer, move), owned(data.nullBitmap, transfer, move), owned(data.typeIds, transfer, move)],
    children,
  };
}

/**
 * A batch's columns as parts and the buffers to transfer with them (its fresh ones when it was
 * handed over, and copies); undefined when a column is dictionary-encoded or a view type (checked
 * before any buffer is taken).
 */
export function batchParts(batch: RecordBatch): { columns: DataParts[]; transfer: ArrayBuffer[] } | undefined {
  if (!batch.data.children.every(carried)) return undefined;
  const transfer = new Set<ArrayBuffer>();
  const handed = HANDED.has(batch);
  const columns: DataParts[] = [];
  for (const child of batch.data.children) columns.push(parts(child, transfer, handed));
  return { columns, transfer: [...transfer] };
}

function dataOf(type: DataType, p: DataParts): Data {
  const childTypes = (type.children ?? []) as { type: DataType }[];
  const children = p.children.map((c, k) => dataOf(childTypes[k]!.type, c));
  return new Data(type, p.offset, p.length, p.nullCount, p.buffers as never, children);
}

/** The record batch of `schema` that `batchParts` described (in the worker). */
export function batchOf(schema: Schema, length: number, columns: DataParts[]): RecordBatch {
  const children = columns.map((c, j) => dataOf(schema.fields[j]!.type, c));
  return new RecordBatch(schema, new Data(new Struct(schema.fields), 0, length, 0, undefined, children));
}
