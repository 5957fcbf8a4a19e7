/**
 * The control plane as the service shows it, driven through the AWS SDK over HTTP: what
 * DescribeTransformJob holds before and after the job's instances start, StopTransformJob's
 * Stopping, fields taken but not emulated, tags, and DescribeLogGroups. Each test names the
 * recording or document it holds the emulator to.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DescribeLogGroupsCommand, DescribeLogStreamsCommand, GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { AddTagsCommand, CreateModelCommand, CreateTransformJobCommand, DeleteTagsCommand, DescribeTransformJobCommand, ListTagsCommand, StopTransformJobCommand, type CreateTransformJobCommandInput, type SageMakerClient } from "@aws-sdk/client-sagemaker";
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
  for (;;) {
    const r = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${job}/` })).catch(() => undefined);
    const s = r?.logStreams?.[0]?.logStreamName;
    if (s !== undefined) return s;
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe("accepted but not emulated", () => {
  it("keeps DataCaptureConfig, ExperimentConfig, the KMS keys and TransformAmiVersion, shows them in Describe and names each in the job's log", async () => {
    storage.open();
    const name = await createJob({ "a.csv": "1,2\n" }, {
      DataCaptureConfig: { DestinationS3Uri: "s3://bucket/capture", GenerateInferenceId: true },
      ExperimentConfig: { ExperimentName: "exp-1", TrialName: "trial-1" },
      TransformResources: { InstanceType: "ml.g4dn.xlarge", InstanceCount: 1, VolumeKmsKeyId: "alias/volume", TransformAmiVersion: "al2-ami-sagemaker-batch-gpu-535" },
    });
    const d = await waitJob(sm, name);
    expect(d.TransformJobStatus).toBe("Completed");
    expect(d.DataCaptureConfig).toEqual({ DestinationS3Uri: "s3://bucket/capture", GenerateInferenceId: true });
    expect(d.ExperimentConfig).toEqual({ ExperimentName: "exp-1", TrialName: "trial-1" });
    expect(d.TransformResources).toEqual({ InstanceType: "ml.g4dn.xlarge", InstanceCount: 1, VolumeKmsKeyId: "alias/volume", TransformAmiVersion: "al2-ami-sagemaker-batch-gpu-535" });
    const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: `${name}/emulator`, startFromHead: true }));
    expect(ev.events!.map((e) => e.message)).toEqual([
      "[btkit emulator]: DataCaptureConfig is accepted but not emulated: no inference data is captured",
      "[btkit emulator]: ExperimentConfig is accepted but not emulated: the job is associated with no experiment, trial or run",
      "[btkit emulator]: TransformResources.VolumeKmsKeyId is accepted but not emulated: instances are local processes with no storage volume",
      "[btkit emulator]: TransformResources.TransformAmiVersion is accepted but not emulated: instances are local processes with no machine image",
    ]);
  });

  it("a job that sets none of them has no emulator stream; TransformOutput.KmsKeyId is named when set", async () => {
    const plain = await createJob({ "a.csv": "1\n" });
    await waitJob(sm, plain);
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${plain}/` }));
    expect(streams.logStreams!.map((s) => s.logStreamName).filter((s) => s!.endsWith("/emulator"))).toEqual([]);
    const kms = await createJob({ "a.csv": "1\n" }, { TransformOutput: { S3OutputPath: `file://${dir}/out-kms`, KmsKeyId: "alias/out" } });
    expect((await waitJob(sm, kms)).TransformOutput).toEqual({ S3OutputPath: `file://${dir}/out-kms`, KmsKeyId: "alias/out", AssembleWith: "None" });
    const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: `${kms}/emulator`, startFromHead: true }));
    expect(ev.events!.map((e) => e.message)).toEqual(["[btkit emulator]: TransformOutput.KmsKeyId is accepted but not emulated: output is written without KMS encryption"]);
  });

  it("checks them against the botocore model", async () => {
    const bad: Array<[Partial<CreateTransformJobCommandInput>, string]> = [
      [{ ExperimentConfig: { ExperimentName: "bad_name" } }, "1 validation error detected: Value 'bad_name' at 'experimentConfig.experimentName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}"],
      [{ DataCaptureConfig: {} as { DestinationS3Uri: string } }, "1 validation error detected: Value null at 'dataCaptureConfig.destinationS3Uri' failed to satisfy constraint: Member must not be null"],
      [{ TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1, TransformAmiVersion: "-x" } }, "1 validation error detected: Value '-x' at 'transformResources.transformAmiVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9]+(-[a-zA-Z0-9]+)*"],
      [{ Tags: [{ Key: "a*b", Value: "v" }] }, "1 validation error detected: Value 'a*b' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"],
    ];
    for (const [extra, message] of bad) {
      await expect(createJob({ "a.csv": "1\n" }, extra)).rejects.toMatchObject({ name: "ValidationException", message });
    }
  });
});

describe("tags of transform jobs and models", () => {
  const arnOf = (kind: string, name: string): string => `arn:aws:sagemaker:us-east-1:123456789012:${kind}/${name}`;

  it("ListTags returns the Tags a job and a model were created with; AddTags adds or overwrites; DeleteTags removes", async () => {
    storage.open();
    await sm.send(new CreateModelCommand({ ModelName: "Tagged-Model", PrimaryContainer: { Image: `local-url:${model.url}` }, Tags: [{ Key: "owner", Value: "ml team" }] }));
    expect(await sm.send(new ListTagsCommand({ ResourceArn: arnOf("model", "tagged-model") }))).toMatchObject({ Tags: [{ Key: "owner", Value: "ml team" }] });
    const name = await createJob({ "a.csv": "1\n" }, { Tags: [{ Key: "team", Value: "ml" }, { Key: "empty", Value: "" }] });
    const arn = (await describeJob(name)).TransformJobArn!;
    expect(arn).toBe(arnOf("transform-job", name));
    const listed = await sm.send(new ListTagsCommand({ ResourceArn: arn }));
    expect(listed.Tags).toEqual([{ Key: "team", Value: "ml" }, { Key: "empty", Value: "" }]);
    expect(listed.NextToken).toBeUndefined();
    const added = await sm.send(new AddTagsCommand({ ResourceArn: arn, Tags: [{ Key: "team", Value: "ds" }, { Key: "cost:center", Value: "42" }] }));
    expect(added.Tags).toEqual([{ Key: "team", Value: "ds" }, { Key: "empty", Value: "" }, { Key: "cost:center", Value: "42" }]);
    await sm.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: ["empty", "not-there"] }));
    expect((await sm.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 50 }))).Tags).toEqual([{ Key: "team", Value: "ds" }, { Key: "cost:center", Value: "42" }]);
    await waitJob(sm, name);
  });

  it("answers an unknown or malformed ResourceArn, and MaxResults under 50, with ValidationException", async () => {
    const unknown = arnOf("transform-job", "no-such-job");
    await expect(sm.send(new ListTagsCommand({ ResourceArn: unknown }))).rejects.toMatchObject({ name: "ValidationException", message: `Could not find resource "${unknown}".`, $metadata: { httpStatusCode: 400 } });
    await expect(sm.send(new AddTagsCommand({ ResourceArn: unknown, Tags: [{ Key: "a", Value: "b" }] }))).rejects.toMatchObject({ name: "ValidationException", message: `Could not find resource "${unknown}".` });
    await expect(sm.send(new DeleteTagsCommand({ ResourceArn: unknown, TagKeys: ["a"] }))).rejects.toMatchObject({ name: "ValidationException" });
    // the message the service gives for a malformed ARN (aws-samples/mlops-sagemaker-github-actions#6)
    await expect(sm.send(new ListTagsCommand({ ResourceArn: "" }))).rejects.toMatchObject({
      name: "ValidationException",
      message: "1 validation error detected: Value '' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+",
    });
    await expect(sm.send(new ListTagsCommand({ ResourceArn: arnOf("model", "cp-model"), MaxResults: 10 }))).rejects.toMatchObject({
      name: "ValidationException",
      message: "1 validation error detected: Value '10' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 50",
    });
  });
});

describe("CloudWatch Logs DescribeLogGroups", () => {
  it("shows /aws/sagemaker/TransformJobs once a job has logged, in the botocore LogGroup shape; before, the group does not exist", async () => {
    const fresh = await startEmulator({ env: {}, storage, pingIntervalMs: 20 });
    try {
      const c = clients(fresh.endpoint);
      expect((await c.logs.send(new DescribeLogGroupsCommand({}))).logGroups).toEqual([]);
      await expect(c.logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP }))).rejects.toMatchObject({ name: "ResourceNotFoundException", message: "The specified log group does not exist." });
      storage.open();
      await c.sm.send(new CreateModelCommand({ ModelName: "lg-model", PrimaryContainer: { Image: `local-url:${model.url}` } }));
      const inUri = await writeFiles(`${dir}/in-lg`, { "a.csv": "1\n" });
      const startedAt = Date.now();
      await c.sm.send(new CreateTransformJobCommand({
        TransformJobName: "lg-job",
        ModelName: "lg-model",
        TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } } },
        TransformOutput: { S3OutputPath: `file://${dir}/out-lg` },
        TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
      }));
      await waitJob(c.sm, "lg-job");
      const groups = await c.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/sagemaker/" }));
      expect(groups.logGroups).toEqual([
        {
          logGroupName: "/aws/sagemaker/TransformJobs",
          creationTime: expect.any(Number),
          metricFilterCount: 0,
          arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TransformJobs:*",
          storedBytes: 0,
          logGroupClass: "STANDARD",
          logGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TransformJobs",
        },
      ]);
      expect(groups.logGroups![0]!.creationTime).toBeGreaterThanOrEqual(startedAt);
      expect(groups.nextToken).toBeUndefined();
      expect((await c.logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: "TransformJobs" }))).logGroups).toHaveLength(1);
      expect((await c.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/lambda/" }))).logGroups).toEqual([]);
      await expect(c.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws", logGroupNamePattern: "x" }))).rejects.toMatchObject({ name: "InvalidParameterException" });
      await expect(c.logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: "lg-job/nope" }))).rejects.toMatchObject({ name: "ResourceNotFoundException", message: "The specified log stream does not exist." });
    } finally {
      await fresh.close();
    }
  });
});
