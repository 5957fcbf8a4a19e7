/**
 * The control plane as the service shows it, driven through the AWS SDK over HTTP: what
 * DescribeTransformJob holds before and after the job's instances start. Each test names the
 * recording or document it holds the emulator to.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CreateModelCommand, CreateTransformJobCommand, DescribeTransformJobCommand, StopTransformJobCommand, type CreateTransformJobCommandInput, type SageMakerClient } from "@aws-sdk/client-sagemaker";
import { LOG_GROUP, startEmulator, startExampleModel, type RunningEmulator, type RunningExampleModel } from "../../src/emulator/index.js";
import { Storage } from "../../src/io/index.js";
import type { Location } from "../../src/io/index.js";
import { tempDir } from "../helpers/tmp.js";
import { clients, readOut, waitJob, writeFiles } from "./helpers.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const EXAMPLE = `${process.execPath} --import tsx ${path.join(ROOT, "bin/btkit.ts")} example-model`;

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
let logs: CloudWatchLogsClient;
let n = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  model = await startExampleModel({ port: 0, env: {} });
  storage = new GatedStorage();
  emu = await startEmulator({ env: {}, storage, pingIntervalMs: 20 });
  ({ sm, logs } = clients(emu.endpoint));
  await sm.send(new CreateModelCommand({ ModelName: "cp-model", PrimaryContainer: { Image: `local-url:${model.url}` } }));
});
afterAll(async () => {
  storage.open();
  await emu.close();
  await model.close();
  await cleanup();
});

async function createJob(files: Record<string, string>, extra: Partial<CreateTransformJobCommandInput> = {}, modelName = "cp-model"): Promise<string> {
  n += 1;
  const name = `cp-${n}`;
  const inUri = await writeFiles(`${dir}/in${n}`, files);
  await sm.send(
    new CreateTransformJobCommand({
      TransformJobName: name,
      ModelName: modelName,
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

describe("StopTransformJob", () => {
  // API_StopTransformJob: "When Amazon SageMaker receives a StopTransformJob request, the status of
  // the job changes to Stopping. After Amazon SageMaker stops the job, the status is set to
  // Stopped. When you stop a batch transform job before it is completed, Amazon SageMaker doesn't
  // store the job's output in Amazon S3."
  it("answers Stopping right after the call, Stopped once the instance has shut down, and stores no output", async () => {
    storage.open();
    // the example model as an instance that takes 1 s to shut down after SIGTERM, answering each invocation after 60 s
    await sm.send(new CreateModelCommand({ ModelName: "cp-slow", PrimaryContainer: { Image: `local-cmd:trap 'sleep 1; exit 0' TERM; ${EXAMPLE}`, Environment: { BTKIT_EXAMPLE_DELAY_MS: "60000" } } }));
    const name = await createJob({ "a.csv": "1,2\n" }, {}, "cp-slow");
    // the request is in flight once the instance has logged its effective parameters (after /ping and /execution-parameters)
    const stream = `${name}/${(await firstStream(name)).split("/")[1]}/data-log`;
    for (;;) {
      const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: stream, startFromHead: true })).catch(() => undefined);
      if (ev?.events?.some((e) => e.message!.includes("MaxConcurrentTransforms=1"))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    const stoppedAt = Date.now();
    await sm.send(new StopTransformJobCommand({ TransformJobName: name }));
    const stopping = await describeJob(name);
    expect(stopping.TransformJobStatus).toBe("Stopping");
    expect(stopping).not.toHaveProperty("TransformEndTime");
    // a second Stop while it stops is accepted
    await sm.send(new StopTransformJobCommand({ TransformJobName: name }));
    const d = await waitJob(sm, name);
    expect(d.TransformJobStatus).toBe("Stopped");
    expect(d).not.toHaveProperty("FailureReason");
    expect(d.TransformStartTime).toBeInstanceOf(Date);
    // Stopped only after the model process exited (its TERM trap sleeps 1 s)
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(900);
    expect(d.TransformEndTime!.getTime()).toBeGreaterThanOrEqual(stoppedAt + 900);
    expect(await readOut(`${dir}/out${n}`)).toEqual({});
  });
});

async function firstStream(job: string): Promise<string> {
  const { DescribeLogStreamsCommand } = await import("@aws-sdk/client-cloudwatch-logs");
  for (;;) {
    const r = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${job}/` })).catch(() => undefined);
    const s = r?.logStreams?.[0]?.logStreamName;
    if (s !== undefined) return s;
    await new Promise((res) => setTimeout(res, 50));
  }
}
