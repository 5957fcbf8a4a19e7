/**
 * Request validation as the service does it (the botocore model, boto/botocore
 * botocore/data/sagemaker/2017-07-24/service-2.json, shapes CreateTransformJobRequest and
 * CreateProcessingJobRequest, and the MaxPayloadInMB limits of
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html; the
 * processing shapes also at https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html), with the service's
 * message shape ("1 validation error detected: Value 'x' at 'field' failed to satisfy
 * constraint: ...") where the constraint comes from the API model.
 */
import { ProcessingInstanceType, TransformInstanceType } from "@aws-sdk/client-sagemaker";
import { validation } from "./api-error.js";
import { JsonPathError, parseJsonPath } from "../protocol/jsonpath.js";

const JOB_NAME_RE = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const MODEL_NAME_RE = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const ENV_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;
const S3_URI_RE = /^(https|s3):\/\/([^/]+)\/?(.*)$/;
/** KmsKeyId (shape KmsKeyId of the botocore model: pattern `[a-zA-Z0-9:/_-]*`, length 0 to 2048), for TransformOutput.KmsKeyId and TransformResources.VolumeKmsKeyId. */
const KMS_RE = /^[a-zA-Z0-9:/_-]*$/;
/**
 * TransformInstanceType (the botocore model's enum; the AWS SDK for JavaScript v3 carries the same
 * enum, generated from the same API model, and is read here so submit's check and the emulator's
 * agree). ml.t2.medium and the other notebook types are not transform instance types.
 */
const INSTANCE_TYPES: readonly string[] = Object.values(TransformInstanceType);
/**
 * The MaxPayloadInMB the product check assumes when MaxConcurrentTransforms is set alone: the
 * documented default, 6 MB (API_CreateTransformJob, MaxPayloadInMB). UNCONFIRMED: no public source
 * shows the service checking a lone MaxConcurrentTransforms; this is the reading of "If you
 * specify the MaxConcurrentTransforms parameter, the value of (MaxConcurrentTransforms *
 * MaxPayloadInMB) also cannot exceed 100 MB" with the default filled in (as submit checks it).
 * MaxPayloadInMB set alone is not checked against a product: the parameter the sentence names is
 * not given, and the concurrency then comes from the container (/execution-parameters) or is 1.
 */
const DEFAULT_PAYLOAD_MB = 6;

type Json = Record<string, unknown>;

function constraint(value: unknown, field: string, what: string): never {
  const shown = typeof value === "string" ? value : JSON.stringify(value);
  throw validation(`1 validation error detected: Value '${shown}' at '${field}' failed to satisfy constraint: ${what}`);
}

function obj(v: unknown, field: string, required: boolean): Json | undefined {
  if (v === undefined || v === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof v !== "object" || Array.isArray(v)) throw validation(`Value at '${field}' must be a structure`);
  return v as Json;
}

function str(v: unknown, field: string, required: boolean): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof v !== "string") throw validation(`Value at '${field}' must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function int(v: unknown, field: string, min: number, max: number | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw validation(`Value at '${field}' must be an integer, got ${JSON.stringify(v)}`);
  if (v < min) constraint(v, field, `Member must have value greater than or equal to ${min}`);
  if (max !== undefined && v > max) constraint(v, field, `Member must have value less than or equal to ${max}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T | undefined {
  const s = str(v, field, false);
  if (s === undefined) return undefined;
  if (!(values as readonly string[]).includes(s)) constraint(s, field, `Member must satisfy enum value set: [${values.join(", ")}]`);
  return s as T;
}

function pattern(v: string, field: string, re: RegExp, min: number, max: number, shown: string): void {
  if (v.length < min) constraint(v, field, `Member must have length greater than or equal to ${min}`);
  if (v.length > max) constraint(v, field, `Member must have length less than or equal to ${max}`);
  if (!re.test(v)) constraint(v, field, `Member must satisfy regular expression pattern: ${shown}`);
}

function environment(v: unknown, field: string, maxEntries: number): Record<string, string> | undefined {
  const e = obj(v, field, false);
  if (!e) return undefined;
  const keys = Object.keys(e);
  if (keys.length > maxEntries) constraint(`{${keys.length} entries}`, field, `Member must have length less than or equal to ${maxEntries}`);
  const out: Record<string, string> = {};
  for (const k of keys) {
    if (!ENV_KEY_RE.test(k)) constraint(k, `${field}.key`, "Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]{0,1023}");
    const val = e[k];
    if (typeof val !== "string") throw validation(`Value of ${field}.${k} must be a string`);
    if (val.length > 10240) constraint(`${val.slice(0, 20)}...`, `${field}.${k}`, "Member must have length less than or equal to 10240");
    out[k] = val;
  }
  return out;
}

function s3Uri(v: unknown, field: string): string {
  const s = str(v, field, true)!;
  if (s.length > 1024) constraint(s, field, "Member must have length less than or equal to 1024");
  // file:// is a local extension of the emulator (documented in index.ts)
  if (!S3_URI_RE.test(s) && !s.startsWith("file:///")) constraint(s, field, "Member must satisfy regular expression pattern: (https|s3)://([^/]+)/?(.*)");
  return s;
}

/** A tag (shape Tag of the botocore model: Key and Value both required). */
export interface Tag {
  Key: string;
  Value: string;
}

/** TagKey and TagValue (the botocore model): 1 to 128 and 0 to 256 characters of this pattern. */
const TAG_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const TAG_PATTERN = "([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)";
/** ResourceArn (the botocore model): at most 256 characters. */
const RESOURCE_ARN_RE = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+$/;

function tagText(v: unknown, field: string, min: number, max: number): string {
  const t = str(v, field, true)!;
  pattern(t, field, TAG_RE, min, max, TAG_PATTERN);
  return t;
}

/** A TagList (at most 50 tags; list members named as the service names them: `tags.1.member.key`). */
export function validateTags(v: unknown, field: string, required: boolean): Tag[] | undefined {
  if (v === undefined || v === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (!Array.isArray(v)) throw validation(`Value at '${field}' must be a list`);
  if (v.length > 50) constraint(`[${v.length} tags]`, field, "Member must have length less than or equal to 50");
  return v.map((t, i) => {
    const at = `${field}.${i + 1}.member`;
    const o = obj(t, at, true)!;
    return { Key: tagText(o.Key, `${at}.key`, 1, 128), Value: tagText(o.Value, `${at}.value`, 0, 256) };
  });
}

/** A TagKeyList (1 to 50 keys). */
export function validateTagKeys(v: unknown, field: string): string[] {
  if (v === undefined || v === null) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  if (!Array.isArray(v)) throw validation(`Value at '${field}' must be a list`);
  if (v.length < 1) constraint("[]", field, "Member must have length greater than or equal to 1");
  if (v.length > 50) constraint(`[${v.length} keys]`, field, "Member must have length less than or equal to 50");
  return v.map((k, i) => tagText(k, `${field}.${i + 1}.member`, 1, 128));
}

/** A ResourceArn of AddTags, DeleteTags and ListTags. */
export function validateResourceArn(v: unknown): string {
  const arn = str(v, "resourceArn", true)!;
  pattern(arn, "resourceArn", RESOURCE_ARN_RE, 0, 256, "arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+");
  return arn;
}

export interface ModelRequest {
  ModelName: string;
  PrimaryContainer: { Image: string; Environment?: Record<string, string>; ModelDataUrl?: string };
  ExecutionRoleArn?: string;
  Tags?: Tag[];
}

export function validateCreateModel(body: Json): ModelRequest {
  const name = str(body.ModelName, "modelName", true)!;
  pattern(name, "modelName", MODEL_NAME_RE, 1, 63, "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$");
  let pc = obj(body.PrimaryContainer, "primaryContainer", false);
  if (!pc) {
    const containers = body.Containers;
    if (Array.isArray(containers) && containers.length === 1) pc = obj(containers[0], "containers.1", true);
    else if (Array.isArray(containers) && containers.length > 1) throw validation("The emulator runs single-container models only; inference pipelines (several Containers) are not supported");
    else throw validation("Either PrimaryContainer or Containers must be specified");
  }
  const image = str(pc!.Image, "primaryContainer.image", true)!;
  if (image.length === 0 || image.length > 255) constraint(image, "primaryContainer.image", "Member must have length less than or equal to 255");
  const env = environment(pc!.Environment, "primaryContainer.environment", 100);
  const out: ModelRequest = { ModelName: name, PrimaryContainer: { Image: image } };
  if (env) out.PrimaryContainer.Environment = env;
  const md = str(pc!.ModelDataUrl, "primaryContainer.modelDataUrl", false);
  if (md !== undefined) out.PrimaryContainer.ModelDataUrl = md;
  const role = str(body.ExecutionRoleArn, "executionRoleArn", false);
  if (role !== undefined) out.ExecutionRoleArn = role;
  const tags = validateTags(body.Tags, "tags", false);
  if (tags !== undefined) out.Tags = tags;
  return out;
}

export interface JobRequest {
  TransformJobName: string;
  ModelName: string;
  MaxConcurrentTransforms?: number;
  ModelClientConfig?: { InvocationsTimeoutInSeconds?: number; InvocationsMaxRetries?: number };
  MaxPayloadInMB?: number;
  BatchStrategy?: "MultiRecord" | "SingleRecord";
  Environment?: Record<string, string>;
  TransformInput: {
    DataSource: { S3DataSource: { S3DataType: "S3Prefix" | "ManifestFile"; S3Uri: string } };
    ContentType?: string;
    CompressionType?: "None" | "Gzip";
    SplitType?: "None" | "Line" | "RecordIO" | "TFRecord";
  };
  TransformOutput: { S3OutputPath: string; Accept?: string; AssembleWith?: "None" | "Line"; KmsKeyId?: string };
  TransformResources: { InstanceType: string; InstanceCount: number; VolumeKmsKeyId?: string; TransformAmiVersion?: string };
  DataProcessing?: { InputFilter?: string; OutputFilter?: string; JoinSource?: "Input" | "None" };
  /** accepted and shown by Describe, not emulated (NOT_EMULATED) */
  DataCaptureConfig?: { DestinationS3Uri: string; KmsKeyId?: string; GenerateInferenceId?: boolean };
  /** accepted and shown by Describe, not emulated (NOT_EMULATED) */
  ExperimentConfig?: { ExperimentName?: string; TrialName?: string; TrialComponentDisplayName?: string; RunName?: string };
  Tags?: Tag[];
}

/**
 * The CreateTransformJob fields the emulator takes, keeps and shows in DescribeTransformJob but
 * does not act on, each with what the job does without it; the emulator writes one line per field
 * set to the job's `<job>/emulator` log stream, so none is dropped silently.
 */
export const NOT_EMULATED: ReadonlyArray<{ field: string; set: (r: JobRequest) => boolean; why: string }> = [
  { field: "DataCaptureConfig", set: (r) => r.DataCaptureConfig !== undefined, why: "no inference data is captured" },
  { field: "ExperimentConfig", set: (r) => r.ExperimentConfig !== undefined, why: "the job is associated with no experiment, trial or run" },
  { field: "TransformOutput.KmsKeyId", set: (r) => (r.TransformOutput.KmsKeyId ?? "") !== "", why: "output is written without KMS encryption" },
  { field: "TransformResources.VolumeKmsKeyId", set: (r) => r.TransformResources.VolumeKmsKeyId !== undefined, why: "instances are local processes with no storage volume" },
  { field: "TransformResources.TransformAmiVersion", set: (r) => r.TransformResources.TransformAmiVersion !== undefined, why: "instances are local processes with no machine image" },
];

/** ExperimentEntityName (the botocore model). */
const EXPERIMENT_NAME_RE = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$/;
/** TransformAmiVersion (the botocore model). */
const AMI_VERSION_RE = /^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$/;

function kmsKey(v: unknown, field: string): string | undefined {
  const s = str(v, field, false);
  if (s !== undefined) pattern(s, field, KMS_RE, 0, 2048, "[a-zA-Z0-9:/_-]*");
  return s;
}

function filter(v: unknown, field: string): string | undefined {
  const s = str(v, field, false);
  if (s === undefined) return undefined;
  if (s.length > 63) constraint(s, field, "Member must have length less than or equal to 63");
  try {
    parseJsonPath(s);
  } catch (err) {
    // a filter with two slices is taken here and fails each input object (aws/sagemaker-python-sdk#1112)
    if (err instanceof JsonPathError && !err.atRun) throw validation(err.message);
    if (!(err instanceof JsonPathError)) throw err;
  }
  return s;
}

/** ExperimentConfig (shape ExperimentConfig of the botocore model), of transform and processing jobs. */
function experimentConfig(v: unknown): JobRequest["ExperimentConfig"] {
  const ec = obj(v, "experimentConfig", false);
  if (!ec) return undefined;
  const e: NonNullable<JobRequest["ExperimentConfig"]> = {};
  for (const [key, field] of [["ExperimentName", "experimentName"], ["TrialName", "trialName"], ["TrialComponentDisplayName", "trialComponentDisplayName"], ["RunName", "runName"]] as const) {
    const s = str(ec[key], `experimentConfig.${field}`, false);
    if (s === undefined) continue;
    pattern(s, `experimentConfig.${field}`, EXPERIMENT_NAME_RE, 1, 120, "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}");
    e[key] = s;
  }
  return e;
}

/** Validates a CreateTransformJob request; returns it normalized (known fields only). */
export function validateCreateTransformJob(body: Json): JobRequest {
  const name = str(body.TransformJobName, "transformJobName", true)!;
  pattern(name, "transformJobName", JOB_NAME_RE, 1, 63, "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}");
  const model = str(body.ModelName, "modelName", true)!;
  pattern(model, "modelName", MODEL_NAME_RE, 0, 63, "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$");
  const mct = int(body.MaxConcurrentTransforms, "maxConcurrentTransforms", 0, undefined);
  const mp = int(body.MaxPayloadInMB, "maxPayloadInMB", 0, undefined);
  // documented service limits (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, MaxPayloadInMB):
  // max 100 MB, and MCT x MP <= 100 when MCT is set (0 is "unset": the container's execution-parameters decide),
  // MP taken as its default when not given (DEFAULT_PAYLOAD_MB above). The service's wording is not public.
  if (mp !== undefined && mp > 100) throw validation(`MaxPayloadInMB must be at most 100, got ${mp}`);
  const payload = mp ?? DEFAULT_PAYLOAD_MB;
  if (mct !== undefined && mct > 0 && mct * payload > 100) {
    throw validation(`MaxConcurrentTransforms * MaxPayloadInMB must not exceed 100 MB, got ${mct} * ${payload}${mp === undefined ? " (the default MaxPayloadInMB)" : ""} = ${mct * payload}`);
  }
  const bs = oneOf(body.BatchStrategy, "batchStrategy", ["MultiRecord", "SingleRecord"] as const);
  const mcc = obj(body.ModelClientConfig, "modelClientConfig", false);
  const env = environment(body.Environment, "environment", 16);
  const ti = obj(body.TransformInput, "transformInput", true)!;
  const ds = obj(ti.DataSource, "transformInput.dataSource", true)!;
  const s3 = obj(ds.S3DataSource, "transformInput.dataSource.s3DataSource", true)!;
  const dataType = oneOf(s3.S3DataType, "transformInput.dataSource.s3DataSource.s3DataType", ["ManifestFile", "S3Prefix", "AugmentedManifestFile", "Converse"] as const);
  if (dataType === undefined) throw validation("1 validation error detected: Value null at 'transformInput.dataSource.s3DataSource.s3DataType' failed to satisfy constraint: Member must not be null");
  if (dataType !== "S3Prefix" && dataType !== "ManifestFile") throw validation(`S3DataType ${dataType} is not compatible with batch transform; use S3Prefix or ManifestFile`);
  const inUri = s3Uri(s3.S3Uri, "transformInput.dataSource.s3DataSource.s3Uri");
  const contentType = str(ti.ContentType, "transformInput.contentType", false);
  if (contentType !== undefined && contentType.length > 256) constraint(contentType, "transformInput.contentType", "Member must have length less than or equal to 256");
  const compression = oneOf(ti.CompressionType, "transformInput.compressionType", ["None", "Gzip"] as const);
  const split = oneOf(ti.SplitType, "transformInput.splitType", ["None", "Line", "RecordIO", "TFRecord"] as const);
  if (split === "RecordIO" || split === "TFRecord") throw validation(`The emulator does not implement SplitType ${split}; use Line or None`);
  const to = obj(body.TransformOutput, "transformOutput", true)!;
  const outUri = s3Uri(to.S3OutputPath, "transformOutput.s3OutputPath");
  const accept = str(to.Accept, "transformOutput.accept", false);
  if (accept !== undefined && accept.length > 256) constraint(accept, "transformOutput.accept", "Member must have length less than or equal to 256");
  const assemble = oneOf(to.AssembleWith, "transformOutput.assembleWith", ["None", "Line"] as const);
  const kms = kmsKey(to.KmsKeyId, "transformOutput.kmsKeyId");
  const tr = obj(body.TransformResources, "transformResources", true)!;
  const itype = oneOf(tr.InstanceType, "transformResources.instanceType", INSTANCE_TYPES);
  if (itype === undefined) throw validation("1 validation error detected: Value null at 'transformResources.instanceType' failed to satisfy constraint: Member must not be null");
  if (tr.InstanceCount === undefined || tr.InstanceCount === null) throw validation("1 validation error detected: Value null at 'transformResources.instanceCount' failed to satisfy constraint: Member must not be null");
  const count = int(tr.InstanceCount, "transformResources.instanceCount", 1, 100)!;
  const dp = obj(body.DataProcessing, "dataProcessing", false);
  const req: JobRequest = {
    TransformJobName: name,
    ModelName: model,
    TransformInput: { DataSource: { S3DataSource: { S3DataType: dataType, S3Uri: inUri } } },
    TransformOutput: { S3OutputPath: outUri },
    TransformResources: { InstanceType: itype, InstanceCount: count },
  };
  if (mct !== undefined) req.MaxConcurrentTransforms = mct;
  if (mp !== undefined) req.MaxPayloadInMB = mp;
  if (bs !== undefined) req.BatchStrategy = bs;
  if (env !== undefined) req.Environment = env;
  if (mcc) {
    const t = int(mcc.InvocationsTimeoutInSeconds, "modelClientConfig.invocationsTimeoutInSeconds", 1, 3600);
    const r = int(mcc.InvocationsMaxRetries, "modelClientConfig.invocationsMaxRetries", 0, 3);
    req.ModelClientConfig = {};
    if (t !== undefined) req.ModelClientConfig.InvocationsTimeoutInSeconds = t;
    if (r !== undefined) req.ModelClientConfig.InvocationsMaxRetries = r;
  }
  if (contentType !== undefined) req.TransformInput.ContentType = contentType;
  if (compression !== undefined) req.TransformInput.CompressionType = compression;
  if (split !== undefined) req.TransformInput.SplitType = split;
  if (accept !== undefined) req.TransformOutput.Accept = accept;
  if (assemble !== undefined) req.TransformOutput.AssembleWith = assemble;
  if (kms !== undefined) req.TransformOutput.KmsKeyId = kms;
  const vkms = kmsKey(tr.VolumeKmsKeyId, "transformResources.volumeKmsKeyId");
  if (vkms !== undefined) req.TransformResources.VolumeKmsKeyId = vkms;
  const ami = str(tr.TransformAmiVersion, "transformResources.transformAmiVersion", false);
  if (ami !== undefined) {
    pattern(ami, "transformResources.transformAmiVersion", AMI_VERSION_RE, 1, 63, "[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*");
    req.TransformResources.TransformAmiVersion = ami;
  }
  const dc = obj(body.DataCaptureConfig, "dataCaptureConfig", false);
  if (dc) {
    req.DataCaptureConfig = { DestinationS3Uri: s3Uri(dc.DestinationS3Uri, "dataCaptureConfig.destinationS3Uri") };
    const k = kmsKey(dc.KmsKeyId, "dataCaptureConfig.kmsKeyId");
    if (k !== undefined) req.DataCaptureConfig.KmsKeyId = k;
    if (dc.GenerateInferenceId !== undefined && dc.GenerateInferenceId !== null) {
      if (typeof dc.GenerateInferenceId !== "boolean") throw validation(`Value at 'dataCaptureConfig.generateInferenceId' must be a boolean, got ${JSON.stringify(dc.GenerateInferenceId)}`);
      req.DataCaptureConfig.GenerateInferenceId = dc.GenerateInferenceId;
    }
  }
  const ec = experimentConfig(body.ExperimentConfig);
  if (ec) req.ExperimentConfig = ec;
  if (dp) {
    const d: NonNullable<JobRequest["DataProcessing"]> = {};
    const inF = filter(dp.InputFilter, "dataProcessing.inputFilter");
    const outF = filter(dp.OutputFilter, "dataProcessing.outputFilter");
    const join = oneOf(dp.JoinSource, "dataProcessing.joinSource", ["Input", "None"] as const);
    if (inF !== undefined) d.InputFilter = inF;
    if (outF !== undefined) d.OutputFilter = outF;
    if (join !== undefined) d.JoinSource = join;
    req.DataProcessing = d;
  }
  const tags = validateTags(body.Tags, "tags", false);
  if (tags !== undefined) req.Tags = tags;
  return req;
}

/**
 * ProcessingInstanceType (the botocore model's enum, read from the AWS SDK for JavaScript v3
 * generated from the same model, as INSTANCE_TYPES is). Its list differs from the transform one.
 */
const PROCESSING_INSTANCE_TYPES: readonly string[] = Object.values(ProcessingInstanceType);
/** RoleArn (the botocore model): 20 to 2048 characters of this pattern. */
const ROLE_ARN_RE = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
/** ProcessingEnvironmentKey (the botocore model): at most 256 characters. */
const PROCESSING_ENV_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A processing job's S3 input (shape ProcessingS3Input). */
export interface ProcessingS3Input {
  S3Uri: string;
  LocalPath?: string;
  S3DataType: "ManifestFile" | "S3Prefix";
  S3InputMode?: "Pipe" | "File";
  S3DataDistributionType?: "FullyReplicated" | "ShardedByS3Key";
  S3CompressionType?: "None" | "Gzip";
}

/** CreateProcessingJob, normalized (known fields only). DatasetDefinition, FeatureStoreOutput and NetworkConfig are kept as given (not emulated). */
export interface ProcessingJobRequest {
  ProcessingJobName: string;
  ProcessingInputs?: Array<{ InputName: string; AppManaged?: boolean; S3Input?: ProcessingS3Input; DatasetDefinition?: Record<string, unknown> }>;
  ProcessingOutputConfig?: {
    Outputs: Array<{ OutputName: string; AppManaged?: boolean; S3Output?: { S3Uri: string; LocalPath?: string; S3UploadMode: "Continuous" | "EndOfJob" }; FeatureStoreOutput?: { FeatureGroupName: string } }>;
    KmsKeyId?: string;
  };
  ProcessingResources: { ClusterConfig: { InstanceCount: number; InstanceType: string; VolumeSizeInGB: number; VolumeKmsKeyId?: string } };
  StoppingCondition?: { MaxRuntimeInSeconds: number };
  AppSpecification: { ImageUri: string; ContainerEntrypoint?: string[]; ContainerArguments?: string[] };
  Environment?: Record<string, string>;
  NetworkConfig?: Record<string, unknown>;
  RoleArn: string;
  ExperimentConfig?: JobRequest["ExperimentConfig"];
  Tags?: Tag[];
}

/**
 * The CreateProcessingJob fields the emulator takes, keeps and shows in DescribeProcessingJob but
 * does not act on; the emulator writes one line per field set to the job's `<job>/emulator` stream.
 * ProcessingInputs and ProcessingOutputs are always named when given: btkit's containers read and
 * write S3 themselves, so the emulator copies nothing to or from the instances' local paths.
 */
export const PROCESSING_NOT_EMULATED: ReadonlyArray<{ field: string; set: (r: ProcessingJobRequest) => boolean; why: string }> = [
  { field: "ProcessingInputs", set: (r) => (r.ProcessingInputs ?? []).length > 0, why: "nothing is downloaded to the instances' LocalPath: the container reads its inputs itself" },
  { field: "ProcessingOutputConfig", set: (r) => (r.ProcessingOutputConfig?.Outputs ?? []).length > 0, why: "nothing is uploaded from the instances' LocalPath: the container writes its outputs itself" },
  { field: "ProcessingOutputConfig.KmsKeyId", set: (r) => (r.ProcessingOutputConfig?.KmsKeyId ?? "") !== "", why: "no output is encrypted by the emulator" },
  { field: "ProcessingResources.ClusterConfig.VolumeSizeInGB", set: () => true, why: "instances are local processes sharing this machine's disk" },
  { field: "ProcessingResources.ClusterConfig.VolumeKmsKeyId", set: (r) => r.ProcessingResources.ClusterConfig.VolumeKmsKeyId !== undefined, why: "instances are local processes with no storage volume" },
  { field: "NetworkConfig", set: (r) => r.NetworkConfig !== undefined, why: "instances run on this machine's network" },
  { field: "ExperimentConfig", set: (r) => r.ExperimentConfig !== undefined, why: "the job is associated with no experiment, trial or run" },
];

function required(v: unknown, field: string): void {
  if (v === undefined || v === null) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
}

function list(v: unknown, field: string, min: number, max: number): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw validation(`Value at '${field}' must be a list`);
  if (v.length < min) constraint(`[${v.length} items]`, field, `Member must have length greater than or equal to ${min}`);
  if (v.length > max) constraint(`[${v.length} items]`, field, `Member must have length less than or equal to ${max}`);
  return v;
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw validation(`Value at '${field}' must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

/** A list of strings of at most `max` characters each (ContainerEntrypoint, ContainerArguments: 1 to 100 items). */
function strings(v: unknown, field: string, maxItems: number, maxLength: number): string[] | undefined {
  const l = list(v, field, 1, maxItems);
  if (l === undefined) return undefined;
  return l.map((x, i) => {
    const s = str(x, `${field}.${i + 1}.member`, true)!;
    if (s.length > maxLength) constraint(s, `${field}.${i + 1}.member`, `Member must have length less than or equal to ${maxLength}`);
    return s;
  });
}

/**
 * A LocalPath the service downloads to or uploads from: "an absolute path ... must begin with
 * /opt/ml/processing/", required "when AppManaged is False (default)"
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Input.html,
 * API_ProcessingS3Output.html). The service's wording of these two refusals is not public.
 */
function localPath(v: unknown, field: string, appManaged: boolean | undefined): string | undefined {
  const s = str(v, field, false);
  if (s === undefined) {
    if (appManaged !== true) throw validation(`${field} is required when AppManaged is false (the default): the path under /opt/ml/processing/ the data goes to or comes from`);
    return undefined;
  }
  if (s.length > 256) constraint(s, field, "Member must have length less than or equal to 256");
  if (!s.startsWith("/opt/ml/processing/")) throw validation(`${field} ${JSON.stringify(s)} must be an absolute path beginning with /opt/ml/processing/`);
  return s;
}

/** Validates a CreateProcessingJob request (shape CreateProcessingJobRequest); returns it normalized. */
export function validateCreateProcessingJob(body: Json): ProcessingJobRequest {
  const name = str(body.ProcessingJobName, "processingJobName", true)!;
  pattern(name, "processingJobName", JOB_NAME_RE, 1, 63, "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}");
  const pr = obj(body.ProcessingResources, "processingResources", true)!;
  const cc = obj(pr.ClusterConfig, "processingResources.clusterConfig", true)!;
  required(cc.InstanceCount, "processingResources.clusterConfig.instanceCount");
  const count = int(cc.InstanceCount, "processingResources.clusterConfig.instanceCount", 1, 100)!;
  const itype = oneOf(cc.InstanceType, "processingResources.clusterConfig.instanceType", PROCESSING_INSTANCE_TYPES);
  required(itype, "processingResources.clusterConfig.instanceType");
  required(cc.VolumeSizeInGB, "processingResources.clusterConfig.volumeSizeInGB");
  const volume = int(cc.VolumeSizeInGB, "processingResources.clusterConfig.volumeSizeInGB", 1, 16384)!;
  const app = obj(body.AppSpecification, "appSpecification", true)!;
  const image = str(app.ImageUri, "appSpecification.imageUri", true)!;
  if (image.length > 255) constraint(image, "appSpecification.imageUri", "Member must have length less than or equal to 255");
  const role = str(body.RoleArn, "roleArn", true)!;
  pattern(role, "roleArn", ROLE_ARN_RE, 20, 2048, "arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
  const req: ProcessingJobRequest = {
    ProcessingJobName: name,
    ProcessingResources: { ClusterConfig: { InstanceCount: count, InstanceType: itype!, VolumeSizeInGB: volume } },
    AppSpecification: { ImageUri: image },
    RoleArn: role,
  };
  const vkms = kmsKey(cc.VolumeKmsKeyId, "processingResources.clusterConfig.volumeKmsKeyId");
  if (vkms !== undefined) req.ProcessingResources.ClusterConfig.VolumeKmsKeyId = vkms;
  const entry = strings(app.ContainerEntrypoint, "appSpecification.containerEntrypoint", 100, 256);
  if (entry !== undefined) req.AppSpecification.ContainerEntrypoint = entry;
  const args = strings(app.ContainerArguments, "appSpecification.containerArguments", 100, 256);
  if (args !== undefined) req.AppSpecification.ContainerArguments = args;
  const sc = obj(body.StoppingCondition, "stoppingCondition", false);
  if (sc) {
    required(sc.MaxRuntimeInSeconds, "stoppingCondition.maxRuntimeInSeconds");
    req.StoppingCondition = { MaxRuntimeInSeconds: int(sc.MaxRuntimeInSeconds, "stoppingCondition.maxRuntimeInSeconds", 1, 777600)! };
  }
  const env = obj(body.Environment, "environment", false);
  if (env) {
    const keys = Object.keys(env);
    if (keys.length > 100) constraint(`{${keys.length} entries}`, "environment", "Member must have length less than or equal to 100");
    const out: Record<string, string> = {};
    for (const k of keys) {
      pattern(k, "environment.key", PROCESSING_ENV_KEY_RE, 0, 256, "[a-zA-Z_][a-zA-Z0-9_]*");
      const val = env[k];
      if (typeof val !== "string") throw validation(`Value of environment.${k} must be a string`);
      if (val.length > 256) constraint(`${val.slice(0, 20)}...`, `environment.${k}`, "Member must have length less than or equal to 256");
      out[k] = val;
    }
    req.Environment = out;
  }
  const inputs = list(body.ProcessingInputs, "processingInputs", 0, 10);
  if (inputs !== undefined) {
    req.ProcessingInputs = inputs.map((x, i) => {
      const at = `processingInputs.${i + 1}.member`;
      const pi = obj(x, at, true)!;
      const input: NonNullable<ProcessingJobRequest["ProcessingInputs"]>[number] = { InputName: str(pi.InputName, `${at}.inputName`, true)! };
      const managed = bool(pi.AppManaged, `${at}.appManaged`);
      if (managed !== undefined) input.AppManaged = managed;
      const s3 = obj(pi.S3Input, `${at}.s3Input`, false);
      const ds = obj(pi.DatasetDefinition, `${at}.datasetDefinition`, false);
      if (s3) {
        const dataType = oneOf(s3.S3DataType, `${at}.s3Input.s3DataType`, ["ManifestFile", "S3Prefix"] as const);
        required(dataType, `${at}.s3Input.s3DataType`);
        const si: ProcessingS3Input = { S3Uri: s3Uri(s3.S3Uri, `${at}.s3Input.s3Uri`), S3DataType: dataType! };
        const lp = localPath(s3.LocalPath, `${at}.s3Input.localPath`, managed);
        if (lp !== undefined) si.LocalPath = lp;
        const mode = oneOf(s3.S3InputMode, `${at}.s3Input.s3InputMode`, ["Pipe", "File"] as const);
        if (mode !== undefined) si.S3InputMode = mode;
        const dist = oneOf(s3.S3DataDistributionType, `${at}.s3Input.s3DataDistributionType`, ["FullyReplicated", "ShardedByS3Key"] as const);
        if (dist !== undefined) si.S3DataDistributionType = dist;
        const comp = oneOf(s3.S3CompressionType, `${at}.s3Input.s3CompressionType`, ["None", "Gzip"] as const);
        // "Gzip can only be used when Pipe mode is specified as the S3InputMode" (API_ProcessingS3Input)
        if (comp === "Gzip" && mode !== "Pipe") throw validation(`${at}.s3Input.s3CompressionType Gzip can only be used when S3InputMode is Pipe`);
        if (comp !== undefined) si.S3CompressionType = comp;
        input.S3Input = si;
      }
      if (ds) input.DatasetDefinition = ds;
      if ((s3 === undefined) === (ds === undefined)) throw validation(`${at}: give exactly one of S3Input and DatasetDefinition`);
      return input;
    });
  }
  const oc = obj(body.ProcessingOutputConfig, "processingOutputConfig", false);
  if (oc) {
    required(oc.Outputs, "processingOutputConfig.outputs");
    const outputs = list(oc.Outputs, "processingOutputConfig.outputs", 0, 10)!;
    req.ProcessingOutputConfig = {
      Outputs: outputs.map((x, i) => {
        const at = `processingOutputConfig.outputs.${i + 1}.member`;
        const po = obj(x, at, true)!;
        const output: NonNullable<ProcessingJobRequest["ProcessingOutputConfig"]>["Outputs"][number] = { OutputName: str(po.OutputName, `${at}.outputName`, true)! };
        const managed = bool(po.AppManaged, `${at}.appManaged`);
        if (managed !== undefined) output.AppManaged = managed;
        const s3 = obj(po.S3Output, `${at}.s3Output`, false);
        if (s3) {
          const mode = oneOf(s3.S3UploadMode, `${at}.s3Output.s3UploadMode`, ["Continuous", "EndOfJob"] as const);
          required(mode, `${at}.s3Output.s3UploadMode`);
          const so: NonNullable<typeof output.S3Output> = { S3Uri: s3Uri(s3.S3Uri, `${at}.s3Output.s3Uri`), S3UploadMode: mode! };
          const lp = localPath(s3.LocalPath, `${at}.s3Output.localPath`, managed);
          if (lp !== undefined) so.LocalPath = lp;
          output.S3Output = so;
        }
        const fs = obj(po.FeatureStoreOutput, `${at}.featureStoreOutput`, false);
        if (fs) {
          // "This processing output type is only supported when AppManaged is specified" (API_ProcessingOutput)
          if (managed !== true) throw validation(`${at}.featureStoreOutput is only supported when AppManaged is true`);
          output.FeatureStoreOutput = { FeatureGroupName: str(fs.FeatureGroupName, `${at}.featureStoreOutput.featureGroupName`, true)! };
        }
        return output;
      }),
    };
    const k = kmsKey(oc.KmsKeyId, "processingOutputConfig.kmsKeyId");
    if (k !== undefined) req.ProcessingOutputConfig.KmsKeyId = k;
  }
  const nc = obj(body.NetworkConfig, "networkConfig", false);
  if (nc) req.NetworkConfig = nc;
  const ec = experimentConfig(body.ExperimentConfig);
  if (ec) req.ExperimentConfig = ec;
  const tags = validateTags(body.Tags, "tags", false);
  if (tags !== undefined) req.Tags = tags;
  return req;
}
