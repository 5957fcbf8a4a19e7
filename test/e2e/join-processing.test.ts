/**
 * join beyond one machine as a SageMaker Processing job, on the emulator (--local): a preparation
 * and its completed emulated transform job, joined by 3 instances each running `btkit join --part
 * auto`; the dataset read back with DuckDB equals a plain join's, and the printed descriptor's
 * results count every row. Also: the refusals of join --processing, each with its way out applied.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { EMPTY_PART_NOTE } from "../../src/join/join.js";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, sqlString } from "../join/duck.js";

const bin = path.resolve(import.meta.dirname, "../../dist/bin/btkit.js");
const ROWS = 600;
let dir: string;
let cleanup: () => Promise<void>;
const env = { PATH: process.env.PATH };
const FAST = ["--poll-seconds", "0.1"];

/** ROWS rows: id, two numbers (integers in the first half, halves after: the model's score is int then float), a text. */
function csv(): string {
  const lines = ["id,a,b,note"];
  for (let i = 0; i < ROWS; i++) lines.push(`${i},${i % 7}${i < ROWS / 2 ? "" : ".5"},${i % 5},"note ${i}, of ${ROWS}"`);
  return `${lines.join("\n")}\n`;
}

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-join-proc-"));
  fs.writeFileSync(path.join(dir, "t.csv"), csv());
  const prep = await runCli(["prep", "t.csv", "--out", "prep", "--instances", "6", "--quiet"], { env, cwd: dir });
  expect(prep.code, prep.stderr).toBe(0);
  const sub = await runCli(["submit", "--descriptor", "prep", "--local", "--model-command", `${process.execPath} ${bin} example-model`, "--wait", ...FAST, "--quiet"], { env, cwd: dir });
  expect(sub.code, sub.stderr).toBe(0);
  fs.writeFileSync(path.join(dir, "job.json"), sub.stdout);
}, 120_000);
afterAll(async () => {
  await cleanup?.();
});

const ORDERED = (glob: string): string => `SELECT * FROM read_parquet(${sqlString(glob)}) ORDER BY id`;

describe("btkit join --processing --local", () => {
  it("3 instances join the parts of one dataset: the rows of a plain join, and a descriptor counting them all", async () => {
    const plain = await runCli(["join", "--descriptor", "job.json", "--out", "plain.parquet", "--prediction-type", "prediction=float64", "--quiet"], { env, cwd: dir });
    expect(plain.code, plain.stderr).toBe(0);
    const r = await runCli(["join", "--descriptor", "job.json", "--out", "joined", "--prediction-type", "prediction=float64", "--descriptor-out", "joined.json", "--processing", "--local", "--instance-count", "3", ...FAST], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/launched processing job btkit-join-[0-9a-f]{16} on the emulator in this process: 3 instances of ml\.m5\.xlarge, each running btkit join --descriptor=\S+job\.json --out=\S+\/joined --prediction-type=prediction=float64 --part auto\n/);
    expect(r.stderr).toMatch(/\[algo-2-\d+\] join: --part auto: part 1\/3, from SageMaker Processing/);
    expect(r.stderr).toContain(`join --processing: combined 3 parts: ${ROWS} rows from 6 shards in 3 files`);
    const d = parseDescriptor(r.stdout.trim(), "stdout");
    const job = parseDescriptor(fs.readFileSync(path.join(dir, "job.json"), "utf8"), "job.json");
    expect(d.job).toEqual(job.job);
    expect(d.results!.rows).toBe(ROWS);
    expect(d.results!.part).toBeUndefined();
    expect(Object.keys(d.results!.rowsPerShard)).toEqual(job.shards.map((s) => s.name));
    expect(Object.values(d.results!.rowsPerShard).reduce((a, b) => a + b, 0)).toBe(ROWS);
    expect(d.results!.files.map((f) => path.basename(f))).toEqual(["part-0of3.parquet", "part-1of3.parquet", "part-2of3.parquet"]);
    expect(d.results!.location).toBe(`file://${dir}/joined/`);
    expect(fs.readFileSync(path.join(dir, "joined.json"), "utf8").trim()).toBe(r.stdout.trim());
    // each part's descriptor with its results beside its file; a reader of *.parquet sees the table only
    expect(fs.readdirSync(path.join(dir, "joined")).filter((n) => !n.startsWith(".")).sort()).toEqual(["btkit-part-0of3.json", "btkit-part-1of3.json", "btkit-part-2of3.json", "part-0of3.parquet", "part-1of3.parquet", "part-2of3.parquet"]);
    const rows = await duckRows(ORDERED(path.join(dir, "joined", "*.parquet")));
    expect(rows).toHaveLength(ROWS);
    expect(rows).toEqual(await duckRows(ORDERED(path.join(dir, "plain.parquet"))));
    expect(rows[ROWS - 1]).toMatchObject({ id: BigInt(ROWS - 1), note: `note ${ROWS - 1}, of ${ROWS}`, prediction: ROWS - 1 + ((ROWS - 1) % 7) + 0.5 + ((ROWS - 1) % 5) }); // the example model sums the numeric features: id, a and b;
  }, 120_000);

  it("parts that infer other prediction types are refused, naming --prediction-type; given it, they agree", async () => {
    const r = await runCli(["join", "--descriptor", "job.json", "--out", "typed", "--processing", "--local", "--instance-count", "3", ...FAST], { env, cwd: dir });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/\[JOIN_TYPE_CONFLICT\]: \S+\/typed\/: column prediction is int64 in part 0\/3 and float64 in part \d\/3: each part infers the types of its own predictions, so the parts of one dataset disagree\. Join again into an empty folder with predictionTypes: \{"prediction":"float64"\} \(--prediction-type prediction=float64\)/);
    const ok = await runCli(["join", "--descriptor", "job.json", "--out", "typed2", "--processing", "--local", "--instance-count", "3", "--prediction-type", "prediction=float64", ...FAST, "--quiet"], { env, cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(parseDescriptor(ok.stdout.trim(), "stdout").results!.columns).toContainEqual({ name: "prediction", type: "float64" });
  }, 120_000);

  it("more instances than shards: the parts without a shard write no file, and the dataset is the whole join", async () => {
    const r = await runCli(["join", "--descriptor", "job.json", "--out", "wide", "--prediction-type", "prediction=float64", "--processing", "--local", "--instance-count", "8", ...FAST], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`join --processing: combined 8 parts: ${ROWS} rows from 6 shards in 6 files`);
    const d = parseDescriptor(r.stdout.trim(), "stdout");
    expect(d.results!.rows).toBe(ROWS);
    expect(d.results!.notes).toContainEqual({ reason: EMPTY_PART_NOTE, count: 2 });
    const tables = fs.readdirSync(path.join(dir, "wide")).filter((n) => n.endsWith(".parquet"));
    expect(tables).toHaveLength(6);
    expect(d.results!.files.map((f) => path.basename(f)).sort()).toEqual(tables.sort());
    // a reader of every file: all rows with their predictions
    expect(await duckRows(ORDERED(path.join(dir, "wide", "*.parquet")))).toEqual(await duckRows(ORDERED(path.join(dir, "plain.parquet"))));
  }, 120_000);

  it("stdin does not reach the instances: --descriptor is needed (given above); --inputs has no shards to slice", async () => {
    const job = fs.readFileSync(path.join(dir, "job.json"), "utf8");
    const r = await runCli(["join", "--out", "x", "--processing", "--local"], { env, cwd: dir, stdin: job });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("join --processing needs --descriptor PATH|URI: the instances of a processing job do not see this command's stdin");
    const i = await runCli(["join", "--inputs", "prep/shards", "--outputs", "o", "--out", "x", "--processing", "--local"], { env, cwd: dir });
    expect(i.code).toBe(2);
    expect(i.stderr).toContain("join --processing slices a descriptor's shards among its instances, and --inputs joins files without one: give --descriptor PATH|URI");
  });
});
