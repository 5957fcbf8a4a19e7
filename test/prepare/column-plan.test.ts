/**
 * The column plan on names and types alone: what the model sees, what the sidecar keeps, which
 * values are checked, and the refusals with the option that fixes them.
 */
import { describe, expect, it } from "vitest";
import type { ColumnType } from "../../src/protocol/descriptor.js";
import { planColumns, type ColumnPlanOptions } from "../../src/prepare/column-plan.js";
import { balancedShardCount } from "../../src/prepare/shard-roller.js";
import { thrownBy } from "../helpers/errors.js";

const cols = ["id", "text", "score", "meta"];
const types: ColumnType[] = ["int64", "utf8", "float64", "json"];
const csv = { json: false, declared: false };
const jsonl = { json: true, declared: false };
const opts = (o: Partial<ColumnPlanOptions> = {}): ColumnPlanOptions => ({ schema: new Map(), drop: [], features: undefined, keep: undefined, format: "csv", newlines: "reject", text: false, ...o });

describe("planColumns", () => {
  it("by default sends every column to the model and keeps nothing (join reads features back)", () => {
    const p = planColumns(cols, types, csv, opts());
    expect(p).toMatchObject({ featureIdx: [0, 1, 2, 3], keepIdx: [], featuresAll: true, keepAll: false, lost: [], asText: undefined });
    // CSV: utf8 columns need no check
    expect(p.checkIdx).toEqual([0, 2, 3]);
    expect(p.checkTypes).toEqual(["int64", "float64", "json"]);
  });

  it("keeps what the model does not see; an explicit --keep leaves the rest out, named in lost", () => {
    expect(planColumns(cols, types, csv, opts({ features: ["score", "text"] }))).toMatchObject({ featureIdx: [2, 1], keepIdx: [0, 3], featuresAll: false, lost: [] });
    expect(planColumns(cols, types, csv, opts({ features: ["score"], keep: ["id"] }))).toMatchObject({ keepIdx: [0], lost: ["text", "meta"] });
  });

  it("dropped columns are neither features nor kept nor checked", () => {
    const p = planColumns(cols, types, csv, opts({ drop: ["meta"] }));
    expect(p).toMatchObject({ featureIdx: [0, 1, 2], keepIdx: [], checkIdx: [0, 2], featuresAll: false, lost: [] });
  });

  it("keeps features whose shard text may not give the value back, whatever --keep says", () => {
    // a CSV newline policy rewrites text features
    expect(planColumns(cols, types, csv, opts({ newlines: "replace", keep: [] })).keepIdx).toEqual([1, 3]);
    expect(planColumns(cols, types, csv, opts({ newlines: "reject", keep: [] })).keepIdx).toEqual([]);
    // json values in JSON Lines shards
    expect(planColumns(cols, types, jsonl, opts({ format: "jsonl", keep: [] })).keepIdx).toEqual([3]);
  });

  it("applies --schema over inferred types; JSON columns declared utf8 (or --text) read values as text", () => {
    const p = planColumns(cols, types, jsonl, opts({ format: "jsonl", schema: new Map([["score", "utf8"]]) }));
    expect(p.types).toEqual(["int64", "utf8", "utf8", "json"]);
    expect(p.checkIdx).toEqual([0, 1, 2, 3]);
    expect(p.asText).toEqual([false, false, true, false]);
    expect(planColumns(cols, types, jsonl, opts({ text: true })).asText).toEqual([true, true, true, true]);
    expect(planColumns(cols, types, { json: true, declared: true }, opts({ text: true })).asText).toBeUndefined();
  });

  it("refuses names the input does not have, or that --drop removes, naming the option", () => {
    const schema = thrownBy(() => planColumns(cols, types, csv, opts({ schema: new Map([["nope", "int64"]]) })));
    expect(schema).toMatchObject({ code: "PREP_SCHEMA", context: { column: "nope", option: "schema" } });
    const missing = thrownBy(() => planColumns(cols, types, csv, opts({ keep: ["nope"] })));
    expect(missing).toMatchObject({ code: "PREP_COLUMN", context: { column: "nope", option: "keep" } });
    expect(missing.message).toContain("the input does not have (columns: id, text, score, meta)");
    const dropped = thrownBy(() => planColumns(cols, types, csv, opts({ features: ["id", "meta"], drop: ["meta"] })));
    expect(dropped).toMatchObject({ code: "PREP_COLUMN", context: { column: "meta", option: "features" } });
    expect(dropped.message).toContain("which drop (--drop) removes");
    expect(thrownBy(() => planColumns(cols, types, csv, opts({ drop: ["nope"] }))).context).toMatchObject({ option: "drop" });
    expect(thrownBy(() => planColumns(cols, types, csv, opts({ features: ["id", "id"] }))).message).toBe("features (--features) names a column twice");
  });

  it("refuses an input column named like the sidecar's row number unless it is dropped", () => {
    const named = ["__btkit_row", "x"];
    expect(thrownBy(() => planColumns(named, ["int64", "int64"], csv, opts()))).toMatchObject({ code: "PREP_COLUMN", context: { option: "drop" } });
    expect(planColumns(named, ["int64", "int64"], csv, opts({ drop: ["__btkit_row"] })).featureIdx).toEqual([1]);
  });
});

describe("balancedShardCount", () => {
  it("is at least the instance count, a multiple of it, and enough shards of at most shardSize", () => {
    expect(balancedShardCount(0, 100, 3)).toBe(3);
    expect(balancedShardCount(250, 100, 1)).toBe(3);
    expect(balancedShardCount(250, 100, 2)).toBe(4);
    expect(balancedShardCount(1000, 100, 4)).toBe(12);
    expect(balancedShardCount(1000, 100, 5)).toBe(10);
  });
});
