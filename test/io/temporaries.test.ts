/** Stale temporaries of killed writes are removed; a live writer's and ordinary objects are not. */
import { ListObjectsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { expect, it } from "vitest";
import { useS3 } from "../helpers/s3server.js";

const server = useS3(["tmps"]);

it("S3: temporary keys older than the threshold go; fresh ones and other objects stay", async () => {
  for (const key of ["out/shards/part-00000.csv.btkit-0a1b2c3d4e5f.tmp", "out/sidecars/part-00000.arrow.btkit-abcdef012345.tmp", "out/shards/part-00000.csv", "out/notes.tmp"]) {
    await server().client.send(new PutObjectCommand({ Bucket: "tmps", Key: key, Body: "x" }));
  }
  const storage = server().storage();
  // everything here is seconds old: with the default 10 minutes nothing goes
  expect(await storage.removeStaleTemporaries("s3://tmps/out/")).toBe(0);
  expect(await storage.removeStaleTemporaries("s3://tmps/out/", { olderThanMs: -60_000 })).toBe(2);
  const left = await server().client.send(new ListObjectsCommand({ Bucket: "tmps", Prefix: "out/" }));
  expect(left.Contents?.map((o) => o.Key).sort()).toEqual(["out/notes.tmp", "out/shards/part-00000.csv"]);
});
