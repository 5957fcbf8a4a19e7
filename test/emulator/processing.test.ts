/**
 * Processing jobs on the emulator, driven through the AWS SDK over HTTP: CreateProcessingJob's
 * validation (the constraints of the botocore model's CreateProcessingJobRequest, in the service's
 * message shape), a duplicate name, Describe and List through the job's life, each instance's
 * resourceconfig.json and log stream, a failing instance, StopProcessingJob.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DescribeLogStreamsCommand, GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import {
  CreateProcessingJobCommand,
  DescribeProcessingJobCommand,
  ListProcessingJobsCommand,
  StopProcessingJobCommand,
  type CreateProcessingJobCommandInput,
  type DescribeProcessingJobCommandOutput,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { PROCESSING_LOG_GROUP, RESTART_REASON, startEmulator, type RunningEmulator } from "../../src/emulator/index.js";
import { tempDir } from "../helpers/tmp.js";
import { clients } from "./helpers.js";

let emu: RunningEmulator;
let sm: SageMakerClient;
let logs: CloudWatchLogsClient;
let n = 0;

beforeAll(async () => {
  emu = await startEmulator({ env: { PATH: process.env.PATH } });
  ({ sm, logs } = clients(emu.endpoint));
});
afterAll(async () => {
  sm.destroy();
  logs.destroy();
  await emu.close();
});

const ROLE = "arn:aws:iam::123456789012:role/btkit-test";

function request(script: string, extra: Partial<CreateProcessingJobCommandInput> = {}, count = 1): CreateProcessingJobCommandInput {
  n += 1;
  return {
    ProcessingJobName: `proc-${process.pid}-${n}`,
    ProcessingResources: { ClusterConfig: { InstanceCount: count, InstanceType: "ml.m5.xlarge", VolumeSizeInGB: 30 } },
    AppSpecification: { ImageUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/btkit:test", ContainerEntrypoint: ["sh", "-c", script] },
    RoleArn: ROLE,
    ...extra,
  };
}

async function waitEnd(name: string): Promise<DescribeProcessingJobCommandOutput> {
  for (;;) {
    const d = await sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: name }));
    if (d.ProcessingJobStatus !== "InProgress" && d.ProcessingJobStatus !== "Stopping") return d;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function streamText(name: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const s = await logs.send(new DescribeLogStreamsCommand({ logGroupName: PROCESSING_LOG_GROUP, logStreamNamePrefix: `${name}/` }));
  for (const st of s.logStreams ?? []) {
    const e = await logs.send(new GetLogEventsCommand({ logGroupName: PROCESSING_LOG_GROUP, logStreamName: st.logStreamName!, startFromHead: true }));
    out[st.logStreamName!] = (e.events ?? []).map((x) => x.message!);
  }
  return out;
}

async function refused(input: CreateProcessingJobCommandInput): Promise<{ name: string; message: string }> {
  const err = (await sm.send(new CreateProcessingJobCommand(input)).then(
    () => undefined,
    (e: unknown) => e,
  )) as { name: string; message: string } | undefined;
  expect(err, "the request is refused").toBeDefined();
  return { name: err!.name, message: err!.message };
}

describe("CreateProcessingJob validation (botocore CreateProcessingJobRequest)", () => {
  const cluster = (c: Record<string, unknown>): Partial<CreateProcessingJobCommandInput> => ({ ProcessingResources: { ClusterConfig: { InstanceCount: 1, InstanceType: "ml.m5.xlarge", VolumeSizeInGB: 30, ...c } as never } });
  it.each([
    ["a name that breaks the pattern", { ProcessingJobName: "bad_name" }, "1 validation error detected: Value 'bad_name' at 'processingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"],
    ["a name of 64 characters", { ProcessingJobName: "a".repeat(64) }, `1 validation error detected: Value '${"a".repeat(64)}' at 'processingJobName' failed to satisfy constraint: Member must have length less than or equal to 63`],
    ["no RoleArn", { RoleArn: undefined }, "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"],
    ["a short RoleArn", { RoleArn: "arn:aws:iam::1:role" }, "1 validation error detected: Value 'arn:aws:iam::1:role' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"],
    ["a RoleArn that is no role", { RoleArn: "arn:aws:iam::123456789012:user/someone" }, "1 validation error detected: Value 'arn:aws:iam::123456789012:user/someone' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"],
    ["no ProcessingResources", { ProcessingResources: undefined }, "1 validation error detected: Value null at 'processingResources' failed to satisfy constraint: Member must not be null"],
    ["InstanceCount 0", cluster({ InstanceCount: 0 }), "1 validation error detected: Value '0' at 'processingResources.clusterConfig.instanceCount' failed to satisfy constraint: Member must have value greater than or equal to 1"],
    ["InstanceCount 101", cluster({ InstanceCount: 101 }), "1 validation error detected: Value '101' at 'processingResources.clusterConfig.instanceCount' failed to satisfy constraint: Member must have value less than or equal to 100"],
    ["an unknown instance type", cluster({ InstanceType: "ml.m5.4xlarge-typo" }), "1 validation error detected: Value 'ml.m5.4xlarge-typo' at 'processingResources.clusterConfig.instanceType' failed to satisfy constraint: Member must satisfy enum value set: [ml.c4.2xlarge, "],
    ["no VolumeSizeInGB", cluster({ VolumeSizeInGB: undefined }), "1 validation error detected: Value null at 'processingResources.clusterConfig.volumeSizeInGB' failed to satisfy constraint: Member must not be null"],
    ["VolumeSizeInGB 16385", cluster({ VolumeSizeInGB: 16385 }), "1 validation error detected: Value '16385' at 'processingResources.clusterConfig.volumeSizeInGB' failed to satisfy constraint: Member must have value less than or equal to 16384"],
    ["no AppSpecification.ImageUri", { AppSpecification: {} as never }, "1 validation error detected: Value null at 'appSpecification.imageUri' failed to satisfy constraint: Member must not be null"],
    ["MaxRuntimeInSeconds 0", { StoppingCondition: { MaxRuntimeInSeconds: 0 } }, "1 validation error detected: Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"],
    ["MaxRuntimeInSeconds 777601", { StoppingCondition: { MaxRuntimeInSeconds: 777601 } }, "1 validation error detected: Value '777601' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 777600"],
    ["an input without a LocalPath", { ProcessingInputs: [{ InputName: "raw", S3Input: { S3Uri: "s3://b/raw/", S3DataType: "S3Prefix" } }] }, "processingInputs.1.member.s3Input.localPath is required when AppManaged is false (the default)"],
  ] as Array<[string, Partial<CreateProcessingJobCommandInput>, string]>)("%s is a ValidationException", async (_what, change, message) => {
    const err = await refused({ ...request("true"), ...change });
    expect(err.name).toBe("ValidationException");
    if (message.endsWith(", ")) expect(err.message.startsWith(message) && err.message.includes("ml.m5.xlarge")).toBe(true);
    else if (message.startsWith("1 validation error")) expect(err.message).toBe(message);
    else expect(err.message).toContain(message);
  });

  it("an app-managed input needs no LocalPath, and inputs and outputs are kept as given", async () => {
    const inputs = [{ InputName: "raw", AppManaged: true, S3Input: { S3Uri: "s3://b/raw/", S3DataType: "S3Prefix" as const } }];
    const outputs = { Outputs: [{ OutputName: "prep", S3Output: { S3Uri: "s3://b/prep/", LocalPath: "/opt/ml/processing/prep", S3UploadMode: "EndOfJob" as const } }] };
    const req = request("true", { ProcessingInputs: inputs, ProcessingOutputConfig: outputs });
    await sm.send(new CreateProcessingJobCommand(req));
    const d = await waitEnd(req.ProcessingJobName!);
    expect(d.ProcessingJobStatus).toBe("Completed");
    expect(d.ProcessingInputs).toEqual(inputs);
    expect(d.ProcessingOutputConfig).toEqual(outputs);
    const notes = (await streamText(req.ProcessingJobName!))[`${req.ProcessingJobName}/emulator`]!;
    expect(notes.join("\n")).toContain("ProcessingInputs is accepted but not emulated: nothing is downloaded");
    expect(notes.join("\n")).toContain("ProcessingOutputConfig is accepted but not emulated: nothing is uploaded");
  });
});

describe("a processing job's life", () => {
  it("runs one process per instance, each with its own resourceconfig.json and log stream; Describe and List show it", async () => {
    const req = request('cat "$BTKIT_RESOURCE_CONFIG"; echo "to stderr $GREETING" >&2', { Environment: { GREETING: "hello" } }, 3);
    const name = req.ProcessingJobName!;
    const created = await sm.send(new CreateProcessingJobCommand(req));
    expect(created.ProcessingJobArn).toBe(`arn:aws:sagemaker:us-east-1:123456789012:processing-job/${name}`);
    const d = await waitEnd(name);
    expect(d).toMatchObject({ ProcessingJobName: name, ProcessingJobStatus: "Completed", RoleArn: ROLE, Environment: { GREETING: "hello" }, AppSpecification: req.AppSpecification, ProcessingResources: req.ProcessingResources });
    expect(d.FailureReason).toBeUndefined();
    expect(d.CreationTime!.getTime()).toBeLessThanOrEqual(d.ProcessingStartTime!.getTime());
    expect(d.ProcessingStartTime!.getTime()).toBeLessThanOrEqual(d.ProcessingEndTime!.getTime());
    expect(d.LastModifiedTime!.getTime()).toBe(d.ProcessingEndTime!.getTime());
    const streams = await streamText(name);
    const instanceStreams = Object.keys(streams).filter((s) => !s.endsWith("/emulator")).sort();
    expect(instanceStreams).toHaveLength(3);
    instanceStreams.forEach((s, k) => {
      expect(s).toMatch(new RegExp(`^${name}/algo-${k + 1}-\\d{10}$`));
      expect(JSON.parse(streams[s]![0]!)).toEqual({ current_host: `algo-${k + 1}`, hosts: ["algo-1", "algo-2", "algo-3"] });
      expect(streams[s]).toContain("to stderr hello");
    });
    const list = await sm.send(new ListProcessingJobsCommand({ NameContains: name, StatusEquals: "Completed" }));
    expect(list.ProcessingJobSummaries?.map((j) => [j.ProcessingJobName, j.ProcessingJobStatus])).toEqual([[name, "Completed"]]);
  });

  it("a duplicate name is ResourceInUse", async () => {
    const req = request("true");
    await sm.send(new CreateProcessingJobCommand(req));
    const err = await refused(req);
    expect(err.name).toBe("ResourceInUse");
    expect(err.message).toBe(`Job name must be unique within an AWS account and region, and a job with this name already exists (arn:aws:sagemaker:us-east-1:123456789012:processing-job/${req.ProcessingJobName})`);
  });

  it("an instance that exits non-zero fails the job: FailureReason names it and its stream, ExitMessage holds its last stderr lines", async () => {
    const req = request('if grep -q \'"current_host":"algo-2"\' "$BTKIT_RESOURCE_CONFIG"; then echo "first line" >&2; echo "input not found: s3://b/x" >&2; exit 66; fi; sleep 30', {}, 3);
    const name = req.ProcessingJobName!;
    const began = Date.now();
    await sm.send(new CreateProcessingJobCommand(req));
    const d = await waitEnd(name);
    // the other instances are stopped, not waited for
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(d.ProcessingJobStatus).toBe("Failed");
    const stream = Object.keys(await streamText(name)).find((s) => s.startsWith(`${name}/algo-2-`));
    expect(d.FailureReason).toBe(`AlgorithmError: algo-2 (instance 2 of 3) exited with code 66; its output is in the log stream ${stream} of /aws/sagemaker/ProcessingJobs`);
    expect(d.ExitMessage).toBe("first line\ninput not found: s3://b/x");
    const list = await sm.send(new ListProcessingJobsCommand({ NameContains: name }));
    expect(list.ProcessingJobSummaries?.[0]).toMatchObject({ ProcessingJobStatus: "Failed", FailureReason: d.FailureReason, ExitMessage: d.ExitMessage });
  });

  it("a crash's ExitMessage keeps the error's headline, not only the end of its stack", async () => {
    const stack = 'for i in $(seq 0 39); do echo "    at frame$i (file:///app/dist/src/x$i.js:$i:1)" >&2; done';
    const req = request(`echo "progress 1" >&2; echo "btkit join: internal error [INTERNAL]: Error: ENOENT: no such file, open '/out/x'" >&2; ${stack}; echo "  this is a bug in btkit" >&2; exit 1`);
    await sm.send(new CreateProcessingJobCommand(req));
    const d = await waitEnd(req.ProcessingJobName!);
    expect(d.ProcessingJobStatus).toBe("Failed");
    const msg = d.ExitMessage!;
    expect(msg.length).toBeLessThanOrEqual(1024);
    expect(msg.startsWith("btkit join: internal error [INTERNAL]: Error: ENOENT: no such file, open '/out/x'\n")).toBe(true);
    expect(msg).toContain("'/out/x'\n...\n    at frame");
    expect(msg).toContain("    at frame39 (file:///app/dist/src/x39.js:39:1)\n");
    expect(msg.endsWith("  this is a bug in btkit")).toBe(true);
  });

  it("an entrypoint not on PATH fails the job saying so", async () => {
    const req = request("true");
    req.AppSpecification = { ImageUri: "x", ContainerEntrypoint: ["no-such-command-btkit"] };
    await sm.send(new CreateProcessingJobCommand(req));
    const d = await waitEnd(req.ProcessingJobName!);
    expect(d.ProcessingJobStatus).toBe("Failed");
    expect(d.FailureReason).toContain('could not start "no-such-command-btkit": not found on PATH');
  });

  it("an image without an entrypoint the emulator knows fails the job, naming the ways to run one", async () => {
    const req = request("true");
    req.AppSpecification = { ImageUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/other:1" };
    await sm.send(new CreateProcessingJobCommand(req));
    const d = await waitEnd(req.ProcessingJobName!);
    expect(d.FailureReason).toContain("give AppSpecification.ContainerEntrypoint");
    // the way out applied: a local-cmd: image runs its command with the arguments
    const ok = request("true");
    ok.AppSpecification = { ImageUri: "local-cmd:sh -c 'test \"$0\" = a -a \"$1\" = b'", ContainerArguments: ["a", "b"] };
    await sm.send(new CreateProcessingJobCommand(ok));
    expect((await waitEnd(ok.ProcessingJobName!)).ProcessingJobStatus).toBe("Completed");
  });

  it("StopProcessingJob: Stopping, then Stopped once the processes exited; stopping a Completed job is refused", async () => {
    const req = request("sleep 60", {}, 2);
    const name = req.ProcessingJobName!;
    await sm.send(new CreateProcessingJobCommand(req));
    await new Promise((r) => setTimeout(r, 200));
    await sm.send(new StopProcessingJobCommand({ ProcessingJobName: name }));
    expect((await sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: name }))).ProcessingJobStatus).toMatch(/^Stopp(ing|ed)$/);
    const d = await waitEnd(name);
    expect(d.ProcessingJobStatus).toBe("Stopped");
    expect(d.ProcessingEndTime).toBeDefined();
    const done = request("true");
    await sm.send(new CreateProcessingJobCommand(done));
    await waitEnd(done.ProcessingJobName!);
    const err = await sm.send(new StopProcessingJobCommand({ ProcessingJobName: done.ProcessingJobName })).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ name: "ValidationException", message: "The request was rejected because the processing job is in status Completed." });
  });

  it("MaxRuntimeInSeconds stops the job", async () => {
    const req = request("sleep 60", { StoppingCondition: { MaxRuntimeInSeconds: 1 } });
    await sm.send(new CreateProcessingJobCommand(req));
    const d = await waitEnd(req.ProcessingJobName!);
    expect(d.ProcessingJobStatus).toBe("Stopped");
    expect((await streamText(req.ProcessingJobName!))[`${req.ProcessingJobName}/emulator`]!.join("\n")).toContain("MaxRuntimeInSeconds (1 s) passed");
  });

  it("Describe and Stop of an unknown job are ResourceNotFound", async () => {
    for (const cmd of [new DescribeProcessingJobCommand({ ProcessingJobName: "no-such-job" }), new StopProcessingJobCommand({ ProcessingJobName: "no-such-job" })]) {
      const err = (await sm.send(cmd as never).catch((e: unknown) => e)) as Error;
      expect(err).toMatchObject({ name: "ResourceNotFound", message: "Could not find requested job with name no-such-job" });
    }
  });
});

describe("with a state folder", () => {
  it("a finished processing job and its log streams survive a restart; a running one is Failed after it", async () => {
    const { dir, cleanup } = await tempDir("btkit-proc-state-");
    try {
      const first = await startEmulator({ env: { PATH: process.env.PATH }, stateDir: dir });
      const c1 = clients(first.endpoint);
      const done = request("echo kept");
      const running = request("sleep 60");
      await c1.sm.send(new CreateProcessingJobCommand(done));
      for (;;) {
        const d = await c1.sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: done.ProcessingJobName }));
        if (d.ProcessingJobStatus === "Completed") break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await c1.sm.send(new CreateProcessingJobCommand(running));
      await new Promise((r) => setTimeout(r, 200));
      c1.sm.destroy();
      c1.logs.destroy();
      await first.close();
      const second = await startEmulator({ env: { PATH: process.env.PATH }, stateDir: dir });
      const c2 = clients(second.endpoint);
      try {
        expect((await c2.sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: done.ProcessingJobName }))).ProcessingJobStatus).toBe("Completed");
        const r = await c2.sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: running.ProcessingJobName }));
        expect(r).toMatchObject({ ProcessingJobStatus: "Failed", FailureReason: RESTART_REASON });
        const streams = await c2.logs.send(new DescribeLogStreamsCommand({ logGroupName: PROCESSING_LOG_GROUP, logStreamNamePrefix: `${done.ProcessingJobName}/algo-1-` }));
        const events = await c2.logs.send(new GetLogEventsCommand({ logGroupName: PROCESSING_LOG_GROUP, logStreamName: streams.logStreams![0]!.logStreamName!, startFromHead: true }));
        expect(events.events?.map((e) => e.message)).toEqual(["kept"]);
      } finally {
        c2.sm.destroy();
        c2.logs.destroy();
        await second.close();
      }
    } finally {
      await cleanup();
    }
  });
});
