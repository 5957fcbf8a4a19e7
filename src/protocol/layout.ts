/**
 * The contract between stages that is not in the descriptor itself: where prep puts things under
 * --out, how shards and their outputs are named, and the sidecar's shape. prepare writes by it,
 * submit and join read by it; none of them imports the others.
 */
import { BtkitError } from "../errors.js";

/** Names under prep's --out folder or prefix. */
export const LAYOUT = {
  descriptor: "btkit.json",
  /** the SageMaker ManifestFile */
  manifest: "manifest.json",
  /** model-input shards live here, and nothing else: an S3Prefix on it never catches other files */
  shardsDir: "shards/",
  sidecarsDir: "sidecars/",
  /** rows skipped under --on-invalid skip, as JSON Lines with input, line, reason */
  rejects: "rejects.jsonl",
  /** submit's default output location, beside (never under) shards/ */
  outputDir: "output/",
} as const;

/**
 * Part i of N (`--part i/N` of prep and join, 0-based): parsing, checking, which slice of a list
 * it takes, and its label in file and lock names. Every stage goes through these.
 */
export interface Part {
  /** 0-based */
  index: number;
  count: number;
}

/** Checks a part: whole numbers with 0 <= index < count; OPT_INVALID otherwise. */
export function checkPart(part: Part): Part {
  if (!Number.isInteger(part.index) || !Number.isInteger(part.count) || part.count < 1 || part.index < 0 || part.index >= part.count) {
    throw new BtkitError("OPT_INVALID", `part must be "i/N" with 0 <= i < N (for example 0/4), got ${part.index}/${part.count}`, { option: "part", got: `${part.index}/${part.count}` });
  }
  return { index: part.index, count: part.count };
}

/** Parses "i/N" (0 <= i < N); OPT_INVALID otherwise. */
export function parsePart(text: string): Part {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new BtkitError("OPT_INVALID", `part must be "i/N" with 0 <= i < N (for example 0/4), got ${JSON.stringify(text)}`, { option: "part", got: text });
  return checkPart({ index: Number(m[1]), count: Number(m[2]) });
}

/**
 * The items of part i of N: contiguous slices whose sizes differ by at most one, so that the N
 * parts together take every item exactly once, in order (join slices its shards; prep
 * balances its parts by input bytes instead: prepare/parts.ts).
 */
export function sliceOfPart<T>(items: readonly T[], part: Part | undefined): T[] {
  if (!part) return [...items];
  return items.slice(Math.floor((part.index * items.length) / part.count), Math.floor(((part.index + 1) * items.length) / part.count));
}

/**
 * A part's label in file, lock and join output names: `part-<i>of<N>` with i zero-padded to the
 * width of N (`part-03of12`), so the parts' files sort in part order, as prep's shard names do.
 */
export function partLabel(part: Part): string {
  return `part-${String(part.index).padStart(String(part.count).length, "0")}of${part.count}`;
}

/** The label btkit gave part i of N before labels were padded (`part-3of12`): join still recognizes its files. */
export function unpaddedPartLabel(part: Part): string {
  return `part-${part.index}of${part.count}`;
}

/**
 * Shard base names: `part-00000` for a whole preparation; `part-<i>of<N>-00000` for part i of N
 * (--part), so parts prepared on different machines never collide. Extensions follow: `.csv`,
 * `.jsonl`, plus `.gz` when gzipped.
 */
export function shardBaseName(index: number, part?: Part): string {
  const n = String(index).padStart(5, "0");
  return part ? `${partLabel(part)}-${n}` : `part-${n}`;
}

/** Folder under --out for the documents of --part runs (beside shards/, never under it). */
export const PARTS_DIR = "parts/";

/**
 * Where a part's own documents go under --out: `parts/part-<i>of<N>.btkit.json`, `.manifest.json`
 * and `.rejects.jsonl` (merge() writes the combined btkit.json and manifest.json); the whole
 * preparation's names without a part.
 */
export function partNames(part: Part | undefined): { descriptor: string; manifest: string; rejects: string } {
  if (!part) return { descriptor: LAYOUT.descriptor, manifest: LAYOUT.manifest, rejects: LAYOUT.rejects };
  const base = shardBaseName(0, part).replace(/-0+$/, "");
  return { descriptor: `${PARTS_DIR}${base}.btkit.json`, manifest: `${PARTS_DIR}${base}.manifest.json`, rejects: `${PARTS_DIR}${base}.rejects.jsonl` };
}

/**
 * The .out object SageMaker writes for an input object: the input's key relative to the input
 * prefix plus ".out", under the output path (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html:
 * `input1.csv` gives `input1.csv.out`; https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html,
 * S3OutputPath). For a gzip input the name keeps ".gz" (UNCONFIRMED: no AWS source describes the
 * output of a Gzip input, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html
 * CompressionType covers input only; the emulator has an option).
 */
export function outputNameFor(shardName: string): string {
  return `${shardName}.out`;
}

/**
 * The names join gives prediction columns unless told otherwise: a scalar prediction is
 * DEFAULT_PREDICTION_NAME; object keys and array indexes get DEFAULT_PREDICTION_PREFIX. submit
 * checks them (or the names it is given, recorded in the job section) against the kept columns.
 */
export const DEFAULT_PREDICTION_NAME = "prediction";
export const DEFAULT_PREDICTION_PREFIX = "pred_";

/**
 * Sidecars are Parquet files (ZSTD, with the Arrow schema stored; sidecar-file.ts), one per shard,
 * line-aligned with it: row k of the sidecar is line k of the shard. They hold the keep columns
 * (in schema order) and ROW_COLUMN, the global 0-based row number (Int64). Preparations made
 * before sidecars were compressed have Arrow IPC stream sidecars (".arrow"); join reads both.
 */
export const SIDECAR_ROW_COLUMN = "__btkit_row";
export const SIDECAR_EXTENSION = ".parquet";

/**
 * The text of a SageMaker ManifestFile (without a trailing newline): one JSON array, `{"prefix": P}`
 * first, then each entry, the object's key after P, appended to P verbatim by the service
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html, S3Uri).
 */
export function manifestDocument(prefix: string, entries: readonly string[]): string {
  return JSON.stringify([{ prefix }, ...entries]);
}
