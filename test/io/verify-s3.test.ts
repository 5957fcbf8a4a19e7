/**
 * Verify before use on S3: an object btkit wrote answers its sha256 by HEAD (metadata); one
 * replaced behind btkit's back (same size, other bytes, no metadata) is read, hashed and refused;
 * so is one written again with btkit's metadata copied onto other bytes, by its ETag.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { expect, it } from "vitest";
import { rejectedBy } from "../helpers/errors.js";
import { useS3 } from "../helpers/s3server.js";

const server = useS3(["vfy"]);

it("S3: a btkit object verifies by metadata; a replaced one (same size) is IO_CHANGED naming it", async () => {
  const storage = server().storage();
  const w = await storage.write("s3://vfy/shards/part-00000.csv", "1,2\n3,4\n");
  expect(w.etag).toMatch(/^[0-9a-f]{32}$/);
  expect(await storage.digest("s3://vfy/shards/part-00000.csv")).toEqual({ bytes: 8, sha256: w.sha256, from: "metadata", etag: w.etag });
  await storage.verify("s3://vfy/shards/part-00000.csv", { bytes: 8, sha256: w.sha256 }, "shard part-00000.csv");
  await server().client.send(new PutObjectCommand({ Bucket: "vfy", Key: "shards/part-00000.csv", Body: "1,2\n3,5\n" }));
  const e = await rejectedBy(storage.verify("s3://vfy/shards/part-00000.csv", { bytes: 8, sha256: w.sha256 }, "shard part-00000.csv"));
  expect(e.code).toBe("IO_CHANGED");
  expect(e.message).toContain("shard part-00000.csv s3://vfy/shards/part-00000.csv changed after it was written");
  expect((await storage.digest("s3://vfy/shards/part-00000.csv"))?.from).toBe("content");
});

it("S3: an object written again with btkit's sha256 metadata copied is caught by its ETag, read and refused", async () => {
  const storage = server().storage();
  const key = "shards/part-00001.csv";
  const w = await storage.write(`s3://vfy/${key}`, "1,2\n3,4\n");
  await server().client.send(new PutObjectCommand({ Bucket: "vfy", Key: key, Body: "1,2\n3,5\n", Metadata: { "btkit-sha256": w.sha256, "btkit-bytes": "8" } }));
  // without the recorded ETag, the copied metadata is all a HEAD can see
  expect(await storage.digest(`s3://vfy/${key}`)).toMatchObject({ sha256: w.sha256, from: "metadata" });
  const got = await storage.digest(`s3://vfy/${key}`, { etag: w.etag });
  expect(got?.from).toBe("content");
  expect(got?.sha256).not.toBe(w.sha256);
  const e = await rejectedBy(storage.verify(`s3://vfy/${key}`, { bytes: 8, sha256: w.sha256, etag: w.etag }, "shard part-00001.csv"));
  expect(e.code).toBe("IO_CHANGED");
  expect(e.message).toContain(`shard part-00001.csv s3://vfy/${key} changed after it was written`);
  // the same bytes written again (a new ETag only when the server says so) still verify, by content
  await server().client.send(new PutObjectCommand({ Bucket: "vfy", Key: key, Body: "1,2\n3,4\n", Metadata: { "btkit-sha256": w.sha256 } }));
  await storage.verify(`s3://vfy/${key}`, { bytes: 8, sha256: w.sha256, etag: "0123456789abcdef0123456789abcdef" }, "shard part-00001.csv");
});
