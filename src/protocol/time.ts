/**
 * ISO 8601 dates and date-times as btkit reads them (prep's inference and checks, join's reading
 * back of features): YYYY-MM-DD, optionally [T ]HH:MM, :SS, .fraction (1-9 digits; digits below the
 * microsecond must be zeros, or the text is no timestamp of ours) and a zone (Z, +-HH:MM, +-HHMM or
 * +-HH: ISO 8601 allows the hour alone, and DuckDB and PostgreSQL write "+00"). A
 * text without a zone is a wall-clock time (timestamp_ntz), with one an instant (timestamp), and a
 * date alone a date. Pure functions, no Date objects.
 */
import type { ColumnType } from "./descriptor.js";

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

/** The temporal type an ISO 8601 text has (date, timestamp_ntz or timestamp), or undefined when it is none. */
export function temporalTypeOf(v: string): "date" | "timestamp_ntz" | "timestamp" | undefined {
  const m = TS_RE.exec(v);
  if (!m || !isTimestampText(v)) return undefined;
  if (m[8] !== undefined) return "timestamp";
  return m[4] === undefined ? "date" : "timestamp_ntz";
}

/** Whether a value of temporal type `got` can be stored in a column of temporal type `type` exactly. */
export function temporalFits(type: ColumnType, got: "date" | "timestamp_ntz" | "timestamp" | undefined): boolean {
  return got !== undefined && (got === type || (type === "timestamp_ntz" && got === "date"));
}

export function isTimestampText(v: string): boolean {
  const m = TS_RE.exec(v);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return false;
  if ((m[4] !== undefined && Number(m[4]) > 23) || (m[5] !== undefined && Number(m[5]) > 59) || (m[6] !== undefined && Number(m[6]) > 59)) return false;
  if (finerThanMicros(m[7])) return false;
  const zone = m[8];
  return zone === undefined || zone === "Z" || (Number(zone.slice(1, 3)) <= 23 && zoneMinutes(zone) <= 59);
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
  // a fraction finer than the microsecond is not a timestamp of ours: cutting it would make
  // distinct instants equal, so such text stays text (utf8), exactly as written
  if (finerThanMicros(m[7])) return undefined;
  const frac = m[7] === undefined ? 0 : Number(m[7].padEnd(6, "0").slice(0, 6));
  const us = secs * 1000000 + frac;
  const type = zone !== undefined ? "timestamp" : m[4] === undefined ? "date" : "timestamp_ntz";
  return { type, us: Number.isSafeInteger(us) ? us : BigInt(secs) * 1000000n + BigInt(frac) };
}
