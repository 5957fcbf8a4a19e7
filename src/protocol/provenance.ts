/**
 * Which job of a descriptor wrote a shard's .out, and what that .out must look like to be that
 * job's: under the job's own S3OutputPath, written no earlier than the job's CreationTime and, once
 * the job ended, no later than its TransformEndTime. A count is not an identity: an .out of the
 * same length left by another job (before this one, or after it, such as a retry with another
 * model, or a job sharing an explicit --output) must not be joined.
 *
 * The jobs of a descriptor are its current `job` and the earlier ones in `job.history` (a
 * `--retry-failed` job covers only the shards listed in its `shards`; any other job covers all).
 */
import type { Location } from "../io/location.js";
import type { Storage } from "../io/storage.js";
import type { JobRecord, JobSection, ShardEntry } from "./descriptor.js";
import { outputNameFor } from "./layout.js";

/**
 * The job that produced (or was to produce) a shard's .out: the current job when it was given the
 * shard, else the latest earlier job that was, after the last job that covered every shard. So a
 * retry's untouched shards come from the job it retried, and a fresh job (`submit --new`) never
 * borrows an earlier job's output. A hand-edited chain that names the shard nowhere gives the
 * current job.
 */
export function producerOf(job: JobSection, shard: string): JobRecord {
  const chain: JobRecord[] = [...(job.history ?? []), job];
  for (let i = chain.length - 1; i >= 0; i--) {
    const rec = chain[i]!;
    if (rec.shards === undefined || rec.shards.includes(shard)) return rec;
  }
  return job;
}

/** How precise an .out's time is: S3 LastModified is whole seconds; a file's mtime is finer. */
export type TimePrecision = "second" | "fine";

/**
 * A local file's mtime comes from the kernel's coarse clock, which may lag the wall clock that
 * stamped the job's CreationTime by a clock tick (up to 10 ms); 50 ms of slack covers it.
 */
const FINE_SLACK_MS = 50;

/**
 * The earliest time an .out of this job may carry: its CreationTime floored to the whole second
 * for S3, whose LastModified has whole seconds
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html), or less FINE_SLACK_MS for a
 * local file. Undefined when the descriptor does not record when the job was created.
 */
export function writtenNotBefore(rec: JobRecord, precision: TimePrecision): Date | undefined {
  if (rec.createdAt === undefined) return undefined;
  const t = Date.parse(rec.createdAt);
  if (Number.isNaN(t)) return undefined;
  return new Date(precision === "second" ? Math.floor(t / 1000) * 1000 : t - FINE_SLACK_MS);
}

/**
 * The latest time an .out of this job may carry: its TransformEndTime (S3 LastModified, floored to
 * the second, is never later than the write), plus FINE_SLACK_MS for a local file. Undefined while
 * the job has not ended.
 */
export function writtenNotAfter(rec: JobRecord, precision: TimePrecision): Date | undefined {
  if (rec.endedAt === undefined) return undefined;
  const t = Date.parse(rec.endedAt);
  if (Number.isNaN(t)) return undefined;
  return new Date(precision === "second" ? t : t + FINE_SLACK_MS);
}

/** Why an .out is not the job's own (undefined when it is, or when the times are not known). */
export function foreignOutput(rec: JobRecord, lastModified: Date | undefined, precision: TimePrecision): string | undefined {
  if (lastModified === undefined) return undefined;
  const since = writtenNotBefore(rec, precision);
  if (since !== undefined && lastModified.getTime() < since.getTime()) {
    return `it was written at ${lastModified.toISOString()}, before job ${rec.name} was created (${rec.createdAt}): it is another job's output`;
  }
  const until = writtenNotAfter(rec, precision);
  if (until !== undefined && lastModified.getTime() > until.getTime()) {
    return `it was written at ${lastModified.toISOString()}, after job ${rec.name} ended (${rec.endedAt}): it is another job's output`;
  }
  return undefined;
}

/** Where a shard's .out is, which job was to write it, and whether that job's .out is there. */
export interface ShardOutput {
  shard: ShardEntry;
  producer: JobRecord;
  location: Location;
  /** "present": the producer's own .out; "missing": none; "foreign": one another job wrote */
  state: "present" | "missing" | "foreign";
  /** why a foreign .out is not the producer's */
  why?: string;
  lastModified?: Date;
}

/**
 * The .out of each shard, as join reads it and as --retry-failed decides what to transform again
 * (one answer for both): under the producer's output location, with the producer's lifetime
 * checked (S3 by the second, files with a clock tick's slack). One listing per output location.
 */
export async function shardOutputs(job: JobSection, shards: readonly ShardEntry[], storage: Storage, signal?: AbortSignal): Promise<ShardOutput[]> {
  const listed = new Map<string, Map<string, Date | undefined>>();
  const out: ShardOutput[] = [];
  for (const shard of shards) {
    signal?.throwIfAborted();
    const producer = producerOf(job, shard.name);
    const base = storage.parse(producer.outputLocation);
    const location = storage.child(base, outputNameFor(shard.name));
    const key = producer.outputLocation.replace(/\/*$/, "/");
    let found = listed.get(key);
    if (found === undefined) {
      found = new Map();
      for await (const o of storage.list(key)) found.set(o.relative, o.lastModified);
      listed.set(key, found);
    }
    const name = outputNameFor(shard.name);
    if (!found.has(name)) {
      out.push({ shard, producer, location, state: "missing" });
      continue;
    }
    const lastModified = found.get(name);
    const why = foreignOutput(producer, lastModified, base.kind === "s3" ? "second" : "fine");
    out.push({ shard, producer, location, state: why === undefined ? "present" : "foreign", why, lastModified });
  }
  return out;
}
