/**
 * Which shards a join covers and where their files are: the `--part i/N` slice, each shard's .out
 * location (the job's output location + outputNameFor), and the output file names.
 */
import { BtkitError } from "../errors.js";
import type { Descriptor, ShardEntry } from "../protocol/descriptor.js";

export interface Part {
  /** 0-based */
  index: number;
  count: number;
}

/** Parses "i/N" (0 <= i < N). */
export function parsePart(text: string): Part {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const part = m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
  if (!part || part.count < 1 || part.index >= part.count) {
    throw new BtkitError("OPT_INVALID", `part must be "i/N" with 0 <= i < N (for example 0/4), got ${JSON.stringify(text)}`, { option: "part", got: text });
  }
  return part;
}

export function checkPart(part: Part): Part {
  if (!Number.isInteger(part.index) || !Number.isInteger(part.count) || part.count < 1 || part.index < 0 || part.index >= part.count) {
    throw new BtkitError("OPT_INVALID", `part must have 0 <= index < count, got ${part.index}/${part.count}`, { option: "part", got: `${part.index}/${part.count}` });
  }
  return part;
}

/**
 * The shards of part i of N: contiguous slices whose sizes differ by at most one, so that the N
 * parts together cover every shard exactly once, in order.
 */
export function shardsOfPart<T>(shards: readonly T[], part: Part | undefined): T[] {
  if (!part) return [...shards];
  const from = Math.floor((part.index * shards.length) / part.count);
  const to = Math.floor(((part.index + 1) * shards.length) / part.count);
  return shards.slice(from, to);
}

/** A shard's name without its data extensions: part-00000.csv.gz -> part-00000. */
export function shardStem(name: string): string {
  return name.replace(/(\.(csv|jsonl|json|tsv))?(\.gz)?$/i, "");
}

/** The shard entries a descriptor's job covers, checked. */
export function jobShards(d: Descriptor): ShardEntry[] {
  if (!d.job) {
    throw new BtkitError("SUBMIT_NO_JOB", "the descriptor has no job section: join reads the descriptor btkit submit printed on stdout (save it: btkit submit ... > job.json), not prep's btkit.json", { field: "job" });
  }
  return d.shards;
}
