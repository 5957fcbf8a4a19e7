/**
 * ISO 8601 dates and date-times as btkit reads them (prep's inference and checks, join's reading
 * back of features): YYYY-MM-DD, optionally [T ]HH:MM, :SS, .fraction (1-9 digits; digits below the
 * microsecond must be zeros, or the text is no timestamp of ours) and a zone (Z, +-HH:MM, +-HHMM or
 * +-HH: ISO 8601 allows the hour alone, and DuckDB and PostgreSQL write "+00"). A
 * text without a zone is a wall-clock time (timestamp_ntz), with one an instant (timestamp), and a
 * date alone a date. Pure functions, no Date objects.
 */
import type { ColumnType } from "./descriptor.js";

/** Arrow's TimeUnit order: 0 second, 1 millisecond, 2 microsecond, 3 nanosecond. */
export type TimeUnit = 0 | 1 | 2 | 3;
const UNIT_NAMES = ["s", "ms", "us", "ns"] as const;
const PER_SECOND = [1n, 1000n, 1000000n, 1000000000n] as const;
const FRACTION_DIGITS = [0, 3, 6, 9] as const;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
/** 0000-01-01T00:00:00 and 9999-12-31T23:59:59, in seconds since 1970 */
const MIN_SECS = -62167219200;
const MAX_SECS = 253402300799;

/** A temporal column type's kind and unit (a date's unit is the day; it is given as µs here and not used). */
export interface Temporal {
  kind: "date" | "timestamp_ntz" | "timestamp" | "time";
  unit: TimeUnit;
}

const TEMPORAL_TYPE_RE = /^(timestamp_ntz|timestamp|time)(?:\((s|ms|us|ns)\))?$/;

/** The kind and unit of a temporal column type (date, timestamp_ntz, timestamp, time, with a unit or not), or undefined. */
export function temporalOf(type: string): Temporal | undefined {
  if (type === "date") return { kind: "date", unit: 2 };
  const m = TEMPORAL_TYPE_RE.exec(type);
  if (!m) return undefined;
  return { kind: m[1] as Temporal["kind"], unit: (m[2] === undefined ? 2 : UNIT_NAMES.indexOf(m[2] as (typeof UNIT_NAMES)[number])) as TimeUnit };
}

/** The column type of a temporal kind in a unit: the plain name for the microsecond, `kind(unit)` otherwise. */
export function temporalTypeName(kind: Temporal["kind"], unit: TimeUnit): ColumnType {
  return (kind === "date" || unit === 2 ? kind : `${kind}(${UNIT_NAMES[unit]})`) as ColumnType;
}

/** The unit's name (s, ms, us, ns). */
export function unitName(unit: TimeUnit): string {
  return UNIT_NAMES[unit];
}

const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

/** The finest unit a fraction of a second needs (its last non-zero digit): 0 s .. 3 ns. */
function unitOfFraction(fraction: string | undefined): TimeUnit {
  const f = (fraction ?? "").replace(/0+$/, "");
  return f.length === 0 ? 0 : f.length <= 3 ? 1 : f.length <= 6 ? 2 : 3;
}

/** A fraction's value in a unit (digits beyond the unit must be zeros: checked by the caller). */
function fractionIn(fraction: string | undefined, unit: TimeUnit): bigint {
  const digits = FRACTION_DIGITS[unit];
  return digits === 0 ? 0n : BigInt((fraction ?? "").padEnd(digits, "0").slice(0, digits));
}

/**
 * The value of an ISO 8601 text in a temporal type's unit: days since 1970-01-01 for a date, units
 * since 1970-01-01T00:00 (UTC for an instant, the wall clock otherwise) for timestamps, units since
 * midnight for a time of day (HH:MM[:SS[.fraction]]). Undefined when the text is not of the type
 * (a zone is never invented nor dropped; a date fits timestamp_ntz as its midnight), has digits
 * finer than the unit (they would be cut), or lies outside the 64-bit range of the unit.
 */
export function temporalUnits(v: string, t: Temporal): bigint | undefined {
  if (t.kind === "time") {
    const m = TIME_RE.exec(v);
    if (!m) return undefined;
    const h = Number(m[1]);
    const mi = Number(m[2]);
    const sec = m[3] === undefined ? 0 : Number(m[3]);
    if (h > 23 || mi > 59 || sec > 59 || unitOfFraction(m[4]) > t.unit) return undefined;
    return BigInt(h * 3600 + mi * 60 + sec) * PER_SECOND[t.unit] + fractionIn(m[4], t.unit);
  }
  const p = parseDateTime(v);
  if (!p) return undefined;
  if (t.kind === "date") return p.type === "date" ? BigInt(p.secs / 86400) : undefined;
  if (p.type === "timestamp" ? t.kind !== "timestamp" : t.kind !== "timestamp_ntz") return undefined;
  if (unitOfFraction(p.fraction) > t.unit) return undefined;
  const n = BigInt(p.secs) * PER_SECOND[t.unit] + fractionIn(p.fraction, t.unit);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

/** The ISO 8601 text of a value in a temporal type's unit (temporalUnits' inverse; fraction digits as the unit has them; instants end in Z). */
export function temporalText(n: bigint, t: Temporal): string {
  if (t.kind === "date") return civilText(Number(n));
  const per = PER_SECOND[t.unit];
  let secs = n / per;
  let frac = n % per;
  if (frac < 0n) {
    frac += per;
    secs -= 1n;
  }
  const fraction = t.unit === 0 ? "" : `.${frac.toString().padStart(FRACTION_DIGITS[t.unit], "0")}`;
  const s = Number(secs);
  const day = Math.floor(s / 86400);
  const r = s - day * 86400;
  const hms = `${pad2(Math.floor(r / 3600))}:${pad2(Math.floor(r / 60) % 60)}:${pad2(r % 60)}${fraction}`;
  if (t.kind === "time") return hms;
  return `${civilText(day)}T${hms}${t.kind === "timestamp" ? "Z" : ""}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Days since 1970-01-01 -> [year, month, day] (H. Hinnant's civil_from_days), proleptic Gregorian. */
export function civilFromDays(z: number): [number, number, number] {
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

/** YYYY-MM-DD of days since 1970-01-01 (years below 0 or above 9999 as they come). */
function civilText(z: number): string {
  const [y, m, d] = civilFromDays(z);
  return `${String(y).padStart(4, "0")}-${pad2(m)}-${pad2(d)}`;
}

/** Seconds since 1970-01-01T00:00 (UTC for an instant) of an ISO 8601 date or date-time, its fraction's digits and its temporal type; undefined when the text is none. */
function parseDateTime(v: string): { type: "date" | "timestamp_ntz" | "timestamp"; secs: number; fraction: string | undefined } | undefined {
  const m = TS_RE.exec(v);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = m[4] === undefined ? 0 : Number(m[4]);
  const mi = m[5] === undefined ? 0 : Number(m[5]);
  const s = m[6] === undefined ? 0 : Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMin = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== "Z") {
    const zh = Number(zone.slice(1, 3));
    const zm = zoneMinutes(zone);
    if (zh > 23 || zm > 59) return undefined;
    offsetMin = (zone[0] === "-" ? -1 : 1) * (zh * 60 + zm);
  }
  const secs = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offsetMin * 60;
  // an instant is kept in UTC: its UTC date must be one of the years 0000-9999 too
  if (offsetMin !== 0 && (secs < MIN_SECS || secs > MAX_SECS)) return undefined;
  return { type: zone !== undefined ? "timestamp" : m[4] === undefined ? "date" : "timestamp_ntz", secs, fraction: m[7] };
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** The minutes of a zone offset's text (+-HH[[:]MM]): 0 when it gives the hour alone. */
function zoneMinutes(zone: string): number {
  return zone.length > 3 ? Number(zone.slice(zone.length - 2)) : 0;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Whether a text is an ISO 8601 date or date-time that timestampMicros accepts (cheaper: no BigInt). */
/** A fraction of a second with a non-zero digit below the microsecond (which a microsecond timestamp would cut). */
function finerThanMicros(fraction: string | undefined): boolean {
  return fraction !== undefined && fraction.length > 6 && /[1-9]/.test(fraction.slice(6));
}

/**
 * The temporal type an ISO 8601 text has, or undefined when it is none: date, timestamp_ntz or
 * timestamp (microseconds; timestamp_ntz(ns) or timestamp(ns) when the fraction has digits below
 * the microsecond, within the nanosecond range of years 1677-2262), or time (HH:MM[:SS[.f]]; time(ns)
 * likewise).
 */
export function temporalTypeOf(v: string): ColumnType | undefined {
  const c = v.charCodeAt(2);
  if (c === 58) {
    // HH:MM...: a time of day
    const m = TIME_RE.exec(v);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || (m[3] !== undefined && Number(m[3]) > 59)) return undefined;
    return unitOfFraction(m[4]) === 3 ? "time(ns)" : "time";
  }
  const p = parseDateTime(v);
  if (!p) return undefined;
  if (p.type === "date") return "date";
  if (unitOfFraction(p.fraction) < 3) return p.type;
  const t: Temporal = { kind: p.type, unit: 3 };
  return temporalUnits(v, t) === undefined ? undefined : temporalTypeName(p.type, 3);
}

/** Whether a value of temporal type `got` (temporalTypeOf) can be stored in a column of temporal type `type` exactly. */
export function temporalFits(type: ColumnType, got: ColumnType | undefined): boolean {
  if (got === undefined) return false;
  if (got === type || (type === "timestamp_ntz" && got === "date")) return true;
  const want = temporalOf(type);
  const have = temporalOf(got);
  if (!want || !have) return false;
  // a coarser value in a finer unit (a date as a wall clock's midnight); the range is checked by temporalUnits
  const kindFits = have.kind === want.kind || (want.kind === "timestamp_ntz" && have.kind === "date");
  return kindFits && (have.kind === "date" || have.unit <= want.unit);
}

export function isTimestampText(v: string): boolean {
  return temporalValue(v) !== undefined;
}

/**
 * Microseconds since the epoch (UTC) of an ISO 8601 date or date-time (no zone means UTC): a
 * number when it is a safe integer (until the year 2255), else a bigint; undefined when the text is not one (or names an impossible date such as 2024-02-30).
 */
export function timestampMicros(v: string): number | bigint | undefined {
  return temporalValue(v)?.us;
}

/**
 * The temporal type of an ISO 8601 text and its microseconds since 1970-01-01T00:00 (UTC for an
 * instant, the wall clock otherwise): a number when safe, else a bigint; undefined when the text is
 * none (an impossible date, a fraction finer than the microsecond). One pass of the grammar.
 */
export function temporalValue(v: string): { type: "date" | "timestamp_ntz" | "timestamp"; us: number | bigint } | undefined {
  const p = parseDateTime(v);
  // a fraction finer than the microsecond is not a timestamp of ours: cutting it would make
  // distinct instants equal (timestamp(ns) holds it: temporalUnits)
  if (!p || finerThanMicros(p.fraction)) return undefined;
  const frac = p.fraction === undefined ? 0 : Number(p.fraction.padEnd(6, "0").slice(0, 6));
  const us = p.secs * 1000000 + frac;
  return { type: p.type, us: Number.isSafeInteger(us) ? us : BigInt(p.secs) * 1000000n + BigInt(frac) };
}
