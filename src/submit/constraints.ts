/**
 * The service's constraints on a CreateTransformJob request, checked before anything is sent
 * (the botocore model, boto/botocore botocore/data/sagemaker/2017-07-24/service-2.json, shape CreateTransformJobRequest
 * and the shapes of its members; the API reference,
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, is generated from it; and the limits the
 * docs add on MaxPayloadInMB, https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html). Each breach is
 * SUBMIT_INVALID_REQUEST naming the request field, and the option that sets it with its CLI flag
 * (errors.ts optionHint).
 */
import type { CreateTransformJobRequest } from "@aws-sdk/client-sagemaker";
import { TransformInstanceType } from "@aws-sdk/client-sagemaker";
import { BtkitError, counted, optionHint } from "../errors.js";

/**
 * TransformJobName (botocore/data/sagemaker/2017-07-24/service-2.json, TransformJobName): 1–63 characters, letters, digits
 * and hyphens, starting and ending alphanumeric (full match: the current model's pattern has no anchors).
 */
export const JOB_NAME_RE = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** ModelName (botocore/data/sagemaker/2017-07-24/service-2.json, ModelName): 0–63 characters. */
export const MODEL_NAME_RE = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** S3Uri (botocore/data/sagemaker/2017-07-24/service-2.json, S3Uri): `(https|s3)://([^/]+)/?(.*)`, at most 1024 characters. */
const S3_URI_RE = /^(https|s3):\/\/([^/]+)\/?(.*)$/;
/** file:// is the emulator's local extension (src/emulator/index.ts), never sent to AWS. */
const FILE_URI_RE = /^file:\/\/\/./;
const ENV_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;
const KMS_RE = /^[a-zA-Z0-9:/_-]*$/;
const TAG_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const INSTANCE_TYPES: ReadonlySet<string> = new Set(Object.values(TransformInstanceType));
/**
 * MaxPayloadInMB maximum, and the bound on MaxConcurrentTransforms × MaxPayloadInMB
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, MaxPayloadInMB).
 */
export const MAX_PAYLOAD_MB = 100;
/** The service's default MaxPayloadInMB when the request leaves it unset (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html). */
export const DEFAULT_PAYLOAD_MB = 6;
export const MIB = 1024 * 1024;

/** Which option of TransformRequestOptions sets each request field, and its CLI flag (for messages). */
const OPTION_OF: Record<string, [option: string, flag: string]> = {
  TransformJobName: ["jobName", "--name"],
  ModelName: ["model", "--model"],
  MaxPayloadInMB: ["maxPayloadMb", "--max-payload-mb"],
  MaxConcurrentTransforms: ["concurrency", "--concurrency"],
  BatchStrategy: ["strategy", "--strategy"],
  "ModelClientConfig.InvocationsTimeoutInSeconds": ["invocationTimeoutSeconds", "--invocation-timeout"],
  "ModelClientConfig.InvocationsMaxRetries": ["invocationRetries", "--invocation-retries"],
  Environment: ["environment", "--env"],
  "TransformResources.InstanceType": ["instanceType", "--instance-type"],
  "TransformResources.InstanceCount": ["instanceCount", "--instance-count"],
  "TransformResources.VolumeKmsKeyId": ["volumeKmsKey", "--volume-kms-key"],
  "TransformOutput.KmsKeyId": ["outputKmsKey", "--output-kms-key"],
  "TransformOutput.S3OutputPath": ["output", "--output"],
  "TransformOutput.Accept": ["accept", "--accept"],
  "DataProcessing.InputFilter": ["inputFilter", "--input-filter"],
  "DataProcessing.OutputFilter": ["outputFilter", "--output-filter"],
  "DataProcessing.JoinSource": ["joinSource", "--join-source"],
  Tags: ["tags", "--tag"],
};

function fail(field: string, why: string, expected: unknown, got: unknown): never {
  const set = OPTION_OF[field] ?? (field.startsWith("Environment") ? OPTION_OF.Environment : field.startsWith("Tags") ? OPTION_OF.Tags : undefined);
  const by = field === "TransformJobName" ? `${optionHint("jobName", undefined, "--name")} or ${optionHint("namePrefix")}` : set ? optionHint(set[0], undefined, set[1]) : undefined;
  throw new BtkitError(
    "SUBMIT_INVALID_REQUEST",
    `invalid CreateTransformJob request: ${field} ${why}: expected ${String(expected)}, got ${JSON.stringify(got)}${by ? ` (set by ${by})` : ""}`,
    { field, option: set?.[0], expected, got },
  );
}

function checkInt(field: string, v: number | undefined, min: number, max: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < min || (max !== undefined && v > max)) {
    fail(field, "is out of range", max === undefined ? `a whole number >= ${min}` : `a whole number in [${min}, ${max}]`, v);
  }
}

function checkUri(field: string, uri: string | undefined, allowFile: boolean): void {
  if (uri === undefined || uri.length === 0) fail(field, "is required", "an s3:// URI", uri ?? null);
  if (uri.length > 1024) fail(field, "is too long", "at most 1024 characters", `${uri.length} characters`);
  if (S3_URI_RE.test(uri)) return;
  if (allowFile && FILE_URI_RE.test(uri)) return;
  fail(field, "is not an S3 URI", allowFile ? "s3://bucket/key, https://... or (emulator) file:///path" : `s3://bucket/key or https://... (file:// locations need the emulator: ${optionHint("allowFileUris", true, "--local")})`, uri);
}

function checkKms(field: string, v: string | undefined): void {
  if (v === undefined) return;
  if (v.length > 2048 || !KMS_RE.test(v)) fail(field, "is not a KMS key id or ARN", "at most 2048 characters of [a-zA-Z0-9:/_-]", v);
}

export interface ConstraintOptions {
  /** the largest record in the input, in bytes: MaxPayloadInMB must hold it (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, MaxPayloadInMB) */
  maxRecordBytes?: number;
  /** accept file:// locations (the emulator's extension); default false */
  allowFileUris?: boolean;
}

/**
 * Checks every constraint listed at the top of this file. Throws SUBMIT_INVALID_REQUEST naming the
 * field, the flag that set it, what was expected and what was given.
 */
export function validateTransformJobRequest(r: CreateTransformJobRequest, options: ConstraintOptions = {}): void {
  const allowFile = options.allowFileUris ?? false;
  const name = r.TransformJobName ?? "";
  if (name.length < 1 || name.length > 63) fail("TransformJobName", "has a bad length", "1 to 63 characters", name);
  if (!JOB_NAME_RE.test(name)) fail("TransformJobName", "does not match the service pattern", "letters, digits and hyphens, starting and ending with a letter or digit", name);
  const model = r.ModelName ?? "";
  if (model.length === 0) fail("ModelName", "is required", `the name of an existing SageMaker model (${optionHint("model")}, or --model-data/--image/--role to create one)`, model);
  if (model.length > 63 || !MODEL_NAME_RE.test(model)) fail("ModelName", "does not match the service pattern", "at most 63 letters, digits and hyphens, starting and ending with a letter or digit", model);

  checkInt("MaxPayloadInMB", r.MaxPayloadInMB, 0, MAX_PAYLOAD_MB);
  checkInt("MaxConcurrentTransforms", r.MaxConcurrentTransforms, 0, undefined);
  const payload = r.MaxPayloadInMB ?? DEFAULT_PAYLOAD_MB;
  if (r.MaxConcurrentTransforms !== undefined && r.MaxConcurrentTransforms * payload > MAX_PAYLOAD_MB) {
    fail("MaxConcurrentTransforms", `times MaxPayloadInMB (${payload}) exceeds ${MAX_PAYLOAD_MB}`, `MaxConcurrentTransforms x MaxPayloadInMB <= ${MAX_PAYLOAD_MB}`, r.MaxConcurrentTransforms);
  }
  if (options.maxRecordBytes !== undefined && payload !== 0) {
    const need = Math.ceil(options.maxRecordBytes / MIB);
    if (payload < need) {
      fail("MaxPayloadInMB", `cannot hold the largest record (${counted(options.maxRecordBytes, "byte")})`, `at least ${need}`, payload);
    }
  }
  if (r.BatchStrategy !== undefined && r.BatchStrategy !== "MultiRecord" && r.BatchStrategy !== "SingleRecord") {
    fail("BatchStrategy", "is not a strategy", "MultiRecord or SingleRecord", r.BatchStrategy);
  }
  checkInt("ModelClientConfig.InvocationsTimeoutInSeconds", r.ModelClientConfig?.InvocationsTimeoutInSeconds, 1, 3600);
  checkInt("ModelClientConfig.InvocationsMaxRetries", r.ModelClientConfig?.InvocationsMaxRetries, 0, 3);

  const env = Object.entries(r.Environment ?? {});
  if (env.length > 16) fail("Environment", "has too many entries", "at most 16", env.length);
  for (const [k, v] of env) {
    if (!ENV_KEY_RE.test(k)) fail(`Environment.${k}`, "is not a valid variable name", "[a-zA-Z_][a-zA-Z0-9_]{0,1023}", k);
    if (v.length > 10240) fail(`Environment.${k}`, "has a value that is too long", "at most 10240 characters", `${v.length} characters`);
  }

  const input = r.TransformInput;
  const src = input?.DataSource?.S3DataSource;
  if (src?.S3DataType !== "ManifestFile" && src?.S3DataType !== "S3Prefix") fail("TransformInput.DataSource.S3DataSource.S3DataType", "is not valid for a transform", "ManifestFile or S3Prefix", src?.S3DataType ?? null);
  checkUri("TransformInput.DataSource.S3DataSource.S3Uri", src.S3Uri, allowFile);
  if ((input?.ContentType?.length ?? 0) > 256) fail("TransformInput.ContentType", "is too long", "at most 256 characters", input?.ContentType);
  if (input?.CompressionType !== undefined && input.CompressionType !== "None" && input.CompressionType !== "Gzip") fail("TransformInput.CompressionType", "is not valid", "None or Gzip", input.CompressionType);
  if (input?.SplitType !== undefined && !["None", "Line", "RecordIO", "TFRecord"].includes(input.SplitType)) fail("TransformInput.SplitType", "is not valid", "None, Line, RecordIO or TFRecord", input.SplitType);

  const out = r.TransformOutput;
  checkUri("TransformOutput.S3OutputPath", out?.S3OutputPath, allowFile);
  if ((out?.Accept?.length ?? 0) > 256) fail("TransformOutput.Accept", "is too long", "at most 256 characters", out?.Accept);
  if (out?.AssembleWith !== undefined && out.AssembleWith !== "None" && out.AssembleWith !== "Line") fail("TransformOutput.AssembleWith", "is not valid", "None or Line", out.AssembleWith);
  checkKms("TransformOutput.KmsKeyId", out?.KmsKeyId);

  const res = r.TransformResources;
  if (res?.InstanceType === undefined || !INSTANCE_TYPES.has(res.InstanceType)) {
    fail("TransformResources.InstanceType", "is not a transform instance type", "one of the service's ml.* transform types, e.g. ml.m5.large", res?.InstanceType ?? null);
  }
  checkInt("TransformResources.InstanceCount", res.InstanceCount, 1, 100);
  if (res.InstanceCount === undefined) fail("TransformResources.InstanceCount", "is required", "a whole number in [1, 100]", null);
  checkKms("TransformResources.VolumeKmsKeyId", res.VolumeKmsKeyId);

  const dp = r.DataProcessing;
  for (const key of ["InputFilter", "OutputFilter"] as const) {
    const f = dp?.[key];
    if (f === undefined) continue;
    // JSONPath of at most 63 characters (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html); "$" is required at
    // the start (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html).
    if (f.length > 63) fail(`DataProcessing.${key}`, "is too long", "a JSONPath of at most 63 characters", f);
    if (!f.startsWith("$")) fail(`DataProcessing.${key}`, "is not a JSONPath", "a path starting with $", f);
    // only one slice per filter (https://github.com/aws/sagemaker-python-sdk/issues/1112).
    if ((f.match(/:/g) ?? []).length > 1) fail(`DataProcessing.${key}`, "has more than one slice", "at most one [start:end] range", f);
  }
  if (dp?.JoinSource !== undefined && dp.JoinSource !== "Input" && dp.JoinSource !== "None") fail("DataProcessing.JoinSource", "is not valid", "Input or None", dp.JoinSource);

  const tags = r.Tags ?? [];
  if (tags.length > 50) fail("Tags", "has too many entries", "at most 50", tags.length);
  for (const t of tags) {
    const k = t.Key ?? "";
    if (k.length < 1 || k.length > 128 || !TAG_RE.test(k)) fail(`Tags.${k}`, "has an invalid key", "1 to 128 letters, digits, spaces or _.:/=+-@", k);
    if (k.toLowerCase().startsWith("aws:")) fail(`Tags.${k}`, "uses the reserved aws: prefix", "a key not starting with aws:", k);
    const v = t.Value ?? "";
    if (v.length > 256 || !TAG_RE.test(v)) fail(`Tags.${k}`, "has an invalid value", "at most 256 letters, digits, spaces or _.:/=+-@", v);
  }
}
