/**
 * The AWS CLI drives the emulator unchanged (--endpoint-url): models, a transform job with the
 * example model as a process, the CLI's own waiter, errors by name, and the Logs calls.
 * .ci/run installs the CLI (Debian's awscli) when the machine lacks it, so this always runs in CI.
 */
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../src/emulator/index.js";
import { tempDir } from "../helpers/tmp.js";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const MODEL = `local-cmd:${process.execPath} --import tsx ${path.join(ROOT, "bin/btkit.ts")} example-model`;

// CI installs the AWS CLI (.ci/run), so there this test always runs; on a machine without `aws` it
// is reported as skipped, never as passed.
const hasAws = spawnSync("aws", ["--version"]).status === 0;
if (!hasAws && process.env.CI === "true") throw new Error("CI must have the AWS CLI (see .ci/run)");

let emu: RunningEmulator;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  if (!hasAws) return;
  ({ dir, cleanup } = await tempDir());
  emu = await startEmulator({ cwd: ROOT, pingIntervalMs: 50, healthTimeoutMs: 60_000 });
});
afterAll(async () => {
  await emu?.close();
  await cleanup?.();
});

async function aws(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run("aws", [...args, "--endpoint-url", emu.endpoint, "--region", "us-east-1", "--output", "json"], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: "AKIDAWSCLITEST", AWS_SECRET_ACCESS_KEY: "any", AWS_PAGER: "" },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!hasAws)("the AWS CLI against the emulator", () => {
  it("creates a model and a job, waits for it, and reads the logs", async () => {
    await fs.mkdir(path.join(dir, "in"), { recursive: true });
    await fs.writeFile(path.join(dir, "in", "a.csv"), "1,2\n3,4\n");
    const model = await aws("sagemaker", "create-model", "--model-name", "cli-model", "--execution-role-arn", "arn:aws:iam::000000000000:role/x", "--primary-container", JSON.stringify({ Image: MODEL }));
    expect(model.code).toBe(0);
    expect(JSON.parse(model.stdout).ModelArn).toContain("model/cli-model");

    const dup = await aws("sagemaker", "create-model", "--model-name", "cli-model", "--execution-role-arn", "arn:aws:iam::000000000000:role/x", "--primary-container", JSON.stringify({ Image: MODEL }));
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain("ValidationException");

    const job = await aws(
      "sagemaker", "create-transform-job",
      "--transform-job-name", "cli-job",
      "--model-name", "cli-model",
      "--transform-input", JSON.stringify({ DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: `file://${dir}/in/` } }, ContentType: "text/csv", SplitType: "Line" }),
      "--transform-output", JSON.stringify({ S3OutputPath: `file://${dir}/out`, Accept: "text/csv", AssembleWith: "Line" }),
      "--transform-resources", JSON.stringify({ InstanceType: "ml.m5.large", InstanceCount: 1 }),
    );
    expect(job.code).toBe(0);
    // (the CLI's own waiter polls every 60 s, too slow for a test: poll describe instead)
    let desc = { TransformJobStatus: "InProgress" };
    for (let i = 0; i < 150 && desc.TransformJobStatus === "InProgress"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      desc = JSON.parse((await aws("sagemaker", "describe-transform-job", "--transform-job-name", "cli-job")).stdout);
    }
    expect(desc.TransformJobStatus).toBe("Completed");
    expect(await fs.readFile(path.join(dir, "out", "a.csv.out"), "utf8")).toBe("3\n7\n");

    const missing = await aws("sagemaker", "describe-transform-job", "--transform-job-name", "no-such-job");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("ResourceNotFound");

    const streams = JSON.parse((await aws("logs", "describe-log-streams", "--log-group-name", "/aws/sagemaker/TransformJobs", "--log-stream-name-prefix", "cli-job/")).stdout);
    const names = streams.logStreams.map((s: { logStreamName: string }) => s.logStreamName);
    const dataLog = names.find((n: string) => n.endsWith("/data-log"));
    expect(dataLog).toBeDefined();
    const events = JSON.parse((await aws("logs", "get-log-events", "--log-group-name", "/aws/sagemaker/TransformJobs", "--log-stream-name", dataLog, "--start-from-head")).stdout);
    expect(events.events.map((e: { message: string }) => e.message).join("\n")).toContain("a.csv");
  });

  it("tags a job and reads its tags; describes the log group", async () => {
    await fs.mkdir(path.join(dir, "in-t"), { recursive: true });
    await fs.writeFile(path.join(dir, "in-t", "a.csv"), "1\n");
    const job = await aws(
      "sagemaker", "create-transform-job",
      "--transform-job-name", "cli-tagged",
      "--model-name", "cli-model",
      "--transform-input", JSON.stringify({ DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: `file://${dir}/in-t/` } } }),
      "--transform-output", JSON.stringify({ S3OutputPath: `file://${dir}/out-t` }),
      "--transform-resources", JSON.stringify({ InstanceType: "ml.m5.large", InstanceCount: 1 }),
      "--tags", "Key=team,Value=ml",
    );
    expect(job.code).toBe(0);
    const arn = JSON.parse(job.stdout).TransformJobArn as string;
    expect(JSON.parse((await aws("sagemaker", "list-tags", "--resource-arn", arn)).stdout)).toEqual({ Tags: [{ Key: "team", Value: "ml" }] });
    const added = await aws("sagemaker", "add-tags", "--resource-arn", arn, "--tags", "Key=stage,Value=test");
    expect(JSON.parse(added.stdout)).toEqual({ Tags: [{ Key: "team", Value: "ml" }, { Key: "stage", Value: "test" }] });
    expect((await aws("sagemaker", "delete-tags", "--resource-arn", arn, "--tag-keys", "team")).code).toBe(0);
    expect(JSON.parse((await aws("sagemaker", "list-tags", "--resource-arn", arn)).stdout)).toEqual({ Tags: [{ Key: "stage", Value: "test" }] });
    const missing = await aws("sagemaker", "list-tags", "--resource-arn", "arn:aws:sagemaker:us-east-1:123456789012:transform-job/nope");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('An error occurred (ValidationException) when calling the ListTags operation: Could not find resource "arn:aws:sagemaker:us-east-1:123456789012:transform-job/nope".');
    const groups = JSON.parse((await aws("logs", "describe-log-groups", "--log-group-name-prefix", "/aws/sagemaker/")).stdout);
    expect(groups.logGroups.map((g: { logGroupName: string; arn: string }) => [g.logGroupName, g.arn])).toEqual([["/aws/sagemaker/TransformJobs", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TransformJobs:*"]]);
  });
});
