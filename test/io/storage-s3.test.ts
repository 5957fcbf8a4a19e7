import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect } from "../../src/io/body.js";
import { isBtkitError } from "../../src/errors.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3(["bkt", "many"]);
});
afterAll(async () => {
  await s3?.close();
});

describe("S3 storage against s3rver", () => {
  it("uploads a streamed body in at least 3 parts and reads it back byte-identical, with our sha256 as metadata", async () => {
    const storage = s3.storage();
    const data = randomBytes(12 * 1024 * 1024 + 12345);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let off = 0; off < data.length; off += 999_983) yield data.subarray(off, off + 999_983);
    }
    const res = await storage.write("s3://bkt/big/object.bin", chunks());
    const sha = createHash("sha256").update(data).digest("hex");
    expect(res).toEqual({ location: "s3://bkt/big/object.bin", etag: expect.stringMatching(/^[0-9a-f]{32}/), bytes: data.length, sha256: sha });
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: "bkt", Key: "big/object.bin" }));
    expect(head.Metadata?.["btkit-sha256"]).toBe(sha);
    const back = await collect(await storage.read("s3://bkt/big/object.bin"));
    expect(back.equals(data)).toBe(true);
    // the temporary key is gone
    const list = await s3.client.send(new ListObjectsV2Command({ Bucket: "bkt", Prefix: "big/" }));
    expect(list.Contents?.map((o) => o.Key)).toEqual(["big/object.bin"]);
  });

  it("an S3 write hashes even when told not to (sha256: false): the digest is the object's metadata, checked after the copy", async () => {
    const storage = s3.storage();
    const res = await storage.write("s3://bkt/table.jsonl", "{}\n", { sha256: false });
    const sha = createHash("sha256").update("{}\n").digest("hex");
    expect(res).toMatchObject({ bytes: 3, sha256: sha });
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: "bkt", Key: "table.jsonl" }));
    expect(head.Metadata?.["btkit-sha256"]).toBe(sha);
  });

  it("lists past 1,000 keys (2,500 objects) in key order", async () => {
    const storage = s3.storage();
    const keys = Array.from({ length: 2500 }, (_, i) => `p/k-${String(i).padStart(5, "0")}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => s3.client.send(new PutObjectCommand({ Bucket: "many", Key: k, Body: "x" }))));
    }
    const seen: string[] = [];
    for await (const o of storage.list("s3://many/p/")) seen.push(o.relative);
    expect(seen.length).toBe(2500);
    expect(seen).toEqual(keys.map((k) => k.slice(2)));
  });

  it("streams and gunzips a gzip object, and reports a truncated one as IO_GZIP_CORRUPT", async () => {
    const storage = s3.storage();
    const text = Array.from({ length: 50_000 }, (_, i) => `${i},row ${i}\n`).join("");
    const gz = gzipSync(text);
    await s3.client.send(new PutObjectCommand({ Bucket: "bkt", Key: "g/ok.csv.gz", Body: gz }));
    await s3.client.send(new PutObjectCommand({ Bucket: "bkt", Key: "g/cut.csv.gz", Body: gz.subarray(0, gz.length - 100) }));
    expect((await collect(await storage.read("s3://bkt/g/ok.csv.gz"))).toString()).toBe(text);
    const raw = await collect(await storage.read("s3://bkt/g/ok.csv.gz", { decompress: "never" }));
    expect(raw.equals(gz)).toBe(true);
    const err = await collect(await storage.read("s3://bkt/g/cut.csv.gz")).catch((e: unknown) => e);
    expect(isBtkitError(err, "IO_GZIP_CORRUPT")).toBe(true);
    expect((err as Error).message).toContain("s3://bkt/g/cut.csv.gz");
  });

  it("maps a missing key to IO_NOT_FOUND naming the location", async () => {
    const err = await s3.storage().read("s3://bkt/nope.csv").catch((e: unknown) => e);
    expect(isBtkitError(err, "IO_NOT_FOUND")).toBe(true);
    expect((err as Error).message).toContain("s3://bkt/nope.csv");
    expect(await s3.storage().exists("s3://bkt/nope.csv")).toBe(false);
  });
});
