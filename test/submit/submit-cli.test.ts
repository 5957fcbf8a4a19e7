import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pathToFileURL } from "node:url";
import { DEFAULT_DEPS } from "../../src/cli/job-prologue.js";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor, serializeDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { tempDir } from "../helpers/tmp.js";
import { writeTestDescriptor } from "./descriptor.js";
import { FakeSageMaker } from "./fake-sagemaker.js";
import { fakeDeps, runJobCli } from "./run.js";

let dir: string;
let cleanup: () => Promise<void>;
let d: Descriptor;
let fake: FakeSageMaker;
const FAST = ["--poll-seconds", "0.01"];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-submit-cli-"));
  d = await writeTestDescriptor(dir, { shards: 3 });
  fake = new FakeSageMaker();
  fake.models.set("m", { ModelName: "m", PrimaryContainer: { Image: "img" } });
});
afterEach(() => cleanup());

const submit = (args: string[], stdin = serializeDescriptor(d), signal?: AbortSignal) => runJobCli(fakeDeps(fake), ["submit", "--model", "m", ...args], { stdin, signal });

describe("btkit submit", () => {
  it("launches once and prints the descriptor with its job", async () => {
    const r = await submit([]);
    expect(r.code).toBe(0);
    const out = parseDescriptor(r.stdout);
    expect(out.job).toMatchObject({ backend: "emulator", status: "InProgress", accept: "text/csv", assembleWith: "Line" });
    expect(out.job!.name).toMatch(/^btkit-[0-9a-f]{16}$/);
    expect(out.job!.request).toMatchObject({ ModelName: "m", TransformJobName: out.job!.name });
    expect(r.stderr).toContain(`launched job ${out.job!.name}`);
    expect(fake.calls.filter((c) => c === "CreateTransformJob")).toHaveLength(1);
  });

  it("a rerun attaches to the job instead of launching a second one; --new launches another", async () => {
    const first = parseDescriptor((await submit([])).stdout);
    const again = await submit([]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`attached to existing job ${first.job!.name}`);
    expect(parseDescriptor(again.stdout).job!.name).toBe(first.job!.name);
    // piping the submitted descriptor back in attaches too
    expect(parseDescriptor((await submit([], again.stdout)).stdout).job!.name).toBe(first.job!.name);
    expect(fake.jobs.size).toBe(1);
    const fresh = parseDescriptor((await submit(["--new"], again.stdout)).stdout);
    expect(fresh.job!.name).not.toBe(first.job!.name);
    expect(fake.jobs.size).toBe(2);
    // the earlier job of the same data stays on record
    expect(fresh.job!.history!.map((h) => h.name)).toEqual([first.job!.name]);
  });

  it("refuses a job of that name with another request", async () => {
    await submit(["--name", "fixed-name"]);
    const r = await submit(["--name", "fixed-name", "--instance-count", "2"]);
    expect(r.code).toBe(EXIT.conflict);
    expect(r.stderr).toContain("SUBMIT_JOB_CONFLICT");
    expect(r.stderr).toContain("TransformResources.InstanceCount: job has 1, request has 2");
    expect(r.stdout).toBe("");
  });

  it("checks constraints before any call", async () => {
    const r = await submit(["--max-payload-mb", "50", "--concurrency", "3"]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain("SUBMIT_INVALID_REQUEST");
    expect(r.stderr).toContain("field=MaxConcurrentTransforms");
    expect(fake.calls).toEqual([]);
  });

  /** The same preparation as if written to s3://bucket/p/ (AWS takes s3:// locations only). */
  const onS3 = (x: Descriptor): Descriptor => {
    const root = x.manifest.location.replace(/manifest\.json$/, "");
    const move = (u: string) => `s3://bucket/p/${u.slice(root.length)}`;
    return { ...x, manifest: { location: move(x.manifest.location), prefix: move(x.manifest.prefix) }, shards: x.shards.map((s) => ({ ...s, location: move(s.location), sidecar: move(s.sidecar) })) };
  };

  it("--dry-run prints the request and calls nothing, with an estimate", async () => {
    const r = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--dry-run", "--instance-count", "2", "--instance-type", "ml.m5.xlarge", "--expected-seconds-per-shard", "600", "--output", "s3://bucket/out"], { stdin: serializeDescriptor(onS3(d)) });
    expect(r.code).toBe(0);
    const req = JSON.parse(r.stdout);
    expect(req).toMatchObject({ ModelName: "m", TransformResources: { InstanceCount: 2, InstanceType: "ml.m5.xlarge" } });
    // 3 shards on 2 instances: the busier takes 2 x 600 s, both billed: 2400 instance-seconds at 0.23/h
    expect(r.stderr).toContain("estimate: 2400 instance-seconds x 0.23 USD/hour = 0.1533 USD");
    expect(fake.calls).toEqual([]);
  });

  it("--output takes a local folder with --local (as a file:// URI), and says why not without it", async () => {
    const out = path.join(dir, "elsewhere");
    // with AWS a local folder is refused: SageMaker writes to S3 only
    const aws = await runJobCli(fakeDeps(fake, "sagemaker"), ["submit", "--model", "m", "--output", out], { stdin: serializeDescriptor(onS3(d)) });
    expect(aws.code).toBe(EXIT.usage);
    expect(aws.stderr).toContain(`error [USAGE_BAD_VALUE]: --output ${out} is a local path, but SageMaker writes a job's output to S3 only: give an s3:// URI, or run the job on the emulator with --local`);
    expect(aws.stdout).toBe("");
    expect(fake.calls).toEqual([]);
    const dry = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--dry-run", "--output", out], { stdin: serializeDescriptor(d) });
    expect(dry.code).toBe(EXIT.usage);
    expect(dry.stderr).toContain("or run the job on the emulator with --local");
    // the same with --local: a file:// S3OutputPath
    const local = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--dry-run", "--local", "--output", out], { stdin: serializeDescriptor(d) });
    expect(local.code).toBe(0);
    expect(JSON.parse(local.stdout).TransformOutput.S3OutputPath).toBe(pathToFileURL(out).href);
    // a file:// URI and an s3:// URI as given
    const uri = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--dry-run", "--local", "--output", `${pathToFileURL(out).href}/`], { stdin: serializeDescriptor(d) });
    expect(JSON.parse(uri.stdout).TransformOutput.S3OutputPath).toBe(pathToFileURL(out).href);
    const s3 = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--dry-run", "--output", "s3://bucket/o/"], { stdin: serializeDescriptor(onS3(d)) });
    expect(JSON.parse(s3.stdout).TransformOutput.S3OutputPath).toBe("s3://bucket/o");
    // --model-data alike
    const md = await runJobCli(fakeDeps(fake, "sagemaker"), ["submit", "--model", "x", "--image", "img:1", "--model-data", "model.tar.gz"], { stdin: serializeDescriptor(onS3(d)) });
    expect(md.code).toBe(EXIT.usage);
    expect(md.stderr).toContain("--model-data model.tar.gz is a local path, but SageMaker reads model data from S3 only");
    expect(fake.calls).toEqual([]);
    // the same with --local: the emulator gets it as a file:// URI
    const mdLocal = await runJobCli(fakeDeps(fake), ["submit", "--local", "--model", "x", "--image", "img:1", "--model-data", path.join(dir, "model.tar.gz")], { stdin: serializeDescriptor(d) });
    expect(mdLocal.code, mdLocal.stderr).toBe(0);
    expect(fake.models.get("x")).toMatchObject({ PrimaryContainer: { Image: "img:1", ModelDataUrl: pathToFileURL(path.join(dir, "model.tar.gz")).href } });
  });

  it("--state takes a local folder or file:// URI; an s3:// one says why not", async () => {
    const r = await runJobCli(DEFAULT_DEPS, ["status", "--state", "s3://bucket/state"], { stdin: serializeDescriptor({ ...d, job: { backend: "emulator", name: "j", arn: "a", request: {}, outputLocation: "s3://bucket/o", accept: "text/csv", assembleWith: "Line", status: "Completed" } }) });
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain("error [USAGE_BAD_VALUE]: --state s3://bucket/state: the emulator keeps its models and jobs in a local folder; give a local path or a file:// URI");
  });

  it("creates the model when missing and refuses one with other settings", async () => {
    const r = await runJobCli(fakeDeps(fake), ["submit", "--model", "new-model", "--image", "img:1", "--model-data", "s3://b/model.tar.gz", "--role", "arn:aws:iam::1:role/r"], { stdin: serializeDescriptor(d) });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("created model new-model");
    expect(fake.models.get("new-model")).toMatchObject({ PrimaryContainer: { Image: "img:1", ModelDataUrl: "s3://b/model.tar.gz" }, ExecutionRoleArn: "arn:aws:iam::1:role/r" });
    const again = await runJobCli(fakeDeps(fake), ["submit", "--model", "new-model", "--image", "img:1", "--model-data", "s3://b/model.tar.gz", "--role", "arn:aws:iam::1:role/r"], { stdin: serializeDescriptor(d) });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("model new-model exists with the same settings");
    const clash = await runJobCli(fakeDeps(fake), ["submit", "--model", "new-model", "--image", "img:2", "--model-data", "s3://b/model.tar.gz", "--role", "arn:aws:iam::1:role/r"], { stdin: serializeDescriptor(d) });
    expect(clash.code).toBe(EXIT.conflict);
    expect(clash.stderr).toContain("SUBMIT_MODEL_CONFLICT");
    expect(clash.stderr).toContain('image "img:1" (want "img:2")');
  });
});

describe("the job's descriptor, stored beside its output", () => {
  it("submit stores it; status and stop given the preparation's folder (or its descriptor) act on the latest job, named on stderr", async () => {
    fake.plan = { ending: "never", finishAfter: 0 };
    await fs.writeFile(path.join(dir, "btkit.json"), serializeDescriptor(d));
    const a = parseDescriptor((await submit([])).stdout);
    const stored = (job: string) => path.join(dir, "output", job, "btkit.json");
    expect(parseDescriptor(await fs.readFile(stored(a.job!.name), "utf8"))).toEqual(a);
    await new Promise((r) => setTimeout(r, 5));
    const b = parseDescriptor((await submit(["--new"])).stdout);
    expect(b.job!.name).not.toBe(a.job!.name);
    expect(parseDescriptor(await fs.readFile(stored(b.job!.name), "utf8"))).toEqual(b);

    const s = await runJobCli(fakeDeps(fake), ["status", "--descriptor", dir]);
    expect(s.code).toBe(0);
    expect(s.stderr).toContain(`status: ${path.join(dir, "btkit.json")} has no job section: using the latest job's descriptor, ${stored(b.job!.name)} (job ${b.job!.name}, InProgress, created ${b.job!.createdAt}; 2 jobs found under ${path.join(dir, "output")}/)`);
    expect(parseDescriptor(s.stdout).job!.name).toBe(b.job!.name);
    // the same from the preparation's descriptor on stdin
    const piped = await runJobCli(fakeDeps(fake), ["status"], { stdin: serializeDescriptor(d) });
    expect(piped.stderr).toContain(`status: the descriptor on stdin has no job section: using the latest job's descriptor, ${stored(b.job!.name)}`);
    expect(parseDescriptor(piped.stdout).job!.name).toBe(b.job!.name);

    const stop = await runJobCli(fakeDeps(fake), ["stop", "--descriptor", path.join(dir, "btkit.json")]);
    expect(stop.code).toBe(0);
    expect(stop.stderr).toContain(`stop: ${path.join(dir, "btkit.json")} has no job section: using the latest job's descriptor, ${stored(b.job!.name)}`);
    expect(fake.jobs.get(b.job!.name)!.status).toBe("Stopped");
    expect(fake.jobs.get(a.job!.name)!.status).toBe("InProgress");
    // the stored descriptor follows what stop saw
    expect(parseDescriptor(await fs.readFile(stored(b.job!.name), "utf8")).job!.status).toBe("Stopped");
  });

  it("none stored: SUBMIT_NO_JOB says where btkit looked; a job given --output elsewhere is found with --descriptor there", async () => {
    fake.plan = { ending: "never", finishAfter: 0 };
    await fs.writeFile(path.join(dir, "btkit.json"), serializeDescriptor(d));
    const none = await runJobCli(fakeDeps(fake), ["status", "--descriptor", dir]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain(`error [SUBMIT_NO_JOB]: no job to show: ${path.join(dir, "btkit.json")} is a preparation's (no job section), and no job's descriptor for it is stored under ${path.join(dir, "output")}/ (btkit submit stores one beside each job's output). Run btkit submit first; a job given --output elsewhere stored its descriptor there (<output>/btkit.json): pass that with --descriptor`);
    const elsewhere = path.join(dir, "elsewhere");
    const r = await submit(["--output", elsewhere]);
    expect(r.code).toBe(0);
    expect((await runJobCli(fakeDeps(fake), ["status", "--descriptor", dir])).stderr).toContain("SUBMIT_NO_JOB");
    const there = await runJobCli(fakeDeps(fake), ["status", "--descriptor", elsewhere]);
    expect(there.code).toBe(0);
    expect(parseDescriptor(there.stdout).job!.name).toBe(parseDescriptor(r.stdout).job!.name);
    const stop = await runJobCli(fakeDeps(fake), ["stop", "--descriptor", path.join(elsewhere, "btkit.json")]);
    expect(stop.code).toBe(0);
    expect(parseDescriptor(stop.stdout).job!.status).toBe("Stopped");
  });

  it("a retry job's descriptor is not replaced by the job it retried", async () => {
    fake.plan = { ending: "Failed", finishAfter: 1, failShards: ["part-00001.csv"] };
    const failed = await submit(["--wait", ...FAST]);
    const name = parseDescriptor(failed.stdout).job!.name;
    fake.plan = { ending: "Completed", finishAfter: 0 };
    const retry = await submit(["--retry-failed", "--wait", ...FAST], failed.stdout);
    expect(retry.code).toBe(0);
    const where = path.join(dir, "output", name, "btkit.json");
    expect(parseDescriptor(await fs.readFile(where, "utf8")).job!.history!.map((h) => h.name)).toEqual([name]);
    // status of the retried job's descriptor leaves the retry's in place
    const s = await runJobCli(fakeDeps(fake), ["status"], { stdin: failed.stdout });
    expect(s.code).toBe(EXIT.jobFailed);
    expect(parseDescriptor(await fs.readFile(where, "utf8"))).toEqual(parseDescriptor(retry.stdout));
  });
});

describe("waiting", () => {
  it("Completed: progress lines, logs, final times and instance-seconds, exit 0", async () => {
    fake.plan = { ending: "Completed", finishAfter: 2 };
    const r = await submit(["--wait", "--logs", "--price-per-hour", "3.6", ...FAST]);
    expect(r.code).toBe(0);
    const out = parseDescriptor(r.stdout);
    expect(out.job).toMatchObject({ status: "Completed", instanceSeconds: 10 });
    // the fake service starts a job 1 s after creating it and ends it 10 s later (instanceSeconds 10 on 1 instance)
    const created = fake.jobs.get(out.job!.name)!.created.getTime();
    expect(out.job).toMatchObject({ createdAt: new Date(created).toISOString(), startedAt: new Date(created + 1000).toISOString(), endedAt: new Date(created + 11_000).toISOString() });
    expect(r.stderr).toMatch(/job btkit-[0-9a-f]+: 0\/3 \.out files InProgress/);
    expect(r.stderr).toMatch(/3\/3 \.out files Completed/);
    expect(r.stderr).toContain("/i-0] processed 3 files");
    expect(r.stderr).toContain("10 instance-seconds x 3.6 USD/hour = 0.0100 USD (--price-per-hour)");
  });

  it("Failed: prints FailureReason, exit 3, and the descriptor for --retry-failed", async () => {
    fake.plan = { ending: "Failed", finishAfter: 1, failShards: ["part-00001.csv"] };
    const r = await submit(["--wait", ...FAST]);
    expect(r.code).toBe(EXIT.jobFailed);
    expect(r.stderr).toContain("SUBMIT_JOB_FAILED");
    expect(r.stderr).toContain("ClientError: See job logs for more information (part-00001.csv)");
    const failed = parseDescriptor(r.stdout);
    expect(failed.job!.status).toBe("Failed");

    fake.plan = { ending: "Completed", finishAfter: 0 };
    const retry = await submit(["--retry-failed", "--wait", ...FAST], r.stdout);
    expect(retry.code).toBe(0);
    const out = parseDescriptor(retry.stdout);
    expect(out.job!.shards).toEqual(["part-00001.csv"]);
    expect(out.job!.history).toHaveLength(1);
    expect(out.job!.history![0]!.name).toBe(failed.job!.name);
    expect(out.job!.outputLocation).toBe(failed.job!.outputLocation);
    const manifest = JSON.parse(await fs.readFile(path.join(dir, "manifest-retry-1.json"), "utf8"));
    expect(manifest).toEqual([{ prefix: d.manifest.prefix }, "part-00001.csv"]);
    expect((await fs.readdir(path.join(dir, "output", failed.job!.name))).sort()).toEqual(["btkit.json", "part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
    expect(await fs.readFile(path.join(dir, "output", failed.job!.name, "part-00001.csv.out"), "utf8")).toBe((await fs.readFile(path.join(dir, "shards", "part-00001.csv"), "utf8")).toUpperCase());
    // nothing missing any more: a second retry launches nothing
    const none = await submit(["--retry-failed"], retry.stdout);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain("nothing to retry");
    expect(fake.jobs.size).toBe(2);
  });

  it("Failed: the message names the stored descriptor for --retry-failed, which works as written", async () => {
    fake.plan = { ending: "Failed", finishAfter: 1, failShards: ["part-00001.csv"] };
    const r = await submit(["--wait", ...FAST]);
    expect(r.code).toBe(EXIT.jobFailed);
    const name = parseDescriptor(r.stdout).job!.name;
    const stored = path.join(dir, "output", name, "btkit.json");
    expect(r.stderr).toContain(`failed: ClientError: See job logs for more information (part-00001.csv). Shards it finished keep their .out; once the cause is fixed, transform the others: btkit submit --retry-failed --descriptor ${stored} (model and instance flags may be given with it)`);
    fake.plan = { ending: "Completed", finishAfter: 0 };
    const retry = await runJobCli(fakeDeps(fake), ["submit", "--retry-failed", "--descriptor", stored, "--wait", ...FAST]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(parseDescriptor(retry.stdout).job).toMatchObject({ status: "Completed", shards: ["part-00001.csv"], history: [{ name, status: "Failed" }] });
  });

  it("a rerun that attaches to its failed job exits 3 saying --retry-failed or --new, and both work on the same input", async () => {
    fake.plan = { ending: "Failed", finishAfter: 1, failShards: ["part-00001.csv"] };
    const first = await submit(["--wait", ...FAST]);
    expect(first.code).toBe(EXIT.jobFailed);
    const name = parseDescriptor(first.stdout).job!.name;
    const again = await submit(["--wait", ...FAST]);
    expect(again.code).toBe(EXIT.jobFailed);
    expect(again.stderr).toContain(`attached to existing job ${name} (Failed); nothing launched`);
    expect(again.stderr).toContain(`error [SUBMIT_JOB_FAILED]: transform job ${name} failed: ClientError: See job logs for more information (part-00001.csv). It ran before with this request, and a rerun attaches to it instead of paying twice. Transform the shards it did not finish: rerun with --retry-failed (model and instance flags may be given with it); run every shard again as a fresh job: rerun with --new`);
    expect(fake.jobs.size).toBe(1);
    // --dry-run calls nothing, so it cannot ask which job the request names: the stored descriptor says
    const dry = await submit(["--retry-failed", "--dry-run", "--local"]);
    expect(dry.code).toBe(EXIT.usage);
    expect(dry.stderr).toContain("error [SUBMIT_NO_JOB]: --retry-failed --dry-run needs the job's descriptor");
    expect(dry.stderr).toContain("pass it with --descriptor");
    const dryStored = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--retry-failed", "--dry-run", "--local", "--descriptor", path.join(dir, "output", name, "btkit.json")]);
    expect(dryStored.code, dryStored.stderr).toBe(0);
    expect(JSON.parse(dryStored.stdout)).toMatchObject({ TransformOutput: { S3OutputPath: parseDescriptor(first.stdout).job!.outputLocation }, TransformInput: { DataSource: { S3DataSource: { S3Uri: `${d.manifest.location.replace(/manifest\.json$/, "")}manifest-retry-1.json` } } } });

    fake.plan = { ending: "Completed", finishAfter: 0 };
    // the same input (the preparation's descriptor) with --retry-failed: the shard the job did not finish
    const retry = await submit(["--retry-failed", "--wait", ...FAST]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).toContain(`--retry-failed: this request's job is ${name} (Failed); its descriptor: ${path.join(dir, "output", name, "btkit.json")}`);
    expect(parseDescriptor(retry.stdout).job).toMatchObject({ status: "Completed", shards: ["part-00001.csv"], history: [{ name, status: "Failed" }] });
    expect(fake.jobs.size).toBe(2);
    // and with --new: a fresh job of every shard
    const fresh = await submit(["--new", "--wait", ...FAST]);
    expect(fresh.code, fresh.stderr).toBe(0);
    const f = parseDescriptor(fresh.stdout).job!;
    expect(f.name).not.toBe(name);
    expect(f.shards).toBeUndefined();
    expect(f.status).toBe("Completed");
    // no job for a request that never ran
    const none = await submit(["--retry-failed", "--instance-type", "ml.m5.xlarge"]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toMatch(/error \[SUBMIT_NO_JOB\]: --retry-failed: no job ran for this request yet \(it would be btkit-[0-9a-f]{16}\): leave --retry-failed out to launch it/);
    const launched = await submit(["--instance-type", "ml.m5.xlarge"]);
    expect(launched.code).toBe(0);
    expect(launched.stderr).toContain("launched job");
    // nothing left to retry: a dry run says so and prints no request (nor a descriptor in its place)
    const nothing = await runJobCli(fakeDeps(fake), ["submit", "--retry-failed", "--dry-run", "--local", "--descriptor", path.join(dir, "output", name, "btkit.json")]);
    expect(nothing).toMatchObject({ code: 0, stdout: "" });
    expect(nothing.stderr).toContain(`every shard of job`);
  });

  it("draws a bar on a terminal", async () => {
    // submit's own Describe calls count: the job ends at the waiter's second poll
    fake.plan = { ending: "Completed", finishAfter: 3 };
    const r = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--wait", ...FAST], { stdin: serializeDescriptor(d), tty: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("\r\x1b[K[--------------------] job ");
    // eslint-disable-next-line no-control-regex -- ESC [K: the terminal clears the line
    expect(r.stderr).toMatch(/\r\x1b\[K\[#{20}\] job btkit-[0-9a-f]+: 3\/3 \.out files Completed/);
    // log lines start on a line of their own: the bar's line is cleared first
    const logged = await runJobCli(fakeDeps(fake), ["submit", "--model", "m", "--wait", "--logs", "--new", ...FAST], { stdin: serializeDescriptor(d), tty: true });
    expect(logged.code).toBe(0);
    // eslint-disable-next-line no-control-regex -- ESC [K: the terminal clears the line
    expect(logged.stderr).toMatch(/\.out files InProgress[^\n]*\r\x1b\[K\[[^\]]+\] processed 3 files\n/);
  });

  it("Stopped: exit 4", async () => {
    fake.plan = { ending: "Stopped", finishAfter: 1 };
    const r = await submit(["--wait", ...FAST]);
    expect(r.code).toBe(EXIT.jobStopped);
    expect(r.stderr).toContain("SUBMIT_JOB_STOPPED");
    expect(parseDescriptor(r.stdout).job!.status).toBe("Stopped");
  });

  it("timeout: exit 5, the job goes on, status --wait reattaches", async () => {
    fake.plan = { ending: "never", finishAfter: 0 };
    const r = await submit(["--wait", "--timeout", "0.05", ...FAST]);
    expect(r.code).toBe(EXIT.timeout);
    expect(r.stderr).toContain("SUBMIT_TIMEOUT");
    const out = parseDescriptor(r.stdout);
    expect(out.job!.status).toBe("InProgress");
    const name = out.job!.name;
    const s = await runJobCli(fakeDeps(fake), ["status"], { stdin: r.stdout });
    expect(s.code).toBe(0);
    expect(s.stderr).toContain(`job ${name}: InProgress`);
    fake.jobs.get(name)!.plan = { ending: "Completed", finishAfter: 0 };
    const w = await runJobCli(fakeDeps(fake), ["status", "--wait", ...FAST], { stdin: r.stdout });
    expect(w.code).toBe(0);
    expect(parseDescriptor(w.stdout).job!.status).toBe("Completed");
  });

  it("Ctrl-C detaches and says how to reattach; --stop-on-interrupt stops", async () => {
    fake.plan = { ending: "never", finishAfter: 0 };
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await submit(["--wait", "--poll-seconds", "0.02"], undefined, ac.signal);
    expect(r.code).toBe(EXIT.interrupted);
    expect(r.stderr).toContain("detached from job");
    const name = parseDescriptor(r.stdout).job!.name;
    expect(r.stderr).toContain(`reattach: btkit status --wait --descriptor ${path.join(dir, "output", name, "btkit.json")} (or rerun the same btkit submit: it attaches)`);
    expect(fake.jobs.get(name)!.status).toBe("InProgress");

    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 50);
    const s = await submit(["--wait", "--poll-seconds", "0.02", "--stop-on-interrupt"], undefined, ac2.signal);
    expect(s.code).toBe(EXIT.interrupted);
    expect(s.stderr).toContain(`stopping job ${name}`);
    expect(parseDescriptor(s.stdout).job!.status).toBe("Stopping");
    expect(fake.calls).toContain("StopTransformJob");
  });

  it("btkit stop stops the descriptor's job", async () => {
    fake.plan = { ending: "never", finishAfter: 0 };
    const r = await submit([]);
    const s = await runJobCli(fakeDeps(fake), ["stop"], { stdin: r.stdout });
    expect(s.code).toBe(0);
    expect(parseDescriptor(s.stdout).job!.status).toBe("Stopped");
    // the preparation's descriptor means its latest job, stopped already
    const again = await runJobCli(fakeDeps(fake), ["stop"], { stdin: serializeDescriptor(d) });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`is already Stopped: nothing to stop`);
  });
});
