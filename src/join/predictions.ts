/**
 * The prediction parser: turns .out lines into typed prediction columns.
 *
 * - json: each line is JSON.parse'd (one call per line, no streaming parser on the hot path). An
 *   object becomes one column per key, named prefix + key (one level; deeper values are JSON
 *   text); an array becomes prefix + index columns; a scalar becomes `scalarName`.
 * - csv: each line's fields (RFC 4180) become prefix + index columns; a single field becomes
 *   `scalarName`. An empty field is null, and so is a quoted "" but in a column declared utf8 (the
 *   empty string there, as prep reads CSV); numeric text is a number (the text itself in a column
 *   declared utf8).
 * - text: the whole line is `scalarName` (utf8).
 * - auto: the job's Accept when known (text/csv -> csv, JSON types -> json), else the first line
 *   decides (JSON when it parses as JSON, csv when it holds a comma, text otherwise).
 *
 * Columns and types come from the first non-empty batch, then stay fixed (a streaming writer
 * cannot change its schema). Inside that batch int64 and float64 widen to float64; any other mix
 * is JOIN_TYPE_CONFLICT unless widenToUtf8 (then utf8, values as JSON text, counted). After it, a
 * value that does not fit its column, a key or width not seen in the first batch is
 * JOIN_TYPE_CONFLICT naming shard, line and column: declare the type with `types` to settle it.
 *
 * JoinSource=Input outputs are not read here: echo.ts checks each line's echoed input against its
 * shard line and hands this parser the prediction part alone.
 */
import type { Data, Field } from "apache-arrow";
import { BtkitError, counted, optionHint } from "../errors.js";
import type { ColumnType } from "../protocol/descriptor.js";
import { DEFAULT_PREDICTION_NAME, DEFAULT_PREDICTION_PREFIX } from "../protocol/layout.js";
import { accumulatorFor, fieldOf, NestedAcc } from "./columns.js";
import { splitCsvLine } from "./csv-fields.js";
import { FlatObjectReader } from "./fast-json.js";
import { lineCount, type LineBatch } from "./lines.js";
import { csvValue, excerpt, isJsonObject, jsonText, mergeTypes, parseJsonValue, SET_OK, SET_ROUNDED, SET_WIDENED, setValue, typeOfValue } from "./values.js";
import { JsonNumber } from "../protocol/nested.js";
import { nestedData } from "../protocol/nested-arrow.js";

/** The predictionTypes option declaring column `name` as `type`, with its CLI flag: `predictionTypes: { "p": "float64" } (--prediction-type p=float64)`. */
export function predictionTypeHint(name: string, type: string): string {
  return `predictionTypes: { ${JSON.stringify(name)}: ${JSON.stringify(type)} } (--prediction-type ${name}=${type})`;
}

export type PredictionFormat = "auto" | "json" | "csv" | "text";
export const PREDICTION_FORMATS = ["auto", "json", "csv", "text"] as const;

export interface PredictionParserOptions {
  /** how .out lines are read; default "auto" */
  format?: PredictionFormat;
  /** the job's Accept, used by "auto"; default none */
  accept?: string;
  /** prefix of object-key and index columns; default "pred_" */
  prefix?: string;
  /** the column of a scalar prediction; default "prediction" */
  scalarName?: string;
  /** declared column types by final column name; default none (inferred) */
  types?: Record<string, ColumnType>;
  /** let conflicting values become utf8 (JSON text), counted; default false */
  widenToUtf8?: boolean;
}

export interface ResolvedPredictionParserOptions {
  format: PredictionFormat;
  accept: string | undefined;
  prefix: string;
  scalarName: string;
  types: Record<string, ColumnType>;
  widenToUtf8: boolean;
}

export function resolvePredictionParserOptions(o: PredictionParserOptions = {}): ResolvedPredictionParserOptions {
  const format = o.format ?? "auto";
  if (!PREDICTION_FORMATS.includes(format)) {
    throw new BtkitError("OPT_INVALID", `prediction format must be one of ${PREDICTION_FORMATS.join(", ")}, got ${JSON.stringify(format)}`, { option: "format", got: format });
  }
  return {
    format,
    accept: o.accept,
    prefix: o.prefix ?? DEFAULT_PREDICTION_PREFIX,
    scalarName: o.scalarName ?? DEFAULT_PREDICTION_NAME,
    types: { ...(o.types ?? {}) },
    widenToUtf8: o.widenToUtf8 ?? false,
  };
}

type Shape = "object" | "array" | "scalar";

interface Column {
  name: string;
  /** object key or array index */
  key: string | number;
  type: ColumnType;
}

/** Where a batch comes from, for messages. */
export interface BatchSource {
  shard: string;
  location: string;
}

/**
 * Thrown when a prediction column inferred int64 from the first batch meets a float later
 * (regression models print `2`, then `2.5`). Every value taken before is a safe integer, exact in
 * float64, so the join starts again with the column declared float64 (join.ts; counted in the
 * results' notes) instead of failing. Not a BtkitError: it never leaves join().
 */
export class WidenToFloat64 extends Error {
  readonly column: string;
  readonly shard: string;
  readonly location: string;
  readonly line: number;

  constructor(column: string, shard: string, location: string, line: number) {
    super(`prediction column ${column} is int64 from the first batch, but line ${line} of ${location} (shard ${shard}) holds a float`);
    this.column = column;
    this.shard = shard;
    this.location = location;
    this.line = line;
  }
}

/** The WidenToFloat64 behind an error (a failed write wraps what its body threw). */
export function widenOf(err: unknown): WidenToFloat64 | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof WidenToFloat64) return e;
  }
  return undefined;
}

/** The note counting PredictionParser#rounded (join's and joinFiles's results). */
export const PREDICTIONS_ROUNDED_NOTE = "prediction numbers with more significant digits than a double keeps (or beyond its range): rounded in float64 columns (--prediction-type NAME=int64, uint64 or decimal(P,S) keeps them exactly)";

export class PredictionParser {
  readonly options: ResolvedPredictionParserOptions;
  #format: Exclude<PredictionFormat, "auto"> | undefined;
  #shape: Shape | undefined;
  #columns: Column[] | undefined;
  #keyIndex = new Map<string, number>();
  #fast: FlatObjectReader | undefined;
  /** values written as utf8 JSON text under widenToUtf8 */
  widened = 0;
  /** numbers a double does not hold exactly (more significant digits, or beyond its range), rounded into float64 columns */
  rounded = 0;
  /** lines the flat-object fast path read (fast-json.ts); the others went through JSON.parse */
  fastLines = 0;

  constructor(options: PredictionParserOptions = {}) {
    this.options = resolvePredictionParserOptions(options);
    if (this.options.format !== "auto") this.#format = this.options.format;
    else if (this.options.accept !== undefined) {
      const a = this.options.accept.toLowerCase();
      if (a.startsWith("text/csv")) this.#format = "csv";
      else if (a.includes("json")) this.#format = "json";
    }
  }

  /** The format in use, once known. */
  get format(): Exclude<PredictionFormat, "auto"> | undefined {
    return this.#format;
  }

  /** The prediction fields, once the first non-empty batch fixed them (or from declared types). */
  fields(): Field[] | undefined {
    return this.#columns?.map((c) => fieldOf(c.name, c.type));
  }

  /** Fields to use when no line was ever seen: the declared types only. */
  fieldsWithoutData(): Field[] {
    return this.fields() ?? Object.entries(this.options.types).map(([n, t]) => fieldOf(n, t));
  }

  /** Parses one batch of lines into one Data per prediction column (fixing the columns on the first call with lines). */
  parse(batch: LineBatch, src: BatchSource): Data[] {
    const n = lineCount(batch);
    if (n === 0 && this.#columns === undefined) return [];
    if (this.#format === undefined) this.#format = sniff(batch.lines[0]!);
    let values: unknown[] | undefined;
    if (this.#columns === undefined) {
      values = this.#decode(batch, src);
      this.#infer(values, batch, src);
    }
    const cols = this.#columns!;
    const accs = cols.map((c) => accumulatorFor(c.type, n));
    const widen = this.options.widenToUtf8;
    const shape = this.#shape!;
    if (values === undefined && this.#fast !== undefined) {
      // the flat-object fast path (from the bytes when the batch has them); a line it does not take
      // goes through JSON.parse below
      const fast = this.#fast;
      const row = new Array<unknown>(cols.length);
      const raw = batch.raw;
      let slow: number[] | undefined;
      for (let i = 0; i < n; i++) {
        if (raw !== undefined ? fast.readBytes(raw.bytes, raw.starts[i]!, raw.ends[i]!, row) : fast.read(batch.lines[i]!, row)) {
          for (let j = 0; j < cols.length; j++) this.#set(accs[j]!, i, row[j], widen, cols[j]!, batch, src);
        } else (slow ??= []).push(i);
      }
      this.fastLines += n - (slow?.length ?? 0);
      if (slow === undefined) return this.#finish(accs, n, batch, src);
      values = new Array<unknown>(n);
      const one = { lines: [""], lineNumber: (_: number) => 0 };
      for (const i of slow) {
        one.lines[0] = raw !== undefined ? raw.bytes.toString("utf8", raw.starts[i], raw.ends[i]) : batch.lines[i]!;
        one.lineNumber = () => batch.lineNumber(i);
        values[i] = this.#decode(one, src)[0];
      }
      for (const i of slow) this.#fillRow(values[i], i, accs, cols, widen, batch, src, shape);
      return this.#finish(accs, n, batch, src);
    }
    values ??= this.#decode(batch, src);
    for (let i = 0; i < n; i++) this.#fillRow(values[i], i, accs, cols, widen, batch, src, shape);
    return this.#finish(accs, n, batch, src);
  }

  /**
   * The batch's columns. A nested column (list, struct, map) checks its values against its type
   * as it is built; a value that does not fit is JOIN_TYPE_CONFLICT naming its line, as for a
   * scalar column.
   */
  #finish(accs: ReturnType<typeof accumulatorFor>[], n: number, batch: LineBatch, src: BatchSource): Data[] {
    const cols = this.#columns!;
    return accs.map((a, j) => {
      if (!(a instanceof NestedAcc)) return a.finish(n);
      try {
        return a.finish();
      } catch (err) {
        if (err instanceof BtkitError) throw err;
        const col = cols[j]!;
        // the first value that does not fit, alone
        for (let i = 0; i < n; i++) {
          const text = a.values[i];
          if (text === null || text === undefined) continue;
          let why: string | undefined;
          try {
            nestedData(col.type, [text]);
          } catch (e) {
            why = (e as Error).message;
          }
          if (why === undefined) continue;
          const line = batch.lineNumber(i);
          throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${line} of ${src.location} (shard ${src.shard}): column ${col.name} is ${col.type} (${this.options.types[col.name] === undefined ? "from the first batch" : "declared"}), got ${excerpt(text)} (${why}); declare it with ${predictionTypeHint(col.name, "TYPE")}`, { shard: src.shard, location: src.location, line, column: col.name, expected: col.type }, { cause: err });
        }
        throw err;
      }
    });
  }

  #fillRow(v: unknown, i: number, accs: ReturnType<typeof accumulatorFor>[], cols: Column[], widen: boolean, batch: LineBatch, src: BatchSource, shape: Shape): void {
    {
      if (shape === "object") {
        if (!isJsonObject(v)) this.#shapeConflict(v, batch.lineNumber(i), src, batch.lines[i]!);
        const obj = v as Record<string, unknown>;
        for (const k in obj) {
          if (!this.#keyIndex.has(k)) {
            throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}) has key ${JSON.stringify(k)} that the first batch did not have; columns are fixed by the first batch: declare it with ${predictionTypeHint(`${this.options.prefix}${k}`, "TYPE")}`, { shard: src.shard, location: src.location, line: batch.lineNumber(i), column: `${this.options.prefix}${k}` });
          }
        }
        for (let j = 0; j < cols.length; j++) this.#set(accs[j]!, i, obj[cols[j]!.key as string], widen, cols[j]!, batch, src);
      } else if (shape === "array") {
        if (!Array.isArray(v)) this.#shapeConflict(v, batch.lineNumber(i), src, batch.lines[i]!);
        if (v.length !== cols.length) {
          throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}) has ${counted(v.length, "value")}, expected ${cols.length} as in the first batch: ${excerpt(batch.lines[i]!)}`, { shard: src.shard, location: src.location, line: batch.lineNumber(i), expected: cols.length, got: v.length });
        }
        for (let j = 0; j < cols.length; j++) this.#set(accs[j]!, i, v[j], widen, cols[j]!, batch, src);
      } else {
        const s = this.#format === "csv" ? (v as unknown[])[0] : v;
        if (this.#format !== "text" && (isJsonObject(s) || Array.isArray(s))) this.#shapeConflict(s, batch.lineNumber(i), src, batch.lines[i]!);
        if (this.#format === "csv" && (v as unknown[]).length !== 1) {
          throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}) has ${counted((v as unknown[]).length, "field")}, expected 1 as in the first batch`, { shard: src.shard, location: src.location, line: batch.lineNumber(i), expected: 1, got: (v as unknown[]).length });
        }
        this.#set(accs[0]!, i, s, widen, cols[0]!, batch, src);
      }
    }
  }

  #set(acc: ReturnType<typeof accumulatorFor>, i: number, v: unknown, widen: boolean, col: Column, batch: LineBatch, src: BatchSource): void {
    const r = setValue(acc, i, v, widen);
    if (r === SET_OK) return;
    if (r === SET_ROUNDED) {
      this.rounded++;
      return;
    }
    if (r === SET_WIDENED) {
      this.widened++;
      return;
    }
    const line = batch.lineNumber(i);
    // a float after int64 values: a number, or one a double does not hold exactly (0.10000000000000001, 1e400; an integer beyond int64 is not one)
    const float = typeof v === "number" || (v instanceof JsonNumber && typeOfValue(v) === "float64");
    if (col.type === "int64" && float && this.options.types[col.name] === undefined) {
      // every int64 value taken so far is a safe integer (values.ts), so exact in float64
      throw new WidenToFloat64(col.name, src.shard, src.location, line);
    }
    throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${line} of ${src.location} (shard ${src.shard}): column ${col.name} is ${col.type} (${this.options.types[col.name] === undefined ? "from the first batch" : "declared"}), got ${typeOfValue(v)} ${excerpt(jsonText(v))}; declare it with ${predictionTypeHint(col.name, "TYPE")}${col.type !== "utf8" ? "" : ` or use ${optionHint("widenToUtf8", true)}`}`, { shard: src.shard, location: src.location, line, column: col.name, expected: col.type, got: typeOfValue(v) });
  }

  #shapeConflict(v: unknown, line: number, src: BatchSource, text: string): never {
    const got = Array.isArray(v) ? "an array" : isJsonObject(v) ? "an object" : "a scalar";
    throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${line} of ${src.location} (shard ${src.shard}) is ${got}, but the first batch held ${this.#shape === "object" ? "objects" : this.#shape === "array" ? "arrays" : "scalars"}: ${excerpt(text)}`, { shard: src.shard, location: src.location, line, expected: this.#shape, got });
  }

  #decode(batch: LineBatch, src: BatchSource): unknown[] {
    const lines = batch.lines;
    const n = lines.length;
    const out = new Array<unknown>(n);
    if (this.#format === "json") {
      for (let i = 0; i < n; i++) {
        let v: unknown;
        try {
          v = parseJsonValue(lines[i]!);
        } catch (err) {
          throw new BtkitError("JOIN_PARSE", `line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}) is not valid JSON (${(err as Error).message}): ${excerpt(lines[i]!)}`, { shard: src.shard, location: src.location, line: batch.lineNumber(i) }, { cause: err });
        }
        out[i] = v;
      }
    } else if (this.#format === "csv") {
      const quoted: boolean[] = [];
      for (let i = 0; i < n; i++) {
        const fields = splitCsvLine(lines[i]!, quoted);
        if (fields === undefined) {
          throw new BtkitError("JOIN_PARSE", `line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}) is not valid CSV (a quote is unbalanced or misplaced): ${excerpt(lines[i]!)}`, { shard: src.shard, location: src.location, line: batch.lineNumber(i) });
        }
        const vals = new Array<unknown>(fields.length);
        for (let j = 0; j < fields.length; j++) {
          // a column declared utf8 takes the field as written ("1.50", "Infinity"; a quoted "" is the
          // empty string, an empty field null, as prep reads CSV); others are typed from it
          const name = fields.length === 1 ? this.options.scalarName : `${this.options.prefix}${j}`;
          vals[j] = this.options.types[name] === "utf8" && (fields[j] !== "" || quoted[j] === true) ? fields[j] : csvValue(fields[j]!);
        }
        out[i] = vals;
      }
    } else {
      for (let i = 0; i < n; i++) out[i] = lines[i];
    }
    return out;
  }

  #infer(values: unknown[], batch: LineBatch, src: BatchSource): void {
    const o = this.options;
    const first = values[0];
    let shape: Shape;
    if (this.#format === "csv") shape = (first as unknown[]).length === 1 ? "scalar" : "array";
    else if (this.#format === "text") shape = "scalar";
    else shape = Array.isArray(first) ? "array" : isJsonObject(first) ? "object" : "scalar";
    this.#shape = shape;
    const cols: Column[] = [];
    const lineOf: number[] = [];
    const add = (name: string, key: string | number): number => {
      cols.push({ name, key, type: "null" });
      lineOf.push(0);
      return cols.length - 1;
    };
    const observe = (j: number, v: unknown, i: number): void => {
      const col = cols[j]!;
      const t = typeOfValue(v);
      const m = mergeTypes(col.type, t);
      if (m !== undefined) {
        if (m !== col.type) lineOf[j] = batch.lineNumber(i);
        col.type = m;
        return;
      }
      if (o.widenToUtf8) {
        col.type = "utf8";
        return;
      }
      throw new BtkitError("JOIN_TYPE_CONFLICT", `column ${col.name} is ${col.type} at line ${lineOf[j]} but ${t} at line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}); declare it with ${predictionTypeHint(col.name, "TYPE")} or use ${optionHint("widenToUtf8", true)}`, { shard: src.shard, location: src.location, line: batch.lineNumber(i), column: col.name, expected: col.type, got: t });
    };
    if (shape === "object") {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (!isJsonObject(v)) this.#shapeConflict(v, batch.lineNumber(i), src, batch.lines[i]!);
        for (const k in v as Record<string, unknown>) {
          let j = this.#keyIndex.get(k);
          if (j === undefined) {
            j = add(`${o.prefix}${k}`, k);
            this.#keyIndex.set(k, j);
          }
          observe(j, (v as Record<string, unknown>)[k], i);
        }
      }
      for (const name of Object.keys(o.types)) {
        if (name.startsWith(o.prefix) && !cols.some((c) => c.name === name)) {
          const k = name.slice(o.prefix.length);
          this.#keyIndex.set(k, add(name, k));
        }
      }
    } else if (shape === "array") {
      const width = (first as unknown[]).length;
      for (let j = 0; j < width; j++) add(`${o.prefix}${j}`, j);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (!Array.isArray(v)) this.#shapeConflict(v, batch.lineNumber(i), src, batch.lines[i]!);
        if (v.length !== width) {
          throw new BtkitError("JOIN_TYPE_CONFLICT", `line ${batch.lineNumber(i)} of ${src.location} (shard ${src.shard}) has ${counted(v.length, "value")}, but line ${batch.lineNumber(0)} has ${width}: ${excerpt(batch.lines[i]!)}`, { shard: src.shard, location: src.location, line: batch.lineNumber(i), expected: width, got: v.length });
        }
        for (let j = 0; j < width; j++) observe(j, v[j], i);
      }
    } else {
      add(o.scalarName, 0);
      for (let i = 0; i < values.length; i++) {
        const v = this.#format === "csv" ? (values[i] as unknown[])[0] : values[i];
        if (this.#format === "json" && (isJsonObject(v) || Array.isArray(v))) this.#shapeConflict(v, batch.lineNumber(i), src, batch.lines[i]!);
        observe(0, v, i);
      }
    }
    for (const c of cols) {
      const declared = o.types[c.name];
      if (declared !== undefined) c.type = declared;
    }
    // a declared name that is no column would be left out without a word (a typo, another prefix)
    const stranger = Object.keys(o.types).find((name) => !cols.some((c) => c.name === name));
    if (stranger !== undefined) {
      const names = cols.map((c) => c.name).join(", ");
      const what = shape === "object" ? `objects, whose keys are columns ${JSON.stringify(o.prefix)} + key (${names})` : shape === "array" ? `arrays of ${counted(cols.length, "value")}, columns ${names}` : `one value per line, column ${names} (${optionHint("predictionName")} names it)`;
      throw new BtkitError(
        "OPT_INVALID",
        `predictionTypes declares ${JSON.stringify(stranger)}, which is no prediction column: line ${batch.lineNumber(0)} of ${src.location} (shard ${src.shard}) holds ${what}; declare one of those, for example ${predictionTypeHint(cols[0]!.name, o.types[stranger]!)}`,
        { shard: src.shard, location: src.location, option: "predictionTypes", got: stranger, expected: cols.map((c) => c.name) },
      );
    }
    this.#columns = cols;
    if (shape === "object" && this.#format === "json") this.#fast = new FlatObjectReader(cols.map((c) => c.key as string));
  }
}

/** The format of a first line: JSON when it parses, CSV when it has a comma, text otherwise. */
export function sniff(line: string): "json" | "csv" | "text" {
  try {
    JSON.parse(line);
    return "json";
  } catch {
    return line.includes(",") ? "csv" : "text";
  }
}
