/**
 * The descriptor's job section, from a request and what DescribeTransformJob says; and the job's
 * descriptor stored beside its output (`<output>/btkit.json`), where a preparation's folder finds
 * its latest job again.
 */
import type { CreateTransformJobRequest } from "@aws-sdk/client-sagemaker";
import { BtkitError } from "../errors.js";
import type { Storage } from "../io/storage.js";
import { parseDescriptor, serializeDescriptor, type Descriptor, type JobRecord, type JobSection, type JobStatus } from "../protocol/descriptor.js";
import { LAYOUT } from "../protocol/layout.js";
import { instanceSeconds } from "./cost.js";
import { stripUndefined } from "./json.js";
import { defaultOutputUri } from "./output-uri.js";
import type { TransformJobDescription } from "./service.js";

export interface RecordContext {
  backend: "sagemaker" | "emulator";
  endpoint?: string;
  region?: string;
  /** the shards the job was given, when not all of them */
  shards?: string[];
  /** a job run on an emulator in this process (submit --local): its state folder, where status and stop start it again */
  stateDir?: string;
}

function iso(t: Date | string | undefined): string | undefined {
  return t === undefined ? undefined : new Date(t).toISOString();
}

/** A job record: the request as sent, with status, failure reason, times and instance-seconds as last seen. */
export function jobRecord(request: CreateTransformJobRequest, description: TransformJobDescription | undefined, ctx: RecordContext): JobRecord {
  const count = request.TransformResources?.InstanceCount ?? 1;
  const d = description;
  const rec: JobRecord = {
    backend: ctx.backend,
    name: request.TransformJobName!,
    arn: d?.TransformJobArn ?? "(not launched)",
    request: stripUndefined(JSON.parse(JSON.stringify(request)) as Record<string, unknown>),
    outputLocation: request.TransformOutput!.S3OutputPath!,
    accept: request.TransformOutput?.Accept ?? "",
    assembleWith: (request.TransformOutput?.AssembleWith ?? "None") as "None" | "Line",
    status: (d?.TransformJobStatus ?? "InProgress") as JobStatus,
    failureReason: d?.FailureReason,
    endpoint: ctx.endpoint,
    region: ctx.region,
    createdAt: iso(d?.CreationTime),
    startedAt: iso(d?.TransformStartTime),
    endedAt: iso(d?.TransformEndTime),
    instanceSeconds: instanceSeconds(d?.TransformStartTime, d?.TransformEndTime, count),
    shards: ctx.shards,
    stateDir: ctx.stateDir,
  };
  return stripUndefined(rec);
}

/** Updates a job section's current record from a fresh description, keeping its history. */
export function updateJobSection(job: JobSection, description: TransformJobDescription): JobSection {
  const request = job.request as unknown as CreateTransformJobRequest;
  const fresh = jobRecord(request, description, { backend: job.backend, endpoint: job.endpoint, region: job.region, shards: job.shards, stateDir: job.stateDir });
  return stripUndefined({ ...fresh, predictionName: job.predictionName, predictionPrefix: job.predictionPrefix, history: job.history });
}

/** Where a job's descriptor is stored: btkit.json under the job's output location, beside its .out files. */
export function jobDescriptorLocation(job: JobRecord): string {
  return `${job.outputLocation.replace(/\/+$/, "")}/${LAYOUT.descriptor}`;
}

/**
 * Stores a descriptor with its job section at jobDescriptorLocation, unless the descriptor stored
 * there already is a later job's that continues this one (a --retry-failed job writes into the
 * same output and keeps this job in its history). Returns where it is stored, or undefined when
 * the later one was left in place.
 */
export async function storeJobDescriptor(d: Descriptor, storage: Storage, signal?: AbortSignal): Promise<string | undefined> {
  const job = d.job;
  if (!job) throw new BtkitError("SUBMIT_NO_JOB", "storeJobDescriptor: the descriptor has no job section", { field: "job" });
  const where = jobDescriptorLocation(job);
  const stored = await readJobDescriptor(where, storage);
  if (stored?.job && stored.job.name !== job.name && (stored.job.history ?? []).some((h) => h.name === job.name)) return undefined;
  await storage.write(where, `${serializeDescriptor(d)}\n`, { contentType: "application/json", signal });
  return where;
}

/** The descriptor stored at a location, or undefined when there is none (or no valid one). */
export async function readJobDescriptor(where: string, storage: Storage): Promise<Descriptor | undefined> {
  let text: string;
  try {
    text = await storage.readText(where);
  } catch (err) {
    if (err instanceof BtkitError && err.code === "IO_NOT_FOUND") return undefined;
    throw err;
  }
  try {
    return parseDescriptor(text, where);
  } catch {
    return undefined;
  }
}

/** A job descriptor found beside a job's output. */
export interface StoredJob {
  location: string;
  descriptor: Descriptor & { job: JobSection };
}

/**
 * The job descriptors stored for this very preparation (the same manifest, and shards of the same
 * names and sha256) under its default output folder (`output/<job name>/btkit.json`), the latest
 * job first (by its CreationTime, else by when the file was written). Jobs given an --output
 * elsewhere stored theirs there, not here.
 */
export async function storedJobDescriptors(d: Descriptor, storage: Storage): Promise<StoredJob[]> {
  const folder = `${defaultOutputUri(d)}/`;
  const identity = (x: Descriptor): string => JSON.stringify([x.manifest.location, x.shards.map((s) => [s.name, s.sha256])]);
  const mine = identity(d);
  const found: Array<StoredJob & { at: number }> = [];
  for await (const o of storage.list(folder)) {
    if (!/^[^/]+\/btkit\.json$/.test(o.relative)) continue;
    const stored = await readJobDescriptor(o.location, storage);
    if (!stored?.job || identity(stored) !== mine) continue;
    const created = Date.parse(stored.job.createdAt ?? "");
    found.push({ location: o.location, descriptor: stored as Descriptor & { job: JobSection }, at: Number.isNaN(created) ? (o.lastModified?.getTime() ?? 0) : created });
  }
  return found.sort((a, b) => b.at - a.at).map(({ location, descriptor }) => ({ location, descriptor }));
}
