/**
 * The worker thread of the JSON Lines and CSV writers (started by writers.ts, driven by
 * batch-worker.ts's protocol): batches in (as their column buffers, batch-transfer.ts, or as
 * Arrow IPC), text-writer.ts's bytes out, in order. It
 * does nothing when imported outside such a worker.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { tableFromIPC, type RecordBatch, type Schema } from "apache-arrow";
import { batchOf, type DataParts } from "./batch-transfer.js";
import { ownBuffer } from "./batch-worker.js";
import { writeText } from "./text-writer.js";

/** What writers.ts gives the worker. */
export interface TextWorkerData {
  btkitTextWorker: true;
  kind: "jsonl" | "csv";
  /** CSV: whether to write the header line (false when the main thread wrote it with the first rows) */
  header: boolean;
}

type Incoming = { type: "batch" | "schema"; ipc: Uint8Array } | { type: "parts"; length: number; columns: DataParts[] } | { type: "end" };

function run(port: MessagePort, data: TextWorkerData): void {
  const queue: Incoming[] = [];
  let waiting: ((m: Incoming) => void) | undefined;
  port.on("message", (m: Incoming) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(m);
    } else queue.push(m);
  });
  const next = (): Promise<Incoming> => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => (waiting = resolve)));
  const batches = async function* (): AsyncGenerator<RecordBatch> {
    let schema: Schema | undefined;
    while (true) {
      const m = await next();
      if (m.type === "end") return;
      if (m.type === "schema") {
        schema = tableFromIPC(m.ipc).schema;
        continue;
      }
      if (m.type === "parts") {
        const batch = batchOf(schema!, m.length, m.columns);
        port.postMessage({ type: "pulled" });
        yield batch;
        continue;
      }
      const table = tableFromIPC(m.ipc);
      port.postMessage({ type: "pulled" });
      yield* table.batches;
    }
  };
  void (async () => {
    try {
      for await (const chunk of writeText(batches(), data.kind, { header: data.header })) {
        const bytes = ownBuffer(chunk);
        port.postMessage({ type: "chunk", bytes }, [bytes.buffer as ArrayBuffer]);
      }
      port.postMessage({ type: "done" });
    } catch (err) {
      port.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
    }
  })();
}

const data = workerData as Partial<TextWorkerData> | null;
if (parentPort !== null && data?.btkitTextWorker === true) run(parentPort, data as TextWorkerData);
