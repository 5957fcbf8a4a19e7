/**
 * The README's AWS and scale-out commands, run exactly as written, with the standard AWS endpoint
 * variables pointing at the test S3 server and a standalone emulator (where model "my-model" runs
 * the example model). Only the endpoints differ from a real AWS run.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { CreateModelCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../src/emulator/index.js";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";
import { run, type Ran } from "../helpers/spawn.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

/** The first ```sh (or ```js) block after a heading. */
function block(heading: string, lang = "sh"): string {
  const at = readme.indexOf(`## ${heading}`);
  expect(at, `README has a section ${heading}`).toBeGreaterThanOrEqual(0);
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at));
  return m![1]!;
}

let s3: TestS3;
let emu: RunningEmulator;
let dir: string;
let cleanup: () => Promise<void>;
let env: Record<string, string>;

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-readme-"));
  s3 = await startS3(["my-bucket"]);
  emu = await startEmulator({ storage: s3.storage(), cwd: root, pingIntervalMs: 50, healthTimeoutMs: 60_000 });
  const sm = new SageMakerClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test" } });
  await sm.send(
    new CreateModelCommand({
      ModelName: "my-model",
      ExecutionRoleArn: "arn:aws:iam::000000000000:role/btkit-test",
      PrimaryContainer: { Image: `local-cmd:${process.execPath} ${path.join(root, "dist/bin/btkit.js")} example-model` },
    }),
  );
  sm.destroy();
  // `btkit` on PATH, as after npm install -g
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "btkit"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(root, "dist/bin/btkit.js"))} "$@"\n`, { mode: 0o755 });
  env = {
    ...process.env,
    ...s3.env,
    PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
    AWS_ENDPOINT_URL_SAGEMAKER: emu.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: emu.endpoint,
    BTKIT_PROGRESS_INTERVAL_MS: "2000",
  } as Record<string, string>;
  execFileSync(process.execPath, [path.join(root, "examples/make-demo-data.mjs"), path.join(dir, "reviews.csv"), "800"], { stdio: "ignore" });
});
afterAll(async () => {
  await emu?.close();
  await s3?.close();
  await cleanup?.();
});

/** Runs a script in bash; asynchronous, since the S3 server and the emulator serve from this process. */
function bash(script: string, extra: Record<string, string> = {}, cwd = dir): Promise<Ran> {
  return run("bash", ["-c", `set -euo pipefail\n${script}`], { cwd, env: { ...env, ...extra } });
}

/** A folder where snippets import btkit and the AWS SDK as an installed package would. */
function libDir(): string {
  const lib = path.join(dir, "lib");
  if (fs.existsSync(lib)) return lib;
  fs.mkdirSync(path.join(lib, "node_modules", "@aws-sdk"), { recursive: true });
  fs.symlinkSync(root, path.join(lib, "node_modules", "btkit"));
  fs.symlinkSync(path.join(root, "node_modules", "@aws-sdk", "client-sagemaker"), path.join(lib, "node_modules", "@aws-sdk", "client-sagemaker"));
  return lib;
}

/** The bundled reviews, split in two files under s3://my-bucket/raw/. */
async function writeRaw(): Promise<void> {
  const text = fs.readFileSync(path.join(dir, "reviews.csv"), "utf8").split("\n");
  const header = text[0]!;
  const body = text.slice(1).filter((l) => l.length > 0);
  const half = Math.floor(body.length / 2);
  await s3.storage().write("s3://my-bucket/raw/a.csv", `${header}\n${body.slice(0, half).join("\n")}\n`);
  await s3.storage().write("s3://my-bucket/raw/b.csv", `${header}\n${body.slice(half).join("\n")}\n`);
}

describe("README install section", () => {
  it("names the bin package.json declares; npx runs it in this folder, and a packed copy holds it", async () => {
    const section = readme.slice(readme.indexOf("## Getting `btkit` on your PATH"));
    expect(block("Getting `btkit` on your PATH")).toBe("npm link              # btkit on PATH, linked to this folder (npm unlink -g btkit removes it)\nbtkit help\n");
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { name: string; version: string; bin: Record<string, string> };
    expect(pkg.bin).toEqual({ btkit: "./dist/bin/btkit.js" });
    // the build leaves the bin executable (npx and npm link run it as a program)
    expect(fs.statSync(path.join(root, "dist/bin/btkit.js")).mode & 0o111).toBe(0o111);
    expect(section).toContain(`npm install -g ./${pkg.name}-${pkg.version}.tgz`);
    // offline and without asking: a command npx would have to fetch fails instead
    const npx = await run("npx", ["--offline", "--no", "btkit", "help"], { cwd: root, env: { ...process.env, npm_config_update_notifier: "false" } });
    expect(npx.status, npx.stderr).toBe(0);
    expect(npx.stdout).toContain("Usage: btkit COMMAND [options]");
    const packed = await run("npm", ["pack", "--dry-run", "--json", "--offline"], { cwd: root, env: { ...process.env, npm_config_update_notifier: "false" } });
    expect(packed.status, packed.stderr).toBe(0);
    const files = (JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    expect(files.filename).toBe(`${pkg.name}-${pkg.version}.tgz`);
    expect(files.files.map((f) => f.path)).toContain("dist/bin/btkit.js");
  });
});

describe("README commands", () => {
  it("the local pipeline over your own table runs as written (in a folder whose dist/ is this build's), every row joined", async () => {
    const local = path.join(dir, "own");
    fs.mkdirSync(local);
    fs.symlinkSync(path.join(root, "dist"), path.join(local, "dist"));
    const rows = Array.from({ length: 300 }, (_, i) => `${i},${(i * 0.37).toFixed(3)},${i % 7},"text, ${i}"`);
    fs.writeFileSync(path.join(local, "my-table.csv"), `id,a,b,c\n${rows.join("\n")}\n`);
    const r = await bash(block("The pipeline"), {}, local);
    expect(r.stderr).not.toMatch(/error \[/);
    expect(r.status, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { job: { status: string }; results: { rows: number; location: string } };
    expect(d.job.status).toBe("Completed");
    expect(d.results).toMatchObject({ rows: 300, location: `file://${path.join(local, "run", "joined.parquet")}` });
  });

  it("the AWS pipeline runs as written", async () => {
    const r = await bash(block("The same pipeline on AWS"));
    expect(r.stderr).not.toMatch(/error \[/);
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.job.request.TransformResources).toEqual({ InstanceType: "ml.m5.xlarge", InstanceCount: 4 });
    expect(d.job.status).toBe("Completed");
    expect(d.shards.length % 4).toBe(0);
    expect(d.results).toMatchObject({ location: "s3://my-bucket/jobs/reviews/joined.parquet", rows: 800, missing: [] });
    expect(await s3.storage().exists("s3://my-bucket/jobs/reviews/joined.parquet")).toBe(true);
  });

  it("the library snippet runs as written", async () => {
    await writeRaw();
    const lib = libDir();
    fs.writeFileSync(path.join(lib, "snippet.mjs"), `${block("As a library", "js")}\nconsole.log(JSON.stringify(results));\n`);
    const r = await bash(`node snippet.mjs`, {}, lib);
    expect(r.stderr).not.toMatch(/error \[|Error/);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ location: "s3://my-bucket/etl/joined.parquet", rows: 800, missing: [] });
    expect(await s3.storage().exists("s3://my-bucket/etl/joined.parquet")).toBe(true);
  });

  it("the in-process emulator snippet runs its job to Completed, every .out the model's answer", async () => {
    const lib = libDir();
    fs.writeFileSync(path.join(lib, "emulator.mjs"), `${block("The emulator in your process", "js")}\nconsole.log(JSON.stringify({ status: job.TransformJobStatus, output: job.TransformOutput.S3OutputPath }));\n`);
    const r = await bash(`node emulator.mjs`, {}, lib);
    expect(r.stderr).not.toMatch(/error \[|Error/);
    expect(r.status, r.stderr).toBe(0);
    const { status, output } = JSON.parse(r.stdout) as { status: string; output: string };
    expect(status).toBe("Completed");
    expect(output).toMatch(/^file:\/\/.*\/emu-demo\/prep\/output\/btkit-[0-9a-f]+$/);
    expect(fs.readFileSync(new URL(`${output}/part-00000.csv.out`), "utf8")).toBe("3\n7\n");
  });

  it("the rows snippet prepares its rows, and the joinRows snippet streams the joined rows of their job", async () => {
    const lib = libDir();
    fs.writeFileSync(path.join(lib, "rows.mjs"), `${block("Rows from your own code", "js")}\nconsole.log(JSON.stringify(prepared));\n`);
    const r = await bash(`node rows.mjs | btkit submit --model my-model --instance-type ml.m5.xlarge --wait > job.json`, {}, lib);
    expect(r.stderr).not.toMatch(/error \[|Error/);
    expect(r.status).toBe(0);
    const job = JSON.parse(fs.readFileSync(path.join(lib, "job.json"), "utf8"));
    expect(job.source.inputs).toEqual([{ location: "rows", format: "jsonl", compression: "none", rows: 500 }]);
    expect(Object.fromEntries(job.schema.columns.map((c: { name: string; type: string }) => [c.name, c.type]))).toEqual({ order_id: "int64", city: "utf8", placed: "timestamp", total: "float64", lines: "json" });
    expect(job.job.status).toBe("Completed");
    fs.writeFileSync(path.join(lib, "stream.mjs"), `${block("Joined rows without a file", "js")}\nconsole.log(JSON.stringify(byCity));\n`);
    const s = await bash(`node stream.mjs`, {}, lib);
    expect(s.stderr).not.toMatch(/error \[|Error/);
    expect(s.status).toBe(0);
    // the example model scores a CSV record by the sum of its numbers: here its total (null: none)
    const want: Record<string, number> = { Oslo: 0, "Kraków": 0 };
    for (let i = 0; i < 500; i++) want[i % 2 === 0 ? "Oslo" : "Kraków"]! += i % 7 === 0 ? 0 : i / 4;
    const got = JSON.parse(s.stdout) as Record<string, number>;
    expect(Object.keys(got).sort()).toEqual(["Kraków", "Oslo"]);
    for (const city of Object.keys(want)) expect(got[city]).toBeCloseTo(want[city]!, 6);
  });

  it("the scale-out commands (two parts, merge, two join parts) run as written", async () => {
    await writeRaw();
    const lines = block("Beyond one machine").split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    // the block's three commands: prep (per part), merge | submit, join (per part)
    const commands: string[] = [];
    for (const l of lines) {
      if (/^\s/.test(l) || (commands.length > 0 && commands[commands.length - 1]!.endsWith("\\"))) commands[commands.length - 1] += `\n${l}`;
      else commands.push(l);
    }
    expect(commands.length).toBe(3);
    for (const i of ["0", "1"]) {
      const r = await bash(commands[0]!, { i, N: "2" });
      expect(r.stderr).not.toMatch(/error \[/);
      expect(r.status).toBe(0);
    }
    const merged = await bash(commands[1]!);
    expect(merged.stderr).not.toMatch(/error \[/);
    expect(merged.status).toBe(0);
    const job = JSON.parse(fs.readFileSync(path.join(dir, "job.json"), "utf8"));
    expect(job.source.rowsWritten).toBe(800);
    expect(job.job.status).toBe("Completed");
    let rows = 0;
    for (const i of ["0", "1"]) {
      const r = await bash(commands[2]!, { i, N: "2" });
      expect(r.stderr).not.toMatch(/error \[/);
      expect(r.status).toBe(0);
      rows += JSON.parse(r.stdout).results.rows as number;
    }
    expect(rows).toBe(800);
    const files: string[] = [];
    for await (const o of s3.storage().list("s3://my-bucket/joined/")) files.push(o.relative);
    expect(files.filter((f) => f.endsWith(".parquet")).length).toBeGreaterThanOrEqual(2);
  });
});
