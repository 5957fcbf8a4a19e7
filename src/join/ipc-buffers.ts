/**
 * Arrow IPC streams of single record batches, written into buffers that come back: the Parquet
 * worker (parquet-worker.ts) copies each stream into its wasm memory as it takes it and hands the
 * buffer back (batch-worker.ts, the `pulled` message), so the next batch is written into it.
 *
 * Why: a fresh buffer per batch (apache-arrow's tableToIPC) was most of what the main thread
 * allocated outside its heap (106 MB of 184 MB per 100 MB of the bench table joined to Parquet).
 * Transferred to the worker, each died there, and V8 frees such a buffer only when it collects
 * the object holding it: the worker, which allocates little on its own heap, collected 21 times
 * in a 400 MB join, so dead streams piled up in the process's malloc heap. With the buffers
 * returned, that join's peak RSS fell from 232 to 218-221 MiB (BENCHMARKS.md). A buffer that
 * never comes back is garbage as before, so a worker that does not return them (the text
 * worker's IPC fallback) still works.
 *
 * The bytes are apache-arrow's own stream writer's (schema message, the batch's message and body,
 * end-of-stream marker), gathered as the views it writes and copied once, as tableToIPC copies
 * them once into the buffer it returns.
 */
import { Message, RecordBatchStreamWriter, type RecordBatch, type Schema, type TypeMap } from "apache-arrow";

/**
 * The last schema's message as apache-arrow writes it (length prefix, flatbuffer, padding): the
 * same bytes for every batch of a join, so encoded once (it was about 2% of the main thread's time
 * in a Parquet join). A RecordBatch copies its schema (apache-arrow's constructor assigns the
 * fields again, as clones holding the same type objects), so a schema is the last one when it has
 * the same field names, nullability and key-value metadata, and the very same type objects (a
 * type's parameters, children and dictionary id are the object's; apache-arrow's compareSchemas is
 * not enough: it takes any two decimals as equal, whatever their precision and scale, and leaves
 * metadata out).
 */
let lastSchema: Schema | undefined;
let lastMessage: Uint8Array | undefined;

function sameMetadata(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Whether two schemas write the same schema message (false may be said of two that would: then it is encoded again). */
export function sameSchemaMessage(a: Schema, b: Schema): boolean {
  if (a === b) return true;
  if (a.fields.length !== b.fields.length || !sameMetadata(a.metadata, b.metadata)) return false;
  return a.fields.every((f, i) => {
    const g = b.fields[i]!;
    return f.type === g.type && f.name === g.name && f.nullable === g.nullable && sameMetadata(f.metadata, g.metadata);
  });
}

/**
 * Whether two schemas are one: the same schema message (sameSchemaMessage's quick answer, else
 * both messages encoded and compared byte for byte: names, nullability, types with every
 * parameter, dictionary ids, metadata).
 */
export function sameSchema(a: Schema, b: Schema): boolean {
  if (sameSchemaMessage(a, b)) return true;
  const x = Message.encode(Message.from(a));
  const y = Message.encode(Message.from(b));
  return x.byteLength === y.byteLength && x.every((v, i) => v === y[i]);
}

/** apache-arrow's stream writer, keeping the views it writes instead of queueing them to a reader. */
class GatheringWriter<T extends TypeMap> extends RecordBatchStreamWriter<T> {
  readonly pieces: Uint8Array[] = [];
  bytes = 0;

  protected override _writeSchema(schema: Schema<T>): this {
    if (lastSchema !== undefined && lastMessage !== undefined && sameSchemaMessage(schema, lastSchema)) return this._write(lastMessage);
    const from = this.pieces.length;
    super._writeSchema(schema);
    const written = this.pieces.slice(from);
    const message = new Uint8Array(written.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of written) {
      message.set(p, at);
      at += p.byteLength;
    }
    lastSchema = schema;
    lastMessage = message;
    return this;
  }

  protected override _write(chunk: ArrayBufferView | ArrayBufferLike): this {
    if (!this._started) return this;
    const view = ArrayBuffer.isView(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : new Uint8Array(chunk);
    if (view.byteLength > 0) {
      this.pieces.push(view);
      this.bytes += view.byteLength;
      this._position += view.byteLength;
    }
    return this;
  }
}

/** How much larger than the stream a new buffer is made, so a slightly larger batch fits next time. */
const HEADROOM = 1.125;

/**
 * Buffers to write IPC streams into, and those handed back. At most `keep` buffers wait for reuse
 * (the batches in flight to a worker, plus one); more are dropped to the garbage collector.
 */
export class IpcBuffers {
  readonly #free: ArrayBuffer[] = [];
  readonly #keep: number;
  /** buffers made (a new one when none free was large enough), for tests and diagnostics */
  made = 0;

  constructor(keep: number) {
    this.#keep = keep;
  }

  /**
   * The batch as one Arrow IPC stream (schema, batch, end-of-stream), in a buffer of its own:
   * a returned one when one is large enough, else a new one. The view starts at the buffer's start;
   * the buffer may be longer than the stream.
   */
  encode<T extends TypeMap>(batch: RecordBatch<T>): Uint8Array {
    const w = new GatheringWriter<T>();
    w.write(batch);
    w.finish();
    const out = new Uint8Array(this.#take(w.bytes), 0, w.bytes);
    let at = 0;
    for (const p of w.pieces) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }

  /** A buffer an encoded stream travelled in, to be written into again (its old bytes are overwritten, padding included). */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0 || this.#free.length >= this.#keep) return;
    this.#free.push(buffer);
  }

  #take(bytes: number): ArrayBuffer {
    for (let i = 0; i < this.#free.length; i++) {
      if (this.#free[i]!.byteLength >= bytes) return this.#free.splice(i, 1)[0]!;
    }
    // none fits (every waiting one is too small): one is dropped, so the buffers grow with the batches
    if (this.#free.length >= this.#keep) this.#free.shift();
    this.made++;
    return new ArrayBuffer(Math.ceil((bytes * HEADROOM) / 8) * 8);
  }
}
