/** The one ISO 8601 grammar prep and join read dates and date-times with (protocol/time.ts). */
import { describe, expect, it } from "vitest";
import { isTimestampText, temporalTypeOf, temporalValue } from "../../src/protocol/time.js";

describe("ISO 8601 dates and date-times", () => {
  it.each([
    ["2024-03-10", "date", 1710028800000000],
    ["2024-03-10 09:00:00.5", "timestamp_ntz", 1710061200500000],
    ["2024-03-10T09:00:00.5Z", "timestamp", 1710061200500000],
    // the zone's hour alone, as DuckDB and PostgreSQL write it
    ["2024-03-10 09:00:00.5+00", "timestamp", 1710061200500000],
    ["2024-03-10 02:00:00-07", "timestamp", 1710061200000000],
    ["2024-03-10T14:30:00+0530", "timestamp", 1710061200000000],
    ["2024-03-10T14:30:00+05:30", "timestamp", 1710061200000000],
    ["1969-12-31T23:59:59.999999Z", "timestamp", -1],
  ])("%s is a %s of %d microseconds", (text, type, us) => {
    expect(temporalValue(text)).toEqual({ type, us });
    expect(temporalTypeOf(text)).toBe(type);
    expect(isTimestampText(text)).toBe(true);
  });

  it.each([["2024-03-10 09:00:00+0"], ["2024-03-10 09:00:00+123"], ["2024-03-10 09:00:00+24"], ["2024-03-10 09:00:00+05:60"], ["2024-02-30"], ["2024-03-10 09:00:00.0000001"], ["2024-03-10 24:00"]])("%s is none (stays text)", (text) => {
    expect(temporalValue(text)).toBeUndefined();
    expect(temporalTypeOf(text)).toBeUndefined();
    expect(isTimestampText(text)).toBe(false);
  });
});
