/**
 * Putting one JS value into a typed accumulator, with the documented widening rules:
 * - an integer fits int64 and float64 columns; a non-integer number fits float64 only;
 * - a JSON-typed column takes any value as its JSON text (null stays null);
 * - a utf8 column takes strings; other values only with widenToUtf8 (their JSON text, counted);
 * - a timestamp column takes microseconds since the epoch or an ISO 8601 string; time and the
 *   temporal types in other units take an ISO 8601 string of their kind, exact in their unit;
 * - a uint64 column takes a non-negative integer (a safe number, or its digits as a string);
 * anything else is a conflict the caller reports (shard, line, column).
 */
import { BoolAcc, DecimalAcc, Float64Acc, Int64Acc, NestedAcc, UnitsAcc, Utf8Acc, type Accumulator } from "./columns.js";
import { unscaledOf } from "../protocol/decimal.js";
import { temporalFits, temporalUnits, temporalValue } from "../protocol/time.js";
import { JsonNumber, jsonTextOf, parseExactJson, plainJson } from "../protocol/nested.js";
import { roundsInDouble } from "../protocol/decimal.js";
import type { ColumnType } from "../protocol/descriptor.js";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const INT_TEXT_RE = /^-?(0|[1-9]\d*)$/;
const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;

/**
 * A number of an .out line as a value: a JS number when a double holds its text exactly, else a
 * JsonNumber keeping the text (every integer beyond 2^53, even one a double happens to hold, and
 * a decimal with more digits than a double keeps), so an int64, uint64 or decimal column takes it exactly and a float64 column counts the
 * rounding.
 */
export function numberValue(text: string): number | JsonNumber {
  const x = Number(text);
  // a short plain text is exact in a double; one with an exponent may be beyond its range (1e400:
  // Infinity, 1e-400: 0), which roundsInDouble tells, so it is counted where it lands
  if (text.length <= 15 && text.indexOf("e") < 0 && text.indexOf("E") < 0) return x;
  // an integer beyond 2^53 stays its digits even when the double prints the same (an even ID):
  // as a number it would make its column float64, and its neighbours one apart would round
  if (Math.abs(x) > MAX_SAFE && INT_TEXT_RE.test(text)) return new JsonNumber(text);
  return roundsInDouble(text, x) ? new JsonNumber(text) : x;
}

/** Whether a line may hold a number a double does not keep (a run of 16 digits, or an exponent of 3 digits: beyond its range): only then is it parsed exactly. */
export function mayRound(line: string): boolean {
  return /\d{16}|[eE][+-]?\d{3}/.test(line);
}

/** JSON.parse, but numbers a double does not keep stay JsonNumbers (numberValue). Throws SyntaxError. */
export function parseJsonValue(line: string): unknown {
  return mayRound(line) ? plainJson(parseExactJson(line), numberValue) : JSON.parse(line);
}

/** Whether a value is a JSON object (not an array, not a JsonNumber). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** JSON text of a value, JsonNumbers as their digits (protocol/nested.ts). */
export const jsonText = jsonTextOf;
const UINT64_RE = /^(0|[1-9][0-9]{0,19})$/;
const UINT64_MAX = 18446744073709551615n;

/** The narrowest column type of a value. */
export function typeOfValue(v: unknown): ColumnType {
  if (v === null || v === undefined) return "null";
  if (v instanceof JsonNumber) {
    // an integer a double does not keep: int64 or uint64 when one holds it exactly
    if (!INT_TEXT_RE.test(v.text)) return "float64";
    const n = BigInt(v.text);
    return n >= INT64_MIN && n <= INT64_MAX ? "int64" : n > 0n && n <= 18446744073709551615n ? "uint64" : "float64";
  }
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "number":
      // a negative zero is a double's (-0.0, -0): no integer column keeps its sign
      return Number.isInteger(v) && Math.abs(v) <= MAX_SAFE && !Object.is(v, -0) ? "int64" : "float64";
    case "string":
      return "utf8";
    default:
      return "json";
  }
}

/**
 * The type two values of one column share, or undefined when they conflict. int64 widens to
 * float64; null goes with anything; everything else must agree (utf8 widening is the caller's
 * explicit option).
 */
export function mergeTypes(a: ColumnType, b: ColumnType): ColumnType | undefined {
  if (a === b || b === "null") return a;
  if (a === "null") return b;
  if ((a === "int64" && b === "float64") || (a === "float64" && b === "int64")) return "float64";
  if ((a === "int64" && b === "uint64") || (a === "uint64" && b === "int64")) return "uint64";
  if ((a === "uint64" && b === "float64") || (a === "float64" && b === "uint64")) return "float64";
  return undefined;
}

/** Outcome of setValue: "ok", "widened" (to utf8 text) or "conflict". */
export type SetOutcome = 0 | 1 | 2 | 3;
export const SET_OK = 0;
export const SET_WIDENED = 1;
export const SET_CONFLICT = 2;
/** the value went into a float64 column rounded to the nearest double (a JsonNumber); the caller counts it */
export const SET_ROUNDED = 3;

/**
 * Microseconds since 1970-01-01T00:00 of an ISO 8601 text of the column's temporal type, in prep's
 * grammar (protocol/time.ts): a date for date, a date or date-time without zone for timestamp_ntz
 * (a wall clock, never the local zone), a date-time with Z or an offset for timestamp. Undefined
 * otherwise (a zone is never invented nor dropped).
 */
export function isoMicrosOf(v: string, type: "date" | "timestamp_ntz" | "timestamp"): bigint | undefined {
  const t = temporalValue(v);
  if (t === undefined || !temporalFits(type, t.type)) return undefined;
  return typeof t.us === "bigint" ? t.us : BigInt(t.us);
}

export function setValue(acc: Accumulator, i: number, v: unknown, widenToUtf8: boolean): SetOutcome {
  if (v === null || v === undefined) {
    acc.setNull(i);
    return SET_OK;
  }
  if (acc instanceof NestedAcc) {
    // a value parsed from an .out line (its JSON again) or the JSON text of a feature read back from its shard
    acc.values[i] = typeof v === "string" ? v : jsonText(v);
    return SET_OK;
  }
  if (v instanceof JsonNumber) return setExact(acc, i, v, widenToUtf8);
  if (acc instanceof UnitsAcc) {
    let n: bigint | undefined;
    if (acc.temporal) n = typeof v === "string" ? temporalUnits(v, acc.temporal) : undefined;
    else if (typeof v === "number") n = Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0) ? BigInt(v) : undefined;
    else if (typeof v === "string" && UINT64_RE.test(v) && BigInt(v) <= UINT64_MAX) n = BigInt.asIntN(64, BigInt(v));
    if (n === undefined) return SET_CONFLICT;
    acc.values[i] = n;
    return SET_OK;
  }
  if (acc instanceof DecimalAcc) {
    // a number from an .out line (its shortest text), or the exact text of a feature read back from its shard
    const u = typeof v === "number" || typeof v === "string" ? unscaledOf(String(v), acc.precision, acc.scale) : undefined;
    if (u === undefined) return SET_CONFLICT;
    acc.set(i, u);
    return SET_OK;
  }
  switch (acc.type) {
    case "float64":
      if (typeof v !== "number") return SET_CONFLICT;
      (acc as Float64Acc).values[i] = v;
      return SET_OK;
    case "int64":
      // -0 too: written 0 it would lose its sign (an inferred column widens to float64, which keeps it)
      if (typeof v !== "number" || !Number.isInteger(v) || Math.abs(v) > MAX_SAFE || Object.is(v, -0)) return SET_CONFLICT;
      (acc as Int64Acc).values[i] = BigInt(v);
      return SET_OK;
    case "date":
    case "timestamp_ntz":
    case "timestamp": {
      if (typeof v === "number" && Number.isInteger(v) && acc.type !== "date") {
        (acc as Int64Acc).values[i] = BigInt(v);
        return SET_OK;
      }
      if (typeof v !== "string") return SET_CONFLICT;
      const us = isoMicrosOf(v, acc.type);
      if (us === undefined) return SET_CONFLICT;
      (acc as Int64Acc).values[i] = us;
      return SET_OK;
    }
    case "bool":
      if (typeof v !== "boolean") return SET_CONFLICT;
      (acc as BoolAcc).set(i, v);
      return SET_OK;
    case "utf8":
      if (typeof v === "string") {
        (acc as Utf8Acc).values[i] = v;
        return SET_OK;
      }
      if (!widenToUtf8) return SET_CONFLICT;
      (acc as Utf8Acc).values[i] = jsonText(v);
      return SET_WIDENED;
    case "json":
      (acc as Utf8Acc).values[i] = jsonText(v);
      return SET_OK;
    default:
      return SET_CONFLICT;
  }
}

/** A CSV field as a value: "" is null, numbers are numbers (numberValue: exact when a double is not), "true"/"false" stay text. */
export function csvValue(text: string): unknown {
  if (text.length === 0) return null;
  const c = text.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === 45 || c === 46) {
    if (NUMBER_RE.test(text)) return numberValue(text);
  }
  return text;
}

/** A number a double does not keep (JsonNumber) into a column: exact in int64, uint64, decimal and text columns, rounded (and said so) in float64. */
function setExact(acc: Accumulator, i: number, v: JsonNumber, widenToUtf8: boolean): SetOutcome {
  if (acc instanceof DecimalAcc) {
    const u = unscaledOf(v.text, acc.precision, acc.scale);
    if (u === undefined) return SET_CONFLICT;
    acc.set(i, u);
    return SET_OK;
  }
  if (acc instanceof UnitsAcc) {
    if (acc.temporal || !INT_TEXT_RE.test(v.text) || v.text.startsWith("-") || BigInt(v.text) > 18446744073709551615n) return SET_CONFLICT;
    acc.values[i] = BigInt.asIntN(64, BigInt(v.text));
    return SET_OK;
  }
  switch (acc.type) {
    case "float64": {
      const x = Number(v.text);
      (acc as Float64Acc).values[i] = x;
      // an integer beyond 2^53 stays its digits (numberValue) even where a double holds it
      // exactly (9007199254740994): rounded only where it does not
      return INT_TEXT_RE.test(v.text) && Number.isFinite(x) && BigInt(x) === BigInt(v.text) ? SET_OK : SET_ROUNDED;
    }
    case "int64": {
      if (!INT_TEXT_RE.test(v.text)) return SET_CONFLICT;
      const n = BigInt(v.text);
      if (n < INT64_MIN || n > INT64_MAX) return SET_CONFLICT;
      (acc as Int64Acc).values[i] = n;
      return SET_OK;
    }
    case "json":
      (acc as Utf8Acc).values[i] = v.text;
      return SET_OK;
    case "utf8":
      if (!widenToUtf8) return SET_CONFLICT;
      (acc as Utf8Acc).values[i] = v.text;
      return SET_WIDENED;
    default:
      return SET_CONFLICT;
  }
}
const NUMBER_RE = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Up to 100 characters of a line, for messages. */
export function excerpt(line: string): string {
  return line.length <= 100 ? line : `${line.slice(0, 100)}...`;
}
