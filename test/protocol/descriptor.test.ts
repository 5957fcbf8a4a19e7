import { describe, expect, it } from "vitest";
import { parseDescriptor, serializeDescriptor, validateDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { sampleDescriptor } from "../helpers/descriptor.js";
import { thrownBy } from "../helpers/errors.js";

describe("descriptor v1", () => {
  it("round-trips through serialize and parse unchanged", () => {
    const d = sampleDescriptor();
    d.job = {
      backend: "emulator",
      name: "btkit-abc",
      arn: "arn:aws:sagemaker:us-east-1:000000000000:transform-job/btkit-abc",
      request: { TransformJobName: "btkit-abc" },
      outputLocation: "file:///out/output/",
      accept: "text/csv",
      assembleWith: "Line",
      status: "Completed",
      instanceSeconds: 12,
      history: [],
    };
    const text = serializeDescriptor(d);
    expect(text).not.toContain("\n");
    expect(parseDescriptor(text)).toEqual(d);
  });

  it("keeps fields a newer minor version adds", () => {
    const d = { ...sampleDescriptor(), btkit: "1.7", futureField: { a: 1 } };
    expect(validateDescriptor(d)).toMatchObject({ btkit: "1.7", futureField: { a: 1 } });
  });

  it("rejects an unknown major version with PROTO_VERSION", () => {
    const err = thrownBy(() => validateDescriptor({ ...sampleDescriptor(), btkit: "2.0" }));
    expect(err.code).toBe("PROTO_VERSION");
    expect(err.context).toMatchObject({ field: "btkit", got: "2.0" });
    expect(err.message).toContain("major version 1");
  });

  it("names the invalid field with its path", () => {
    const d = sampleDescriptor() as unknown as { shards: Array<Record<string, unknown>> };
    d.shards[1]!.rows = -1;
    const err = thrownBy(() => validateDescriptor(d));
    expect(err.code).toBe("PROTO_INVALID");
    expect(err.context.field).toBe("shards[1].rows");
    expect(err.message).toBe("invalid descriptor field shards[1].rows: expected a non-negative integer, got -1");
  });

  it.each([
    ["a missing section", (d: Record<string, unknown>) => delete d.manifest, "manifest"],
    ["a wrong enum", (d: Record<string, unknown>) => ((d.modelInput as Record<string, unknown>).contentType = "text/plain"), "modelInput.contentType"],
    ["a bad sha256", (d: Record<string, unknown>) => (((d.shards as Array<Record<string, unknown>>)[0]!).sha256 = "xyz"), "shards[0].sha256"],
    ["a feature that is not a column", (d: Record<string, unknown>) => ((d.modelInput as Record<string, unknown>).features = ["x", "nope"]), "modelInput.features[1]"],
    ["rows that do not add up", (d: Record<string, unknown>) => ((d.source as Record<string, unknown>).rowsWritten = 4), "source.rowsWritten"],
    ["a gap in first rows", (d: Record<string, unknown>) => (((d.shards as Array<Record<string, unknown>>)[1]!).firstRow = 4), "shards[1].firstRow"],
    ["a shard outside the prefix", (d: Record<string, unknown>) => (((d.shards as Array<Record<string, unknown>>)[1]!).location = "file:///elsewhere/x"), "shards[1].location"],
    // locations stay inside the preparation after percent-decoding and normalization
    ["a shard that climbs out with ..", (d: Record<string, unknown>) => (((d.shards as Array<Record<string, unknown>>)[1]!).location = "file:///out/shards/../../../elsewhere/x.csv"), "shards[1].location"],
    ["a shard whose name climbs out", (d: Record<string, unknown>) => Object.assign((d.shards as Array<Record<string, unknown>>)[1]!, { name: "../x.csv", location: "file:///out/shards/../x.csv" }), "shards[1].name"],
    ["a shard that climbs out percent-encoded", (d: Record<string, unknown>) => Object.assign((d.shards as Array<Record<string, unknown>>)[1]!, { name: "%2e%2e%2fx.csv", location: "file:///out/shards/%2e%2e%2fx.csv" }), "shards[1].location"],
    ["a sidecar anywhere", (d: Record<string, unknown>) => (((d.shards as Array<Record<string, unknown>>)[0]!).sidecar = "file:///etc/passwd"), "shards[0].sidecar"],
    ["a sidecar that climbs out", (d: Record<string, unknown>) => (((d.shards as Array<Record<string, unknown>>)[0]!).sidecar = "file:///out/sidecars/%2E%2E/%2e%2e/x.arrow"), "shards[0].sidecar"],
    ["a manifest outside the preparation", (d: Record<string, unknown>) => ((d.manifest as Record<string, unknown>).location = "file:///elsewhere/manifest.json"), "manifest.location"],
  ])("rejects %s", (_name, mutate, field) => {
    const d = sampleDescriptor() as unknown as Record<string, unknown>;
    mutate(d);
    const err = thrownBy(() => validateDescriptor(d));
    expect(err.code).toBe("PROTO_INVALID");
    expect(err.context.field).toBe(field);
  });

  it("reports text that is not JSON, naming where it came from", () => {
    const err = thrownBy(() => parseDescriptor("{not json", "s3://b/btkit.json"));
    expect(err.code).toBe("PROTO_INVALID");
    expect(err.context.location).toBe("s3://b/btkit.json");
  });

  function withResults(extra: Record<string, unknown>): Descriptor {
    const d = sampleDescriptor();
    d.results = {
      location: "file:///joined/out.parquet",
      format: "parquet",
      partitioned: false,
      rows: 5,
      rowsPerShard: { "part-00000.csv.gz": 3, "part-00001.csv.gz": 2 },
      missing: [],
      files: ["file:///joined/out.parquet"],
      ...extra,
    };
    return d;
  }

  it("round-trips the results section with join's columns and notes", () => {
    const d = withResults({
      columns: [
        { name: "id", type: "int64" },
        { name: "__btkit_row", type: "int64" },
        { name: "prediction", type: "decimal(10,2)" },
        { name: "at", type: "timestamp(ns)" },
      ],
      notes: [{ reason: "CR before LF stripped from .out lines", count: 2 }],
    });
    const back = parseDescriptor(serializeDescriptor(d));
    expect(back).toEqual(d);
    expect(back.results!.columns![2]).toEqual({ name: "prediction", type: "decimal(10,2)" });
    expect(back.results!.notes).toEqual([{ reason: "CR before LF stripped from .out lines", count: 2 }]);
    // both stay optional: a results section without them is still valid
    expect(parseDescriptor(serializeDescriptor(withResults({}))).results).not.toHaveProperty("columns");
  });

  it.each([
    ["a column type that is not one", { columns: [{ name: "prediction", type: "float32" }] }, "results.columns[0].type"],
    ["a column name that is not text", { columns: [{ name: 7, type: "int64" }] }, "results.columns[0].name"],
    ["columns that are not a list", { columns: { prediction: "int64" } }, "results.columns"],
    ["a note count that is text", { notes: [{ reason: "blank .out lines skipped", count: "3" }] }, "results.notes[0].count"],
    ["a note without a reason", { notes: [{ count: 1 }] }, "results.notes[0].reason"],
  ])("refuses results with %s (PROTO_INVALID)", (_name, extra, field) => {
    const d = withResults(extra);
    const err = thrownBy(() => validateDescriptor(JSON.parse(JSON.stringify(d))));
    expect(err.code).toBe("PROTO_INVALID");
    expect(err.context.field).toBe(field);
    expect(thrownBy(() => parseDescriptor(JSON.stringify(d))).code).toBe("PROTO_INVALID");
  });

  it("refuses to serialize an invalid document", () => {
    const d = sampleDescriptor();
    d.shards[0]!.rows = 1.5;
    expect(thrownBy(() => serializeDescriptor(d)).code).toBe("PROTO_INVALID");
  });
});
