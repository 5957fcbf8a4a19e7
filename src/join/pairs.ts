/**
 * Joining without a descriptor: each input file (the model input, headerless CSV or JSON Lines,
 * maybe gzipped) is paired with `<its name>.out` under the outputs folder/prefix (SageMaker's
 * naming for flat inputs: https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html), and the two are read in lockstep. Input
 * lines become columns the same way predictions do, with the input prefix (JSON object keys as
 * in_<key>, CSV fields and array items as in_0, in_1, ..., a scalar as `input`), so names never
 * collide with prediction columns. A JoinSource=Input output
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html) is parsed too: its CSV
 * rows drop as many leading fields as the input has columns; its JSON lines give SageMakerOutput.
 */
import { makeData, RecordBatch, Schema, Struct, type Data } from "apache-arrow";
import { BtkitError, counted, optionHint } from "../errors.js";
import { baseName, formatLocation, toUri, type Location } from "../io/location.js";
import { Storage } from "../io/storage.js";
import { LineReader, scanLines } from "./lines.js";
import { EchoSplitter } from "./echo.js";
import { PREDICTIONS_ROUNDED_NOTE, PredictionParser, WidenToFloat64, predictionTypeHint, widenOf } from "./predictions.js";
import type { ColumnType } from "../protocol/descriptor.js";
import { createWriter, EXTENSION_OF, tableWriteOptions, type OutputFormat } from "./writers.js";
import { handedOver } from "./batch-transfer.js";
import { shardStem } from "./plan.js";
import type { JoinOptions } from "./join.js";

/** The options that mean the same here as in join() (see JoinOptions for each one's default). */
type SharedJoinOptions = Pick<
  JoinOptions,
  | "format"
  | "compression"
  | "rowGroupRows"
  | "partitioned"
  | "allowMissing"
  | "blankLines"
  | "predictionFormat"
  | "predictionPrefix"
  | "predictionName"
  | "predictionTypes"
  | "widenToUtf8"
  | "batchRows"
  | "maxLineBytes"
  | "storage"
  | "sink"
  | "signal"
>;

export interface JoinFilesOptions extends SharedJoinOptions {
  /** input files, or folders/prefixes whose files are all inputs; required */
  inputs: string[];
  /** the folder/prefix holding the .out files; required */
  outputs: string;
  /** where to write (a file, or a folder/prefix when partitioned); required */
  out: string;
  /** how input lines are read: "auto" (default: .csv names are CSV, others by their first line), "csv" or "json" */
  inputFormat?: "auto" | "csv" | "json";
  /** prefix of input array/CSV columns; default "in_" */
  inputPrefix?: string;
  /** "input" when the outputs were made with JoinSource=Input; default "none" */
  joinSource?: "none" | "input";
}

export interface JoinFilesResult {
  location: string;
  format: OutputFormat;
  partitioned: boolean;
  rows: number;
  rowsPerShard: Record<string, number>;
  missing: string[];
  files: string[];
  pairs: Array<{ input: string; output: string }>;
  /** what the values went through, counted (numbers rounded into float64, values widened, CRs stripped); empty when nothing */
  notes: Array<{ reason: string; count: number }>;
}

/** Pairs inputs with their .out files by name; two inputs with one name are JOIN_PAIRING. */
export async function pairFiles(storage: Storage, inputs: string[], outputs: string): Promise<Array<{ name: string; input: Location; output: Location }>> {
  const files: Location[] = [];
  for (const text of inputs) {
    const loc = storage.parse(text);
    const head = await storage.head(loc).catch(() => undefined);
    if (head) files.push(loc);
    else {
      const listed: Location[] = [];
      for await (const o of storage.list(loc)) listed.push(storage.parse(o.location));
      if (listed.length === 0) throw new BtkitError("IO_NOT_FOUND", `no input file or folder at ${formatLocation(loc)}`, { location: formatLocation(loc) });
      listed.sort((a, b) => formatLocation(a).localeCompare(formatLocation(b)));
      files.push(...listed.filter((l) => !baseName(l).startsWith(".")));
    }
  }
  const outBase = storage.parse(outputs);
  const seen = new Map<string, string>();
  return files.map((input) => {
    const name = baseName(input);
    const before = seen.get(name);
    if (before !== undefined) {
      throw new BtkitError("JOIN_PAIRING", `two inputs are named ${name} (${before} and ${formatLocation(input)}): SageMaker would write one ${name}.out for both; pair them in separate runs`, { input: formatLocation(input), got: name });
    }
    seen.set(name, formatLocation(input));
    return { name, input, output: storage.child(outBase, `${name}.out`) };
  });
}

/** Column types a run of joinFilesOnce declares, learnt from the runs before it, and which parser widened last. */
interface Widening {
  inputTypes: Record<string, ColumnType>;
  predictionTypes: Record<string, ColumnType>;
  /** set when the input parser (not the predictions') threw */
  input?: WidenToFloat64;
}

/**
 * joinFiles: as join() does, a column inferred int64 from the first batch that meets a float later
 * (an input's or a prediction's) is declared float64 and the join runs again, with a note; through
 * a sink the rows before it went out already, so it is JOIN_TYPE_CONFLICT naming the flag.
 */
export async function joinFiles(options: JoinFilesOptions): Promise<JoinFilesResult> {
  const w: Widening = { inputTypes: {}, predictionTypes: { ...options.predictionTypes } };
  const widened: WidenToFloat64[] = [];
  while (true) {
    try {
      const r = await joinFilesOnce(options, w);
      const notes = widened.map((x) => ({ reason: `column ${x.column} widened from int64 to float64 (line ${x.line} of ${x.location} holds the first value int64 cannot)`, count: 1 }));
      return { ...r, notes: [...notes, ...r.notes] };
    } catch (err) {
      const x = widenOf(err);
      const types = x !== undefined && w.input === x ? w.inputTypes : w.predictionTypes;
      if (x === undefined || types[x.column] !== undefined) throw err;
      if (options.sink) {
        throw new BtkitError("JOIN_TYPE_CONFLICT", `column ${x.column} is int64 from the first batch, but line ${x.line} of ${x.location} holds a value int64 cannot, and the rows before it were written to ${options.sink.location} already: join again${types === w.predictionTypes ? ` with ${predictionTypeHint(x.column, "float64")}` : " into a file"}`, { shard: x.shard, location: x.location, line: x.line, column: x.column, expected: "int64", got: "float64", option: "predictionTypes" });
      }
      types[x.column] = "float64";
      widened.push(x);
      w.input = undefined;
    }
  }
}

async function joinFilesOnce(options: JoinFilesOptions, w: Widening): Promise<JoinFilesResult> {
  const storage = options.storage ?? new Storage();
  if (!Array.isArray(options.inputs) || options.inputs.length === 0) throw new BtkitError("OPT_INVALID", "joinFiles needs inputs: the model-input files", { option: "inputs" });
  const format = options.format ?? "parquet";
  const blankLines = options.blankLines ?? "error";
  const batchRows = options.batchRows ?? 16384;
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024 * 1024;
  const pairs = await pairFiles(storage, options.inputs, options.outputs);
  const present: typeof pairs = [];
  const missing: string[] = [];
  for (const p of pairs) {
    if (await storage.exists(p.output)) present.push(p);
    else missing.push(p.name);
  }
  if (missing.length > 0 && !(options.allowMissing ?? false)) {
    throw new BtkitError("JOIN_MISSING_OUTPUT", `${missing.length} of ${counted(pairs.length, "input")} ${missing.length === 1 ? "has" : "have"} no .out under ${options.outputs}: ${missing.join(", ")}; transform them again, or join the rest with ${optionHint("allowMissing", true)}`, { location: options.outputs, missing, option: "allowMissing" });
  }
  // counts first: every .out has as many lines as its input
  let lines = 0;
  for (const p of present) {
    const a = await scanLines(await storage.read(p.input, { signal: options.signal }));
    const b = await scanLines(await storage.read(p.output, { signal: options.signal }));
    const na = blankLines === "skip" ? a.lines - a.blank : a.lines;
    const nb = blankLines === "skip" ? b.lines - b.blank : b.lines;
    if (na !== nb) {
      throw new BtkitError("JOIN_COUNT_MISMATCH", `${formatLocation(p.output)} has ${counted(nb, "line")}, but its input ${formatLocation(p.input)} has ${na}${b.blank > 0 ? ` (line ${b.firstBlank} is blank)` : ""}`, { shard: p.name, location: formatLocation(p.output), expected: na, got: nb, line: b.firstBlank });
    }
    lines += na;
  }
  // without a descriptor the columns come from the lines: with none, no table can be written (an
  // empty file is none: Parquet and Arrow readers refuse it)
  if (lines === 0) {
    const why = present.length === 0 ? `none of the ${counted(pairs.length, "input")} has its .out under ${options.outputs}` : `the ${counted(present.length, "input")} with a .out hold no lines`;
    throw new BtkitError("JOIN_MISSING_OUTPUT", `nothing to join: ${why}, and without a descriptor no column of the table is known. Transform the inputs (again), or join with the preparation's descriptor, which knows them (btkit join --descriptor PATH --allow-missing writes a table of its columns with no rows)`, { location: options.outputs, missing, option: "allowMissing" });
  }
  const inputFormat = options.inputFormat ?? "auto";
  const inputParser = new PredictionParser({ format: inputFormat === "auto" ? (present.some((p) => /\.csv(\.gz)?$/i.test(p.name)) ? "csv" : "auto") : inputFormat, prefix: options.inputPrefix ?? "in_", scalarName: "input", widenToUtf8: options.widenToUtf8, types: w.inputTypes });
  const joinSource = options.joinSource ?? "none";
  let predParser: PredictionParser | undefined;
  // JoinSource=Input outputs echo their input line: checked against it, as join() does (echo.ts)
  let echo: EchoSplitter | undefined;
  let schema: Schema | undefined;
  const rowsPerShard: Record<string, number> = {};
  let crlf = 0;
  const emptySchema = (): Schema | undefined => schema;
  const write = createWriter({ format, compression: options.compression, rowGroupRows: options.rowGroupRows, emptySchema });
  // its own batches: nothing reads them after the writer (batch-transfer.ts)
  const writer = (batches: AsyncIterable<RecordBatch>): AsyncIterable<Uint8Array> => write(handedOver(batches));

  async function* batchesOf(list: typeof present): AsyncGenerator<RecordBatch> {
    for (const p of list) {
      const src = { shard: p.name, location: formatLocation(p.input) };
      const outSrc = { shard: p.name, location: formatLocation(p.output) };
      const inLines = new LineReader(await storage.read(p.input, { signal: options.signal }), { location: src.location, shard: p.name, blankLines, maxLineBytes });
      const outLines = new LineReader(await storage.read(p.output, { signal: options.signal }), { location: outSrc.location, shard: p.name, blankLines, maxLineBytes });
      rowsPerShard[p.name] = 0;
      echo?.startShard();
      for (;;) {
        const a = await inLines.take(batchRows);
        const b = await outLines.take(batchRows);
        if (a.lines.length !== b.lines.length) {
          throw new BtkitError("JOIN_COUNT_MISMATCH", `${outSrc.location} and ${src.location} have different line counts`, { shard: p.name, location: outSrc.location });
        }
        if (a.lines.length === 0) {
          crlf += inLines.crlf + outLines.crlf;
          break;
        }
        let inData: Data[];
        try {
          inData = inputParser.parse(a, src);
        } catch (err) {
          if (err instanceof WidenToFloat64) w.input = err;
          throw err;
        }
        const inputCsv = inputParser.format === "csv";
        if (joinSource === "input") echo ??= new EchoSplitter(inputCsv ? { kind: "csv-join", select: undefined, filter: "$" } : { kind: "json-join", keys: "all", filter: "$" }, inputParser.fields()!.length);
        predParser ??= new PredictionParser({
          format: echo && (options.predictionFormat ?? "auto") === "auto" ? (inputCsv ? "csv" : "json") : options.predictionFormat,
          prefix: options.predictionPrefix,
          scalarName: options.predictionName,
          types: w.predictionTypes,
          widenToUtf8: options.widenToUtf8,
        });
        const predData = predParser.parse(echo ? echo.split(b, a, outSrc, src.location) : b, outSrc);
        if (!schema) {
          const fields = [...inputParser.fields()!, ...predParser.fields()!];
          const names = new Set<string>();
          for (const f of fields) {
            if (names.has(f.name)) throw new BtkitError("OPT_INVALID", `column ${f.name} comes from both the input and the predictions: choose another ${optionHint("inputPrefix")} or ${optionHint("predictionPrefix")}`, { column: f.name, option: "predictionPrefix" });
            names.add(f.name);
          }
          schema = new Schema(fields);
        }
        const n = a.lines.length;
        rowsPerShard[p.name] = (rowsPerShard[p.name] ?? 0) + n;
        yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: [...inData, ...predData] }));
      }
    }
  }

  const outLoc = storage.parse(options.out);
  const files: string[] = [];
  let location: string;
  const partitioned = options.partitioned ?? false;
  if (partitioned) {
    location = toUri(outLoc).replace(/\/?$/, "/");
    try {
      for (const p of present) {
        const w = await storage.write(storage.child(outLoc, `${shardStem(p.name)}${EXTENSION_OF[format]}`), writer(batchesOf([p])), tableWriteOptions(options.signal));
        files.push(toUri(storage.parse(w.location)));
      }
    } catch (err) {
      await Promise.all(files.map((f) => storage.delete(f).catch(() => undefined)));
      throw err;
    }
  } else if (options.sink) {
    await options.sink.write(writer(batchesOf(present)));
    location = options.sink.location;
  } else {
    const w = await storage.write(outLoc, writer(batchesOf(present)), tableWriteOptions(options.signal));
    location = toUri(storage.parse(w.location));
    files.push(location);
  }
  const rows = Object.values(rowsPerShard).reduce((x, y) => x + y, 0);
  const notes = [
    { reason: "input numbers with more significant digits than a double keeps: rounded in float64 columns", count: inputParser.rounded },
    { reason: PREDICTIONS_ROUNDED_NOTE, count: predParser?.rounded ?? 0 },
    { reason: "values widened to utf8 (--widen-to-utf8)", count: inputParser.widened + (predParser?.widened ?? 0) },
    { reason: "CR before LF stripped from lines", count: crlf },
  ].filter((n) => n.count > 0);
  return { location, format, partitioned, rows, rowsPerShard, missing, files, pairs: pairs.map((p) => ({ input: toUri(p.input), output: toUri(p.output) })), notes };
}
