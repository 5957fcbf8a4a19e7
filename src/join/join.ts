/**
 * join(options): the whole join of a descriptor's shards, checked before anything is published.
 *
 * 1. Every shard of the part must have its .out (JOIN_MISSING_OUTPUT lists the missing ones;
 *    allowMissing joins the others and records the missing in results.missing).
 * 2. Every .out is counted first (a byte scan, no parsing): its lines must equal the shard's rows
 *    (JOIN_COUNT_MISMATCH names shard, expected, found and the first line that looks wrong) and
 *    hold no blank line unless blankLines is "skip" (JOIN_BLANK_LINE).
 * 3. The aligner streams sidecar + .out into joined batches; the writer turns them into one file
 *    (written atomically: a failure leaves nothing under the final name) or, partitioned, one file
 *    per shard and then the descriptor (btkit.json) last; files of a failed partitioned join are
 *    deleted.
 */
import type { RecordBatch } from "apache-arrow";
import { BtkitError } from "../errors.js";
import type { ColumnType, Descriptor, ResultsSection, ShardEntry } from "../protocol/descriptor.js";
import { serializeDescriptor } from "../protocol/descriptor.js";
import { LAYOUT, outputNameFor } from "../protocol/layout.js";
import { formatLocation, toUri, type Location } from "../io/location.js";
import { Storage } from "../io/storage.js";
import { createAligner, type JoinedBatch, type ShardInput } from "./aligner.js";
import { columnTypeOfField } from "./columns.js";
import { LineReader, scanLines, type BlankLinePolicy, type LineScan } from "./lines.js";
import { checkPart, shardStem, shardsOfPart, jobShards, type Part } from "./plan.js";
import type { PredictionFormat } from "./predictions.js";
import { createWriter, EXTENSION_OF, OUTPUT_FORMATS, type OutputFormat, type ParquetCompression } from "./writers.js";

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
  /** also read the feature columns back from the model-input shards (those not kept already); default false */
  withFeatures?: boolean;
  /** blank .out lines: "error" (default) or "skip" (counted in results.notes) */
  blankLines?: BlankLinePolicy;
  /** "auto" (default: the job's Accept, else the first line), "json", "csv" or "text" */
  predictionFormat?: PredictionFormat;
  /** prefix of object-key and index prediction columns; default "pred_" */
  predictionPrefix?: string;
  /** name of a scalar prediction column; default "prediction" */
  predictionName?: string;
  /** declared prediction column types; default none (inferred from the first batch) */
  predictionTypes?: Record<string, ColumnType>;
  /** conflicting prediction values become utf8 JSON text (counted); default false */
  widenToUtf8?: boolean;
  /** rows per joined batch; default 16384 */
  batchRows?: number;
  /** longest .out line in bytes; default 64 MiB */
  maxLineBytes?: number;
  /** default: a Storage from the environment */
  storage?: Storage;
  /** called as shards are checked and joined */
  onProgress?: (p: JoinProgress) => void;
  signal?: AbortSignal;
}

export interface JoinResult {
  /** the input descriptor with its results section */
  descriptor: Descriptor;
  results: ResultsSection;
}

interface Resolved {
  descriptor: Descriptor;
  out: string;
  format: OutputFormat;
  partitioned: boolean;
  part: Part | undefined;
  allowMissing: boolean;
  blankLines: BlankLinePolicy;
  storage: Storage;
}

function resolve(o: JoinOptions): Resolved {
  if (typeof o.out !== "string" || o.out.length === 0) throw new BtkitError("OPT_INVALID", "join needs out: where to write the joined table", { option: "out" });
  const format = o.format ?? "parquet";
  if (!OUTPUT_FORMATS.includes(format)) throw new BtkitError("OPT_INVALID", `format must be one of ${OUTPUT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`, { option: "format", got: format });
  return {
    descriptor: o.descriptor,
    out: o.out,
    format,
    partitioned: o.partitioned ?? false,
    part: o.part === undefined ? undefined : checkPart(o.part),
    allowMissing: o.allowMissing ?? false,
    blankLines: o.blankLines ?? "error",
    storage: o.storage ?? new Storage(),
  };
}

export async function join(options: JoinOptions): Promise<JoinResult> {
  const r = resolve(options);
  const d = r.descriptor;
  const storage = r.storage;
  const all = jobShards(d);
  const job = d.job!;
  const shards = shardsOfPart(all, r.part);
  const outBase = storage.parse(job.outputLocation);
  const outOf = (s: ShardEntry): Location => storage.child(outBase, outputNameFor(s.name));
  const rowsTotal = shards.reduce((a, s) => a + s.rows, 0);
  const progress = (p: Omit<JoinProgress, "shardsTotal" | "rowsTotal">): void => options.onProgress?.({ ...p, shardsTotal: shards.length, rowsTotal });

  // 1. every .out exists
  const present: ShardEntry[] = [];
  const missing: string[] = [];
  for (const s of shards) {
    options.signal?.throwIfAborted();
    if (await storage.exists(outOf(s))) present.push(s);
    else missing.push(s.name);
  }
  if (missing.length > 0 && !r.allowMissing) {
    const status = job.status !== "Completed" ? ` The job ${job.name} is ${job.status}${job.failureReason ? `: ${job.failureReason}` : ""}.` : "";
    throw new BtkitError("JOIN_MISSING_OUTPUT", `${missing.length} of ${shards.length} shards have no .out under ${job.outputLocation}: ${listNames(missing)}.${status} Run btkit submit --retry-failed to transform them again, or join the rest with --allow-missing`, { shard: missing[0], location: job.outputLocation, missing, job: job.name });
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

  // 3. join and write
  const keep = d.schema.columns.filter((c) => c.roles.includes("keep")).map((c) => ({ name: c.name, type: c.type }));
  const keptNames = new Set(keep.map((k) => k.name));
  const featureColumns = d.modelInput.features
    .map((name, index) => ({ name, index, type: d.schema.columns.find((c) => c.name === name)!.type }))
    .filter((c) => !keptNames.has(c.name));
  const aligner = createAligner({
    keep,
    features: options.withFeatures ? { contentType: d.modelInput.contentType, columns: featureColumns } : undefined,
    rowNumber: options.rowNumber,
    batchRows: options.batchRows,
    blankLines: r.blankLines,
    maxLineBytes: options.maxLineBytes,
    predictions: {
      format: options.predictionFormat,
      accept: job.accept,
      prefix: options.predictionPrefix,
      scalarName: options.predictionName,
      types: options.predictionTypes,
      widenToUtf8: options.widenToUtf8,
      joinSource: joinSourceOf(job.request),
      echoedFields: d.modelInput.features.length,
    },
  });
  const writer = createWriter({ format: r.format, compression: options.compression, rowGroupRows: options.rowGroupRows, parquetVersion: options.parquetVersion, emptySchema: aligner.schema });
  const inputs = present.map((s): ShardInput => ({
    name: s.name,
    rows: s.rows,
    firstRow: s.firstRow,
    outLocation: formatLocation(outOf(s)),
    sidecarLocation: s.sidecar,
    openOut: () => storage.read(outOf(s), { signal: options.signal }),
    openSidecar: () => storage.read(s.sidecar, { signal: options.signal, decompress: "never" }),
    shardLocation: s.location,
    openShard: () => storage.read(s.location, { signal: options.signal }),
  }));
  let rowsDone = 0;
  let shardsDone = 0;
  const tap = async function* (batches: AsyncIterable<JoinedBatch>): AsyncGenerator<RecordBatch> {
    let current: string | undefined;
    for await (const j of batches) {
      if (current !== undefined && j.shard !== current) shardsDone++;
      current = j.shard;
      rowsDone += j.batch.numRows;
      progress({ phase: "join", shardsDone, rowsDone, shard: j.shard });
      yield j.batch;
    }
  };
  const ext = EXTENSION_OF[r.format];
  const outLoc = storage.parse(r.out);
  const files: string[] = [];
  let location: string;
  if (r.partitioned) {
    location = withSlash(toUri(outLoc));
    try {
      for (const s of inputs) {
        const target = storage.child(outLoc, `${shardStem(s.name)}${ext}`);
        // a shard with no rows still gets its file (with the columns), so the dataset lists every shard
        const w = await storage.write(target, writer(tap(aligner.align([s]))), { signal: options.signal });
        files.push(toUri(storage.parse(w.location)));
        shardsDone++;
      }
    } catch (err) {
      await Promise.all(files.map((f) => storage.delete(f).catch(() => undefined)));
      throw err;
    }
  } else {
    const target = r.part ? storage.child(outLoc, `part-${r.part.index}of${r.part.count}${ext}`) : outLoc;
    const w = await storage.write(target, writer(tap(aligner.align(inputs))), { signal: options.signal });
    location = toUri(storage.parse(w.location));
    files.push(location);
    shardsDone = inputs.length;
  }

  const rowsPerShard: Record<string, number> = {};
  let blank = 0;
  let crlf = 0;
  for (const [name, st] of aligner.stats) {
    rowsPerShard[name] = st.rows;
    blank += st.blankLinesSkipped;
    crlf += st.crlfStripped;
  }
  const notes = [
    { reason: "blank .out lines skipped (--blank-lines skip)", count: blank },
    { reason: "CR before LF stripped from .out lines", count: crlf },
    { reason: "prediction values widened to utf8 (--widen-to-utf8)", count: aligner.parser.widened },
  ].filter((n) => n.count > 0);
  const schema = aligner.schema();
  const results: ResultsSection & Record<string, unknown> = {
    location,
    format: r.format,
    partitioned: r.partitioned,
    rows: rowsDone,
    rowsPerShard,
    missing,
    files,
    ...(r.part ? { part: r.part } : {}),
    columns: schema ? schema.fields.map((f) => ({ name: f.name, type: columnTypeOfField(f) })) : [],
    notes,
  };
  const descriptor: Descriptor = { ...d, results };
  if (r.partitioned) {
    const name = r.part ? `btkit-part-${r.part.index}of${r.part.count}.json` : LAYOUT.descriptor;
    await storage.write(storage.child(outLoc, name), `${serializeDescriptor(descriptor)}\n`, { signal: options.signal });
  }
  progress({ phase: "done", shardsDone: inputs.length, rowsDone });
  return { descriptor, results };
}

async function checkCounts(s: ShardEntry, where: string, scan: LineScan, policy: BlankLinePolicy, storage: Storage, loc: Location): Promise<void> {
  const found = policy === "skip" ? scan.lines - scan.blank : scan.lines;
  if (found === s.rows) {
    if (scan.blank > 0 && policy === "error") {
      throw new BtkitError("JOIN_BLANK_LINE", `line ${scan.firstBlank} of ${where} is blank (${scan.blank} blank lines in all), though the line count matches shard ${s.name}'s ${s.rows} rows: some other line is missing, so predictions would be shifted; use --blank-lines skip only if blank lines carry no record`, { shard: s.name, location: where, line: scan.firstBlank, count: scan.blank });
    }
    return;
  }
  const hints: string[] = [];
  let line: number | undefined;
  if (scan.blank > 0) {
    line = scan.firstBlank;
    hints.push(`line ${scan.firstBlank} is blank (${scan.blank} blank lines in all: AssembleWith=Line adding a newline after responses that already end with one? see --blank-lines)`);
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
  throw new BtkitError("JOIN_COUNT_MISMATCH", `${where} has ${found} lines, but shard ${s.name} has ${s.rows} rows${hints.length > 0 ? `: ${hints.join("; ")}` : ""}`, { shard: s.name, location: where, expected: s.rows, got: found, line });
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
  }
}

function joinSourceOf(request: Record<string, unknown>): "none" | "input" {
  const dp = request.DataProcessing as { JoinSource?: unknown } | undefined;
  return dp?.JoinSource === "Input" ? "input" : "none";
}

function listNames(names: string[]): string {
  return names.length <= 10 ? names.join(", ") : `${names.slice(0, 10).join(", ")} and ${names.length - 10} more`;
}

function withSlash(uri: string): string {
  return uri.endsWith("/") ? uri : `${uri}/`;
}
