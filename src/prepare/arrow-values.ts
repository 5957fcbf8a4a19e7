/**
 * Arrow columns (from Arrow IPC or Parquet inputs) as btkit columns: the type mapping, and record
 * batches turned into records of the same shape as the JSON readers' (values as text, with their
 * JSON kind), so they go through the same checks, encoders and sidecar as every other input.
 *
 * Values are converted from the Arrow buffers directly, never through a generic text round trip:
 * integers (also beyond 2^53) keep their exact digits (from the 64-bit buffers), floats are
 * written as the shortest text that reads back to the same double, decimals as their exact
 * digits, dates as YYYY-MM-DD, timestamps as ISO 8601 text with the fraction digits of their unit
 * (with Z when the Arrow type has a time zone, without one when it has none), times of day as
 * HH:MM:SS[.fraction], and nested values
 * (list, struct, map) as JSON text.
 *
 * Type mapping (Arrow -> btkit):
 *   Int8..Int64, Uint8..Uint32          -> int64
 *   Uint64                               -> uint64
 *   Float16, Float32, Float64            -> float64 (NaN and +-Infinity are PREP_TYPE row errors: JSON cannot carry them)
 *   Decimal128 (P <= 38, S >= 0)          -> decimal(P,S) (exact digits in the model input, Decimal128 in the sidecar)
 *   Decimal256 beyond that, negative scale -> utf8 (exact digits as text)
 *   Bool                                 -> bool
 *   Utf8, LargeUtf8, Dictionary<_, Utf8> -> utf8
 *   Timestamp with a time zone           -> timestamp (the instant, in UTC), in the Arrow type's unit:
 *                                           timestamp(s), timestamp(ms), timestamp (µs), timestamp(ns)
 *   Timestamp without a time zone        -> timestamp_ntz (the wall-clock time; no zone is invented), likewise by unit
 *   Date32, Date64                       -> date
 *   Time32, Time64                       -> time(s), time(ms), time (µs), time(ns)
 *   List, LargeList, FixedSizeList, Struct, Map -> list<T>, struct<"name":T,...>, map<K,V> (protocol/nested.ts; leaves
 *                                           mapped as above; JSON text in the model input, exact leaves); json when
 *                                           a leaf has no btkit type
 *   Null                                 -> null
 *   anything else (Binary, Duration, Interval, Union, ...) -> only dropped
 * A column that is dropped (or neither a feature nor kept) is never decoded, so a type btkit has no
 * name for does not stop prep when the column is not used; a used one is PREP_FORMAT naming the
 * column, its Arrow type and the flags that get past it.
 */
import { DataType, Type, Vector, type Field, type RecordBatch, type Schema } from "apache-arrow";
import { BtkitError, optionHint } from "../errors.js";
import { DECIMAL_MAX_PRECISION, decimalOf, decimalType, isJsonType, type ColumnType } from "../protocol/descriptor.js";
import { isNestedName, nestedTypeName, type NestedNode } from "../protocol/nested.js";
import { decimalText, readDecimalWords } from "../protocol/decimal.js";
import { civilFromDays, temporalOf, temporalText, temporalTypeName, unitName, type Temporal, type TimeUnit } from "../protocol/time.js";

const YEAR_RE = /^\d{4}-/;

export { decimalText };
import { KIND, type JsonRecord, type Kind } from "./jsonl-scanner.js";
import { schemaHint } from "./schema.js";

/** One input column: its btkit type, the kind of its values, and its Arrow type (for messages). */
export interface TypedColumn {
  name: string;
  /** `null` for a column no btkit type holds (`unsupported`) */
  type: ColumnType;
  arrowType: string;
  /** no btkit type holds the Arrow type (Binary, Interval, ...): the column must be dropped */
  unsupported?: true;
}

/** A record of a typed input; `error` set when a value cannot be represented (the row is invalid). */
export type TypedRecord = JsonRecord & { error?: BtkitError };

const INT64_MAX = 9223372036854775807n;

/** The btkit type of an Arrow field, or undefined when none holds it (see the mapping above). */
export function columnTypeOf(field: Field): ColumnType | undefined {
  const t = field.type as DataType;
  switch (t.typeId) {
    case Type.Int: {
      const { isSigned, bitWidth } = t as unknown as { isSigned: boolean; bitWidth: number };
      return !isSigned && bitWidth === 64 ? "uint64" : "int64";
    }
    case Type.Float:
      return "float64";
    case Type.Decimal: {
      // exact: decimal(P,S) as it is (a negative scale, or more than 38 digits, as exact text)
      const { precision, scale } = t as unknown as { precision: number; scale: number };
      return precision <= DECIMAL_MAX_PRECISION && scale >= 0 ? decimalType(precision, scale) : "utf8";
    }
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "utf8";
    case Type.Dictionary: {
      const vt = (t as unknown as { dictionary: DataType }).dictionary;
      if (vt.typeId === Type.Utf8 || vt.typeId === Type.LargeUtf8) return "utf8";
      break;
    }
    case Type.Timestamp: {
      const { unit, timezone } = t as unknown as { unit: TimeUnit; timezone?: string | null };
      return temporalTypeName(timezone ? "timestamp" : "timestamp_ntz", unit);
    }
    case Type.Date:
      return "date";
    case Type.Time:
      return temporalTypeName("time", (t as unknown as { unit: TimeUnit }).unit);
    case Type.List:
    case Type.FixedSizeList:
    case Type.Struct:
    case Type.Map:
      return nestedTypeOfArrow(t) ?? "json";
    case Type.Null:
      return "null";
    default:
      if (String(t).startsWith("LargeList")) return nestedTypeOfArrow(t) ?? "json";
  }
  return undefined;
}

/**
 * The nested column type of a nested Arrow type (list<T>, struct<...>, map<K,V>; large and
 * fixed-size lists are lists), its leaves mapped as top-level columns are; undefined when a leaf
 * has no btkit type (the column is then json: JSON text).
 */
function nestedTypeOfArrow(t: DataType): ColumnType | undefined {
  const node = (dt: DataType): NestedNode | undefined => {
    const children = (dt as unknown as { children?: Field[] }).children ?? [];
    switch (dt.typeId) {
      case Type.List:
      case Type.FixedSizeList: {
        const item = node(children[0]!.type as DataType);
        return item === undefined ? undefined : { list: item };
      }
      case Type.Struct: {
        const fields = children.map((f) => ({ name: f.name, type: node(f.type as DataType) }));
        return fields.every((f) => f.type !== undefined) ? { struct: fields as Array<{ name: string; type: NestedNode }> } : undefined;
      }
      case Type.Map: {
        const kv = (children[0]!.type as unknown as { children: Field[] }).children;
        const k = node(kv[0]!.type as DataType);
        const v = node(kv[1]!.type as DataType);
        return k === undefined || v === undefined || typeof k !== "string" ? undefined : { map: [k, v] };
      }
      default: {
        if (String(dt).startsWith("LargeList")) {
          const item = node(children[0]!.type as DataType);
          return item === undefined ? undefined : { list: item };
        }
        const leaf = columnTypeOf({ type: dt } as Field);
        return leaf === undefined || leaf === "json" || isNestedName(leaf) ? undefined : leaf;
      }
    }
  };
  const n = node(t);
  return n === undefined || typeof n === "string" ? undefined : (nestedTypeName(n) as ColumnType);
}

/** PREP_FORMAT for a used column no btkit type holds, naming the flag that gets past it: --drop. */
export function unsupportedColumn(c: TypedColumn, input: string): BtkitError {
  return new BtkitError(
    "PREP_FORMAT",
    `${input}: column ${JSON.stringify(c.name)} has Arrow type ${c.arrowType}, which no btkit column type holds (supported: integers, floats, decimals, bool, utf8, dates, timestamps, times, lists, structs, maps, null); drop it with ${optionHint("drop", c.name, `--drop ${c.name}`)}`,
    { input, column: c.name, got: c.arrowType, option: "drop" },
  );
}

/** The columns of an Arrow schema as btkit columns (names must be unique and non-empty). */
export function typedColumns(schema: Schema, input: string): TypedColumn[] {
  const seen = new Set<string>();
  return schema.fields.map((f, i) => {
    if (f.name === "") throw new BtkitError("PREP_HEADER", `${input}: column ${i + 1} has an empty name`, { input, column: `#${i + 1}` });
    if (seen.has(f.name)) throw new BtkitError("PREP_HEADER", `${input}: column name ${JSON.stringify(f.name)} appears twice`, { input, column: f.name });
    seen.add(f.name);
    const type = columnTypeOf(f);
    if (type !== undefined) return { name: f.name, type, arrowType: String(f.type) };
    return { name: f.name, type: "null", arrowType: String(f.type), unsupported: true };
  });
}

/**
 * The kind values of a column get, given its final type (after --schema): the checks (fits) then
 * validate the text against that type, as for CSV text.
 */
export function kindFor(native: ColumnType, final: ColumnType, column: string, arrowType: string): Kind {
  if (decimalOf(final)) return KIND.number;
  if (isNestedName(final)) {
    if (isJsonType(native)) return KIND.json;
    throw new BtkitError("PREP_SCHEMA", `${schemaHint(column, final)}: column ${JSON.stringify(column)} is Arrow ${arrowType} (btkit ${native}); it cannot be read as ${final}`, { option: "schema", column, expected: native, got: final });
  }
  if (temporalOf(final)) return KIND.string;
  switch (final) {
    case "int64":
    case "uint64":
    case "float64":
      return KIND.number;
    case "utf8":
    case "date":
    case "timestamp_ntz":
    case "timestamp":
      return KIND.string;
    case "null":
      return KIND.null;
    case "bool":
      if (native === "bool") return KIND.bool;
      break;
    case "json":
      return isJsonType(native) ? KIND.json : native === "bool" ? KIND.bool : native === "int64" || native === "uint64" || native === "float64" || decimalOf(native) ? KIND.number : KIND.string;
  }
  throw new BtkitError("PREP_SCHEMA", `${schemaHint(column, final)}: column ${JSON.stringify(column)} is Arrow ${arrowType} (btkit ${native}); it cannot be read as ${final}`, { option: "schema", column, expected: native, got: final });
}

const pad = (n: number, w: number): string => String(n).padStart(w, "0");

function dateText(days: number): string | undefined {
  const [y, m, d] = civilFromDays(days);
  if (y < 0 || y > 9999) return undefined;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** A value that cannot be kept; `asText` when reading the column as text (--schema NAME:utf8) would keep it. */
class ValueError extends Error {
  readonly asText: boolean;
  constructor(message: string, asText = false) {
    super(message);
    this.asText = asText;
  }
}

/** A vector's type, its (single) Data, that Data's offset, and a validity test by row. */
function accessOf(vec: Vector): { t: DataType; data: Vector["data"][number]; off: number; valid: (i: number) => boolean } {
  const data = vec.data[0]!;
  return { t: vec.type as DataType, data, off: data.offset, valid: (i) => data.nullCount === 0 || vec.isValid(i) };
}

/** A list's row i as a JSON array of its items start(i) .. end(i)-1 of the child. */
function listReader(item: Reader, valid: (i: number) => boolean, start: (i: number) => number, end: (i: number) => number): Reader {
  return (i) => {
    if (!valid(i)) return null;
    const parts: string[] = [];
    for (let k = start(i); k < end(i); k++) parts.push(item(k) ?? "null");
    return `[${parts.join(",")}]`;
  };
}

/**
 * Row i of a nested Arrow vector (list, large list, fixed-size list, struct, map) as JSON text,
 * walked by its Arrow type so nested values keep what they are: integers and decimals as JSON
 * numbers with their exact digits, dates, timestamps (with their zone, nanoseconds included) and
 * times as ISO 8601 strings, map keys as object keys. Binary and other untyped leaves are a
 * ValueError. (apache-arrow's get() would give decimals as words and times as floating
 * milliseconds.)
 */
function nestedReader(vec: Vector): Reader {
  const { t, data, off, valid } = accessOf(vec);
  switch (t.typeId) {
    case Type.List:
    case Type.Map: {
      const offsets = data.valueOffsets as Int32Array | BigInt64Array;
      const child = vec.getChildAt(0)!;
      if (t.typeId === Type.Map) {
        const keys = nestedReader(child.getChildAt(0)!);
        const values = nestedReader(child.getChildAt(1)!);
        return (i) => {
          if (!valid(i)) return null;
          const parts: string[] = [];
          for (let k = Number(offsets[off + i]!); k < Number(offsets[off + i + 1]!); k++) {
            const key = keys(k);
            // a map's keys are object keys: strings as they are, other keys as their text
            const name = key === null ? '"null"' : key.startsWith('"') ? key : JSON.stringify(key);
            parts.push(`${name}:${values(k) ?? "null"}`);
          }
          return `{${parts.join(",")}}`;
        };
      }
      return listReader(nestedReader(child), valid, (i) => Number(offsets[off + i]!), (i) => Number(offsets[off + i + 1]!));
    }
    case Type.FixedSizeList: {
      const size = (t as unknown as { listSize: number }).listSize;
      return listReader(nestedReader(vec.getChildAt(0)!), valid, (i) => (off + i) * size, (i) => (off + i + 1) * size);
    }
    case Type.Struct: {
      const fields = (t as unknown as { children: Field[] }).children;
      const readers = fields.map((_, k) => nestedReader(vec.getChildAt(k)!));
      const names = fields.map((f) => `${JSON.stringify(f.name)}:`);
      return (i) => {
        if (!valid(i)) return null;
        let out = "{";
        for (let k = 0; k < readers.length; k++) out += `${k > 0 ? "," : ""}${names[k]}${readers[k]!(i) ?? "null"}`;
        return `${out}}`;
      };
    }
    default: {
      if (String(t).startsWith("LargeList")) {
        const offsets = data.valueOffsets as unknown as BigInt64Array;
        return listReader(nestedReader(vec.getChildAt(0)!), valid, (i) => Number(offsets[off + i]!), (i) => Number(offsets[off + i + 1]!));
      }
      const leaf = columnTypeOf({ type: t } as Field);
      if (leaf === undefined || leaf === "null") {
        if (leaf === "null") return () => null;
        return () => {
          throw new ValueError(`holds a nested ${String(t)} value, which btkit cannot represent`);
        };
      }
      // the exact text of the leaf, then its JSON form: numbers and booleans bare, the rest strings
      const text = columnReader(vec, leaf, true);
      const bare = leaf === "int64" || leaf === "uint64" || leaf === "float64" || leaf === "bool" || decimalOf(leaf) !== undefined;
      return (i) => {
        const v = text(i);
        return v === null ? null : bare ? v : JSON.stringify(v);
      };
    }
  }
}

type Reader = (i: number) => string | null;

/**
 * A function giving row i of an Arrow column as text (null for null), per the mapping above.
 * `asText`: the column is read as utf8 (--schema NAME:utf8), so values no btkit type holds exactly
 * (a Uint64 above 2^63-1, nanoseconds, a time of day) are given as their exact text.
 */
function columnReader(vec: Vector, native: ColumnType, asText: boolean): Reader {
  const { t, data, off, valid } = accessOf(vec);
  switch (t.typeId) {
    case Type.Null:
      return () => null;
    case Type.Int:
      return (i) => {
        if (!valid(i)) return null;
        const v = vec.get(i) as number | bigint;
        if (typeof v === "bigint" && v > INT64_MAX && !asText && native !== "uint64") throw new ValueError(`${v} is above the int64 maximum 2^63-1`, true);
        return String(v);
      };
    case Type.Float:
      return (i) => {
        if (!valid(i)) return null;
        const v = vec.get(i) as number;
        if (!Number.isFinite(v)) throw new ValueError(`${v} is not a finite number (JSON and CSV model input cannot carry it)`);
        // String(-0) is "0": a negative zero is written -0.0, which keeps its sign in every reader
        // (a Python model's json reads -0 as the integer 0)
        return Object.is(v, -0) ? "-0.0" : String(v);
      };
    case Type.Decimal: {
      const { scale, bitWidth } = t as unknown as { scale: number; bitWidth: number };
      const words = bitWidth / 32;
      const w = data.values as Uint32Array;
      return (i) => (valid(i) ? decimalText(readDecimalWords(w, (off + i) * words, words), scale) : null);
    }
    case Type.Bool:
      return (i) => (valid(i) ? (vec.get(i) ? "true" : "false") : null);
    case Type.Timestamp: {
      const unit = (t as unknown as { unit: TimeUnit }).unit;
      // an instant is written with Z; a wall-clock time (no zone in the Arrow type) without one
      const zoned = native === "timestamp" || Boolean((t as unknown as { timezone?: string | null }).timezone) || temporalOf(native)?.kind === "timestamp";
      const form: Temporal = { kind: zoned ? "timestamp" : "timestamp_ntz", unit };
      const values = data.values as BigInt64Array;
      return (i) => {
        if (!valid(i)) return null;
        const text = temporalText(values[off + i]!, form);
        // read as text (--schema NAME:utf8), any year is written as it is
        if (!YEAR_RE.test(text) && !asText) throw new ValueError(`${values[off + i]!} ${unitName(unit)} since 1970 is outside the years 0000-9999`, true);
        return text;
      };
    }
    case Type.Date: {
      const unit = (t as unknown as { unit: number }).unit;
      const values = data.values as Int32Array | BigInt64Array;
      return (i) => {
        if (!valid(i)) return null;
        const raw = values[off + i]!;
        if (unit !== 0 && BigInt(raw) % 86400000n !== 0n) throw new ValueError(`Date64 ${raw} ms is not a whole day`);
        const text = dateText(unit === 0 ? Number(raw) : Number(BigInt(raw) / 86400000n));
        if (text === undefined) throw new ValueError(`date ${raw} is outside the years 0000-9999`);
        return text;
      };
    }
    case Type.Time: {
      const form: Temporal = { kind: "time", unit: (t as unknown as { unit: TimeUnit }).unit };
      const day = [86400n, 86400000n, 86400000000n, 86400000000000n][form.unit]!;
      const values = data.values as Int32Array | BigInt64Array;
      return (i) => {
        if (!valid(i)) return null;
        const raw = BigInt(values[off + i]!);
        // 24:00:00 and beyond, or before midnight, is no time of day of ours (it would wrap)
        if (raw < 0n || raw >= day) throw new ValueError(`${raw} ${unitName(form.unit)} since midnight is not a time of day from 00:00:00 to 23:59:59`);
        return temporalText(raw, form);
      };
    }
    default:
      if (isJsonType(native)) return nestedReader(vec);
      // utf8, large utf8 and dictionary-encoded text
      return (i) => (valid(i) ? (vec.get(i) as string) : null);
  }
}

/**
 * Turns record batches into records. `columns` are the input's own (typedColumns); `finalTypes`
 * the types after --schema, which decide each value's kind.
 */
export class ArrowRecordMaker {
  readonly input: string;
  readonly keys: string[];
  readonly #columns: TypedColumn[];
  readonly #kinds: Kind[];
  /** rows made so far (the next record's line is rows + 1) */
  rows = 0;

  readonly #finalTypes: ColumnType[];
  readonly #unused: (name: string) => boolean;

  /** `unused(name)`: the column is dropped (or neither a feature nor kept): its values are never decoded */
  constructor(input: string, columns: TypedColumn[], finalTypes: ColumnType[], unused: (name: string) => boolean = () => false) {
    this.input = input;
    this.#columns = columns;
    this.#finalTypes = finalTypes;
    this.#unused = unused;
    this.keys = columns.map((c) => c.name);
    this.#kinds = columns.map((c, i) => (unused(c.name) ? KIND.null : kindFor(c.type, finalTypes[i]!, c.name, c.arrowType)));
    for (const c of columns) {
      if (c.unsupported && !unused(c.name)) throw unsupportedColumn(c, input);
    }
  }

  /**
   * One batch -> records. `endAt(k)` gives the input byte position after row k of the batch
   * (for balanced sharding). A value that cannot be represented makes its record carry a
   * PREP_TYPE `error` naming the row and column (a row-level error: --on-invalid skip skips it).
   */
  make(batch: RecordBatch, endAt: (k: number) => number): TypedRecord[] {
    const readers = this.#columns.map((c, j) => {
      // an unused column is never decoded (a Parquet reader leaves it out of the batch)
      if (this.#unused(c.name)) return (): null => null;
      const vec = batch.numCols === this.#columns.length ? batch.getChildAt(j) : batch.getChild(c.name);
      if (!vec) throw new BtkitError("PREP_SCHEMA", `${this.input}: a record batch lacks column ${JSON.stringify(c.name)}`, { input: this.input, column: c.name });
      return columnReader(vec, c.type, this.#finalTypes[j] === "utf8" && c.type !== "utf8");
    });
    const records: TypedRecord[] = [];
    for (let k = 0; k < batch.numRows; k++) {
      const line = ++this.rows;
      const values: (string | null)[] = new Array<string | null>(readers.length);
      const kinds: Kind[] = new Array<Kind>(readers.length);
      const rec: TypedRecord = { keys: this.keys, values, kinds, line, blank: false, end: endAt(k) };
      for (let j = 0; j < readers.length; j++) {
        let v: string | null;
        try {
          v = readers[j]!(k);
        } catch (err) {
          if (!(err instanceof ValueError)) throw err;
          const c = this.#columns[j]!;
          const hint = err.asText ? `; read the column as text with ${schemaHint(c.name, "utf8")}, or skip such rows with ${optionHint("onInvalid", "skip")}` : "";
          rec.error = new BtkitError("PREP_TYPE", `${this.input}: row ${line}, column ${JSON.stringify(c.name)} (Arrow ${c.arrowType}): ${err.message}${hint}`, { input: this.input, line, row: line, column: c.name, got: c.arrowType, ...(hint ? { option: "schema" } : {}) });
          break;
        }
        values[j] = v;
        kinds[j] = v === null ? KIND.null : this.#kinds[j]!;
      }
      records.push(rec);
    }
    return records;
  }
}
