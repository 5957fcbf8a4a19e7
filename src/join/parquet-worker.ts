/**
 * Parquet encoding on the second core: a worker thread runs parquet-wasm's transformParquetStream
 * while the main thread reads, parses and aligns. Batches cross as Arrow IPC stream bytes
 * (transferred, not copied); the worker pulls one at a time and at most `inflight` wait in its
 * queue, and the main thread stops sending while more than `maxQueuedBytes` of Parquet output wait
 * to be written, so memory stays flat whichever side is slower.
 *
 * The worker's code is a plain script string (run with `eval: true`), so it works the same from
 * the built package, from tsx and from vitest; it loads parquet-wasm from the path resolved here.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { Table, tableToIPC, type RecordBatch } from "apache-arrow";
import { BtkitError } from "../errors.js";

export interface ParquetProps {
  compression: "zstd" | "snappy" | "none";
  rowGroupRows: number;
  dictionary: boolean;
  statistics: "none" | "chunk" | "page";
  /** Parquet writer version: 1 (widest reader support) or 2 (data page v2 and delta encodings) */
  version: 1 | 2;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const pw = require(workerData.parquetWasm);
const queue = [];
let waiting = null;
parentPort.on("message", (m) => {
  if (waiting) { const w = waiting; waiting = null; w(m); } else queue.push(m);
});
const next = () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => { waiting = r; }));
const p = workerData.props;
let b = new pw.WriterPropertiesBuilder()
  .setCompression(p.compression === "zstd" ? pw.Compression.ZSTD : p.compression === "snappy" ? pw.Compression.SNAPPY : pw.Compression.UNCOMPRESSED)
  .setMaxRowGroupSize(p.rowGroupRows)
  .setDictionaryEnabled(p.dictionary)
  .setStatisticsEnabled(p.statistics === "none" ? pw.EnabledStatistics.None : p.statistics === "chunk" ? pw.EnabledStatistics.Chunk : pw.EnabledStatistics.Page)
  .setWriterVersion(p.version === 2 ? pw.WriterVersion.V2 : pw.WriterVersion.V1);
const props = b.build();
let pending = [];
const input = new ReadableStream({
  async pull(c) {
    while (pending.length === 0) {
      const m = await next();
      if (m.type === "end") { c.close(); return; }
      const t = pw.Table.fromIPCStream(m.ipc);
      pending = t.recordBatches();
      t.free();
      parentPort.postMessage({ type: "pulled" });
    }
    c.enqueue(pending.shift());
  },
}, { highWaterMark: 0 });
(async () => {
  try {
    const out = await pw.transformParquetStream(input, props);
    for await (const chunk of out) parentPort.postMessage({ type: "chunk", bytes: chunk });
    parentPort.postMessage({ type: "done" });
  } catch (e) {
    parentPort.postMessage({ type: "error", message: String((e && e.message) || e) });
  }
})();
`;

interface WorkerMessage {
  type: "pulled" | "chunk" | "done" | "error";
  bytes?: Uint8Array;
  message?: string;
}

/** Encodes record batches (at least one) to Parquet bytes in a worker thread. */
export async function* parquetInWorker(batches: AsyncIterable<RecordBatch>, props: ParquetProps, limits: { inflight?: number; maxQueuedBytes?: number } = {}): AsyncGenerator<Uint8Array> {
  const inflightMax = limits.inflight ?? 3;
  const maxQueued = limits.maxQueuedBytes ?? 8 * 1024 * 1024;
  const parquetWasm = createRequire(import.meta.url).resolve("parquet-wasm");
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { parquetWasm, props } });
  const chunks: Uint8Array[] = [];
  let queuedBytes = 0;
  let inflight = 0;
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
    } else if (m.type === "pulled") inflight--;
    else if (m.type === "done") done = true;
    else failure ??= new BtkitError("IO_WRITE_FAILED", `Parquet encoding failed: ${m.message}`, {});
    notify();
  });
  worker.on("error", (err) => {
    failure ??= err;
    notify();
  });
  worker.on("exit", (code) => {
    if (!done) failure ??= new BtkitError("INTERNAL", `the Parquet worker exited with code ${code} before finishing`, {});
    notify();
  });
  let stop = false;
  const producer = (async () => {
    try {
      for await (const b of batches) {
        while (!stop && failure === undefined && (inflight >= inflightMax || queuedBytes > maxQueued)) await changed();
        if (stop || failure !== undefined) return;
        let ipc = tableToIPC(new Table([b]), "stream");
        if (ipc.byteOffset !== 0 || ipc.byteLength !== ipc.buffer.byteLength) ipc = ipc.slice();
        inflight++;
        worker.postMessage({ type: "batch", ipc }, [ipc.buffer as ArrayBuffer]);
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
