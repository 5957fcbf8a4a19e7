import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect } from "../../src/io/body.js";
import { prepare } from "../../src/prepare/index.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";
import { sidecarTableOf } from "../helpers/sidecar.js";

let dir: string;
let cleanup: () => Promise<void>;
let s3: TestS3;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-prep-io-"));
  s3 = await startS3(["prep-bkt"]);
});
afterAll(async () => {
  await s3?.close();
  await cleanup();
});

describe("btkit prep (CLI)", () => {
  it("prints the descriptor as one JSON line; a rerun prints the same; other options are refused", async () => {
    const src = path.join(dir, "cli.csv");
    await fs.writeFile(src, "a,b\n1,x\n2,y\n");
    const o = path.join(dir, "cli-out");
    const r = await runCli(["prep", src, "--out", o, "--gzip", "--format", "jsonl", "--features", "b,a"]);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith("\n")).toBe(true);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const d = parseDescriptor(r.stdout);
    expect(d.modelInput).toMatchObject({ contentType: "application/jsonlines", compression: "Gzip", features: ["b", "a"] });
    // bare --gzip is level 5 (with memLevel 9: as small as gzip -6, gzip.ts)
    expect(d.source.options.gzipLevel).toBe(5);
    expect(gunzipSync(await fs.readFile(path.join(o, "shards/part-00000.jsonl.gz"))).toString()).toBe('{"b":"x","a":1}\n{"b":"y","a":2}\n');
    expect(r.stderr).toContain("prep:");
    // what was stored, by kind, is what is on disk, and the summary line says it with the ratio to the input
    const size = async (f: string) => (await fs.stat(f)).size;
    expect(d.source.bytesWritten).toEqual({
      shards: await size(path.join(o, "shards/part-00000.jsonl.gz")),
      sidecars: await size(path.join(o, "sidecars/part-00000.parquet")),
      manifest: await size(path.join(o, "manifest.json")),
    });
    expect(d.shards[0]!.sidecarBytes).toBe(d.source.bytesWritten!.sidecars);
    const total = d.source.bytesWritten!.shards + d.source.bytesWritten!.sidecars + d.source.bytesWritten!.manifest;
    expect(r.stderr).toContain(`prep: 2 rows; stored ${d.source.bytesWritten!.shards} B in 1 shard, `);
    expect(r.stderr).toContain(`, ${(total / 12).toFixed(2)}x the input (12 B)`);
    const again = await runCli(["prep", src, "--out", o, "--gzip", "--format", "jsonl", "--features", "b,a", "-q"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(r.stdout);
    expect(again.stderr).toBe("");
    const other = await runCli(["prep", src, "--out", o, "-q"]);
    expect(other.code).toBe(75);
    expect(other.stderr).toContain("PREP_OUT_EXISTS");
    // it says which options differ, old and new, so a changed default (bare --gzip's level) is plain to see
    expect(other.stderr).toContain('options differ: format "jsonl" before, "csv" now; gzipLevel 5 before, null now; features ["b","a"] before, null now');
    expect(other.stderr).toContain("use overwrite: true (--overwrite)");
    expect(other.stdout).toBe("");
    // following the message works
    const over = await runCli(["prep", src, "--out", o, "-q", "--overwrite"]);
    expect(over.code).toBe(0);
    expect(parseDescriptor(over.stdout).source.options).toMatchObject({ format: "csv", gzipLevel: null });
  });

  it("reads stdin with -, and exits 65 with the coded error on bad data", async () => {
    const o = path.join(dir, "cli-stdin");
    const r = await runCli(["prep", "-", "--out", o, "-d", "tab", "-q"], { stdin: "a\tb\n1\t2\n" });
    expect(r.code).toBe(0);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("1,2\n");
    expect(parseDescriptor(r.stdout).source.inputs[0]).toMatchObject({ location: "-", format: "csv", rows: 1 });
    const bad = await runCli(["prep", "-", "--out", path.join(dir, "cli-bad"), "-q"], { stdin: 'a,b\n1,"x\ny"\n' });
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain("PREP_NEWLINE");
    expect(bad.stdout).toBe("");
    const missing = await runCli(["prep", "-", "-q"], { stdin: "a\n1\n" });
    expect(missing.code).toBe(2);
  });
});

describe("prepare against S3", () => {
  it("reads an s3:// prefix (plain and gzip objects) and writes shards, sidecars, manifest and descriptor to S3", async () => {
    const storage = s3.storage();
    await storage.write("s3://prep-bkt/in/a.csv", "id,v\n1,a\n2,b\n3,c\n");
    await storage.write("s3://prep-bkt/in/b.csv.gz", gzipSync("id,v\n4,d\n5,e\n"));
    const d = await prepare({ inputs: ["s3://prep-bkt/in/"], out: "s3://prep-bkt/prep/", storage, instances: 2, gzipLevel: 1 });
    expect(d.source.inputs.map((i) => [i.location, i.compression, i.rows])).toEqual([
      ["s3://prep-bkt/in/a.csv", "none", 3],
      ["s3://prep-bkt/in/b.csv.gz", "gzip", 2],
    ]);
    expect(d.shards.map((s) => s.location)).toEqual(["s3://prep-bkt/prep/shards/part-00000.csv.gz", "s3://prep-bkt/prep/shards/part-00001.csv.gz"]);
    expect(d.manifest).toEqual({ location: "s3://prep-bkt/prep/manifest.json", prefix: "s3://prep-bkt/prep/shards/" });
    const manifest = JSON.parse(await storage.readText("s3://prep-bkt/prep/manifest.json")) as unknown[];
    expect(manifest).toEqual([{ prefix: "s3://prep-bkt/prep/shards/" }, "part-00000.csv.gz", "part-00001.csv.gz"]);
    let all = "";
    for (const s of d.shards) all += (await collect(await storage.read(s.location))).toString();
    expect(all).toBe("1,a\n2,b\n3,c\n4,d\n5,e\n");
    const raw = await collect(await storage.read(d.shards[0]!.location, { decompress: "never" }));
    expect(raw.length).toBe(d.shards[0]!.bytes);
    const side = sidecarTableOf(await collect(await storage.read(d.shards[1]!.sidecar)));
    expect(side.getChild("__btkit_row")!.toArray()).toEqual(new BigInt64Array(d.shards[1]!.rows).map((_, i) => BigInt(d.shards[1]!.firstRow + i)));
    expect(parseDescriptor(await storage.readText("s3://prep-bkt/prep/btkit.json"))).toEqual(d);
    // sizes by kind are what S3 holds
    let sidecars = 0;
    for (const s of d.shards) sidecars += (await storage.head(s.sidecar))!.size;
    expect(d.source.bytesWritten).toEqual({ shards: d.shards.reduce((a, s) => a + s.bytes, 0), sidecars, manifest: (await storage.head("s3://prep-bkt/prep/manifest.json"))!.size });
    // each object's ETag is recorded, as S3 answers it
    for (const s of d.shards) {
      expect(s.etag).toBe((await storage.head(s.location))?.etag?.replaceAll('"', ""));
      expect(s.sidecarEtag).toBe((await storage.head(s.sidecar))?.etag?.replaceAll('"', ""));
      expect(s.etag).toMatch(/^[0-9a-f]{32}$/);
    }
    // rerun: a no-op
    expect(await prepare({ inputs: ["s3://prep-bkt/in/"], out: "s3://prep-bkt/prep/", storage, instances: 2, gzipLevel: 1 })).toEqual(d);
  });
});

describe("memory", () => {
  it("streams a 200 MB generated input under a 48 MB old-space limit", async () => {
    const o = path.join(dir, "mem-out");
    const child = spawn(process.execPath, ["--max-old-space-size=48", "--import", "tsx", path.join(import.meta.dirname, "memory-child.ts"), o, String(200 * 1024 * 1024)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const res = JSON.parse(stdout) as { rows: number; bytes: number; shards: number; maxRssMiB: number };
    expect(res.bytes).toBeGreaterThanOrEqual(200 * 1024 * 1024);
    expect(res.shards).toBeGreaterThan(1);
    // tsx's compiler alone takes ~140 MiB; the data adds a bounded amount, not the 200 MB it streams
    expect(res.maxRssMiB).toBeLessThan(320);
  }, 120_000);
});
