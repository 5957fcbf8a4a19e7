/**
 * Arrow columns (from Arrow IPC or Parquet inputs) as btkit columns: the type mapping, and record
 * batches turned into records of the same shape as the JSON readers' (values as text, with their
 * JSON kind), so they go through the same checks, encoders and sidecar as every other input.
 *
 * Values are converted from the Arrow buffers directly, never through a generic text round trip:
 * integers (also beyond 2^53) keep their exact digits (from the 64-bit buffers), floats are
 * written as the shortest text that reads back to the same double, decimals as their exact
 * digits, timestamps and dates as ISO 8601 UTC text with microseconds (the sidecar's unit), and
 * nested values (list, struct, map) as JSON text.
 *
 * Type mapping (Arrow -> btkit):
 *   Int8..Int64, Uint8..Uint64          -> int64 (a Uint64 value above 2^63-1 is a PREP_TYPE row error)
 *   Float16, Float32, Float64            -> float64 (NaN and +-Infinity are PREP_TYPE row errors: JSON cannot carry them)
 *   Decimal (precision <= 15)            -> float64 (exact digits in the model input; the double is exact too)
 *   Decimal (precision > 15)             -> utf8 (exact digits as text: a double would lose them)
 *   Bool                                 -> bool
 *   Utf8, LargeUtf8, Dictionary<_, Utf8> -> utf8
 *   Timestamp (any unit, any zone)       -> timestamp (instants in UTC; nanoseconds that are not whole microseconds are a PREP_TYPE row error)
 *   Date32, Date64                       -> timestamp (midnight UTC for Date32)
 *   List, LargeList, FixedSizeList, Struct, Map -> json (JSON text; 64-bit integers inside keep their digits)
 *   Null                                 -> null
 *   anything else (Binary, Time, Duration, Interval, Union, ...) -> PREP_FORMAT naming the column and its Arrow type
 */
import { DataType, Type, Vector, type Field, type RecordBatch, type Schema } from "apache-arrow";
import { BtkitError } from "../errors.js";
import type { ColumnType } from "../protocol/descriptor.js";
import { KIND, type JsonRecord, type Kind } from "./jsonl-scanner.js";

/** One input column: its btkit type, the kind of its values, and its Arrow type (for messages). */
export interface TypedColumn {
  name: string;
  type: ColumnType;
  arrowType: string;
}

/** A record of a typed input; `error` set when a value cannot be represented (the row is invalid). */
export type TypedRecord = JsonRecord & { error?: BtkitError };

const INT64_MAX = 9223372036854775807n;

/** The btkit type of an Arrow field, or a PREP_FORMAT error naming the column and its Arrow type. */
export function columnTypeOf(field: Field, input: string): ColumnType {
  const t = field.type as DataType;
  switch (t.typeId) {
    case Type.Int:
      return "int64";
    case Type.Float:
      return "float64";
    case Type.Decimal:
      return (t as unknown as { precision: number }).precision <= 15 ? "float64" : "utf8";
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
    case Type.Timestamp:
    case Type.Date:
      return "timestamp";
    case Type.List:
    case Type.FixedSizeList:
    case Type.Struct:
    case Type.Map:
      return "json";
    case Type.Null:
      return "null";
    default:
      if (String(t).startsWith("LargeList")) return "json";
  }
  throw new BtkitError(
    "PREP_FORMAT",
    `${input}: column ${JSON.stringify(field.name)} has Arrow type ${String(t)}, which btkit cannot represent (supported: integers, floats, decimals, bool, utf8, timestamps, dates, lists, structs, maps, null); drop it from the input before prep`,
    { input, column: field.name, got: String(t) },
  );
}

/** The columns of an Arrow schema as btkit columns (names must be unique and non-empty). */
export function typedColumns(schema: Schema, input: string): TypedColumn[] {
  const seen = new Set<string>();
  return schema.fields.map((f, i) => {
    if (f.name === "") throw new BtkitError("PREP_HEADER", `${input}: column ${i + 1} has an empty name`, { input, column: `#${i + 1}` });
    if (seen.has(f.name)) throw new BtkitError("PREP_HEADER", `${input}: column name ${JSON.stringify(f.name)} appears twice`, { input, column: f.name });
    seen.add(f.name);
    return { name: f.name, type: columnTypeOf(f, input), arrowType: String(f.type) };
  });
}

/**
 * The kind values of a column get, given its final type (after --schema): the checks (fits) then
 * validate the text against that type, as for CSV text.
 */
export function kindFor(native: ColumnType, final: ColumnType, column: string, arrowType: string): Kind {
  switch (final) {
    case "int64":
    case "float64":
      return KIND.number;
    case "utf8":
    case "timestamp":
      return KIND.string;
    case "null":
      return KIND.null;
    case "bool":
      if (native === "bool") return KIND.bool;
      break;
    case "json":
      return native === "json" ? KIND.json : native === "bool" ? KIND.bool : native === "int64" || native === "float64" ? KIND.number : KIND.string;
  }
  throw new BtkitError("PREP_SCHEMA", `--schema ${column}:${final}: column ${JSON.stringify(column)} is Arrow ${arrowType} (btkit ${native}); it cannot be read as ${final}`, { option: "schema", column, expected: native, got: final });
}

/** Days since 1970-01-01 -> [year, month, day] (H. Hinnant's civil_from_days). */
function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const pad = (n: number, w: number): string => String(n).padStart(w, "0");

function dateText(days: number): string | undefined {
  const [y, m, d] = civilFromDays(days);
  if (y < 0 || y > 9999) return undefined;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** Microseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" (undefined outside years 0000-9999). */
export function isoMicros(us: bigint): string | undefined {
  let days = us / 86400000000n;
  let rest = us % 86400000000n;
  if (rest < 0n) {
    rest += 86400000000n;
    days -= 1n;
  }
  const date = dateText(Number(days));
  if (date === undefined) return undefined;
  const r = Number(rest);
  const secs = Math.floor(r / 1000000);
  return `${date}T${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(r % 1000000, 6)}Z`;
}

/** A two's complement little-endian integer of `words` 32-bit words -> bigint. */
function wordsToBigInt(w: Uint32Array, at: number, words: number): bigint {
  let v = 0n;
  for (let k = words - 1; k >= 0; k--) v = (v << 32n) | BigInt(w[at + k]!);
  const bits = BigInt(words * 32);
  return v >> (bits - 1n) === 1n ? v - (1n << bits) : v;
}

/** An unscaled decimal integer and its scale -> exact decimal text ("-12.30" for -1230, scale 2). */
export function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  } else if (scale < 0 && digits !== "0") digits += "0".repeat(-scale);
  return neg ? `-${digits}` : digits;
}

class ValueError extends Error {}

/** A nested value (as apache-arrow's get() returns it) -> JSON text. */
function nestedJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "bigint":
      return v.toString();
    case "number":
      if (!Number.isFinite(v)) throw new ValueError(`holds ${v}, which JSON cannot carry`);
      return String(v);
    case "boolean":
      return v ? "true" : "false";
    case "string":
      return JSON.stringify(v);
    default:
  }
  if (v instanceof Vector) {
    const parts: string[] = [];
    for (const x of v as Iterable<unknown>) parts.push(nestedJson(x));
    return `[${parts.join(",")}]`;
  }
  if (v instanceof Uint8Array) throw new ValueError("holds binary data, which btkit cannot represent");
  const obj = typeof (v as { toJSON?: unknown }).toJSON === "function" ? ((v as { toJSON: () => unknown }).toJSON() as Record<string, unknown>) : (v as Record<string, unknown>);
  const parts: string[] = [];
  for (const k of Object.keys(obj)) parts.push(`${JSON.stringify(k)}:${nestedJson(obj[k])}`);
  return `{${parts.join(",")}}`;
}

type Reader = (i: number) => string | null;

/** A function giving row i of an Arrow column as text (null for null), per the mapping above. */
function columnReader(vec: Vector, native: ColumnType): Reader {
  const t = vec.type as DataType;
  const data = vec.data[0]!;
  const off = data.offset;
  const valid = (i: number): boolean => data.nullCount === 0 || vec.isValid(i);
  switch (t.typeId) {
    case Type.Null:
      return () => null;
    case Type.Int:
      return (i) => {
        if (!valid(i)) return null;
        const v = vec.get(i) as number | bigint;
        if (typeof v === "bigint" && v > INT64_MAX) throw new ValueError(`${v} is above the int64 maximum 2^63-1`);
        return String(v);
      };
    case Type.Float:
      return (i) => {
        if (!valid(i)) return null;
        const v = vec.get(i) as number;
        if (!Number.isFinite(v)) throw new ValueError(`${v} is not a finite number (JSON and CSV model input cannot carry it)`);
        return String(v);
      };
    case Type.Decimal: {
      const { scale, bitWidth } = t as unknown as { scale: number; bitWidth: number };
      const words = bitWidth / 32;
      const w = data.values as Uint32Array;
      return (i) => (valid(i) ? decimalText(wordsToBigInt(w, (off + i) * words, words), scale) : null);
    }
    case Type.Bool:
      return (i) => (valid(i) ? (vec.get(i) ? "true" : "false") : null);
    case Type.Timestamp: {
      const unit = (t as unknown as { unit: number }).unit;
      const values = data.values as BigInt64Array;
      return (i) => {
        if (!valid(i)) return null;
        const raw = values[off + i]!;
        let us: bigint;
        if (unit === 0) us = raw * 1000000n;
        else if (unit === 1) us = raw * 1000n;
        else if (unit === 2) us = raw;
        else {
          if (raw % 1000n !== 0n) throw new ValueError(`${raw} ns is not a whole number of microseconds (the sidecar's timestamp unit); it would be truncated`);
          us = raw / 1000n;
        }
        const text = isoMicros(us);
        if (text === undefined) throw new ValueError(`${us} µs since 1970 is outside the years 0000-9999`);
        return text;
      };
    }
    case Type.Date: {
      const unit = (t as unknown as { unit: number }).unit;
      const values = data.values as Int32Array | BigInt64Array;
      return (i) => {
        if (!valid(i)) return null;
        const raw = values[off + i]!;
        const text = unit === 0 ? dateText(Number(raw)) : isoMicros(BigInt(raw) * 1000n);
        if (text === undefined) throw new ValueError(`date ${raw} is outside the years 0000-9999`);
        return text;
      };
    }
    default:
      if (native === "json") return (i) => (valid(i) ? nestedJson(vec.get(i)) : null);
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

  constructor(input: string, columns: TypedColumn[], finalTypes: ColumnType[]) {
    this.input = input;
    this.#columns = columns;
    this.keys = columns.map((c) => c.name);
    this.#kinds = columns.map((c, i) => kindFor(c.type, finalTypes[i]!, c.name, c.arrowType));
  }

  /**
   * One batch -> records. `endAt(k)` gives the input byte position after row k of the batch
   * (for balanced sharding). A value that cannot be represented makes its record carry a
   * PREP_TYPE `error` naming the row and column (a row-level error: --on-invalid skip skips it).
   */
  make(batch: RecordBatch, endAt: (k: number) => number): TypedRecord[] {
    const readers = this.#columns.map((c, j) => {
      const vec = batch.getChildAt(j);
      if (!vec) throw new BtkitError("PREP_SCHEMA", `${this.input}: a record batch lacks column ${JSON.stringify(c.name)}`, { input: this.input, column: c.name });
      return columnReader(vec, c.type);
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
          rec.error = new BtkitError("PREP_TYPE", `${this.input}: row ${line}, column ${JSON.stringify(c.name)} (Arrow ${c.arrowType}): ${err.message}`, { input: this.input, line, row: line, column: c.name, got: c.arrowType });
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
