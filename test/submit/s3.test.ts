/**
 * The S3 path: shards, manifest and output on a real S3-compatible server (s3rver), the job on the
 * in-process emulator (--local, state in a local folder), the waiter counting .out objects by
 * listing S3, and --retry-failed writing its manifest to S3.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { DEFAULT_DEPS } from "../../src/cli/job-prologue.js";
import { startExampleModel, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor, serializeDescriptor } from "../../src/protocol/descriptor.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";
import { copyToS3, writeTestDescriptor } from "./descriptor.js";
import { runJobCli } from "./run.js";
import { runCli } from "../helpers/cli.js";
import { duckRows, sqlString } from "../join/duck.js";

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
    for await (const o of storage.list(`s3://bt-bucket/run1/output/${failed.job!.name}/`)) if (o.relative.endsWith(".out")) names.push(o.relative);
    return names.sort();
  };
  expect(await listed()).toEqual(["part-00000.csv.out", "part-00002.csv.out"]);

  await model.close();
  model = await startExampleModel({ port, env: {} });
  const retry = await runJobCli(DEFAULT_DEPS, ["submit", "--retry-failed", "--state", state, "--poll-seconds", "0.05"], { stdin: r.stdout, env: s3.env });
  expect(retry.code).toBe(0);
  expect(retry.stderr).toMatch(/1\/1 \.out file Completed/);
  expect(JSON.parse(await storage.readText("s3://bt-bucket/run1/manifest-retry-1.json"))).toEqual([{ prefix: "s3://bt-bucket/run1/shards/" }, "part-00001.csv"]);
  expect(await listed()).toEqual(["part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
  expect(parseDescriptor(retry.stdout).job!.history!.map((h) => h.status)).toEqual(["Failed"]);
});

it("on S3, prep | submit | join: every row joined (read back by DuckDB); an .out rewritten after its job ended is refused, and left out with --allow-missing", async () => {
  await fs.writeFile(path.join(dir, "data.csv"), `id,x\n${Array.from({ length: 12 }, (_, i) => `${i},${i * 3}`).join("\n")}\n`);
  const p = await runCli(["prep", path.join(dir, "data.csv"), "--out", "s3://bt-bucket/run2/", "--shard-rows", "4", "--features", "x"], { env: s3.env });
  expect(p.code, p.stderr).toBe(0);
  model ??= await startExampleModel({ port: 0, env: {} });
  const r = await runJobCli(DEFAULT_DEPS, ["submit", "--state", path.join(dir, "state2"), "--model-url", model.url, "--poll-seconds", "0.05"], { stdin: p.stdout, env: s3.env });
  expect(r.code, r.stderr).toBe(0);
  const job = parseDescriptor(r.stdout).job!;

  const joined = path.join(dir, "run2.parquet");
  const j = await runCli(["join", "--out", joined], { stdin: r.stdout, env: s3.env });
  expect(j.code, j.stderr).toBe(0);
  const rows = await duckRows(`SELECT id, x, prediction FROM read_parquet(${sqlString(joined)}) ORDER BY id`);
  expect(rows.map((row) => [Number(row.id), Number(row.x), Number(row.prediction)])).toEqual(Array.from({ length: 12 }, (_, i) => [i, i * 3, i * 3]));

  // the job's descriptor is stored beside its output: the preparation's prefix finds it (status, join)
  expect(parseDescriptor(await s3.storage().readText(`${job.outputLocation}/btkit.json`))).toEqual(parseDescriptor(r.stdout));
  const status = await runJobCli(DEFAULT_DEPS, ["status", "--descriptor", "s3://bt-bucket/run2/"], { env: { ...s3.env, AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "btkit-none" } });
  expect(status.stderr).toContain(`status: s3://bt-bucket/run2/btkit.json has no job section: using the latest job's descriptor, ${job.outputLocation}/btkit.json (job ${job.name}, Completed, created ${job.createdAt})`);
  expect(status.code).toBe(0);
  expect(parseDescriptor(status.stdout).job).toMatchObject({ name: job.name, status: "Completed" });
  const byPrefix = await runCli(["join", "--descriptor", "s3://bt-bucket/run2", "--out", "-", "--format", "csv"], { env: s3.env });
  expect(byPrefix.code, byPrefix.stderr).toBe(0);
  expect(byPrefix.stdout.trimEnd().split("\n")).toHaveLength(13);

  // S3 LastModified has whole seconds: wait past the second the job ended in, then rewrite an .out
  await new Promise((done) => setTimeout(done, Math.max(0, Date.parse(job.endedAt!) + 1100 - Date.now())));
  await s3.storage().write(`${job.outputLocation}/part-00001.csv.out`, "0\n0\n0\n0\n");
  const refused = await runCli(["join", "--out", path.join(dir, "run2b.parquet")], { stdin: r.stdout, env: s3.env });
  expect(refused.code).toBe(EXIT.data);
  expect(refused.stderr).toContain("JOIN_PROVENANCE");
  expect(refused.stderr).toContain("part-00001.csv.out");
  const partial = await runCli(["join", "--out", path.join(dir, "run2c.parquet"), "--allow-missing"], { stdin: r.stdout, env: s3.env });
  expect(partial.code, partial.stderr).toBe(0);
  expect(parseDescriptor(partial.stdout).results!.missing).toEqual(["part-00001.csv"]);
  const kept = await duckRows(`SELECT id FROM read_parquet(${sqlString(path.join(dir, "run2c.parquet"))}) ORDER BY id`);
  expect(kept.map((row) => Number(row.id))).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
});
