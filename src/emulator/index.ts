/**
 * btkit/emulator: a local SageMaker for Batch Transform.
 *
 * `startEmulator(options)` starts an HTTP server that speaks the SageMaker JSON protocol
 * (awsJson1_1: `POST /`, `X-Amz-Target: SageMaker.<Op>`) for CreateModel, DescribeModel,
 * DeleteModel, ListModels, CreateTransformJob, DescribeTransformJob, ListTransformJobs,
 * StopTransformJob, CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs,
 * StopProcessingJob, and AddTags, ListTags and DeleteTags of transform jobs and models, and the
 * CloudWatch Logs calls DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents
 * (`X-Amz-Target: Logs_20140328.<Op>`) for the groups /aws/sagemaker/TransformJobs and
 * /aws/sagemaker/ProcessingJobs.
 * CreateTransformJob fields the emulator takes but does not act on (DataCaptureConfig,
 * ExperimentConfig, KMS keys, TransformAmiVersion) are shown by Describe and named in the job's
 * `<job>/emulator` log stream. Errors use the AWS JSON error shape, so the AWS SDKs raise
 * ValidationException, ResourceInUse and ResourceNotFound. Any request is accepted whatever
 * its signature: the emulator does not check SigV4 (use any access key and secret).
 * With `stateDir`, models, jobs and log streams survive a restart (state.ts, logs.ts).
 *
 * What a model runs is said by CreateModel's PrimaryContainer.Image:
 * - `local-cmd:<shell command line>`: each instance runs `sh -c '<cmd> serve'` with
 *   SAGEMAKER_BIND_TO_PORT=<a free port> plus the container environment (model Environment,
 *   SAGEMAKER_BATCH=true, the SAGEMAKER_* values the job set, job Environment).
 * - `local-url:<http://host:port>`: the model is already served there (no process).
 * - any other image URI: looked up in `imageMap` (URI -> command, run as local-cmd); otherwise the
 *   job fails with a FailureReason saying so.
 *
 * A processing job runs its ContainerEntrypoint and ContainerArguments as local processes, one per
 * instance, each with its own resourceconfig.json (processing.ts: `btkit` as the entrypoint runs
 * this package's CLI; `processingCommands` maps other names); ProcessingInputs and
 * ProcessingOutputs are kept but not copied (the job's log says so).
 *
 * Inputs and outputs are `s3://` (through `storage`) or, as a local extension, `file://`.
 * The executor follows the service's documented behaviour; executor.ts names the public source
 * of each rule. Where the service is UNCONFIRMED, EmulatorOptions has a switch.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Storage, claim, lockFor, s3SettingsFromEnv } from "../io/index.js";
import { ApiError } from "./api-error.js";
import { callSageMaker, type ApiContext } from "./api.js";
import { runJob, type ExecutorSettings } from "./executor.js";
import type { SliceEnd } from "../protocol/jsonpath.js";
import { emulatorStream, LogStore, PROCESSING_LOG_GROUP } from "./logs.js";
import { btkitCommand, runProcessingJob, type ProcessingSettings } from "./processing.js";
import type { JoinMismatch, JsonJoinKeys } from "./data-processing.js";
import type { BatchStrategy } from "./records.js";
import { procStartOf, RESTART_REASON, StateStore, type JobRecord, type ProcessingJobRecord } from "./state.js";

export { startExampleModel, predict, type ExampleModelOptions, type RunningExampleModel } from "./example-model.js";
export { LOG_GROUP, PROCESSING_LOG_GROUP } from "./logs.js";
export { btkitCommand } from "./processing.js";
export { RESTART_REASON } from "./state.js";

export interface EmulatorOptions {
  /** address to listen on; default "127.0.0.1" */
  host?: string;
  /** port; default 0 (a free port) */
  port?: number;
  /** region in ARNs; default AWS_REGION from `env`, else "us-east-1" */
  region?: string;
  /** folder for job and model state (JSON files) and the jobs' log streams (logs/); default none: state and logs live in memory only */
  stateDir?: string;
  /** storage for s3:// and file:// inputs and outputs; default one configured from `env` */
  storage?: Storage;
  /** image URI -> shell command (run like local-cmd:); default {} */
  imageMap?: Record<string, string>;
  /**
   * processing jobs: a ContainerEntrypoint's first element -> the argv run in its place (processing.ts);
   * default `{ btkit: [node, <this package>/dist/bin/btkit.js] }` (btkitCommand()), to which these are added;
   * any other name is looked up on PATH
   */
  processingCommands?: Record<string, string[]>;
  /** environment model processes inherit (SAGEMAKER_* removed); default process.env */
  env?: Record<string, string | undefined>;
  /** working folder of model processes; default the current one */
  cwd?: string;
  /**
   * how long an instance may take to answer GET /ping with 200; default 1,800,000 ms (30 min, a
   * 2019 maintainer answer: https://github.com/aws/amazon-sagemaker-examples/issues/815)
   */
  healthTimeoutMs?: number;
  /** pause between pings; default 200 ms */
  pingIntervalMs?: number;
  /**
   * UNCONFIRMED: BatchStrategy when neither the request nor /execution-parameters sets it
   * (precedence: https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html); default "MultiRecord", as the
   * SageMaker Python SDK's local mode (aws/sagemaker-python-sdk src/sagemaker/local/entities.py)
   */
  defaultBatchStrategy?: BatchStrategy;
  /** UNCONFIRMED: AssembleWith Line adds `\n` after a response only when it does not end with one ("append-if-missing", default) or always ("always") */
  assembleLine?: "append-if-missing" | "always";
  /** UNCONFIRMED: `.out` keys keep the input's path below the prefix ("relative", default) or only its base name ("basename") */
  outputKeys?: "relative" | "basename";
  /** UNCONFIRMED: a Gzip input `x.csv.gz` gives `x.csv.gz.out` ("keep", default) or `x.csv.out` ("strip"); output is never compressed */
  gzipOutputName?: "keep" | "strip";
  /** UNCONFIRMED: skip zero-byte keys ending in `/` (folder markers) under an S3Prefix; default true */
  skipFolderMarkers?: boolean;
  /** UNCONFIRMED: DataProcessing slice `[s:e]` includes e ("inclusive", default, as the docs' text says) or not ("exclusive") */
  sliceEnd?: SliceEnd;
  /**
   * JoinSource Input with JSON: the joined object written compactly with every object's keys sorted
   * ("sorted", default: what every public recording shows, the Model Monitor batch-transform
   * notebooks of aws/amazon-sagemaker-examples among them; data-processing.ts lists them),
   * `SageMakerOutput` first then the input's own text ("output-first"), or the input's own text
   * then `SageMakerOutput` ("input-first": the data-processing page's hand-written example,
   * https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html)
   */
  jsonJoinKeys?: JsonJoinKeys;
  /**
   * UNCONFIRMED: JoinSource Input with Accept not matching ContentType or AssembleWith not matching
   * SplitType (the data-processing page says they must match): the job's objects fail with the
   * reason ("run", default: the service applies DataProcessing per object,
   * https://github.com/aws/sagemaker-python-sdk/issues/1112) or CreateTransformJob answers
   * ValidationException ("create")
   */
  joinMismatch?: JoinMismatch;
}

export interface RunningEmulator {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  region: string;
  /** stops accepting calls, stops running jobs (they end Stopped) and their model processes */
  close(): Promise<void>;
  /** model processes of an earlier emulator on the same state folder that this one stopped on start */
  reaped: number;
}

const ACCOUNT = "123456789012";

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const env = options.env ?? process.env;
  const host = options.host ?? "127.0.0.1";
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  const settings: ExecutorSettings = {
    storage: options.storage ?? new Storage({ env, s3: s3SettingsFromEnv(env) }),
    imageMap: options.imageMap ?? {},
    host,
    baseEnv: env,
    cwd: options.cwd,
    healthTimeoutMs: options.healthTimeoutMs ?? 1_800_000,
    pingIntervalMs: options.pingIntervalMs ?? 200,
    defaultBatchStrategy: options.defaultBatchStrategy ?? "MultiRecord",
    assembleLine: options.assembleLine ?? "append-if-missing",
    outputKeys: options.outputKeys ?? "relative",
    gzipOutputName: options.gzipOutputName ?? "keep",
    skipFolderMarkers: options.skipFolderMarkers ?? true,
    sliceEnd: options.sliceEnd ?? "inclusive",
    jsonJoinKeys: options.jsonJoinKeys ?? "sorted",
    joinMismatch: options.joinMismatch ?? "run",
  };
  // one emulator per state folder: two would both launch a job of one name (two executions)
  const held = options.stateDir === undefined ? undefined : await claim(settings.storage, lockFor({ kind: "local", path: path.resolve(options.stateDir) }, "folder"), "btkit emulator", `the emulator state folder ${options.stateDir} is in use by another emulator (another submit --local or btkit emulator)`);
  const state = new StateStore(options.stateDir);
  const logs = new LogStore(region, ACCOUNT, options.stateDir === undefined ? undefined : path.join(options.stateDir, "logs"));
  let reaped: number;
  try {
    await logs.load();
    // a job running when the last emulator stopped is ended now, and its log says why
    for (const { job, was } of await state.load()) {
      const now = was === "InProgress" ? `Failed (FailureReason: ${RESTART_REASON})` : "Stopped";
      logs.put(emulatorStream(job.request.TransformJobName), `[btkit emulator]: the emulator restarted while the job was ${was === "InProgress" ? "running" : "stopping"}: the job is ${now}`);
    }
    for (const { job, was } of await state.loadProcessingJobs()) {
      const now = was === "InProgress" ? `Failed (FailureReason: ${RESTART_REASON})` : "Stopped";
      logs.put(emulatorStream(job.request.ProcessingJobName), `[btkit emulator]: the emulator restarted while the job was ${was === "InProgress" ? "running" : "stopping"}: the job is ${now}`, PROCESSING_LOG_GROUP);
    }
    await logs.flush();
    // model processes of an emulator killed before it could stop them (we hold the folder now)
    reaped = await state.reapProcesses(os.hostname());
  } catch (err) {
    await held?.release();
    throw err;
  }
  if (options.stateDir !== undefined) {
    settings.processes = {
      started: async (pid, job) => state.saveProcess({ pid, host: os.hostname(), procStart: await procStartOf(pid), job, startTime: Date.now() }),
      ended: (pid) => state.deleteProcess(pid),
    };
  }
  let closing = false;
  const running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const runningProcessing = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const processingCommands: Record<string, readonly string[]> = { btkit: btkitCommand(), ...(options.processingCommands ?? {}) };

  const finish = async (j: JobRecord, status: JobRecord["status"], reason?: string): Promise<void> => {
    const now = Date.now();
    j.status = status;
    if (reason !== undefined) j.failureReason = reason;
    j.endTime = now;
    j.lastModifiedTime = now;
    await state.saveJob(j).catch(() => undefined);
  };

  const api: ApiContext = {
    state,
    region,
    account: ACCOUNT,
    planSettings: { sliceEnd: settings.sliceEnd, jsonJoinKeys: settings.jsonJoinKeys, joinMismatch: settings.joinMismatch },
    launch(j) {
      const abort = new AbortController();
      const model = state.models.get(j.request.ModelName)!;
      const done = (async () => {
        const started = (): void => {
          const now = Date.now();
          j.startTime = now;
          j.lastModifiedTime = now;
          void state.saveJob(j).catch(() => undefined);
        };
        const outcome = await runJob(j.request, model.request, settings, logs, abort.signal, { started }).catch((err: unknown) => ({ status: "Failed" as const, reason: `InternalServerError: ${(err as Error).message}` }));
        // on close() the job is left as it was persisted (InProgress): a restart reports it Failed
        if (closing) return;
        if (abort.signal.aborted) await finish(j, "Stopped");
        else await finish(j, outcome.status, outcome.status === "Failed" ? outcome.reason : undefined);
      })().finally(() => running.delete(j.request.TransformJobName));
      running.set(j.request.TransformJobName, { abort, done });
    },
    note(job, message) {
      logs.put(emulatorStream(job), `[btkit emulator]: ${message}`);
    },
    launchProcessing(j: ProcessingJobRecord) {
      const abort = new AbortController();
      const name = j.request.ProcessingJobName;
      const done = (async () => {
        const kept = state.processingFolder(name);
        const workDir = kept ?? (await fs.mkdtemp(path.join(os.tmpdir(), "btkit-processing-")));
        const ps: ProcessingSettings = { commands: processingCommands, imageMap: settings.imageMap, baseEnv: env, cwd: options.cwd, workDir, processes: settings.processes };
        const started = (): void => {
          const now = Date.now();
          j.startTime = now;
          j.lastModifiedTime = now;
          void state.saveProcessingJob(j).catch(() => undefined);
        };
        const outcome = await runProcessingJob(j.request, ps, logs, abort.signal, { started }).catch((err: unknown) => ({ status: "Failed" as const, reason: `InternalServerError: ${(err as Error).message}`, exitMessage: undefined }));
        if (kept === undefined) await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
        // on close() the job is left as it was persisted (InProgress): a restart reports it Failed
        if (closing) return;
        const now = Date.now();
        j.status = abort.signal.aborted ? "Stopped" : outcome.status;
        if (outcome.status === "Failed" && !abort.signal.aborted) {
          j.failureReason = outcome.reason;
          if (outcome.exitMessage !== undefined) j.exitMessage = outcome.exitMessage;
        }
        j.endTime = now;
        j.lastModifiedTime = now;
        await state.saveProcessingJob(j).catch(() => undefined);
      })().finally(() => runningProcessing.delete(name));
      runningProcessing.set(name, { abort, done });
    },
    stopProcessing(j: ProcessingJobRecord) {
      j.status = "Stopping";
      j.lastModifiedTime = Date.now();
      void state.saveProcessingJob(j).catch(() => undefined);
      runningProcessing.get(j.request.ProcessingJobName)?.abort.abort();
    },
    noteProcessing(job, message) {
      logs.put(emulatorStream(job), `[btkit emulator]: ${message}`, PROCESSING_LOG_GROUP);
    },
    stop(j) {
      j.status = "Stopping";
      j.lastModifiedTime = Date.now();
      void state.saveJob(j).catch(() => undefined);
      running.get(j.request.TransformJobName)?.abort.abort();
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void handle(req, Buffer.concat(chunks)).then(([status, body, type]) => {
        const text = JSON.stringify(body);
        const headers: Record<string, string | number> = {
          "content-type": "application/x-amz-json-1.1",
          "content-length": Buffer.byteLength(text),
          "x-amzn-requestid": randomUUID(),
        };
        if (type !== undefined) headers["x-amzn-errortype"] = type;
        res.writeHead(status, headers).end(text);
      });
    });
  });

  const handle = async (req: http.IncomingMessage, raw: Buffer): Promise<[number, unknown, string?]> => {
    try {
      const target = String(req.headers["x-amz-target"] ?? "");
      if (req.method !== "POST") throw new ApiError("UnknownOperationException", "expected POST / with an X-Amz-Target header");
      let body: Record<string, unknown> = {};
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
        } catch {
          throw new ApiError("SerializationException", "the request body is not valid JSON");
        }
      }
      const dot = target.indexOf(".");
      const service = target.slice(0, dot);
      const op = target.slice(dot + 1);
      if (service === "SageMaker") return [200, await callSageMaker(op, body, api)];
      if (service === "Logs_20140328") {
        if (op === "DescribeLogGroups") return [200, logs.describeLogGroups(body)];
        if (op === "DescribeLogStreams") return [200, logs.describeLogStreams(body)];
        if (op === "GetLogEvents") return [200, logs.getLogEvents(body)];
        if (op === "FilterLogEvents") return [200, logs.filterLogEvents(body)];
      }
      throw new ApiError("UnknownOperationException", `The emulator does not implement ${target || "(no X-Amz-Target)"}`);
    } catch (err) {
      if (err instanceof ApiError) return [err.status, { __type: err.type, message: err.message }, err.type];
      return [500, { __type: "InternalFailure", message: (err as Error).message }, "InternalFailure"];
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  }).catch(async (err: unknown) => {
    await held?.release();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    region,
    reaped,
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const [name, r] of running) {
        // the job is left as persisted: the next emulator on the state folder ends it (StateStore.load)
        const j = state.jobs.get(name);
        if (options.stateDir !== undefined && j !== undefined) {
          const next = j.status === "Stopping" ? "Stopped" : `Failed (FailureReason: ${RESTART_REASON})`;
          logs.put(emulatorStream(name), `[btkit emulator]: the emulator was closed while the job was ${j.status === "Stopping" ? "stopping" : "running"}; its instances are stopped and the next emulator on the state folder ${options.stateDir} reports it ${next}`);
        }
        r.abort.abort();
      }
      for (const [name, r] of runningProcessing) {
        const j = state.processingJobs.get(name);
        if (options.stateDir !== undefined && j !== undefined) {
          const next = j.status === "Stopping" ? "Stopped" : `Failed (FailureReason: ${RESTART_REASON})`;
          logs.put(emulatorStream(name), `[btkit emulator]: the emulator was closed while the job was ${j.status === "Stopping" ? "stopping" : "running"}; its processes are stopped and the next emulator on the state folder ${options.stateDir} reports it ${next}`, PROCESSING_LOG_GROUP);
        }
        r.abort.abort();
      }
      await Promise.all([...running.values(), ...runningProcessing.values()].map((r) => r.done));
      await closed;
      try {
        await logs.close();
      } finally {
        await held?.release();
      }
    },
  };
}
