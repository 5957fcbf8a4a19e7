/**
 * --retry-failed: the shards of a finished job that have no .out (a file with a bad record gets
 * none, all or nothing: §3.5, §7.4) go into a manifest of their own beside the original, and a new
 * job writes their outputs into the same output location.
 */
import type { CreateTransformJobRequest } from "@aws-sdk/client-sagemaker";
import { BtkitError } from "../errors.js";
import type { Descriptor, JobRecord, ShardEntry } from "../protocol/descriptor.js";
import { outputNameFor } from "../protocol/layout.js";
import type { Storage } from "../io/storage.js";
import { validateTransformJobRequest } from "./constraints.js";
import { DEFAULT_NAME_PREFIX, jobNameFor, parentUri, stripUndefined } from "./request.js";
import { presentOutputs } from "./wait.js";

/** The shards given to the descriptor's last job that have no .out under its output location. */
export async function missingShards(d: Descriptor, storage: Storage): Promise<ShardEntry[]> {
  const job = d.job;
  if (!job) throw new BtkitError("SUBMIT_NO_JOB", "the descriptor has no job section: submit it first", {});
  const given = new Set(job.shards ?? d.shards.map((s) => s.name));
  const shards = d.shards.filter((s) => given.has(s.name));
  const present = await presentOutputs(storage, job.outputLocation, shards.map((s) => outputNameFor(s.name)));
  return shards.filter((s) => !present.has(outputNameFor(s.name)));
}

/** The manifest text (§2.1): `[{"prefix": P}, entry, ...]`, each entry the shard location after P. */
export function manifestText(prefix: string, shards: readonly ShardEntry[]): string {
  return `${JSON.stringify([{ prefix }, ...shards.map((s) => s.location.slice(prefix.length))])}\n`;
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
export function retryRequest(d: Descriptor, manifestUri: string, options: { namePrefix?: string; allowFileUris?: boolean } = {}): CreateTransformJobRequest {
  const prev = d.job?.request as unknown as CreateTransformJobRequest | undefined;
  if (!prev) throw new BtkitError("SUBMIT_NO_JOB", "the descriptor has no job section: nothing to retry", {});
  const body = stripUndefined({
    ...prev,
    TransformJobName: undefined,
    TransformInput: { ...prev.TransformInput!, DataSource: { S3DataSource: { ...prev.TransformInput!.DataSource!.S3DataSource!, S3Uri: manifestUri } } },
  });
  const request = { ...body, TransformJobName: jobNameFor(d, body, options.namePrefix ?? DEFAULT_NAME_PREFIX) } as CreateTransformJobRequest;
  validateTransformJobRequest(request, { maxRecordBytes: d.modelInput.maxRecordBytes, allowFileUris: options.allowFileUris ?? false });
  return request;
}

/** The history after a retry: every earlier record, then the job being retried (without its own history). */
export function historyWith(d: Descriptor): JobRecord[] {
  if (!d.job) return [];
  const { history, ...current } = d.job;
  return [...(history ?? []), current];
}
