/**
 * btkit's own stages as SageMaker Processing jobs: the CreateProcessingJob request that runs one
 * btkit command line on N instances (each takes part i of N with `--part auto`, from the
 * instance's /opt/ml/config/resourceconfig.json), launch-or-attach, the waiter, stop.
 *
 * The request (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html;
 * constraints from the botocore model, boto/botocore botocore/data/sagemaker/2017-07-24/service-2.json,
 * shape CreateProcessingJobRequest, checked here before anything is sent):
 * - AppSpecification: the btkit image, ContainerEntrypoint `["btkit"]` (the image's CLI on PATH,
 *   as the repository's Dockerfile installs it) and the command line as ContainerArguments (at
 *   most 100 arguments of at most 256 characters each).
 * - ProcessingResources.ClusterConfig: InstanceCount (1-100), InstanceType (default ml.m5.xlarge),
 *   VolumeSizeInGB (default 30, the SageMaker Python SDK's Processor default; btkit streams from and
 *   to S3 and needs little disk).
 * - no ProcessingInputs or ProcessingOutputs: the containers read and write S3 themselves, so
 *   SageMaker downloads and uploads nothing.
 * The job name is `<prefix>-<16 hex of sha256 of the request without its name>`: the same command
 * line with the same settings finds its job again (a rerun attaches instead of launching twice);
 * names are permanent, so a fresh run of the same request takes a salt.
 */
import {
  CreateProcessingJobCommand,
  DescribeProcessingJobCommand,
  StopProcessingJobCommand,
  type CreateProcessingJobRequest,
  type DescribeProcessingJobCommandOutput,
} from "@aws-sdk/client-sagemaker";
import { DescribeLogStreamsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { createHash } from "node:crypto";
import { BtkitError, optionHint, awsMetadata } from "../errors.js";
import { JOB_NAME_RE } from "./constraints.js";
import type { LogEvent, LogsLike } from "./logs.js";
import { canonicalJson, stripUndefined } from "./json.js";
import { isNotFound, serviceError, type SageMakerLike } from "./service.js";
import { pollPause, type PollOptions } from "./wait.js";

export type ProcessingJobDescription = DescribeProcessingJobCommandOutput;

/** The log group of processing jobs (https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html). */
export const PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs";
export const DEFAULT_PROCESSING_INSTANCE_TYPE = "ml.m5.xlarge";
/** Two instances: the smallest count that splits the work. */
export const DEFAULT_PROCESSING_INSTANCE_COUNT = 2;
/** GB per instance: the SageMaker Python SDK's Processor default (volume_size_in_gb=30). */
export const DEFAULT_PROCESSING_VOLUME_GB = 30;
/** The container entrypoint: btkit's CLI on the image's PATH. */
export const BTKIT_ENTRYPOINT: readonly string[] = ["btkit"];

/** RoleArn (the botocore model): 20 to 2048 characters of this pattern. */
const ROLE_ARN_RE = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const HASH_CHARS = 16;

export interface ProcessingRequestOptions {
  /** the btkit command line each instance runs (without `btkit`), e.g. ["prep", "s3://b/raw/", "--out", "s3://b/prep/", "--part", "auto"] */
  arguments: readonly string[];
  /** the btkit image URI (ECR) */
  image: string;
  /** the IAM role the job runs as (RoleArn) */
  role: string;
  /** 1-100; default 2 */
  instanceCount?: number;
  /** default ml.m5.xlarge */
  instanceType?: string;
  /** GB per instance, 1-16384; default 30 */
  volumeSizeGb?: number;
  /** StoppingCondition.MaxRuntimeInSeconds, 1-777600 s (9 days); default: none (the service's) */
  maxRuntimeSeconds?: number;
  /** container environment (at most 100 entries; keys [a-zA-Z_][a-zA-Z0-9_]*, values of at most 256 characters) */
  environment?: Record<string, string>;
  /** prefix of the derived name; default "btkit" */
  namePrefix?: string;
  /** anything that makes the name differ from an earlier run of the same request (a fresh job) */
  nameSalt?: string;
  tags?: Record<string, string>;
}

function invalid(message: string, field: string, got?: unknown): never {
  throw new BtkitError("SUBMIT_INVALID_REQUEST", `invalid CreateProcessingJob request: ${message}`, { field, got });
}

/** The derived name: `<prefix>-<16 hex>` of the request without its name, and the salt. */
export function processingJobName(request: Omit<CreateProcessingJobRequest, "ProcessingJobName">, prefix = "btkit", salt?: string): string {
  const hash = createHash("sha256").update(canonicalJson({ request, salt: salt ?? null })).digest("hex").slice(0, HASH_CHARS);
  const p = prefix.slice(0, 63 - HASH_CHARS - 1).replace(/-+$/, "");
  return p.length === 0 ? hash : `${p}-${hash}`;
}

/**
 * The CreateProcessingJob request for `options`, checked against the service's constraints
 * (SUBMIT_INVALID_REQUEST names the field and the way out).
 */
export function buildProcessingJobRequest(options: ProcessingRequestOptions): CreateProcessingJobRequest {
  const count = options.instanceCount ?? DEFAULT_PROCESSING_INSTANCE_COUNT;
  if (!Number.isInteger(count) || count < 1 || count > 100) invalid(`InstanceCount must be 1 to 100, got ${count}: give ${optionHint("instanceCount", undefined, "--instance-count N")} with 1 <= N <= 100`, "ProcessingResources.ClusterConfig.InstanceCount", count);
  const volume = options.volumeSizeGb ?? DEFAULT_PROCESSING_VOLUME_GB;
  if (!Number.isInteger(volume) || volume < 1 || volume > 16384) invalid(`VolumeSizeInGB must be 1 to 16384, got ${volume}`, "ProcessingResources.ClusterConfig.VolumeSizeInGB", volume);
  const max = options.maxRuntimeSeconds;
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 777600)) invalid(`MaxRuntimeInSeconds must be 1 to 777600 (9 days), got ${max}`, "StoppingCondition.MaxRuntimeInSeconds", max);
  if (options.role.length < 20 || options.role.length > 2048 || !ROLE_ARN_RE.test(options.role)) {
    invalid(`RoleArn ${JSON.stringify(options.role)} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>): give ${optionHint("role")} the ARN of a role SageMaker can assume`, "RoleArn", options.role);
  }
  if (options.image.length === 0 || options.image.length > 255) invalid(`ImageUri must be 1 to 255 characters, got ${options.image.length}`, "AppSpecification.ImageUri", options.image);
  const args = [...options.arguments];
  if (args.length > 100) {
    invalid(`the command line has ${args.length} arguments, and a processing container takes at most 100 (ContainerArguments): give a folder or prefix instead of many files`, "AppSpecification.ContainerArguments", args.length);
  }
  const long = args.find((a) => a.length > 256);
  if (long !== undefined) invalid(`an argument is ${long.length} characters long, and a processing container's arguments are at most 256 (ContainerArguments): ${JSON.stringify(long.slice(0, 60))}...`, "AppSpecification.ContainerArguments", long);
  const env = options.environment ?? {};
  if (Object.keys(env).length > 100) invalid(`Environment has ${Object.keys(env).length} entries; at most 100`, "Environment");
  for (const [k, v] of Object.entries(env)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.length > 256) invalid(`Environment key ${JSON.stringify(k)} must match [a-zA-Z_][a-zA-Z0-9_]* (at most 256 characters)`, "Environment", k);
    if (v.length > 256) invalid(`Environment value of ${k} is ${v.length} characters; at most 256`, `Environment.${k}`);
  }
  const body: Omit<CreateProcessingJobRequest, "ProcessingJobName"> = stripUndefined({
    ProcessingResources: { ClusterConfig: { InstanceCount: count, InstanceType: (options.instanceType ?? DEFAULT_PROCESSING_INSTANCE_TYPE) as never, VolumeSizeInGB: volume } },
    StoppingCondition: max === undefined ? undefined : { MaxRuntimeInSeconds: max },
    AppSpecification: { ImageUri: options.image, ContainerEntrypoint: [...BTKIT_ENTRYPOINT], ContainerArguments: args.length > 0 ? args : undefined },
    Environment: Object.keys(env).length > 0 ? env : undefined,
    RoleArn: options.role,
  });
  const name = processingJobName(body, options.namePrefix, options.nameSalt);
  if (!JOB_NAME_RE.test(name)) invalid(`the job name ${name} is not letters, digits and hyphens: give another --name-prefix`, "ProcessingJobName", name);
  const tags = options.tags === undefined ? undefined : Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value }));
  return { ProcessingJobName: name, ...body, ...(tags && tags.length > 0 ? { Tags: tags } : {}) };
}

/** DescribeProcessingJob, or undefined when there is no job of that name. */
export async function describeProcessingJob(name: string, client: SageMakerLike): Promise<ProcessingJobDescription | undefined> {
  try {
    return await client.send(new DescribeProcessingJobCommand({ ProcessingJobName: name }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw serviceError(err, "DescribeProcessingJob", { job: name });
  }
}

/** The fields the job name is derived from, compared as values (an empty Environment is none). */
const COMPARED = ["ProcessingResources", "StoppingCondition", "AppSpecification", "Environment", "RoleArn"] as const;

/** The request fields a described job disagrees with (Tags are not returned by Describe). */
export function processingDifferences(request: CreateProcessingJobRequest, job: ProcessingJobDescription): Array<{ field: string; request: unknown; job: unknown }> {
  const norm = (v: unknown): string => (v === undefined || (typeof v === "object" && v !== null && Object.keys(v).length === 0) ? "null" : canonicalJson(v));
  return COMPARED.filter((f) => norm(request[f]) !== norm(job[f])).map((f) => ({ field: f, request: request[f], job: job[f] }));
}

export interface ProcessingSubmitResult {
  name: string;
  arn: string;
  /** a job of this name existed with the same request: nothing was launched */
  attached: boolean;
  description: ProcessingJobDescription;
}

/**
 * Launches the processing job, or attaches to the job of that name when it exists with the same
 * request; one with another request is SUBMIT_JOB_CONFLICT (names are permanent: the API has no
 * DeleteProcessingJob for a finished job).
 */
export async function submitProcessingJob(request: CreateProcessingJobRequest, deps: { client: SageMakerLike }): Promise<ProcessingSubmitResult> {
  const name = request.ProcessingJobName!;
  const attach = (existing: ProcessingJobDescription): ProcessingSubmitResult => {
    const diffs = processingDifferences(request, existing);
    if (diffs.length > 0) {
      const list = diffs.map((d) => `${d.field}: job has ${JSON.stringify(d.job)}, request has ${JSON.stringify(d.request)}`).join("; ");
      throw new BtkitError("SUBMIT_JOB_CONFLICT", `a processing job named ${name} exists with another request (${list}); job names are permanent: rerun with ${optionHint("nameSalt", undefined, "--new")} for a fresh job`, { job: name, field: diffs[0]!.field, option: "nameSalt" });
    }
    return { name, arn: existing.ProcessingJobArn ?? "", attached: true, description: existing };
  };
  const existing = await describeProcessingJob(name, deps.client);
  if (existing) return attach(existing);
  try {
    await deps.client.send(new CreateProcessingJobCommand(request));
  } catch (err) {
    const { name: type } = awsMetadata(err);
    if (type === "ResourceInUse" || type === "ResourceInUseException") {
      const now = await describeProcessingJob(name, deps.client);
      if (now) return attach(now);
    }
    throw serviceError(err, "CreateProcessingJob", { job: name });
  }
  const description = await describeProcessingJob(name, deps.client);
  if (!description) throw new BtkitError("SUBMIT_SERVICE", `SageMaker accepted CreateProcessingJob for ${name} but DescribeProcessingJob does not find it`, { job: name });
  return { name, arn: description.ProcessingJobArn ?? "", attached: false, description };
}

/** StopProcessingJob (Stopping, then Stopped: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopProcessingJob.html). */
export async function stopProcessingJob(name: string, deps: { client: SageMakerLike }): Promise<void> {
  try {
    await deps.client.send(new StopProcessingJobCommand({ ProcessingJobName: name }));
  } catch (err) {
    throw serviceError(err, "StopProcessingJob", { job: name });
  }
}

/** How the processing waiter polls; `logs` tails the job's streams (createLogTailer(name, { group: PROCESSING_LOG_GROUP })). */
export type ProcessingWaitOptions = PollOptions;

export interface ProcessingWaitEvent {
  job: string;
  status: string;
  /** seconds since the job was created */
  elapsedSeconds: number;
  terminal: boolean;
  timedOut: boolean;
  interrupted: boolean;
  logs: LogEvent[];
  description: ProcessingJobDescription;
}

const TERMINAL: ReadonlySet<string> = new Set(["Completed", "Failed", "Stopped"]);

/**
 * Polls DescribeProcessingJob with backoff and no cap unless asked (the SDK's
 * ProcessingJobCompletedOrStopped waiter stops after an hour: delay 60 s, maxAttempts 60,
 * botocore/data/sagemaker/2017-07-24/waiters-2.json), one event per poll until the job ends, the
 * timeout passes or the signal aborts. The last poll after the end reads the logs once more.
 */
export async function* waitForProcessingJob(name: string, options: ProcessingWaitOptions): AsyncGenerator<ProcessingWaitEvent> {
  const poll = options.pollSeconds ?? 5;
  const maxPoll = Math.max(poll, options.maxPollSeconds ?? 30);
  const began = Date.now();
  let delay = poll;
  let logsFailed = false;
  const readLogs = async (): Promise<LogEvent[]> => {
    if (!options.logs || logsFailed) return [];
    try {
      return await options.logs.poll();
    } catch (err) {
      logsFailed = true;
      options.onLogsFailed?.(err);
      return [];
    }
  };
  while (true) {
    const d = await describeProcessingJob(name, options.client);
    if (!d) throw new BtkitError("SUBMIT_SERVICE", `no processing job named ${name} (DescribeProcessingJob found none)`, { job: name });
    const status = d.ProcessingJobStatus ?? "InProgress";
    const terminal = TERMINAL.has(status);
    const logs = await readLogs();
    const created = d.CreationTime ? new Date(d.CreationTime).getTime() : began;
    const end = terminal && d.ProcessingEndTime ? new Date(d.ProcessingEndTime).getTime() : Date.now();
    const waited = (Date.now() - began) / 1000;
    const timedOut = !terminal && options.timeoutSeconds !== undefined && waited >= options.timeoutSeconds;
    const event: ProcessingWaitEvent = { job: name, status, elapsedSeconds: Math.max(0, Math.round((end - created) / 1000)), terminal, timedOut, interrupted: false, logs, description: d };
    yield event;
    if (terminal || timedOut) return;
    if (await pollPause(delay, waited, options)) {
      yield { ...event, interrupted: true, logs: [] };
      return;
    }
    delay = Math.min(maxPoll, delay * 1.5);
  }
}

/** The names of a processing job's log streams (`<job>/algo-K-<epoch>`: one per instance), sorted. */
export async function processingLogStreams(name: string, deps: { client: LogsLike }): Promise<string[]> {
  const names: string[] = [];
  let next: string | undefined;
  do {
    const page = await deps.client.send(new DescribeLogStreamsCommand({ logGroupName: PROCESSING_LOG_GROUP, logStreamNamePrefix: `${name}/`, nextToken: next }));
    for (const s of page.logStreams ?? []) if (s.logStreamName) names.push(s.logStreamName);
    next = page.nextToken;
  } while (next);
  return names.sort();
}
