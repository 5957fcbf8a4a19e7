/** btkit prep: thin over prepare() (src/prepare, loaded when the command runs: its help loads no Arrow, Parquet or AWS SDK). */
import { BtkitError, counted } from "../errors.js";
import type { PrepareOptions } from "../prepare/index.js";
import { ENCODINGS, type Encoding } from "../prepare/encoding.js";
import type { ColumnType, Descriptor } from "../protocol/descriptor.js";
import type { ParsedArgs } from "./args.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import { Progress, formatBytes } from "./progress.js";
import type { Part } from "../protocol/layout.js";
import { partFlag } from "./part-auto.js";
import { PROCESSING_FLAGS, wantsProcessing } from "./processing.js";

const list = (v: unknown): string[] | undefined => (typeof v === "string" ? v.split(",").map((s) => s.trim()).filter((s) => s !== "") : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/**
 * The log line when the shards do not fill every instance in every round, or undefined:
 * "prep: 3 rows: 3 shards, so 1 of 4 instances idles" (fewer rows than instances), or, when the
 * rows ran out before a round ended, how many instances idle in the last round.
 */
export function idleInstancesLine(d: Descriptor, instances: number | undefined): string | undefined {
  const n = d.shards.length;
  if (instances === undefined || n === 0 || n % instances === 0) return undefined;
  const idle = instances - (n % instances);
  const idles = `${idle} of ${counted(instances, "instance")} ${idle === 1 ? "idles" : "idle"}`;
  if (n < instances) return `prep: ${counted(d.source.rowsWritten, "row")}: ${counted(n, "shard")}, so ${idles}`;
  return `prep: ${counted(n, "shard")}, not a multiple of ${instances} (the rows ran out): in the last round ${idles}`;
}

/** "prep: stored ... shards, ... sidecars, ... manifest = ..., 1.26x the input (...)": what prep stored, by kind. */
export function storedSummary(d: Descriptor): string | undefined {
  const b = d.source.bytesWritten;
  if (!b) return undefined;
  const total = b.shards + b.sidecars + b.manifest;
  const inputs = d.source.inputs.every((i) => i.bytes !== undefined) ? d.source.inputs.reduce((a, i) => a + (i.bytes ?? 0), 0) : undefined;
  const ratio = inputs ? `, ${(total / inputs).toFixed(2)}x the input (${formatBytes(inputs)})` : "";
  const shards = counted(d.shards.length, "shard");
  return `prep: ${counted(d.source.rowsWritten, "row")}; stored ${formatBytes(b.shards)} in ${shards}, ${formatBytes(b.sidecars)} of sidecars, ${formatBytes(b.manifest)} manifest = ${formatBytes(total)}${ratio}`;
}

export const prepCommand: Command = {
  spec: {
    name: "prep",
    summary: "turn tables into model-input shards, sidecars, a SageMaker manifest and a descriptor",
    usage: "INPUT... --out LOCATION [options]",
    description:
      "Reads CSV/TSV (header row), JSON Lines, a JSON array of objects, Parquet or Arrow IPC, plain or gzip, from files, folders, s3:// objects or prefixes, or - (stdin), and writes under --out: shards/part-NNNNN.csv[.gz] or .jsonl[.gz], sidecars/part-NNNNN.parquet (what the model does not see), manifest.json, rejects.jsonl (when rows were skipped) and btkit.json (last). Prints the descriptor as one JSON line on stdout. A rerun with the same inputs and options is a no-op.",
    examples: ["btkit prep data.csv --out s3://bucket/prep/ --gzip --instances 4", "zcat x.csv.gz | btkit prep - --out ./prep --format jsonl --features a,b,c"],
    positionals: { name: "INPUT", min: 1, max: 10000 },
    flags: {
      out: { type: "string", short: "o", value: "LOCATION", help: "output folder or s3:// prefix (required)", group: "Output" },
      format: { type: "string", value: "FORMAT", choices: ["csv", "jsonl"], default: "csv", help: "model input format: headerless CSV or JSON Lines", group: "Output" },
      gzip: { type: "int", value: "LEVEL", bareValue: "5", min: 0, max: 9, help: "gzip the shards (deterministic); bare --gzip means level 5, as small as gzip -6 for a third less CPU", group: "Output" },
      "shard-size": { type: "int", value: "BYTES", min: 1, default: 67108864, help: "target uncompressed shard size in bytes", group: "Output" },
      "shard-rows": { type: "int", value: "N", min: 1, help: "at most N rows per shard (instead of --shard-size); with --instances, shards balanced by size that hold at most N rows each, their count still a multiple of --instances", group: "Output" },
      instances: { type: "int", value: "N", min: 1, help: "N shards or a multiple of N (each instance takes whole shards), balanced by size; fewer rows than N make one shard a row, and the instances without one idle (logged)", group: "Output" },
      overwrite: { type: "boolean", help: "replace an --out that holds a different preparation", group: "Output" },
      part: { type: "string", value: "I/N|auto", help: "prepare only part I (0-based) of N, into the same --out as the other parts; combine with btkit merge. Parts are balanced by input bytes: part I takes the records that start in bytes [I*T/N, (I+1)*T/N) of all inputs (T bytes in all, in order), so one large plain CSV, TSV or JSON Lines file (local or S3) is shared by N machines, split at record boundaries; gzip, Parquet, Arrow, JSON array and stdin inputs are taken whole by the part holding their middle byte. auto: I and N from the engine (SageMaker Processing's resourceconfig.json, AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX with --parts)", group: "Output" },
      "split-files": { type: "boolean", help: "with --part: split large CSV, TSV and JSON Lines files between parts at record boundaries (the default); --no-split-files takes every file whole, by the part holding its middle byte (the way out when a part cannot tell where CSV records begin inside a file: PREP_SPLIT)", group: "Output" },
      parts: { type: "int", value: "N", min: 1, help: "with --part auto under AWS Batch or Kubernetes: the number of parts (the array size or completions)", group: "Output" },
      "input-format": { type: "string", value: "FORMAT", choices: ["csv", "tsv", "jsonl", "json", "parquet", "arrow"], help: "input format: json is one JSON array of objects, arrow is Arrow IPC (file or stream) (default: from the file name, else from the first bytes, else csv)", group: "Input" },
      delimiter: { type: "string", short: "d", value: "CHAR", help: "CSV delimiter (default: detected from the header among , TAB ; |); 'tab' or \\t for TAB", group: "Input" },
      quote: { type: "string", value: "CHAR", default: '"', help: "CSV quote character", group: "Input" },
      columns: { type: "string", value: "A,B,...", help: "names replacing the header's (to fix empty or duplicate names); with --no-header, the columns' names", group: "Input" },
      header: { type: "boolean", help: "CSV: the first row is the header even when every field is a number; --no-header: there is no header row, every row is data (columns named by --columns, else column_1..column_N). Default: a header, and a first row of numbers only is refused as data", group: "Input" },
      features: { type: "string", value: "A,B,...", help: "model input columns, in order (default: every column not dropped)", group: "Columns" },
      keep: { type: "string", value: "A,B,...", help: "columns stored in the sidecar for the join (default: the columns that are not features; join reads the features back from the shards, so the input is not stored twice). Naming --keep replaces the default: name the IDs too; a column neither a feature nor kept is not in the joined table (noted)", group: "Columns" },
      drop: { type: "string", value: "A,B,...", help: "columns removed entirely", group: "Columns" },
      schema: { type: "string", value: "A:TYPE,...", help: "column types (int64, uint64, float64, bool, utf8, date, timestamp_ntz, timestamp, time, decimal(P,S), json, null; the time types take a unit: timestamp(ns), time(ms), with s, ms, us (the default) or ns; nested: list<int64>, struct<\"a\":utf8>, map<utf8,int64>; quote them in a shell: 'price:decimal(12,2)'), or a JSON object; utf8 reads a Parquet/Arrow column as exact text", group: "Columns" },
      text: { type: "boolean", help: "read every column of a CSV or JSON input as text (no type inference): CSV values as written, JSON numbers, booleans and nested values as their source text (counted)", group: "Columns" },
      encoding: { type: "string", value: "ENCODING", choices: ENCODINGS, default: "utf-8", help: "encoding of CSV and JSON inputs, converted to UTF-8 as read (latin1 is ISO-8859-1)", group: "Columns" },
      "sample-rows": { type: "int", value: "N", min: 1, default: 1000, help: "rows sampled to infer column types", group: "Columns" },
      "max-payload-mb": { type: "number", value: "MB", min: 0, max: 100, default: 6, help: "largest encoded record (SageMaker MaxPayloadInMB)", group: "Checks" },
      newlines: { type: "string", value: "POLICY", choices: ["reject", "replace", "escape"], default: "reject", help: "line breaks in values headed for CSV output", group: "Checks" },
      "on-invalid": { type: "string", value: "POLICY", choices: ["fail", "skip"], default: "fail", help: "invalid rows: stop, or skip them to rejects.jsonl (counted)", group: "Checks" },
      "blank-lines": { type: "string", value: "POLICY", choices: ["error", "skip"], default: "error", help: "blank lines inside the data", group: "Checks" },
      ...PROCESSING_FLAGS,
      ...COMMON_FLAGS,
    },
  },
  async run(ctx, args: ParsedArgs) {
    const f = args.flags;
    if (typeof f.out !== "string") {
      throw new BtkitError("USAGE_MISSING", "prep needs --out LOCATION (a folder or s3:// prefix)", { option: "out" });
    }
    // the same command line as a SageMaker Processing job, one part per instance (processing.ts)
    if (wantsProcessing(args)) return (await import("./processing.js")).runProcessing(ctx, args, prepCommand.spec);
    let delimiter = typeof f.delimiter === "string" ? f.delimiter : undefined;
    if (delimiter === "tab" || delimiter === "\\t") delimiter = "\t";
    const part: Part | undefined = partFlag(f.part, f.parts, (line) => ctx.log(`prep: ${line}`), { env: ctx.env });
    if (f["split-files"] !== undefined && part === undefined) {
      throw new BtkitError("USAGE_BAD_VALUE", `--${f["split-files"] === true ? "" : "no-"}split-files goes with --part I/N: it says how the parts share the input files`, { option: "split-files" });
    }
    const { prepare } = await import("../prepare/index.js");
    const progress = new Progress(ctx);
    const options: PrepareOptions = {
      inputs: args.positionals,
      out: f.out,
      storage: await ctx.storage(),
      stdin: ctx.io.stdin,
      inputFormat: f["input-format"] as PrepareOptions["inputFormat"],
      delimiter,
      quote: typeof f.quote === "string" ? f.quote : undefined,
      columns: list(f.columns),
      header: f.header === undefined ? undefined : f.header === true,
      format: f.format as "csv" | "jsonl" | undefined,
      gzipLevel: num(f.gzip),
      features: list(f.features),
      keep: list(f.keep),
      drop: list(f.drop),
      schema: typeof f.schema === "string" ? (f.schema as string | Record<string, ColumnType>) : undefined,
      text: f.text === true,
      encoding: f.encoding as Encoding,
      sampleRows: num(f["sample-rows"]),
      shardSize: num(f["shard-size"]),
      shardRows: num(f["shard-rows"]),
      instances: num(f.instances),
      maxPayloadMb: num(f["max-payload-mb"]),
      newlines: f.newlines as PrepareOptions["newlines"],
      onInvalid: f["on-invalid"] as PrepareOptions["onInvalid"],
      blankLines: f["blank-lines"] as PrepareOptions["blankLines"],
      overwrite: f.overwrite === true,
      part,
      ...(f["split-files"] !== undefined ? { splitFiles: f["split-files"] === true } : {}),
      signal: ctx.io.signal,
      onProgress: (p) => {
        // bytes only once some are counted: Arrow and Parquet inputs count theirs a batch (or a
        // row group) at a time, and "0 B of 1.5 MiB" beside rows already read is wrong
        const bytes = p.bytesRead > 0 ? `${formatBytes(p.bytesRead)}${p.bytesTotal ? ` of ${formatBytes(p.bytesTotal)}` : ""}, ` : "";
        const state = { label: "prep", done: p.rowsRead, unit: "row", detail: `${bytes}${counted(p.shards, "shard")}${p.rowsSkipped > 0 ? `, ${p.rowsSkipped} skipped` : ""}` };
        if (p.done) progress.finish(state);
        else progress.update(state);
      },
    };
    const started = Date.now();
    const d = await prepare(options);
    if (Date.parse(d.createdAt) < started) {
      // the same inputs and options over an intact earlier preparation: prepare() returned it as is
      ctx.log(`prep: unchanged, nothing written: --out ${f.out} already holds this preparation of the same inputs with the same options (${counted(d.source.rowsWritten, "row")} in ${counted(d.shards.length, "shard")}, made ${d.createdAt}); --overwrite prepares it again`);
      await ctx.emitDescriptor(d);
      return 0;
    }
    const summary = storedSummary(d);
    if (summary) ctx.log(summary);
    ctx.notes("prep", d.source.notes);
    const idle = idleInstancesLine(d, num(f.instances));
    if (idle) ctx.log(idle);
    await ctx.emitDescriptor(d);
    return 0;
  },
};
