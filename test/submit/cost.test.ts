import { describe, expect, it } from "vitest";
import { estimateCost, estimateInstanceSeconds, instanceSeconds, PRICE_TABLE } from "../../src/submit/index.js";

describe("cost", () => {
  it("bills end minus start, rounded up to seconds, on every instance", () => {
    expect(instanceSeconds("2026-01-01T00:00:00.000Z", "2026-01-01T00:10:00.400Z", 3)).toBe(601 * 3);
    expect(instanceSeconds(undefined, "2026-01-01T00:00:00Z", 1)).toBeUndefined();
    expect(instanceSeconds("2026-01-01T00:00:01Z", "2026-01-01T00:00:00Z", 1)).toBeUndefined();
  });

  it("prices from --price-per-hour, else the bundled table naming its region and date", () => {
    expect(estimateCost(7200, "ml.m5.large", 1.5)).toMatchObject({ cost: 3, priceSource: "--price-per-hour" });
    const t = estimateCost(3600, "ml.m5.xlarge")!;
    expect(t.cost).toBe(PRICE_TABLE.perHour["ml.m5.xlarge"]);
    expect(t.priceSource).toContain("us-east-1");
    expect(t.priceSource).toContain(PRICE_TABLE.asOf);
    expect(estimateCost(3600, "ml.r7i.48xlarge")).toBeUndefined();
  });

  it("estimates a dry run from the busiest instance's share of whole shards", () => {
    expect(estimateInstanceSeconds(10, 4, 60)).toBe(3 * 60 * 4);
    expect(estimateInstanceSeconds(2, 4, 60)).toBe(60 * 4);
    expect(estimateInstanceSeconds(4, 1, 1.5)).toBe(6);
  });
});
