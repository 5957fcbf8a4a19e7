import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { joinFiles } from "../../src/join/index.js";
import { BtkitError } from "../../src/errors.js";
import { Storage } from "../../src/io/storage.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, sqlString } from "./duck.js";

let dir: string;
let cleanup: () => Promise<void>;
const storage = new Storage();
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  await fs.mkdir(path.join(dir, "in"));
  await fs.mkdir(path.join(dir, "out"));
});
afterEach(async () => cleanup());

async function put(rel: string, body: string | Buffer): Promise<void> {
  await fs.writeFile(path.join(dir, rel), body);
}

describe("join without a descriptor (--inputs, --outputs)", () => {
  it("pairs each input with <name>.out: headerless CSV (gzipped too) and a scalar CSV prediction", async () => {
    await put("in/a.csv", "1,x,0.5\n2,y,1.5\n");
    await put("in/b.csv.gz", gzipSync('3,"z,w",2.5\n'));
    await put("out/a.csv.out", "0.9\n0.1\n");
    await put("out/b.csv.gz.out", "0.7\n");
    const out = path.join(dir, "j.parquet");
    const res = await joinFiles({ inputs: [path.join(dir, "in")], outputs: path.join(dir, "out"), out, storage });
    expect(res.rowsPerShard).toEqual({ "a.csv": 2, "b.csv.gz": 1 });
    expect(res.pairs.map((p) => path.basename(p.output))).toEqual(["a.csv.out", "b.csv.gz.out"]);
    expect(await duckRows(`SELECT * FROM read_parquet(${sqlString(out)})`)).toEqual([
      { in_0: 1n, in_1: "x", in_2: 0.5, prediction: 0.9 },
      { in_0: 2n, in_1: "y", in_2: 1.5, prediction: 0.1 },
      { in_0: 3n, in_1: "z,w", in_2: 2.5, prediction: 0.7 },
    ]);
  });

  it("parses JoinSource=Input outputs: JSON (SageMakerOutput) and CSV (input fields first)", async () => {
    await put("in/a.jsonl", '{"age":30,"city":"Oslo"}\n{"age":41,"city":"Roma"}\n');
    await put("out/a.jsonl.out", '{"age":30,"city":"Oslo","SageMakerOutput":{"score":0.25}}\n{"age":41,"city":"Roma","SageMakerOutput":{"score":0.75}}\n');
    const out = path.join(dir, "j.jsonl");
    await joinFiles({ inputs: [path.join(dir, "in/a.jsonl")], outputs: path.join(dir, "out"), out, storage, joinSource: "input", format: "jsonl" });
    expect((await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([
      { in_age: 30, in_city: "Oslo", pred_score: 0.25 },
      { in_age: 41, in_city: "Roma", pred_score: 0.75 },
    ]);

    await put("in/c.csv", "1,2\n3,4\n");
    await put("out/c.csv.out", "1,2,0.5\n3,4,0.25\n");
    const out2 = path.join(dir, "c.csv");
    const r = await runCli(["join", "--inputs", path.join(dir, "in/c.csv"), "--outputs", path.join(dir, "out"), "--out", out2, "--format", "csv", "--join-source", "input"]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { results: { rows: number } }).results.rows).toBe(2);
    expect(await fs.readFile(out2, "utf8")).toBe("in_0,in_1,prediction\n1,2,0.5\n3,4,0.25\n");

    // the model's fields pass on as written: a quoted "" in a prediction declared utf8 stays the empty string (DuckDB reads it apart from null)
    await put("out/c.csv.out", '1,2,"",x\n3,4,,""\n');
    const out3 = path.join(dir, "e.csv");
    const empty = await runCli(["join", "--inputs", path.join(dir, "in/c.csv"), "--outputs", path.join(dir, "out"), "--out", out3, "--join-source", "input", "--prediction-type", "pred_0=utf8", "--prediction-type", "pred_1=utf8"]);
    expect(empty.code).toBe(0);
    expect(await fs.readFile(out3, "utf8")).toBe('in_0,in_1,pred_0,pred_1\n1,2,"",x\n3,4,,""\n');
    expect(await duckRows(`SELECT pred_0, pred_1 FROM read_csv(${sqlString(out3)}, allow_quoted_nulls = false, all_varchar = true)`)).toEqual([{ pred_0: "", pred_1: "x" }, { pred_0: null, pred_1: "" }]);

    // without a descriptor too, echoes are checked: swapped lines are refused, not joined to the wrong rows
    await put("out/c.csv.out", "3,4,0.25\n1,2,0.5\n");
    const swapped = await runCli(["join", "--inputs", path.join(dir, "in/c.csv"), "--outputs", path.join(dir, "out"), "--out", path.join(dir, "d.csv"), "--join-source", "input"]);
    expect(swapped.code).toBe(65);
    expect(swapped.stderr).toContain("JOIN_ECHO_MISMATCH");
    await put("out/a.jsonl.out", '{"age":41,"city":"Roma","SageMakerOutput":{"score":0.75}}\n{"age":30,"city":"Oslo","SageMakerOutput":{"score":0.25}}\n');
    const e = await joinFiles({ inputs: [path.join(dir, "in/a.jsonl")], outputs: path.join(dir, "out"), out: path.join(dir, "k.jsonl"), storage, joinSource: "input", format: "jsonl" }).catch((x: unknown) => x);
    expect((e as BtkitError).code).toBe("JOIN_ECHO_MISMATCH");
  });

  it("counts what the values went through, and the CLI says it: a 17-digit input number rounded into float64, CRs stripped", async () => {
    await put("in/a.csv", "1,0.10000000000000001\r\n2,0.5\r\n");
    await put("out/a.csv.out", "0.9\n0.1\n");
    const res = await joinFiles({ inputs: [path.join(dir, "in")], outputs: path.join(dir, "out"), out: path.join(dir, "n.jsonl"), storage, format: "jsonl" });
    expect(res.notes).toEqual([
      { reason: "input numbers with more significant digits than a double keeps: rounded in float64 columns", count: 1 },
      { reason: "CR before LF stripped from lines", count: 2 },
    ]);
    const cli = await runCli(["join", "--inputs", path.join(dir, "in"), "--outputs", path.join(dir, "out"), "--out", path.join(dir, "c.jsonl")]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toContain("join: note: input numbers with more significant digits than a double keeps: rounded in float64 columns (1)");
    // nothing to say: no notes
    await put("in/a.csv", "1,0.5\n2,0.25\n");
    expect((await joinFiles({ inputs: [path.join(dir, "in")], outputs: path.join(dir, "out"), out: path.join(dir, "m.jsonl"), storage, format: "jsonl" })).notes).toEqual([]);
  });

  it("an input or prediction column int64 in the first batch that meets a float later is widened to float64 and the join runs again, with a note (DuckDB reads it back)", async () => {
    // batches of 3: the floats come in the second batch, in an input column and in the predictions
    const n = 6;
    await put("in/a.csv", Array.from({ length: n }, (_, i) => `${i},${i < 4 ? i : i + 0.25}\n`).join(""));
    await put("out/a.csv.out", Array.from({ length: n }, (_, i) => `{"p":${i < 5 ? i : "0.10000000000000001"}}\n`).join(""));
    const out = path.join(dir, "w.parquet");
    const res = await joinFiles({ inputs: [path.join(dir, "in")], outputs: path.join(dir, "out"), out, storage, batchRows: 3 });
    expect(res.notes.map((x) => x.reason)).toEqual(expect.arrayContaining([expect.stringContaining("column in_1 widened from int64 to float64 (line 5 of"), expect.stringContaining("column pred_p widened from int64 to float64 (line 6 of")]));
    expect(await duckRows(`SELECT in_1, pred_p FROM read_parquet(${sqlString(out)})`)).toEqual([
      { in_1: 0, pred_p: 0 },
      { in_1: 1, pred_p: 1 },
      { in_1: 2, pred_p: 2 },
      { in_1: 3, pred_p: 3 },
      { in_1: 4.25, pred_p: 4 },
      { in_1: 5.25, pred_p: 0.1 },
    ]);
    // through a sink the rows before went out already: the error names the flag
    const sink = { location: "stdout", write: async (body: AsyncIterable<Uint8Array>) => { for await (const _ of body) void _; } };
    const err = await joinFiles({ inputs: [path.join(dir, "in", "a.csv")], outputs: path.join(dir, "out"), out: "-", storage, batchRows: 3, format: "jsonl", sink, predictionTypes: { pred_p: "float64" } }).catch((e: unknown) => e as BtkitError);
    expect(err).toMatchObject({ code: "JOIN_TYPE_CONFLICT", context: { column: "in_1", line: 5 } });
  });

  it("two inputs with one name are JOIN_PAIRING; a missing .out is JOIN_MISSING_OUTPUT; counts must match", async () => {
    await fs.mkdir(path.join(dir, "in/sub"));
    await put("in/a.csv", "1\n");
    await put("in/sub/a.csv", "2\n");
    await put("out/a.csv.out", "0\n");
    const err = await joinFiles({ inputs: [path.join(dir, "in")], outputs: path.join(dir, "out"), out: path.join(dir, "j.parquet"), storage }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtkitError);
    expect((err as BtkitError).code).toBe("JOIN_PAIRING");

    await put("in/b.csv", "1\n2\n");
    const miss = await joinFiles({ inputs: [path.join(dir, "in/a.csv"), path.join(dir, "in/b.csv")], outputs: path.join(dir, "out"), out: path.join(dir, "j.parquet"), storage }).catch((e: unknown) => e);
    expect((miss as BtkitError).code).toBe("JOIN_MISSING_OUTPUT");
    expect((miss as BtkitError).context.missing).toEqual(["b.csv"]);

    await put("out/b.csv.out", "0\n");
    const count = await joinFiles({ inputs: [path.join(dir, "in/b.csv")], outputs: path.join(dir, "out"), out: path.join(dir, "j.parquet"), storage }).catch((e: unknown) => e);
    expect((count as BtkitError).code).toBe("JOIN_COUNT_MISMATCH");
    expect((count as BtkitError).context).toMatchObject({ expected: 2, got: 1, shard: "b.csv" });
    await expect(fs.access(path.join(dir, "j.parquet"))).rejects.toThrow();
  });
});
