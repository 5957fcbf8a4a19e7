/** The descriptor's job section, from a request and what DescribeTransformJob says. */
import type { CreateTransformJobRequest } from "@aws-sdk/client-sagemaker";
import type { JobRecord, JobSection, JobStatus } from "../protocol/descriptor.js";
import { instanceSeconds } from "./cost.js";
import { stripUndefined } from "./request.js";
import type { TransformJobDescription } from "./service.js";

export interface RecordContext {
  backend: "sagemaker" | "emulator";
  endpoint?: string;
  region?: string;
  /** the shards the job was given, when not all of them */
  shards?: string[];
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
  };
  return stripUndefined(rec);
}

/** Updates a job section's current record from a fresh description, keeping its history. */
export function updateJobSection(job: JobSection, description: TransformJobDescription): JobSection {
  const request = job.request as unknown as CreateTransformJobRequest;
  const fresh = jobRecord(request, description, { backend: job.backend, endpoint: job.endpoint, region: job.region, shards: job.shards });
  return stripUndefined({ ...fresh, predictionName: job.predictionName, predictionPrefix: job.predictionPrefix, stateDir: job.stateDir, history: job.history });
}
