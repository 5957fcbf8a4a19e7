/**
 * The descriptor: the versioned document that flows through the pipe (one JSON line on stdout)
 * and is stored next to the data as `btkit.json`, written last. See ARCHITECTURE.md for the table.
 *
 * Version rule: `btkit` is "MAJOR.MINOR". Readers accept any minor of a major they know (unknown
 * fields are kept), and reject an unknown major with PROTO_VERSION.
 */
import { BtkitError } from "../errors.js";
import { isUnder, parseLocation } from "../io/location.js";
import {
  arrayOf,
  bool,
  int,
  isoTime,
  matching,
  nonEmptyStr,
  object,
  oneOf,
  optional,
  recordOf,
  sha256,
  str,
  unknownValue,
  type Checker,
} from "./check.js";

import { isNestedName, parseNestedType, type NestedType } from "./nested.js";

export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_VERSION = "1.0";

/**
 * Column types. `uint64` is an unsigned 64-bit integer (Arrow UInt64, Parquet INT(64, false)).
 * Temporal ones keep what the input says: `date` (a calendar day, Arrow Date32), `timestamp_ntz`
 * (a wall-clock date-time without zone, Arrow Timestamp(MICROSECOND) without a time zone, Parquet
 * TIMESTAMP(isAdjustedToUTC=false)), `timestamp` (an instant, Arrow Timestamp(MICROSECOND, UTC))
 * and `time` (a time of day, Arrow Time64(MICROSECOND), Parquet TIME(isAdjustedToUTC=false)). A
 * zone is never invented nor dropped. The three take another unit as `timestamp(ns)`,
 * `timestamp_ntz(ms)`, `time(s)` (s, ms, us, ns; us is the plain name; see TemporalType).
 */
export const COLUMN_TYPES = ["int64", "uint64", "float64", "bool", "utf8", "date", "timestamp_ntz", "timestamp", "time", "json", "null"] as const;
/** A time unit other than the microsecond (the plain names' unit). */
export type OtherTimeUnit = "s" | "ms" | "ns";
/** timestamp, timestamp_ntz or time in a unit other than the microsecond: `timestamp(ns)` */
export type TemporalType = `${"timestamp" | "timestamp_ntz" | "time"}(${OtherTimeUnit})`;
const TEMPORAL_RE = /^(timestamp|timestamp_ntz|time)\((s|ms|ns)\)$/;
/**
 * An exact decimal of `precision` digits, `scale` of them after the point (Arrow Decimal128,
 * Parquet DECIMAL): 1 <= precision <= 38, 0 <= scale <= precision. Written `decimal(P,S)`.
 */
export type DecimalType = `decimal(${number},${number})`;
export type ColumnType = (typeof COLUMN_TYPES)[number] | DecimalType | TemporalType | NestedType;
/** The names of the column types, for messages and help: the fixed ones, decimal(P,S) and the units. */
export const COLUMN_TYPE_NAMES = [...COLUMN_TYPES, "decimal(P,S)", "timestamp(UNIT)", "timestamp_ntz(UNIT)", "time(UNIT) with UNIT s, ms, us or ns", 'list<T>, struct<"name":T,...>, map<K,V>'].join(", ");

const DECIMAL_RE = /^decimal\((\d{1,2}),(\d{1,2})\)$/;
export const DECIMAL_MAX_PRECISION = 38;

/** Precision and scale of a decimal type, or undefined for any other type (or a malformed one). */
export function decimalOf(type: string): { precision: number; scale: number } | undefined {
  const m = DECIMAL_RE.exec(type);
  if (!m) return undefined;
  const precision = Number(m[1]);
  const scale = Number(m[2]);
  if (precision < 1 || precision > DECIMAL_MAX_PRECISION || scale > precision) return undefined;
  return { precision, scale };
}

export function decimalType(precision: number, scale: number): DecimalType {
  return `decimal(${precision},${scale})`;
}

/** Whether a text names a column type (one of COLUMN_TYPES, decimal(P,S) within its bounds, a temporal type in another unit, or a nested type: nested.ts). */
export function isColumnType(type: string): type is ColumnType {
  return isNestedLeaf(type) || type === "json" || (isNestedName(type) && parseNestedType(type, isNestedLeaf) !== undefined);
}

/** Whether a column's values are JSON text in the model input: json, and the nested types (list, struct, map). */
export function isJsonType(type: string): boolean {
  return type === "json" || isNestedName(type);
}

/** A type name as typed (`timestamp(us)`, spaces) in its canonical form: the microsecond is the plain name's unit. */
export function canonicalType(type: string): string {
  return type.replace(/\b(timestamp_ntz|timestamp|time)\(us\)/g, "$1");
}

/** Whether a column type can be a leaf of a nested type: any but json and the nested ones. */
export function isNestedLeaf(type: string): boolean {
  return (type !== "json" && (COLUMN_TYPES as readonly string[]).includes(type)) || decimalOf(type) !== undefined || TEMPORAL_RE.test(type);
}
export const COLUMN_ROLES = ["feature", "keep"] as const;
export type ColumnRole = (typeof COLUMN_ROLES)[number];
export const CONTENT_TYPES = ["text/csv", "application/jsonlines"] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];
export const COMPRESSIONS = ["None", "Gzip"] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export const INPUT_FORMATS = ["csv", "tsv", "jsonl", "json", "parquet", "arrow"] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export interface ToolInfo {
  name: string;
  version: string;
}

export interface SourceInput {
  location: string;
  format: InputFormat;
  /** "gzip" when the bytes were gzip (detected by magic bytes) */
  compression: "none" | "gzip";
  rows: number;
  /** the input's size in bytes as stored when prep began (gzip-compressed if it was gzip); absent for stdin */
  bytes?: number;
  /**
   * a part (`source.part`) that split this file with other parts: the file's bytes [start, end)
   * of the records it took, from where its first record begins to just after its last one's line
   * break (start == end: none). The parts' ranges of one file tile it: merge checks them
   */
  range?: { start: number; end: number };
}

export interface SkipCount {
  reason: string;
  count: number;
}

export interface SourceSection {
  inputs: SourceInput[];
  /** the options that shaped the output (delimiter, policies, shard sizing, ...) */
  options: Record<string, unknown>;
  rowsRead: number;
  rowsWritten: number;
  rowsSkipped: number;
  /** every reason rows were skipped, with counts: never silent */
  skipped: SkipCount[];
  /** where skipped rows were written, when any were */
  rejectLocation?: string;
  /** other counted normalizations (BOM stripped, newlines replaced, ...) */
  notes?: SkipCount[];
  /** set when this descriptor is one part of a split preparation */
  part?: { index: number; count: number };
  /** bytes prep stored, by kind (what the model reads, what join reads beside it, the manifest) */
  bytesWritten?: BytesWritten;
}

/** Sizes in bytes as stored: the sums of ShardEntry.bytes and ShardEntry.sidecarBytes, and the manifest's. */
export interface BytesWritten {
  /** bytes of all shards as stored (gzip-compressed when modelInput.compression is Gzip) */
  shards: number;
  /** bytes of all sidecars as stored (Parquet files) */
  sidecars: number;
  /** bytes of the manifest file */
  manifest: number;
}

/** What a preparation stored, by kind, from its shard entries and its manifest's size in bytes. */
export function bytesWrittenOf(shards: readonly ShardEntry[], manifest: number): BytesWritten {
  return { shards: shards.reduce((a, s) => a + s.bytes, 0), sidecars: shards.reduce((a, s) => a + (s.sidecarBytes ?? 0), 0), manifest };
}

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** "feature": sent to the model (order in modelInput.features); "keep": stored in the sidecar */
  roles: ColumnRole[];
}

export interface ModelInputSection {
  contentType: ContentType;
  splitType: "Line";
  compression: Compression;
  /** feature columns in the order the model sees them */
  features: string[];
  /**
   * the largest record of all shards: its uncompressed UTF-8 size in bytes, without its newline
   * (what SageMaker's MaxPayloadInMB must hold; 0 when there are no rows)
   */
  maxRecordBytes: number;
}

export interface ShardEntry {
  name: string;
  location: string;
  rows: number;
  /** the shard's size in bytes as stored: gzip-compressed when modelInput.compression is Gzip (the bytes sha256 covers) */
  bytes: number;
  /** sha256 (hex) of the shard's bytes as stored */
  sha256: string;
  /** S3: the shard object's ETag as prep wrote it; verify trusts the stored sha256 only while it holds */
  etag?: string;
  /** the shard's largest record: its uncompressed UTF-8 size in bytes, without its newline (0 for an empty shard) */
  maxRecordBytes: number;
  sidecar: string;
  /** sha256 of the sidecar's bytes, checked by join and by a prep rerun (absent in older descriptors) */
  sidecarSha256?: string;
  /** S3: the sidecar object's ETag as prep (or merge) wrote it */
  sidecarEtag?: string;
  /** the sidecar's size in bytes as stored (a Parquet file; absent in older descriptors) */
  sidecarBytes?: number;
  /** global row number (0-based) of the shard's first line */
  firstRow: number;
}

export interface ManifestSection {
  /** the SageMaker ManifestFile */
  location: string;
  /** the prefix every shard location starts with (the manifest's {"prefix": ...}) */
  prefix: string;
}

export const JOB_STATUSES = ["InProgress", "Completed", "Failed", "Stopping", "Stopped"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobRecord {
  backend: "sagemaker" | "emulator";
  name: string;
  arn: string;
  /** the exact CreateTransformJob request sent */
  request: Record<string, unknown>;
  outputLocation: string;
  accept: string;
  assembleWith: "None" | "Line";
  status: JobStatus;
  failureReason?: string;
  /** endpoint of the service, when not the default AWS one (emulator runs) */
  endpoint?: string;
  region?: string;
  createdAt?: string;
  startedAt?: string;
  endedAt?: string;
  instanceSeconds?: number;
  /** the shards this job was given (all of them unless it retried some) */
  shards?: string[];
  /** the column join gives a scalar prediction (submit --prediction-name); default "prediction" */
  predictionName?: string;
  /** the prefix join gives object-key and index predictions (submit --prediction-prefix); default "pred_" */
  predictionPrefix?: string;
  /** a job run on an in-process emulator (submit --local): its state folder, where status and stop find it */
  stateDir?: string;
}

export interface JobSection extends JobRecord {
  /** earlier jobs for the same data (a --retry-failed run keeps the first here) */
  history?: JobRecord[];
}

/** A column of the joined table. */
export interface ResultColumn {
  name: string;
  type: ColumnType;
}

export interface ResultsSection {
  location: string;
  format: string;
  partitioned: boolean;
  rows: number;
  rowsPerShard: Record<string, number>;
  missing: string[];
  files: string[];
  part?: { index: number; count: number };
  /** the joined table's columns, in order, with their types (join writes it; absent in descriptors from elsewhere) */
  columns?: ResultColumn[];
  /** every normalization join counted (CR stripped, values widened, lines skipped, ...): never silent */
  notes?: SkipCount[];
}

export interface Descriptor {
  btkit: string;
  createdAt: string;
  tool: ToolInfo;
  source: SourceSection;
  schema: { columns: ColumnSpec[] };
  modelInput: ModelInputSection;
  shards: ShardEntry[];
  manifest: ManifestSection;
  job?: JobSection;
  results?: ResultsSection;
}

const part = object({ index: int, count: int });
const skipCount: Checker<SkipCount> = object({ reason: str, count: int });

const checkSource: Checker<SourceSection> = object({
  inputs: arrayOf(
    object({
      location: nonEmptyStr,
      format: oneOf(INPUT_FORMATS),
      compression: oneOf(["none", "gzip"] as const),
      rows: int,
      bytes: optional(int),
      range: optional(object({ start: int, end: int })),
    }),
  ),
  options: recordOf(unknownValue),
  rowsRead: int,
  rowsWritten: int,
  rowsSkipped: int,
  skipped: arrayOf(skipCount),
  rejectLocation: optional(nonEmptyStr),
  notes: optional(arrayOf(skipCount)),
  bytesWritten: optional(object({ shards: int, sidecars: int, manifest: int })),
  part: optional(part),
});

const columnType: Checker<ColumnType> = (v, p) => matching(isColumnType, `one of ${COLUMN_TYPE_NAMES}`)(v, p);

const checkColumn: Checker<ColumnSpec> = object({
  name: nonEmptyStr,
  type: columnType,
  roles: arrayOf(oneOf(COLUMN_ROLES)),
});

const checkShard: Checker<ShardEntry> = object({
  name: nonEmptyStr,
  location: nonEmptyStr,
  rows: int,
  bytes: int,
  sha256,
  etag: optional(nonEmptyStr),
  maxRecordBytes: int,
  sidecar: nonEmptyStr,
  sidecarSha256: optional(sha256),
  sidecarEtag: optional(nonEmptyStr),
  sidecarBytes: optional(int),
  firstRow: int,
});

const jobFields = {
  backend: oneOf(["sagemaker", "emulator"] as const),
  name: nonEmptyStr,
  arn: nonEmptyStr,
  request: recordOf(unknownValue),
  outputLocation: nonEmptyStr,
  accept: nonEmptyStr,
  assembleWith: oneOf(["None", "Line"] as const),
  status: oneOf(JOB_STATUSES),
  failureReason: optional(str),
  endpoint: optional(str),
  region: optional(str),
  createdAt: optional(isoTime),
  startedAt: optional(isoTime),
  endedAt: optional(isoTime),
  instanceSeconds: optional(int),
  shards: optional(arrayOf(nonEmptyStr)),
  predictionName: optional(nonEmptyStr),
  predictionPrefix: optional(str),
  stateDir: optional(nonEmptyStr),
};
const checkJobRecord: Checker<JobRecord> = object(jobFields);
const checkJob: Checker<JobSection> = object({ ...jobFields, history: optional(arrayOf(checkJobRecord)) });

const checkResults: Checker<ResultsSection> = object({
  location: nonEmptyStr,
  format: nonEmptyStr,
  partitioned: bool,
  rows: int,
  rowsPerShard: recordOf(int),
  missing: arrayOf(str),
  files: arrayOf(str),
  part: optional(part),
  columns: optional(arrayOf(object({ name: str, type: columnType }))),
  notes: optional(arrayOf(skipCount)),
});

const checkDescriptorBody: Checker<Descriptor> = object({
  btkit: str,
  createdAt: isoTime,
  tool: object({ name: str, version: str }),
  source: checkSource,
  schema: object({ columns: arrayOf(checkColumn) }),
  modelInput: object({
    contentType: oneOf(CONTENT_TYPES),
    splitType: oneOf(["Line"] as const),
    compression: oneOf(COMPRESSIONS),
    features: arrayOf(nonEmptyStr),
    maxRecordBytes: int,
  }),
  shards: arrayOf(checkShard),
  manifest: object({ location: nonEmptyStr, prefix: nonEmptyStr }),
  job: optional(checkJob),
  results: optional(checkResults),
});

/**
 * Validates a parsed descriptor: version first (an unknown major is PROTO_VERSION), then every
 * field, then the cross-field rules (feature columns exist, shard rows add up, first rows follow).
 */
export function validateDescriptor(value: unknown): Descriptor {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BtkitError("PROTO_INVALID", `invalid descriptor: expected a JSON object, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`, { field: "" });
  }
  const version = (value as { btkit?: unknown }).btkit;
  const m = typeof version === "string" ? /^(\d+)\.(\d+)$/.exec(version) : null;
  if (!m) {
    throw new BtkitError("PROTO_INVALID", `invalid descriptor field btkit: expected a protocol version such as "${PROTOCOL_VERSION}", got ${JSON.stringify(version) ?? "nothing"}`, { field: "btkit" });
  }
  if (Number(m[1]) !== PROTOCOL_MAJOR) {
    throw new BtkitError("PROTO_VERSION", `unsupported descriptor protocol ${version}: this btkit reads major version ${PROTOCOL_MAJOR} (${PROTOCOL_VERSION}); upgrade btkit or re-run the earlier stage with this version`, { field: "btkit", expected: PROTOCOL_VERSION, got: version });
  }
  const d = checkDescriptorBody(value, "");
  crossCheck(d);
  return d;
}

function crossCheck(d: Descriptor): void {
  const names = new Set<string>();
  for (const [i, c] of d.schema.columns.entries()) {
    if (names.has(c.name)) invalid(`schema.columns[${i}].name`, `unique column names`, c.name);
    names.add(c.name);
  }
  for (const [i, f] of d.modelInput.features.entries()) {
    const col = d.schema.columns.find((c) => c.name === f);
    if (!col || !col.roles.includes("feature")) invalid(`modelInput.features[${i}]`, "a schema column with role feature", f);
  }
  // the preparation's folder holds shards/ (the manifest prefix), sidecars/ and the manifest (parts/ for a --part)
  const root = parentOf(d.manifest.prefix.replace(/\/+$/, ""));
  if (!staysUnder(d.manifest.location, root)) invalid("manifest.location", `a location under the preparation ${root}`, d.manifest.location);
  let next = 0;
  let rows = 0;
  const shardNames = new Set<string>();
  for (const [i, s] of d.shards.entries()) {
    if (shardNames.has(s.name)) invalid(`shards[${i}].name`, "unique shard names", s.name);
    shardNames.add(s.name);
    if (d.source.part === undefined && s.firstRow !== next) invalid(`shards[${i}].firstRow`, `${next} (the rows of the shards before it)`, s.firstRow);
    next = s.firstRow + s.rows;
    rows += s.rows;
    // Locations stay inside the preparation, after percent-decoding and normalization: a
    // descriptor is data, and a hand-edited one must not make join read (or submit send) files
    // elsewhere.
    if (!PLAIN_NAME_RE.test(s.name) || s.name === "." || s.name === "..") invalid(`shards[${i}].name`, "a plain file name (no / or \\)", s.name);
    if (s.location !== d.manifest.prefix + s.name || !staysUnder(s.location, d.manifest.prefix)) invalid(`shards[${i}].location`, `the manifest prefix followed by the shard name (${d.manifest.prefix}${s.name})`, s.location);
    if (!staysUnder(s.sidecar, root)) invalid(`shards[${i}].sidecar`, `a location under the preparation ${root}`, s.sidecar);
  }
  if (rows !== d.source.rowsWritten) invalid("source.rowsWritten", `${rows} (the sum of shard rows)`, d.source.rowsWritten);
  for (const [i, input] of d.source.inputs.entries()) {
    const r = input.range;
    if (r === undefined) continue;
    if (d.source.part === undefined) invalid(`source.inputs[${i}].range`, "no range (only a part's inputs have one)", r);
    if (r.end < r.start) invalid(`source.inputs[${i}].range.end`, `an offset at or after range.start ${r.start}`, r.end);
    if (input.bytes === undefined || r.end > input.bytes) invalid(`source.inputs[${i}].range.end`, `an offset within the input's bytes (${input.bytes ?? "none recorded"})`, r.end);
  }
}

const PLAIN_NAME_RE = /^[^/\\\0]+$/;

/** The folder (with trailing slash) of a location URI. */
function parentOf(uri: string): string {
  return uri.slice(0, uri.lastIndexOf("/") + 1);
}

/**
 * True when `uri` lies under the folder or prefix `base` once both are parsed: file:// URIs are
 * percent-decoded and normalized (so `%2e%2e/` and `../` cannot climb out), S3 keys are literal
 * but may hold no `..` segment. Unparseable locations do not stay anywhere.
 */
export function staysUnder(uri: string, base: string): boolean {
  try {
    const loc = parseLocation(uri);
    const b = parseLocation(base);
    if (loc.kind === "s3" && b.kind === "s3") return loc.bucket === b.bucket && loc.key.startsWith(b.key.endsWith("/") || b.key === "" ? b.key : `${b.key}/`) && !/(^|\/)\.{1,2}(\/|$)/.test(loc.key);
    return isUnder(loc, b);
  } catch (err) {
    if (err instanceof BtkitError) return false;
    throw err;
  }
}

function invalid(field: string, expected: string, got: unknown): never {
  throw new BtkitError("PROTO_INVALID", `invalid descriptor field ${field}: expected ${expected}, got ${JSON.stringify(got)}`, { field, expected, got });
}

/** Parses and validates descriptor text (one JSON document, surrounding whitespace allowed). */
export function parseDescriptor(text: string, where = "descriptor"): Descriptor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BtkitError("PROTO_INVALID", `${where} is not valid JSON: ${(err as Error).message}`, { location: where }, { cause: err });
  }
  try {
    return validateDescriptor(value);
  } catch (err) {
    if (err instanceof BtkitError && where !== "descriptor") {
      throw new BtkitError(err.code, `${where}: ${err.message}`, { ...err.context, location: where }, { cause: err });
    }
    throw err;
  }
}

/** Serializes a descriptor as one JSON line (validated first: we never write what we would not read). */
export function serializeDescriptor(d: Descriptor): string {
  validateDescriptor(JSON.parse(JSON.stringify(d)));
  return JSON.stringify(d);
}

