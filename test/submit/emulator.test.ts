/**
 * The submit path against the emulator over real HTTP with the real AWS SDK: --local (in-process
 * emulator with state) and a standalone emulator reached through AWS_ENDPOINT_URL_SAGEMAKER.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { ListTransformJobsCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, startExampleModel, type RunningEmulator, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor, serializeDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { buildTransformJobRequest, createLogTailer, ensureModel, submitTransformJob, waitForTransformJob, type WaitEvent } from "../../src/submit/index.js";
import { Storage } from "../../src/io/storage.js";
import { DEFAULT_DEPS } from "../../src/cli/job-prologue.js";
import { tempDir } from "../helpers/tmp.js";
import { writeTestDescriptor } from "./descriptor.js";
import { runJobCli } from "./run.js";

let dir: string;
let cleanup: () => Promise<void>;
let d: Descriptor;
let model: RunningExampleModel;
const closers: Array<() => Promise<void>> = [];
const FAST = ["--poll-seconds", "0.05"];
const creds = { accessKeyId: "test", secretAccessKey: "test" };

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-submit-emu-"));
  d = await writeTestDescriptor(dir, { shards: 3, rowsPerShard: 5 });
  model = await startExampleModel({ port: 0, env: {} });
  closers.push(() => model.close());
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

/** each job writes to its own prefix output/<job name> */
const outDir = (job: string) => path.join(dir, "output", job);
/** the .out files under a folder (submit stores the job's btkit.json beside them) */
const outs = async (folder: string) => (await fs.readdir(folder)).filter((f) => f.endsWith(".out")).sort();

/** Restarts the example model on its port with other switches (the model record keeps its URL); returns the port. */
async function restartModel(env: Record<string, string>): Promise<number> {
  const port = model.port;
  await model.close();
  closers.pop();
  model = await startExampleModel({ port, env });
  closers.push(() => model.close());
  return port;
}
const local = (args: string[], stdin = serializeDescriptor(d)) =>
  runJobCli(DEFAULT_DEPS, ["submit", "--local", "--state", path.join(dir, "state"), "--model-url", model.url, ...FAST, ...args], { stdin });

describe("submit --local", () => {
  it("runs the job on the in-process emulator, writes every .out, and a rerun attaches", async () => {
    const r = await local(["--logs"]);
    if (process.env.BTKIT_SHOW_STDERR) process.stderr.write(r.stderr);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const out = parseDescriptor(r.stdout);
    expect(out.job).toMatchObject({ backend: "emulator", status: "Completed", outputLocation: d.manifest.location.replace(/manifest\.json$/, `output/${parseDescriptor(r.stdout).job!.name}`) });
    // billed from the job's start to its end as the emulator recorded them, whole seconds rounded up, times the instances
    const emulated = JSON.parse(await fs.readFile(path.join(dir, "state", "jobs", `${out.job!.name}.json`), "utf8")) as { startTime: number; endTime: number };
    const instances = (out.job!.request as { TransformResources: { InstanceCount: number } }).TransformResources.InstanceCount;
    expect(out.job).toMatchObject({ startedAt: new Date(emulated.startTime).toISOString(), endedAt: new Date(emulated.endTime).toISOString() });
    expect(out.job!.instanceSeconds).toBe(Math.ceil((emulated.endTime - emulated.startTime) / 1000) * instances);
    expect(r.stderr).toMatch(/created model btkit-model-[0-9a-f]{16}/);
    expect(r.stderr).toMatch(/3\/3 \.out files Completed/);
    expect(r.stderr).toMatch(new RegExp(`\\[${out.job!.name}/[^\\]]+\\] `));
    expect(await outs(outDir(out.job!.name))).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
    // the example model answers the CSV sum of each row, one line per record
    const shard0 = (await fs.readFile(path.join(dir, "shards", "part-00000.csv"), "utf8")).trim().split("\n");
    const out0 = (await fs.readFile(path.join(outDir(out.job!.name), "part-00000.csv.out"), "utf8")).trim().split("\n");
    expect(out0).toEqual(shard0.map((l) => String(l.split(",").map(Number).reduce((a, b) => a + b, 0))));

    const again = await local([]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`attached to existing job ${out.job!.name} (Completed); nothing launched`);
    expect(again.stderr).toContain("with the same settings");
    expect(parseDescriptor(again.stdout).job!.name).toBe(out.job!.name);
  });

  it("a failed shard: exit 3 with FailureReason; --retry-failed writes only the missing output", async () => {
    // shard 1 starts with row 5, "36,1" (5*7+1): make the model fail on it
    await restartModel({ BTKIT_EXAMPLE_FAIL_ON: "36," });
    const shard1 = await fs.readFile(path.join(dir, "shards", "part-00001.csv"), "utf8");
    expect(shard1).toContain("36,");
    const r = await local([]);
    expect(r.code).toBe(EXIT.jobFailed);
    expect(r.stderr).toContain("SUBMIT_JOB_FAILED");
    const failed = parseDescriptor(r.stdout);
    expect(failed.job!.failureReason).toBeTruthy();
    expect(r.stderr).toContain(failed.job!.failureReason!);
    expect(await outs(outDir(failed.job!.name))).toEqual(["part-00000.csv.out", "part-00002.csv.out"]);
    const before = await Promise.all(["part-00000.csv.out", "part-00002.csv.out"].map((f) => fs.stat(path.join(outDir(failed.job!.name), f))));

    await restartModel({});
    const retry = await runJobCli(DEFAULT_DEPS, ["submit", "--retry-failed", "--local", "--state", path.join(dir, "state"), ...FAST], { stdin: r.stdout });
    expect(retry.code).toBe(0);
    const done = parseDescriptor(retry.stdout);
    expect(done.job).toMatchObject({ status: "Completed", shards: ["part-00001.csv"], outputLocation: failed.job!.outputLocation });
    expect(done.job!.history!.map((h) => [h.name, h.status])).toEqual([[failed.job!.name, "Failed"]]);
    expect(JSON.parse(await fs.readFile(path.join(dir, "manifest-retry-1.json"), "utf8"))).toEqual([{ prefix: d.manifest.prefix }, "part-00001.csv"]);
    expect(await outs(outDir(failed.job!.name))).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
    const after = await Promise.all(["part-00000.csv.out", "part-00002.csv.out"].map((f) => fs.stat(path.join(outDir(failed.job!.name), f))));
    expect(after.map((s) => s.mtimeMs)).toEqual(before.map((s) => s.mtimeMs));
  });

  it("rerunning a failed --local submit attaches and says --retry-failed or --new; adding --retry-failed to the same command transforms the rest", async () => {
    await restartModel({ BTKIT_EXAMPLE_FAIL_ON: "36," });
    const r = await local([]);
    expect(r.code).toBe(EXIT.jobFailed);
    const name = parseDescriptor(r.stdout).job!.name;
    const again = await local([]);
    expect(again.code).toBe(EXIT.jobFailed);
    expect(again.stderr).toContain(`attached to existing job ${name} (Failed); nothing launched`);
    expect(again.stderr).toContain("rerun with --retry-failed (model and instance flags may be given with it); run every shard again as a fresh job: rerun with --new");
    await restartModel({});
    const retry = await local(["--retry-failed"]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(parseDescriptor(retry.stdout).job).toMatchObject({ status: "Completed", shards: ["part-00001.csv"], history: [{ name, status: "Failed" }] });
    expect(await outs(outDir(name))).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
    const fresh = await local(["--new"]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(parseDescriptor(fresh.stdout).job!.name).not.toBe(name);
  });

  it("a --local job is found again by status and stop from its descriptor alone (the state folder is recorded)", async () => {
    await restartModel({ BTKIT_EXAMPLE_DELAY_MS: "60000" });
    const r = await local(["--timeout", "0.3"]);
    expect(r.code).toBe(EXIT.timeout);
    const d1 = parseDescriptor(r.stdout);
    expect(d1.job!.stateDir).toBe(path.join(dir, "state"));
    // no --local, no --state, no AWS credentials: the recorded state folder answers
    const s = await runJobCli(DEFAULT_DEPS, ["status"], { stdin: r.stdout, env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "btkit-none" } });
    expect(s.stderr).not.toContain("Credentials");
    // the in-process emulator ended with the submit: on restart it reports the job Failed
    expect(s.code).toBe(EXIT.jobFailed);
    expect(parseDescriptor(s.stdout).job).toMatchObject({ name: d1.job!.name, status: "Failed", stateDir: d1.job!.stateDir });
    const stop = await runJobCli(DEFAULT_DEPS, ["stop"], { stdin: s.stdout });
    expect(stop.code).toBe(0);
    expect(stop.stderr).toContain("is already Failed: nothing to stop");
    // what the timeout said is so, and its way on works: the stored descriptor, --retry-failed
    const stored = path.join(outDir(d1.job!.name), "btkit.json");
    expect(r.stderr).toContain(`it ran on the in-process emulator, which ends with this command: the job ends Failed, and the shards it finished keep their .out. See how it ended: btkit status --descriptor ${stored}; transform the rest: btkit submit --retry-failed --descriptor ${stored}`);
    expect(r.stderr).not.toContain("goes on");
    await restartModel({});
    const retry = await runJobCli(DEFAULT_DEPS, ["submit", "--retry-failed", "--descriptor", stored, ...FAST]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(parseDescriptor(retry.stdout).job).toMatchObject({ status: "Completed", history: [{ name: d1.job!.name, status: "Failed" }] });
  });

  it("Ctrl-C during submit --local: exit 130, and the commands it prints show how the job ended and transform the rest", async () => {
    await restartModel({ BTKIT_EXAMPLE_DELAY_MS: "400" });
    const ac = new AbortController();
    let seen = "";
    const r = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--state", path.join(dir, "state"), "--model-url", model.url, ...FAST], {
      stdin: serializeDescriptor(d),
      signal: ac.signal,
      onStderr: (t) => {
        seen += t;
        if (/1\/3 \.out files/.test(seen)) ac.abort();
      },
    });
    expect(r.code).toBe(EXIT.interrupted);
    const name = parseDescriptor(r.stdout).job!.name;
    const stored = path.join(outDir(name), "btkit.json");
    expect(r.stderr).toContain(`See how it ended: btkit status --descriptor ${stored}; transform the rest: btkit submit --retry-failed --descriptor ${stored}`);
    expect(parseDescriptor(await fs.readFile(stored, "utf8"))).toEqual(parseDescriptor(r.stdout));
    // the advice, as written (no --local, no --state: the stored descriptor records the state folder)
    const s = await runJobCli(DEFAULT_DEPS, ["status", "--descriptor", stored], { env: { AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "btkit-none" } });
    expect(s.code).toBe(EXIT.jobFailed);
    expect(s.stderr).toContain(`job ${name}: Failed: the emulator restarted while the job was running`);
    expect(parseDescriptor(s.stdout).job!.status).toBe("Failed");
    await restartModel({});
    const retry = await runJobCli(DEFAULT_DEPS, ["submit", "--retry-failed", "--descriptor", stored, ...FAST]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(parseDescriptor(retry.stdout).job).toMatchObject({ status: "Completed", history: [{ name, status: "Failed" }] });
    expect(await outs(outDir(name))).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
    // the descriptor printed while the job ran (InProgress) retries too (submit asks the emulator
    // first): the same retry job, attached to
    const fromStdout = await runJobCli(DEFAULT_DEPS, ["submit", "--retry-failed", ...FAST], { stdin: r.stdout });
    expect(fromStdout.code, fromStdout.stderr).toBe(0);
    expect(fromStdout.stderr).toContain(`attached to existing job ${parseDescriptor(retry.stdout).job!.name} (Completed); nothing launched`);
  });

  it("a --local job whose descriptor records no state folder (an older one): its dead port is not tried, and --state finds it", async () => {
    const r = await local([]);
    expect(r.code).toBe(0);
    const { stateDir: _stateDir, ...job } = parseDescriptor(r.stdout).job!;
    const old = serializeDescriptor({ ...parseDescriptor(r.stdout), job });
    const s = await runJobCli(DEFAULT_DEPS, ["status"], { stdin: old, env: { AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "btkit-none" } });
    expect(s.code).toBe(EXIT.service);
    expect(s.stderr).toContain(`error [SUBMIT_SERVICE]: job ${job.name} ran on an emulator at ${job.endpoint}, which is not running (the emulator of a submit --local run lives as long as that command): give the state folder that kept the job with --state DIR`);
    expect(s.stderr).not.toContain("Credentials");
    const withState = await runJobCli(DEFAULT_DEPS, ["status", "--state", path.join(dir, "state")], { stdin: old });
    expect(withState.code).toBe(0);
    expect(parseDescriptor(withState.stdout).job).toMatchObject({ name: job.name, status: "Completed" });
  });

  it("--output and --state take local paths and file:// URIs: the job writes its .out files there", async () => {
    const out = path.join(dir, "my-output");
    const state = pathToFileURL(path.join(dir, "my-state")).href;
    const r = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--state", state, "--model-url", model.url, "--output", out, ...FAST], { stdin: serializeDescriptor(d) });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const job = parseDescriptor(r.stdout).job!;
    expect(job).toMatchObject({ status: "Completed", outputLocation: pathToFileURL(out).href, stateDir: path.join(dir, "my-state") });
    expect((await fs.readdir(out)).filter((f) => f.endsWith(".out")).sort()).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
  });

  it("refuses a model name that exists with another image", async () => {
    const first = await local(["--model", "shared-model"]);
    expect(first.code).toBe(0);
    const other = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--state", path.join(dir, "state"), "--model", "shared-model", "--model-url", "http://127.0.0.1:9", ...FAST], { stdin: serializeDescriptor(d) });
    expect(other.code).toBe(EXIT.conflict);
    expect(other.stderr).toContain("SUBMIT_MODEL_CONFLICT");
  });
});

describe("a standalone emulator through AWS_ENDPOINT_URL_SAGEMAKER", () => {
  let emu: RunningEmulator;
  let env: Record<string, string>;
  beforeEach(async () => {
    emu = await startEmulator({ stateDir: path.join(dir, "emu-state"), storage: new Storage(), env: process.env });
    closers.push(() => emu.close());
    env = { AWS_ENDPOINT_URL_SAGEMAKER: emu.endpoint, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: emu.endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
  });

  const cli = (argv: string[], stdin: string) => runJobCliEnv(argv, stdin, env);

  it("times out (exit 5), stops (btkit stop), and status --wait ends Stopped (exit 4)", async () => {
    await restartModel({ BTKIT_EXAMPLE_DELAY_MS: "60000" });
    const sm = new SageMakerClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: creds });
    await ensureModel({ name: "slow", image: `local-url:${model.url}` }, { client: sm });
    const r = await cli(["submit", "--model", "slow", "--wait", "--timeout", "0.3", ...FAST], serializeDescriptor(d));
    expect(r.code).toBe(EXIT.timeout);
    const running = parseDescriptor(r.stdout);
    expect(running.job).toMatchObject({ status: "InProgress", backend: "emulator", endpoint: emu.endpoint });
    const s = await cli(["stop"], r.stdout);
    expect(s.code).toBe(0);
    expect(["Stopping", "Stopped"]).toContain(parseDescriptor(s.stdout).job!.status);
    const w = await cli(["status", "--wait", ...FAST], s.stdout);
    expect(w.code).toBe(EXIT.jobStopped);
    expect(w.stderr).toContain("SUBMIT_JOB_STOPPED");
    const jobs = await sm.send(new ListTransformJobsCommand({}));
    expect(jobs.TransformJobSummaries?.map((j) => j.TransformJobStatus)).toEqual(["Stopped"]);
    sm.destroy();
  });

  it("library: build, launch, wait with progress and logs through the SDK", async () => {
    const sm = new SageMakerClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: creds });
    const logs = new CloudWatchLogsClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: creds });
    try {
      await ensureModel({ name: "lib-model", image: `local-url:${model.url}` }, { client: sm });
      const request = buildTransformJobRequest(d, { model: "lib-model", allowFileUris: true, instanceCount: 2 });
      const launched = await submitTransformJob(request, { client: sm });
      expect(launched.attached).toBe(false);
      const events: WaitEvent[] = [];
      for await (const ev of waitForTransformJob(launched.name, {
        client: sm, storage: new Storage(), outputLocation: request.TransformOutput!.S3OutputPath!, expectedOutputs: d.shards.map((s) => `${s.name}.out`), pollSeconds: 0.05, logs: createLogTailer(launched.name, { client: logs }),
      })) events.push(ev);
      const last = events[events.length - 1]!;
      expect(last).toMatchObject({ status: "Completed", terminal: true, outputsPresent: 3, outputsExpected: 3 });
      const lines = events.flatMap((e) => e.logs);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((l) => l.stream.startsWith(`${launched.name}/`))).toBe(true);
      // each line once: the tailer resumes where it stopped
      expect(new Set(lines.map((l) => `${l.stream}|${l.timestamp}|${l.message}`)).size).toBe(lines.length);
      const again = await submitTransformJob(request, { client: sm });
      expect(again).toMatchObject({ attached: true, name: launched.name });
      const jobs = await sm.send(new ListTransformJobsCommand({}));
      expect(jobs.TransformJobSummaries).toHaveLength(1);
    } finally {
      sm.destroy();
      logs.destroy();
    }
  });
});

async function runJobCliEnv(argv: string[], stdin: string, env: Record<string, string>) {
  const { PassThrough, Readable } = await import("node:stream");
  const { main } = await import("../../src/cli/main.js");
  const { createSubmitCommand } = await import("../../src/cli/cmd-submit.js");
  const { createStatusCommand } = await import("../../src/cli/cmd-status.js");
  const { createStopCommand } = await import("../../src/cli/cmd-stop.js");
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const code = await main(argv, { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", BTKIT_PROGRESS_INTERVAL_MS: "0", ...env } }, [createSubmitCommand(), createStatusCommand(), createStopCommand()]);
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}
