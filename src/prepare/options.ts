/**
 * prepare()'s options: what callers give (PrepareOptions), the checked and defaulted form a
 * preparation runs on (ResolvedPrepareOptions), the record of the options that shape the output
 * (kept in the descriptor) and the rerun fingerprint made from it.
 */
import { createHash } from "node:crypto";
import { BtkitError } from "../errors.js";
import type { Storage } from "../io/storage.js";
import { PROTOCOL_VERSION, type ColumnType } from "../protocol/descriptor.js";
import { checkPart, type Part } from "../protocol/layout.js";
import type { NewlinePolicy } from "./encode.js";
import { ENCODINGS, type Encoding } from "./encoding.js";
import type { ReadableFormat, ResolvedInput } from "./inputs.js";
import { isRowSource } from "./rows.js";
import { parseSchemaOverride } from "./schema.js";

function checkedEncoding(e: string | undefined): Encoding {
  if (e === undefined) return "utf-8";
  if (!(ENCODINGS as readonly string[]).includes(e)) throw new BtkitError("USAGE_BAD_VALUE", `encoding ${JSON.stringify(e)}: expected one of ${ENCODINGS.join(", ")}`, { option: "encoding", got: e, expected: ENCODINGS });
  return e as Encoding;
}

export interface PrepareProgress {
  rowsRead: number;
  rowsWritten: number;
  rowsSkipped: number;
  /** decompressed input bytes consumed */
  bytesRead: number;
  /** input bytes in all, when known (balanced sharding) */
  bytesTotal?: number;
  shards: number;
  input: string;
  done: boolean;
}

export interface PrepareOptions {
  /** input locations (files, folders, s3:// objects or prefixes) or "-" for stdin; required unless `rows` is given */
  inputs?: string[];
  /**
   * rows of your own code (an array, a generator, a database cursor: any iterable or async
   * iterable of plain objects), instead of `inputs`: each object is read exactly as the same row
   * in a JSON Lines file (one `{"column": value, ...}` per line, the columns in the order keys
   * first appear in the sampled rows), with the same type inference, `schema`, checks and counts;
   * row N is line N of the input named "rows" in messages and in rejects.jsonl. Values:
   * - string; finite number (as JSON.stringify writes it: 1.5, 1e+21); bigint (its exact digits:
   *   int64, or uint64 above 2^63-1); boolean; null or undefined (null);
   * - Date: its instant in ISO 8601 (toISOString, "2024-01-02T03:04:05.000Z"): a `timestamp` column;
   * - arrays and plain objects: a `json` column (nested values by these same rules), or declare
   *   a nested type with `schema` ("list<int64>", "struct<...>").
   * Anything else is PREP_JSON naming the row and the column (and the path in a nested value):
   * a row that is not a plain object, a function, a symbol, NaN or an infinity, an invalid Date,
   * a class instance (Map, Set, Buffer, typed arrays, your own classes: convert them), a cycle.
   * It stops the run whatever `onInvalid` says (unlike a JSON Lines line that is no JSON object,
   * which `onInvalid: "skip"` skips); rows whose values do not fit their column's type follow
   * `onInvalid` as usual.
   * The descriptor records the input as location "rows", format "jsonl", and (like stdin) a
   * rerun into the same `out` cannot be shown to be the same preparation: PREP_OUT_EXISTS unless
   * `overwrite`. The rows are iterated once; a run that fails or is aborted ends the iteration
   * (the iterator's return() runs, so a cursor is closed). Given with `inputs`, `stdin`, an
   * `inputFormat` other than "jsonl" or an `encoding` other than "utf-8": OPT_INVALID. Default: none.
   */
  rows?: AsyncIterable<object> | Iterable<object>;
  /** output folder or prefix; required */
  out: string;
  /** Storage for reads and writes; default: a new Storage() from the environment */
  storage?: Storage;
  /** the stream read for input "-"; default: none (an error if "-" is given) */
  stdin?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /**
   * input format; default: from the file name (.csv, .tsv/.tab, .jsonl/.ndjson, .parquet/.pq,
   * .arrow/.arrows/.feather/.ipc), else from the first bytes (Parquet "PAR1", Arrow "ARROW1" or
   * 0xFFFFFFFF, a JSON array "[", JSON Lines "{"), else csv
   */
  inputFormat?: ReadableFormat;
  /** CSV delimiter; default: "\t" for tsv, else detected from the header among , \t ; | */
  delimiter?: string;
  /** CSV quote character; default `"` */
  quote?: string;
  /** names replacing the CSV header's (same count), to fix empty or duplicate names; or, with header false, naming the columns; default: none */
  columns?: string[];
  /**
   * whether a CSV's first row is a header: true, false (every row is data; columns named by
   * `columns`, else column_1..column_N), or "auto" (default): a header, but a first row whose every
   * field is a number is refused (PREP_HEADER) as data, so a header-less CSV never loses its first row
   */
  header?: boolean | "auto";
  /** model input format; default "csv" */
  format?: "csv" | "jsonl";
  /** gzip level 1-9 for shards, or undefined for plain; default undefined */
  gzipLevel?: number;
  /** model input columns in order; default: every column not dropped, in input order */
  features?: string[];
  /**
   * columns kept in the sidecar; default: those not dropped that the model does not see (join
   * reads the features back from the shards), plus text features a CSV newline policy rewrites
   */
  keep?: string[];
  /** columns removed entirely; default none */
  drop?: string[];
  /** column type overrides, "a:int64,b:utf8" or {"a":"int64"}; default none */
  schema?: string | Record<string, ColumnType>;
  /** read every CSV column as utf8 (JSON: numbers, booleans and nested values as their source text); default false */
  text?: boolean;
  /** the encoding of text inputs (CSV, JSON), converted to UTF-8 as read (encoding.ts); default utf-8 */
  encoding?: Encoding;
  /** rows sampled for type inference; default 1000 */
  sampleRows?: number;
  /** target uncompressed shard size in bytes; default 64 MiB */
  shardSize?: number;
  /**
   * at most this many rows per shard: alone, shards are cut every shardRows rows (instead of by
   * shardSize); with `instances`, balanced shards that hold at most shardRows rows each (the
   * count grows by multiples of `instances` as the rows need it: shard-roller.ts); default none
   */
  shardRows?: number;
  /**
   * instance count: shard count >= N and a multiple of N, balanced by input bytes (each instance
   * takes whole shards). Fewer rows than N make fewer shards (one row each), so some instances
   * idle (prepare notes it). Default none
   */
  instances?: number;
  /** largest encoded record in MB (10^6 bytes; SageMaker's MaxPayloadInMB); default 6 */
  maxPayloadMb?: number;
  /** what to do with a line break in a value headed for CSV output; default "reject" */
  newlines?: NewlinePolicy;
  /** invalid rows: "fail" stops, "skip" writes them to rejects.jsonl and counts them; default "fail" */
  onInvalid?: "fail" | "skip";
  /** blank lines inside the data: "error" or "skip" (counted); default "error". Trailing blank CSV lines are always ignored and counted */
  blankLines?: "error" | "skip";
  /**
   * prepare only part `index` (0-based) of `count`: the records that start in its byte range
   * [floor(index*T/count), floor((index+1)*T/count)) of the inputs' T bytes in all (parts.ts:
   * large CSV and JSON Lines files are split at record boundaries, other files taken whole); shards are named part-<i>of<N>-NNNNN and the part's descriptor, manifest and rejects
   * go under parts/ (see partNames), for merge() to combine. Default: the whole input.
   */
  part?: Part;
  /**
   * with `part`: split large CSV, TSV and JSON Lines files between parts at record boundaries
   * (parts.ts); false takes every file whole, by the part whose byte range holds its middle.
   * Default true; OPT_INVALID without `part`
   */
  splitFiles?: boolean;
  /** replace an --out holding a different preparation; default false */
  overwrite?: boolean;
  /** temporary folder for spilled inputs; default the OS temp folder */
  tmpDir?: string;
  /** called as work progresses (at most every 65,536 rows, and at the end) */
  onProgress?: (p: PrepareProgress) => void;
  /**
   * stops prep (checked every 65,536 rows and between inputs): it throws the signal's reason,
   * with temporaries removed and nothing under a final name; default none
   */
  signal?: AbortSignal;
}

/**
 * PrepareOptions with every default applied and every value checked: what a preparation runs on
 * (Storage apart, which is a resource, not an option).
 */
export interface ResolvedPrepareOptions {
  inputs: string[];
  out: string;
  inputFormat: ReadableFormat | undefined;
  delimiter: string | undefined;
  quote: string;
  columns: string[] | undefined;
  header: boolean | "auto";
  format: "csv" | "jsonl";
  gzipLevel: number | undefined;
  features: string[] | undefined;
  keep: string[] | undefined;
  drop: string[];
  schema: Map<string, ColumnType>;
  text: boolean;
  encoding: Encoding;
  sampleRows: number;
  shardSize: number;
  shardRows: number | undefined;
  instances: number | undefined;
  maxPayloadMb: number;
  newlines: NewlinePolicy;
  onInvalid: "fail" | "skip";
  blankLines: "error" | "skip";
  overwrite: boolean;
  part: Part | undefined;
  /** with part: split files at record boundaries (parts.ts) */
  splitFiles: boolean;
  /** the stream read for input "-", as given */
  stdin: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined;
  /** the rows given instead of inputs (inputs is then empty) */
  rows: AsyncIterable<unknown> | Iterable<unknown> | undefined;
  /** temporary folder for spilled inputs; undefined = the OS temp folder */
  tmpDir: string | undefined;
  onProgress: ((p: PrepareProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

function optError(option: string, message: string, got: unknown): never {
  throw new BtkitError("OPT_INVALID", `${option}: ${message}, got ${JSON.stringify(got)}`, { option, got });
}

function positiveInt(name: string, v: number | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min) optError(name, `expected an integer >= ${min}`, v);
  return v;
}

/** rows and what cannot go with them: OPT_INVALID naming the option. */
function checkRows(o: PrepareOptions): void {
  const rowsError = (option: string, message: string, got?: unknown): never => {
    throw new BtkitError("OPT_INVALID", `rows: ${message}`, { option, got });
  };
  if (!isRowSource(o.rows)) rowsError("rows", `expected an iterable or async iterable of row objects (an array, a generator, a cursor), got ${o.rows === null ? "null" : typeof o.rows}`, o.rows === null ? "null" : typeof o.rows);
  if (o.inputs !== undefined && o.inputs.length > 0) rowsError("inputs", `rows replace inputs: give one or the other, got inputs ${JSON.stringify(o.inputs)}`, o.inputs);
  if (o.stdin !== undefined) rowsError("stdin", "rows replace inputs and stdin: give one or the other");
  if (o.inputFormat !== undefined && o.inputFormat !== "jsonl") rowsError("inputFormat", `rows are read as JSON Lines; inputFormat ${JSON.stringify(o.inputFormat)} does not apply (leave it out)`, o.inputFormat);
  if (o.encoding !== undefined && o.encoding !== "utf-8") rowsError("encoding", `rows are objects, not text in an encoding; encoding ${JSON.stringify(o.encoding)} does not apply (leave it out)`, o.encoding);
  // one source cannot be sliced: part i of N of rows would be all of them in the last part and none in the others
  if (o.part !== undefined) rowsError("part", "rows are one source and cannot be split into parts: give each machine its own rows and out, or write the rows to files and prepare parts of those", `${o.part.index}/${o.part.count}`);
  for (const option of ["header", "delimiter", "quote", "columns"] as const) {
    if (o[option] !== undefined) rowsError(option, `rows are objects, read by their keys; ${option} applies to CSV inputs only (leave it out)`, o[option]);
  }
}

/** Applies the defaults and checks every option: OPT_INVALID, USAGE_BAD_VALUE or PREP_NO_INPUT naming the option. */
export function resolvePrepareOptions(o: PrepareOptions): ResolvedPrepareOptions {
  if (o.rows !== undefined) checkRows(o);
  else if (!Array.isArray(o.inputs) || o.inputs.length === 0) throw new BtkitError("PREP_NO_INPUT", "no input given (inputs, or rows)", {});
  if (typeof o.out !== "string" || o.out === "") optError("out", "expected an output location", o.out);
  const gzipLevel = positiveInt("gzipLevel", o.gzipLevel, 0);
  if (gzipLevel !== undefined && gzipLevel > 9) optError("gzipLevel", "expected a level 0-9", gzipLevel);
  const shardRows = positiveInt("shardRows", o.shardRows);
  const instances = positiveInt("instances", o.instances);
  const maxPayloadMb = o.maxPayloadMb ?? 6;
  if (!(maxPayloadMb > 0 && maxPayloadMb <= 100)) optError("maxPayloadMb", "expected a number in (0, 100] (SageMaker's MaxPayloadInMB maximum is 100)", maxPayloadMb);
  const schema = o.schema === undefined ? new Map<string, ColumnType>() : typeof o.schema === "string" ? parseSchemaOverride(o.schema) : parseSchemaOverride(JSON.stringify(o.schema));
  const format = o.format ?? "csv";
  if (format !== "csv" && format !== "jsonl") optError("format", "expected csv or jsonl", format);
  const enumOf = <T extends string>(name: string, v: T | undefined, allowed: readonly T[], dflt: T): T => {
    const r = v ?? dflt;
    if (!allowed.includes(r)) optError(name, `expected one of ${allowed.join(", ")}`, v);
    return r;
  };
  return {
    inputs: [...(o.inputs ?? [])],
    out: o.out,
    inputFormat: o.inputFormat,
    delimiter: o.delimiter ?? (o.inputFormat === "tsv" ? "\t" : undefined),
    quote: o.quote ?? '"',
    columns: o.columns,
    header: o.header ?? "auto",
    format,
    gzipLevel,
    features: o.features,
    keep: o.keep,
    drop: o.drop ?? [],
    schema,
    text: o.text ?? false,
    encoding: checkedEncoding(o.encoding),
    sampleRows: positiveInt("sampleRows", o.sampleRows) ?? 1000,
    shardSize: positiveInt("shardSize", o.shardSize) ?? 64 * 1024 * 1024,
    shardRows,
    instances,
    maxPayloadMb,
    newlines: enumOf("newlines", o.newlines, ["reject", "replace", "escape"] as const, "reject"),
    onInvalid: enumOf("onInvalid", o.onInvalid, ["fail", "skip"] as const, "fail"),
    blankLines: enumOf("blankLines", o.blankLines, ["error", "skip"] as const, "error"),
    overwrite: o.overwrite ?? false,
    part: o.part === undefined ? undefined : checkPart(o.part),
    splitFiles: o.part === undefined && o.splitFiles !== undefined ? optError("splitFiles", "applies to a part (part i of N) only", o.splitFiles) : o.splitFiles ?? true,
    stdin: o.stdin,
    rows: o.rows,
    tmpDir: o.tmpDir,
    onProgress: o.onProgress,
    signal: o.signal,
  };
}

/** The options that shape the output, for the descriptor and the rerun fingerprint. */
export function optionsRecord(r: ResolvedPrepareOptions): Record<string, unknown> {
  return {
    inputFormat: r.inputFormat ?? null,
    delimiter: r.delimiter ?? null,
    quote: r.quote,
    columns: r.columns ?? null,
    header: r.header,
    format: r.format,
    gzipLevel: r.gzipLevel ?? null,
    features: r.features ?? null,
    keep: r.keep ?? null,
    drop: r.drop,
    schema: Object.fromEntries(r.schema),
    text: r.text,
    ...(r.encoding !== "utf-8" ? { encoding: r.encoding } : {}),
    sampleRows: r.sampleRows,
    shardSize: r.shardSize,
    shardRows: r.shardRows ?? null,
    instances: r.instances ?? null,
    maxPayloadMb: r.maxPayloadMb,
    newlines: r.newlines,
    onInvalid: r.onInvalid,
    blankLines: r.blankLines,
    part: r.part ? `${r.part.index}/${r.part.count}` : null,
    ...(r.part && !r.splitFiles ? { splitFiles: false } : {}),
  };
}


/**
 * The rerun fingerprint: sha256 (hex) of the protocol's major version, the inputs (location and
 * size as listed, and for a part's split input its byte range) and the option record. The same fingerprint over an unchanged output makes a
 * rerun a no-op (existing.ts).
 */
export function fingerprintOf(inputs: readonly ResolvedInput[], record: Record<string, unknown>): string {
  return createHash("sha256")
    .update(JSON.stringify({ protocol: PROTOCOL_VERSION.split(".")[0], inputs: inputs.map((i) => (i.slice ? [i.uri, i.rawBytes ?? null, i.slice.start, i.slice.stop] : [i.uri, i.rawBytes ?? null])), options: record }))
    .digest("hex");
}
