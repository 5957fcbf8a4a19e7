/**
 * Typed column accumulators: values are pushed one by one into preallocated typed arrays and
 * turned into Arrow Data without going through Arrow's generic builders (the hot path of join).
 * The Data of the scalar accumulators holds arrays made for it alone, and is marked so
 * (batch-transfer.ts `fresh`): a worker may take them without a copy.
 */
import { Bool, Data, DateDay, Decimal, Field, Float64, Int64, makeData, Null, TimestampMicrosecond, Utf8, Uint64, type DataType } from "apache-arrow";
import { DECIMAL_MAX_PRECISION, decimalOf, decimalType, isColumnType, type ColumnType, type DecimalType } from "../protocol/descriptor.js";
import { writeDecimalWords } from "../protocol/decimal.js";
import { arrowTypeOf } from "../protocol/arrow-types.js";
import { temporalOf, temporalTypeName, type Temporal, type TimeUnit } from "../protocol/time.js";
import { isNestedName } from "../protocol/nested.js";
import { nestedData } from "../protocol/nested-arrow.js";
import { fresh } from "./batch-transfer.js";

/** Field metadata key carrying the btkit column type (json and utf8 share Arrow's Utf8). */
export const TYPE_METADATA_KEY = "btkit.type";

export { arrowTypeOf };

export function fieldOf(name: string, type: ColumnType): Field {
  return new Field(name, arrowTypeOf(type), true, new Map([[TYPE_METADATA_KEY, type]]));
}

/** The btkit column type recorded on a field, or one derived from its Arrow type. */
export function columnTypeOfField(field: Field): ColumnType {
  const meta = field.metadata.get(TYPE_METADATA_KEY);
  if (meta !== undefined && isColumnType(meta)) return meta;
  const t = String(field.type);
  if (t === "Int64") return "int64";
  if (t === "Float64") return "float64";
  if (t === "Bool") return "bool";
  if (t === "Utf8") return "utf8";
  if (t.startsWith("Date")) return "date";
  if (t.startsWith("Decimal")) {
    const { precision, scale } = field.type as unknown as { precision: number; scale: number };
    if (precision <= DECIMAL_MAX_PRECISION && scale >= 0 && scale <= precision) return decimalType(precision, scale);
  }
  if (t.startsWith("Timestamp")) {
    const { unit, timezone } = field.type as unknown as { unit: TimeUnit; timezone?: string | null };
    return temporalTypeName(timezone ? "timestamp" : "timestamp_ntz", unit);
  }
  if (t.startsWith("Time")) return temporalTypeName("time", (field.type as unknown as { unit: TimeUnit }).unit);
  if (t === "Uint64") return "uint64";
  if (t === "Null") return "null";
  return "utf8";
}

/** A column being filled for one batch of known length. */
export interface Accumulator {
  readonly type: ColumnType;
  /** row i's value is null */
  setNull(i: number): void;
  finish(length: number): Data;
}

/** A column's validity bitmap (all valid until setNull), shared by the accumulators here and csv-features.ts. */
export abstract class Validity {
  bits: Uint8Array;
  nulls = 0;
  constructor(length: number) {
    this.bits = new Uint8Array((length + 7) >> 3).fill(0xff);
  }
  setNull(i: number): void {
    this.bits[i >> 3]! &= ~(1 << (i & 7));
    this.nulls++;
  }
  protected bitmap(): Uint8Array | undefined {
    return this.nulls === 0 ? undefined : this.bits;
  }
}

export class Float64Acc extends Validity implements Accumulator {
  readonly type = "float64" as const;
  readonly values: Float64Array;
  constructor(length: number) {
    super(length);
    this.values = new Float64Array(length);
  }
  finish(length: number): Data {
    return fresh(makeData({ type: new Float64(), length, nullCount: this.nulls, nullBitmap: this.bitmap(), data: this.values }));
  }
}

/** 64-bit values: int64, or microseconds since 1970-01-01T00:00 for the temporal types (a date is its midnight, stored as days). */
export class Int64Acc extends Validity implements Accumulator {
  readonly type: "int64" | "date" | "timestamp_ntz" | "timestamp";
  readonly values: BigInt64Array;
  constructor(length: number, type: "int64" | "date" | "timestamp_ntz" | "timestamp" = "int64") {
    super(length);
    this.type = type;
    this.values = new BigInt64Array(length);
  }
  finish(length: number): Data {
    const common = { length, nullCount: this.nulls, nullBitmap: this.bitmap() };
    switch (this.type) {
      case "timestamp":
        return fresh(makeData({ type: new TimestampMicrosecond("UTC"), ...common, data: this.values }));
      case "timestamp_ntz":
        return fresh(makeData({ type: new TimestampMicrosecond(), ...common, data: this.values }));
      case "date":
        return fresh(makeData({ type: new DateDay(), ...common, data: Int32Array.from(this.values, (us) => Number(us / 86400000000n)) }));
      default:
        return fresh(makeData({ type: new Int64(), ...common, data: this.values }));
    }
  }
}

/**
 * uint64 (stored by its bits, viewed unsigned at finish), time, and the temporal types in units
 * other than the plain names' microsecond: values in the column's unit (Time32 stores them 32-bit).
 */
export class UnitsAcc extends Validity implements Accumulator {
  readonly type: ColumnType;
  /** the temporal kind and unit; undefined for uint64 */
  readonly temporal: Temporal | undefined;
  readonly values: BigInt64Array;
  readonly #arrowType: DataType;
  constructor(length: number, type: ColumnType) {
    super(length);
    this.type = type;
    this.temporal = temporalOf(type);
    this.values = new BigInt64Array(length);
    this.#arrowType = arrowTypeOf(type);
  }
  finish(length: number): Data {
    const common = { length, nullCount: this.nulls, nullBitmap: this.bitmap() };
    if (this.type === "uint64") return makeData({ type: new Uint64(), ...common, data: new BigUint64Array(this.values.buffer, 0, length) });
    const bits = (this.#arrowType as unknown as { bitWidth?: number }).bitWidth;
    const data = bits === 32 ? Int32Array.from(this.values, (n) => Number(n)) : this.values;
    return makeData({ type: this.#arrowType, ...common, data } as Parameters<typeof makeData>[0]);
  }
}

/** A nested type (list, struct, map): the values' JSON texts, built into Arrow data at finish (nested-arrow.ts). */
export class NestedAcc implements Accumulator {
  readonly type: ColumnType;
  readonly values: (string | null)[];
  constructor(length: number, type: ColumnType) {
    this.type = type;
    this.values = new Array<string | null>(length).fill(null);
  }
  setNull(i: number): void {
    this.values[i] = null;
  }
  finish(): Data {
    return nestedData(this.type, this.values);
  }
}

export class BoolAcc extends Validity implements Accumulator {
  readonly type = "bool" as const;
  readonly values: Uint8Array;
  constructor(length: number) {
    super(length);
    this.values = new Uint8Array((length + 7) >> 3);
  }
  set(i: number, v: boolean): void {
    if (v) this.values[i >> 3]! |= 1 << (i & 7);
  }
  finish(length: number): Data {
    return fresh(makeData({ type: new Bool(), length, nullCount: this.nulls, nullBitmap: this.bitmap(), data: this.values }));
  }
}

export class Utf8Acc extends Validity implements Accumulator {
  readonly type: "utf8" | "json";
  readonly values: string[];
  constructor(length: number, type: "utf8" | "json" = "utf8") {
    super(length);
    this.type = type;
    this.values = new Array<string>(length).fill("");
  }
  finish(length: number): Data {
    const values = this.values;
    const joined = values.join("");
    const data = Buffer.from(joined, "utf8");
    const offsets = new Int32Array(length + 1);
    let at = 0;
    if (data.length === joined.length) {
      for (let i = 0; i < length; i++) {
        at += values[i]!.length;
        offsets[i + 1] = at;
      }
    } else {
      for (let i = 0; i < length; i++) {
        at += Buffer.byteLength(values[i]!, "utf8");
        offsets[i + 1] = at;
      }
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return fresh(makeData({ type: new Utf8(), length, nullCount: this.nulls, nullBitmap: this.bitmap(), valueOffsets: offsets, data: bytes }));
  }
}

/** decimal(P,S): unscaled integers, stored as Decimal128 (four 32-bit words each). */
export class DecimalAcc extends Validity implements Accumulator {
  readonly type: DecimalType;
  readonly precision: number;
  readonly scale: number;
  readonly words: Uint32Array;
  constructor(length: number, type: DecimalType) {
    super(length);
    this.type = type;
    const d = decimalOf(type)!;
    this.precision = d.precision;
    this.scale = d.scale;
    this.words = new Uint32Array(length * 4);
  }
  set(i: number, unscaled: bigint): void {
    writeDecimalWords(unscaled, this.words, i * 4);
  }
  finish(length: number): Data {
    return fresh(makeData({ type: new Decimal(this.scale, this.precision, 128), length, nullCount: this.nulls, nullBitmap: this.bitmap(), data: this.words }));
  }
}

export class NullAcc implements Accumulator {
  readonly type = "null" as const;
  setNull(): void {}
  finish(length: number): Data {
    return makeData({ type: new Null(), length });
  }
}

export function accumulatorFor(type: ColumnType, length: number): Accumulator {
  if (decimalOf(type)) return new DecimalAcc(length, type as DecimalType);
  if (isNestedName(type)) return new NestedAcc(length, type);
  if (type === "uint64" || (temporalOf(type) && type !== "date" && type !== "timestamp_ntz" && type !== "timestamp")) return new UnitsAcc(length, type);
  switch (type) {
    case "float64":
      return new Float64Acc(length);
    case "int64":
    case "date":
    case "timestamp_ntz":
    case "timestamp":
      return new Int64Acc(length, type);
    case "bool":
      return new BoolAcc(length);
    case "utf8":
    case "json":
      return new Utf8Acc(length, type);
    case "null":
      return new NullAcc();
    default:
      throw new Error(`no accumulator for column type ${type}`);
  }
}
