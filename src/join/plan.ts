/**
 * Which shards a join covers and where their files are: the `--part i/N` slice, each shard's .out
 * location (the job's output location + outputNameFor), and the output file names.
 */
import { BtkitError } from "../errors.js";
import type { Descriptor, ShardEntry } from "../protocol/descriptor.js";

export { checkPart, parsePart, partLabel, sliceOfPart as shardsOfPart, type Part } from "../protocol/layout.js";

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
