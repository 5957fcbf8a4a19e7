/**
 * prep beyond one machine as a SageMaker Processing job, end to end on the emulator: a
 * CreateProcessingJob whose 3 instances each run the built `btkit prep --part auto` from and to
 * the S3 test server, merged afterwards into the descriptor a plain prep of the same input gives;
 * and `btkit prep --processing` through the CLI (--local on local paths; against a standalone
 * emulator and S3 as on AWS), its refusals, and each refusal's way out applied.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { CreateProcessingJobCommand, DescribeProcessingJobCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../src/emulator/index.js";
import { merge, prepare } from "../../src/prepare/index.js";
import { parseDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import type { Storage } from "../../src/io/index.js";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { run, type Ran } from "../helpers/spawn.js";
import { useS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";

const bin = path.resolve(import.meta.dirname, "../../dist/bin/btkit.js");
const FILES = 3;
const ROWS = 200;
let dir: string;
let cleanup: () => Promise<void>;
const s3 = useS3(["proc-bucket"]);

/** Input file k: ROWS rows of id, a number, a text with a comma, a label. */
function csv(k: number): string {
  const lines = ["id,score,comment,label"];
  for (let i = 0; i < ROWS; i++) lines.push(`${k * ROWS + i},${(i * 0.37 + k).toFixed(3)},"row ${i}, file ${k}",${i % 3 === 0 ? "yes" : "no"}`);
  return `${lines.join("\n")}\n`;
}

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-proc-e2e-"));
  fs.mkdirSync(path.join(dir, "raw"));
  for (let k = 0; k < FILES; k++) fs.writeFileSync(path.join(dir, "raw", `part-${k}.csv`), csv(k));
});
afterAll(async () => {
  await cleanup?.();
});

/** Every shard's text, in shard order. */
async function shardText(d: Descriptor, storage: Storage): Promise<string> {
  let text = "";
  for (const s of d.shards) text += await storage.readText(s.location);
  return text;
}

async function waitEnd(sm: SageMakerClient, name: string): Promise<string> {
  for (;;) {
    const d = await sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: name }));
    if (d.ProcessingJobStatus !== "InProgress" && d.ProcessingJobStatus !== "Stopping") return `${d.ProcessingJobStatus}${d.FailureReason ? `: ${d.FailureReason} ${d.ExitMessage}` : ""}`;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("an emulated processing job of 3 instances running btkit prep --part auto on S3", () => {
  let emu: RunningEmulator;
  let sm: SageMakerClient;
  beforeAll(async () => {
    // the instances get the emulator's environment: the S3 test server's endpoint and settings
    emu = await startEmulator({ env: { ...process.env, ...s3().env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
    sm = new SageMakerClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test" } });
  });
  afterAll(async () => {
    sm.destroy();
    await emu.close();
  });

  it("writes 3 parts that merge into the rows of a plain prep", async () => {
    const storage = s3().storage();
    for (let k = 0; k < FILES; k++) await storage.write(`s3://proc-bucket/raw/part-${k}.csv`, csv(k));
    await sm.send(
      new CreateProcessingJobCommand({
        ProcessingJobName: "prep-3-instances",
        ProcessingResources: { ClusterConfig: { InstanceCount: 3, InstanceType: "ml.m5.xlarge", VolumeSizeInGB: 30 } },
        AppSpecification: { ImageUri: "btkit:test", ContainerEntrypoint: ["btkit"], ContainerArguments: ["prep", "s3://proc-bucket/raw/", "--out", "s3://proc-bucket/prep/", "--part", "auto"] },
        RoleArn: "arn:aws:iam::123456789012:role/btkit-test",
      }),
    );
    expect(await waitEnd(sm, "prep-3-instances")).toBe("Completed");
    const parts: Descriptor[] = [];
    for (let i = 0; i < 3; i++) {
      const p = `s3://proc-bucket/prep/parts/part-${i}of3.btkit.json`;
      parts.push(parseDescriptor(await storage.readText(p), p));
    }
    expect(parts.map((p) => p.source.part)).toEqual([0, 1, 2].map((index) => ({ index, count: 3 })));
    const merged = await merge(parts, { storage });
    const plain = await prepare({ inputs: ["s3://proc-bucket/raw/"], out: "s3://proc-bucket/plain/", storage });
    expect(merged.source.rowsWritten).toBe(FILES * ROWS);
    expect(merged.schema).toEqual(plain.schema);
    expect(await shardText(merged, storage)).toBe(await shardText(plain, storage));
    // the merged descriptor is stored, as merge's own
    expect(parseDescriptor(await storage.readText("s3://proc-bucket/prep/btkit.json"), "btkit.json").shards).toEqual(merged.shards);
  });
});

describe("btkit prep --processing", () => {
  it("--local: the merged descriptor has the rows of a plain prep of the same input", async () => {
    const env = { PATH: process.env.PATH };
    const plain = await runCli(["prep", path.join(dir, "raw"), "--out", path.join(dir, "plain")], { env, cwd: dir });
    expect(plain.code, plain.stderr).toBe(0);
    const r = await runCli(["prep", "raw", "--out", "proc", "--processing", "--local", "--instance-count", "3", "--poll-seconds", "0.1"], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const merged = parseDescriptor(r.stdout.trim(), "stdout");
    const base = parseDescriptor(plain.stdout.trim(), "stdout");
    expect(merged.source.rowsWritten).toBe(base.source.rowsWritten);
    expect(merged.schema).toEqual(base.schema);
    expect(merged.shards).toHaveLength(3);
    const read = (d: Descriptor): string => d.shards.map((s) => fs.readFileSync(new URL(s.location), "utf8")).join("");
    expect(read(merged)).toBe(read(base));
    expect(r.stderr).toMatch(/launched processing job btkit-prep-[0-9a-f]{16} on the emulator in this process: 3 instances of ml\.m5\.xlarge, each running btkit prep --out=\S+\/proc --part auto \S+\/raw\n/);
    // an instance's descriptor on its stdout is named, not printed
    expect(r.stderr).toMatch(/\[algo-3-\d+\] \(its descriptor of part 2\/3, on stdout\)/);
    // each instance's log lines, by stream
    expect(r.stderr).toMatch(/\[algo-2-\d+\] prep: --part auto: part 1\/3, from SageMaker Processing/);
    expect(r.stderr).toContain("prep --processing: merged 3 parts: 600 rows in 3 shards");
    // the job state is kept beside --out: a rerun attaches, launches nothing and prints the same
    const again = await runCli(["prep", "raw", "--out", "proc", "--processing", "--local", "--instance-count", "3", "--poll-seconds", "0.1"], { env, cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("which ran this request before; nothing launched");
    expect(parseDescriptor(again.stdout.trim(), "stdout").shards).toEqual(merged.shards);
  });

  it("a local input or --out without --local is refused, naming --local (applied in the test above)", async () => {
    const r = await runCli(["prep", "raw", "--out", "s3://proc-bucket/x/", "--processing", "--role", "arn:aws:iam::123456789012:role/r", "--image", "i"], { env: {}, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("input raw is a local path, but the instances of a SageMaker Processing job see S3 only: give an s3:// location, or run the job on the emulator with --local");
  });

  it("--instance-count without --processing is refused, naming --processing (applied above)", async () => {
    const r = await runCli(["prep", "raw", "--out", "x", "--instance-count", "3"], { env: {}, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--instance-count goes with --processing (running the command as a SageMaker Processing job): add --processing, or leave it out");
  });

  it("--part with --processing is refused: each instance takes its own part", async () => {
    const r = await runCli(["prep", "raw", "--out", "x", "--processing", "--local", "--part", "0/2"], { env: {}, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--part goes without --processing: each instance of the processing job takes its own part (--part auto, from its resourceconfig.json); leave --part out");
  });

  it("on AWS (a standalone emulator and the S3 test server as the endpoints): --role and --image are needed, and given they run the job", async () => {
    const emu = await startEmulator({ env: { ...process.env, ...s3().env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
    try {
      const env = { ...s3().env, AWS_ENDPOINT_URL_SAGEMAKER: emu.endpoint, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: emu.endpoint };
      const argv = ["prep", "s3://proc-bucket/raw/", "--out", "s3://proc-bucket/aws/", "--processing", "--instance-count", "2", "--poll-seconds", "0.1"];
      // the built CLI in its own process: the AWS SDK reads credentials from the process environment
      const cli = (args: string[]): Promise<Ran> => run(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
      const noRole = await cli(argv);
      expect(noRole.status).toBe(2);
      expect(noRole.stderr).toContain("prep --processing needs --role ARN: the IAM role the processing job runs as (with S3 access to the inputs and --out), or --local to run it on the emulator");
      const noImage = await cli([...argv, "--role", "arn:aws:iam::123456789012:role/btkit"]);
      expect(noImage.status).toBe(2);
      expect(noImage.stderr).toContain("prep --processing needs --image URI: the btkit image in ECR");
      const ok = await cli([...argv, "--role", "arn:aws:iam::123456789012:role/btkit", "--image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/btkit:0.1.0"]);
      expect(ok.status, ok.stderr).toBe(0);
      const d = parseDescriptor(ok.stdout.trim(), "stdout");
      expect(d.source.rowsWritten).toBe(FILES * ROWS);
      expect(d.manifest.location).toBe("s3://proc-bucket/aws/manifest.json");
      expect(ok.stderr).toContain(`on the emulator at ${emu.endpoint}: 2 instances of ml.m5.xlarge`);
    } finally {
      await emu.close();
    }
  });

  it("a failing instance fails the command with its FailureReason and log streams; after the fix, --new runs it again", async () => {
    const bad = path.join(dir, "bad");
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, "a.csv"), "id,v\n1,2\n");
    fs.writeFileSync(path.join(bad, "b.csv"), "id,v\n3,4,5\n");
    const argv = ["prep", "bad", "--out", "bad-out", "--processing", "--local", "--poll-seconds", "0.1"];
    const r = await runCli(argv, { env: { PATH: process.env.PATH }, cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[SUBMIT_PROCESSING_FAILED\]: processing job btkit-prep-[0-9a-f]{16} failed: AlgorithmError: algo-2 \(instance 2 of 2\) exited with code 65; its output is in the log stream btkit-prep-[0-9a-f]{16}\/algo-2-\d+ of \/aws\/sagemaker\/ProcessingJobs\. Its last lines: .*PREP_RAGGED_ROW/);
    expect(r.stderr).toMatch(/Its log streams \(\/aws\/sagemaker\/ProcessingJobs\): btkit-prep-[0-9a-f]{16}\/algo-1-\d+, btkit-prep-[0-9a-f]{16}\/algo-2-\d+, btkit-prep-[0-9a-f]{16}\/emulator\. Fix the cause, then rerun with --new/);
    // part 0 (a.csv) may have finished before part 1 failed: make sure it did, as on a slow failure
    const part0 = await runCli(["prep", "bad", "--out", "bad-out", "--part", "0/2", "--quiet", "--overwrite"], { env: { PATH: process.env.PATH }, cwd: dir });
    expect(part0.code, part0.stderr).toBe(0);
    fs.writeFileSync(path.join(bad, "b.csv"), "id,v\n3,4\n");
    // a rerun without --new attaches to the failed job
    const attached = await runCli(argv, { env: { PATH: process.env.PATH }, cwd: dir });
    expect(attached.code).toBe(3);
    expect(attached.stderr).toContain("which ran this request before; nothing launched (--new launches a fresh one)");
    // --new: a fresh job whose parts replace the earlier job's (part 0's inputs changed with the fix)
    const fresh = await runCli([...argv, "--new"], { env: { PATH: process.env.PATH }, cwd: dir });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toMatch(/each running btkit prep --out=\S+bad-out --overwrite --part auto /);
    expect(parseDescriptor(fresh.stdout.trim(), "stdout").source.rowsWritten).toBe(2);
  });
});

/**
 * The built CLI as a process, its instances sleeping (--processing-command btkit=...), interrupted
 * with SIGINT once they run: resolves its exit and output when it ends.
 */
function launchAndInterrupt(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let sent = false;
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    // the instances run (their first line is logged): interrupt
    if (!sent && /\[algo-1-\d+\] sleeping/.test(stderr)) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** Runs a command as printed ("btkit ..."), with the built CLI for btkit, through the shell. */
function runPrinted(command: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return run("bash", ["-c", command.replace(/^btkit /, `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} `)], { cwd: dir, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env } });
}

const SLEEPER = ["--processing-command", "btkit=echo sleeping; sleep 60; true"];

describe("Ctrl-C of --processing prints a command that shows the job", () => {
  it("--local --timeout: the job is stopped, not said to go on; btkit status as printed shows it Stopped; a rerun with --new runs it", async () => {
    const argv = ["prep", "raw", "--out", "to-local", "--processing", "--local", "--instance-count", "2", "--poll-seconds", "0.1"];
    const r = await runPrinted(`btkit ${[...argv, "--timeout", "3", "--processing-command", "'btkit=echo sleeping; sleep 60; true'"].join(" ")}`, { PATH: process.env.PATH });
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr).not.toContain("goes on");
    const m = /See it: (btkit status --processing-job (btkit-prep-[0-9a-f]{16}) --state (\S+))\. Run it again: rerun the same command with --new/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const shown = await runPrinted(m![1]!, { PATH: process.env.PATH });
    expect(shown.status, shown.stderr).toBe(4);
    expect((JSON.parse(shown.stdout) as { processingJob: Record<string, unknown> }).processingJob).toMatchObject({ name: m![2], status: "Stopped" });
    const again = await runCli([...argv, "--new"], { env: { PATH: process.env.PATH }, cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(parseDescriptor(again.stdout.trim(), "stdout").source.rowsWritten).toBe(FILES * ROWS);
  }, 120_000);

  it("--local: the job is stopped; btkit status --processing-job NAME --state DIR as printed shows it Stopped; a rerun with --new runs it", async () => {
    const argv = ["prep", "raw", "--out", "int-local", "--processing", "--local", "--instance-count", "2", "--poll-seconds", "0.1"];
    const r = await launchAndInterrupt([...argv, ...SLEEPER], { PATH: process.env.PATH });
    expect(r.code, r.stderr).toBe(130);
    const m = /See it: (btkit status --processing-job (btkit-prep-[0-9a-f]{16}) --state (\S+))\. Run it again: rerun the same command with --new/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [, command, name, state] = m!;
    expect(state).toBe(path.join(dir, "emulator-state"));
    const shown = await runPrinted(command!, { PATH: process.env.PATH });
    expect(shown.status, shown.stderr).toBe(4);
    const job = JSON.parse(shown.stdout) as { processingJob: Record<string, unknown> };
    expect(job.processingJob).toMatchObject({ name, status: "Stopped", backend: "emulator", stateDir: state, instanceCount: 2 });
    expect(shown.stderr).toContain(`processing job ${name} on the emulator state folder ${state}: Stopped (2 instances, each running btkit prep --out=`);
    expect(shown.stderr).toContain(`[SUBMIT_PROCESSING_STOPPED]: processing job ${name} was stopped: rerun the prep|join --processing command with --new to run it again`);
    // stop on a stopped job: nothing to do
    const stopped = await runPrinted(command!.replace("btkit status", "btkit stop"), { PATH: process.env.PATH });
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain(`processing job ${name} is already Stopped: nothing to stop`);
    // --local without the state folder is refused, naming --state (given above)
    const noState = await runCli(["status", "--processing-job", name!, "--local"], { env: {}, cwd: dir });
    expect(noState.code).toBe(2);
    expect(noState.stderr).toContain(`status --processing-job ${name} --local needs --state DIR: the emulator state folder the job ran on`);
    // the way out: the same command with --new (instances running btkit this time)
    const again = await runCli([...argv, "--new"], { env: { PATH: process.env.PATH }, cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(parseDescriptor(again.stdout.trim(), "stdout").source.rowsWritten).toBe(FILES * ROWS);
  }, 120_000);

  it("on AWS (a standalone emulator): detached, the job goes on; btkit status and btkit stop --processing-job NAME as printed show and stop it", async () => {
    const emu = await startEmulator({ env: { ...process.env, ...s3().env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }, processingCommands: { btkit: ["sh", "-c", "echo sleeping; sleep 60"] } });
    try {
      const env = { ...s3().env, AWS_ENDPOINT_URL_SAGEMAKER: emu.endpoint, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: emu.endpoint };
      const r = await launchAndInterrupt(["prep", "s3://proc-bucket/raw/", "--out", "s3://proc-bucket/int-aws/", "--processing", "--role", "arn:aws:iam::123456789012:role/btkit", "--image", "btkit:test", "--poll-seconds", "0.1"], env);
      expect(r.code, r.stderr).toBe(130);
      const m = /detached from processing job (btkit-prep-[0-9a-f]{16}), which goes on\. Reattach: rerun the same command \(it attaches, and combines the parts when the job ends\)\. See it: (btkit status --processing-job \1)\. Stop it: (btkit stop --processing-job \1)/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      const [, name, see, stop] = m!;
      const shown = await runPrinted(see!, env);
      expect(shown.status, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout).processingJob).toMatchObject({ name, status: "InProgress", backend: "emulator", endpoint: emu.endpoint, instanceCount: 2 });
      const stopped = await runPrinted(stop!, env);
      expect(stopped.status, stopped.stderr).toBe(0);
      expect(stopped.stderr).toContain(`stopping processing job ${name}`);
      let last: Ran;
      do {
        last = await runPrinted(see!, env);
      } while (last.status === 0 && JSON.parse(last.stdout).processingJob.status === "Stopping");
      expect(last.status, last.stderr).toBe(4);
      expect(JSON.parse(last.stdout).processingJob.status).toBe("Stopped");
    } finally {
      await emu.close();
    }
  }, 120_000);
});
