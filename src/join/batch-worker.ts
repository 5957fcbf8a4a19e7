/**
 * Record batches encoded on the second core: the main thread reads, parses and aligns while a
 * worker thread turns the batches into file bytes (Parquet in parquet-worker.ts, JSON Lines and
 * CSV in text-worker.ts). One protocol for both:
 *
 * - main -> worker: `{ type: "batch", ipc }` (one Arrow IPC stream, its buffer transferred, not
 *   copied), or with the `parts` transport `{ type: "schema", ipc }` once (a schema-only IPC
 *   stream) and `{ type: "parts", length, columns }` per batch (batch-transfer.ts: the column
 *   buffers themselves, transferred; a batch they cannot carry goes as IPC), then `{ type: "end" }`;
 * - worker -> main: `{ type: "pulled" }` as it takes a batch (with `buffer`, the batch's IPC
 *   buffer transferred back when the worker is done with its bytes: the next batch is written
 *   into it, ipc-buffers.ts), `{ type: "chunk", bytes }` for output in order, `{ type: "done" }`
 *   at the end, or `{ type: "error", message }`.
 *
 * At most `inflight` batches wait in the worker's queue, and the main thread stops sending while
 * more than `maxQueuedBytes` of output wait to be written, so memory stays flat whichever side is
 * slower. A failure on either side ends both; the worker is terminated when the output ends or
 * its reader stops early.
 */
import type { Worker } from "node:worker_threads";
import { Table, tableToIPC, type RecordBatch, type Schema } from "apache-arrow";
import { BtkitError } from "../errors.js";
import { batchParts } from "./batch-transfer.js";
import { IpcBuffers } from "./ipc-buffers.js";

interface WorkerMessage {
  type: "pulled" | "chunk" | "done" | "error";
  bytes?: Uint8Array;
  buffer?: ArrayBuffer;
  message?: string;
}

export interface BatchWorkerLimits {
  /** batches sent and not yet taken by the worker; default 3 */
  inflight?: number;
  /** output bytes received and not yet written before sending stops; default 8 MiB */
  maxQueuedBytes?: number;
}

/** How batches travel: one IPC stream each (what parquet-wasm reads), or their column buffers (batch-transfer.ts). */
export type BatchTransport = "ipc" | "parts";

/**
 * Sends record batches to a worker started by `start` and yields the bytes it sends back, in
 * order, the batches sent as `transport` says. `what` names the work in errors ("Parquet encoding"): the worker's own failure is
 * IO_WRITE_FAILED, its exit before "done" is INTERNAL; an error of `batches` is thrown as it is.
 */
export async function* throughWorker(batches: AsyncIterable<RecordBatch>, start: () => Worker, what: string, limits: BatchWorkerLimits = {}, transport: BatchTransport = "ipc"): AsyncGenerator<Uint8Array> {
  const inflightMax = limits.inflight ?? 3;
  const maxQueued = limits.maxQueuedBytes ?? 8 * 1024 * 1024;
  const worker = start();
  const chunks: Uint8Array[] = [];
  let queuedBytes = 0;
  let inflight = 0;
  // the batches in flight, and the one being written
  const ipcBuffers = new IpcBuffers(inflightMax + 1);
  let done = false;
  let failure: unknown;
  let wake: Array<() => void> = [];
  const notify = (): void => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const changed = (): Promise<void> => new Promise((resolve) => wake.push(resolve));
  worker.on("message", (m: WorkerMessage) => {
    if (m.type === "chunk") {
      chunks.push(m.bytes!);
      queuedBytes += m.bytes!.length;
    } else if (m.type === "pulled") {
      inflight--;
      if (m.buffer !== undefined) ipcBuffers.give(m.buffer);
    }
    else if (m.type === "done") done = true;
    else failure ??= new BtkitError("IO_WRITE_FAILED", `${what} failed: ${m.message}`, {});
    notify();
  });
  worker.on("error", (err) => {
    failure ??= err;
    notify();
  });
  worker.on("exit", (code) => {
    if (!done) failure ??= new BtkitError("INTERNAL", `the ${what} worker exited with code ${code} before finishing`, {});
    notify();
  });
  let stop = false;
  let schemaSent: Schema | undefined;
  const producer = (async () => {
    try {
      for await (const b of batches) {
        while (!stop && failure === undefined && (inflight >= inflightMax || queuedBytes > maxQueued)) await changed();
        if (stop || failure !== undefined) return;
        inflight++;
        const carried = transport === "parts" ? batchParts(b) : undefined;
        if (carried !== undefined) {
          if (b.schema !== schemaSent) {
            const ipc = ownBuffer(tableToIPC(new Table(b.schema), "stream"));
            worker.postMessage({ type: "schema", ipc }, [ipc.buffer as ArrayBuffer]);
            schemaSent = b.schema;
          }
          worker.postMessage({ type: "parts", length: b.numRows, columns: carried.columns }, carried.transfer);
        } else {
          const ipc = ipcBuffers.encode(b);
          worker.postMessage({ type: "batch", ipc }, [ipc.buffer as ArrayBuffer]);
        }
      }
      worker.postMessage({ type: "end" });
    } catch (err) {
      failure ??= err;
      notify();
    }
  })();
  try {
    while (true) {
      if (chunks.length > 0) {
        const c = chunks.shift()!;
        queuedBytes -= c.length;
        notify();
        yield c;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (done) break;
      await changed();
    }
    await producer;
    if (failure !== undefined) throw failure;
  } finally {
    stop = true;
    notify();
    await producer.catch(() => undefined);
    await worker.terminate();
  }
}

/** The bytes in an ArrayBuffer of their own (a view of a shared or pooled buffer is copied), so the buffer can be transferred. */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  // not bytes.slice(): a Buffer's slice is a view of the same memory
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
