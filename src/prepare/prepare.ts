/**
 * prepare(): raw tables -> model-input shards, sidecars, the SageMaker ManifestFile and the
 * descriptor (btkit.json, written last, so its presence means the output is complete).
 *
 * Sharding: with --instances N the shard count is at least N and a multiple of N
 * (sagemaker-semantics.md §1.2: a single object is never split across instances, so fewer objects
 * than instances leaves instances idle), and shards are balanced by input bytes: the total input
 * size is known up front (file sizes; stdin and gzip inputs are first spilled, decompressed, to a
 * local temporary file), and shard k ends at the first record ending at or after k+1/count of the
 * total. Without --instances, a shard closes when it reaches --shard-size bytes (uncompressed) or
 * --shard-rows rows, as the data streams.
 */
import { createHash } from "node:crypto";
import { BtkitError, EXIT, type ErrorCode } from "../errors.js";
import { lockFor, withClaim } from "../io/lock.js";
import { childLocation, toUri, type Location } from "../io/location.js";
import { Storage } from "../io/storage.js";
import { PROTOCOL_VERSION, bytesWrittenOf, decimalOf, parseDescriptor, serializeDescriptor, type ColumnSpec, type ColumnType, type Descriptor, type ShardEntry, type SkipCount } from "../protocol/descriptor.js";
import { LAYOUT, SIDECAR_ROW_COLUMN, SIDECAR_EXTENSION, checkPart, partLabel, shardBaseName, sliceOfPart, type Part } from "../protocol/layout.js";
import { VERSION } from "../version.js";
import { CsvScanner, type CsvRecord, type RawRecords } from "./csv-scanner.js";
import { makeCsvEncoder, makeJsonlEncoder, type NewlinePolicy } from "./encode.js";
import { LineBuffer, encodeCsvRaw, fieldFits, makeJsonlRawEncoder } from "./encode-bytes.js";
import { changedWhileRead, detectFormat, isRecordFormat, openInput, resolveInputs, spillInput, type OpenedInput, type ReadableFormat, type ResolvedInput } from "./inputs.js";
import type { TypedColumn } from "./arrow-values.js";
import { openRecordInput } from "./typed-input.js";
import { ENCODINGS, toUtf8, type Encoding } from "./encoding.js";
import { JsonlScanner, KIND, type JsonRecord, type Kind } from "./jsonl-scanner.js";
import { fits, inferTypes, mergeTypes, parseSchemaOverride, widerDecimal } from "./schema.js";
import { temporalOf, temporalTypeOf } from "../protocol/time.js";
import { Channel, ShardWriter } from "./shard-writer.js";

function checkedEncoding(e: string | undefined): Encoding {
  if (e === undefined) return "utf-8";
  if (!(ENCODINGS as readonly string[]).includes(e)) throw new BtkitError("USAGE_BAD_VALUE", `encoding ${JSON.stringify(e)}: expected one of ${ENCODINGS.join(", ")}`, { option: "encoding", got: e, expected: ENCODINGS });
  return e as Encoding;
}

/** The note counting kept float64 values a double cannot hold exactly (sidecar.ts roundsInDouble). */
const ROUNDED_NOTE = "float64 values with more significant digits than a double keeps: rounded to the nearest double in the sidecar and the joined table (the model input keeps them as written; --schema NAME:utf8 keeps them exactly)";

/** The note counting JSON values read as text. */
const TEXT_NOTE = "JSON numbers, booleans and nested values read as their source text in utf8 columns (--text or --schema NAME:utf8)";

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
  /** input locations (files, folders, s3:// objects or prefixes) or "-" for stdin; required */
  inputs: string[];
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
  /** rows per shard (instead of shardSize); default none */
  shardRows?: number;
  /** instance count: shard count >= N and a multiple of N, balanced; default none */
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
   * prepare only part `index` (0-based) of `count`: a contiguous slice of the input files (in
   * order); shards are named part-<i>of<N>-NNNNN and the part's descriptor, manifest and rejects
   * go under parts/ (see partNames), for merge() to combine. Default: the whole input.
   */
  part?: Part;
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
}

function resolvePart(part: Part | undefined): Part | undefined {
  return part === undefined ? undefined : checkPart(part);
}

/** Where a part's own documents go under --out (merge() writes the combined btkit.json and manifest.json). */
export function partNames(part: Part | undefined): { descriptor: string; manifest: string; rejects: string } {
  if (!part) return { descriptor: LAYOUT.descriptor, manifest: LAYOUT.manifest, rejects: LAYOUT.rejects };
  const base = shardBaseName(0, part).replace(/-0+$/, "");
  return { descriptor: `${PARTS_DIR}${base}.btkit.json`, manifest: `${PARTS_DIR}${base}.manifest.json`, rejects: `${PARTS_DIR}${base}.rejects.jsonl` };
}

/** Folder under --out for the documents of --part runs (beside shards/, never under it). */
export const PARTS_DIR = "parts/";

function optError(option: string, message: string, got: unknown): never {
  throw new BtkitError("OPT_INVALID", `${option}: ${message}, got ${JSON.stringify(got)}`, { option, got });
}

function positiveInt(name: string, v: number | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min) optError(name, `expected an integer >= ${min}`, v);
  return v;
}

export function resolvePrepareOptions(o: PrepareOptions): ResolvedPrepareOptions {
  if (!Array.isArray(o.inputs) || o.inputs.length === 0) throw new BtkitError("PREP_NO_INPUT", "no input given", {});
  if (typeof o.out !== "string" || o.out === "") optError("out", "expected an output location", o.out);
  const gzipLevel = positiveInt("gzipLevel", o.gzipLevel, 0);
  if (gzipLevel !== undefined && gzipLevel > 9) optError("gzipLevel", "expected a level 0-9", gzipLevel);
  const shardRows = positiveInt("shardRows", o.shardRows);
  const instances = positiveInt("instances", o.instances);
  if (shardRows !== undefined && instances !== undefined) {
    optError("shardRows", "cannot be combined with instances (balanced shards are sized by bytes; use shardSize)", shardRows);
  }
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
    inputs: [...o.inputs],
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
    part: resolvePart(o.part),
  };
}

/** Row-level failures that --on-invalid skip may skip (scanner-level ones break the stream). */
const SKIPPABLE: ReadonlySet<ErrorCode> = new Set(["PREP_RAGGED_ROW", "PREP_TYPE", "PREP_NEWLINE", "PREP_RECORD_TOO_LARGE", "PREP_JSON", "PREP_SCHEMA"]);

interface PendingRow {
  input: ResolvedInput;
  line: number;
  /** global input byte offset just after the record */
  pos: number;
  csv?: CsvRecord;
  json?: JsonRecord;
}

/** The options that shape the output, for the descriptor and the rerun fingerprint. */
function optionsRecord(r: ResolvedPrepareOptions): Record<string, unknown> {
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
  };
}

/** Prepares the inputs; returns the descriptor (also written to OUT/btkit.json, last). */
export async function prepare(options: PrepareOptions): Promise<Descriptor> {
  const opts = resolvePrepareOptions(options);
  const storage = options.storage ?? new Storage();
  const outLoc = storage.parse(opts.out);
  const all = await resolveInputs(storage, opts.inputs, opts.inputFormat);
  const inputs = sliceOfPart(all, opts.part);
  const optionRecord = optionsRecord(opts);
  const fingerprint = createHash("sha256")
    .update(JSON.stringify({ protocol: PROTOCOL_VERSION.split(".")[0], inputs: inputs.map((i) => [i.uri, i.rawBytes ?? null]), options: optionRecord }))
    .digest("hex");
  const descriptorLoc = childLocation(outLoc, partNames(opts.part).descriptor);
  // one writer per --out (per part of it): a second prep into the same place is refused, not mixed in
  const lock = lockFor(outLoc, "folder", opts.part ? partLabel(opts.part) : undefined);
  return withClaim(storage, lock, "btkit prep", `--out ${toUri(outLoc)} is being written by another prep`, async () => {
    // what killed runs left under --out goes first (no other prep writes there while we hold it)
    await storage.removeStaleTemporaries(outLoc);
    const existing = await checkExisting(storage, descriptorLoc, fingerprint, inputs, opts.overwrite);
    if (existing) return existing;
    const job = new PrepareJob(storage, opts, outLoc, inputs, options);
    try {
      return await job.run(fingerprint);
    } finally {
      await job.cleanup();
    }
  });
}

async function checkExisting(storage: Storage, loc: Location, fingerprint: string, inputs: ResolvedInput[], overwrite: boolean): Promise<Descriptor | undefined> {
  if (!(await storage.exists(loc))) return undefined;
  const text = await storage.readText(loc);
  let prev: Descriptor | undefined;
  try {
    prev = parseDescriptor(text, toUri(loc));
  } catch {
    prev = undefined;
  }
  const same = prev !== undefined && prev.source.options.fingerprint === fingerprint && !inputs.some((i) => i.stdin);
  let changed: string | undefined;
  if (same && prev && !overwrite) {
    // the same preparation: a no-op, provided its shards and sidecars still hold what it records
    changed = await firstChanged(storage, prev);
    if (changed === undefined) return prev;
  }
  if (!overwrite) {
    const why = inputs.some((i) => i.stdin)
      ? "input from stdin cannot be shown to be the same"
      : prev === undefined
        ? "its btkit.json is not a valid descriptor"
        : changed !== undefined
          ? `${changed} changed after it was written`
          : "the inputs or options differ";
    throw new BtkitError("PREP_OUT_EXISTS", `${toUri(loc)} already holds a preparation and ${why}; use --overwrite to replace it, or another --out`, { location: toUri(loc) });
  }
  // The completion marker goes first, so a crash from here on never leaves a stale "complete" output.
  await storage.delete(loc);
  return undefined;
}

/** The first shard or sidecar of a preparation that no longer holds what it records (size, sha256), or undefined. */
async function firstChanged(storage: Storage, d: Descriptor): Promise<string | undefined> {
  const manifest = await storage.readText(d.manifest.location).catch(() => "");
  if (manifest.trim() !== JSON.stringify([{ prefix: d.manifest.prefix }, ...d.shards.map((s) => s.name)])) return `manifest ${d.manifest.location}`;
  for (const s of d.shards) {
    const shard = await storage.digest(s.location, { etag: s.etag });
    if (!shard || shard.bytes !== s.bytes || shard.sha256 !== s.sha256) return `shard ${s.location}`;
    if (s.sidecarSha256 !== undefined) {
      const sidecar = await storage.digest(s.sidecar, { etag: s.sidecarEtag });
      if (!sidecar || sidecar.sha256 !== s.sidecarSha256) return `sidecar ${s.sidecar}`;
    }
  }
  return undefined;
}

/** `--schema NAME:TYPE` as typed in a shell (quoted when the type or name has characters a shell would take). */
function schemaFlag(name: string, type: ColumnType): string {
  const arg = `${name}:${type}`;
  return /^[\w.:-]+$/.test(arg) ? `--schema ${arg}` : `--schema '${arg.replaceAll("'", "'\\''")}'`;
}

/**
 * The type a PREP_TYPE hint suggests: one that holds the earlier values and this one exactly. An
 * int64 column meeting a float becomes float64, meeting an integer beyond int64 utf8; a JSON value
 * that is not a string json (or, declared, utf8 takes it as text); anything else utf8.
 */
function widerType(t: ColumnType, v: string | null, kind: Kind | undefined): ColumnType {
  // a decimal meeting more digits: the decimal that holds both, else float64 when the value is a number
  if (decimalOf(t) && v !== null && (kind === undefined || kind === KIND.number)) return widerDecimal(t, v) ?? (fits("float64", v, kind) ? "float64" : "utf8");
  if (decimalOf(t)) return "utf8";
  // an integer beyond int64 (an ID, mostly) keeps its digits only as text: a double would round it
  if (t === "int64" && v !== null && /^-?[0-9]+$/.test(v)) return "utf8";
  if (t === "int64" && fits("float64", v, kind)) return "float64";
  // a temporal value of the column's kind in a finer unit (nanoseconds in a microsecond column), or a date-time in a date column
  const got = v !== null && temporalOf(t) && (kind === undefined || kind === KIND.string) ? temporalTypeOf(v) : undefined;
  if (got) {
    const both = mergeTypes(t, got, false);
    if (both !== "utf8" && fits(both, v, kind)) return both;
  }
  if (kind !== undefined && kind !== KIND.string) return "json";
  return "utf8";
}

/**
 * A first row whose every field is a number is data, not a header: taking it as one would drop a
 * row and name the columns after its values (a header-less numeric CSV is the very format
 * SageMaker's built-in algorithms take). PREP_HEADER names both ways out.
 */
function refuseDataAsHeader(input: ResolvedInput, r: CsvRecord): void {
  const values = r.values;
  if (values.length === 0 || !values.every((v) => v !== null && NUMBER_TEXT_RE.test(v.trim()))) return;
  const shown = values.slice(0, 5).join(",") + (values.length > 5 ? ",..." : "");
  throw new BtkitError(
    "PREP_HEADER",
    `${input.display}: line ${r.line} (${shown}) looks like data, not a header: every field is a number. Give --no-header if the file has no header row (name the columns with --columns), or --header if these numbers are the column names`,
    { input: input.display, line: r.line, option: "--no-header" },
  );
}
const NUMBER_TEXT_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

class PrepareJob {
  readonly storage: Storage;
  readonly o: ResolvedPrepareOptions;
  readonly out: Location;
  inputs: ResolvedInput[];
  readonly opts: PrepareOptions;
  readonly cleanups: (() => Promise<void>)[] = [];
  readonly gzipInputs = new Map<ResolvedInput, boolean>();
  readonly rowsPerInput = new Map<ResolvedInput, number>();
  // schema
  columns: string[] | undefined;
  types: ColumnType[] = [];
  featureIdx: number[] = [];
  keepIdx: number[] = [];
  checkIdx: number[] = [];
  featuresAll = false;
  keepAll = false;
  encode: ((values: (string | null)[], input: string, line: number, row: number) => string) | undefined;
  /** the byte path's encoder (CSV input): the line's length in lineBuffer, or -1 for the string path */
  encodeRaw: ((raw: RawRecords, r: number, fields: readonly number[] | undefined, out: LineBuffer) => number) | undefined;
  readonly lineBuffer = new LineBuffer();
  checkTypes: ColumnType[] = [];
  csvEncoderChanged: () => number = () => 0;
  json = false;
  colIndex = new Map<string, number>();
  // counts
  rowsRead = 0;
  rowsWritten = 0;
  skipped = new Map<string, number>();
  notes = new Map<string, number>();
  /** per column: JSON values that are not strings are read as their source text (--text, --schema NAME:utf8) */
  asText: boolean[] | undefined;
  bytesBefore = 0;
  bytesRead = 0;
  bytesTotal: number | undefined;
  maxRecord = 0;
  readonly maxRecordBytes: number;
  // sample
  sample: PendingRow[] = [];
  sampleNonBlank = 0;
  schemaReady = false;
  pendingBlanks: PendingRow[] = [];
  // shards
  shards: ShardEntry[] = [];
  writer: ShardWriter | undefined;
  writerRows = 0;
  writerBytes = 0;
  shardCount: number | undefined;
  lastPos = 0;
  rejects: { chan: Channel; done: Promise<unknown> } | undefined;
  lastProgress = 0;
  currentInput = "";

  constructor(storage: Storage, o: ResolvedPrepareOptions, out: Location, inputs: ResolvedInput[], opts: PrepareOptions) {
    this.storage = storage;
    this.o = o;
    this.out = out;
    this.inputs = inputs;
    this.opts = opts;
    this.maxRecordBytes = Math.floor(o.maxPayloadMb * 1_000_000);
  }

  async cleanup(): Promise<void> {
    for (const c of this.cleanups) await c().catch(() => undefined);
  }

  async run(fingerprint: string): Promise<Descriptor> {
    try {
      if (this.o.instances !== undefined) await this.planBalanced();
      for (const input of this.inputs) {
        this.opts.signal?.throwIfAborted();
        await this.readInput(input);
      }
      if (!this.schemaReady) await this.decideSchema(true);
      await this.flushTrailingBlanks();
      await this.closeShard();
      const rejectLocation = await this.closeRejects();
      return await this.publish(fingerprint, rejectLocation);
    } catch (failure) {
      // a write that failed (ENOSPC, EFBIG) is the error to report, not what it broke downstream
      const err = this.writer ? await this.writer.cause(failure) : failure;
      await this.writer?.abort(err);
      if (this.rejects) {
        this.rejects.chan.abort(err);
        await this.rejects.done.catch(() => undefined);
      }
      throw err;
    }
  }

  async planBalanced(): Promise<void> {
    const n = this.o.instances!;
    const resolved: ResolvedInput[] = [];
    for (const input of this.inputs) {
      let gz = false;
      if (!input.stdin) {
        const opened = await this.storage.read(input.location!, { decompress: "never" });
        for await (const c of opened) {
          gz = (c as Buffer)[0] === 0x1f && (c as Buffer)[1] === 0x8b;
          break;
        }
        opened.destroy();
      }
      if (input.stdin || gz) {
        const s = await spillInput(this.storage, input, this.opts.stdin, this.opts.tmpDir);
        this.cleanups.push(s.cleanup);
        this.gzipInputs.set(s.input, s.gzip);
        resolved.push(s.input);
      } else resolved.push(input);
    }
    this.inputs = resolved;
    const total = resolved.reduce((a, i) => a + (i.rawBytes ?? 0), 0);
    this.bytesTotal = total;
    const bySize = Math.max(1, Math.ceil(total / this.o.shardSize));
    this.shardCount = Math.ceil(Math.max(bySize, n) / n) * n;
  }

  progress(done: boolean): void {
    if (!done && this.rowsRead - this.lastProgress < 65536) return;
    this.lastProgress = this.rowsRead;
    // every 65,536 rows: an interrupt stops the run, whose failure path removes the temporaries
    this.opts.signal?.throwIfAborted();
    if (!this.opts.onProgress) return;
    this.opts.onProgress({ rowsRead: this.rowsRead, rowsWritten: this.rowsWritten, rowsSkipped: this.rowsRead - this.rowsWritten, bytesRead: this.bytesRead, bytesTotal: this.bytesTotal, shards: this.shards.length + (this.writer ? 1 : 0), input: this.currentInput, done });
  }

  note(reason: string, n = 1): void {
    this.notes.set(reason, (this.notes.get(reason) ?? 0) + n);
  }

  async readInput(input: ResolvedInput): Promise<void> {
    try {
      await this.readInputOnce(input);
    } catch (err) {
      // a data error (or a failed read) in an input that changed while it was read is reported as the change
      if (err instanceof BtkitError && err.code !== "IO_CHANGED" && (err.exitCode === EXIT.data || err.code === "IO_READ_FAILED")) throw (await changedWhileRead(this.storage, input).catch(() => undefined)) ?? err;
      throw err;
    }
  }

  async readInputOnce(input: ResolvedInput): Promise<void> {
    this.currentInput = input.display;
    let raw = await openInput(this.storage, input, this.opts.stdin);
    // text in another encoding is UTF-8 from here on (Parquet and Arrow by name are binary)
    if (this.o.encoding !== "utf-8" && input.format !== "parquet" && input.format !== "arrow") {
      raw = { ...raw, chunks: toUtf8(raw.chunks, this.o.encoding, input.display) };
      this.note(`text inputs read as ${this.o.encoding} and converted to UTF-8 (--encoding)`);
    }
    const opened = await detectFormat(raw, input);
    if (this.o.encoding !== "utf-8" && isRecordFormat(input.format) && input.format !== "json") {
      throw new BtkitError("USAGE_BAD_VALUE", `--encoding ${this.o.encoding} applies to text inputs (CSV, TSV, JSON); ${input.display} is ${input.format}, whose text is UTF-8 by its format: leave out --encoding`, { option: "encoding", input: input.display, got: this.o.encoding });
    }
    if (isRecordFormat(input.format)) return this.readRecordInput(input, opened);
    if (this.declared) throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but an earlier input was Parquet or Arrow; inputs of one preparation share one kind of format`, { input: input.display });
    const json = input.format === "jsonl";
    if (this.columns !== undefined && json !== this.json) {
      throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but the first input was ${this.json ? "jsonl" : "csv"}; inputs of one preparation share one format`, { input: input.display });
    }
    this.json = json;
    const base = this.bytesBefore;
    const csv = json ? undefined : new CsvScanner({ input: input.display, delimiter: this.o.delimiter ?? (input.format === "tsv" ? "\t" : undefined), quote: this.o.quote, maxRecordBytes: Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024) });
    const jl = json ? new JsonlScanner({ input: input.display, maxRecordBytes: Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024) }) : undefined;
    let header = !json;
    let rows = 0;
    const handleCsv = async (raw: RawRecords): Promise<void> => {
      for (let r = 0; r < raw.count; r++) {
        if (header) {
          header = false;
          const first = raw.toRecord(r);
          if (this.o.header === false) {
            // no header: the first row is data like the others, and the columns get names
            this.setHeader(input, first, true);
          } else {
            if (this.o.header === "auto") refuseDataAsHeader(input, first);
            this.setHeader(input, first);
            continue;
          }
        }
        rows++;
        // the byte path: records that are neither blank nor part of the type sample
        const w = this.schemaReady && raw.blank[r] === 0 && this.pendingBlanks.length === 0 ? this.processRaw(input, raw, r, base) : this.row({ input, line: raw.line[r]!, pos: base + raw.end[r]!, csv: raw.toRecord(r) });
        if (w) await w;
      }
    };
    const handleJson = async (recs: JsonRecord[]): Promise<void> => {
      for (const r of recs) {
        rows++;
        const w = this.row({ input, line: r.line, pos: base + r.end, json: r });
        if (w) await w;
      }
    };
    for await (const chunk of opened.chunks) {
      if (csv) await handleCsv(csv.pushRaw(chunk));
      else await handleJson(jl!.push(chunk));
      this.bytesRead = base + (csv ? csv.bytes : jl!.bytes);
    }
    if (csv) await handleCsv(csv.endRaw());
    else await handleJson(jl!.end());
    if (header) throw new BtkitError("PREP_HEADER", `${input.display} is empty: expected ${this.o.header === false ? "rows" : "a header row"}`, { input: input.display, line: 1 });
    if (csv?.bomStripped || jl?.bomStripped) this.note("utf-8 byte order mark stripped");
    this.bytesBefore = base + (csv ? csv.bytes : jl!.bytes) + (csv?.bomStripped || jl?.bomStripped ? 3 : 0);
    this.bytesRead = this.bytesBefore;
    await this.flushTrailingBlanks();
    if (!this.gzipInputs.has(input)) this.gzipInputs.set(input, opened.gzip());
    this.rowsPerInput.set(input, rows - this.trailingBlanksOf(input));
  }

  /** columns and types declared by Parquet/Arrow inputs (all inputs must declare the same) */
  declared: TypedColumn[] | undefined;

  /** A JSON array, Parquet or Arrow input (typed-input.ts): records of the JSON Lines shape. */
  async readRecordInput(input: ResolvedInput, opened: OpenedInput): Promise<void> {
    const first = this.inputs[0] === input;
    if (!first && (!this.json || (this.declared !== undefined) !== (input.format !== "json"))) {
      await opened.close?.();
      throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but an earlier input was not; a preparation mixes JSON Lines and JSON arrays, or Parquet and Arrow, with nothing else`, { input: input.display });
    }
    this.json = true;
    const { drop, features, keep } = this.o;
    const unused = (name: string): boolean => drop.includes(name) || (features !== undefined && keep !== undefined && !features.includes(name) && !keep.includes(name));
    const src = await openRecordInput(input, opened, { schema: this.o.schema, maxRecordBytes: Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024), tmpDir: this.opts.tmpDir, unused });
    this.cleanups.push(src.cleanup);
    if (src.columns) {
      if (!this.declared) this.declared = src.columns;
      else {
        for (let i = 0; i < Math.max(src.columns.length, this.declared.length); i++) {
          const a = this.declared[i];
          const b = src.columns[i];
          if (a?.name !== b?.name || a?.type !== b?.type) {
            throw new BtkitError("PREP_SCHEMA", `${input.display}: column ${i + 1} is ${b ? `${JSON.stringify(b.name)} (${b.arrowType})` : "missing"} but the first input has ${a ? `${JSON.stringify(a.name)} (${a.arrowType})` : "none"}; inputs must have the same columns and types in the same order`, { input: input.display, column: a?.name ?? b?.name, expected: a ? `${a.name}:${a.type}` : null, got: b ? `${b.name}:${b.type}` : null });
          }
        }
      }
    }
    const base = this.bytesBefore;
    let rows = 0;
    for await (const recs of src.records) {
      for (const r of recs) {
        rows++;
        const p = { input, line: r.line, pos: base + r.end, json: r };
        if (r.error) {
          this.rowsRead++;
          await this.invalid(r.error, p);
          continue;
        }
        const w = this.row(p);
        if (w) await w;
      }
      this.bytesRead = base + src.bytes();
    }
    if (src.bomStripped()) this.note("utf-8 byte order mark stripped");
    this.bytesBefore = base + src.bytes();
    this.bytesRead = this.bytesBefore;
    if (!this.gzipInputs.has(input)) this.gzipInputs.set(input, opened.gzip());
    this.rowsPerInput.set(input, rows);
  }

  trailingBlankCount = new Map<ResolvedInput, number>();
  trailingBlanksOf(input: ResolvedInput): number {
    return this.trailingBlankCount.get(input) ?? 0;
  }

  /** Sets the columns from a header row, or (headerless) from --columns or column_1..column_N for the first data row. */
  setHeader(input: ResolvedInput, r: CsvRecord, headerless = false): void {
    if (!headerless && (r.blank || r.values.every((v) => v === null || v.trim() === ""))) {
      throw new BtkitError("PREP_HEADER", `${input.display}: line ${r.line}: the header row is empty`, { input: input.display, line: r.line });
    }
    let names = headerless ? r.values.map((_, i) => `column_${i + 1}`) : r.values.map((v) => v ?? "");
    if (this.o.columns !== undefined) {
      if (this.o.columns.length !== names.length) {
        throw new BtkitError("PREP_HEADER", `${input.display}: --columns names ${this.o.columns.length} columns but ${headerless ? `line ${r.line} has ${names.length} fields` : `the header has ${names.length}`}`, { input: input.display, line: r.line, expected: names.length, got: this.o.columns.length });
      }
      names = [...this.o.columns];
    }
    const seen = new Map<string, number>();
    names.forEach((n, i) => {
      if (n === "") throw new BtkitError("PREP_HEADER", `${input.display}: header column ${i + 1} has an empty name; name it with --columns`, { input: input.display, line: r.line, column: `#${i + 1}` });
      if ([...n].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) throw new BtkitError("PREP_HEADER", `${input.display}: header column ${i + 1} (${JSON.stringify(n)}) holds a control character`, { input: input.display, line: r.line, column: n });
      const prev = seen.get(n);
      if (prev !== undefined) throw new BtkitError("PREP_HEADER", `${input.display}: header name ${JSON.stringify(n)} appears at columns ${prev + 1} and ${i + 1}; rename with --columns`, { input: input.display, line: r.line, column: n });
      seen.set(n, i);
    });
    if (this.columns === undefined) {
      this.columns = names;
      names.forEach((n, i) => this.colIndex.set(n, i));
      return;
    }
    for (let i = 0; i < Math.max(names.length, this.columns.length); i++) {
      if (names[i] !== this.columns[i]) {
        throw new BtkitError("PREP_SCHEMA", `${input.display}: column ${i + 1} is ${JSON.stringify(names[i] ?? null)} but the first input has ${JSON.stringify(this.columns[i] ?? null)}; inputs must have the same columns in the same order`, { input: input.display, column: this.columns[i] ?? names[i], expected: this.columns[i] ?? null, got: names[i] ?? null });
      }
    }
  }

  /** Handles one record; returns a promise only when the caller must wait (keeps the hot path free of promises). */
  row(p: PendingRow): Promise<void> | undefined {
    const blank = p.csv ? p.csv.blank : p.json!.blank;
    if (blank) {
      // held back: trailing blank lines at the end of a CSV input are ignored (C26); inside the data they follow blankLines
      this.pendingBlanks.push(p);
      return undefined;
    }
    if (this.pendingBlanks.length > 0) return this.resolveBlanks(false).then(() => this.rowAfterBlanks(p));
    return this.rowAfterBlanks(p);
  }

  rowAfterBlanks(p: PendingRow): Promise<void> | undefined {
    if (!this.schemaReady) {
      this.sample.push(p);
      this.sampleNonBlank++;
      if (this.sampleNonBlank >= this.o.sampleRows) return this.decideSchema(false);
      return undefined;
    }
    const w = this.process(p);
    this.progress(false);
    return w;
  }

  async resolveBlanks(atEnd: boolean): Promise<void> {
    const blanks = this.pendingBlanks;
    this.pendingBlanks = [];
    for (const b of blanks) {
      this.rowsRead++;
      if (atEnd && b.csv) {
        this.rowsRead--;
        this.note("trailing blank lines ignored");
        this.trailingBlankCount.set(b.input, (this.trailingBlankCount.get(b.input) ?? 0) + 1);
        continue;
      }
      const err = new BtkitError(b.json ? "PREP_JSON" : "PREP_RAGGED_ROW", `${b.input.display}: line ${b.line} is blank (reliability ${b.json ? "J01" : "C25"}); use --blank-lines skip to skip blank lines`, { input: b.input.display, line: b.line });
      if (this.o.blankLines === "skip") {
        this.skipped.set("blank line", (this.skipped.get("blank line") ?? 0) + 1);
        continue;
      }
      await this.invalid(err, b);
    }
  }

  async flushTrailingBlanks(): Promise<void> {
    if (this.pendingBlanks.length > 0) await this.resolveBlanks(true);
  }

  async decideSchema(wholeInput: boolean): Promise<void> {
    this.schemaReady = true;
    if (this.json) {
      const names: string[] = [];
      const seen = new Set<string>();
      for (const p of this.sample) {
        for (const k of p.json!.keys) {
          if (seen.has(k)) continue;
          seen.add(k);
          names.push(k);
        }
      }
      this.columns = this.declared ? this.declared.map((c) => c.name) : names;
      this.columns.forEach((n, i) => this.colIndex.set(n, i));
    }
    const columns = this.columns ?? [];
    const sampleValues = this.sample.map((p) => (p.csv ? { values: p.csv.values } : this.jsonValues(p)));
    this.types = inferTypes(columns, sampleValues.filter((s): s is { values: (string | null)[]; kinds?: Kind[] } => s !== undefined && s.values.length === columns.length), { json: this.json, wholeInput, text: this.o.text });
    // Parquet and Arrow inputs declare their types (arrow-values.ts): no inference
    if (this.declared) this.types = this.declared.map((c) => c.type);
    for (const [name, type] of this.o.schema) {
      const i = this.colIndex.get(name);
      if (i === undefined) throw new BtkitError("PREP_SCHEMA", `--schema names column ${JSON.stringify(name)}, which the input does not have (columns: ${columns.join(", ")})`, { column: name, option: "schema" });
      this.types[i] = type;
    }
    const need = (list: string[], option: string): number[] =>
      list.map((n) => {
        const i = this.colIndex.get(n);
        if (i === undefined || this.o.drop.includes(n)) {
          throw new BtkitError("PREP_COLUMN", `--${option} names column ${JSON.stringify(n)}, which ${i === undefined ? "the input does not have" : "--drop removes"} (columns: ${columns.join(", ")})`, { column: n, option });
        }
        return i;
      });
    need(this.o.drop.filter((d) => !this.colIndex.has(d)), "drop");
    const remaining = columns.filter((c) => !this.o.drop.includes(c));
    if (remaining.includes(SIDECAR_ROW_COLUMN)) {
      throw new BtkitError("PREP_COLUMN", `the input has a column named ${SIDECAR_ROW_COLUMN}, the name of btkit's row number in the sidecar and the joined table; --drop ${SIDECAR_ROW_COLUMN} (or rename it in the input)`, { column: SIDECAR_ROW_COLUMN, option: "drop" });
    }
    this.featureIdx = need(this.o.features ?? remaining, "features");
    if (new Set(this.featureIdx).size !== this.featureIdx.length) throw new BtkitError("PREP_COLUMN", "--features names a column twice", { option: "features" });
    // features whose shard text does not give back the value are kept whatever --keep says
    const keepSet = new Set([...need(this.o.keep ?? this.defaultKeep(remaining), "keep"), ...need(this.unfaithful(remaining), "keep")]);
    const lost = remaining.filter((c) => !keepSet.has(this.colIndex.get(c)!) && !this.featureIdx.includes(this.colIndex.get(c)!));
    if (lost.length > 0) this.note(`columns neither sent to the model nor kept, so not in the joined table: ${lost.join(", ")} (--keep names them, --drop says so)`, lost.length);
    this.keepIdx = columns.map((_, i) => i).filter((i) => keepSet.has(i));
    this.featuresAll = this.featureIdx.length === columns.length && this.featureIdx.every((c, i) => c === i);
    this.keepAll = this.keepIdx.length === columns.length;
    this.checkIdx = columns.map((_, i) => i).filter((i) => this.json || (this.types[i] !== "utf8" && !this.o.drop.includes(columns[i]!)));
    // JSON values read as text where asked: --text, or --schema NAME:utf8 (not for Parquet/Arrow, whose readers give text already)
    this.asText = this.json && !this.declared ? columns.map((c) => this.o.text || this.o.schema.get(c) === "utf8") : undefined;
    const featureNames = this.featureIdx.map((i) => columns[i]!);
    this.checkTypes = this.checkIdx.map((i) => this.types[i]!);
    if (this.o.format === "csv") {
      this.encodeRaw = encodeCsvRaw;
      const enc = makeCsvEncoder(featureNames, this.o.newlines);
      this.encode = (values, input, line, row) => enc(values, { input, line, row });
      this.csvEncoderChanged = () => enc.newlinesChanged;
    } else {
      const enc = makeJsonlEncoder(featureNames, this.featureIdx.map((i) => this.types[i]!));
      this.encodeRaw = makeJsonlRawEncoder(featureNames, this.featureIdx.map((i) => this.types[i]!));
      this.encode = (values) => enc(values);
    }
    const sample = this.sample;
    this.sample = [];
    for (const p of sample) {
      const w = this.process(p);
      if (w) await w;
    }
  }

  /**
   * What the sidecar holds by default: what the model does not see (IDs and the like). join reads
   * the features back from the shards, whose text round-trips exactly, except text a CSV newline
   * policy (replace, escape) may change: such features are kept too.
   */
  defaultKeep(remaining: string[]): string[] {
    const features = new Set(this.featureIdx.map((i) => this.columns![i]!));
    return remaining.filter((c) => !features.has(c));
  }

  /**
   * Features whose shard text may not give their value back, so the sidecar keeps them too: text
   * a CSV newline policy (replace, escape) rewrites, and json values in JSON Lines shards (a JSON
   * null there cannot be told from a null, and the text's spacing is not kept).
   */
  unfaithful(remaining: string[]): string[] {
    const features = new Set(this.featureIdx.map((i) => this.columns![i]!));
    const rewritten = this.o.format === "csv" && this.o.newlines !== "reject";
    return remaining.filter((c) => {
      if (!features.has(c)) return false;
      const t = this.types[this.colIndex.get(c)!];
      return this.o.format === "csv" ? rewritten && (t === "utf8" || t === "json") : t === "json";
    });
  }

  jsonValues(p: PendingRow): { values: (string | null)[]; kinds: Kind[] } | undefined {
    const r = p.json!;
    const n = this.columns!.length;
    const values: (string | null)[] = new Array<string | null>(n).fill(null);
    const kinds: Kind[] = new Array<Kind>(n).fill(KIND.null);
    for (let k = 0; k < r.keys.length; k++) {
      const i = this.colIndex.get(r.keys[k]!);
      if (i === undefined) return undefined;
      values[i] = r.values[k]!;
      kinds[i] = r.kinds[k]!;
    }
    return { values, kinds };
  }

  process(p: PendingRow): Promise<void> | undefined {
    this.rowsRead++;
    const columns = this.columns!;
    const input = p.input.display;
    const rowNo = this.rowsRead;
    try {
      let values: (string | null)[];
      let kinds: Kind[] | undefined;
      if (p.csv) {
        values = p.csv.values;
        if (values.length !== columns.length) {
          throw new BtkitError("PREP_RAGGED_ROW", `${input}: line ${p.line}: expected ${columns.length} fields (${this.o.header === false ? "the first row's" : "the header's"}), got ${values.length}; fix the row, or skip such rows with --on-invalid skip`, { input, line: p.line, row: rowNo, expected: columns.length, got: values.length });
        }
      } else {
        const jv = this.jsonValues(p);
        if (!jv) {
          const extra = p.json!.keys.find((k) => !this.colIndex.has(k));
          throw new BtkitError("PREP_SCHEMA", `${input}: line ${p.line}: key ${JSON.stringify(extra)} is not among the columns found in the first ${this.o.sampleRows} rows (${columns.join(", ")}); raise --sample-rows or declare it with --schema`, { input, line: p.line, row: rowNo, column: extra });
        }
        values = jv.values;
        kinds = jv.kinds;
      }
      for (const i of this.checkIdx) {
        const v = values[i]!;
        const t = this.types[i]!;
        const k = kinds?.[i];
        if (k !== undefined && k !== KIND.string && k !== KIND.null && t === "utf8" && this.asText?.[i]) {
          // a JSON number, boolean or nested value in a column declared text: its source text, as a string
          this.note(TEXT_NOTE);
          continue;
        }
        if (!fits(t, v, k)) {
          const name = columns[i]!;
          const wider = widerType(t, v, k);
          const how = this.o.schema.has(name)
            ? `the type declared with --schema; declare ${wider} instead (${schemaFlag(name, wider)}), or skip such rows with --on-invalid skip`
            : `the type inferred from the first ${this.o.sampleRows} rows; declare the type with ${schemaFlag(name, wider)}${k === undefined ? ", or use --text" : ""}`;
          throw new BtkitError("PREP_TYPE", `${input}: line ${p.line} (row ${rowNo}), column ${JSON.stringify(name)}: ${JSON.stringify(v)} does not fit ${t} (${how})`, { input, line: p.line, row: rowNo, column: name, expected: t, got: v, option: schemaFlag(name, wider) });
        }
        if (t === "json" && k === KIND.string && v !== null) values[i] = JSON.stringify(v);
      }
      const feat = this.featuresAll ? values : this.featureIdx.map((i) => values[i] ?? null);
      const line = this.encode!(feat, input, p.line, rowNo);
      // at most 3 UTF-8 bytes per UTF-16 code unit: measure only lines that might be too large
      const bytes = line.length * 3 > this.maxRecordBytes ? Buffer.byteLength(line, "utf8") : 0;
      if (bytes > this.maxRecordBytes) {
        throw new BtkitError("PREP_RECORD_TOO_LARGE", `${input}: line ${p.line} (row ${rowNo}) encodes to ${bytes} bytes, more than --max-payload-mb ${this.o.maxPayloadMb} (${this.maxRecordBytes} bytes): SageMaker would fail the job on it`, { input, line: p.line, row: rowNo, expected: this.maxRecordBytes, got: bytes });
      }
      return this.emit(line, this.keepAll ? values : this.keepIdx.map((i) => values[i] ?? null), p.pos);
    } catch (err) {
      return this.invalid(err, p);
    }
  }

  /**
   * The byte path for record r of raw CSV records: checks, encodes and emits without making
   * strings. Anything out of the ordinary (a ragged row, a value that does not fit, a line break,
   * an oversized record) goes to process(), which decides and reports it exactly as always.
   */
  processRaw(input: ResolvedInput, raw: RawRecords, r: number, base: number): Promise<void> | undefined {
    const first = raw.firstField[r]!;
    const columns = this.columns!;
    let ok = raw.firstField[r + 1]! - first === columns.length;
    const checkIdx = this.checkIdx;
    const checkTypes = this.checkTypes;
    for (let k = 0; ok && k < checkIdx.length; k++) ok = fieldFits(raw, first + checkIdx[k]!, checkTypes[k]!);
    const len = ok ? this.encodeRaw!(raw, r, this.featuresAll ? undefined : this.featureIdx, this.lineBuffer) : -1;
    const pos = base + raw.end[r]!;
    if (len < 0 || len > this.maxRecordBytes) return this.process({ input, line: raw.line[r]!, pos, csv: raw.toRecord(r) });
    this.rowsRead++;
    const keep = this.keepAll ? undefined : this.keepIdx;
    const w = this.writer && this.mustCut() ? this.closeShard().then(() => this.emitRawNow(len, raw, r, keep, pos)) : this.emitRawNow(len, raw, r, keep, pos);
    this.progress(false);
    return w;
  }

  emitRawNow(len: number, raw: RawRecords, r: number, keep: readonly number[] | undefined, pos: number): Promise<void> | undefined {
    if (!this.writer) this.openShard();
    const w = this.writer!;
    this.writerRows++;
    const row = this.rowsWritten++;
    this.lastPos = pos;
    const wait = w.addEncoded(this.lineBuffer.buf, len, raw, r, keep, row);
    this.writerBytes += len + 1;
    if (len > this.maxRecord) this.maxRecord = len;
    return wait;
  }

  async invalid(err: unknown, p: PendingRow): Promise<void> {
    if (!(err instanceof BtkitError) || this.o.onInvalid !== "skip" || !SKIPPABLE.has(err.code)) throw err;
    this.skipped.set(err.code, (this.skipped.get(err.code) ?? 0) + 1);
    if (!this.rejects) {
      const chan = new Channel(16);
      const done = this.storage.write(childLocation(this.out, partNames(this.o.part).rejects), chan, { contentType: "application/jsonlines" });
      done.catch((e) => chan.fail(e));
      this.rejects = { chan, done };
    }
    await this.rejects.chan.push(Buffer.from(`${JSON.stringify({ input: p.input.uri, line: p.line, code: err.code, message: err.message, column: err.context.column })}\n`));
  }

  async closeRejects(): Promise<string | undefined> {
    if (!this.rejects) return undefined;
    this.rejects.chan.close();
    await this.rejects.done;
    return toUri(childLocation(this.out, partNames(this.o.part).rejects));
  }

  emit(line: string, keep: (string | null)[], pos: number): Promise<void> | undefined {
    if (this.writer && this.mustCut()) return this.closeShard().then(() => this.emitNow(line, keep, pos));
    return this.emitNow(line, keep, pos);
  }

  emitNow(line: string, keep: (string | null)[], pos: number): Promise<void> | undefined {
    if (!this.writer) this.openShard();
    const w = this.writer!;
    this.writerRows++;
    const row = this.rowsWritten++;
    this.lastPos = pos;
    const wait = w.add(line, keep, row);
    const bytes = w.lastBytes;
    this.writerBytes += bytes + 1;
    if (bytes > this.maxRecord) this.maxRecord = bytes;
    return wait;
  }

  mustCut(): boolean {
    if (this.shardCount !== undefined) {
      const k = this.shards.length;
      if (k >= this.shardCount - 1) return false;
      return this.lastPos * this.shardCount >= (this.bytesTotal ?? 0) * (k + 1);
    }
    if (this.o.shardRows !== undefined) return this.writerRows >= this.o.shardRows;
    return this.writerBytes >= this.o.shardSize;
  }

  shardName(index: number): { shard: string; sidecar: string } {
    const base = shardBaseName(index, this.o.part);
    const ext = (this.o.format === "csv" ? ".csv" : ".jsonl") + (this.o.gzipLevel !== undefined ? ".gz" : "");
    return { shard: `${base}${ext}`, sidecar: `${base}${SIDECAR_EXTENSION}` };
  }

  openShard(): void {
    const names = this.shardName(this.shards.length);
    const columns = this.columns!;
    this.writer = new ShardWriter({
      storage: this.storage,
      shard: childLocation(this.out, LAYOUT.shardsDir + names.shard),
      sidecar: childLocation(this.out, LAYOUT.sidecarsDir + names.sidecar),
      gzipLevel: this.o.gzipLevel,
      keep: this.keepIdx.map((i) => ({ name: columns[i]!, type: this.types[i]! })),
    });
    this.writerRows = 0;
    this.writerBytes = 0;
  }

  async closeShard(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    this.writer = undefined;
    const names = this.shardName(this.shards.length);
    let res;
    try {
      res = await w.finish();
    } catch (err) {
      // the writer is no longer this.writer: its own abort removes the half of the pair that finished
      await w.abort(err);
      throw err;
    }
    if (res.rounded > 0) this.note(ROUNDED_NOTE, res.rounded);
    this.shards.push({
      name: names.shard,
      location: toUri(childLocation(this.out, LAYOUT.shardsDir + names.shard)),
      rows: res.rows,
      bytes: res.shard.bytes,
      sha256: res.shard.sha256,
      ...(res.shard.etag !== undefined ? { etag: res.shard.etag } : {}),
      maxRecordBytes: res.maxRecordBytes,
      sidecar: toUri(childLocation(this.out, LAYOUT.sidecarsDir + names.sidecar)),
      sidecarSha256: res.sidecar.sha256,
      ...(res.sidecar.etag !== undefined ? { sidecarEtag: res.sidecar.etag } : {}),
      sidecarBytes: res.sidecar.bytes,
      firstRow: this.rowsWritten - res.rows,
    });
  }

  async publish(fingerprint: string, rejectLocation: string | undefined): Promise<Descriptor> {
    const columns = this.columns ?? [];
    const prefix = `${toUri(childLocation(this.out, LAYOUT.shardsDir))}`;
    const manifestPrefix = prefix.endsWith("/") ? prefix : `${prefix}/`;
    // sagemaker-semantics.md §2.1: one JSON array, {"prefix"} first, then names appended verbatim
    const manifest = JSON.stringify([{ prefix: manifestPrefix }, ...this.shards.map((s) => s.name)]);
    const manifestLoc = childLocation(this.out, partNames(this.o.part).manifest);
    const manifestWritten = await this.storage.write(manifestLoc, `${manifest}\n`, { contentType: "application/json" });
    await this.removeStale();
    const changed = this.csvEncoderChanged();
    if (changed > 0) this.note(this.o.newlines === "replace" ? "values with line breaks replaced" : "values with line breaks escaped", changed);
    if (this.shardCount !== undefined && this.shards.length < this.shardCount) this.note(`fewer rows than planned shards: ${this.shards.length} of ${this.shardCount} shards written`);
    const skipped: SkipCount[] = [...this.skipped].map(([reason, count]) => ({ reason, count }));
    const notes: SkipCount[] = [...this.notes].map(([reason, count]) => ({ reason, count }));
    const featureSet = new Set(this.featureIdx);
    const keepSet = new Set(this.keepIdx);
    const schemaColumns: ColumnSpec[] = columns
      .map((name, i) => ({ name, type: this.types[i] ?? "utf8", roles: [...(featureSet.has(i) ? (["feature"] as const) : []), ...(keepSet.has(i) ? (["keep"] as const) : [])] }))
      .filter((c) => !this.o.drop.includes(c.name));
    const d: Descriptor = {
      btkit: PROTOCOL_VERSION,
      createdAt: new Date().toISOString(),
      tool: { name: "btkit", version: VERSION },
      source: {
        inputs: this.inputs.map((i) => ({ location: i.uri, format: i.format, compression: this.gzipInputs.get(i) ? "gzip" : "none", rows: this.rowsPerInput.get(i) ?? 0, ...(i.rawBytes !== undefined && !i.stdin ? { bytes: i.rawBytes } : {}) })),
        options: { ...this.optionRecordResolved(), fingerprint },
        rowsRead: this.rowsRead,
        rowsWritten: this.rowsWritten,
        rowsSkipped: this.rowsRead - this.rowsWritten,
        skipped,
        ...(rejectLocation ? { rejectLocation } : {}),
        ...(notes.length > 0 ? { notes } : {}),
        ...(this.o.part ? { part: this.o.part } : {}),
        bytesWritten: bytesWrittenOf(this.shards, manifestWritten.bytes),
      },
      schema: { columns: schemaColumns },
      modelInput: {
        contentType: this.o.format === "csv" ? "text/csv" : "application/jsonlines",
        splitType: "Line",
        compression: this.o.gzipLevel !== undefined ? "Gzip" : "None",
        features: this.featureIdx.map((i) => columns[i]!),
        maxRecordBytes: this.maxRecord,
      },
      shards: this.shards,
      manifest: { location: toUri(manifestLoc), prefix: manifestPrefix },
    };
    const text = serializeDescriptor(d);
    await this.storage.write(childLocation(this.out, partNames(this.o.part).descriptor), `${text}\n`, { contentType: "application/json" });
    this.progress(true);
    return d;
  }

  optionRecordResolved(): Record<string, unknown> {
    return { ...optionsRecord(this.o), shardCount: this.shards.length, ...(this.shardCount !== undefined ? { plannedShards: this.shardCount } : {}) };
  }

  /** After an --overwrite: shards, sidecars and a reject file of the earlier preparation go. */
  async removeStale(): Promise<void> {
    const keep = new Set<string>();
    for (const s of this.shards) {
      keep.add(s.location);
      keep.add(s.sidecar);
    }
    // a part only ever removes its own files: other parts share the folders
    const mine = this.o.part ? `${shardBaseName(0, this.o.part).replace(/0+$/, "")}` : "";
    for (const dir of [LAYOUT.shardsDir, LAYOUT.sidecarsDir]) {
      const base = childLocation(this.out, dir);
      for await (const o of this.storage.list(base)) {
        const loc = this.storage.parse(o.location);
        const name = o.relative.slice(o.relative.lastIndexOf("/") + 1);
        if (this.o.part && !name.startsWith(mine)) continue;
        if (!this.o.part && /^part-\d+of\d+-/.test(name)) continue;
        if (!keep.has(toUri(loc))) await this.storage.delete(loc);
      }
    }
    if (!this.rejects) await this.storage.delete(childLocation(this.out, partNames(this.o.part).rejects));
  }
}
