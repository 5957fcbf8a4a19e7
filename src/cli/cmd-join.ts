/**
 * btkit join: match the job's .out files back to their rows and write the joined table. The join
 * library (Arrow, Parquet, the S3 SDK) loads when the command runs, not for its help.
 */
import { BtkitError, counted } from "../errors.js";
import { COLUMN_TYPE_NAMES, isColumnType, serializeDescriptor, type ColumnType, canonicalType } from "../protocol/descriptor.js";
import type { OutputFormat, ParquetCompression, PredictionFormat } from "../join/index.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import type { CliContext } from "./context.js";
import { Progress } from "./progress.js";
import { partFlag } from "./part-auto.js";
import { PROCESSING_FLAGS, wantsProcessing } from "./processing.js";

/**
 * The choices of --format, --compression and --prediction-format: join's OUTPUT_FORMATS,
 * PARQUET_COMPRESSIONS and PREDICTION_FORMATS, spelled out here because those live beside the
 * Arrow and Parquet code (test/cli/main.test.ts checks that the lists agree).
 */
export const FORMAT_CHOICES = ["parquet", "arrow", "arrow-stream", "jsonl", "csv"] as const satisfies readonly OutputFormat[];
export const COMPRESSION_CHOICES = ["zstd", "snappy", "none"] as const satisfies readonly ParquetCompression[];
export const PREDICTION_FORMAT_CHOICES = ["auto", "json", "csv", "text"] as const satisfies readonly PredictionFormat[];

/**
 * The output format: --format, else the one --out's file extension names, else Parquet. A file
 * whose extension names another format than --format is refused (a .csv holding Parquet bytes is
 * a trap for whoever opens it); a folder's extension (x.csv/ of --part) only chooses when --format
 * does not. `extensions` is join's EXTENSION_OF.
 */
function formatFor(out: string, given: OutputFormat | undefined, folder: boolean, extensions: Record<OutputFormat, string>): OutputFormat {
  const named = (Object.entries(extensions) as Array<[OutputFormat, string]>).find(([, ext]) => out.toLowerCase().replace(/\/+$/, "").endsWith(ext))?.[0];
  if (given !== undefined && named !== undefined && given !== named && !folder) {
    throw new BtkitError("USAGE_BAD_VALUE", `--out ${out} ends in ${extensions[named]}, but --format is ${given}: give --format ${named}, or an --out ending in ${extensions[given]}`, { option: "--format", expected: named, got: given });
  }
  return given ?? named ?? "parquet";
}

/** The formats a stream can carry: Parquet and the Arrow file format end with a footer that points back into the file. */
const STREAM_FORMATS: readonly OutputFormat[] = ["jsonl", "csv", "arrow-stream"];

/** The format of `--out -` (stdout): --format, else JSON Lines; Parquet and the Arrow file format refused. */
function stdoutFormat(ctx: CliContext, given: OutputFormat | undefined): OutputFormat {
  const format = given ?? "jsonl";
  if (!STREAM_FORMATS.includes(format)) {
    throw new BtkitError("USAGE_BAD_VALUE", `--out - streams the table to stdout, which cannot hold ${format === "parquet" ? "Parquet" : "an Arrow IPC file"} (its footer points back into the file): give --format jsonl, csv or arrow-stream, or an --out file`, { option: "--format", expected: STREAM_FORMATS.join("|"), got: format });
  }
  if (format === "arrow-stream" && ctx.io.stdout.isTTY) {
    throw new BtkitError("USAGE_BAD_VALUE", "--out - --format arrow-stream writes binary Arrow IPC, and stdout is a terminal: redirect it (> FILE, or | a reader of Arrow streams)", { option: "--out" });
  }
  return format;
}

export const joinCommand: Command = {
  spec: {
    name: "join",
    summary: "join the job's predictions back to their rows: Parquet, Arrow, JSON Lines or CSV",
    usage: "--out PATH|URI|- [--descriptor PATH|URI] [options]\n       btkit join --inputs PATH|URI... --outputs PATH|URI --out PATH|URI [options]",
    description:
      "Reads the descriptor btkit submit printed (with its job section) from stdin or --descriptor. Before anything is written: the job must be Completed (or --allow-missing); each shard's .out must be that job's (under its output, written while it ran) with exactly one line per row; for --join-source Input jobs every line must echo its own input record; the job's --input-filter/--output-filter decide what a line holds. Any failure names the shard, file and line. Prints the descriptor with its results section as one JSON line.",
    examples: ["btkit prep data.csv --out s3://b/run1 | btkit submit ... | btkit join --out s3://b/run1/joined.parquet", "btkit submit --descriptor run1/ --model m --wait > job.json && btkit join --descriptor job.json --out joined/ --partitioned", "btkit join --descriptor job.json --out - --format csv | head"],
    flags: {
      descriptor: { type: "string", value: "PATH|URI", help: "read the descriptor from this file instead of stdin (a folder or prefix means its btkit.json; a preparation's, without a job: its latest job's, stored beside the job's output)" },
      inputs: { type: "string", value: "PATH|URI", multiple: true, help: "without a descriptor: model-input files (or folders of them), each paired with <name>.out under --outputs", group: "Without a descriptor" },
      outputs: { type: "string", value: "PATH|URI", help: "without a descriptor: the folder/prefix holding the .out files", group: "Without a descriptor" },
      "input-format": { type: "string", value: "FORMAT", choices: ["auto", "csv", "json"], default: "auto", help: "how input lines are read (auto: .csv names are CSV, others by their first line)", group: "Without a descriptor" },
      "join-source": { type: "string", value: "SOURCE", choices: ["none", "input"], default: "none", help: "input: the outputs were made with JoinSource=Input (with a descriptor, the job request says)", group: "Without a descriptor" },
      out: { type: "string", value: "PATH|URI", help: "where to write: a file, a folder/prefix with --partitioned or --part, or - for stdout (JSON Lines, CSV or an Arrow IPC stream; the descriptor then goes to --descriptor-out only)", group: "Output" },
      format: { type: "string", value: "FORMAT", choices: FORMAT_CHOICES, help: "output format; default: from --out's extension (.parquet .arrow .arrows .jsonl .csv), else parquet (jsonl for --out -)", group: "Output" },
      "descriptor-out": { type: "string", value: "PATH|URI", help: "also write the descriptor with its results here (with --out -, the only place it goes: stdout carries the table)", group: "Output" },
      compression: { type: "string", value: "CODEC", choices: COMPRESSION_CHOICES, default: "zstd", help: "Parquet compression", group: "Output" },
      "row-group-rows": { type: "int", value: "N", min: 1, default: 65536, help: "Parquet rows per row group", group: "Output" },
      "parquet-version": { type: "int", value: "1|2", min: 1, max: 2, default: 1, help: "Parquet writer version: 2 (data page v2, delta encodings) is smaller on sequential numbers, but some older readers refuse it", group: "Output" },
      partitioned: { type: "boolean", help: "one file per shard, then btkit.json last", group: "Output" },
      part: { type: "string", value: "i/N|auto", help: "join only slice i (0-based) of N of the shards into --out as a folder (part-<i>of<N>.<ext>, i zero-padded so the parts sort, and last btkit-part-<i>of<N>.json, the part's descriptor with its results); the parts form one dataset. auto: i and N from the engine (SageMaker Processing's resourceconfig.json, AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX with --parts)", group: "Output" },
      parts: { type: "int", value: "N", min: 1, help: "with --part auto under AWS Batch or Kubernetes: the number of parts (the array size or completions)", group: "Output" },
      features: { type: "boolean", default: true, help: "the feature columns prep did not keep in the sidecar are read back from the model-input shards, so the table is the input's whole; --no-features leaves them out", group: "Output" },
      "with-features": { type: "boolean", help: "the same as --features (the default); kept for scripts written before it was", group: "Output" },
      "row-number": { type: "boolean", help: "keep the global row number column __btkit_row", group: "Output" },
      "allow-missing": { type: "boolean", help: "join the shards that have an .out and list the others in results.missing", group: "Matching" },
      "blank-lines": { type: "string", value: "POLICY", choices: ["error", "skip"], default: "error", help: "blank .out lines: error, or skip them (counted)", group: "Matching" },
      "max-line-bytes": { type: "int", value: "N", min: 1, default: 64 * 1024 * 1024, help: "longest .out line accepted", group: "Matching" },
      "prediction-format": { type: "string", value: "FORMAT", choices: PREDICTION_FORMAT_CHOICES, default: "auto", help: "how .out lines are read (auto: the job's Accept, else the first line)", group: "Predictions" },
      "prediction-prefix": { type: "string", value: "TEXT", help: "prefix of object-key and index prediction columns; default: what submit --prediction-prefix recorded, else pred_", group: "Predictions" },
      "prediction-name": { type: "string", value: "NAME", help: "column of a scalar prediction; default: what submit --prediction-name recorded, else prediction", group: "Predictions" },
      "prediction-type": { type: "string", value: "NAME=TYPE", multiple: true, help: `declare a prediction column's type (${COLUMN_TYPE_NAMES}); NAME is the output column (PREFIX+key for objects, which also declares a key later lines bring; PREFIX+index for arrays; the --prediction-name column for scalars); a NAME that is no prediction column is refused`, group: "Predictions" },
      "widen-to-utf8": { type: "boolean", help: "let values that conflict with their column's type become utf8 JSON text (counted)", group: "Predictions" },
      ...PROCESSING_FLAGS,
      ...COMMON_FLAGS,
    },
  },
  async run(ctx, args) {
    // the same command line as a SageMaker Processing job, one part per instance (processing.ts)
    if (wantsProcessing(args)) return (await import("./processing.js")).runProcessing(ctx, args, joinCommand.spec);
    const f = args.flags;
    const out = f.out as string | undefined;
    if (out === undefined) throw new BtkitError("USAGE_MISSING", "btkit join needs --out PATH|URI: where to write the joined table", { option: "out" });
    const toStdout = out === "-";
    if (toStdout && (f.partitioned === true || f.part !== undefined)) {
      throw new BtkitError("USAGE_BAD_VALUE", `--out - is one stream, but ${f.partitioned === true ? "--partitioned" : "--part"} writes files into a folder: give --out a folder or prefix`, { option: "--out" });
    }
    const { join, joinFiles, EXTENSION_OF } = await import("../join/index.js");
    const { partLabel } = await import("../protocol/layout.js");
    const format = toStdout ? stdoutFormat(ctx, f.format as OutputFormat | undefined) : formatFor(out, f.format as OutputFormat | undefined, f.partitioned === true || f.part !== undefined, EXTENSION_OF);
    // --out -: the table is the pipe data; the descriptor goes to --descriptor-out, if anywhere
    const sink = toStdout ? { location: "stdout", write: (body: AsyncIterable<Uint8Array>) => ctx.outStream(body) } : undefined;
    const descriptorOut = f["descriptor-out"] as string | undefined;
    const publish = async (text: string): Promise<void> => {
      if (descriptorOut !== undefined) await (await ctx.storage()).write(descriptorOut, `${text}\n`, { contentType: "application/json", signal: ctx.io.signal });
      if (!toStdout) await ctx.out(`${text}\n`);
      else if (descriptorOut === undefined) ctx.log("join: stdout carries the table, so the descriptor with its results is not printed (--descriptor-out PATH stores it)");
    };
    const types: Record<string, ColumnType> = {};
    for (const spec of (f["prediction-type"] as string[] | undefined) ?? []) {
      const m = /^([^=]+)=(.+)$/.exec(spec);
      if (m) m[2] = canonicalType(m[2]!.trim());
      if (!m || !isColumnType(m[2]!)) {
        throw new BtkitError("USAGE_BAD_VALUE", `--prediction-type takes NAME=TYPE with TYPE one of ${COLUMN_TYPE_NAMES}, got ${JSON.stringify(spec)}`, { option: "prediction-type", got: spec });
      }
      types[m[1]!] = m[2] as ColumnType;
    }
    const part = partFlag(f.part, f.parts, (line) => ctx.log(`join: ${line}`), { env: ctx.env });
    // the options joinFiles and join share, from the same flags
    const shared = {
      storage: await ctx.storage(),
      format,
      compression: f.compression as ParquetCompression,
      rowGroupRows: f["row-group-rows"] as number,
      partitioned: f.partitioned === true,
      allowMissing: f["allow-missing"] === true,
      blankLines: f["blank-lines"] as "error" | "skip",
      maxLineBytes: f["max-line-bytes"] as number,
      predictionFormat: f["prediction-format"] as PredictionFormat,
      predictionPrefix: f["prediction-prefix"] as string | undefined,
      predictionName: f["prediction-name"] as string | undefined,
      predictionTypes: types,
      widenToUtf8: f["widen-to-utf8"] === true,
      sink,
      signal: ctx.io.signal,
    };
    const inputs = f.inputs as string[] | undefined;
    if (inputs !== undefined) {
      const outputs = f.outputs as string | undefined;
      if (outputs === undefined) throw new BtkitError("USAGE_MISSING", "--inputs needs --outputs: the folder/prefix holding the .out files", { option: "outputs" });
      if (part !== undefined) throw new BtkitError("USAGE_BAD_VALUE", "--part needs a descriptor (it slices the descriptor's shards)", { option: "part" });
      const results = await joinFiles({
        inputs,
        outputs,
        out,
        inputFormat: f["input-format"] as "auto" | "csv" | "json",
        joinSource: f["join-source"] as "none" | "input",
        ...shared,
      });
      ctx.log(`join: ${counted(results.rows, "row")} from ${counted(results.pairs.length - results.missing.length, "input file")} -> ${results.location}`);
      ctx.notes("join", results.notes);
      if (results.missing.length > 0) ctx.warn(`${counted(results.missing.length, "input")} had no .out and ${results.missing.length === 1 ? "was" : "were"} not joined: ${results.missing.join(", ")}`);
      // no descriptor to extend: the results section alone, as one JSON line
      await publish(JSON.stringify({ results }));
      return 0;
    }
    const read = await ctx.readDescriptor(f.descriptor as string | undefined);
    // a preparation's descriptor means its latest job's (an empty preparation has none: its table is empty)
    const { descriptor } = read.descriptor.shards.length === 0 ? read : await (await import("./job-prologue.js")).withLatestJob(ctx, "join", read, "nothing to join");
    const progress = new Progress(ctx);
    if (part && f.partitioned !== true && Object.values(EXTENSION_OF).some((ext) => out.toLowerCase().endsWith(ext))) {
      // x.parquet/ as a dataset folder is a common layout (Spark, DuckDB's read_parquet('x.parquet/*.parquet')), but not a file
      ctx.log(`join: --part writes into a folder: ${out} is the dataset's folder, and this part goes to ${out.replace(/\/$/, "")}/${partLabel(part)}${EXTENSION_OF[format]}`);
    }
    const { descriptor: joined, results } = await join({
      descriptor,
      out,
      ...shared,
      parquetVersion: f["parquet-version"] as 1 | 2,
      part,
      rowNumber: f["row-number"] === true,
      withFeatures: f.features !== false || f["with-features"] === true,
      onProgress: (p) => {
        if (p.phase === "check") {
          // the check's end (no shard named) is a line of its own, saying what was checked; a line
          // of "0/7 shards" reads like a failure, so counting is shown from the first shard done
          // (at once on a terminal, where the bar is redrawn)
          if (p.shard === undefined) {
            const without = p.shardsTotal - p.shardsDone;
            progress.finish({ label: "join: checked .out files", done: p.shardsDone, unit: "shard", detail: without > 0 ? `(${counted(without, "shard")} without one: --allow-missing)` : undefined });
          } else if (p.shardsDone > 0 || ctx.stderrIsTTY) progress.update({ label: "join: checking .out files", done: p.shardsDone, total: p.shardsTotal, unit: "shard" });
        } else if (p.phase === "join") progress.update({ label: "join", done: p.rowsDone, total: p.rowsTotal, unit: "row", detail: p.shard });
      },
    });
    progress.finish({ label: "join", done: results.rows, total: results.rows, unit: "row", detail: `-> ${results.location}` });
    ctx.notes("join", results.notes);
    if (results.missing.length > 0) ctx.warn(`${counted(results.missing.length, "shard")} had no .out and ${results.missing.length === 1 ? "was" : "were"} not joined: ${results.missing.join(", ")} (listed in results.missing)`);
    await publish(serializeDescriptor(joined));
    return 0;
  },
};
