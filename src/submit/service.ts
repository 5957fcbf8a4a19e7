/**
 * The calls to SageMaker: launch-or-attach, describe, stop, and creating the model. The client is
 * always injected (AWS, or the emulator's endpoint), so this code is the same for both.
 */
import {
  CreateModelCommand,
  CreateTransformJobCommand,
  DescribeModelCommand,
  DescribeTransformJobCommand,
  StopTransformJobCommand,
  type CreateTransformJobRequest,
  type DescribeModelCommandOutput,
  type DescribeTransformJobCommandOutput,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { BtkitError, awsMetadata, describeCause, optionHint } from "../errors.js";

/** What submit needs of a SageMaker client: `send`. Tests may pass any object that has it. */
export type SageMakerLike = Pick<SageMakerClient, "send">;

export type TransformJobDescription = DescribeTransformJobCommandOutput;

export interface SubmitResult {
  name: string;
  arn: string;
  /** true when a job of this name already existed with the same request (nothing was launched) */
  attached: boolean;
  description: TransformJobDescription;
}

/**
 * True for the errors the service gives for a job or model that does not exist: the declared
 * ResourceNotFound (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTransformJob.html), and the ValidationException the
 * TransformJobCompletedOrStopped waiter treats as final (botocore/data/sagemaker/2017-07-24/waiters-2.json).
 */
export function isNotFound(err: unknown): boolean {
  const { name } = awsMetadata(err);
  const msg = err instanceof Error ? err.message : "";
  if (name === "ResourceNotFound" || name === "ResourceNotFoundException") return true;
  return name === "ValidationException" && /could not find|not found|does not exist/i.test(msg);
}

function isInUse(err: unknown): boolean {
  const { name } = awsMetadata(err);
  return name === "ResourceInUse" || name === "ResourceInUseException";
}

export function serviceError(err: unknown, call: string, context: Record<string, unknown> = {}): BtkitError {
  if (err instanceof BtkitError) return err;
  return new BtkitError("SUBMIT_SERVICE", `SageMaker ${call} failed: ${describeCause(err)}`, { ...context, call }, { cause: err });
}

/** DescribeTransformJob, or undefined when there is no job of that name. */
export async function describeTransformJob(name: string, client: SageMakerLike): Promise<TransformJobDescription | undefined> {
  try {
    return await client.send(new DescribeTransformJobCommand({ TransformJobName: name }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw serviceError(err, "DescribeTransformJob", { job: name });
  }
}

function leaves(v: unknown, path: string, out: Array<[string, unknown]>): void {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (x !== undefined) leaves(x, path ? `${path}.${k}` : k, out);
  } else out.push([path, v]);
}

function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const k of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Equal, with S3 locations compared without a trailing slash (a service may normalize it). */
function sameValue(field: string, a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (/(S3Uri|S3OutputPath)$/.test(field) && typeof a === "string" && typeof b === "string") return a.replace(/\/$/, "") === b.replace(/\/$/, "");
  return false;
}

/**
 * The request fields a described job disagrees with. Fields the description leaves out are not
 * counted (Describe omits some unset members: the recorded DescribeTransformJob output in
 * aws/amazon-sagemaker-examples, sagemaker_batch_transform/pytorch_mnist_batch_transform/pytorch-mnist-batch-transform_outputs.ipynb,
 * has no MaxConcurrentTransforms, MaxPayloadInMB or BatchStrategy); Tags are not returned by Describe.
 */
export function requestDifferences(request: CreateTransformJobRequest, job: TransformJobDescription): Array<{ field: string; request: unknown; job: unknown }> {
  const ls: Array<[string, unknown]> = [];
  leaves({ ...request, Tags: undefined, TransformJobName: undefined }, "", ls);
  const diffs: Array<{ field: string; request: unknown; job: unknown }> = [];
  for (const [field, want] of ls) {
    const got = at(job, field);
    if (got !== undefined && !sameValue(field, want, got)) diffs.push({ field, request: want, job: got });
  }
  // Describe returns the job's Environment as set: a variable the request lacks is a difference too.
  for (const [k, v] of Object.entries(job.Environment ?? {})) {
    if (request.Environment?.[k] === undefined) diffs.push({ field: `Environment.${k}`, request: undefined, job: v });
  }
  return diffs;
}

function conflict(request: CreateTransformJobRequest, diffs: ReturnType<typeof requestDifferences>): BtkitError {
  const name = request.TransformJobName!;
  const list = diffs.map((d) => `${d.field}: job has ${JSON.stringify(d.job)}, request has ${JSON.stringify(d.request)}`).join("; ");
  return new BtkitError("SUBMIT_JOB_CONFLICT", `a transform job named ${name} exists with another request (${list}); job names are permanent: use ${optionHint("nameSalt", undefined, "--new")} or another ${optionHint("jobName", undefined, "--name")}`, { option: "nameSalt", job: name, field: diffs[0]?.field, expected: diffs[0]?.request, got: diffs[0]?.job });
}

/**
 * Launches the job, or attaches to the job of that name when it exists with the same request
 * (never two billed jobs for one request). A job of that name with another request is
 * SUBMIT_JOB_CONFLICT. Names are permanent (unique per account and Region, and the API has no
 * DeleteTransformJob: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html; a rerun that reuses one fails,
 * https://github.com/apache/airflow/issues/21941), so this check is what makes reruns safe.
 */
export async function submitTransformJob(request: CreateTransformJobRequest, deps: { client: SageMakerLike }): Promise<SubmitResult> {
  const name = request.TransformJobName;
  if (name === undefined) throw new BtkitError("SUBMIT_INVALID_REQUEST", "invalid CreateTransformJob request: TransformJobName is required", { field: "TransformJobName" });
  const attach = (existing: TransformJobDescription): SubmitResult => {
    const diffs = requestDifferences(request, existing);
    if (diffs.length > 0) throw conflict(request, diffs);
    return { name, arn: existing.TransformJobArn ?? "", attached: true, description: existing };
  };
  const existing = await describeTransformJob(name, deps.client);
  if (existing) return attach(existing);
  try {
    await deps.client.send(new CreateTransformJobCommand(request));
  } catch (err) {
    if (isInUse(err)) {
      // created by someone else between our Describe and Create: same rule as a rerun
      const now = await describeTransformJob(name, deps.client);
      if (now) return attach(now);
    }
    throw serviceError(err, "CreateTransformJob", { job: name });
  }
  const description = await describeTransformJob(name, deps.client);
  if (!description) throw new BtkitError("SUBMIT_SERVICE", `SageMaker accepted CreateTransformJob for ${name} but DescribeTransformJob does not find it`, { job: name });
  return { name, arn: description.TransformJobArn ?? "", attached: false, description };
}

/**
 * StopTransformJob (the job goes Stopping, then Stopped; no output is stored:
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTransformJob.html).
 */
export async function stopTransformJob(name: string, deps: { client: SageMakerLike }): Promise<void> {
  try {
    await deps.client.send(new StopTransformJobCommand({ TransformJobName: name }));
  } catch (err) {
    throw serviceError(err, "StopTransformJob", { job: name });
  }
}

export interface ModelSpec {
  name: string;
  /** container image URI (for the emulator: `local-cmd:<command>` or `local-url:<url>`) */
  image: string;
  /** s3:// URI of model.tar.gz; optional */
  modelDataUrl?: string;
  /** IAM role the model runs as; optional (required by AWS for most images) */
  role?: string;
  environment?: Record<string, string>;
}

/**
 * Creates the model when it does not exist; a model of that name with another image, model data,
 * role or environment is SUBMIT_MODEL_CONFLICT. Returns whether it created one.
 */
export async function ensureModel(spec: ModelSpec, deps: { client: SageMakerLike }): Promise<{ created: boolean }> {
  let existing: DescribeModelCommandOutput | undefined;
  try {
    existing = await deps.client.send(new DescribeModelCommand({ ModelName: spec.name }));
  } catch (err) {
    if (!isNotFound(err)) throw serviceError(err, "DescribeModel", { model: spec.name });
  }
  if (existing) {
    const c = existing.PrimaryContainer ?? existing.Containers?.[0];
    const diffs: string[] = [];
    if (c?.Image !== spec.image) diffs.push(`image ${JSON.stringify(c?.Image)} (want ${JSON.stringify(spec.image)})`);
    if ((c?.ModelDataUrl ?? undefined) !== spec.modelDataUrl) diffs.push(`model data ${JSON.stringify(c?.ModelDataUrl)} (want ${JSON.stringify(spec.modelDataUrl)})`);
    if (spec.role !== undefined && existing.ExecutionRoleArn !== spec.role) diffs.push(`role ${JSON.stringify(existing.ExecutionRoleArn)} (want ${JSON.stringify(spec.role)})`);
    const env = c?.Environment ?? {};
    const wantEnv = spec.environment ?? {};
    const keys = new Set([...Object.keys(env), ...Object.keys(wantEnv)]);
    for (const k of keys) if (env[k] !== wantEnv[k]) diffs.push(`environment ${k}=${JSON.stringify(env[k])} (want ${JSON.stringify(wantEnv[k])})`);
    if (diffs.length > 0) {
      throw new BtkitError("SUBMIT_MODEL_CONFLICT", `a SageMaker model named ${spec.name} exists with other settings: ${diffs.join("; ")}; use another ${optionHint("model")} name`, { model: spec.name, field: diffs[0], option: "model" });
    }
    return { created: false };
  }
  try {
    await deps.client.send(
      new CreateModelCommand({
        ModelName: spec.name,
        PrimaryContainer: { Image: spec.image, ModelDataUrl: spec.modelDataUrl, Environment: spec.environment },
        ExecutionRoleArn: spec.role,
      }),
    );
  } catch (err) {
    throw serviceError(err, "CreateModel", { model: spec.name });
  }
  return { created: true };
}
