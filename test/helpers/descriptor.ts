import type { Descriptor } from "../../src/protocol/descriptor.js";

/** A small valid descriptor (2 shards, 5 rows) for protocol and CLI tests. */
export function sampleDescriptor(): Descriptor {
  const sha = "a".repeat(64);
  return {
    btkit: "1.0",
    createdAt: "2026-11-22T00:00:00.000Z",
    tool: { name: "btkit", version: "0.1.0" },
    source: {
      inputs: [{ location: "file:///data/in.csv", format: "csv", compression: "none", rows: 5, bytes: 100 }],
      options: { delimiter: "," },
      rowsRead: 5,
      rowsWritten: 5,
      rowsSkipped: 0,
      skipped: [],
    },
    schema: {
      columns: [
        { name: "id", type: "int64", roles: ["keep"] },
        { name: "x", type: "float64", roles: ["feature", "keep"] },
        { name: "text", type: "utf8", roles: ["feature", "keep"] },
      ],
    },
    modelInput: { contentType: "text/csv", splitType: "Line", compression: "Gzip", features: ["x", "text"], maxRecordBytes: 40 },
    shards: [
      { name: "part-00000.csv.gz", location: "file:///out/shards/part-00000.csv.gz", rows: 3, bytes: 50, sha256: sha, maxRecordBytes: 40, sidecar: "file:///out/sidecars/part-00000.arrow", firstRow: 0 },
      { name: "part-00001.csv.gz", location: "file:///out/shards/part-00001.csv.gz", rows: 2, bytes: 40, sha256: sha, maxRecordBytes: 30, sidecar: "file:///out/sidecars/part-00001.arrow", firstRow: 3 },
    ],
    manifest: { location: "file:///out/manifest.json", prefix: "file:///out/shards/" },
  };
}
