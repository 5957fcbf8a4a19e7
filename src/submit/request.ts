/**
 * descriptor + options -> the CreateTransformJob request, purely. What the descriptor says (the
 * manifest, content type, split, compression, largest record) is never asked of the user again.
 */
import { createHash } from "node:crypto";
import type { BatchStrategy, CreateTransformJobRequest, JoinSource } from "@aws-sdk/client-sagemaker";
import { BtkitError, counted, optionHint } from "../errors.js";
import type { Descriptor } from "../protocol/descriptor.js";
import { isLayoutProblem, outputLayoutOf, type LayoutRequest } from "../protocol/data-processing.js";
import { DEFAULT_PAYLOAD_MB, MIB, validateTransformJobRequest } from "./constraints.js";
import { canonicalJson, stripUndefined } from "./json.js";
import { jobOutputUri } from "./output-uri.js";

export interface TransformRequestOptions {
  /** the SageMaker model to run; required (no default) */
  model?: string;
  /** default "ml.m5.large" */
  instanceType?: string;
  /** default 1 */
  instanceCount?: number;
  /**
   * BatchStrategy; default "MultiRecord", set explicitly because the service's own default is
   * UNCONFIRMED (no public AWS source states it; the SageMaker Python SDK's local mode uses
   * MultiRecord: aws/sagemaker-python-sdk src/sagemaker/local/entities.py)
   */
  strategy?: "MultiRecord" | "SingleRecord";
  /**
   * MaxPayloadInMB; default: unset when the largest record fits the service default of 6 MB
   * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, MaxPayloadInMB), else
   * ceil(maxRecordBytes / 1 MiB). A value below the largest record is an error.
   */
  maxPayloadMb?: number;
  /**
   * MaxConcurrentTransforms; default unset (the container's /execution-parameters, else 1:
   * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, MaxConcurrentTransforms)
   */
  concurrency?: number;
  /**
   * S3OutputPath; default `output/<job name>` beside shards/ (LAYOUT.outputDir), one prefix per
   * job as the SageMaker Python SDK does, so no job's .out is ever taken for another's
   */
  output?: string;
  /** TransformOutput.Accept; default the descriptor's content type */
  accept?: string;
  /** DataProcessing.InputFilter (JSONPath); default unset ("$") */
  inputFilter?: string;
  /** DataProcessing.OutputFilter (JSONPath); default unset ("$") */
  outputFilter?: string;
  /** DataProcessing.JoinSource; default unset ("None") */
  joinSource?: "Input" | "None";
  /** Environment for the container; default none */
  environment?: Record<string, string>;
  /** Tags on the job; default none */
  tags?: Record<string, string>;
  /** TransformOutput.KmsKeyId; default unset */
  outputKmsKey?: string;
  /** TransformResources.VolumeKmsKeyId; default unset */
  volumeKmsKey?: string;
  /** ModelClientConfig.InvocationsTimeoutInSeconds; default unset (service: 600) */
  invocationTimeoutSeconds?: number;
  /** ModelClientConfig.InvocationsMaxRetries; default unset (service: 3) */
  invocationRetries?: number;
  /** an explicit job name; default derived from the content and the request (see jobNameFor) */
  jobName?: string;
  /** prefix of the derived job name; default "btkit" */
  namePrefix?: string;
  /** mixed into the derived name to force a fresh job (--new); default none */
  nameSalt?: string;
  /** the ManifestFile to read; default descriptor.manifest.location (--retry-failed passes its own) */
  manifest?: string;
  /** accept file:// locations, which only the emulator understands; default false */
  allowFileUris?: boolean;
}

export const DEFAULT_INSTANCE_TYPE = "ml.m5.large";
export const DEFAULT_NAME_PREFIX = "btkit";
const JOB_NAME_PLACEHOLDER = "{job-name}";
/** hex characters of the content hash in a derived job name */
const HASH_CHARS = 16;

/**
 * The derived job name: `<prefix>-<16 hex of sha256>` over the descriptor's content identity
 * (each shard's name and sha256, the manifest), the request without its name, and the salt.
 * The same data with the same options always gets the same name, so a rerun finds its job.
 */
export function jobNameFor(d: Descriptor, request: Omit<CreateTransformJobRequest, "TransformJobName">, prefix = DEFAULT_NAME_PREFIX, salt?: string): string {
  const identity = {
    shards: d.shards.map((s) => [s.name, s.sha256]),
    manifest: request.TransformInput?.DataSource?.S3DataSource?.S3Uri ?? d.manifest.location,
    request,
    salt: salt ?? null,
  };
  const hash = createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, HASH_CHARS);
  const room = 63 - HASH_CHARS - 1;
  const p = prefix.slice(0, room).replace(/-+$/, "");
  return p.length === 0 ? hash : `${p}-${hash}`;
}

function kv(m: Record<string, string> | undefined): Record<string, string> | undefined {
  return m === undefined || Object.keys(m).length === 0 ? undefined : { ...m };
}

/**
 * Builds the CreateTransformJob request from a descriptor and options, and checks every service
 * constraint (SUBMIT_INVALID_REQUEST before anything is sent). Pure: no I/O.
 */
export function buildTransformJobRequest(d: Descriptor, options: TransformRequestOptions = {}): CreateTransformJobRequest {
  const model = options.model;
  if (model === undefined || model.length === 0) {
    throw new BtkitError("SUBMIT_INVALID_REQUEST", `invalid CreateTransformJob request: ModelName is required: give ${optionHint("model", undefined, "--model NAME")} (or --model-data/--image/--role to create one)`, { field: "ModelName", option: "model" });
  }
  const mi = d.modelInput;
  const needMb = Math.ceil(mi.maxRecordBytes / MIB);
  const payload = options.maxPayloadMb ?? (needMb > DEFAULT_PAYLOAD_MB ? needMb : undefined);
  const dataProcessing =
    options.inputFilter === undefined && options.outputFilter === undefined && options.joinSource === undefined
      ? undefined
      : { InputFilter: options.inputFilter, OutputFilter: options.outputFilter, JoinSource: options.joinSource as JoinSource | undefined };
  const clientConfig =
    options.invocationTimeoutSeconds === undefined && options.invocationRetries === undefined
      ? undefined
      : { InvocationsTimeoutInSeconds: options.invocationTimeoutSeconds, InvocationsMaxRetries: options.invocationRetries };
  const tags = kv(options.tags);
  // Members in the model's order (CreateTransformJobRequest in botocore/data/sagemaker/2017-07-24/service-2.json),
  // so --dry-run output reads like the API reference.
  const body: Omit<CreateTransformJobRequest, "TransformJobName"> = stripUndefined({
    ModelName: model,
    MaxConcurrentTransforms: options.concurrency,
    ModelClientConfig: clientConfig,
    MaxPayloadInMB: payload,
    BatchStrategy: (options.strategy ?? "MultiRecord") as BatchStrategy,
    Environment: kv(options.environment),
    TransformInput: {
      // a ManifestFile lists the shards under one prefix (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformS3DataSource.html,
      // S3Uri); the descriptor wrote it.
      DataSource: { S3DataSource: { S3DataType: "ManifestFile", S3Uri: options.manifest ?? d.manifest.location } },
      ContentType: mi.contentType,
      CompressionType: mi.compression,
      // Line splitting (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html, SplitType) is what makes line i of
      // x.out answer line i of x (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html: "The predictions in an output
      // file are listed in the same order as the corresponding records in the input file").
      SplitType: "Line",
    },
    TransformOutput: {
      // one spelling per location: s3://b/o/ and s3://b/o are the same S3OutputPath
      S3OutputPath: options.output?.replace(/(?<!:\/)\/+$/, "") ?? jobOutputUri(d, JOB_NAME_PLACEHOLDER),
      Accept: options.accept ?? mi.contentType,
      // without Line, JSON results are glued together (https://github.com/huggingface/notebooks/issues/187).
      AssembleWith: "Line",
      KmsKeyId: options.outputKmsKey,
    },
    TransformResources: {
      InstanceType: (options.instanceType ?? DEFAULT_INSTANCE_TYPE) as NonNullable<CreateTransformJobRequest["TransformResources"]>["InstanceType"],
      // the instances prep balanced the shards for, unless the flag says otherwise
      InstanceCount: options.instanceCount ?? preparedInstances(d) ?? 1,
      VolumeKmsKeyId: options.volumeKmsKey,
    },
    DataProcessing: dataProcessing,
    Tags: tags === undefined ? undefined : Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  });
  // the name hashes the request with a placeholder for itself in the default output, filled in after
  const name = options.jobName ?? jobNameFor(d, body, options.namePrefix ?? DEFAULT_NAME_PREFIX, options.nameSalt);
  if (options.output === undefined) body.TransformOutput!.S3OutputPath = jobOutputUri(d, name);
  const request = { TransformJobName: name, ...body } as CreateTransformJobRequest;
  validateTransformJobRequest(request, { maxRecordBytes: mi.maxRecordBytes, allowFileUris: options.allowFileUris ?? false });
  checkJoinable(request, d);
  return request;
}

/**
 * Refuses a request whose .out lines join could not take apart (protocol/data-processing.ts), so
 * the user never pays for a job whose output btkit cannot read: SUBMIT_INVALID_REQUEST naming the
 * flag that chose it.
 */
export function checkJoinable(request: CreateTransformJobRequest, d: Descriptor): void {
  const layout = outputLayoutOf(request as LayoutRequest, d.modelInput.features.length);
  if (isLayoutProblem(layout)) {
    throw new BtkitError("SUBMIT_INVALID_REQUEST", `invalid CreateTransformJob request for btkit join: ${layout.problem}; change ${optionHint(layout.option)}, which sets ${layout.field}, before the job is paid for`, { field: layout.field, option: layout.option });
  }
}

/** The instance count prep balanced the shards for (`prep --instances N`, recorded in source.options), if any. */
export function preparedInstances(d: Descriptor): number | undefined {
  const n = d.source.options.instances;
  return typeof n === "number" && Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** Warnings about a valid request that wastes money or time. */
export function requestWarnings(d: Descriptor, request: CreateTransformJobRequest, shardCount = d.shards.length): string[] {
  const out: string[] = [];
  const n = request.TransformResources?.InstanceCount ?? 1;
  // work is distributed by whole object; N - K instances sit idle and are billed
  // (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html: "only one instance processes the input file and the rest of the instances are idle").
  if (shardCount < n) out.push(`${counted(shardCount, "shard")} for ${n} instances: ${counted(n - shardCount, "instance")} will sit idle but ${n - shardCount === 1 ? "is" : "are"} billed; prepare more shards or lower ${optionHint("instanceCount")}`);
  else if (shardCount % n !== 0) out.push(`${shardCount} shards on ${n} instances: the last round has ${counted(shardCount % n, "shard")}, so ${counted(n - (shardCount % n), "instance")} ${n - (shardCount % n) === 1 ? "sits" : "sit"} idle at the end; prepare with ${optionHint("instances", n)} (a shard count that is a multiple of it) or choose another ${optionHint("instanceCount")}`);
  return out;
}
