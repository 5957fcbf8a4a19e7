import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateModelCommand, CreateTransformJobCommand, DeleteModelCommand, DescribeModelCommand, DescribeTransformJobCommand, ListModelsCommand, ListTransformJobsCommand, StopTransformJobCommand, type SageMakerClient } from "@aws-sdk/client-sagemaker";
import { startEmulator, startExampleModel, type RunningEmulator, type RunningExampleModel } from "../../src/emulator/index.js";
import { tempDir } from "../helpers/tmp.js";
import { clients, waitJob, writeFiles } from "./helpers.js";

let emu: RunningEmulator;
let model: RunningExampleModel;
let sm: SageMakerClient;
let dir: string;
let cleanup: () => Promise<void>;
let inUri: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  model = await startExampleModel({ port: 0, env: {} });
  emu = await startEmulator({ env: {} });
  sm = clients(emu.endpoint).sm;
  inUri = await writeFiles(`${dir}/in`, { "a.csv": "1,2\n3,4\n" });
  await sm.send(new CreateModelCommand({ ModelName: "m1", PrimaryContainer: { Image: `local-url:${model.url}` } }));
});
afterAll(async () => {
  await emu.close();
  await model.close();
  await cleanup();
});

const job = (name: string, extra: Record<string, unknown> = {}) =>
  new CreateTransformJobCommand({
    TransformJobName: name,
    ModelName: "m1",
    TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line" },
    TransformOutput: { S3OutputPath: `file://${dir}/out-${name}` },
    TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
    ...extra,
  });

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error("expected the call to fail");
}

describe("models", () => {
  it("creates, describes, lists and deletes; duplicates and unknown names are ValidationException", async () => {
    const r = await sm.send(new CreateModelCommand({ ModelName: "m-crud", PrimaryContainer: { Image: "local-cmd:true", Environment: { A: "1" } } }));
    expect(r.ModelArn).toBe("arn:aws:sagemaker:us-east-1:123456789012:model/m-crud");
    const d = await sm.send(new DescribeModelCommand({ ModelName: "m-crud" }));
    expect(d.PrimaryContainer?.Image).toBe("local-cmd:true");
    expect(d.PrimaryContainer?.Environment).toEqual({ A: "1" });
    expect(d.CreationTime).toBeInstanceOf(Date);
    const dup = await errorOf(sm.send(new CreateModelCommand({ ModelName: "m-crud", PrimaryContainer: { Image: "x" } })));
    expect(dup).toMatchObject({ name: "ValidationException", status: 400 });
    expect(dup.message).toContain("Cannot create already existing model");
    const list = await sm.send(new ListModelsCommand({ NameContains: "crud" }));
    expect(list.Models?.map((m) => m.ModelName)).toEqual(["m-crud"]);
    await sm.send(new DeleteModelCommand({ ModelName: "m-crud" }));
    const gone = await errorOf(sm.send(new DescribeModelCommand({ ModelName: "m-crud" })));
    expect(gone.name).toBe("ValidationException");
    expect(gone.message).toContain("Could not find model");
    const bad = await errorOf(sm.send(new CreateModelCommand({ ModelName: "bad_name", PrimaryContainer: { Image: "x" } })));
    expect(bad.name).toBe("ValidationException");
    expect(bad.message).toContain("Member must satisfy regular expression pattern");
  });
});

describe("transform job requests (rule 8, 18, 19)", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["payload over 100", { MaxPayloadInMB: 101 }, "MaxPayloadInMB must be at most 100"],
    ["concurrency x payload over 100", { MaxConcurrentTransforms: 11, MaxPayloadInMB: 10 }, "11 * 10 = 110"],
    ["timeout 0", { ModelClientConfig: { InvocationsTimeoutInSeconds: 0 } }, "greater than or equal to 1"],
    ["timeout 3601", { ModelClientConfig: { InvocationsTimeoutInSeconds: 3601 } }, "less than or equal to 3600"],
    ["retries 4", { ModelClientConfig: { InvocationsMaxRetries: 4 } }, "less than or equal to 3"],
    ["17 env entries", { Environment: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`K${i}`, "v"])) }, "less than or equal to 16"],
    ["filter over 63", { DataProcessing: { InputFilter: `$.${"a".repeat(62)}` } }, "less than or equal to 63"],
    ["recursive descent", { DataProcessing: { InputFilter: "$..a" } }, "recursive descent"],
    ["instances 0", { TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 0 } }, "greater than or equal to 1"],
    ["instances 101", { TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 101 } }, "less than or equal to 100"],
  ];
  for (const [what, extra, msg] of cases) {
    it(`rejects ${what}`, async () => {
      const e = await errorOf(sm.send(job(`rej-${what.replace(/[^a-z0-9]+/g, "-")}`, extra)));
      expect(e.name).toBe("ValidationException");
      expect(e.message).toContain(msg);
    });
  }

  it("rejects bad job names with the service's pattern message", async () => {
    for (const name of ["under_score", "-lead", "trail-", "a".repeat(64)]) {
      const e = await errorOf(sm.send(job(name)));
      expect(e.name).toBe("ValidationException");
      expect(e.message).toMatch(/transformJobName/);
    }
  });

  it("fills defaults in Describe, refuses a duplicate name (ResourceInUse) and an unknown job (ResourceNotFound)", async () => {
    await sm.send(job("ok-1"));
    const d = await waitJob(sm, "ok-1");
    expect(d.TransformJobStatus).toBe("Completed");
    expect(d.TransformInput?.CompressionType).toBe("None");
    expect(d.TransformOutput?.AssembleWith).toBe("None");
    expect(d.DataProcessing).toEqual({ InputFilter: "$", JoinSource: "None", OutputFilter: "$" });
    expect(d.TransformJobArn).toBe("arn:aws:sagemaker:us-east-1:123456789012:transform-job/ok-1");
    expect(d.TransformEndTime!.getTime()).toBeGreaterThanOrEqual(d.TransformStartTime!.getTime());
    const dup = await errorOf(sm.send(job("ok-1")));
    expect(dup.name).toBe("ResourceInUse");
    const nf = await errorOf(sm.send(new DescribeTransformJobCommand({ TransformJobName: "nope" })));
    expect(nf).toMatchObject({ name: "ResourceNotFound", status: 400 });
    const st = await errorOf(sm.send(new StopTransformJobCommand({ TransformJobName: "ok-1" })));
    expect(st.name).toBe("ValidationException");
    const noModel = await errorOf(sm.send(job("no-model", { ModelName: "missing" })));
    expect(noModel.message).toContain("Could not find model");
  });

  it("lists with NameContains, StatusEquals, sorting and NextToken", async () => {
    for (const n of ["lst-b", "lst-a", "lst-c"]) {
      await sm.send(job(n));
      await waitJob(sm, n);
    }
    const byName = await sm.send(new ListTransformJobsCommand({ NameContains: "lst-", SortBy: "Name", SortOrder: "Ascending" }));
    expect(byName.TransformJobSummaries?.map((j) => j.TransformJobName)).toEqual(["lst-a", "lst-b", "lst-c"]);
    const p1 = await sm.send(new ListTransformJobsCommand({ NameContains: "LST", SortBy: "Name", SortOrder: "Descending", MaxResults: 2 }));
    expect(p1.TransformJobSummaries?.map((j) => j.TransformJobName)).toEqual(["lst-c", "lst-b"]);
    const p2 = await sm.send(new ListTransformJobsCommand({ NameContains: "LST", SortBy: "Name", SortOrder: "Descending", MaxResults: 2, NextToken: p1.NextToken }));
    expect(p2.TransformJobSummaries?.map((j) => j.TransformJobName)).toEqual(["lst-a"]);
    expect(p2.NextToken).toBeUndefined();
    const failed = await sm.send(new ListTransformJobsCommand({ NameContains: "lst-", StatusEquals: "Failed" }));
    expect(failed.TransformJobSummaries).toEqual([]);
    const byTime = await sm.send(new ListTransformJobsCommand({ NameContains: "lst-" }));
    expect(byTime.TransformJobSummaries?.map((j) => j.TransformJobName)).toEqual(["lst-c", "lst-a", "lst-b"]);
  });
});
