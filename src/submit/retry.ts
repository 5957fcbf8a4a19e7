/**
 * --retry-failed: the shards of a finished job that have no .out of their own (a file with a bad
 * record gets none, all or nothing: https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-errors.html;
 * or only a stale one, written before the job: protocol/provenance.ts) go into a manifest of their
 * own beside the original, and a new job writes their outputs into the same output location. The
 * retry job may change the model, instances, batching, environment and tags (RetryOverrides);
 * never what decides how its .out lines read (output location, Accept, DataProcessing).
 */
import type { CreateTransformJobRequest } from "@aws-sdk/client-sagemaker";
import { BtkitError } from "../errors.js";
import type { Descriptor, JobRecord, ShardEntry } from "../protocol/descriptor.js";
import { manifestDocument } from "../protocol/layout.js";
import type { Storage } from "../io/storage.js";
import { validateTransformJobRequest } from "./constraints.js";
import { shardOutputs } from "../protocol/provenance.js";
import { stripUndefined } from "./json.js";
import { parentUri } from "./output-uri.js";
import { DEFAULT_NAME_PREFIX, jobNameFor, type TransformRequestOptions } from "./request.js";

/**
 * The shards of the descriptor without an .out of their own: for each shard, the job that was
 * given it (protocol/provenance.ts: the current job, or the job a retry left it to) wrote none
 * under its output location, or the .out there is another job's (written before that job was
 * created or after it ended). Exactly the shards join would report missing or foreign.
 */
export async function missingShards(d: Descriptor, storage: Storage): Promise<ShardEntry[]> {
  const job = d.job;
  if (!job) throw new BtkitError("SUBMIT_NO_JOB", "the descriptor has no job section: submit it first", {});
  return (await shardOutputs(job, d.shards, storage)).filter((o) => o.state !== "present").map((o) => o.shard);
}

/** What a retry job may change from the job it retries (the flags given with --retry-failed). */
export type RetryOverrides = Pick<
  TransformRequestOptions,
  "model" | "instanceType" | "instanceCount" | "strategy" | "maxPayloadMb" | "concurrency" | "environment" | "tags" | "outputKmsKey" | "volumeKmsKey" | "invocationTimeoutSeconds" | "invocationRetries" | "jobName" | "nameSalt"
>;

/** The previous request with the overrides applied; Environment and Tags are merged key by key. */
function applyOverrides(prev: CreateTransformJobRequest, o: RetryOverrides): CreateTransformJobRequest {
  const tags = new Map((prev.Tags ?? []).map((t) => [t.Key!, t.Value ?? ""]));
  for (const [k, v] of Object.entries(o.tags ?? {})) tags.set(k, v);
  return stripUndefined({
    ...prev,
    ModelName: o.model ?? prev.ModelName,
    MaxConcurrentTransforms: o.concurrency ?? prev.MaxConcurrentTransforms,
    MaxPayloadInMB: o.maxPayloadMb ?? prev.MaxPayloadInMB,
    BatchStrategy: o.strategy ?? prev.BatchStrategy,
    Environment: o.environment === undefined ? prev.Environment : { ...prev.Environment, ...o.environment },
    ModelClientConfig:
      o.invocationTimeoutSeconds === undefined && o.invocationRetries === undefined
        ? prev.ModelClientConfig
        : { ...prev.ModelClientConfig, InvocationsTimeoutInSeconds: o.invocationTimeoutSeconds ?? prev.ModelClientConfig?.InvocationsTimeoutInSeconds, InvocationsMaxRetries: o.invocationRetries ?? prev.ModelClientConfig?.InvocationsMaxRetries },
    TransformOutput: { ...prev.TransformOutput!, KmsKeyId: o.outputKmsKey ?? prev.TransformOutput?.KmsKeyId },
    TransformResources: {
      ...prev.TransformResources!,
      InstanceType: (o.instanceType ?? prev.TransformResources?.InstanceType) as NonNullable<CreateTransformJobRequest["TransformResources"]>["InstanceType"],
      InstanceCount: o.instanceCount ?? prev.TransformResources?.InstanceCount,
      VolumeKmsKeyId: o.volumeKmsKey ?? prev.TransformResources?.VolumeKmsKeyId,
    },
    Tags: tags.size === 0 ? undefined : [...tags].map(([Key, Value]) => ({ Key, Value })),
  });
}

/**
 * The manifest text (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformS3DataSource.html,
 * S3Uri): `[{"prefix": P}, entry, ...]`, each entry the shard location after P.
 */
export function manifestText(prefix: string, shards: readonly ShardEntry[]): string {
  return `${manifestDocument(prefix, shards.map((s) => s.location.slice(prefix.length)))}\n`;
}

/** Writes `manifest-retry-<n>.json` beside the original manifest; n counts the jobs so far. */
export async function writeRetryManifest(d: Descriptor, shards: readonly ShardEntry[], storage: Storage): Promise<string> {
  const n = (d.job?.history?.length ?? 0) + 1;
  const uri = `${parentUri(d.manifest.location)}manifest-retry-${n}.json`;
  await storage.write(uri, manifestText(d.manifest.prefix, shards), { contentType: "application/json" });
  return uri;
}

/**
 * The request of a retry job: the previous job's request with the retry manifest as input and a
 * name derived from it (so rerunning the same retry attaches instead of launching twice).
 */
export function retryRequest(d: Descriptor, manifestUri: string, options: { namePrefix?: string; allowFileUris?: boolean; overrides?: RetryOverrides } = {}): CreateTransformJobRequest {
  const last = d.job?.request as unknown as CreateTransformJobRequest | undefined;
  if (!last) throw new BtkitError("SUBMIT_NO_JOB", "the descriptor has no job section: nothing to retry", {});
  const prev = applyOverrides(last, options.overrides ?? {});
  const body = stripUndefined({
    ...prev,
    TransformJobName: undefined,
    TransformInput: { ...prev.TransformInput!, DataSource: { S3DataSource: { ...prev.TransformInput!.DataSource!.S3DataSource!, S3Uri: manifestUri } } },
  });
  const request = { ...body, TransformJobName: options.overrides?.jobName ?? jobNameFor(d, body, options.namePrefix ?? DEFAULT_NAME_PREFIX, options.overrides?.nameSalt) } as CreateTransformJobRequest;
  validateTransformJobRequest(request, { maxRecordBytes: d.modelInput.maxRecordBytes, allowFileUris: options.allowFileUris ?? false });
  return request;
}

/** The history after a retry: every earlier record, then the job being retried (without its own history). */
export function historyWith(d: Descriptor): JobRecord[] {
  if (!d.job) return [];
  const { history, ...current } = d.job;
  return [...(history ?? []), current];
}
