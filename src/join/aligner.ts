/**
 * The aligner: for each shard, in order, reads the sidecar's record batches and the .out lines in
 * lockstep (batch of n rows <-> the next n lines), checks the row numbers, parses the
 * predictions, and yields joined record batches: keep columns (their sidecar data, untouched),
 * the row number when asked, then the prediction columns.
 */
import { Field, makeData, RecordBatch, Schema, Struct, type Data } from "apache-arrow";
import { BtkitError, counted, optionHint } from "../errors.js";
import type { ColumnType, ContentType } from "../protocol/descriptor.js";
import { EchoSplitter, type EchoLayout } from "./echo.js";
import { FeatureParser, type FeatureColumn } from "./features.js";
import { SIDECAR_ROW_COLUMN } from "../protocol/layout.js";
import { arrowTypeOf, fieldOf } from "./columns.js";
import { lineCount, LineReader, type BlankLinePolicy } from "./lines.js";
import { PredictionParser, type PredictionParserOptions } from "./predictions.js";
import { readSidecar, type SidecarBatches } from "../protocol/sidecar-file.js";

/** One shard to join: what the descriptor says and how to open its files. */
export interface ShardInput {
  name: string;
  rows: number;
  firstRow: number;
  /** where the .out is, for messages */
  outLocation: string;
  sidecarLocation: string;
  openSidecar(): Promise<AsyncIterable<Uint8Array>>;
  /** called once the sidecar's bytes are read (for Parquet before they are decoded, and again at the end): checks them against the descriptor (throws) */
  checkSidecar?(): Promise<void>;
  openOut(): Promise<AsyncIterable<Uint8Array>>;
  /** the model-input shard, for features (withFeatures) */
  shardLocation?: string;
  openShard?(): Promise<AsyncIterable<Uint8Array>>;
  /** called once the shard was read to its end: checks its bytes against the descriptor (throws) */
  checkShard?(): Promise<void>;
}

export interface AlignerOptions {
  /** the keep columns, in order, with their types; default: every sidecar column but the row number */
  keep?: Array<{ name: string; type: ColumnType }>;
  /** the output's column order (names of keep and feature columns); others (the row number) follow; default: keep, row number, features */
  order?: string[];
  /** keep the sidecar's row number column (__btkit_row); default false */
  rowNumber?: boolean;
  /**
   * rows per joined batch (a Parquet sidecar is decoded in batches of this size, an Arrow stream
   * sidecar's larger batches are sliced); default 4096: on the benchmark's 546,233 rows, 4096 took
   * the same time as 16384 with 50 MiB less peak memory
   */
  batchRows?: number;
  /** blank .out lines: "error" (default) or "skip" (counted) */
  blankLines?: BlankLinePolicy;
  /** longest .out line accepted in bytes; default 64 MiB */
  maxLineBytes?: number;
  /** how predictions are parsed */
  predictions?: PredictionParserOptions;
  /** also read the model-input shards' feature columns (those not kept already); default none */
  features?: { contentType: ContentType; columns: FeatureColumn[] };
  /** JoinSource=Input outputs: check each line's echo against its shard line (echo.ts); default none */
  echo?: { layout: EchoLayout; inputFields: number };
}

export interface ResolvedAlignerOptions {
  keep: Array<{ name: string; type: ColumnType }> | undefined;
  order: string[] | undefined;
  rowNumber: boolean;
  batchRows: number;
  blankLines: BlankLinePolicy;
  maxLineBytes: number;
  predictions: PredictionParserOptions;
  features: { contentType: ContentType; columns: FeatureColumn[] } | undefined;
  echo: { layout: EchoLayout; inputFields: number } | undefined;
}

export function resolveAlignerOptions(o: AlignerOptions = {}): ResolvedAlignerOptions {
  const batchRows = o.batchRows ?? 4096;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new BtkitError("OPT_INVALID", `batchRows must be a whole number >= 1, got ${batchRows}`, { option: "batchRows", got: batchRows });
  const blankLines = o.blankLines ?? "error";
  if (blankLines !== "error" && blankLines !== "skip") throw new BtkitError("OPT_INVALID", `blankLines must be "error" or "skip", got ${JSON.stringify(blankLines)}`, { option: "blankLines", got: blankLines });
  const maxLineBytes = o.maxLineBytes ?? 64 * 1024 * 1024;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new BtkitError("OPT_INVALID", `maxLineBytes must be a whole number >= 1, got ${maxLineBytes}`, { option: "maxLineBytes", got: maxLineBytes });
  return { keep: o.keep, order: o.order, rowNumber: o.rowNumber ?? false, batchRows, blankLines, maxLineBytes, predictions: o.predictions ?? {}, features: o.features, echo: o.echo };
}

/** A joined batch and the shard it came from. */
export interface JoinedBatch {
  shard: string;
  batch: RecordBatch;
}

/** Per-shard counts the aligner gathered. */
export interface ShardStats {
  rows: number;
  blankLinesSkipped: number;
  crlfStripped: number;
}

/**
 * Creates the aligner stage. The returned function takes the shards (in order) and yields joined
 * batches; `stats` and `schema()` are filled as it runs.
 */
export function createAligner(options: AlignerOptions = {}): {
  align: (shards: AsyncIterable<ShardInput> | Iterable<ShardInput>) => AsyncGenerator<JoinedBatch>;
  stats: Map<string, ShardStats>;
  parser: PredictionParser;
  /** the echo check, when the outputs carry their input (lines checked: `echo.checked`) */
  echo: EchoSplitter | undefined;
  /** the feature parser, when features are read back from the shards (values rounded: `features.rounded`) */
  features: FeatureParser | undefined;
  /** the joined schema (known after the first batch; from the sidecar and declared types otherwise) */
  schema: () => Schema | undefined;
} {
  const o = resolveAlignerOptions(options);
  const parser = new PredictionParser(o.predictions);
  const features = o.features && o.features.columns.length > 0 ? new FeatureParser(o.features.columns, o.features.contentType) : undefined;
  const echo = o.echo ? new EchoSplitter(o.echo.layout, o.echo.inputFields) : undefined;
  const stats = new Map<string, ShardStats>();
  let schema: Schema | undefined;
  let keepFields: Field[] | undefined;

  const baseFields = (sidecar: Schema, shard: ShardInput): Field[] => {
    const fields: Field[] = [];
    const byName = new Map(sidecar.fields.map((f) => [f.name, f]));
    const keep = o.keep ?? sidecar.fields.filter((f) => f.name !== SIDECAR_ROW_COLUMN).map((f) => ({ name: f.name, type: undefined as ColumnType | undefined }));
    for (const k of keep) {
      const f = byName.get(k.name);
      if (!f) sidecarError(shard, `has no column ${JSON.stringify(k.name)}; it holds ${sidecar.fields.map((x) => x.name).join(", ")}`, k.name);
      if (k.type !== undefined) {
        if (f.type.typeId !== arrowTypeOf(k.type).typeId) sidecarError(shard, `column ${k.name} is ${String(f.type)}, expected ${String(arrowTypeOf(k.type))} for type ${k.type}`, k.name);
        fields.push(fieldOf(k.name, k.type));
      } else fields.push(f);
    }
    const row = byName.get(SIDECAR_ROW_COLUMN);
    if (!row || String(row.type) !== "Int64") sidecarError(shard, `has no Int64 column ${SIDECAR_ROW_COLUMN}`, SIDECAR_ROW_COLUMN);
    if (o.rowNumber) fields.push(fieldOf(SIDECAR_ROW_COLUMN, "int64"));
    if (features) fields.push(...features.fields());
    return fields;
  };

  const makeSchema = (base: Field[], preds: Field[]): Schema => {
    const seen = new Set<string>();
    for (const f of [...base, ...preds]) {
      if (seen.has(f.name)) {
        throw new BtkitError("OPT_INVALID", `prediction column ${f.name} has the name of a kept column: choose another prefix, ${optionHint("predictionPrefix")}, or scalar name, ${optionHint("predictionName")}`, { column: f.name, option: "predictionPrefix" });
      }
      seen.add(f.name);
    }
    return new Schema([...base, ...preds]);
  };

  async function* align(shards: AsyncIterable<ShardInput> | Iterable<ShardInput>): AsyncGenerator<JoinedBatch> {
    for await (const shard of shards) {
      const st: ShardStats = { rows: 0, blankLinesSkipped: 0, crlfStripped: 0 };
      stats.set(shard.name, st);
      // the .out lines stay bytes (the prediction parser's flat-object path reads them so; every other reader decodes them as it asks)
      const out = new LineReader(await shard.openOut(), { location: shard.outLocation, shard: shard.name, blankLines: o.blankLines, maxLineBytes: o.maxLineBytes, bytes: true });
      let inputLines: LineReader | undefined;
      try {
        const shardLocation = shard.shardLocation ?? shard.name;
        echo?.startShard();
        if (features || echo) {
          if (!shard.openShard) throw new BtkitError("OPT_INVALID", `${features ? "features were asked for" : "the echoed inputs must be checked"}, but shard ${shard.name} has no model-input location`, { shard: shard.name, option: "features" });
          // a blank model-input line is a record (a row whose one feature is null), not a stray newline
          inputLines = new LineReader(await shard.openShard(), { location: shardLocation, shard: shard.name, blankLines: "keep", maxLineBytes: o.maxLineBytes, bytes: features?.readsBytes === true });
        }
        let reader: SidecarBatches;
        try {
          reader = await readSidecar(await shard.openSidecar(), o.batchRows, () => shard.checkSidecar?.());
        } catch (err) {
          if (err instanceof BtkitError) throw err;
          sidecarError(shard, `cannot be read as Parquet or an Arrow IPC stream: ${(err as Error).message}`, undefined, err);
        }
        const unordered = baseFields(reader.schema, shard);
        const perm = orderOf(unordered, o.order);
        const base = perm.map((k) => unordered[k]!);
        keepFields ??= base;
        let next = shard.firstRow;
        const src = { shard: shard.name, location: shard.outLocation };
        // a failure of the sidecar's reader is the sidecar's; any other is what it says
        for await (const sb of sidecarBatches(shard, reader.batches)) {
          for (let off = 0; off < sb.numRows; off += o.batchRows) {
            const part = off === 0 && sb.numRows <= o.batchRows ? sb : sb.slice(off, Math.min(sb.numRows, off + o.batchRows));
            const n = part.numRows;
            const rowVec = part.getChild(SIDECAR_ROW_COLUMN)!;
            const r0 = rowVec.get(0) as bigint | null;
            const r1 = rowVec.get(n - 1) as bigint | null;
            if (r0 !== BigInt(next) || r1 !== BigInt(next + n - 1)) {
              sidecarError(shard, `row numbers ${String(r0)}..${String(r1)} at sidecar row ${next - shard.firstRow} do not follow the shard (expected ${next}..${next + n - 1})`, SIDECAR_ROW_COLUMN);
            }
            const lines = await out.take(n);
            if (lineCount(lines) < n) {
              throw new BtkitError("JOIN_COUNT_MISMATCH", `${shard.outLocation} ends after ${counted(next - shard.firstRow + lineCount(lines), "line")}, but shard ${shard.name} has ${counted(shard.rows, "row")}`, { shard: shard.name, location: shard.outLocation, expected: shard.rows, got: next - shard.firstRow + lineCount(lines) });
            }
            let featureData: Data[] = [];
            let predLines = lines;
            if (inputLines) {
              const inLines = await inputLines.take(n);
              if (lineCount(inLines) < n) {
                throw new BtkitError("JOIN_COUNT_MISMATCH", `model-input shard ${shardLocation} ends after ${counted(next - shard.firstRow + lineCount(inLines), "line")}, but shard ${shard.name} has ${counted(shard.rows, "row")}`, { shard: shard.name, location: shardLocation, expected: shard.rows, got: next - shard.firstRow + lineCount(inLines) });
              }
              if (echo) predLines = echo.split(lines, inLines, src, shardLocation);
              if (features) featureData = features.parse(inLines, { shard: shard.name, location: shardLocation });
            }
            const preds = parser.parse(predLines, src);
            schema ??= makeSchema(base, parser.fields() ?? []);
            const columns: Data[] = [];
            const sidecarFields = unordered.length - (features ? features.fields().length : 0);
            for (const f of unordered.slice(0, sidecarFields)) columns.push(f.name === SIDECAR_ROW_COLUMN ? rowVec.data[0]! : part.getChild(f.name)!.data[0]!);
            columns.push(...featureData);
            const children = perm.map((k) => columns[k]!);
            children.push(...preds);
            yield { shard: shard.name, batch: new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children })) };
            next += n;
            st.rows += n;
          }
        }
        await shard.checkSidecar?.();
        if (st.rows !== shard.rows) sidecarError(shard, `has ${counted(st.rows, "row")}, but the shard has ${shard.rows}`, undefined);
        const extra = await out.take(1);
        if (lineCount(extra) > 0) {
          throw new BtkitError("JOIN_COUNT_MISMATCH", `${shard.outLocation} has more lines than shard ${shard.name}'s ${counted(shard.rows, "row")} (line ${extra.lineNumber(0)} is one too many)`, { shard: shard.name, location: shard.outLocation, expected: shard.rows, line: extra.lineNumber(0) });
        }
        if (inputLines) {
          const more = await inputLines.take(1);
          if (lineCount(more) > 0) {
            throw new BtkitError("JOIN_COUNT_MISMATCH", `model-input shard ${shardLocation} has more lines than its ${counted(shard.rows, "row")} (line ${more.lineNumber(0)} is one too many)`, { shard: shard.name, location: shardLocation, expected: shard.rows, line: more.lineNumber(0) });
          }
          await shard.checkShard?.();
        }
        st.blankLinesSkipped = out.blank;
        st.crlfStripped = out.crlf;
      } finally {
        // an early end (a failed check, a consumer that stops reading) releases the shard's open files
        await out.close().catch(() => undefined);
        await inputLines?.close().catch(() => undefined);
      }
    }
  }

  return {
    align,
    stats,
    parser,
    echo,
    features,
    schema: () => schema ?? (keepFields ? makeSchema(keepFields, parser.fieldsWithoutData()) : undefined),
  };
}

/** The positions of `fields` in `order` (names), then those `order` does not name, in their own order. */
function orderOf(fields: readonly Field[], order: readonly string[] | undefined): number[] {
  const all = fields.map((_, k) => k);
  if (!order) return all;
  const at = new Map(fields.map((f, k) => [f.name, k]));
  const named = order.map((n) => at.get(n)).filter((k): k is number => k !== undefined);
  const taken = new Set(named);
  return [...named, ...all.filter((k) => !taken.has(k))];
}

/** The sidecar's record batches, a failure to read them JOIN_SIDECAR naming the shard (a BtkitError as it is). */
async function* sidecarBatches(shard: ShardInput, batches: AsyncIterable<RecordBatch>): AsyncGenerator<RecordBatch> {
  const it = batches[Symbol.asyncIterator]();
  try {
    while (true) {
      let r: IteratorResult<RecordBatch>;
      try {
        r = await it.next();
      } catch (err) {
        if (err instanceof BtkitError) throw err;
        sidecarError(shard, `cannot be read: ${(err as Error).message}`, undefined, err);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

function sidecarError(shard: ShardInput, what: string, column: string | undefined, cause?: unknown): never {
  throw new BtkitError("JOIN_SIDECAR", `the sidecar of shard ${shard.name} (${shard.sidecarLocation}) ${what}`, { shard: shard.name, location: shard.sidecarLocation, column }, cause === undefined ? undefined : { cause });
}
