/**
 * Verify before use on S3: an object btkit wrote answers its sha256 by HEAD (metadata); one
 * replaced behind btkit's back (same size, other bytes, no metadata) is read, hashed and refused.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rejectedBy } from "../helpers/errors.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3(["vfy"]);
});
afterAll(async () => {
  await s3?.close();
});

it("S3: a btkit object verifies by metadata; a replaced one (same size) is IO_CHANGED naming it", async () => {
  const storage = s3.storage();
  const w = await storage.write("s3://vfy/shards/part-00000.csv", "1,2\n3,4\n");
  expect(await storage.digest("s3://vfy/shards/part-00000.csv")).toEqual({ bytes: 8, sha256: w.sha256, from: "metadata" });
  await storage.verify("s3://vfy/shards/part-00000.csv", { bytes: 8, sha256: w.sha256 }, "shard part-00000.csv");
  await s3.client.send(new PutObjectCommand({ Bucket: "vfy", Key: "shards/part-00000.csv", Body: "1,2\n3,5\n" }));
  const e = await rejectedBy(storage.verify("s3://vfy/shards/part-00000.csv", { bytes: 8, sha256: w.sha256 }, "shard part-00000.csv"));
  expect(e.code).toBe("IO_CHANGED");
  expect(e.message).toContain("shard part-00000.csv s3://vfy/shards/part-00000.csv changed after it was written");
  expect((await storage.digest("s3://vfy/shards/part-00000.csv"))?.from).toBe("content");
});
