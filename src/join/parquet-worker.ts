/**
 * Parquet encoding on the second core: a worker thread runs parquet-wasm's transformParquetStream
 * while the main thread reads, parses and aligns (batch-worker.ts: the protocol and the limits
 * that keep memory flat); the worker pulls one batch at a time.
 *
 * The worker's code is a plain script string (run with `eval: true`), so it works the same from
 * the built package, from tsx and from vitest; it loads parquet-wasm from the path resolved here.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { RecordBatch } from "apache-arrow";
import { throughWorker, type BatchWorkerLimits } from "./batch-worker.js";

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
      // its bytes are in wasm memory now: the buffer goes back for the next batch (ipc-buffers.ts)
      parentPort.postMessage({ type: "pulled", buffer: m.ipc.buffer }, [m.ipc.buffer]);
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

/** Encodes record batches (at least one) to Parquet bytes in a worker thread (batch-worker.ts). */
export function parquetInWorker(batches: AsyncIterable<RecordBatch>, props: ParquetProps, limits: BatchWorkerLimits = {}): AsyncGenerator<Uint8Array> {
  const parquetWasm = createRequire(import.meta.url).resolve("parquet-wasm");
  return throughWorker(batches, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { parquetWasm, props } }), "Parquet encoding", limits);
}
