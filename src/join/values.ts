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
import type { ColumnType } from "../protocol/descriptor.js";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const UINT64_RE = /^(0|[1-9][0-9]{0,19})$/;
const UINT64_MAX = 18446744073709551615n;

/** The narrowest column type of a value. */
export function typeOfValue(v: unknown): ColumnType {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(v) && Math.abs(v) <= MAX_SAFE ? "int64" : "float64";
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
  return undefined;
}

/** Outcome of setValue: "ok", "widened" (to utf8 text) or "conflict". */
export type SetOutcome = 0 | 1 | 2;
export const SET_OK = 0;
export const SET_WIDENED = 1;
export const SET_CONFLICT = 2;

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
    acc.values[i] = typeof v === "string" ? v : JSON.stringify(v);
    return SET_OK;
  }
  if (acc instanceof UnitsAcc) {
    let n: bigint | undefined;
    if (acc.temporal) n = typeof v === "string" ? temporalUnits(v, acc.temporal) : undefined;
    else if (typeof v === "number") n = Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
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
      if (typeof v !== "number" || !Number.isInteger(v) || Math.abs(v) > MAX_SAFE) return SET_CONFLICT;
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
      (acc as Utf8Acc).values[i] = JSON.stringify(v);
      return SET_WIDENED;
    case "json":
      (acc as Utf8Acc).values[i] = JSON.stringify(v);
      return SET_OK;
    default:
      return SET_CONFLICT;
  }
}

/** A CSV field as a value: "" is null, numbers are numbers, "true"/"false" stay text. */
export function csvValue(text: string): unknown {
  if (text.length === 0) return null;
  const c = text.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === 45 || c === 46) {
    if (NUMBER_RE.test(text)) return Number(text);
  }
  return text;
}
const NUMBER_RE = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Up to 100 characters of a line, for messages. */
export function excerpt(line: string): string {
  return line.length <= 100 ? line : `${line.slice(0, 100)}...`;
}
