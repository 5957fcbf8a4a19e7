/**
 * The Arrow data type of each column type, shared by the sidecars prep writes and the tables join
 * writes. Kept out of the root export so that `btkit` itself does not load apache-arrow.
 *
 * int64 Int64, uint64 UInt64, float64 Float64, bool Bool, utf8 and json (the JSON text of a
 * nested value) Utf8, null Null; date Date32(DAY) (days since 1970-01-01); timestamp_ntz
 * Timestamp(MICROSECOND) (microseconds since 1970-01-01T00:00 of a wall clock, no time zone);
 * timestamp Timestamp(MICROSECOND, UTC) (microseconds since the epoch); time Time64(MICROSECOND)
 * (microseconds since midnight). With a unit: timestamp(UNIT) and timestamp_ntz(UNIT) are
 * Timestamp(UNIT[, UTC]), time(s|ms) Time32 and time(ns) Time64 of that unit. decimal(P,S) is
 * Decimal128(P, S), the unscaled integer in 128-bit two's complement. Nested types (list<T>,
 * struct<...>, map<K,V>) are List, Struct and Map of their children's types.
 */
import { Bool, DateDay, Decimal, Field, Float64, Int64, List, Map_, Null, Struct, Time, TimeUnit, Timestamp, TimestampMicrosecond, Uint64, Utf8, type DataType } from "apache-arrow";
import { decimalOf, isNestedLeaf, type ColumnType } from "./descriptor.js";
import { isNestedName, parseNestedType, type NestedNode } from "./nested.js";
import { temporalOf } from "./time.js";

const ARROW_UNITS = [TimeUnit.SECOND, TimeUnit.MILLISECOND, TimeUnit.MICROSECOND, TimeUnit.NANOSECOND] as const;

/** The tree of a nested column type (list<...>, struct<...>, map<...>), or undefined for any other type. */
export function nestedNodeOf(type: string): Exclude<NestedNode, string> | undefined {
  return isNestedName(type) ? parseNestedType(type, isNestedLeaf) : undefined;
}

/** Arrow's type of a nested type's node: List<item>, Struct<fields>, Map<entries: Struct<key, value>> (every field nullable but a map's key). */
function nestedArrowType(n: NestedNode): DataType {
  if (typeof n === "string") return arrowTypeOf(n as ColumnType);
  if ("list" in n) return new List(new Field("item", nestedArrowType(n.list), true));
  if ("map" in n) {
    const entries = new Struct([new Field("key", nestedArrowType(n.map[0]), false), new Field("value", nestedArrowType(n.map[1]), true)] as Field[]);
    return new Map_(new Field("entries", entries, false) as unknown as Field<never>);
  }
  return new Struct(n.struct.map((f) => new Field(f.name, nestedArrowType(f.type), true)));
}

export function arrowTypeOf(type: ColumnType): DataType {
  const nested = nestedNodeOf(type);
  if (nested) return nestedArrowType(nested);
  const dec = decimalOf(type);
  if (dec) return new Decimal(dec.scale, dec.precision, 128);
  const t = temporalOf(type);
  if (t && t.kind !== "date") {
    const unit = ARROW_UNITS[t.unit];
    // Arrow: Time32 for seconds and milliseconds, Time64 for micro- and nanoseconds
    if (t.kind === "time") return new Time(unit, t.unit <= 1 ? 32 : 64);
    return new Timestamp(unit, t.kind === "timestamp" ? "UTC" : null);
  }
  switch (type) {
    case "int64":
      return new Int64();
    case "uint64":
      return new Uint64();
    case "float64":
      return new Float64();
    case "bool":
      return new Bool();
    case "utf8":
    case "json":
      return new Utf8();
    case "date":
      return new DateDay();
    case "timestamp_ntz":
      return new TimestampMicrosecond();
    case "timestamp":
      return new TimestampMicrosecond("UTC");
    case "null":
      return new Null();
    default:
      throw new Error(`no Arrow type for column type ${type}`);
  }
}
