/**
 * The S3 path: shards, manifest and output on a real S3-compatible server (s3rver), the job on the
 * in-process emulator (--local, state in a local folder), the waiter counting .out objects by
 * listing S3, and --retry-failed writing its manifest to S3.
 */
import path from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { DEFAULT_DEPS } from "../../src/cli/cmd-submit.js";
import { startExampleModel, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor, serializeDescriptor } from "../../src/protocol/descriptor.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";
import { copyToS3, writeTestDescriptor } from "./descriptor.js";
import { runJobCli } from "./run.js";

let s3: TestS3;
let dir: string;
let cleanup: () => Promise<void>;
let model: RunningExampleModel;

beforeAll(async () => {
  s3 = await startS3(["bt-bucket"]);
  // the CLI's S3 client takes its endpoint from the command's env but its credentials from the
  // SDK's chain (this process's environment)
  vi.stubEnv("AWS_ACCESS_KEY_ID", "S3RVER");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "S3RVER");
  ({ dir, cleanup } = await tempDir("btkit-submit-s3-"));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await model?.close();
  await s3.close();
  await cleanup();
});

it("runs against s3:// locations, refuses s3 output without --state, and retries the failed shard on S3", async () => {
  const local = await writeTestDescriptor(path.join(dir, "prep"), { shards: 3, rowsPerShard: 5 });
  const storage = s3.storage();
  const d = await copyToS3(local, path.join(dir, "prep"), storage, "s3://bt-bucket/run1/");
  model = await startExampleModel({ port: 0, env: { BTKIT_EXAMPLE_FAIL_ON: "36," } });
  const port = model.port;
  const state = path.join(dir, "state");

  const noState = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--model-url", model.url], { stdin: serializeDescriptor(d), env: s3.env });
  expect(noState.code).toBe(EXIT.usage);
  expect(noState.stderr).toContain("needs --state DIR");

  const r = await runJobCli(DEFAULT_DEPS, ["submit", "--state", state, "--model-url", model.url, "--poll-seconds", "0.05"], { stdin: serializeDescriptor(d), env: s3.env });
  expect(r.code).toBe(EXIT.jobFailed);
  const failed = parseDescriptor(r.stdout);
  expect(failed.job!.outputLocation).toBe(`s3://bt-bucket/run1/output/${failed.job!.name}`);
  expect(r.stderr).toMatch(/2\/3 \.out files Failed/);
  const listed = async () => {
    const names: string[] = [];
    for await (const o of storage.list(`s3://bt-bucket/run1/output/${failed.job!.name}/`)) names.push(o.relative);
    return names.sort();
  };
  expect(await listed()).toEqual(["part-00000.csv.out", "part-00002.csv.out"]);

  await model.close();
  model = await startExampleModel({ port, env: {} });
  const retry = await runJobCli(DEFAULT_DEPS, ["submit", "--retry-failed", "--state", state, "--poll-seconds", "0.05"], { stdin: r.stdout, env: s3.env });
  expect(retry.code).toBe(0);
  expect(retry.stderr).toMatch(/1\/1 \.out files Completed/);
  expect(JSON.parse(await storage.readText("s3://bt-bucket/run1/manifest-retry-1.json"))).toEqual([{ prefix: "s3://bt-bucket/run1/shards/" }, "part-00001.csv"]);
  expect(await listed()).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
  expect(parseDescriptor(retry.stdout).job!.history!.map((h) => h.status)).toEqual(["Failed"]);
});
