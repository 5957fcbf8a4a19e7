import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DescribeLogStreamsCommand, FilterLogEventsCommand, GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CreateModelCommand, CreateTransformJobCommand, DescribeModelCommand, DescribeTransformJobCommand } from "@aws-sdk/client-sagemaker";
import { LOG_GROUP, RESTART_REASON, startEmulator, startExampleModel, type RunningEmulator } from "../../src/emulator/index.js";
import { tempDir } from "../helpers/tmp.js";
import { runCli } from "../helpers/cli.js";
import { clients, readOut, runJob, waitJob, writeFiles } from "./helpers.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** the example model as a real process: btkit example-model (the emulator appends serve) */
const EXAMPLE = `local-cmd:${process.execPath} --import tsx ${path.join(ROOT, "bin/btkit.ts")} example-model`;

let dir: string;
let cleanup: () => Promise<void>;
let emu: RunningEmulator;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  emu = await startEmulator({ env: { ...process.env, SAGEMAKER_LEAK: "from-parent" }, cwd: ROOT, pingIntervalMs: 50, healthTimeoutMs: 60_000 });
});
afterAll(async () => {
  await emu.close();
  await cleanup();
});

describe("model processes", () => {
  it("runs one process per instance, each object on exactly one, with SAGEMAKER_* only where set (rules 1, 10, 11, 22)", async () => {
    const { sm, logs } = clients(emu.endpoint);
    const inUri = await writeFiles(`${dir}/in`, { "a.jsonl": '{"x":1}\n', "b.jsonl": '{"x":2}\n', "c.jsonl": '{"x":3}\n', "d.jsonl": '{"x":4}\n' });
    const d = await runJob(
      sm,
      EXAMPLE,
      {
        inUri,
        outUri: `file://${dir}/out`,
        MaxPayloadInMB: 2,
        Environment: { JOB_VAR: "j", MODEL_VAR: "job-wins" },
        TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "application/jsonlines", SplitType: "Line" },
        TransformOutput: { S3OutputPath: `file://${dir}/out`, Accept: "application/jsonlines" },
        TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 2 },
      },
      { BTKIT_EXAMPLE_ECHO_ENV: "1", MODEL_VAR: "m", SAGEMAKER_PROGRAM: "from-model" },
    );
    expect(d.FailureReason).toBeUndefined();
    expect(d.TransformJobStatus).toBe("Completed");
    const out = await readOut(`${dir}/out`);
    expect(Object.keys(out).sort()).toEqual(["a.jsonl.out", "b.jsonl.out", "c.jsonl.out", "d.jsonl.out"]);
    const rec = JSON.parse(out["c.jsonl.out"]!) as { score: number; env: Record<string, string> };
    expect(rec.score).toBe(3);
    // SAGEMAKER_BATCH always; MAX_PAYLOAD because the request set it; no strategy/concurrency; nothing from the parent
    expect(rec.env).toEqual({ SAGEMAKER_BATCH: "true", SAGEMAKER_MAX_PAYLOAD_IN_MB: "2", SAGEMAKER_PROGRAM: "from-model" });
    const streams = (await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${d.TransformJobName}/` }))).logStreams!.map((s) => s.logStreamName!);
    const dataLogs = streams.filter((s) => s.endsWith("/data-log"));
    expect(dataLogs).toHaveLength(2);
    const containers = streams.filter((s) => !s.endsWith("/data-log"));
    expect(containers).toHaveLength(2);
    const seen: string[] = [];
    for (const s of dataLogs) {
      const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: s, startFromHead: true }));
      for (const e of ev.events!) {
        const m = /([a-d])\.jsonl: completed/.exec(e.message!);
        if (m) seen.push(m[1]!);
      }
    }
    expect(seen.sort()).toEqual(["a", "b", "c", "d"]);
    const c0 = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: containers[0], startFromHead: true }));
    expect(c0.events!.some((e) => e.message!.includes("btkit example-model: serving at http://127.0.0.1:"))).toBe(true);
  });

  it("fails the job when the model never becomes healthy", async () => {
    const local = await startEmulator({ env: {}, pingIntervalMs: 50, healthTimeoutMs: 1500 });
    const model = await startExampleModel({ port: 0, env: { BTKIT_EXAMPLE_UNHEALTHY: "1" } });
    try {
      const { sm } = clients(local.endpoint);
      const inUri = await writeFiles(`${dir}/in-u`, { "a.csv": "1\n" });
      const d = await runJob(sm, `local-url:${model.url}`, { inUri, outUri: `file://${dir}/out-u` });
      expect(d.TransformJobStatus).toBe("Failed");
      expect(d.FailureReason).toMatch(/did not become healthy within 2 s \(GET \/ping answered 503\); 1 of 1 input objects were not processed/);
    } finally {
      await model.close();
      await local.close();
    }
  });
});

/** Every event of a job's streams, stream by stream, as GetLogEvents returns them, and FilterLogEvents over the job's prefix. */
async function jobLogs(logs: CloudWatchLogsClient, job: string): Promise<{ streams: Record<string, Array<{ timestamp?: number; message?: string }>>; filtered: Array<{ logStreamName?: string; message?: string; timestamp?: number }> }> {
  const streams: Record<string, Array<{ timestamp?: number; message?: string }>> = {};
  const described = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${job}/` }));
  for (const s of described.logStreams!) {
    const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: s.logStreamName, startFromHead: true }));
    streams[s.logStreamName!] = ev.events!.map((e) => ({ timestamp: e.timestamp, message: e.message }));
  }
  const f = await logs.send(new FilterLogEventsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${job}/` }));
  return { streams, filtered: f.events!.map((e) => ({ logStreamName: e.logStreamName, message: e.message, timestamp: e.timestamp })) };
}

describe("state", () => {
  it("keeps models and jobs across a restart; a running job is then Failed", async () => {
    const stateDir = `${dir}/state`;
    const inUri = await writeFiles(`${dir}/in-s`, { "a.csv": "1\n" });
    const first = await startEmulator({ env: {}, stateDir });
    let c = clients(first.endpoint);
    await c.sm.send(new CreateModelCommand({ ModelName: "never-healthy", PrimaryContainer: { Image: "local-cmd:sleep 30 #" } }));
    const done = await runJob(c.sm, "unknown/image:1", { inUri, outUri: `file://${dir}/out-s` });
    expect(done.TransformJobStatus).toBe("Failed");
    await c.sm.send(new CreateTransformJobCommand({
      TransformJobName: "running-at-restart",
      ModelName: "never-healthy",
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } } },
      TransformOutput: { S3OutputPath: `file://${dir}/out-s` },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
    }));
    expect((await c.sm.send(new DescribeTransformJobCommand({ TransformJobName: "running-at-restart" }))).TransformJobStatus).toBe("InProgress");
    await first.close();

    const second = await startEmulator({ env: {}, stateDir });
    c = clients(second.endpoint);
    try {
      expect((await c.sm.send(new DescribeModelCommand({ ModelName: "never-healthy" }))).PrimaryContainer?.Image).toBe("local-cmd:sleep 30 #");
      const r = await waitJob(c.sm, "running-at-restart");
      expect(r).toMatchObject({ TransformJobStatus: "Failed", FailureReason: RESTART_REASON });
      const again = await c.sm.send(new DescribeTransformJobCommand({ TransformJobName: done.TransformJobName }));
      expect(again.TransformJobStatus).toBe("Failed");
      expect(again.FailureReason).toBe(done.FailureReason);
    } finally {
      await second.close();
    }
  });

  it("keeps the log streams across a restart; a job the restart ended says so in its log", async () => {
    const stateDir = `${dir}/state-logs`;
    const inUri = await writeFiles(`${dir}/in-l`, { "a.csv": "1\n", "b.csv": "2\n" });
    const model = await startExampleModel({ port: 0, env: {} });
    const first = await startEmulator({ env: {}, stateDir, pingIntervalMs: 20 });
    let c = clients(first.endpoint);
    let done;
    try {
      done = await runJob(c.sm, `local-url:${model.url}`, { inUri, outUri: `file://${dir}/out-l` });
    } finally {
      await model.close();
    }
    expect(done.TransformJobStatus).toBe("Completed");
    const before = await jobLogs(c.logs, done.TransformJobName!);
    expect(Object.keys(before.streams)).toHaveLength(1);
    expect(Object.values(before.streams)[0]!.map((e) => e.message)).toEqual([
      "[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD",
      `[sagemaker logs]: ${dir}/in-l/a.csv: completed, 1 records in 1 requests`,
      `[sagemaker logs]: ${dir}/in-l/b.csv: completed, 1 records in 1 requests`,
    ]);
    await c.sm.send(new CreateModelCommand({ ModelName: "never-healthy", PrimaryContainer: { Image: "local-cmd:sleep 30 #" } }));
    await c.sm.send(new CreateTransformJobCommand({
      TransformJobName: "interrupted",
      ModelName: "never-healthy",
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } } },
      TransformOutput: { S3OutputPath: `file://${dir}/out-l2` },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
    }));
    await first.close();

    const second = await startEmulator({ env: {}, stateDir });
    c = clients(second.endpoint);
    try {
      expect(await jobLogs(c.logs, done.TransformJobName!)).toEqual(before);
      expect(await waitJob(c.sm, "interrupted")).toMatchObject({ TransformJobStatus: "Failed", FailureReason: RESTART_REASON });
      const notes = await jobLogs(c.logs, "interrupted");
      expect(Object.keys(notes.streams)).toEqual(["interrupted/emulator"]);
      expect(notes.streams["interrupted/emulator"]!.map((e) => e.message)).toEqual([
        `[btkit emulator]: the emulator was closed while the job was running; its instances are stopped and the next emulator on the state folder ${stateDir} reports it Failed (FailureReason: ${RESTART_REASON})`,
        `[btkit emulator]: the emulator restarted while the job was running: the job is Failed (FailureReason: ${RESTART_REASON})`,
      ]);
    } finally {
      await second.close();
    }

    // an append cut short by a crash (a last line without its newline) is dropped on the next start
    const file = path.join(stateDir, "logs", `${encodeURIComponent(Object.keys(before.streams)[0]!)}.jsonl`);
    const whole = await fs.readFile(file, "utf8");
    await fs.appendFile(file, '{"timestamp":1,"mess');
    const third = await startEmulator({ env: {}, stateDir });
    try {
      expect(await jobLogs(clients(third.endpoint).logs, done.TransformJobName!)).toEqual(before);
      expect(await fs.readFile(file, "utf8")).toBe(whole);
    } finally {
      await third.close();
    }
  });
});

describe("CLI", () => {
  it("documents the image schemes in btkit emulator --help", async () => {
    const r = await runCli(["emulator", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("local-cmd:<command>");
    expect(r.stdout).toContain("local-url:<http://h:p>");
    expect(r.stdout).toContain("--image-map");
  });

  it("btkit emulator prints its endpoint and serves until aborted", async () => {
    const { PassThrough, Readable } = await import("node:stream");
    const { main } = await import("../../src/cli/main.js");
    const stdout = new PassThrough();
    const ac = new AbortController();
    const firstLine = new Promise<string>((resolve) => stdout.once("data", (c: Buffer) => resolve(c.toString("utf8"))));
    const run = main(["emulator", "--port", "0", "--image-map", "my/image:1=true"], { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: {}, signal: ac.signal });
    const endpoint = (await firstLine).trim();
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { sm } = clients(endpoint);
    await sm.send(new CreateModelCommand({ ModelName: "cli-model", PrimaryContainer: { Image: "my/image:1" } }));
    expect((await sm.send(new DescribeModelCommand({ ModelName: "cli-model" }))).ModelName).toBe("cli-model");
    ac.abort();
    expect(await run).toBe(0);
  });

  it("rejects a malformed --image-map", async () => {
    const r = await runCli(["emulator", "--image-map", "nocommand"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--image-map expects URI=COMMAND");
  });
});
