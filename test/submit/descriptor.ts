/**
 * Builds a valid Descriptor with real small shard files (and the manifest) under a folder, the
 * way prep lays them out (LAYOUT), without importing src/prepare.
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { validateDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { LAYOUT, shardBaseName } from "../../src/protocol/layout.js";

export interface TestDescriptorOptions {
  shards?: number;
  rowsPerShard?: number;
  contentType?: "text/csv" | "application/jsonlines";
  /** pretend the largest record is this big (the shard files stay small) */
  maxRecordBytes?: number;
  /** a seed that changes the shard contents */
  seed?: number;
}

export async function writeTestDescriptor(dir: string, options: TestDescriptorOptions = {}): Promise<Descriptor> {
  const n = options.shards ?? 3;
  const rows = options.rowsPerShard ?? 4;
  const ct = options.contentType ?? "text/csv";
  const ext = ct === "text/csv" ? ".csv" : ".jsonl";
  const seed = options.seed ?? 1;
  const shardsDir = path.join(dir, LAYOUT.shardsDir);
  await fs.mkdir(shardsDir, { recursive: true });
  await fs.mkdir(path.join(dir, LAYOUT.sidecarsDir), { recursive: true });
  const prefix = pathToFileURL(shardsDir).href.replace(/\/?$/, "/");
  const shards: Descriptor["shards"] = [];
  let first = 0;
  for (let i = 0; i < n; i++) {
    const name = `${shardBaseName(i)}${ext}`;
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) {
      const x = (first + r) * 7 + seed;
      lines.push(ct === "text/csv" ? `${x},${x % 5}` : JSON.stringify({ a: x, b: x % 5 }));
    }
    const body = `${lines.join("\n")}\n`;
    await fs.writeFile(path.join(shardsDir, name), body);
    shards.push({
      name,
      location: prefix + name,
      rows,
      bytes: Buffer.byteLength(body),
      sha256: createHash("sha256").update(body).digest("hex"),
      maxRecordBytes: Math.max(...lines.map((l) => Buffer.byteLength(l))),
      sidecar: pathToFileURL(path.join(dir, LAYOUT.sidecarsDir, `${shardBaseName(i)}.arrow`)).href,
      firstRow: first,
    });
    first += rows;
  }
  const manifestPath = path.join(dir, LAYOUT.manifest);
  await fs.writeFile(manifestPath, JSON.stringify([{ prefix }, ...shards.map((s) => s.name)]));
  const d: Descriptor = {
    btkit: "1.0",
    createdAt: "2026-01-01T00:00:00.000Z",
    tool: { name: "btkit", version: "0.1.0" },
    source: { inputs: [{ location: "file:///in.csv", format: "csv", compression: "none", rows: first }], options: {}, rowsRead: first, rowsWritten: first, rowsSkipped: 0, skipped: [] },
    schema: { columns: [{ name: "a", type: "int64", roles: ["feature"] }, { name: "b", type: "int64", roles: ["feature"] }] },
    modelInput: { contentType: ct, splitType: "Line", compression: "None", features: ["a", "b"], maxRecordBytes: options.maxRecordBytes ?? Math.max(...shards.map((s) => s.maxRecordBytes)) },
    shards,
    manifest: { location: pathToFileURL(manifestPath).href, prefix },
  };
  return validateDescriptor(JSON.parse(JSON.stringify(d)));
}

/** Copies a test preparation to S3 under `base` (s3://bucket/prefix/) and returns its descriptor there. */
export async function copyToS3(d: Descriptor, dir: string, storage: { write(where: string, body: string | Buffer): Promise<unknown> }, base: string): Promise<Descriptor> {
  const prefix = `${base}${LAYOUT.shardsDir}`;
  for (const s of d.shards) await storage.write(prefix + s.name, await fs.readFile(path.join(dir, LAYOUT.shardsDir, s.name)));
  const manifest = `${base}${LAYOUT.manifest}`;
  await storage.write(manifest, JSON.stringify([{ prefix }, ...d.shards.map((s) => s.name)]));
  return validateDescriptor({
    ...d,
    shards: d.shards.map((s) => ({ ...s, location: prefix + s.name, sidecar: `${base}${LAYOUT.sidecarsDir}${s.name}.arrow` })),
    manifest: { location: manifest, prefix },
  });
}
