/**
 * The Arrow data type of each column type (layout.ts ARROW_TYPE_OF names them), shared by the
 * sidecars prep writes and the tables join writes. Kept out of the root export so that `btkit`
 * itself does not load apache-arrow.
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
