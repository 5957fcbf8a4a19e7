/** The one ISO 8601 grammar prep and join read dates and date-times with (protocol/time.ts). */
import { describe, expect, it } from "vitest";
import { isTimestampText, temporalText, temporalTypeOf, temporalUnits, temporalValue } from "../../src/protocol/time.js";

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

  it.each([["2024-03-10 09:00:00+0"], ["2024-03-10 09:00:00+123"], ["2024-03-10 09:00:00+24"], ["2024-03-10 09:00:00+05:60"], ["2024-02-30"], ["2024-03-10 24:00"]])("%s is none (stays text)", (text) => {
    expect(temporalValue(text)).toBeUndefined();
    expect(temporalTypeOf(text)).toBeUndefined();
    expect(isTimestampText(text)).toBe(false);
  });

  it("digits below the microsecond make a nanosecond type (a microsecond timestamp would cut them); beyond the nanosecond range, none", () => {
    expect(temporalValue("2024-03-10 09:00:00.0000001")).toBeUndefined();
    expect(temporalTypeOf("2024-03-10 09:00:00.0000001")).toBe("timestamp_ntz(ns)");
    expect(temporalTypeOf("2024-03-10T09:00:00.123456789+01")).toBe("timestamp(ns)");
    expect(temporalUnits("2024-03-10T09:00:00.123456789+01", { kind: "timestamp", unit: 3 })).toBe(1710057600123456789n);
    expect(temporalUnits("2024-03-10T09:00:00.123456789+01", { kind: "timestamp", unit: 2 })).toBeUndefined();
    expect(temporalTypeOf("2300-01-01T00:00:00.000000001")).toBeUndefined();
    expect(temporalTypeOf("23:59:59.999999999")).toBe("time(ns)");
    expect(temporalTypeOf("23:59")).toBe("time");
    expect(temporalTypeOf("24:00:00")).toBeUndefined();
  });

  it.each([
    ["2024-03-10T09:00:00Z", "timestamp", 0, 1710061200n],
    ["2024-03-10T09:00:00.5Z", "timestamp", 1, 1710061200500n],
    ["1969-12-31T23:59:59.999999999", "timestamp_ntz", 3, -1n],
    ["2024-03-10", "timestamp_ntz", 1, 1710028800000n],
    ["10:20:30.25", "time", 1, 37230250n],
    ["00:00:01", "time", 0, 1n],
  ] as const)("%s as %s in unit %d is %d, and its text reads back", (text, kind, unit, n) => {
    const t = { kind, unit } as const;
    expect(temporalUnits(text, t)).toBe(n);
    expect(temporalUnits(temporalText(n, t), t)).toBe(n);
  });

  it("an instant whose UTC date leaves the years 0000-9999 is none (it could not be written back)", () => {
    expect(temporalTypeOf("9999-12-31 23:30:00-01")).toBeUndefined();
    expect(temporalTypeOf("0000-01-01 00:30:00+01")).toBeUndefined();
    expect(temporalTypeOf("9999-12-31 23:30:00+01")).toBe("timestamp");
    expect(temporalTypeOf("9999-12-31 23:30:00")).toBe("timestamp_ntz");
  });

  it("a value finer than the unit does not fit it", () => {
    expect(temporalUnits("2024-03-10T09:00:00.5Z", { kind: "timestamp", unit: 0 })).toBeUndefined();
    expect(temporalUnits("10:20:30.0001", { kind: "time", unit: 1 })).toBeUndefined();
    expect(temporalText(-1n, { kind: "timestamp_ntz", unit: 3 })).toBe("1969-12-31T23:59:59.999999999");
    expect(temporalText(1n, { kind: "timestamp", unit: 0 })).toBe("1970-01-01T00:00:01Z");
  });
});
