import { describe, expect, it } from "vitest";
import { isBtkitError, type BtkitError } from "../../src/errors.js";
import { parseDescriptor, serializeDescriptor, validateDescriptor } from "../../src/protocol/descriptor.js";
import { sampleDescriptor } from "../helpers/descriptor.js";

function errorOf(fn: () => unknown): BtkitError {
  try {
    fn();
  } catch (err) {
    if (isBtkitError(err)) return err;
    throw err;
  }
  throw new Error("expected an error");
}

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
    const err = errorOf(() => validateDescriptor({ ...sampleDescriptor(), btkit: "2.0" }));
    expect(err.code).toBe("PROTO_VERSION");
    expect(err.context).toMatchObject({ field: "btkit", got: "2.0" });
    expect(err.message).toContain("major version 1");
  });

  it("names the invalid field with its path", () => {
    const d = sampleDescriptor() as unknown as { shards: Array<Record<string, unknown>> };
    d.shards[1]!.rows = -1;
    const err = errorOf(() => validateDescriptor(d));
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
    const err = errorOf(() => validateDescriptor(d));
    expect(err.code).toBe("PROTO_INVALID");
    expect(err.context.field).toBe(field);
  });

  it("reports text that is not JSON, naming where it came from", () => {
    const err = errorOf(() => parseDescriptor("{not json", "s3://b/btkit.json"));
    expect(err.code).toBe("PROTO_INVALID");
    expect(err.context.location).toBe("s3://b/btkit.json");
  });

  it("refuses to serialize an invalid document", () => {
    const d = sampleDescriptor();
    d.shards[0]!.rows = 1.5;
    expect(errorOf(() => serializeDescriptor(d)).code).toBe("PROTO_INVALID");
  });
});
