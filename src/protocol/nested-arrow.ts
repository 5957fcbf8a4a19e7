/**
 * Nested values between their JSON text (the model input's form) and Arrow data of their nested
 * type (nested.ts): nestedData builds a column from JSON texts with every leaf exact (integers and
 * decimals from their digits, times from ISO 8601 text in their unit), nestedText reads a row back
 * as the same JSON text. Used by prep's sidecar and join's reading of features and writing of
 * JSON Lines and CSV.
 */
import { makeData, type Data, type DataType, type Field } from "apache-arrow";
import { arrowTypeOf } from "./arrow-types.js";
import { decimalText, readDecimalWords, unscaledOf, writeDecimalWords } from "./decimal.js";
import { decimalOf } from "./descriptor.js";
import { JsonNumber, parseExactJson, type ExactJson, type NestedNode } from "./nested.js";
import { temporalOf, temporalText, temporalUnits } from "./time.js";
import { nestedNodeOf } from "./arrow-types.js";

/** A value that does not fit its nested type (the message says what and where inside the value). */
export class NestedValueError extends Error {}

const INT_RE = /^-?(0|[1-9]\d*)$/;
const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;
const UINT64_MAX = 18446744073709551615n;

function kindOf(v: ExactJson): string {
  if (v === null) return "null";
  if (typeof v === "string") return `the string ${JSON.stringify(v).slice(0, 40)}`;
  if (typeof v === "boolean") return String(v);
  if (v instanceof JsonNumber) return `the number ${v.text}`;
  return Array.isArray(v) ? "an array" : "an object";
}

function bitmapOf(values: readonly ExactJson[] | readonly unknown[]): { nullCount: number; nullBitmap: Uint8Array | undefined } {
  let nullCount = 0;
  const bits = new Uint8Array((values.length + 7) >> 3);
  values.forEach((v, i) => {
    if (v === null || v === undefined) nullCount++;
    else bits[i >> 3]! |= 1 << (i & 7);
  });
  return { nullCount, nullBitmap: nullCount > 0 ? bits : undefined };
}

/** A leaf value from its JSON (a map key arrives as a string: its text is taken as the value's). */
function leafData(leaf: string, type: DataType, values: readonly ExactJson[], path: string): Data {
  const length = values.length;
  const { nullCount, nullBitmap } = bitmapOf(values);
  const bad = (v: ExactJson): never => {
    throw new NestedValueError(`${path} holds ${kindOf(v)}, not a ${leaf}`);
  };
  const text = (v: ExactJson): string => (v instanceof JsonNumber ? v.text : typeof v === "string" ? v : bad(v));
  if (leaf === "null") {
    for (const v of values) if (v !== null) bad(v);
    return makeData({ type, length } as Parameters<typeof makeData>[0]);
  }
  const dec = decimalOf(leaf);
  if (dec) {
    const words = new Uint32Array(length * 4);
    values.forEach((v, i) => {
      if (v === null) return;
      const u = unscaledOf(text(v), dec.precision, dec.scale);
      if (u === undefined) bad(v);
      writeDecimalWords(u!, words, i * 4);
    });
    return makeData({ type, length, nullCount, nullBitmap, data: words } as Parameters<typeof makeData>[0]);
  }
  const t = temporalOf(leaf);
  if (t) {
    const units = new BigInt64Array(length);
    values.forEach((v, i) => {
      if (v === null) return;
      const n = typeof v === "string" ? temporalUnits(v, t) : undefined;
      if (n === undefined) bad(v);
      units[i] = n!;
    });
    const narrow = t.kind === "date" || (type as unknown as { bitWidth?: number }).bitWidth === 32;
    return makeData({ type, length, nullCount, nullBitmap, data: narrow ? Int32Array.from(units, (n) => Number(n)) : units } as Parameters<typeof makeData>[0]);
  }
  switch (leaf) {
    case "int64":
    case "uint64": {
      const ints = new BigInt64Array(length);
      values.forEach((v, i) => {
        if (v === null) return;
        const s = text(v);
        if (!INT_RE.test(s)) bad(v);
        const n = BigInt(s);
        if (leaf === "int64" ? n < INT64_MIN || n > INT64_MAX : n < 0n || n > UINT64_MAX) bad(v);
        ints[i] = BigInt.asIntN(64, n);
      });
      return makeData({ type, length, nullCount, nullBitmap, data: leaf === "uint64" ? new BigUint64Array(ints.buffer) : ints } as Parameters<typeof makeData>[0]);
    }
    case "float64": {
      const floats = new Float64Array(length);
      values.forEach((v, i) => {
        if (v !== null) floats[i] = v instanceof JsonNumber ? Number(v.text) : bad(v);
      });
      return makeData({ type, length, nullCount, nullBitmap, data: floats } as Parameters<typeof makeData>[0]);
    }
    case "bool": {
      const bits = new Uint8Array((length + 7) >> 3);
      values.forEach((v, i) => {
        if (v === null) return;
        // a map key "true"/"false" is the boolean's text
        const b = typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : bad(v);
        if (b) bits[i >> 3]! |= 1 << (i & 7);
      });
      return makeData({ type, length, nullCount, nullBitmap, data: bits } as Parameters<typeof makeData>[0]);
    }
    case "utf8": {
      const strings = values.map((v) => (v === null ? "" : typeof v === "string" ? v : bad(v)));
      const bytes = Buffer.from(strings.join(""), "utf8");
      const offsets = new Int32Array(length + 1);
      strings.forEach((s, i) => (offsets[i + 1] = offsets[i]! + Buffer.byteLength(s, "utf8")));
      return makeData({ type, length, nullCount, nullBitmap, valueOffsets: offsets, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) } as Parameters<typeof makeData>[0]);
    }
    default:
      throw new NestedValueError(`${path}: no values of type ${leaf}`);
  }
}

function build(node: NestedNode, type: DataType, values: readonly ExactJson[], path: string): Data {
  if (typeof node === "string") return leafData(node, type, values, path);
  const length = values.length;
  const { nullCount, nullBitmap } = bitmapOf(values);
  const children = (type as unknown as { children: Field[] }).children;
  if ("struct" in node) {
    const columns = node.struct.map(() => new Array<ExactJson>(length).fill(null));
    values.forEach((v, i) => {
      if (v === null) return;
      if (typeof v !== "object" || Array.isArray(v) || v instanceof JsonNumber) throw new NestedValueError(`${path} holds ${kindOf(v)}, not a struct`);
      for (const [k, x] of v.members) {
        const at = node.struct.findIndex((f) => f.name === k);
        if (at < 0) throw new NestedValueError(`${path} has a member ${JSON.stringify(k)} its struct type does not name`);
        columns[at]![i] = x;
      }
    });
    const data = node.struct.map((f, k) => build(f.type, children[k]!.type, columns[k]!, `${path}.${f.name}`));
    return makeData({ type, length, nullCount, nullBitmap, children: data } as Parameters<typeof makeData>[0]);
  }
  const offsets = new Int32Array(length + 1);
  if ("list" in node) {
    const items: ExactJson[] = [];
    values.forEach((v, i) => {
      if (v !== null) {
        if (!Array.isArray(v)) throw new NestedValueError(`${path} holds ${kindOf(v)}, not a list`);
        items.push(...v);
      }
      offsets[i + 1] = items.length;
    });
    return makeData({ type, length, nullCount, nullBitmap, valueOffsets: offsets, child: build(node.list, children[0]!.type, items, `${path}[]`) } as Parameters<typeof makeData>[0]);
  }
  // a map: its entries (key, value) from the object's members, in order
  const keys: ExactJson[] = [];
  const vals: ExactJson[] = [];
  values.forEach((v, i) => {
    if (v !== null) {
      if (typeof v !== "object" || Array.isArray(v) || v instanceof JsonNumber) throw new NestedValueError(`${path} holds ${kindOf(v)}, not a map`);
      for (const [k, x] of v.members) {
        // a key is a string in JSON; a numeric key type takes its digits
        const keyType = typeof node.map[0] === "string" ? node.map[0] : "";
        keys.push(keyType === "int64" || keyType === "uint64" || keyType === "float64" || decimalOf(keyType) ? new JsonNumber(k) : k);
        vals.push(x);
      }
    }
    offsets[i + 1] = keys.length;
  });
  const entries = children[0]!.type;
  const kv = (entries as unknown as { children: Field[] }).children;
  const child = makeData({ type: entries, length: keys.length, nullCount: 0, children: [build(node.map[0], kv[0]!.type, keys, `${path}{key}`), build(node.map[1], kv[1]!.type, vals, `${path}{value}`)] } as Parameters<typeof makeData>[0]);
  return makeData({ type, length, nullCount, nullBitmap, valueOffsets: offsets, child } as Parameters<typeof makeData>[0]);
}

/**
 * A column of nested type `type` from JSON texts (null for null). Throws NestedValueError naming
 * the path inside the value that does not fit, SyntaxError for text that is not JSON.
 */
export function nestedData(type: string, texts: readonly (string | null)[]): Data {
  const node = nestedNodeOf(type);
  if (!node) throw new NestedValueError(`${type} is not a nested type`);
  return build(node, arrowTypeOf(type as Parameters<typeof arrowTypeOf>[0]), texts.map((t) => (t === null ? null : parseExactJson(t))), "value");
}

type Reader = (i: number) => string | null;

/** Whether row i of an Arrow column is valid (not null), read from its validity bitmap. */
export function validity(data: Data): (i: number) => boolean {
  const bitmap = data.nullBitmap;
  const base = data.offset;
  return data.nullCount === 0 || !bitmap || bitmap.length === 0 ? () => true : (i) => ((bitmap[(base + i) >> 3]! >> ((base + i) & 7)) & 1) === 1;
}

/**
 * Row i of a leaf column as JSON text (null for null): integers and decimals as their digits,
 * floats as their shortest form (-0 kept; not finite: null), strings and times as JSON strings.
 * For int64, uint64, float64 and bool this is also the CSV text.
 */
export function leafText(leaf: string, data: Data): Reader {
  const valid = validity(data);
  const raw = data.values as ArrayBufferView;
  if (leaf === "null") return () => null;
  const dec = decimalOf(leaf);
  if (dec) {
    const words = new Uint32Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 4));
    return (i) => (valid(i) ? decimalText(readDecimalWords(words, i * 4), dec.scale) : null);
  }
  const t = temporalOf(leaf);
  if (t) {
    const narrow = t.kind === "date" || (data.type as unknown as { bitWidth?: number }).bitWidth === 32;
    const values = narrow ? new Int32Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 4)) : new BigInt64Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 8));
    return (i) => (valid(i) ? JSON.stringify(temporalText(BigInt(values[i]!), t)) : null);
  }
  switch (leaf) {
    case "int64":
    case "uint64": {
      const values = leaf === "int64" ? new BigInt64Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 8)) : new BigUint64Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 8));
      return (i) => (valid(i) ? String(values[i]!) : null);
    }
    case "float64": {
      const values = data.values as Float64Array;
      return (i) => {
        if (!valid(i)) return null;
        const v = values[i]!;
        // String(-0) is "0": a negative zero is written -0.0, which keeps its sign in every reader
        // (Python's json reads -0 as the integer 0; -0.0 is also what Python and DuckDB write)
        return Number.isFinite(v) ? (Object.is(v, -0) ? "-0.0" : String(v)) : null;
      };
    }
    case "bool": {
      const values = data.values as Uint8Array;
      const base = data.offset;
      return (i) => (valid(i) ? (((values[(base + i) >> 3]! >> ((base + i) & 7)) & 1) === 1 ? "true" : "false") : null);
    }
    default: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      return (i) => (valid(i) ? JSON.stringify(bytes.toString("utf8", offsets[i]!, offsets[i + 1]!)) : null);
    }
  }
}

function reader(node: NestedNode, data: Data): Reader {
  if (typeof node === "string") return leafText(node, data);
  const valid = validity(data);
  if ("struct" in node) {
    const readers = node.struct.map((f, k) => reader(f.type, data.children[k]!));
    const names = node.struct.map((f) => `${JSON.stringify(f.name)}:`);
    return (i) => {
      if (!valid(i)) return null;
      let out = "{";
      for (let k = 0; k < readers.length; k++) out += `${k > 0 ? "," : ""}${names[k]}${readers[k]!(i) ?? "null"}`;
      return `${out}}`;
    };
  }
  const offsets = data.valueOffsets as Int32Array;
  if ("list" in node) {
    const item = reader(node.list, data.children[0]!);
    return (i) => {
      if (!valid(i)) return null;
      const parts: string[] = [];
      for (let k = offsets[i]!; k < offsets[i + 1]!; k++) parts.push(item(k) ?? "null");
      return `[${parts.join(",")}]`;
    };
  }
  const entries = data.children[0]!;
  const key = reader(node.map[0], entries.children[0]!);
  const value = reader(node.map[1], entries.children[1]!);
  return (i) => {
    if (!valid(i)) return null;
    const parts: string[] = [];
    for (let k = offsets[i]!; k < offsets[i + 1]!; k++) {
      const kt = key(k) ?? "null";
      // object keys are strings: a string key as it is, another as its text
      parts.push(`${kt.startsWith('"') ? kt : JSON.stringify(kt)}:${value(k) ?? "null"}`);
    }
    return `{${parts.join(",")}}`;
  };
}

/** Row i of a column of nested type `type` as JSON text (null for null), leaves exact. */
export function nestedText(type: string, data: Data): Reader {
  const node = nestedNodeOf(type);
  if (!node) throw new NestedValueError(`${type} is not a nested type`);
  return reader(node, data);
}
