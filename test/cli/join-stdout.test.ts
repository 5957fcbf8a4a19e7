/**
 * btkit join --out -: the joined table streams to stdout (JSON Lines by default, CSV, an Arrow IPC
 * stream), as prep reads - from stdin; the descriptor goes to --descriptor-out only, and nothing
 * is written under a file named "-". Formats a stream cannot hold are refused naming --format.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { tableFromIPC } from "apache-arrow";
import { parse } from "csv-parse/sync";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { Storage } from "../../src/io/storage.js";
import { parseDescriptor, serializeDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { jsonOut, makeRows, writeFixture, type Row } from "../join/fixture.js";

let dir: string;
let cleanup: () => Promise<void>;
let d: Descriptor;
let rows: Row[];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-join-stdout-"));
  const storage = new Storage();
  rows = makeRows(9, 41);
  ({ descriptor: d } = await writeFixture(storage, storage.parse(path.join(dir, "prep")), { shards: [{ rows: rows.slice(0, 5), out: jsonOut(rows.slice(0, 5)) }, { rows: rows.slice(5), out: jsonOut(rows.slice(5)) }] }));
});
afterEach(() => cleanup());

const join = (args: string[], descriptor: Descriptor = d) => runCli(["join", ...args], { stdin: serializeDescriptor(descriptor), cwd: dir });

describe("join --out -", () => {
  it("streams JSON Lines to stdout by default; the descriptor is not printed, and no file named - is written", async () => {
    const r = await join(["--out", "-"]);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.id)).toEqual(rows.map((x) => Number(x.id)));
    expect(lines.map((l) => l.pred_label)).toEqual(rows.map((x) => Number(x.id) % 3));
    expect(lines[0]).toMatchObject({ name: rows[0]!.name, x2: Number(rows[0]!.x2) });
    expect(r.stderr).toContain("join: 9/9 rows -> stdout");
    expect(r.stderr).toContain("join: stdout carries the table, so the descriptor with its results is not printed (--descriptor-out PATH stores it)");
    await expect(fs.stat(path.join(dir, "-"))).rejects.toThrow(/ENOENT/);
    expect((await fs.readdir(dir)).sort()).toEqual(["prep"]);
  });

  it("--format csv and arrow-stream; --descriptor-out stores the descriptor with results naming stdout", async () => {
    const csv = await join(["--out", "-", "--format", "csv", "--descriptor-out", "joined.json"]);
    expect(csv.code).toBe(0);
    const table = parse(csv.stdout, { columns: true }) as Array<Record<string, string>>;
    expect(table.map((t) => t.id)).toEqual(rows.map((x) => String(x.id)));
    expect(Object.keys(table[0]!)).toEqual(["id", "name", "score", "flag", "ts", "meta", "x1", "x2", "pred_label", "pred_p"]);
    expect(csv.stderr).not.toContain("is not printed");
    const stored = parseDescriptor(await fs.readFile(path.join(dir, "joined.json"), "utf8"));
    expect(stored.results).toMatchObject({ location: "stdout", format: "csv", rows: 9, files: [], missing: [], rowsPerShard: { "part-00000.csv": 5, "part-00001.csv": 4 } });

    const arrow = await runArrow(["--out", "-", "--format", "arrow-stream"]);
    expect(arrow.numRows).toBe(9);
    expect(arrow.schema.fields.map((f) => f.name)).toEqual(["id", "name", "score", "flag", "ts", "meta", "x1", "x2", "pred_label", "pred_p"]);
    expect([...arrow.getChild("id")!].map(Number)).toEqual(rows.map((x) => Number(x.id)));
  });

  it.each(["parquet", "arrow"])("--format %s is refused for stdout naming --format; the stream formats pass on the same input", async (format) => {
    const r = await join(["--out", "-", "--format", format]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`error [USAGE_BAD_VALUE]: --out - streams the table to stdout, which cannot hold ${format === "parquet" ? "Parquet" : "an Arrow IPC file"} (its footer points back into the file): give --format jsonl, csv or arrow-stream, or an --out file`);
    for (const ok of ["jsonl", "csv"]) {
      const again = await join(["--out", "-", "--format", ok]);
      expect(again.code).toBe(0);
      expect(again.stdout.trimEnd().split("\n")).toHaveLength(ok === "csv" ? 10 : 9);
    }
    expect((await runArrow(["--out", "-", "--format", "arrow-stream"])).numRows).toBe(9);
    const file = await join(["--out", `t.${format}`, "--format", format]);
    expect(file.code).toBe(0);
    expect(parseDescriptor(file.stdout).results!.rows).toBe(9);
  });

  it("--partitioned and --part are refused for stdout; a folder --out takes them", async () => {
    for (const flags of [["--partitioned"], ["--part", "0/2"]]) {
      const r = await join(["--out", "-", ...flags]);
      expect(r.code).toBe(EXIT.usage);
      expect(r.stderr).toContain(`error [USAGE_BAD_VALUE]: --out - is one stream, but ${flags[0]} writes files into a folder: give --out a folder or prefix`);
      const ok = await join(["--out", `folder-${flags.length}`, ...flags]);
      expect(ok.code).toBe(0);
      expect(parseDescriptor(ok.stdout).results!.rows).toBe(flags.length === 1 ? 9 : 5);
    }
  });

  it("a prediction column widened from int64 after rows went out fails naming --prediction-type, which then passes", async () => {
    const storage = new Storage();
    const many = makeRows(5000, 42);
    const out = many.map((_, i) => (i < 4500 ? `${i}\n` : `${i}.5\n`)).join("");
    const { descriptor } = await writeFixture(storage, storage.parse(path.join(dir, "wide")), { shards: [{ rows: many, out }], sidecarBatchRows: 1000 });
    const r = await join(["--out", "-"], descriptor);
    expect(r.code).toBe(EXIT.data);
    expect(r.stderr).toContain("error [JOIN_TYPE_CONFLICT]: prediction column prediction is int64 from the first batch, but line 4501 of");
    expect(r.stderr).toContain("and the rows before it were written to stdout already: join again with predictionTypes: { \"prediction\": \"float64\" } (--prediction-type prediction=float64)");
    const ok = await join(["--out", "-", "--prediction-type", "prediction=float64"], descriptor);
    expect(ok.code).toBe(0);
    const lines = ok.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { prediction: number });
    expect(lines).toHaveLength(5000);
    expect(lines[4500]!.prediction).toBe(4500.5);
    // into a file, join widens by itself and notes it
    const file = await join(["--out", "wide.jsonl"], descriptor);
    expect(file.code).toBe(0);
    expect(parseDescriptor(file.stdout).results!.notes!.map((n) => n.reason)[0]).toContain("prediction column prediction widened from int64 to float64");
  });

  it("a prediction that does not fit its declared nested type is JOIN_TYPE_CONFLICT naming its line, not an unreadable sidecar; the suggested declaration passes", async () => {
    const storage = new Storage();
    const rows = makeRows(6, 44);
    const out = ['{"p":[1,2]}', '{"p":[3]}', '{"p":[0,"x"]}', '{"p":[4]}', '{"p":[]}', '{"p":null}'].map((l) => `${l}\n`).join("");
    const { descriptor } = await writeFixture(storage, storage.parse(path.join(dir, "nested")), { shards: [{ rows, out }] });
    const r = await join(["--out", "nested.jsonl", "--prediction-type", "pred_p=list<int64>"], descriptor);
    expect(r.code).toBe(EXIT.data);
    expect(r.stderr).toContain("error [JOIN_TYPE_CONFLICT]: line 3 of");
    expect(r.stderr).toContain('column pred_p is list<int64> (declared), got [0,"x"] (value[] holds the string "x", not a int64); declare it with');
    expect(r.stderr).toContain("(--prediction-type pred_p=TYPE)");
    expect(r.stderr).not.toContain("JOIN_SIDECAR");
    const ok = await join(["--out", "nested.jsonl", "--prediction-type", "pred_p=json"], descriptor);
    expect(ok.code).toBe(0);
    const got = (await fs.readFile(path.join(dir, "nested.jsonl"), "utf8")).trimEnd().split("\n").map((l) => (JSON.parse(l) as { pred_p: unknown }).pred_p);
    expect(got).toEqual([[1, 2], [3], [0, "x"], [4], [], null]);
  });

  it("--prediction-type for no prediction column is refused naming the columns there are; the suggested one passes", async () => {
    const storage = new Storage();
    const rows = makeRows(4, 45);
    const { descriptor } = await writeFixture(storage, storage.parse(path.join(dir, "scalar")), { shards: [{ rows, out: "1\n2\n3\n4\n" }] });
    // a typo of the column's name was left out without a word: the scores came out int64
    const r = await join(["--out", "scalar.jsonl", "--prediction-type", "predictions=float64"], descriptor);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('error [OPT_INVALID]: predictionTypes declares "predictions", which is no prediction column: line 1 of');
    expect(r.stderr).toContain("holds one value per line, column prediction (predictionName (--prediction-name) names it); declare one of those, for example predictionTypes: { \"prediction\": \"float64\" } (--prediction-type prediction=float64)");
    await expect(fs.stat(path.join(dir, "scalar.jsonl"))).rejects.toThrow(/ENOENT/);
    const ok = await join(["--out", "scalar.jsonl", "--prediction-type", "prediction=float64"], descriptor);
    expect(ok.code, ok.stderr).toBe(0);
    const got = (await fs.readFile(path.join(dir, "scalar.jsonl"), "utf8")).trimEnd().split("\n");
    expect(got.map((l) => (JSON.parse(l) as { prediction: number }).prediction)).toEqual([1, 2, 3, 4]);
    expect(parseDescriptor(ok.stdout.trim(), "stdout").results!.columns).toContainEqual({ name: "prediction", type: "float64" });
  });

  it("a negative zero after int64 predictions widens the column to float64 and keeps its sign (it was written 0)", async () => {
    const storage = new Storage();
    const many = makeRows(5000, 43);
    const out = many.map((_, i) => (i === 4500 ? "-0.0\n" : i === 4501 ? "-0\n" : `${i}\n`)).join("");
    const { descriptor } = await writeFixture(storage, storage.parse(path.join(dir, "negzero")), { shards: [{ rows: many, out }], sidecarBatchRows: 1000 });
    const file = await join(["--out", "negzero.jsonl"], descriptor);
    expect(file.code).toBe(0);
    const results = parseDescriptor(file.stdout).results!;
    expect(results.columns!.find((c) => c.name === "prediction")!.type).toBe("float64");
    expect(results.notes!.map((n) => n.reason)[0]).toContain("prediction column prediction widened from int64 to float64");
    const text = (await fs.readFile(path.join(dir, "negzero.jsonl"), "utf8")).trimEnd().split("\n");
    const values = text.map((l) => (JSON.parse(l) as { prediction: number }).prediction);
    expect(values.slice(4499, 4503).map((v) => (Object.is(v, -0) ? "-0" : v))).toEqual([4499, "-0", "-0", 4502]);
    expect(text[4500]).toContain('"prediction":-0.0');
    // an independent reader: Python's json keeps the sign (math.copysign)
    const py = spawnSync("python3", ["-c", "import json, math, sys\nrows = [json.loads(l) for l in open(sys.argv[1])]\nprint(json.dumps([math.copysign(1, rows[i]['prediction']) for i in (4499, 4500, 4501)]))", path.join(dir, "negzero.jsonl")], { encoding: "utf8" });
    expect(py.status, py.stderr).toBe(0);
    expect(JSON.parse(py.stdout)).toEqual([1, -1, -1]);
  });

  it("without a descriptor (--inputs/--outputs) as well", async () => {
    const r = await runCli(["join", "--inputs", path.join(dir, "prep", "shards"), "--outputs", path.join(dir, "prep", "output"), "--out", "-", "--format", "csv", "--descriptor-out", "r.json"], { cwd: dir });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(10);
    expect(JSON.parse(await fs.readFile(path.join(dir, "r.json"), "utf8")).results).toMatchObject({ location: "stdout", rows: 9, files: [] });
  });
});

describe("join --part into an --out named like a file", () => {
  it("writes the part into that folder, says so, and takes the format from its extension", async () => {
    const r = await join(["--out", "x.parquet", "--part", "1/2"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`join: --part writes into a folder: x.parquet is the dataset's folder, and this part goes to x.parquet/part-1of2.parquet`);
    expect(parseDescriptor(r.stdout).results!.files).toEqual([`file://${path.join(dir, "x.parquet", "part-1of2.parquet")}`]);
    const csv = await join(["--out", "y.csv", "--part", "0/2"]);
    expect(csv.code).toBe(0);
    expect(await fs.readdir(path.join(dir, "y.csv"))).toContain("part-0of2.csv");
    // --format says otherwise: the folder's name does not refuse it
    const other = await join(["--out", "z.csv", "--part", "1/2", "--format", "jsonl"]);
    expect(other.code).toBe(0);
    expect(await fs.readdir(path.join(dir, "z.csv"))).toContain("part-1of2.jsonl");
  });
});

describe("join given a preparation's descriptor (no job section)", () => {
  it("joins the latest job's descriptor stored beside its output, and says so; none stored is SUBMIT_NO_JOB", async () => {
    const { job: _job, ...prep } = d;
    await fs.writeFile(path.join(dir, "prep", "btkit.json"), serializeDescriptor(prep));
    const none = await runCli(["join", "--descriptor", "prep", "--out", "-"], { cwd: dir });
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain(`error [SUBMIT_NO_JOB]: nothing to join: ${path.join(dir, "prep", "btkit.json")} is a preparation's (no job section), and no job's descriptor for it is stored under ${path.join(dir, "prep", "output")}/`);
    expect(none.stdout).toBe("");
    await fs.mkdir(path.join(dir, "prep", "output", "job-1"), { recursive: true });
    await fs.writeFile(path.join(dir, "prep", "output", "job-1", "btkit.json"), serializeDescriptor(d));
    const r = await runCli(["join", "--descriptor", "prep", "--out", "joined.jsonl"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`join: ${path.join(dir, "prep", "btkit.json")} has no job section: using the latest job's descriptor, ${path.join(dir, "prep", "output", "job-1", "btkit.json")} (job job-1, Completed)`);
    expect(parseDescriptor(r.stdout)).toMatchObject({ job: { name: "job-1" }, results: { rows: 9 } });
  });
});

/** The Arrow table a join to stdout printed. */
async function runArrow(args: string[]) {
  const { PassThrough, Readable } = await import("node:stream");
  const { main } = await import("../../src/cli/main.js");
  const out: Buffer[] = [];
  const stdout = new PassThrough();
  stdout.on("data", (c: Buffer) => out.push(c));
  const code = await main(["join", ...args], { stdin: Readable.from([Buffer.from(serializeDescriptor(d))]), stdout, stderr: new PassThrough(), env: { BTKIT_PROGRESS_INTERVAL_MS: "0" }, cwd: dir });
  expect(code).toBe(0);
  return tableFromIPC(Buffer.concat(out));
}
