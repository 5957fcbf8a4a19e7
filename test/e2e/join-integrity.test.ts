/**
 * Join integrity, end to end through the CLI on the emulator: a joined row is provably the row its
 * prediction came from. Each scenario runs prep | submit --local | join as a user would (the real
 * commands in-process, the emulator over HTTP, the example model as a server) and checks exit
 * codes, error codes, and the joined values row by row against the source.
 *
 * The source: 30 rows `id,x,y` with y = 10 i for the first 20 rows and 10 i + 0.5 after, in 3
 * shards of 10. The example model answers the sum of a record's numbers, so shards 0 and 1 get
 * integer predictions and shard 2 floats (a regression model's `2`, then `2.5`).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, startExampleModel, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { Storage } from "../../src/io/storage.js";
import { parseDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { ensureModel } from "../../src/submit/index.js";
import { parse } from "csv-parse/sync";
import { runCli, type CliRun } from "../helpers/cli.js";
import { duckRows, sqlString } from "../join/duck.js";
import { tempDir } from "../helpers/tmp.js";

const ROWS = 30;
const FAST = ["--poll-seconds", "0.05"];
const yOf = (i: number): number => (i < 20 ? i * 10 : i * 10 + 0.5);
const sumOf = (i: number): number => i + i + yOf(i);

let dir: string;
let cleanup: () => Promise<void>;
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-integrity-"));
  const lines = ["id,x,y", ...Array.from({ length: ROWS }, (_, i) => `${i},${i},${yOf(i)}`)];
  await fs.writeFile(path.join(dir, "data.csv"), `${lines.join("\n")}\n`);
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

async function model(env: Record<string, string> = {}): Promise<RunningExampleModel> {
  const m = await startExampleModel({ port: 0, env });
  closers.push(() => m.close());
  return m;
}

function ok(r: CliRun): CliRun {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}

const cli = (argv: string[], stdin?: string, env?: Record<string, string>): Promise<CliRun> => runCli(argv, { stdin, env, cwd: dir });
const prep = async (...extra: string[]): Promise<string> => ok(await cli(["prep", path.join(dir, "data.csv"), "--out", path.join(dir, "prep"), "--shard-rows", "10", ...extra])).stdout;
const local = (stdin: string, ...args: string[]): Promise<CliRun> => cli(["submit", "--local", "--state", path.join(dir, "state"), ...FAST, ...args], stdin);
const joinTo = (stdin: string, name: string, ...args: string[]): Promise<CliRun> => cli(["join", "--out", path.join(dir, name), "--format", "jsonl", ...args], stdin);

async function joined(name: string): Promise<Array<Record<string, unknown>>> {
  const text = await fs.readFile(path.join(dir, name), "utf8");
  return text.trim() === "" ? [] : text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every joined row is its source row with that row's prediction. */
function expectRows(rows: Array<Record<string, unknown>>, ids: number[], prediction: (i: number) => number, column = "prediction"): void {
  expect(rows.map((r) => Number(r.id))).toEqual(ids);
  for (const r of rows) {
    const i = Number(r.id);
    expect([Number(r.x), Number(r.y)], `row ${i}`).toEqual([i, yOf(i)]);
    expect(Number(r[column]), `row ${i} ${column}`).toBeCloseTo(prediction(i), 9);
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
const outOf = (d: Descriptor, shard: string): string => path.join(new URL(d.job!.outputLocation).pathname, `${shard}.out`);

describe("outputs of another job are never joined", () => {
  it("a fresh job that fails one shard next to a completed one: each job has its own output, join refuses the failed job; --allow-missing joins only its own shards; a retry with a fixed model completes it", async () => {
    const good = await model();
    const failing = await model({ BTKIT_EXAMPLE_FAIL_ON: "15,15,150" });
    const d = await prep();
    const first = ok(await local(d, "--model-url", good.url));
    const a = parseDescriptor(first.stdout);
    expect(a.job!.status).toBe("Completed");
    expect(a.job!.outputLocation).toMatch(new RegExp(`/prep/output/${a.job!.name}$`));

    const second = await local(first.stdout, "--new", "--model-url", failing.url);
    expect(second.code).toBe(EXIT.jobFailed);
    const b = parseDescriptor(second.stdout);
    expect(b.job!.name).not.toBe(a.job!.name);
    expect(b.job!.outputLocation).toMatch(new RegExp(`/prep/output/${b.job!.name}$`));
    expect((await fs.readdir(path.dirname(outOf(b, "x")))).sort()).toEqual(["btkit.json", "part-00000.csv.out", "part-00002.csv.out"]);

    const refused = await joinTo(second.stdout, "b.jsonl");
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_JOB_STATUS");
    expect(refused.stderr).toContain(`job ${b.job!.name} is Failed`);
    expect(refused.stderr).toContain("--allow-missing");
    await expect(fs.stat(path.join(dir, "b.jsonl"))).rejects.toThrow();

    const partial = ok(await joinTo(second.stdout, "b.jsonl", "--allow-missing"));
    const results = parseDescriptor(partial.stdout).results!;
    expect(results.missing).toEqual(["part-00001.csv"]);
    expectRows(await joined("b.jsonl"), [...range(0, 10), ...range(20, 30)], sumOf);

    // the way out the refusal names: retry the failed shard, here with the fixed model
    const retry = ok(await local(second.stdout, "--retry-failed", "--model-url", good.url));
    const c = parseDescriptor(retry.stdout);
    expect(c.job).toMatchObject({ status: "Completed", shards: ["part-00001.csv"], outputLocation: b.job!.outputLocation });
    expect(c.job!.request.ModelName).not.toBe(b.job!.request.ModelName);
    const all = ok(await joinTo(retry.stdout, "all.jsonl"));
    expect(parseDescriptor(all.stdout).results!.rows).toBe(ROWS);
    expectRows(await joined("all.jsonl"), range(0, ROWS), sumOf);

    // the failed job's own descriptor still joins only what that job wrote: the retry's .out came after it ended
    const again = ok(await joinTo(second.stdout, "b2.jsonl", "--allow-missing"));
    expect(parseDescriptor(again.stdout).results!.missing).toEqual(["part-00001.csv"]);
    expectRows(await joined("b2.jsonl"), [...range(0, 10), ...range(20, 30)], sumOf);
  });

  it("a later job writing into a completed job's output (--overwrite-output) does not change that job's join: its .out came after the job ended", async () => {
    const good = await model();
    const other = await model({ BTKIT_EXAMPLE_FAIL_ON: "no record has this" });
    const first = ok(await local(await prep(), "--model-url", good.url));
    const a = parseDescriptor(first.stdout);
    const later = ok(await local(first.stdout, "--new", "--model-url", other.url, "--output", a.job!.outputLocation, "--overwrite-output"));
    expect(parseDescriptor(later.stdout).job!.outputLocation).toBe(a.job!.outputLocation);
    const refused = await joinTo(first.stdout, "a.jsonl");
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_PROVENANCE");
    expect(refused.stderr).toContain(`after job ${a.job!.name} ended`);
    // the later job's own descriptor joins
    ok(await joinTo(later.stdout, "b.jsonl"));
    expectRows(await joined("b.jsonl"), range(0, ROWS), sumOf);
  });

  it("an explicit --output with .out files of other jobs only in subfolders is not refused", async () => {
    const good = await model();
    const first = ok(await local(await prep(), "--model-url", good.url));
    const folder = path.dirname(new URL(parseDescriptor(first.stdout).job!.outputLocation).pathname);
    const r = ok(await local(first.stdout, "--new", "--model-url", good.url, "--output", `file://${folder}/`));
    expect(parseDescriptor(r.stdout).job!.outputLocation).toBe(`file://${folder}`);
  });

  it("--retry-failed also redoes a shard a retry left to the job it retried, when that .out is gone", async () => {
    const good = await model();
    const failing = await model({ BTKIT_EXAMPLE_FAIL_ON: "15,15,150" });
    const failed = await local(await prep(), "--model-url", failing.url);
    expect(failed.code).toBe(EXIT.jobFailed);
    const retry = ok(await local(failed.stdout, "--retry-failed", "--model-url", good.url));
    await fs.rm(outOf(parseDescriptor(retry.stdout), "part-00000.csv"));
    const refused = await joinTo(retry.stdout, "j.jsonl");
    expect(refused.stderr).toContain("JOIN_MISSING_OUTPUT");
    expect(refused.stderr).toContain("--retry-failed");
    const again = ok(await local(retry.stdout, "--retry-failed", "--model-url", good.url));
    expect(parseDescriptor(again.stdout).job!.shards).toEqual(["part-00000.csv"]);
    ok(await joinTo(again.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf);
  });

  it("an explicit --output holding another job's .out is refused (exit 75); with --overwrite-output the older .out is left out of the join", async () => {
    const good = await model();
    const failing = await model({ BTKIT_EXAMPLE_FAIL_ON: "15,15,150" });
    const d = await prep();
    const shared = path.join(dir, "shared-out");
    const sharedUri = `file://${shared}`;
    const first = ok(await local(d, "--model-url", good.url, "--output", sharedUri));
    const a = parseDescriptor(first.stdout);
    expect(a.job!.outputLocation).toBe(sharedUri);
    // the first job's .out files are an hour old by the time the next job starts
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const s of a.shards) await fs.utimes(path.join(shared, `${s.name}.out`), hourAgo, hourAgo);

    const refused = await local(first.stdout, "--new", "--model-url", failing.url, "--output", sharedUri);
    expect(refused.code).toBe(EXIT.conflict);
    expect(refused.stderr).toContain("SUBMIT_OUTPUT_CONFLICT");
    expect(refused.stderr).toContain("--overwrite-output");

    const second = await local(first.stdout, "--new", "--model-url", failing.url, "--output", sharedUri, "--overwrite-output");
    expect(second.code).toBe(EXIT.jobFailed);
    expect((await fs.readdir(shared)).sort()).toEqual(["btkit.json", "part-00000.csv.out", "part-00001.csv.out", "part-00002.csv.out"]);
    const partial = ok(await joinTo(second.stdout, "b.jsonl", "--allow-missing"));
    const results = parseDescriptor(partial.stdout).results as Descriptor["results"] & { notes: Array<{ reason: string; count: number }> };
    expect(results.missing).toEqual(["part-00001.csv"]);
    expect(results.notes).toContainEqual({ reason: "foreign .out files (written outside their job's lifetime) left out (--allow-missing)", count: 1 });
    expectRows(await joined("b.jsonl"), [...range(0, 10), ...range(20, 30)], sumOf);
  });

  it("an .out older than the job is JOIN_PROVENANCE naming shard and file; --retry-failed transforms that shard again", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url));
    const d = parseDescriptor(r.stdout);
    const stale = outOf(d, "part-00002.csv");
    const before = new Date(Date.parse(d.job!.createdAt!) - 5000);
    await fs.utimes(stale, before, before);

    const refused = await joinTo(r.stdout, "j.jsonl");
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_PROVENANCE");
    expect(refused.stderr).toContain("shard part-00002.csv");
    expect(refused.stderr).toContain(stale);
    expect(refused.stderr).toContain("--retry-failed");

    const missing = ok(await joinTo(r.stdout, "some.jsonl", "--allow-missing"));
    expect(parseDescriptor(missing.stdout).results!.missing).toEqual(["part-00002.csv"]);
    expectRows(await joined("some.jsonl"), range(0, 20), sumOf);

    const retry = ok(await local(r.stdout, "--retry-failed"));
    expect(parseDescriptor(retry.stdout).job!.shards).toEqual(["part-00002.csv"]);
    ok(await joinTo(retry.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf);
  });

  it("the descriptor printed by btkit stop is refused with the job's status", async () => {
    const slow = await model({ BTKIT_EXAMPLE_DELAY_MS: "60000" });
    const emu = await startEmulator({ stateDir: path.join(dir, "emu-state"), storage: new Storage(), env: process.env });
    closers.push(() => emu.close());
    const env = { AWS_ENDPOINT_URL_SAGEMAKER: emu.endpoint, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: emu.endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
    const sm = new SageMakerClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    await ensureModel({ name: "slow", image: `local-url:${slow.url}` }, { client: sm });
    sm.destroy();
    const running = await cli(["submit", "--model", "slow", "--wait", "--timeout", "0.3", ...FAST], await prep(), env);
    expect(running.code).toBe(EXIT.timeout);
    const stopped = ok(await cli(["stop"], running.stdout, env));
    const status = parseDescriptor(stopped.stdout).job!.status;
    expect(["Stopping", "Stopped"]).toContain(status);
    const refused = await joinTo(stopped.stdout, "j.jsonl");
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_JOB_STATUS");
    expect(refused.stderr).toContain(`is ${status}`);
  });
});

/**
 * Swaps two lines (0-based) of an .out, keeping its time (an edit after the job ended is caught by
 * provenance already: this is the line order alone), and joins again: refused with JOIN_ECHO_MISMATCH.
 */
async function swapAndJoin(descriptor: string, file: string, i: number, j: number): Promise<CliRun> {
  const lines = (await fs.readFile(file, "utf8")).split("\n");
  [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  const { atime, mtime } = await fs.stat(file);
  await fs.writeFile(file, lines.join("\n"));
  await fs.utimes(file, atime, mtime);
  const refused = await joinTo(descriptor, "swapped.jsonl");
  expect(refused.code).toBe(EXIT.data);
  expect(refused.stderr).toContain("JOIN_ECHO_MISMATCH");
  await expect(fs.stat(path.join(dir, "swapped.jsonl"))).rejects.toThrow();
  return refused;
}

describe("JoinSource=Input echoes are compared with the input", () => {
  it("CSV: the joined rows are right, and two swapped .out lines are JOIN_ECHO_MISMATCH naming shard and line", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url, "--join-source", "Input"));
    const d = parseDescriptor(r.stdout);
    const res = ok(await joinTo(r.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf);
    const notes = (parseDescriptor(res.stdout).results as unknown as { notes: Array<{ reason: string; count: number }> }).notes;
    expect(notes).toContainEqual({ reason: "JoinSource=Input lines whose echoed input was checked against the shard line", count: ROWS });

    const swapped = await swapAndJoin(r.stdout, outOf(d, "part-00000.csv"), 2, 3);
    expect(swapped.stderr).toContain("line 3 of");
    expect(swapped.stderr).toContain("shard part-00000.csv");
    expect(swapped.stderr).toContain('expected "2,2,20", found "3,3,30,36"');
  });

  it("JSON Lines: SageMakerOutput is the prediction, and a swapped line is JOIN_ECHO_MISMATCH", async () => {
    const good = await model();
    const r = ok(await local(await prep("--format", "jsonl"), "--model-url", good.url, "--join-source", "Input"));
    const d = parseDescriptor(r.stdout);
    ok(await joinTo(r.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf, "pred_score");

    const swapped = await swapAndJoin(r.stdout, outOf(d, "part-00001.jsonl"), 0, 9);
    expect(swapped.stderr).toContain("line 1 of");
    expect(swapped.stderr).toContain("shard part-00001.jsonl");
  });
});

describe("the job's DataProcessing decides how .out lines are read", () => {
  it("CSV: the documented recipe --input-filter '$[1:]' --join-source Input --output-filter '$[0,-1]' joins id and prediction", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url, "--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]"));
    const d = parseDescriptor(r.stdout);
    // the documented output: id,prediction; the model never saw the id
    expect((await fs.readFile(outOf(d, "part-00001.csv"), "utf8")).split("\n")[0]).toBe(`10,${10 + 100}`);
    ok(await joinTo(r.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), (i) => i + yOf(i));
    // the same join to Parquet, read back by DuckDB
    ok(await cli(["join", "--out", path.join(dir, "j.parquet")], r.stdout));
    const rows = await duckRows(`SELECT * FROM read_parquet(${sqlString(path.join(dir, "j.parquet"))}) ORDER BY id`);
    expectRows(rows, range(0, ROWS), (i) => i + yOf(i));
  });

  it("JSON Lines: --output-filter '$.SageMakerOutput' and $['id','SageMakerOutput'] both join", async () => {
    const good = await model();
    const d = await prep("--format", "jsonl");
    const only = ok(await local(d, "--model-url", good.url, "--join-source", "Input", "--output-filter", "$.SageMakerOutput"));
    ok(await joinTo(only.stdout, "a.jsonl"));
    expectRows(await joined("a.jsonl"), range(0, ROWS), sumOf, "pred_score");

    const named = ok(await local(d, "--new", "--model-url", good.url, "--join-source", "Input", "--output-filter", "$['id','SageMakerOutput']"));
    const nd = parseDescriptor(named.stdout);
    expect(JSON.parse((await fs.readFile(outOf(nd, "part-00000.jsonl"), "utf8")).split("\n")[1]!)).toEqual({ id: 1, SageMakerOutput: { score: sumOf(1), length: 0 } });
    ok(await joinTo(named.stdout, "b.jsonl"));
    expectRows(await joined("b.jsonl"), range(0, ROWS), sumOf, "pred_score");
  });

  it("a CSV filter that keeps only input fields of a one-field prediction is JOIN_PARSE, not a column of nulls", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url, "--join-source", "Input", "--output-filter", "$[-2]"));
    const refused = await joinTo(r.stdout, "j.jsonl");
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_PARSE");
    expect(refused.stderr).toContain("kept none of the model's output");
  });

  it("a filter join could not read is refused before launch, also with --dry-run; the suggested change runs", async () => {
    const good = await model();
    const d = await prep();
    for (const extra of [[], ["--dry-run"]]) {
      const r = await local(d, "--model-url", good.url, "--join-source", "Input", "--output-filter", "$[0,1]", ...extra);
      expect(r.code).toBe(EXIT.usage);
      expect(r.stderr).toContain("SUBMIT_INVALID_REQUEST");
      expect(r.stderr).toContain("change outputFilter (--output-filter)");
    }
    expect(await fs.readdir(path.join(dir, "prep"))).not.toContain("output");
    const fixed = ok(await local(d, "--model-url", good.url, "--join-source", "Input", "--output-filter", "$[0,-1]"));
    ok(await joinTo(fixed.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf);
  });
});

describe("nothing pointless is launched", () => {
  it("an empty preparation: submit launches nothing (exit 0), join writes an empty table with the columns", async () => {
    await fs.writeFile(path.join(dir, "data.csv"), "id,x,y\n");
    const d = await prep();
    const r = ok(await local(d, "--model-command", "false"));
    expect(r.stderr).toContain("nothing to transform");
    expect(parseDescriptor(r.stdout).job).toBeUndefined();
    await expect(fs.stat(path.join(dir, "state"))).rejects.toThrow();
    const dry = ok(await local(d, "--model-command", "false", "--dry-run"));
    expect(dry.stdout).toBe("");
    expect(dry.stderr).toContain("no request to print");
    const j = ok(await cli(["join", "--out", path.join(dir, "empty.csv"), "--format", "csv"], r.stdout));
    expect(parseDescriptor(j.stdout).results!.rows).toBe(0);
    expect(await fs.readFile(path.join(dir, "empty.csv"), "utf8")).toBe("id,x,y\n");
  });

  it("a kept column with the prediction's name is refused at submit; --prediction-name settles it and join uses it", async () => {
    await fs.writeFile(path.join(dir, "data.csv"), `${["id,prediction,x", ...range(0, ROWS).map((i) => `${i},${i % 2},${i}`)].join("\n")}\n`);
    const good = await model();
    const d = await prep("--features", "x");
    const refused = await local(d, "--model-url", good.url);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain("SUBMIT_INVALID_REQUEST");
    expect(refused.stderr).toContain("--prediction-name");
    const r = ok(await local(d, "--model-url", good.url, "--prediction-name", "score"));
    expect(parseDescriptor(r.stdout).job!.predictionName).toBe("score");
    ok(await joinTo(r.stdout, "j.jsonl"));
    const rows = await joined("j.jsonl");
    expect(rows.map((row) => [row.id, row.prediction, row.score])).toEqual(range(0, ROWS).map((i) => [i, i % 2, i]));
  });
});

describe("a model that answers too few lines", () => {
  it("is JOIN_COUNT_MISMATCH naming the way out, and a fresh job with the fixed model (submit --new) joins", async () => {
    const dropping = await model({ BTKIT_EXAMPLE_DROP_LINE: "1" });
    const r = ok(await local(await prep(), "--model-url", dropping.url));
    const refused = await joinTo(r.stdout, "j.jsonl");
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_COUNT_MISMATCH");
    expect(refused.stderr).toContain("btkit submit --new");
    const good = await model();
    const fresh = ok(await local(r.stdout, "--new", "--model-url", good.url));
    ok(await joinTo(fresh.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf);
  });
});

describe("the output format", () => {
  it("comes from --out's extension when --format is not given; a contradicting --format is refused, naming the one that fits", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url));
    ok(await cli(["join", "--out", path.join(dir, "j.csv")], r.stdout));
    // read back by csv-parse, not by us
    const rows = parse(await fs.readFile(path.join(dir, "j.csv")), { columns: true }) as Array<Record<string, string>>;
    expectRows(rows, range(0, ROWS), sumOf);
    const refused = await cli(["join", "--out", path.join(dir, "k.csv"), "--format", "parquet"], r.stdout);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain("give --format csv");
    ok(await cli(["join", "--out", path.join(dir, "k.csv"), "--format", "csv"], r.stdout));
    ok(await cli(["join", "--out", path.join(dir, "j.out")], r.stdout));
    expect((await fs.readFile(path.join(dir, "j.out"))).subarray(0, 4).toString()).toBe("PAR1");
  });
});

describe("predictions that widen", () => {
  it("integer predictions in the first shards and floats later become one float64 column, with a note", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url));
    const j = ok(await cli(["join", "--out", path.join(dir, "j.parquet")], r.stdout));
    const results = parseDescriptor(j.stdout).results as unknown as { columns: Array<{ name: string; type: string }>; notes: Array<{ reason: string; count: number }> };
    expect(results.columns).toContainEqual({ name: "prediction", type: "float64" });
    expect(results.notes.some((n) => n.reason.startsWith("prediction column prediction widened from int64 to float64") && n.reason.includes("part-00002.csv"))).toBe(true);
    ok(await joinTo(r.stdout, "j.jsonl"));
    expectRows(await joined("j.jsonl"), range(0, ROWS), sumOf);
  });

  it("joined as parts, the parts must agree: a part that meets a float is refused, and --prediction-type on every part settles it", async () => {
    const good = await model();
    const r = ok(await local(await prep(), "--model-url", good.url));
    const part = (i: number, ...extra: string[]) => cli(["join", "--part", `${i}/2`, "--out", path.join(dir, "parts"), "--format", "jsonl", ...extra], r.stdout);
    expect((await part(0)).code).toBe(0);
    const refused = await part(1);
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("JOIN_TYPE_CONFLICT");
    expect(refused.stderr).toContain("--prediction-type prediction=float64");
    for (const i of [0, 1]) {
      const p = ok(await part(i, "--prediction-type", "prediction=float64"));
      expect((parseDescriptor(p.stdout).results as unknown as { columns: Array<{ name: string; type: string }> }).columns).toContainEqual({ name: "prediction", type: "float64" });
    }
    const rows = [...(await joined("parts/part-0of2.jsonl")), ...(await joined("parts/part-1of2.jsonl"))];
    expectRows(rows, range(0, ROWS), sumOf);
  });
});
