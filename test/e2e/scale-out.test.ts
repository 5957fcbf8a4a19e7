/**
 * The whole distributed path, as on AWS, against a standalone emulator and the S3 test server
 * (each command the built CLI in its own process, the AWS SDK reading its credentials and
 * endpoints from the environment): one CSV on S3 with quoted commas, doubled quotes and line
 * breaks, prepared by a Processing job of 3 instances (`prep --part auto`, splitting the one file
 * by byte ranges) and merged; `submit --descriptor s3://.../prep/` with the example model;
 * `join --processing` by 3 instances; the joined Parquet read back with DuckDB equals the source
 * CSV read by DuckDB, row for row, each with its prediction. Also: submit on a preparation whose
 * third part is missing names it and --wait-parts, and --wait-parts waits for it.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../src/emulator/index.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { useS3 } from "../helpers/s3server.js";
import { run, type Ran } from "../helpers/spawn.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, sqlString } from "../join/duck.js";

const bin = path.resolve(import.meta.dirname, "../../dist/bin/btkit.js");
const ROWS = 3000;
const B = "scale-bucket";
const ROLE = "arn:aws:iam::123456789012:role/btkit";
const BTKIT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/btkit:0.1.0";
const MODEL_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/example-model:1";
const FAST = ["--poll-seconds", "0.1"];
/** the model sees the numbers; the timestamp and the text (its line breaks too) wait in the sidecars for the join */
const PREP = ["--features", "id,amount,n"];
const s3 = useS3([B]);
let dir: string;
let cleanup: () => Promise<void>;
let emu: RunningEmulator;
let env: NodeJS.ProcessEnv;

/** CSV text of one field: quoted when it holds a comma, a quote or a line break. */
const field = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * ROWS rows: id; amount, a float with a quarter (so every prediction, their sum with id and n, is
 * a float); n, an integer; ts, a timestamp in UTC; note, a text with commas, doubled quotes and
 * (every third row) a line break inside its quotes.
 */
function csv(): string {
  const lines = ["id,amount,n,ts,note"];
  for (let i = 0; i < ROWS; i++) {
    const ts = new Date(Date.UTC(2024, 0, 1) + i * 61_001).toISOString().replace(/\.000Z$/, "Z");
    const note = `row ${i}, said "hi${i % 7 === 0 ? '""' : ""}"${i % 3 === 0 ? `\nline two of ${i}, too` : ""}`;
    lines.push([String(i), `${(i % 97) - 40}.25`, String(i % 11), ts, field(note)].join(","));
  }
  return `${lines.join("\n")}\n`;
}

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-scale-out-"));
  fs.writeFileSync(path.join(dir, "t.csv"), csv());
  await s3().storage().write(`s3://${B}/raw/t.csv`, fs.readFileSync(path.join(dir, "t.csv"), "utf8"));
  // one standalone emulator: processing instances run the built btkit (with the S3 server's
  // endpoint and credentials in their environment); the model image is the example model; the
  // transform jobs read and write through the S3 server's storage
  emu = await startEmulator({
    storage: s3().storage(),
    env: { ...process.env, ...s3().env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    imageMap: { [MODEL_IMAGE]: `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} example-model` },
  });
  env = { ...process.env, ...s3().env, AWS_ENDPOINT_URL_SAGEMAKER: emu.endpoint, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: emu.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
});
afterAll(async () => {
  await emu?.close();
  await cleanup?.();
});

/** The built CLI in its own process, as on AWS. */
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> => run(process.execPath, [bin, ...args], { cwd: dir, env: { ...env, ...extra } });

/** Downloads every object under an S3 prefix whose key ends with `suffix` into a local folder. */
async function download(prefix: string, suffix: string, to: string): Promise<string[]> {
  const storage = s3().storage();
  fs.mkdirSync(to, { recursive: true });
  const names: string[] = [];
  for await (const o of storage.list(prefix)) {
    if (!o.location.endsWith(suffix)) continue;
    const name = path.basename(o.location);
    const chunks: Buffer[] = [];
    for await (const c of await storage.read(o.location)) chunks.push(c as Buffer);
    fs.writeFileSync(path.join(to, name), Buffer.concat(chunks));
    names.push(name);
  }
  return names.sort();
}

const SOURCE_COLUMNS = "{'id': 'BIGINT', 'amount': 'DOUBLE', 'n': 'BIGINT', 'ts': 'TIMESTAMPTZ', 'note': 'VARCHAR'}";

describe("prep, submit and join beyond one machine, as on AWS (standalone emulator, S3 test server)", () => {
  it("one CSV split by 3 Processing instances, its transform job, a join by 3 instances: every row back with its features and a prediction", async () => {
    // 1-2. prep as a processing job of 3 instances, each `btkit prep --part auto` on byte ranges of the one file
    const prep = await cli(["prep", `s3://${B}/raw/t.csv`, "--out", `s3://${B}/prep/`, ...PREP, "--processing", "--instance-count", "3", "--role", ROLE, "--image", BTKIT_IMAGE, ...FAST]);
    expect(prep.status, prep.stderr).toBe(0);
    expect(prep.stderr).toContain(`on the emulator at ${emu.endpoint}: 3 instances of ml.m5.xlarge`);
    expect(prep.stderr).toMatch(/prep --processing: merged 3 parts: 3000 rows in \d+ shards/);
    const merged = parseDescriptor(prep.stdout.trim(), "stdout");
    expect(merged.source.part).toBeUndefined();
    expect(merged.source.rowsRead).toBe(ROWS);
    expect(merged.source.rowsWritten).toBe(ROWS);
    expect(merged.source.rowsSkipped).toBe(0);
    const size = fs.statSync(path.join(dir, "t.csv")).size;
    // the one input, whole again: its rows and bytes, no range
    expect(merged.source.inputs).toHaveLength(1);
    expect(merged.source.inputs[0]).toMatchObject({ location: `s3://${B}/raw/t.csv`, format: "csv", rows: ROWS, bytes: size });
    expect(merged.source.inputs[0]!.range).toBeUndefined();
    // each of the 3 parts took a byte range of it, the ranges tiling the file
    const ranges: Array<{ start: number; end: number }> = [];
    for (let i = 0; i < 3; i++) {
      const p = `s3://${B}/prep/parts/part-${i}of3.btkit.json`;
      const part = parseDescriptor(await s3().storage().readText(p), p);
      expect(part.source.part).toEqual({ index: i, count: 3 });
      expect(part.source.rowsWritten).toBeGreaterThan(0);
      ranges.push(part.source.inputs[0]!.range!);
    }
    expect(ranges[0]!.start).toBe(0);
    expect(ranges[1]!.start).toBe(ranges[0]!.end);
    expect(ranges[2]!.start).toBe(ranges[1]!.end);
    expect(ranges[2]!.end).toBe(size);
    expect(merged.shards.reduce((a, s) => a + s.rows, 0)).toBe(ROWS);

    // 3. the transform job on the merged preparation, the example model as the model's image
    const sub = await cli(["submit", "--descriptor", `s3://${B}/prep/`, "--model", "example", "--image", MODEL_IMAGE, "--role", ROLE, "--wait", ...FAST]);
    expect(sub.status, sub.stderr).toBe(0);
    const job = parseDescriptor(sub.stdout.trim(), "stdout");
    expect(job.job).toMatchObject({ status: "Completed", backend: "emulator" });

    // 4. join by 3 processing instances, from the preparation's folder (its latest job)
    const join = await cli(["join", "--descriptor", `s3://${B}/prep/`, "--out", `s3://${B}/joined/`, "--prediction-type", "prediction=float64", "--processing", "--instance-count", "3", "--role", ROLE, "--image", BTKIT_IMAGE, ...FAST]);
    expect(join.status, join.stderr).toBe(0);
    expect(join.stderr).toContain(`join --processing: combined 3 parts: ${ROWS} rows`);
    const joined = parseDescriptor(join.stdout.trim(), "stdout");
    expect(joined.job).toEqual(job.job);
    expect(joined.results!.rows).toBe(ROWS);
    expect(joined.results!.part).toBeUndefined();
    expect(Object.keys(joined.results!.rowsPerShard).sort()).toEqual(job.shards.map((s) => s.name).sort());
    expect(Object.values(joined.results!.rowsPerShard).reduce((a, b) => a + b, 0)).toBe(ROWS);
    // the source's types, the timestamp kept in UTC
    expect(joined.results!.columns).toEqual(expect.arrayContaining([
      { name: "id", type: "int64" }, { name: "amount", type: "float64" }, { name: "n", type: "int64" },
      { name: "ts", type: "timestamp" }, { name: "note", type: "utf8" }, { name: "prediction", type: "float64" },
    ]));
    expect(joined.results!.files.map((f) => path.basename(f))).toEqual(["part-0of3.parquet", "part-1of3.parquet", "part-2of3.parquet"]);

    // 5. the joined Parquet, downloaded, against the source CSV, both read by DuckDB
    const local = path.join(dir, "joined");
    expect(await download(`s3://${B}/joined/`, ".parquet", local)).toEqual(["part-0of3.parquet", "part-1of3.parquet", "part-2of3.parquet"]);
    const parquet = `read_parquet(${sqlString(path.join(local, "*.parquet"))})`;
    const source = `read_csv(${sqlString(path.join(dir, "t.csv"))}, header = true, quote = '"', escape = '"', columns = ${SOURCE_COLUMNS})`;
    const [counts] = await duckRows(`SELECT (SELECT count(*) FROM ${parquet}) AS joined, (SELECT count(*) FROM ${source}) AS source`);
    expect(counts).toEqual({ joined: BigInt(ROWS), source: BigInt(ROWS) });
    const features = `SELECT id::BIGINT AS id, amount::DOUBLE AS amount, n::BIGINT AS n, ts::TIMESTAMPTZ AS ts, note::VARCHAR AS note FROM ${parquet}`;
    expect(await duckRows(`${features} EXCEPT ALL SELECT * FROM ${source}`)).toEqual([]);
    expect(await duckRows(`SELECT * FROM ${source} EXCEPT ALL ${features}`)).toEqual([]);
    // every row has its prediction: the example model sums the numeric features
    const bad = await duckRows(`SELECT id, prediction FROM ${parquet} WHERE prediction IS NULL OR abs(prediction - (id + amount + n)) > 1e-9 ORDER BY id LIMIT 5`);
    expect(bad).toEqual([]);
    const [notes] = await duckRows(`SELECT count(*) FILTER (WHERE note LIKE '%' || chr(10) || '%') AS breaks, count(*) FILTER (WHERE note LIKE '%""%') AS quotes FROM ${parquet}`);
    expect(notes).toEqual({ breaks: BigInt(ROWS / 3), quotes: BigInt(Math.ceil(ROWS / 7)) });
  }, 300_000);

  it("submit on a preparation with part 2 of 3 missing names it and --wait-parts; --wait-parts waits for it, then merges and submits", async () => {
    const partArgs = (i: number): string[] => ["prep", `s3://${B}/raw/t.csv`, "--out", `s3://${B}/prep2/`, ...PREP, "--part", `${i}/3`, "--quiet"];
    for (const i of [0, 1]) {
      const p = await cli(partArgs(i));
      expect(p.status, p.stderr).toBe(0);
    }
    const submitArgs = ["submit", "--descriptor", `s3://${B}/prep2/`, "--model", "example", "--image", MODEL_IMAGE, "--role", ROLE, "--wait", ...FAST];
    const refused = await cli(submitArgs);
    expect(refused.status).toBe(66);
    expect(refused.stderr).toContain(`--descriptor s3://${B}/prep2/: no btkit.json there, and s3://${B}/prep2/parts/ holds 2 part descriptors of 3: missing part 2 (their btkit prep --part I/3 runs have not finished, or failed). --wait-parts waits for them, then merges the parts and submits`);

    // the way out it names: --wait-parts, while the missing part is prepared
    const child = spawn(process.execPath, [bin, ...submitArgs, "--wait-parts"], { cwd: dir, env: { ...env, BTKIT_PARTS_POLL_MS: "100" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    const waiting = new Promise<void>((resolve) => {
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        stderr += c;
        if (stderr.includes("submit: waiting for parts")) resolve();
      });
    });
    const ended = new Promise<number | null>((resolve) => child.on("close", resolve));
    await Promise.race([waiting, ended]);
    expect(stderr).toContain("submit: waiting for parts: 2/3 present (missing: 2)");
    const last = await cli(partArgs(2));
    expect(last.status, last.stderr).toBe(0);
    expect(await ended, stderr).toBe(0);
    expect(stderr).toContain(`submit: merged 3 part descriptors (${ROWS} rows in`);
    const d = parseDescriptor(stdout.trim(), "stdout");
    expect(d.source.rowsWritten).toBe(ROWS);
    expect(d.job).toMatchObject({ status: "Completed", backend: "emulator" });
  }, 180_000);
});
