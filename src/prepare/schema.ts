/**
 * Column types: inference from a sample, the fit check for every later value, and parsing of
 * `--schema`. Pure functions. Values stay text as written (CSV) or JSON text (JSON Lines); types
 * only decide validity, the JSON Lines encoding and the sidecar's Arrow types.
 *
 * Text rules (CSV): int64 = JSON integer syntax without leading zeros (so "007" and IDs with
 * leading zeros stay utf8) within the int64 range; uint64 = a column of such integers, none
 * negative, some above 2^63-1 (to 2^64-1); float64 = JSON number syntax, finite;
 * bool = true/false (also True/False/TRUE/FALSE); ISO 8601 text is `date` (YYYY-MM-DD),
 * `timestamp_ntz` (a date-time without zone) or `timestamp` (with Z or an offset): a zone is never
 * invented, so a column mixing zoned and unzoned values is utf8 (a date fits timestamp_ntz, as
 * its midnight); a fraction with digits below the microsecond makes timestamp(ns) or
 * timestamp_ntz(ns) (never cut); HH:MM[:SS[.f]] is `time`; empty = null. Anything else is utf8. A column that is null throughout the sample is
 * `null` only when the sample was the whole input, else utf8 (JSON: json), so a later value fits.
 */
import { BtkitError, optionHint } from "../errors.js";
import { COLUMN_TYPE_NAMES, DECIMAL_MAX_PRECISION, canonicalType, decimalOf, decimalType, isColumnType, type ColumnType } from "../protocol/descriptor.js";
import { unscaledOf } from "../protocol/decimal.js";
import { isNestedName } from "../protocol/nested.js";
import { nestedData } from "../protocol/nested-arrow.js";
import { daysFromCivil, daysInMonth, isTimestampText, temporalFits, temporalOf, temporalTypeName, temporalTypeOf, temporalUnits, timestampMicros } from "../protocol/time.js";

export { daysFromCivil, daysInMonth, isTimestampText, temporalFits, temporalTypeOf, timestampMicros };
import { KIND, type Kind } from "./jsonl-scanner.js";

const INT_RE = /^-?(0|[1-9][0-9]*)$/;
const FLOAT_RE = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const BOOL_RE = /^(true|false|True|False|TRUE|FALSE)$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const UINT64_MAX = 18446744073709551615n;

/** Whether a text is an unsigned 64-bit integer: JSON integer syntax, no sign, at most 2^64-1. */
export function isUint64Text(v: string): boolean {
  if (!INT_RE.test(v) || v.charCodeAt(0) === 45) return false;
  return v.length < 20 || (v.length === 20 && BigInt(v) <= UINT64_MAX);
}

export function isInt64Text(v: string): boolean {
  if (!INT_RE.test(v)) return false;
  if (v.length < 19) return true;
  const b = BigInt(v);
  return b <= INT64_MAX && b >= INT64_MIN;
}

export function isFloatText(v: string): boolean {
  return FLOAT_RE.test(v) && Number.isFinite(Number(v));
}

export function isBoolText(v: string): boolean {
  return BOOL_RE.test(v);
}

/** The narrowest type of one value. */
export function typeOfValue(v: string | null, kind: Kind | undefined): ColumnType {
  if (v === null) return "null";
  if (kind === undefined) {
    if (INT_RE.test(v)) return isInt64Text(v) ? "int64" : isUint64Text(v) ? "uint64" : "utf8";
    if (isFloatText(v)) return "float64";
    if (BOOL_RE.test(v)) return "bool";
    return temporalTypeOf(v) ?? "utf8";
  }
  switch (kind) {
    case KIND.number:
      return isInt64Text(v) ? "int64" : isUint64Text(v) ? "uint64" : "float64";
    case KIND.bool:
      return "bool";
    case KIND.json:
      return "json";
    case KIND.string:
      return temporalTypeOf(v) ?? "utf8";
    default:
      return "null";
  }
}

/** Text in JSON: utf8 and the temporal types (their ISO 8601 strings). */
function isStringType(t: ColumnType): boolean {
  return t === "utf8" || temporalOf(t) !== undefined;
}

/** The common type of two (null is the identity). */
export function mergeTypes(a: ColumnType, b: ColumnType, json: boolean): ColumnType {
  if (a === b || b === "null") return a;
  if (a === "null") return b;
  if ((a === "int64" && b === "float64") || (a === "float64" && b === "int64")) return "float64";
  // integers above int64: unsigned when every one is (inferTypes checks the signs), floats among floats
  if ((a === "int64" && b === "uint64") || (a === "uint64" && b === "int64")) return "uint64";
  if ((a === "uint64" && b === "float64") || (a === "float64" && b === "uint64")) return "float64";
  const ta = temporalOf(a);
  const tb = temporalOf(b);
  if (ta && tb) {
    // one kind in the finer unit; a date is a wall clock's midnight
    const kind = ta.kind === tb.kind ? ta.kind : (ta.kind === "date" && tb.kind === "timestamp_ntz") || (ta.kind === "timestamp_ntz" && tb.kind === "date") ? "timestamp_ntz" : undefined;
    if (kind) return temporalTypeName(kind, kind === "date" ? 2 : (Math.max(ta.kind === "date" ? 0 : ta.unit, tb.kind === "date" ? 0 : tb.unit) as 0 | 1 | 2 | 3));
  }
  // JSON strings of different shapes stay strings; other mixtures are JSON values
  if (json && !(isStringType(a) && isStringType(b))) return "json";
  return "utf8";
}

/**
 * The narrowest decimal(P,S) holding both a decimal type's values and the number `v` exactly, or
 * undefined when none does (an exponent, or more than 38 digits).
 */
export function widerDecimal(type: ColumnType, v: string): ColumnType | undefined {
  const dec = decimalOf(type);
  // JSON number syntax (no leading zeros, digits on both sides of the point): other text is no decimal
  const m = FLOAT_RE.test(v) ? /^-?(\d+)(?:\.(\d+))?$/.exec(v) : null;
  if (!dec || !m) return undefined;
  const intDigits = m[1]!.replace(/^0+/, "").length;
  const fracDigits = (m[2] ?? "").replace(/0+$/, "").length;
  const scale = Math.max(dec.scale, fracDigits);
  const precision = Math.max(dec.precision - dec.scale, intDigits) + scale;
  return precision <= DECIMAL_MAX_PRECISION ? decimalType(precision, scale) : undefined;
}

/** Whether a value can be stored in a column of a type. */
export function fits(type: ColumnType, v: string | null, kind: Kind | undefined): boolean {
  if (v === null) return true;
  const dec = decimalOf(type);
  // a decimal holds a number (JSON number syntax) whose digits fit its precision, none lost below its scale
  if (dec) return (kind === undefined || kind === KIND.number) && FLOAT_RE.test(v) && unscaledOf(v, dec.precision, dec.scale) !== undefined;
  switch (type) {
    case "utf8":
      return kind === undefined || kind === KIND.string;
    case "json":
      if (kind !== undefined) return true;
      try {
        JSON.parse(v);
        return true;
      } catch {
        return false;
      }
    case "null":
      return false;
    case "int64":
      return (kind === undefined || kind === KIND.number) && isInt64Text(v);
    case "float64":
      return (kind === undefined || kind === KIND.number) && isFloatText(v);
    case "bool":
      return kind === undefined ? BOOL_RE.test(v) : kind === KIND.bool;
    case "date":
    case "timestamp_ntz":
    case "timestamp":
      return (kind === undefined || kind === KIND.string) && temporalFits(type, temporalTypeOf(v));
    case "uint64":
      return (kind === undefined || kind === KIND.number) && isUint64Text(v);
    default: {
      // a nested type: JSON text whose every leaf fits (the sidecar and join build it the same way)
      if (isNestedName(type)) {
        if (kind !== undefined && kind !== KIND.json) return false;
        try {
          nestedData(type, [v]);
          return true;
        } catch {
          return false;
        }
      }
      // time and the temporal types in other units: the value in the column's unit, exactly
      const t = temporalOf(type);
      return t !== undefined && (kind === undefined || kind === KIND.string) && temporalUnits(v, t) !== undefined;
    }
  }
}

/**
 * Parses `--schema`: "name:type,name:type" or a JSON object {"name": "type"}. Types are the
 * descriptor's column types.
 */
export function parseSchemaOverride(text: string): Map<string, ColumnType> {
  const out = new Map<string, ColumnType>();
  let pairs: [string, string][];
  if (text.trim().startsWith("{")) {
    try {
      pairs = Object.entries(JSON.parse(text) as Record<string, string>);
    } catch (err) {
      throw new BtkitError("PREP_SCHEMA", `${optionHint("schema")} is not valid JSON: ${(err as Error).message}`, { option: "schema" }, { cause: err });
    }
  } else {
    // commas inside parentheses, angle brackets and quotes belong to the type: price:decimal(12,2),v:struct<"a":int64,"b":utf8>
    pairs = splitTopLevel(text).filter((p) => p.trim() !== "").map((p) => {
      // the name ends at the colon after which a column type follows (names may hold colons, nested types do)
      let at = -1;
      for (let k = p.indexOf(":"); k > 0; k = p.indexOf(":", k + 1)) {
        if (isColumnType(canonicalType(withoutSpaces(p.slice(k + 1))))) {
          at = k;
          break;
        }
      }
      if (at < 0) at = p.lastIndexOf(":");
      if (at <= 0) throw new BtkitError("PREP_SCHEMA", `${optionHint("schema")} entry ${JSON.stringify(p)}: expected name:type`, { option: "schema", got: p });
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    });
  }
  for (const [name, type] of pairs) {
    const t = canonicalType(withoutSpaces(type));
    if (!isColumnType(t)) {
      throw new BtkitError("PREP_SCHEMA", `${optionHint("schema")}: column ${JSON.stringify(name)} has type ${JSON.stringify(type)}; expected one of ${COLUMN_TYPE_NAMES} (1 <= P <= ${DECIMAL_MAX_PRECISION}, 0 <= S <= P)`, { option: "schema", column: name, expected: COLUMN_TYPE_NAMES, got: type });
    }
    out.set(name, t);
  }
  return out;
}

/** A type name without the spaces around its parts (a struct's quoted field names keep theirs). */
function withoutSpaces(type: string): string {
  return type.replace(/("(?:[^"\\]|\\.)*")|\s+/g, (_, q: string | undefined) => q ?? "");
}

/** Splits "a:t,b:u" at the commas outside (), <> and double quotes. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (quoted) {
      if (c === "\\") k++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "(" || c === "<") depth++;
    else if (c === ")" || c === ">") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, k));
      start = k + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Infers column types from sample rows (values in column order). */
export function inferTypes(columns: readonly string[], sample: readonly { values: (string | null)[]; kinds?: Kind[] }[], options: { json: boolean; wholeInput: boolean; text: boolean }): ColumnType[] {
  return columns.map((_, c) => {
    // --text: every column is text; JSON numbers, booleans and nested values are read as their source text
    if (options.text) return "utf8";
    let t: ColumnType = "null";
    // an integer beyond int64 is a float in a column of floats; in a column of integers (IDs) it keeps the column text
    let bigInteger = false;
    for (const r of sample) {
      const v = r.values[c] ?? null;
      const k = r.kinds?.[c];
      const vt = typeOfValue(v, k);
      if (vt === "utf8" && k === undefined && v !== null && INT_RE.test(v)) bigInteger = true;
      else t = mergeTypes(t, vt, options.json);
    }
    // integers above int64 among negative ones: no 64-bit integer holds them all; a CSV column
    // keeps its text, a JSON one is float64 (rounding counted)
    if (t === "uint64" && !unsignedIntegers(sample, c)) t = options.json ? "float64" : "utf8";
    if (bigInteger) t = t === "float64" ? "float64" : mergeTypes(t === "null" ? "utf8" : t, "utf8", options.json);
    // a time type must hold every sampled value (a nanosecond one ends in 2262): else text, exactly as written
    if (temporalOf(t) && !sample.every((r) => fits(t, r.values[c] ?? null, r.kinds?.[c]))) t = "utf8";
    if (t === "null" && !options.wholeInput) return options.json ? "json" : "utf8";
    return t;
  });
}

/** Whether every non-null sample value of column c is an unsigned 64-bit integer. */
function unsignedIntegers(sample: readonly { values: (string | null)[]; kinds?: Kind[] }[], c: number): boolean {
  for (const r of sample) {
    const v = r.values[c] ?? null;
    if (v !== null && !isUint64Text(v)) return false;
  }
  return true;
}

/** The schema option that declares column `name` of type `type`, as a library caller and a shell write it: `schema: "a:int64" (--schema a:int64)`. */
export function schemaHint(name: string, type: ColumnType): string {
  return optionHint("schema", `${name}:${type}`, schemaFlag(name, type));
}

/** `--schema NAME:TYPE` as typed in a shell (quoted when the type or name has characters a shell would take). */
export function schemaFlag(name: string, type: ColumnType): string {
  const arg = `${name}:${type}`;
  return /^[\w.:-]+$/.test(arg) ? `--schema ${arg}` : `--schema '${arg.replaceAll("'", "'\\''")}'`;
}

/**
 * The type a PREP_TYPE hint suggests: one that holds the earlier values and this one exactly. An
 * int64 column meeting a float becomes float64, meeting an integer beyond int64 utf8; a JSON value
 * that is not a string json (or, declared, utf8 takes it as text); anything else utf8.
 */
export function widerType(t: ColumnType, v: string | null, kind: Kind | undefined): ColumnType {
  // a decimal meeting more digits: the decimal that holds both, else float64 when the value is a number
  if (decimalOf(t) && v !== null && (kind === undefined || kind === KIND.number)) return widerDecimal(t, v) ?? (fits("float64", v, kind) ? "float64" : "utf8");
  if (decimalOf(t)) return "utf8";
  // an integer beyond int64 (an ID, mostly) keeps its digits only as text: a double would round it
  if (t === "int64" && v !== null && /^-?[0-9]+$/.test(v)) return "utf8";
  if (t === "int64" && fits("float64", v, kind)) return "float64";
  // a temporal value of the column's kind in a finer unit (nanoseconds in a microsecond column), or a date-time in a date column
  const got = v !== null && temporalOf(t) && (kind === undefined || kind === KIND.string) ? temporalTypeOf(v) : undefined;
  if (got) {
    const both = mergeTypes(t, got, false);
    if (both !== "utf8" && fits(both, v, kind)) return both;
  }
  if (kind !== undefined && kind !== KIND.string) return "json";
  return "utf8";
}
