/**
 * The transform executor: runs one job the way Batch Transform does.
 *
 * - Objects are the unit of work, spread over the instances before they start
 *   (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html: "Batch Transform
 *   partitions the Amazon S3 objects in the input by key and maps Amazon S3 objects to instances.
 *   When you have multiple files, one instance might process input1.csv, and another instance
 *   might process the file named input2.csv"; one file is never shared). The mapping itself is
 *   not public; the emulator's is round-robin in key order (assignObjects): object i of the
 *   listing goes to instance i mod N, so every instance gets a share even when one becomes healthy
 *   long before the others. With K objects and N > K instances only K instances start (the same
 *   page: "only one instance processes the input file and the rest of the instances are idle").
 * - Each instance is one model process (or URL), healthy on GET /ping before any invocation
 *   (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html), asked GET /execution-parameters once (same page).
 * - Records stream from the object (Line split, optional gunzip) into batches; at most
 *   MaxConcurrentTransforms requests are in flight per instance (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html);
 *   MaxPayloadInMB 0 lifts the limit and sends each body with HTTP chunked encoding (same page);
 *   results are written in input order (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html) through one atomic write
 *   per object, so an object's `.out` exists complete or not at all
 *   (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-errors.html), and a stop aborts every unfinished write
 *   (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTransformJob.html: no output is stored).
 */
import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import { childLocation, parseLocation, type Location, type Storage } from "../io/index.js";
import { filterInput, planDataProcessing, planRequestOf, processOutput, type DataPlan, type JoinMismatch, type JsonJoinKeys } from "./data-processing.js";
import { listInputs, type InputObject } from "./inputs.js";
import type { SliceEnd } from "../protocol/jsonpath.js";
import type { LogStore } from "./logs.js";
import { executionParameters, request, resolveImage, startInstance, waitHealthy, InvokeTimeout, type ModelInstance } from "./model-runtime.js";
import { Batcher, batchBody, LineSplitter, RangeBatcher, RecordTooLargeError, type Batch, type BatchStrategy } from "./records.js";
import type { JobRequest, ModelRequest } from "./validate.js";

/** Behaviour switches where the service is UNCONFIRMED, and local settings. */
export interface ExecutorSettings {
  storage: Storage;
  imageMap: Readonly<Record<string, string>>;
  host: string;
  baseEnv: Record<string, string | undefined>;
  cwd: string | undefined;
  healthTimeoutMs: number;
  pingIntervalMs: number;
  defaultBatchStrategy: BatchStrategy;
  assembleLine: "append-if-missing" | "always";
  outputKeys: "relative" | "basename";
  gzipOutputName: "keep" | "strip";
  skipFolderMarkers: boolean;
  sliceEnd: SliceEnd;
  jsonJoinKeys: JsonJoinKeys;
  joinMismatch: JoinMismatch;
  /** told of each model process started and ended (the state records them, to reap after a kill -9) */
  processes?: { started(pid: number, job: string): Promise<void>; ended(pid: number): Promise<void> };
}

export type JobOutcome = { status: "Completed" } | { status: "Failed"; reason: string } | { status: "Stopped" };

/** What the executor tells the control plane while a job runs. */
export interface JobHooks {
  /**
   * The job's instances are starting: the moment DescribeTransformJob's TransformStartTime names
   * ("when the transform job starts on ML instances. You are billed for the time interval between
   * this time and the value of TransformEndTime",
   * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTransformJob.html). It
   * comes before the model is healthy: in the recorded job of aws/amazon-sagemaker-examples
   * deploy_and_monitor/sm-batch_transform_pytorch/sm-batch_transform_pytorch.ipynb the
   * container's first log line (00:31:23) follows TransformStartTime (00:29:50) by 93 s. A job
   * that fails or stops before its instances start has none.
   */
  started(): void;
}

class FileFailure extends Error {}

class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiters.push(r));
  }
  release(): void {
    const w = this.#waiters.shift();
    if (w) w();
    else this.#free++;
  }
}

/** A stable fake EC2 instance id per job and instance number. */
export function instanceId(job: string, n: number): string {
  let h = 2166136261;
  for (const ch of job) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return `i-${h.toString(16).padStart(8, "0")}${(n + 1).toString(16).padStart(9, "0")}`;
}

/**
 * Which objects each of `instances` instances processes: round-robin in the order given (key order
 * for an S3Prefix, the manifest's order for a ManifestFile: listInputs), object i to instance
 * i mod `instances`. The emulator's choice for the service's "partitions the Amazon S3 objects in
 * the input by key and maps Amazon S3 objects to instances"
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html).
 */
export function assignObjects<T>(objects: readonly T[], instances: number): T[][] {
  const shares: T[][] = Array.from({ length: Math.max(1, instances) }, () => []);
  objects.forEach((o, i) => shares[i % shares.length]!.push(o));
  return shares;
}

/**
 * The container environment (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html): model env, SAGEMAKER_*
 * only where the request set them, job env.
 */
export function containerEnv(job: JobRequest, model: ModelRequest): Record<string, string> {
  const env: Record<string, string> = { ...(model.PrimaryContainer.Environment ?? {}) };
  env.SAGEMAKER_BATCH = "true";
  if (job.MaxPayloadInMB !== undefined) env.SAGEMAKER_MAX_PAYLOAD_IN_MB = String(job.MaxPayloadInMB);
  if (job.BatchStrategy !== undefined) env.SAGEMAKER_BATCH_STRATEGY = job.BatchStrategy === "SingleRecord" ? "SINGLE_RECORD" : "MULTI_RECORD";
  if (job.MaxConcurrentTransforms !== undefined && job.MaxConcurrentTransforms > 0) env.SAGEMAKER_MAX_CONCURRENT_TRANSFORMS = String(job.MaxConcurrentTransforms);
  return { ...env, ...(job.Environment ?? {}) };
}

function excerpt(b: Buffer): string {
  const t = b.toString("utf8").trim().replace(/\s+/g, " ");
  return t.length > 200 ? `${t.slice(0, 200)}...` : t;
}

interface Effective {
  mct: number;
  strategy: BatchStrategy;
  payloadMB: number;
}

interface FileContext {
  job: JobRequest;
  plan: DataPlan;
  eff: Effective;
  inst: ModelInstance;
  sem: Semaphore;
  settings: ExecutorSettings;
  signal: AbortSignal;
  outBase: Location;
}

/** Runs a job to its end. Never throws: every failure becomes a Failed outcome. */
export async function runJob(job: JobRequest, model: ModelRequest, settings: ExecutorSettings, logs: LogStore, signal: AbortSignal, hooks?: JobHooks): Promise<JobOutcome> {
  const name = job.TransformJobName;
  let plan: DataPlan;
  let inputs: InputObject[];
  let outBase: Location;
  try {
    plan = planDataProcessing(planRequestOf(job), settings);
    outBase = parseLocation(job.TransformOutput.S3OutputPath);
    const src = job.TransformInput.DataSource.S3DataSource;
    inputs = await listInputs(settings.storage, src.S3DataType, src.S3Uri, settings.skipFolderMarkers);
    if (inputs.length === 0) return { status: "Failed", reason: `ClientError: no input objects found at ${src.S3Uri}` };
  } catch (err) {
    return { status: "Failed", reason: `ClientError: ${(err as Error).message}` };
  }
  const image = resolveImage(model.PrimaryContainer.Image, settings.imageMap);
  if (typeof image === "string") return { status: "Failed", reason: `ClientError: ${image}` };

  const failures: string[] = [];
  const instanceErrors: string[] = [];
  const count = Math.min(job.TransformResources.InstanceCount, inputs.length);
  // each instance's objects, taken in order by its concurrent workers
  const shares = assignObjects(inputs, count);
  const env = containerEnv(job, model);

  const runInstance = async (n: number): Promise<void> => {
    const id = instanceId(name, n);
    const queue = shares[n]!;
    const containerLog = (m: string): void => logs.put(`${name}/${id}`, m);
    const dataLog = (m: string): void => logs.put(`${name}/${id}/data-log`, `[sagemaker logs]: ${m}`);
    let inst: ModelInstance | undefined;
    try {
      inst = await startInstance(image, {
        host: settings.host,
        env,
        baseEnv: settings.baseEnv,
        cwd: settings.cwd,
        maxSockets: 64,
        log: containerLog,
        onSpawn: settings.processes ? (pid) => settings.processes!.started(pid, name) : undefined,
        onExit: settings.processes ? (pid) => settings.processes!.ended(pid) : undefined,
      });
      const unhealthy = await waitHealthy(inst, settings.healthTimeoutMs, settings.pingIntervalMs, signal);
      if (signal.aborted) return;
      if (unhealthy !== undefined) {
        instanceErrors.push(unhealthy);
        dataLog(unhealthy);
        return;
      }
      const ep = await executionParameters(inst, signal);
      // precedence (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html): request -> /execution-parameters -> defaults
      const eff: Effective = {
        mct: job.MaxConcurrentTransforms !== undefined && job.MaxConcurrentTransforms > 0 ? job.MaxConcurrentTransforms : (ep.MaxConcurrentTransforms ?? 1),
        strategy: job.BatchStrategy ?? ep.BatchStrategy ?? settings.defaultBatchStrategy,
        payloadMB: job.MaxPayloadInMB ?? ep.MaxPayloadInMB ?? 6,
      };
      dataLog(`MaxConcurrentTransforms=${eff.mct}, MaxPayloadInMB=${eff.payloadMB}, BatchStrategy=${eff.strategy === "SingleRecord" ? "SINGLE_RECORD" : "MULTI_RECORD"}`);
      const sem = new Semaphore(eff.mct);
      const ctx: FileContext = { job, plan, eff, inst, sem, settings, signal, outBase };
      const worker = async (): Promise<void> => {
        while (!signal.aborted) {
          const file = queue.shift();
          if (!file) return;
          try {
            const n = await processFile(file, ctx);
            dataLog(`${file.display}: completed, ${n.records} records in ${n.requests} requests`);
          } catch (err) {
            if (signal.aborted) return;
            const msg = err instanceof FileFailure ? err.message : `internal error: ${(err as Error).message}`;
            failures.push(`${file.display}: ${msg}`);
            dataLog(`${file.display}: ClientError: ${msg}`);
          }
        }
      };
      await Promise.all(Array.from({ length: eff.mct }, worker));
    } catch (err) {
      instanceErrors.push(`instance ${id}: ${(err as Error).message}`);
    } finally {
      await inst?.close();
    }
  };

  if (signal.aborted) return { status: "Stopped" };
  hooks?.started();
  await Promise.all(Array.from({ length: count }, (_, n) => runInstance(n)));
  if (signal.aborted) return { status: "Stopped" };
  const unprocessed = shares.reduce((sum, q) => sum + q.length, 0);
  if (unprocessed > 0 || instanceErrors.length > 0) {
    const why = instanceErrors[0] ?? "no instance could process the input";
    const left = unprocessed > 0 ? `; ${unprocessed} of ${inputs.length} input objects were not processed` : "";
    return { status: "Failed", reason: clip(`AlgorithmError: ${why}${left}${failures.length > 0 ? `; first failed object: ${failures[0]}` : ""}`) };
  }
  if (failures.length > 0) {
    return { status: "Failed", reason: clip(`ClientError: ${failures.length} of ${inputs.length} input objects failed; first: ${failures[0]}. See the job's data-log streams for each object.`) };
  }
  return { status: "Completed" };
}

function clip(s: string): string {
  return s.length > 1024 ? `${s.slice(0, 1021)}...` : s;
}

async function* chunksOf(settings: ExecutorSettings, file: InputObject, gzip: boolean, signal: AbortSignal): AsyncGenerator<Buffer> {
  let stream: Readable = await settings.storage.read(file.location, { decompress: "never", signal });
  if (gzip) stream = stream.pipe(createGunzip());
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (err) {
    if (gzip && (err as NodeJS.ErrnoException).code?.startsWith("Z_")) throw new FileFailure(`cannot gunzip the object (CompressionType Gzip): ${(err as Error).message}`);
    throw err;
  } finally {
    stream.destroy();
  }
}

interface Sent {
  batch: Batch;
  originals: Buffer[] | undefined;
}

async function* batchesOf(file: InputObject, ctx: FileContext, stats: { records: number }): AsyncGenerator<Sent> {
  const { job, plan, eff, settings, signal } = ctx;
  const limit = eff.payloadMB * 1024 * 1024;
  const gzip = job.TransformInput.CompressionType === "Gzip";
  const chunks = chunksOf(settings, file, gzip, signal);
  if ((job.TransformInput.SplitType ?? "None") === "None") {
    // the entire (decompressed) object in one request (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html, SplitType);
    // larger than the limit fails it (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-errors.html)
    const parts: Buffer[] = [];
    let bytes = 0;
    for await (const c of chunks) {
      bytes += c.length;
      if (limit > 0 && bytes > limit) throw new FileFailure(`the object is larger than MaxPayloadInMB (${eff.payloadMB} MB) and SplitType is None`);
      parts.push(c);
    }
    const whole = Buffer.concat(parts);
    stats.records = 1;
    const rec = plan.inputFilter ? filterWithContext(plan, whole, 0) : whole;
    yield { batch: { first: 0, records: [rec], count: 1, bytes: rec.length }, originals: plan.join ? [whole] : undefined };
    return;
  }
  const tooLarge = (err: unknown): unknown =>
    err instanceof RecordTooLargeError ? new FileFailure(`record ${err.record + 1}: ${err.bytes} bytes, larger than MaxPayloadInMB (${eff.payloadMB} MB)`) : err;
  if (eff.strategy === "MultiRecord" && !plan.inputFilter && !plan.join) {
    // fast path: no record is needed on its own, so batches are cut from the byte stream
    const rb = new RangeBatcher(limit);
    const out: Batch[] = [];
    try {
      for await (const c of chunks) {
        rb.push(c, out);
        for (const b of out) {
          stats.records += b.count;
          yield { batch: b, originals: undefined };
        }
        out.length = 0;
      }
      rb.end(out);
    } catch (err) {
      throw tooLarge(err);
    }
    for (const b of out) {
      stats.records += b.count;
      yield { batch: b, originals: undefined };
    }
    return;
  }
  const splitter = new LineSplitter();
  const batcher = new Batcher(eff.strategy, limit);
  const pending: Buffer[] = [];
  const originals: Buffer[] = [];
  let index = 0;
  const take = (b: Batch): Sent => ({ batch: b, originals: plan.join ? originals.splice(0, b.count) : undefined });
  const add = (rec: Buffer): Batch | undefined => {
    const sent = plan.inputFilter ? filterWithContext(plan, rec, index) : rec;
    if (plan.join) originals.push(rec);
    index++;
    try {
      return batcher.add(sent);
    } catch (err) {
      throw tooLarge(err);
    }
  };
  for await (const c of chunks) {
    pending.length = 0;
    splitter.push(c, pending);
    for (const rec of pending) {
      const b = add(rec);
      if (b) yield take(b);
    }
  }
  pending.length = 0;
  splitter.end(pending);
  for (const rec of pending) {
    const b = add(rec);
    if (b) yield take(b);
  }
  const last = batcher.flush();
  if (last) yield take(last);
  stats.records = index;
}

function filterWithContext(plan: DataPlan, rec: Buffer, index: number): Buffer {
  try {
    return filterInput(plan, rec);
  } catch (err) {
    throw new FileFailure(`record ${index + 1}: ${(err as Error).message}`);
  }
}

function recordSpan(b: Batch): string {
  return b.count === 1 ? `record ${b.first + 1}` : `records ${b.first + 1}-${b.first + b.count}`;
}

async function invoke(sent: Sent, ctx: FileContext, signal: AbortSignal): Promise<Buffer> {
  const { job, inst, plan, settings, eff } = ctx;
  // MaxPayloadInMB 0: no limit on a request, its body sent with HTTP chunked encoding (API_CreateTransformJob, MaxPayloadInMB)
  const chunked = eff.payloadMB === 0;
  const headers: Record<string, string> = {};
  if (job.TransformInput.ContentType !== undefined) headers["content-type"] = job.TransformInput.ContentType;
  if (job.TransformOutput.Accept !== undefined) headers.accept = job.TransformOutput.Accept;
  const timeoutMs = (job.ModelClientConfig?.InvocationsTimeoutInSeconds ?? 600) * 1000;
  const retries = job.ModelClientConfig?.InvocationsMaxRetries ?? 3;
  const body = batchBody(sent.batch);
  let last = "";
  // Every non-2xx answer, timeout and connection error is retried (what the service retries is
  // UNCONFIRMED: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelClientConfig.html does not say).
  for (let attempt = 0; attempt <= retries; attempt++) {
    signal.throwIfAborted();
    try {
      const r = await request(inst, "POST", "/invocations", body, headers, timeoutMs, signal, chunked);
      if (r.status >= 200 && r.status < 300) {
        let out = r.body;
        if (plan.perRecordOutput) {
          try {
            out = processOutput(plan, sent.batch.count, sent.originals, out);
          } catch (err) {
            const off = (err as { offset?: number }).offset;
            const where = off === undefined ? recordSpan(sent.batch) : `record ${sent.batch.first + off + 1}`;
            throw new FileFailure(`${where}: ${(err as Error).message}`);
          }
        }
        if (job.TransformOutput.AssembleWith === "Line" && (settings.assembleLine === "always" || out.length === 0 || out[out.length - 1] !== 10)) {
          out = Buffer.concat([out, Buffer.from("\n")]);
        }
        return out;
      }
      last = `the model answered HTTP ${r.status}: ${excerpt(r.body)}`;
    } catch (err) {
      if (err instanceof FileFailure) throw err;
      if (signal.aborted) throw err;
      last = err instanceof InvokeTimeout ? `InvocationsTimeoutInSeconds (${timeoutMs / 1000} s) expired: ${err.message}` : `the request failed: ${(err as Error).message}`;
    }
  }
  throw new FileFailure(`${recordSpan(sent.batch)}: ${last} (after ${retries} ${retries === 1 ? "retry" : "retries"})`);
}

function outputLocation(file: InputObject, ctx: FileContext): Location {
  let rel = ctx.settings.outputKeys === "basename" ? file.rel.slice(file.rel.lastIndexOf("/") + 1) : file.rel.replace(/^\/+/, "");
  if (ctx.job.TransformInput.CompressionType === "Gzip" && ctx.settings.gzipOutputName === "strip") rel = rel.replace(/\.gz$/i, "");
  return childLocation(ctx.outBase, `${rel}.out`);
}

/** Processes one object; returns counts, or throws FileFailure (nothing is written then). */
async function processFile(file: InputObject, ctx: FileContext): Promise<{ records: number; requests: number }> {
  const { eff, sem, signal } = ctx;
  // DataProcessing the service takes at CreateTransformJob but cannot apply fails each object (aws/sagemaker-python-sdk#1112)
  if (ctx.plan.objectFailure !== undefined) throw new FileFailure(ctx.plan.objectFailure);
  const fileAbort = new AbortController();
  const onStop = (): void => fileAbort.abort();
  signal.addEventListener("abort", onStop, { once: true });
  const stats = { records: 0, requests: 0 };
  const results = async function* (): AsyncGenerator<Buffer> {
    const window: Array<Promise<Buffer>> = [];
    try {
      for await (const sent of batchesOf(file, ctx, stats)) {
        if (window.length >= eff.mct) yield await window.shift()!;
        await sem.acquire();
        stats.requests++;
        const p = invoke(sent, ctx, fileAbort.signal).finally(() => sem.release());
        p.catch(() => undefined);
        window.push(p);
      }
      while (window.length > 0) yield await window.shift()!;
      signal.throwIfAborted();
    } finally {
      fileAbort.abort();
    }
  };
  try {
    await ctx.settings.storage.write(outputLocation(file, ctx), results(), { signal });
  } catch (err) {
    if (err instanceof FileFailure || signal.aborted) throw err;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof FileFailure) throw cause;
    throw new FileFailure((err as Error).message);
  } finally {
    signal.removeEventListener("abort", onStop);
  }
  return stats;
}
