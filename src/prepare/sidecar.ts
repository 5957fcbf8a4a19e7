/**
 * Sidecar batches: the keep columns of a shard's rows, typed per arrowTypeOf
 * (src/protocol/arrow-types.ts), plus __btkit_row (Int64, the global 0-based row number), built
 * directly as Arrow buffers in batches of bounded size (written by protocol/sidecar-file.ts).
 */
import {
  Bool,
  DateDay,
  Decimal,
  Field,
  Float64,
  Int64,
  Null,
  RecordBatch,
  Schema,
  Struct,
  TimestampMicrosecond,
  Uint64,
  Utf8,
  makeData,
  type Data,
} from "apache-arrow";
import { BtkitError } from "../errors.js";
import { decimalOf, type ColumnType } from "../protocol/descriptor.js";
import { roundsInDouble, unscaledOf, writeDecimalWords } from "../protocol/decimal.js";

export { roundsInDouble };
import { arrowTypeOf } from "../protocol/arrow-types.js";
import { SIDECAR_ROW_COLUMN } from "../protocol/layout.js";
import { FIELD, type RawRecords } from "./csv-scanner.js";
import { readDecimalTo, timestampBytesTo } from "../protocol/byte-values.js";
import { copyBytes } from "./encode-bytes.js";
import { timestampMicros } from "./schema.js";
import { temporalOf, temporalUnits, type Temporal } from "../protocol/time.js";
import { isNestedName } from "../protocol/nested.js";
import { nestedData } from "../protocol/nested-arrow.js";

/** The Arrow type of a column's values in a sidecar. */
export const arrowType = arrowTypeOf;

export function sidecarSchema(columns: readonly { name: string; type: ColumnType }[]): Schema {
  return new Schema([...columns.map((c) => new Field(c.name, arrowType(c.type), true)), new Field(SIDECAR_ROW_COLUMN, new Int64(), false)]);
}

/** One column of a batch as Arrow Data, from its values as text (already checked against the type). */
export function columnData(type: ColumnType, values: readonly (string | null)[], column: string): Data {
  const b = new ColumnBuilder(type, column, values.length);
  for (const v of values) b.addText(v);
  return b.take();
}

const MICROS_PER_DAY = 86400000000n;
/** longDecimalBytes's answer to whether the double rounds the text */
const LONG = { rounds: false };
/** timestampBytesTo's scratch: microseconds, unboxed */
const MICROS = new Float64Array(1);

/**
 * A temporal column as Arrow Data from microseconds since 1970-01-01T00:00 (UTC for timestamp,
 * the wall clock for timestamp_ntz, midnight of the day for date: stored as days, Date32).
 */
function temporalData(type: "date" | "timestamp_ntz" | "timestamp", length: number, nullCount: number, nullBitmap: Uint8Array | undefined, micros: BigInt64Array): Data {
  if (type === "date") {
    const days = new Int32Array(length);
    for (let i = 0; i < length; i++) days[i] = Number(micros[i]! / MICROS_PER_DAY);
    return makeData({ type: new DateDay(), length, nullCount, nullBitmap, data: days });
  }
  return makeData({ type: type === "timestamp" ? new TimestampMicrosecond("UTC") : new TimestampMicrosecond(), length, nullCount, nullBitmap, data: micros });
}

/**
 * Stores a safe integer into slot i of a BigInt64Array through its Int32 view (little-endian
 * halves), without allocating a BigInt.
 */
function setInt64(halves: Int32Array, data: BigInt64Array, i: number, n: number): void {
  if (!Number.isSafeInteger(n)) {
    data[i] = BigInt(n);
    return;
  }
  const hi = Math.floor(n / 4294967296);
  halves[2 * i] = (n - hi * 4294967296) | 0;
  halves[2 * i + 1] = hi | 0;
}

/** One sidecar column of a batch being built, straight into Arrow buffers. */
class ColumnBuilder {
  readonly type: ColumnType;
  readonly name: string;
  length = 0;
  nulls = 0;
  #cap: number;
  #valid: Uint8Array;
  #i64: BigInt64Array | undefined;
  #halves: Int32Array | undefined;
  #f64: Float64Array | undefined;
  #bits: Uint8Array | undefined;
  #offsets: Int32Array | undefined;
  #bytes: Buffer | undefined;
  #at = 0;
  /** decimal(P,S): its bounds, and four 32-bit words per value (Decimal128) */
  readonly #dec: { precision: number; scale: number } | undefined;
  #words: Uint32Array | undefined;
  /** float64 values with more significant digits than a double keeps (rounded here) */
  rounded = 0;
  /**
   * time and the temporal types in units other than the microsecond's plain names: values in the
   * column's unit (temporalUnits), stored 64-bit, cast at take() to what the Arrow type stores
   */
  readonly #unit: Temporal | undefined;
  /** a nested type: the values' JSON texts, built into Arrow data at take() */
  #texts: (string | null)[] | undefined;

  constructor(type: ColumnType, name: string, capacity: number) {
    this.type = type;
    this.name = name;
    this.#dec = decimalOf(type);
    const t = temporalOf(type);
    this.#unit = t && type !== "date" && type !== "timestamp_ntz" && type !== "timestamp" ? t : undefined;
    if (isNestedName(type)) this.#texts = [];
    this.#cap = Math.max(8, capacity);
    this.#valid = new Uint8Array((this.#cap + 7) >> 3);
    this.#alloc(this.#cap);
  }

  #alloc(cap: number): void {
    if (this.#dec) {
      this.#words = new Uint32Array(cap * 4);
      return;
    }
    switch (this.#unit ? "int64" : this.type) {
      case "null":
        return;
      case "int64":
      case "uint64":
      case "date":
      case "timestamp_ntz":
      case "timestamp":
        this.#i64 = new BigInt64Array(cap);
        this.#halves = new Int32Array(this.#i64.buffer);
        return;
      case "float64":
        this.#f64 = new Float64Array(cap);
        return;
      case "bool":
        this.#bits = new Uint8Array((cap + 7) >> 3);
        return;
      default:
        this.#offsets = new Int32Array(cap + 1);
        this.#bytes ??= Buffer.allocUnsafe(64 * 1024);
    }
  }

  #grow(): void {
    const cap = this.#cap * 2;
    const valid = new Uint8Array((cap + 7) >> 3);
    valid.set(this.#valid);
    this.#valid = valid;
    const i64 = this.#i64;
    const f64 = this.#f64;
    const bits = this.#bits;
    const offsets = this.#offsets;
    const words = this.#words;
    this.#alloc(cap);
    if (words) this.#words!.set(words);
    if (i64) this.#i64!.set(i64);
    if (f64) this.#f64!.set(f64);
    if (bits) this.#bits!.set(bits);
    if (offsets) this.#offsets!.set(offsets);
    this.#cap = cap;
  }

  #ensureBytes(n: number): Buffer {
    let b = this.#bytes!;
    if (this.#at + n > b.length) {
      const nb = Buffer.allocUnsafe(Math.max(b.length * 2, this.#at + n));
      b.copy(nb, 0, 0, this.#at);
      this.#bytes = b = nb;
    }
    return b;
  }

  /** Starts a row: returns its index, the validity bit still unset. */
  #next(): number {
    if (this.length === this.#cap) this.#grow();
    return this.length++;
  }

  #null(i: number): void {
    this.nulls++;
    if (this.#offsets) this.#offsets[i + 1] = this.#at;
  }

  /** Adds a value given as text (already checked against the type). */
  addText(v: string | null): void {
    if (this.#texts) {
      this.#texts.push(v);
      this.length++;
      return;
    }
    const i = this.#next();
    if (v === null) return this.#null(i);
    this.#valid[i >> 3]! |= 1 << (i & 7);
    if (this.#dec) return this.#decimal(i, v);
    if (this.#unit) return this.#units(i, v);
    switch (this.type) {
      case "null":
        return;
      case "int64":
      case "uint64":
        // a uint64 above 2^63-1 is stored by its bits (take() views them unsigned)
        if (v.length <= 15) setInt64(this.#halves!, this.#i64!, i, Number(v));
        else this.#i64![i] = BigInt.asIntN(64, BigInt(v));
        return;
      case "float64": {
        const x = Number(v);
        this.#f64![i] = x;
        if (v.length > 15 && roundsInDouble(v, x)) this.rounded++;
        return;
      }
      case "bool":
        if (v.charCodeAt(0) === 116 || v.charCodeAt(0) === 84) this.#bits![i >> 3]! |= 1 << (i & 7);
        return;
      case "date":
      case "timestamp_ntz":
      case "timestamp":
        return this.#timestamp(i, v);
      default: {
        if (v.length > 0) {
          const b = this.#ensureBytes(v.length * 3);
          this.#at += b.write(v, this.#at, "utf8");
        }
        this.#offsets![i + 1] = this.#at;
      }
    }
  }

  #decimal(i: number, v: string): void {
    const u = unscaledOf(v, this.#dec!.precision, this.#dec!.scale);
    if (u === undefined) throw new BtkitError("INTERNAL", `column ${this.name}: ${JSON.stringify(v)} passed the ${this.type} check but cannot be converted`, { column: this.name });
    writeDecimalWords(u, this.#words!, i * 4);
  }

  #units(i: number, v: string): void {
    const n = temporalUnits(v, this.#unit!);
    if (n === undefined) throw new BtkitError("INTERNAL", `column ${this.name}: ${JSON.stringify(v)} passed the ${this.type} check but cannot be converted`, { column: this.name });
    this.#i64![i] = n;
  }

  #timestamp(i: number, v: string): void {
    const us = timestampMicros(v);
    if (us === undefined) throw new BtkitError("INTERNAL", `column ${this.name}: ${JSON.stringify(v)} passed the timestamp check but cannot be converted`, { column: this.name });
    if (typeof us === "number") setInt64(this.#halves!, this.#i64!, i, us);
    else this.#i64![i] = us;
  }

  /**
   * Adds a value given as bytes buf[s, e) of valid UTF-8 (already checked against the type);
   * `isNull` for a null; `quote` >= 0 when the bytes hold doubled quote characters to undo.
   */
  addBytes(buf: Buffer, s: number, e: number, isNull: boolean, quote: number): void {
    if (this.#texts) {
      // the JSON text of a CSV field: doubled quotes undone
      const text = isNull ? null : buf.toString("utf8", s, e);
      return this.addText(text !== null && quote >= 0 ? text.replaceAll(String.fromCharCode(quote).repeat(2), String.fromCharCode(quote)) : text);
    }
    const i = this.#next();
    if (isNull) return this.#null(i);
    this.#valid[i >> 3]! |= 1 << (i & 7);
    if (this.#dec) return this.#decimal(i, buf.toString("latin1", s, e));
    // ASCII syntax: a latin1 view reads the same as the UTF-8 text
    if (this.#unit) return this.#units(i, buf.toString("latin1", s, e));
    switch (this.type) {
      case "null":
        return;
      case "uint64":
        this.#i64![i] = BigInt.asIntN(64, BigInt(buf.toString("latin1", s, e)));
        return;
      case "int64": {
        if (e - s <= 15) {
          let k = s;
          const neg = buf[k] === 45;
          if (neg) k++;
          let n = 0;
          for (; k < e; k++) n = n * 10 + (buf[k]! - 48);
          setInt64(this.#halves!, this.#i64!, i, neg ? -n : n);
        } else this.#i64![i] = BigInt(buf.toString("latin1", s, e));
        return;
      }
      case "float64": {
        // up to 17 digits (a double printed shortest): exactly, with whether the double rounds the text
        if (readDecimalTo(buf, s, e, LONG, this.#f64!, i)) {
          if (LONG.rounds) this.rounded++;
          return;
        }
        // an exponent, more digits, a boundary case: the slow path, which also counts what a double rounds
        const text = buf.toString("latin1", s, e);
        const x = Number(text);
        this.#f64![i] = x;
        if (e - s > 15 && roundsInDouble(text, x)) this.rounded++;
        return;
      }
      case "bool":
        if (buf[s] === 116 || buf[s] === 84) this.#bits![i >> 3]! |= 1 << (i & 7);
        return;
      case "date":
      case "timestamp_ntz":
      case "timestamp": {
        if (!timestampBytesTo(buf, s, e, MICROS, 0)) return this.#timestamp(i, buf.toString("latin1", s, e));
        setInt64(this.#halves!, this.#i64!, i, MICROS[0]!);
        return;
      }
      default: {
        const b = this.#ensureBytes(e - s);
        if (quote < 0) {
          this.#at += copyBytes(buf, s, e, b, this.#at);
        } else {
          let at = this.#at;
          for (let k = s; k < e; k++) {
            const c = buf[k]!;
            b[at++] = c;
            if (c === quote) k++;
          }
          this.#at = at;
        }
        this.#offsets![i + 1] = this.#at;
      }
    }
  }

  /** The column as Arrow Data (buffers copied to their exact sizes); resets the builder. */
  take(): Data {
    if (this.#texts) {
      let d: Data;
      try {
        d = nestedData(this.type, this.#texts);
      } catch (err) {
        throw new BtkitError("INTERNAL", `column ${this.name}: a value passed the ${this.type} check but cannot be built: ${(err as Error).message}`, { column: this.name });
      }
      this.#texts = [];
      this.length = 0;
      return d;
    }
    const length = this.length;
    const nulls = this.nulls;
    const nullBitmap = nulls > 0 ? this.#valid.slice(0, (length + 7) >> 3) : undefined;
    let d: Data;
    if (this.#dec) d = makeData({ type: new Decimal(this.#dec.scale, this.#dec.precision, 128), length, nullCount: nulls, nullBitmap, data: this.#words!.slice(0, length * 4) });
    else if (this.#unit) {
      const type = arrowTypeOf(this.type);
      const units = this.#i64!.slice(0, length);
      // Time32 (seconds, milliseconds) stores 32-bit values; the rest 64-bit
      const data = (type as unknown as { bitWidth?: number }).bitWidth === 32 ? Int32Array.from(units, (n) => Number(n)) : units;
      d = makeData({ type, length, nullCount: nulls, nullBitmap, data } as Parameters<typeof makeData>[0]);
    } else switch (this.type) {
      case "uint64":
        d = makeData({ type: new Uint64(), length, nullCount: nulls, nullBitmap, data: new BigUint64Array(this.#i64!.slice(0, length).buffer) });
        break;
      case "null":
        d = makeData({ type: new Null(), length });
        break;
      case "int64":
        d = makeData({ type: new Int64(), length, nullCount: nulls, nullBitmap, data: this.#i64!.slice(0, length) });
        break;
      case "date":
      case "timestamp_ntz":
      case "timestamp":
        d = temporalData(this.type, length, nulls, nullBitmap, this.#i64!.slice(0, length));
        break;
      case "float64":
        d = makeData({ type: new Float64(), length, nullCount: nulls, nullBitmap, data: this.#f64!.slice(0, length) });
        break;
      case "bool":
        d = makeData({ type: new Bool(), length, nullCount: nulls, nullBitmap, data: this.#bits!.slice(0, (length + 7) >> 3) });
        break;
      default:
        d = makeData({ type: new Utf8(), length, nullCount: nulls, nullBitmap, valueOffsets: this.#offsets!.slice(0, length + 1), data: new Uint8Array(this.#bytes!.subarray(0, this.#at)) });
    }
    this.length = 0;
    this.nulls = 0;
    this.#at = 0;
    this.#valid.fill(0);
    this.#i64?.fill(0n);
    this.#f64?.fill(0);
    this.#bits?.fill(0);
    this.#words?.fill(0);
    return d;
  }
}

/** Collects sidecar rows and turns them into record batches. */
export class SidecarBatcher {
  readonly schema: Schema;
  readonly #builders: ColumnBuilder[];
  #rows: number[] = [];

  constructor(columns: readonly { name: string; type: ColumnType }[], capacity = 2048) {
    this.schema = sidecarSchema(columns);
    this.#builders = columns.map((c) => new ColumnBuilder(c.type, c.name, capacity));
  }

  get length(): number {
    return this.#rows.length;
  }

  /** float64 values rounded to their nearest double so far (see roundsInDouble) */
  get rounded(): number {
    let n = 0;
    for (const b of this.#builders) n += b.rounded;
    return n;
  }

  add(values: readonly (string | null)[], row: number): void {
    for (let c = 0; c < this.#builders.length; c++) this.#builders[c]!.addText(values[c] ?? null);
    this.#rows.push(row);
  }

  /**
   * Adds record r of raw CSV records (valid UTF-8, values checked against the types): the fields
   * at `fields` (indexes within the record; all of them, in order, when undefined).
   */
  addRaw(raw: RawRecords, r: number, fields: readonly number[] | undefined, row: number): void {
    const first = raw.firstField[r]!;
    const buf = raw.buf;
    for (let c = 0; c < this.#builders.length; c++) {
      const f = first + (fields === undefined ? c : fields[c]!);
      const s = raw.start[f]!;
      const e = raw.stop[f]!;
      const flag = raw.flag[f]!;
      this.#builders[c]!.addBytes(buf, s, e, flag === FIELD.unquoted && s === e, flag === FIELD.escaped ? raw.quote : -1);
    }
    this.#rows.push(row);
  }

  take(): RecordBatch {
    const length = this.#rows.length;
    const children = this.#builders.map((b) => b.take());
    const rows = new BigInt64Array(length);
    const halves = new Int32Array(rows.buffer);
    for (let i = 0; i < length; i++) setInt64(halves, rows, i, this.#rows[i]!);
    children.push(makeData({ type: new Int64(), length, nullCount: 0, data: rows }));
    const struct = makeData({ type: new Struct(this.schema.fields), length, nullCount: 0, children });
    this.#rows = [];
    return new RecordBatch(this.schema, struct);
  }
}
