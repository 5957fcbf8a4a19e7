/**
 * The control plane as the service shows it, driven through the AWS SDK over HTTP: what
 * DescribeTransformJob holds before and after the job's instances start. Each test names the
 * recording or document it holds the emulator to.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateModelCommand, CreateTransformJobCommand, DescribeTransformJobCommand, type CreateTransformJobCommandInput, type SageMakerClient } from "@aws-sdk/client-sagemaker";
import { startEmulator, startExampleModel, type RunningEmulator, type RunningExampleModel } from "../../src/emulator/index.js";
import { Storage } from "../../src/io/index.js";
import type { Location } from "../../src/io/index.js";
import { tempDir } from "../helpers/tmp.js";
import { clients, waitJob, writeFiles } from "./helpers.js";

/** Storage whose listings wait until `open()`: holds a job before its instances start. */
class GatedStorage extends Storage {
  #open!: () => void;
  #gate = new Promise<void>((r) => (this.#open = r));
  open(): void {
    this.#open();
  }
  close(): void {
    this.#gate = new Promise<void>((r) => (this.#open = r));
  }
  override async *list(where: Location | string, options: { temporaries?: boolean } = {}): ReturnType<Storage["list"]> {
    await this.#gate;
    yield* super.list(where, options);
  }
}

let dir: string;
let cleanup: () => Promise<void>;
let model: RunningExampleModel;
let storage: GatedStorage;
let emu: RunningEmulator;
let sm: SageMakerClient;
let n = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  model = await startExampleModel({ port: 0, env: {} });
  storage = new GatedStorage();
  emu = await startEmulator({ env: {}, storage, pingIntervalMs: 20 });
  ({ sm } = clients(emu.endpoint));
  await sm.send(new CreateModelCommand({ ModelName: "cp-model", PrimaryContainer: { Image: `local-url:${model.url}` } }));
});
afterAll(async () => {
  storage.open();
  await emu.close();
  await model.close();
  await cleanup();
});

async function createJob(files: Record<string, string>, extra: Partial<CreateTransformJobCommandInput> = {}): Promise<string> {
  n += 1;
  const name = `cp-${n}`;
  const inUri = await writeFiles(`${dir}/in${n}`, files);
  await sm.send(
    new CreateTransformJobCommand({
      TransformJobName: name,
      ModelName: "cp-model",
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line" },
      TransformOutput: { S3OutputPath: `file://${dir}/out${n}` },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
      ...extra,
    }),
  );
  return name;
}

const describeJob = (name: string) => sm.send(new DescribeTransformJobCommand({ TransformJobName: name }));

describe("DescribeTransformJob before and after the instances start", () => {
  // aws/amazon-sagemaker-examples deploy_and_monitor/sm-batch_transform_pytorch/sm-batch_transform_pytorch.ipynb:
  // 1 s after CreateTransformJob the description has no TransformStartTime and no Environment;
  // a Completed job of the same notebook shows "Environment": {} and its TransformStartTime.
  it("has no TransformStartTime and no Environment until the instances start, then both", async () => {
    storage.close();
    const name = await createJob({ "a.csv": "1,2\n" });
    const before = await describeJob(name);
    expect(before.TransformJobStatus).toBe("InProgress");
    expect(before.CreationTime).toBeInstanceOf(Date);
    expect(before).not.toHaveProperty("TransformStartTime");
    expect(before).not.toHaveProperty("Environment");
    expect(before).not.toHaveProperty("TransformEndTime");
    storage.open();
    const done = await waitJob(sm, name);
    expect(done.TransformJobStatus).toBe("Completed");
    expect(done.Environment).toEqual({});
    expect(done.TransformStartTime!.getTime()).toBeGreaterThanOrEqual(done.CreationTime!.getTime());
    expect(done.TransformEndTime!.getTime()).toBeGreaterThanOrEqual(done.TransformStartTime!.getTime());
  });

  it("shows an Environment the request set before the start", async () => {
    storage.close();
    const name = await createJob({ "a.csv": "1,2\n" }, { Environment: { A: "1" } });
    const before = await describeJob(name);
    expect(before).not.toHaveProperty("TransformStartTime");
    expect(before.Environment).toEqual({ A: "1" });
    storage.open();
    expect((await waitJob(sm, name)).Environment).toEqual({ A: "1" });
  });

  it("a job that fails before any instance starts has a TransformEndTime and no TransformStartTime", async () => {
    storage.open();
    const name = await createJob({});
    const d = await waitJob(sm, name);
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toMatch(/^ClientError: no input objects found at file:/);
    expect(d.TransformEndTime).toBeInstanceOf(Date);
    expect(d).not.toHaveProperty("TransformStartTime");
    expect(d).not.toHaveProperty("Environment");
  });
});
