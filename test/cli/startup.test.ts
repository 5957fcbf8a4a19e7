/**
 * What the CLI loads: `btkit --version` and every form of help load none of the heavy packages
 * (the AWS SDK, Arrow, Parquet, the streaming JSON parser), so that each stage of a pipe pays
 * little to start; a prep or join on local paths loads no AWS SDK (io/s3.ts imports it with the
 * first S3 call: about 22 MB of memory in every local run otherwise). They run as a user runs them
 * (dist/), with a loader hook recording every module the imports resolve to. How fast they start
 * is the bench's to measure (bench/run.mjs --tasks startup), not a test's.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { startS3 } from "../helpers/s3server.js";
import { run } from "../helpers/spawn.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const HEAVY = /\/node_modules\/(@aws-sdk|@smithy|apache-arrow|parquet-wasm|stream-json|stream-chain)\//;
const SDK = /\/node_modules\/(@aws-sdk|@smithy)\//;

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, cleanup } = await tempDir());
}, BUILD_TIMEOUT_MS);
afterAll(async () => cleanup?.());

/** Runs the built bin in `dir`; returns its exit status, its stderr and every module URL it loaded. */
async function recorded(argv: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stderr: string; urls: string[] }> {
  const record = path.join(dir, `imports-${n++}.txt`);
  const r = await run(process.execPath, ["--import", path.join(root, "test/helpers/record-imports.mjs"), path.join(root, "dist/bin/btkit.js"), ...argv], {
    cwd: dir,
    env: { ...process.env, ...env, BTKIT_RECORD_IMPORTS: record },
  });
  const urls = [...new Set((await fs.readFile(record, "utf8").catch(() => "")).split("\n").filter((u) => u !== ""))];
  // the recording itself works: the bin's own modules are in it
  expect(urls.some((u) => u.endsWith("/dist/src/cli/main.js"))).toBe(true);
  return { status: r.status, stderr: r.stderr, urls };
}

/** Runs the built bin; returns its exit status and the heavy packages' modules it loaded. */
async function loads(argv: string[]): Promise<{ status: number | null; heavy: string[] }> {
  const r = await recorded(argv);
  return { status: r.status, heavy: r.urls.filter((u) => HEAVY.test(u)) };
}

/** Runs the built bin; returns its exit status (with stderr, to show when it fails) and the AWS SDK modules it loaded. */
async function sdkLoads(argv: string[], env?: Record<string, string>): Promise<{ status: number | null; stderr: string; sdk: string[] }> {
  const r = await recorded(argv, env);
  return { status: r.status, stderr: r.status === 0 ? "" : r.stderr, sdk: r.urls.filter((u) => SDK.test(u)) };
}

describe("startup", () => {
  const forms = ["--version", "help", "--help", "-h", "help prep", "prep --help", "help submit", "submit --help", "status --help", "stop --help", "merge --help", "join --help", "emulator --help", "example-model -h"];
  it.each(forms)("btkit %s loads no AWS SDK, Arrow or Parquet", async (form) => {
    expect(await loads(form.split(" "))).toEqual({ status: 0, heavy: [] });
  });

  it("a command that runs loads what it needs (the hook sees the SDK when it is loaded)", async () => {
    const r = await loads(["submit", "--descriptor", path.join(dir, "missing.json"), "--model", "m"]);
    expect(r.status).not.toBe(0);
    expect(r.heavy.some((u) => u.includes("/@aws-sdk/client-sagemaker/"))).toBe(true);
  });
});

describe("local runs", () => {
  it("a prep and a join on local paths load no AWS SDK; a prep reading S3 loads it (the first S3 call)", async () => {
    await fs.writeFile(path.join(dir, "in.csv"), "id,x,text\n1,0.5,a\n2,1.5,b\n3,2.5,c\n4,3.5,d\n");
    expect(await sdkLoads(["prep", "in.csv", "--out", "prep", "--quiet"])).toEqual({ status: 0, stderr: "", sdk: [] });

    // a completed job's output beside the preparation, and its descriptor stored there (as submit does)
    const d = JSON.parse(await fs.readFile(path.join(dir, "prep/btkit.json"), "utf8")) as { shards: Array<{ name: string; rows: number }>; job?: unknown };
    const out = path.join(dir, "prep/output/job-1");
    await fs.mkdir(out, { recursive: true });
    for (const s of d.shards) await fs.writeFile(path.join(out, `${s.name}.out`), '{"score":0.5}\n'.repeat(s.rows));
    d.job = { backend: "emulator", name: "job-1", arn: "arn:aws:sagemaker:local:000000000000:transform-job/job-1", request: {}, outputLocation: `${pathToFileURL(out).href}/`, accept: "application/jsonlines", assembleWith: "Line", status: "Completed" };
    await fs.writeFile(path.join(out, "btkit.json"), `${JSON.stringify(d)}\n`);

    // the preparation's descriptor (the latest job's found beside its output), and the job's own
    expect(await sdkLoads(["join", "--descriptor", "prep", "--out", "joined.jsonl", "--quiet"])).toEqual({ status: 0, stderr: "", sdk: [] });
    expect((await fs.readFile(path.join(dir, "joined.jsonl"), "utf8")).trimEnd().split("\n")).toHaveLength(4);
    expect(await sdkLoads(["join", "--descriptor", path.join(out, "btkit.json"), "--out", "joined.parquet", "--quiet"])).toEqual({ status: 0, stderr: "", sdk: [] });

    const s3 = await startS3(["startup"]);
    try {
      await s3.storage().write("s3://startup/in.csv", await fs.readFile(path.join(dir, "in.csv")));
      const r = await sdkLoads(["prep", "s3://startup/in.csv", "--out", "prep-s3", "--quiet"], s3.env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.sdk.some((u) => u.includes("/@aws-sdk/client-s3/"))).toBe(true);
    } finally {
      await s3.close();
    }
  });
});
