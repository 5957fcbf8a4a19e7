/**
 * End to end: the built CLI through a real shell pipe, prep | submit --local | join, once on local
 * paths and once on s3:// locations served by the test S3 server; the joined table is checked row
 * by row against the source and against predictions computed here, independently of the model.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { useS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "dist/bin/btkit.js");
const btkit = `node ${JSON.stringify(bin)}`;
const ROWS = 1500;

let dir: string;
let cleanup: () => Promise<void>;
let source: Array<Record<string, string>>;

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-e2e-"));
  execFileSync(process.execPath, [path.join(root, "examples/make-demo-data.mjs"), path.join(dir, "reviews.csv"), String(ROWS)], { stdio: "ignore" });
  source = parse(fs.readFileSync(path.join(dir, "reviews.csv")), { columns: true }) as Array<Record<string, string>>;
});
afterAll(async () => {
  await cleanup?.();
});

function sh(script: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", `set -o pipefail; ${script}`], {
      cwd: dir,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", BTKIT_PROGRESS_INTERVAL_MS: "1000", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** What the example model predicts for a row, computed from the source row: sum of numbers, text length. */
function expected(row: Record<string, string>): { score: number; length: number } {
  const score = (row.rating === "" ? 0 : Number(row.rating)) + Number(row.price);
  return { score: Math.round(score * 1e6) / 1e6, length: row.review!.length };
}

async function readParquet(file: string): Promise<Array<Record<string, unknown>>> {
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  const reader = await con.runAndReadAll(`SELECT * FROM read_parquet('${file.replaceAll("'", "''")}')`);
  const rows = reader.getRowObjectsJS() as Array<Record<string, unknown>>;
  con.closeSync();
  return rows;
}

function checkRows(joined: Array<Record<string, unknown>>, scoreCol: string, lengthCol: string | undefined): void {
  expect(joined.length).toBe(source.length);
  for (let i = 0; i < source.length; i++) {
    const src = source[i]!;
    const got = joined[i]!;
    const want = expected(src);
    expect(String(got.id), `row ${i} id`).toBe(src.id);
    expect(got.name, `row ${i} name`).toBe(src.name);
    expect(got.city ?? "", `row ${i} city`).toBe(src.city);
    expect(got.review ?? "", `row ${i} review`).toBe(src.review);
    expect(Number(got[scoreCol]), `row ${i} score`).toBeCloseTo(want.score, 5);
    if (lengthCol) expect(Number(got[lengthCol]), `row ${i} length`).toBe(want.length);
  }
}

function findCol(row: Record<string, unknown>, suffix: string): string {
  const c = Object.keys(row).find((k) => k === suffix || k.endsWith(`_${suffix}`) || k.endsWith(`.${suffix}`));
  if (!c) throw new Error(`no column ending in ${suffix} among ${Object.keys(row).join(", ")}`);
  return c;
}

describe("shell pipeline, local paths", () => {
  it("prep | submit --local | join reproduces every row with its prediction", async () => {
    const r = await sh(
      `${btkit} prep reviews.csv --out prep --format jsonl --features rating,price,review --instances 2 --gzip ` +
        `| ${btkit} submit --local --model-command ${JSON.stringify(`${btkit} example-model`)} --instance-count 2 --wait --poll-seconds 0.3 ` +
        `| ${btkit} join --out joined.parquet --format parquet > final.json`,
    );
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const d = JSON.parse(fs.readFileSync(path.join(dir, "final.json"), "utf8"));
    expect(d.shards.length).toBe(2);
    expect(d.job.status).toBe("Completed");
    expect(d.results.rows).toBe(ROWS);
    expect(d.results.missing).toEqual([]);
    const joined = await readParquet(path.join(dir, "joined.parquet"));
    checkRows(joined, findCol(joined[0]!, "score"), findCol(joined[0]!, "length"));
  });

  it("join --out - streams the table into the next command of the pipe; a reader that stops early ends it quietly", async () => {
    const all = await sh(`${btkit} join --descriptor final.json --out - --quiet | wc -l`);
    expect(all.stderr).toBe("");
    expect(all.code).toBe(0);
    expect(Number(all.stdout.trim())).toBe(ROWS);
    const head = await sh(`${btkit} join --descriptor final.json --out - --format csv --quiet | head -3`);
    expect(head.stderr).toBe("");
    expect(head.code).toBe(0);
    const rows = parse(head.stdout, { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.id)).toEqual(source.slice(0, 2).map((r) => r.id));
    expect(fs.existsSync(path.join(dir, "-"))).toBe(false);
  });
});

describe("Ctrl-C of submit --local", () => {
  it("exits 130 and prints two commands that, run as written, show how the job ended and transform the rest", async () => {
    const p = await sh(`${btkit} prep reviews.csv --out prep-int --instances 2 --quiet > /dev/null`);
    expect(p.code, p.stderr).toBe(0);
    // one instance, a slow model: the first shard's .out is written, then Ctrl-C
    const child = spawn(process.execPath, [bin, "submit", "--descriptor", "prep-int", "--local", "--model-command", `${btkit} example-model`, "--instance-count", "1", "--poll-seconds", "0.2"], {
      cwd: dir,
      env: { ...process.env, BTKIT_EXAMPLE_DELAY_MS: "1500", BTKIT_PROGRESS_INTERVAL_MS: "0" },
      stdio: ["ignore", fs.openSync(path.join(dir, "interrupted.json"), "w"), "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (/1\/2 \.out files/.test(stderr)) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code, stderr).toBe(130);
    const advice = /See how it ended: (btkit status --descriptor \S+); transform the rest: (btkit submit --retry-failed --descriptor \S+)/.exec(stderr);
    expect(advice, stderr).not.toBeNull();
    // run as written, with btkit on PATH and no AWS credentials: the stored descriptor names the emulator's state folder
    fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
    fs.writeFileSync(path.join(dir, "bin", "btkit"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@"\n`, { mode: 0o755 });
    const env = { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "btkit-none", AWS_EC2_METADATA_DISABLED: "true" };
    const status = await sh(`${advice![1]} > status.json`, env);
    expect(status.code, status.stderr).toBe(3);
    expect(status.stderr).toContain("Failed: the emulator restarted while the job was running");
    expect(status.stderr).not.toContain("Credential");
    const retry = await sh(`${advice![2]} --poll-seconds 0.2 > retried.json`, env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).toContain("retrying 1 shard without output: part-00001.csv");
    const joined = await sh(`btkit join --descriptor retried.json --out - --quiet | wc -l`, env);
    expect(joined.code, joined.stderr).toBe(0);
    expect(Number(joined.stdout.trim())).toBe(ROWS);
  });
});

describe("shell pipeline, s3:// locations", () => {
  const server = useS3(["e2e"]);

  it("runs the same pipeline against the S3 server and joins every row", async () => {
    await server().storage().write("s3://e2e/in/reviews.csv", fs.readFileSync(path.join(dir, "reviews.csv")));
    const r = await sh(
      `${btkit} prep s3://e2e/in/reviews.csv --out s3://e2e/prep/ --features rating,price,review --instances 2 --gzip ` +
        `| ${btkit} submit --local --state state --model-command ${JSON.stringify(`${btkit} example-model`)} --accept application/jsonlines --instance-count 2 --wait --poll-seconds 0.3 ` +
        `| ${btkit} join --out s3://e2e/joined.parquet --format parquet > final-s3.json`,
      server().env,
    );
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const d = JSON.parse(fs.readFileSync(path.join(dir, "final-s3.json"), "utf8"));
    expect(d.shards[0].location).toMatch(/^s3:\/\/e2e\/prep\/shards\//);
    expect(d.job.outputLocation).toMatch(/^s3:\/\/e2e\/prep\/output/);
    const local = path.join(dir, "joined-s3.parquet");
    fs.writeFileSync(local, Buffer.concat(await (await server().storage().read("s3://e2e/joined.parquet", { decompress: "never" })).toArray()));
    const joined = await readParquet(local);
    checkRows(joined, findCol(joined[0]!, "score"), undefined);
  });
});
