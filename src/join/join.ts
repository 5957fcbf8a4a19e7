/**
 * join(options): the whole join of a descriptor's shards, checked before anything is published.
 * joinRows(descriptor, options): the same checks and the same joined batches (steps 0-3 are one
 * pipeline, checkJoin), yielded to the caller instead of written.
 *
 * 0. Provenance: the descriptor's job must be Completed (JOIN_JOB_STATUS names its status;
 *    allowMissing joins the shards it did finish). Each shard's .out is read from the output of
 *    the job that was given the shard (protocol/provenance.ts: the current job, or for shards a
 *    --retry-failed job did not redo, the job it retried), and must have been written after that
 *    job was created: an older .out is another job's (JOIN_PROVENANCE).
 * 1. Every shard of the part must have its .out (JOIN_MISSING_OUTPUT lists the missing ones;
 *    allowMissing joins the others and records the missing in results.missing).
 * 2. Every .out is counted first (a byte scan, no parsing): its lines must equal the shard's rows
 *    (JOIN_COUNT_MISMATCH names shard, expected, found and the first line that looks wrong) and
 *    hold no blank line unless blankLines is "skip" (JOIN_BLANK_LINE).
 * 3. The aligner streams sidecar + .out into joined batches; the job's DataProcessing says what a
 *    line holds (protocol/data-processing.ts), and JoinSource=Input echoes are compared with the
 *    shard lines (echo.ts). A prediction column inferred int64 that meets a float later starts
 *    the join again with that column float64 (counted in the notes). The writer turns them into one file
 *    (written atomically: a failure leaves nothing under the final name) or, partitioned, one file
 *    per shard and then the descriptor (btkit.json) last; files of a failed partitioned join are
 *    deleted.
 */
import { Schema, type Field, type RecordBatch } from "apache-arrow";
import { BtkitError, counted, optionHint } from "../errors.js";
import type { ColumnType, Descriptor, JobSection, ResultsSection, ShardEntry } from "../protocol/descriptor.js";
import { canonicalType, isColumnType, serializeDescriptor, validateDescriptor } from "../protocol/descriptor.js";
import { isLayoutProblem, outputLayoutOf } from "../protocol/data-processing.js";
import { LAYOUT, SIDECAR_ROW_COLUMN } from "../protocol/layout.js";
import { shardOutputs } from "../protocol/provenance.js";
import { formatLocation, toUri, type Location } from "../io/location.js";
import { Digest } from "../io/body.js";
import { lockFor, withClaim } from "../io/lock.js";
import { Storage, gunzipIfGzip } from "../io/storage.js";
import { Readable } from "node:stream";
import { createAligner, type ShardInput } from "./aligner.js";
import { handedOver } from "./batch-transfer.js";
import { hasEcho } from "./echo.js";
import { columnTypeOfField, fieldOf } from "./columns.js";
import { LineReader, scanLines, type BlankLinePolicy, type LineScan } from "./lines.js";
import { folderDataset, prepareFolder, recordIdentity, type FolderDataset } from "./folder.js";
import { checkPart, partLabel, shardStem, shardsOfPart, jobShards, type Part } from "./plan.js";
import { PREDICTIONS_ROUNDED_NOTE, WidenToFloat64, predictionTypeHint, widenOf, type PredictionFormat } from "./predictions.js";
import { createWriter, EXTENSION_OF, tableWriteOptions, OUTPUT_FORMATS, type OutputFormat, type ParquetCompression } from "./writers.js";

export interface JoinProgress {
  phase: "check" | "join" | "done";
  shardsDone: number;
  shardsTotal: number;
  rowsDone: number;
  rowsTotal: number;
  shard?: string;
}

export interface JoinOptions {
  /** the descriptor with its job section (required) */
  descriptor: Descriptor;
  /** where to write: a file (one-file output) or a folder/prefix (partitioned, or --part); required */
  out: string;
  /** default "parquet" */
  format?: OutputFormat;
  /** Parquet compression; default "zstd" */
  compression?: ParquetCompression;
  /** Parquet rows per row group; default 65536 */
  rowGroupRows?: number;
  /** Parquet writer version, 1 (default) or 2: see WriterOptions.parquetVersion */
  parquetVersion?: 1 | 2;
  /** one file per shard plus btkit.json last; default false */
  partitioned?: boolean;
  /** join only part i of N of the shards (contiguous slices); default all */
  part?: Part;
  /** join the shards that have an .out and record the others in results.missing; default false */
  allowMissing?: boolean;
  /** keep the sidecar's row number column (__btkit_row); default false */
  rowNumber?: boolean;
  /**
   * read the feature columns prep did not keep back from the model-input shards, so the joined
   * table has every column of the input, in its order; default true (false: kept columns only)
   */
  withFeatures?: boolean;
  /** blank .out lines: "error" (default) or "skip" (counted in results.notes) */
  blankLines?: BlankLinePolicy;
  /** "auto" (default: the job's Accept, else the first line), "json", "csv" or "text" */
  predictionFormat?: PredictionFormat;
  /** prefix of object-key and index prediction columns; default what submit recorded (job.predictionPrefix), else "pred_" */
  predictionPrefix?: string;
  /** name of a scalar prediction column; default what submit recorded (job.predictionName), else "prediction" */
  predictionName?: string;
  /** declared prediction column types; default none (inferred from the first batch) */
  predictionTypes?: Record<string, ColumnType>;
  /** conflicting prediction values become utf8 JSON text (counted); default false */
  widenToUtf8?: boolean;
  /** rows per joined batch; default 4096 (aligner.ts) */
  batchRows?: number;
  /** longest .out line in bytes; default 64 MiB */
  maxLineBytes?: number;
  /** default: a Storage from the environment */
  storage?: Storage;
  /**
   * where the one-file output goes instead of `out` (the CLI's `--out -`: stdout): `write` takes
   * the bytes, `location` names it in results (files lists none). No claim is taken and nothing is
   * stored; not with partitioned or part. A join that would start again (a prediction column
   * widened from int64 to float64) fails instead: its first bytes were handed on.
   */
  sink?: { location: string; write(body: AsyncIterable<Uint8Array>): Promise<void> };
  /** called as shards are checked and joined */
  onProgress?: (p: JoinProgress) => void;
  signal?: AbortSignal;
}

export interface JoinResult {
  /** the input descriptor with its results section */
  descriptor: Descriptor;
  results: ResultsSection;
}

/**
 * joinRows()'s options: join()'s, less those of the file it writes (out, format, compression,
 * rowGroupRows, parquetVersion, partitioned).
 */
export type JoinRowsOptions = Omit<JoinOptions, "descriptor" | "out" | "format" | "compression" | "rowGroupRows" | "parquetVersion" | "partitioned">;

/**
 * What a join counted, whatever it wrote to: rows in all and per shard, missing shards (with
 * allowMissing), the joined columns and every normalization (the results section less where the
 * rows went).
 */
export type JoinSummary = Required<Pick<ResultsSection, "rows" | "rowsPerShard" | "missing" | "columns" | "notes">>;

/** The options of both join() and joinRows(), checked. */
interface Common {
  descriptor: Descriptor;
  part: Part | undefined;
  allowMissing: boolean;
  blankLines: BlankLinePolicy;
  storage: Storage;
}

interface Resolved extends Common {
  out: string;
  format: OutputFormat;
  partitioned: boolean;
}

function resolveCommon(descriptor: Descriptor, o: JoinRowsOptions): Common {
  if (typeof o !== "object" || o === null) throw new BtkitError("OPT_INVALID", `join options must be an object, got ${o === null ? "null" : typeof o}`, { option: "options", got: o === null ? "null" : typeof o });
  if (typeof descriptor !== "object" || descriptor === null) throw new BtkitError("OPT_INVALID", `join needs a descriptor (parseDescriptor of submit's output, or its btkit.json), got ${descriptor === null ? "null" : typeof descriptor}`, { option: "descriptor", got: descriptor === null ? "null" : typeof descriptor });
  // a descriptor built or edited by hand is checked like one read from a file (PROTO_INVALID naming the field)
  validateDescriptor(descriptor);
  for (const [name, type] of Object.entries(o.predictionTypes ?? {})) {
    if (typeof type !== "string" || !isColumnType(canonicalType(type))) {
      throw new BtkitError("OPT_INVALID", `predictionTypes.${name}: ${JSON.stringify(type)} is not a column type (int64, uint64, float64, bool, utf8, json, decimal(P,S), date, timestamp, ...)`, { option: "predictionTypes", column: name, got: String(type) });
    }
  }
  return {
    descriptor,
    part: o.part === undefined ? undefined : checkPart(o.part),
    allowMissing: o.allowMissing ?? false,
    blankLines: o.blankLines ?? "error",
    storage: o.storage ?? new Storage(),
  };
}

function resolve(o: JoinOptions): Resolved {
  if (typeof o.out !== "string" || o.out.length === 0) throw new BtkitError("OPT_INVALID", "join needs out: where to write the joined table", { option: "out" });
  const format = o.format ?? "parquet";
  if (!OUTPUT_FORMATS.includes(format)) throw new BtkitError("OPT_INVALID", `format must be one of ${OUTPUT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`, { option: "format", got: format });
  return { ...resolveCommon(o.descriptor, o), out: o.out, format, partitioned: o.partitioned ?? false };
}

export async function join(options: JoinOptions): Promise<JoinResult> {
  const r = resolve(options);
  const out = r.storage.parse(r.out);
  // one writer per output (per part of a shared folder): a second join there is refused, not mixed in
  if (options.sink && (r.partitioned || r.part)) throw new BtkitError("OPT_INVALID", "join: sink takes one stream, not partitioned or part output", { option: "sink" });
  const lock = r.partitioned || r.part ? lockFor(out, "folder", r.part ? partLabel(r.part) : undefined) : lockFor(out, "file");
  const run = async (): Promise<JoinResult> => {
    const declared: Record<string, ColumnType> = { ...options.predictionTypes };
    const widened: WidenToFloat64[] = [];
    while (true) {
      try {
        return await joinOnce({ ...options, storage: r.storage, predictionTypes: declared }, widened);
      } catch (err) {
        const w = widenOf(err);
        if (w === undefined || declared[w.column] !== undefined) throw err;
        if (r.part) {
          // parts are joined apart: widening one would give the dataset's parts different types
          throw new BtkitError("JOIN_TYPE_CONFLICT", `prediction column ${w.column} is int64 from the first batch of part ${r.part.index}/${r.part.count}, but line ${w.line} of ${w.location} (shard ${w.shard}) holds a value int64 cannot: the parts of one dataset must agree on types, so join every part with ${predictionTypeHint(w.column, "float64")}`, { shard: w.shard, location: w.location, line: w.line, column: w.column, expected: "int64", got: "float64", option: "predictionTypes" });
        }
        if (options.sink) {
          // the rows before it went to the sink as int64: they cannot be taken back
          throw new BtkitError("JOIN_TYPE_CONFLICT", `prediction column ${w.column} is int64 from the first batch, but line ${w.line} of ${w.location} (shard ${w.shard}) holds a value int64 cannot, and the rows before it were written to ${options.sink.location} already: join again with ${predictionTypeHint(w.column, "float64")}`, { shard: w.shard, location: w.location, line: w.line, column: w.column, expected: "int64", got: "float64", option: "predictionTypes" });
        }
        declared[w.column] = "float64";
        widened.push(w);
      }
    }
  };
  if (options.sink) return run();
  return withClaim(r.storage, lock, "btkit join", `${r.out} is being written by another join`, run);
}

/**
 * The joined record batches of a descriptor's shards, checked exactly as join() checks them,
 * without writing a file: the same pipeline (provenance, presence and line counts of every .out
 * before the first batch is yielded; each sidecar's sha256 before its shard's rows; row numbers,
 * JoinSource=Input echoes and the remaining counts as the rows stream), the same columns and
 * values as join() writes to Arrow.
 *
 * Nothing is read before the first next(). Batches come in shard order, at most `batchRows` rows
 * each (default 4096), all of one schema. A check that fails midway rejects the iteration after
 * the batches already yielded: the rows are complete only when the loop ends without an error
 * (join() publishes nothing in that case). Ending the loop early (break, return, a throw) closes
 * every file the join has open. A preparation with no rows (no job) yields nothing. The
 * generator's return value (what `next()` answers with `done: true`) is the JoinSummary: rows,
 * rowsPerShard, missing, columns, notes.
 *
 * One difference from join(): a prediction column inferred int64 from the first batch that meets
 * a float in a later one cannot be widened, since batches of it were yielded already (join() joins
 * again with the column float64): that is JOIN_TYPE_CONFLICT, naming the column to declare with
 * predictionTypes: { NAME: "float64" }.
 */
export async function* joinRows(descriptor: Descriptor, options: JoinRowsOptions = {}): AsyncGenerator<RecordBatch, JoinSummary, undefined> {
  const r = resolveCommon(descriptor, options);
  const c = await checkJoin(r, options);
  if (!c) return { rows: 0, rowsPerShard: {}, missing: [], columns: emptySchemaOf(descriptor, options).fields.map((f) => ({ name: f.name, type: columnTypeOfField(f) })), notes: [{ ...NOTHING_NOTE }] };
  try {
    // a stop between batches ends the iteration with the signal's reason, as join() stops its write
    for await (const b of c.batches(c.inputs)) {
      options.signal?.throwIfAborted();
      yield b;
    }
  } catch (err) {
    const w = widenOf(err);
    if (w === undefined) throw err;
    throw new BtkitError("JOIN_TYPE_CONFLICT", `prediction column ${w.column} is int64 from the first batch, but line ${w.line} of ${w.location} (shard ${w.shard}) holds a value int64 cannot, and int64 batches of it were yielded already: declare the column with predictionTypes: { ${JSON.stringify(w.column)}: "float64" } (join() widens it by joining again)`, { shard: w.shard, location: w.location, line: w.line, column: w.column, expected: "int64", got: "float64", option: "predictionTypes" }, { cause: err });
  }
  const summary = summaryOf(c, []);
  c.progress({ phase: "done", shardsDone: c.inputs.length, rowsDone: summary.rows });
  return summary;
}

/** What steps 0-2 leave for step 3: the checked shards, and the aligner that joins them. */
interface CheckedJoin {
  job: JobSection;
  /** every shard of the job (a part's dataset identity counts them) */
  all: ShardEntry[];
  /** the --part joined, if one */
  part: Part | undefined;
  /** the part's shards whose .out is present and counted */
  present: ShardEntry[];
  missing: string[];
  /** shards whose .out another job wrote (left out under allowMissing) */
  foreign: string[];
  aligner: ReturnType<typeof createAligner>;
  /**
   * the joined table's columns: the aligner's, or when no shard was joined (every one of the part
   * missing, or none in it) the input's columns, the row number and the declared predictions
   */
  schema(): Schema;
  /** one aligner input per present shard, in order */
  inputs: ShardInput[];
  /** the aligner's joined batches of `shards`, counted and reported to onProgress */
  batches(shards: ShardInput[]): AsyncGenerator<RecordBatch>;
  /** rows joined so far; shards joined so far (the writer of partitioned output counts its files) */
  counts: { rows: number; shards: number };
  progress(p: Omit<JoinProgress, "shardsTotal" | "rowsTotal">): void;
}

/**
 * Steps 0-2 (provenance, presence, line counts; nothing is read as data before they pass) and
 * the aligner of step 3. Undefined for a preparation with no rows and no job.
 */
async function checkJoin(r: Common, options: JoinRowsOptions): Promise<CheckedJoin | undefined> {
  const d = r.descriptor;
  const storage = r.storage;
  if (!d.job && d.shards.length === 0) return undefined;
  const all = jobShards(d);
  const job = d.job!;
  const shards = shardsOfPart(all, r.part);
  const outOfName = new Map<string, Location>();
  const outOf = (s: ShardEntry): Location => outOfName.get(s.name)!;
  const rowsTotal = shards.reduce((a, s) => a + s.rows, 0);
  const progress = (p: Omit<JoinProgress, "shardsTotal" | "rowsTotal">): void => options.onProgress?.({ ...p, shardsTotal: shards.length, rowsTotal });

  // 0. the job completed, and can be read
  if (job.status !== "Completed" && !r.allowMissing) {
    const how =
      job.status === "InProgress" || job.status === "Stopping"
        ? `wait for it to end (btkit status --wait), then join the descriptor it prints`
        : `transform its missing shards again with btkit submit --retry-failed, or join the shards it finished with ${optionHint("allowMissing", true)}`;
    throw new BtkitError("JOIN_JOB_STATUS", `job ${job.name} is ${job.status}${job.failureReason ? ` (${job.failureReason})` : ""}: join reads only a Completed job's output; ${how}`, { job: job.name, expected: "Completed", got: job.status });
  }
  const layout = outputLayoutOf(job.request, d.modelInput.features.length);
  if (isLayoutProblem(layout)) {
    throw new BtkitError("JOIN_PARSE", `job ${job.name}'s .out lines cannot be read: ${layout.problem} (${layout.field})`, { job: job.name, field: layout.field });
  }

  // 1. every .out exists, in the output of the job that was given its shard, and is that job's
  const present: ShardEntry[] = [];
  const missing: string[] = [];
  const foreign: string[] = [];
  for (const o of await shardOutputs(job, shards, storage, options.signal)) {
    const s = o.shard;
    outOfName.set(s.name, o.location);
    if (o.state === "foreign") {
      if (!r.allowMissing) {
        throw new BtkitError("JOIN_PROVENANCE", `${formatLocation(o.location)} is not the output of job ${o.producer.name} for shard ${s.name}: ${o.why}. Transform the shard again (btkit submit --retry-failed), or join without it with ${optionHint("allowMissing", true)}`, { shard: s.name, location: formatLocation(o.location), job: o.producer.name, expected: o.producer.createdAt, got: o.lastModified?.toISOString() });
      }
      foreign.push(s.name);
    }
    if (o.state === "present") present.push(s);
    else missing.push(s.name);
  }
  if (missing.length > 0 && !r.allowMissing) {
    throw new BtkitError("JOIN_MISSING_OUTPUT", `${missing.length} of ${counted(shards.length, "shard")} ${missing.length === 1 ? "has" : "have"} no .out under ${job.outputLocation}: ${listNames(missing)}. Run btkit submit --retry-failed to transform them again, or join the rest with ${optionHint("allowMissing", true)}`, { shard: missing[0], location: job.outputLocation, missing, job: job.name });
  }

  // 2. every .out has exactly the shard's rows, before anything is written
  let checked = 0;
  for (const s of present) {
    options.signal?.throwIfAborted();
    progress({ phase: "check", shardsDone: checked, rowsDone: 0, shard: s.name });
    const where = formatLocation(outOf(s));
    const scan = await scanLines(await storage.read(outOf(s), { signal: options.signal }));
    await checkCounts(s, where, scan, r.blankLines, storage, outOf(s));
    checked++;
  }
  progress({ phase: "check", shardsDone: checked, rowsDone: 0 });

  // 3. the aligner: sidecar + .out (+ the model-input shard) -> joined batches
  const keep = d.schema.columns.filter((c) => c.roles.includes("keep")).map((c) => ({ name: c.name, type: c.type }));
  const keptNames = new Set(keep.map((k) => k.name));
  const featureColumns = d.modelInput.features
    .map((name, index) => ({ name, index, type: d.schema.columns.find((c) => c.name === name)!.type }))
    .filter((c) => !keptNames.has(c.name));
  const aligner = createAligner({
    keep,
    echo: hasEcho(layout) ? { layout, inputFields: d.modelInput.features.length } : undefined,
    features: options.withFeatures !== false ? { contentType: d.modelInput.contentType, columns: featureColumns } : undefined,
    // the input's columns in the input's order, then the predictions
    order: d.schema.columns.filter((c) => keptNames.has(c.name) || options.withFeatures !== false).map((c) => c.name),
    rowNumber: options.rowNumber,
    batchRows: options.batchRows,
    blankLines: r.blankLines,
    maxLineBytes: options.maxLineBytes,
    predictions: {
      // the echo check hands on the prediction part of each line, in the job's Accept format
      format: hasEcho(layout) && (options.predictionFormat ?? "auto") === "auto" ? (layout.kind === "csv-join" ? "csv" : "json") : options.predictionFormat,
      accept: job.accept,
      prefix: options.predictionPrefix ?? job.predictionPrefix,
      scalarName: options.predictionName ?? job.predictionName,
      types: options.predictionTypes,
      widenToUtf8: options.widenToUtf8,
    },
  });
  const inputs = present.map((s): ShardInput => {
    let sidecar: ReturnType<typeof hashing> | undefined;
    let shard: ReturnType<typeof hashing> | undefined;
    let checked: Promise<void> | undefined;
    return {
      name: s.name,
      rows: s.rows,
      firstRow: s.firstRow,
      outLocation: formatLocation(outOf(s)),
      sidecarLocation: s.sidecar,
      openOut: () => storage.read(outOf(s), { signal: options.signal }),
      openSidecar: async () => {
        sidecar = hashing(await storage.read(s.sidecar, { signal: options.signal, decompress: "never" }));
        return sidecar.stream;
      },
      // once per shard: the aligner checks a Parquet sidecar as soon as it holds its bytes (before
      // decoding them), and every sidecar again at its end
      checkSidecar: () =>
        (checked ??= (async () => {
          const got = await sidecar?.finish();
          if (s.sidecarSha256 !== undefined && got !== undefined && got !== s.sidecarSha256) {
            throw new BtkitError("IO_CHANGED", `the sidecar of shard ${s.name} (${s.sidecar}) changed after prep wrote it: sha256 ${got}, the descriptor records ${s.sidecarSha256}; prepare it again (btkit prep --overwrite) and transform again`, { shard: s.name, location: s.sidecar, expected: s.sidecarSha256, got });
          }
        })()),
      shardLocation: s.location,
      // the shard's stored bytes are hashed as they are read (features and echoes come from them), then gunzipped
      openShard: async () => {
        shard = hashing(await storage.read(s.location, { signal: options.signal, decompress: "never" }));
        return gunzipIfGzip(Readable.from(shard.stream), s.location);
      },
      checkShard: async () => {
        const got = await shard?.finish();
        if (got !== undefined && got !== s.sha256) {
          throw new BtkitError("IO_CHANGED", `model-input shard ${s.name} (${s.location}) changed after prep wrote it: sha256 ${got}, the descriptor records ${s.sha256}; the features read back from it would not be the rows the model saw. Prepare it again (btkit prep --overwrite) and transform again`, { shard: s.name, location: s.location, expected: s.sha256, got });
        }
      },
    };
  });
  const counts = { rows: 0, shards: 0 };
  const batches = async function* (shardInputs: ShardInput[]): AsyncGenerator<RecordBatch> {
    let current: string | undefined;
    for await (const j of aligner.align(shardInputs)) {
      if (current !== undefined && j.shard !== current) counts.shards++;
      current = j.shard;
      counts.rows += j.batch.numRows;
      progress({ phase: "join", shardsDone: counts.shards, rowsDone: counts.rows, shard: j.shard });
      yield j.batch;
    }
  };
  const schema = (): Schema => aligner.schema() ?? emptySchemaOf(d, options, aligner.parser.fieldsWithoutData());
  // with no shard to join, its columns are refused (if they are) before anything is written
  if (present.length === 0) schema();
  return { job, all, part: r.part, present, missing, foreign, aligner, schema, inputs, batches, counts, progress };
}

/** Rows, columns and the notes of every normalization, once the aligner has joined every shard. */
function summaryOf(c: CheckedJoin, widened: readonly WidenToFloat64[]): JoinSummary {
  const { aligner, job } = c;
  const rowsPerShard: Record<string, number> = {};
  let blank = 0;
  let crlf = 0;
  for (const [name, st] of aligner.stats) {
    rowsPerShard[name] = st.rows;
    blank += st.blankLinesSkipped;
    crlf += st.crlfStripped;
  }
  const notes = [
    ...widened.map((w) => ({ reason: `prediction column ${w.column} widened from int64 to float64 (line ${w.line} of ${w.location}, shard ${w.shard}, holds the first value int64 cannot)`, count: 1 })),
    { reason: `job ${job.name} is ${job.status}: only its finished shards were joined (--allow-missing)`, count: job.status === "Completed" ? 0 : c.present.length },
    { reason: "foreign .out files (written outside their job's lifetime) left out (--allow-missing)", count: c.foreign.length },
    { reason: "JoinSource=Input lines whose echoed input was checked against the shard line", count: aligner.echo?.checked ?? 0 },
    { reason: "float64 feature values read back from the shards with more significant digits than a double keeps: rounded (--schema NAME:utf8 or decimal(P,S) at prep keeps them exactly)", count: aligner.features?.rounded ?? 0 },
    { reason: "blank .out lines skipped (--blank-lines skip)", count: blank },
    { reason: "CR before LF stripped from .out lines", count: crlf },
    { reason: "prediction values widened to utf8 (--widen-to-utf8)", count: aligner.parser.widened },
    { reason: PREDICTIONS_ROUNDED_NOTE, count: aligner.parser.rounded },
  ].filter((n) => n.count > 0);
  if (c.part && c.inputs.length === 0) notes.push({ reason: EMPTY_PART_NOTE, count: 1 });
  return {
    rows: c.counts.rows,
    rowsPerShard,
    missing: c.missing,
    columns: c.schema().fields.map((f) => ({ name: f.name, type: columnTypeOfField(f) })),
    notes,
  };
}

async function joinOnce(options: JoinOptions, widened: readonly WidenToFloat64[]): Promise<JoinResult> {
  const r = resolve(options);
  const storage = r.storage;
  const c = await checkJoin(r, options);
  if (!c) return joinNothing(r, options);
  const { job, all, inputs } = c;

  // 3. join and write (into a folder: only beside files of this same dataset)
  let dataset: FolderDataset | undefined;
  if (r.partitioned || r.part) {
    dataset = folderDataset(all, EXTENSION_OF[r.format], r.partitioned, r.part);
    if (r.part) {
      dataset.identity = {
        part: r.part,
        of: {
          job: job.name,
          shards: all.length,
          parts: r.part.count,
          format: r.format,
          partitioned: r.partitioned,
          rowNumber: options.rowNumber ?? false,
          features: options.withFeatures !== false,
          predictionName: options.predictionName ?? job.predictionName ?? null,
          predictionPrefix: options.predictionPrefix ?? job.predictionPrefix ?? null,
          predictionTypes: Object.fromEntries(Object.entries(options.predictionTypes ?? {}).sort()),
        },
      };
    }
    await prepareFolder(storage, storage.parse(r.out), dataset, `this join (job ${job.name})`);
  }
  // no batch (no shard joined): a table of the columns known without one, never an empty file
  const write = createWriter({ format: r.format, compression: options.compression, rowGroupRows: options.rowGroupRows, parquetVersion: options.parquetVersion, emptySchema: c.schema });
  // join's own batches: nothing reads them after the writer, so their buffers may move to its worker (batch-transfer.ts)
  const writer = (batches: AsyncIterable<RecordBatch>): AsyncIterable<Uint8Array> => write(handedOver(batches));
  const ext = EXTENSION_OF[r.format];
  const outLoc = storage.parse(r.out);
  const files: string[] = [];
  let location: string;
  if (r.partitioned) {
    location = withSlash(toUri(outLoc));
    // a shard not joined (missing) has no file of this dataset: one an earlier join wrote would be read as its rows
    for (const name of c.missing) await storage.delete(storage.child(outLoc, `${shardStem(name)}${ext}`));
    try {
      for (const s of inputs) {
        const target = storage.child(outLoc, `${shardStem(s.name)}${ext}`);
        // a shard with no rows still gets its file (with the columns), so the dataset lists every shard
        const w = await storage.write(target, writer(c.batches([s])), tableWriteOptions(options.signal));
        files.push(toUri(storage.parse(w.location)));
        c.counts.shards++;
      }
    } catch (err) {
      await Promise.all(files.map((f) => storage.delete(f).catch(() => undefined)));
      throw err;
    }
  } else {
    const target = r.part ? storage.child(outLoc, `${partLabel(r.part)}${ext}`) : outLoc;
    if (r.part && inputs.length === 0) {
      // a part that joins nothing writes no table (EMPTY_PART_NOTE); one an earlier run of it wrote goes
      await storage.delete(target);
      location = withSlash(toUri(outLoc));
    } else if (options.sink) {
      await options.sink.write(writer(c.batches(inputs)));
      location = options.sink.location;
    } else {
      const w = await storage.write(target, writer(c.batches(inputs)), tableWriteOptions(options.signal));
      location = toUri(storage.parse(w.location));
      files.push(location);
    }
    c.counts.shards = inputs.length;
  }

  const summary = summaryOf(c, widened);
  const results: ResultsSection = {
    location,
    format: r.format,
    partitioned: r.partitioned,
    rows: summary.rows,
    rowsPerShard: summary.rowsPerShard,
    missing: summary.missing,
    files,
    ...(r.part ? { part: r.part } : {}),
    columns: summary.columns,
    notes: summary.notes,
  };
  if (dataset) await recordIdentity(storage, outLoc, dataset);
  const done = await publishResults(r, outLoc, results, options.signal);
  c.progress({ phase: "done", shardsDone: inputs.length, rowsDone: summary.rows });
  return done;
}

/**
 * The descriptor with its results; a partitioned output gets it as btkit.json, a part (partitioned
 * or not) as btkit-part-IofN.json (the part's completion marker, combined by join --processing),
 * written last.
 */
async function publishResults(r: Resolved, outLoc: Location, results: ResultsSection, signal: AbortSignal | undefined): Promise<JoinResult> {
  const descriptor: Descriptor = { ...r.descriptor, results };
  if (r.partitioned || r.part) {
    const name = r.part ? `btkit-${partLabel(r.part)}.json` : LAYOUT.descriptor;
    await r.storage.write(r.storage.child(outLoc, name), `${serializeDescriptor(descriptor)}\n`, { signal });
  }
  return { descriptor, results };
}

const NOTHING_NOTE = { reason: "the preparation has no rows: no job ran, the table is empty", count: 1 };

/**
 * A --part that joins no shard (more parts than shards, or every one of its shards missing) writes
 * no table file: its columns would lack the inferred predictions, and readers of the dataset's
 * files take one file's columns for all (DuckDB's read_parquet of a glob refuses the other files,
 * or drops the predictions when the empty file comes first). Its results list no file.
 */
export const EMPTY_PART_NOTE = "parts that joined no rows (no shard of the job in the part, or every one missing): no table file written, so every file of the dataset has the prediction columns";

/**
 * The columns of a joined table no shard was joined into (a preparation with no rows, or every
 * shard missing): the input's kept and feature columns in the input's order, the row number
 * (--row-number), then `predictions` (the declared ones, as declared: the rest, and which of them
 * the lines would have, are known only from .out lines). The aligner's columns for the same
 * options, when it has joined rows. A declared name of an input column is OPT_INVALID.
 */
function emptySchemaOf(d: Descriptor, options: JoinRowsOptions, predictions: readonly Field[] = []): Schema {
  const input = d.schema.columns.filter((c) => c.roles.includes("keep") || (options.withFeatures !== false && c.roles.includes("feature"))).map((c) => fieldOf(c.name, c.type));
  if (options.rowNumber) input.push(fieldOf(SIDECAR_ROW_COLUMN, "int64"));
  // a declared name is taken as a prediction column (no line says which there are), but never in place of an input column
  const clash = predictions.find((p) => input.some((f) => f.name === p.name));
  if (clash !== undefined) {
    throw new BtkitError("OPT_INVALID", `predictionTypes declares ${JSON.stringify(clash.name)}, which is a column of the input, not a prediction column: declare the prediction columns only (PREFIX+key of objects, PREFIX+index of arrays, or the scalar's name)`, { option: "predictionTypes", got: clash.name });
  }
  return new Schema([...input, ...predictions]);
}

/**
 * A preparation with no rows has no job (submit launches nothing for it): the joined table is
 * empty, with the kept columns, so `prep | submit | join` over an empty input ends with exit 0.
 */
async function joinNothing(r: Resolved, options: JoinOptions): Promise<JoinResult> {
  const storage = r.storage;
  const schema = emptySchemaOf(r.descriptor, options);
  const writer = createWriter({ format: r.format, compression: options.compression, rowGroupRows: options.rowGroupRows, parquetVersion: options.parquetVersion, emptySchema: () => schema });
  const outLoc = storage.parse(r.out);
  const ext = EXTENSION_OF[r.format];
  if (r.partitioned || r.part) await prepareFolder(storage, outLoc, folderDataset([], ext, r.partitioned, r.part), "this join");
  const target = r.partitioned ? storage.child(outLoc, `empty${ext}`) : r.part ? storage.child(outLoc, `${partLabel(r.part)}${ext}`) : outLoc;
  const none = async function* (): AsyncGenerator<RecordBatch> {};
  if (options.sink) await options.sink.write(writer(none()));
  const file = options.sink ? options.sink.location : toUri(storage.parse((await storage.write(target, writer(none()), tableWriteOptions(options.signal))).location));
  const results: ResultsSection = {
    location: r.partitioned ? withSlash(toUri(outLoc)) : file,
    format: r.format,
    partitioned: r.partitioned,
    rows: 0,
    rowsPerShard: {},
    missing: [],
    files: options.sink ? [] : [file],
    ...(r.part ? { part: r.part } : {}),
    columns: schema.fields.map((f) => ({ name: f.name, type: columnTypeOfField(f) })),
    notes: [{ ...NOTHING_NOTE }],
  };
  return publishResults(r, outLoc, results, options.signal);
}

async function checkCounts(s: ShardEntry, where: string, scan: LineScan, policy: BlankLinePolicy, storage: Storage, loc: Location): Promise<void> {
  const found = policy === "skip" ? scan.lines - scan.blank : scan.lines;
  if (found === s.rows) {
    if (scan.blank > 0 && policy === "error") {
      throw new BtkitError("JOIN_BLANK_LINE", `line ${scan.firstBlank} of ${where} is blank (${counted(scan.blank, "blank line")} in all), though the line count matches shard ${s.name}'s ${counted(s.rows, "row")}: some other line is missing, so predictions would be shifted; use ${optionHint("blankLines", "skip")} only if blank lines carry no record`, { shard: s.name, location: where, line: scan.firstBlank, count: scan.blank });
    }
    return;
  }
  const hints: string[] = [];
  let line: number | undefined;
  if (scan.blank > 0) {
    line = scan.firstBlank;
    hints.push(`line ${scan.firstBlank} is blank (${counted(scan.blank, "blank line")} in all: AssembleWith=Line adding a newline after responses that already end with one? see ${optionHint("blankLines")})`);
  }
  if (scan.firstArray !== undefined && found < s.rows) {
    line ??= scan.firstArray;
    const total = await arrayTotal(storage, loc);
    hints.push(
      total === s.rows
        ? `line ${scan.firstArray} is a JSON array, and the arrays hold ${total} values in all, exactly the shard's rows: the container returned one line per mini-batch, not per record (check BatchStrategy, Accept and the container's output)`
        : `line ${scan.firstArray} is a JSON array (a whole mini-batch in one line?)`,
    );
  }
  if (found === s.rows + 1 && scan.blank === 0) {
    line ??= 1;
    hints.push(`line 1 may be a header: ${JSON.stringify(scan.firstLine)}`);
  }
  throw new BtkitError(
    "JOIN_COUNT_MISMATCH",
    `${where} has ${counted(found, "line")}, but shard ${s.name} has ${counted(s.rows, "row")}${hints.length > 0 ? `: ${hints.join("; ")}` : ""}. The model must answer one line per record; once it does, run a fresh job (btkit submit --new) and join its descriptor`,
    { shard: s.name, location: where, expected: s.rows, got: found, line },
  );
}

/** Values in all: a JSON array line counts its length, any other line counts one. */
async function arrayTotal(storage: Storage, loc: Location): Promise<number | undefined> {
  const reader = new LineReader(await storage.read(loc), { location: formatLocation(loc), blankLines: "skip", maxLineBytes: 1024 * 1024 * 1024 });
  let total = 0;
  try {
    while (true) {
      const b = await reader.take(4096);
      if (b.lines.length === 0) return total;
      for (const l of b.lines) {
        if (l.startsWith("[")) {
          const v: unknown = JSON.parse(l);
          total += Array.isArray(v) ? v.length : 1;
        } else total++;
      }
    }
  } catch {
    return undefined;
  } finally {
    await reader.close().catch(() => undefined);
  }
}


/**
 * A stream that hashes the bytes passing through. The Arrow reader stops at the end-of-stream
 * marker without asking for more, and may close its source: `finish()` reads what is left and
 * returns the sha256 of all the bytes.
 */
function hashing(source: AsyncIterable<Uint8Array>): { stream: AsyncIterable<Uint8Array>; finish(): Promise<string> } {
  const it = source[Symbol.asyncIterator]();
  const digest = new Digest();
  const step = async (): Promise<IteratorResult<Uint8Array>> => {
    const r = await it.next();
    if (!r.done) digest.update(Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    return r;
  };
  const stream: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({ next: step, return: async () => ({ done: true, value: undefined }) }),
  };
  return {
    stream,
    finish: async () => {
      while (!(await step()).done);
      return digest.finish();
    },
  };
}

function listNames(names: string[]): string {
  return names.length <= 10 ? names.join(", ") : `${names.slice(0, 10).join(", ")} and ${names.length - 10} more`;
}

function withSlash(uri: string): string {
  return uri.endsWith("/") ? uri : `${uri}/`;
}
