import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, startExampleModel, type RunningEmulator, type RunningExampleModel } from "../../src/emulator/index.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";
import { clients, runJob } from "./helpers.js";

let s3: TestS3;
let emu: RunningEmulator;
let model: RunningExampleModel;

beforeAll(async () => {
  s3 = await startS3(["data"]);
  model = await startExampleModel({ port: 0, env: {} });
  emu = await startEmulator({ env: {}, storage: s3.storage() });
});
afterAll(async () => {
  await emu.close();
  await model.close();
  await s3.close();
});

async function put(key: string, body: string): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: "data", Key: key, Body: body }));
}

async function list(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const o of s3.storage().list(`s3://data/${prefix}`)) out[o.relative] = await s3.storage().readText(o.location);
  return out;
}

describe("s3:// inputs and outputs", () => {
  it("reads a literal key prefix at any depth, skips folder markers, writes .out keys under S3OutputPath (rules 2, 13)", async () => {
    await put("in/batch/a.csv", "1,2\n");
    await put("in/batch/deep/b.csv", "3\n4\n");
    await put("in/batch/empty-folder/", "");
    await put("in/batch_other/c.csv", "5\n");
    const { sm } = clients(emu.endpoint);
    const d = await runJob(sm, `local-url:${model.url}`, { inUri: "s3://data/in/batch", outUri: "s3://data/out/run1", TransformOutput: { S3OutputPath: "s3://data/out/run1", Accept: "text/csv" } });
    expect(d.FailureReason).toBeUndefined();
    expect(d.TransformJobStatus).toBe("Completed");
    // "in/batch" (no slash) also matches in/batch_other/ — the pitfall the reference warns about
    expect(await list("out/run1/")).toEqual({ "a.csv.out": "3\n", "deep/b.csv.out": "3\n4\n", "batch_other/c.csv.out": "5\n" });
  });
});
