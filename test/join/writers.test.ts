import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { tableFromIPC, type Decimal, type RecordBatch } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as pw from "parquet-wasm";
import { createWriter, isoMicros, join, joinRows } from "../../src/join/index.js";
import { Storage } from "../../src/io/storage.js";
import { decimalBatch } from "../helpers/arrow.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, sqlString } from "./duck.js";
import { COLUMNS, jsonOut, makeRows, writeFixture, type Row } from "./fixture.js";

let dir: string;
let cleanup: () => Promise<void>;
const storage = new Storage();
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

const KEEP = COLUMNS.filter((c) => c.roles.includes("keep")).map((c) => c.name);
// the writers are under test here: the kept columns only (join reads features back by default, tested in join-parquet)
const KEPT_ONLY = { withFeatures: false } as const;

async function joined(format: "arrow" | "arrow-stream" | "jsonl" | "csv", rows: Row[]): Promise<string> {
  const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: rows.slice(0, 5), out: jsonOut(rows.slice(0, 5)) }, { rows: rows.slice(5), out: jsonOut(rows.slice(5)) }] });
  const out = path.join(dir, `joined.${format}`);
  await join({ descriptor: fx.descriptor, out, storage, format, batchRows: 3, ...KEPT_ONLY });
  return out;
}

describe("writers", () => {
  const rows = makeRows(12, 21);

  it("arrow (file) and arrow-stream read back with the same values and types", async () => {
    for (const format of ["arrow", "arrow-stream"] as const) {
      const out = await joined(format, rows);
      const t = tableFromIPC(await fs.readFile(out));
      expect(t.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(["id:Int64", "name:Utf8", "score:Float64", "flag:Bool", "ts:Timestamp<MICROSECOND, UTC>", "meta:Utf8", "pred_label:Int64", "pred_p:Float64"]);
      expect(t.numRows).toBe(12);
      expect(t.getChild("id")!.toArray()).toEqual(new BigInt64Array(rows.map((r) => r.id as bigint)));
      expect([...t.getChild("name")!]).toEqual(rows.map((r) => r.name));
      expect([...t.getChild("score")!]).toEqual(rows.map((r) => r.score));
      expect([...t.getChild("pred_p")!]).toEqual(rows.map((r) => Number(r.id) / 1000 + 0.5));
      await fs.rm(out);
    }
  });

  it("jsonl: int64 exact, timestamps ISO with microseconds, json columns embedded", async () => {
    const out = await joined("jsonl", rows);
    const got = (await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toEqual(
      rows.map((r) => ({
        id: Number(r.id),
        name: r.name,
        score: r.score,
        flag: r.flag,
        ts: isoMicros(r.ts as bigint),
        meta: JSON.parse(r.meta as string),
        pred_label: Number(r.id) % 3,
        pred_p: Number(r.id) / 1000 + 0.5,
      })),
    );
    expect(isoMicros(1_700_000_000_123_456n)).toBe("2023-11-14T22:13:20.123456Z");
  });

  it("csv: header, quoted fields, empty for null; DuckDB reads it back", async () => {
    const out = await joined("csv", rows);
    const text = await fs.readFile(out, "utf8");
    expect(text.split("\n")[0]).toBe([...KEEP, "pred_label", "pred_p"].join(","));
    const back = await duckRows(`SELECT id, name, score, meta FROM read_csv(${sqlString(out)}, header = true, all_varchar = true)`);
    expect(back).toEqual(rows.map((r) => ({ id: String(r.id), name: r.name, score: r.score === null ? null : String(r.score), meta: r.meta })));
  });

  it("an empty join still has its columns in every format", async () => {
    const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: [], out: "" }] });
    const pq = path.join(dir, "empty.parquet");
    await join({ descriptor: fx.descriptor, out: pq, storage, predictionTypes: { prediction: "float64" }, ...KEPT_ONLY });
    expect(await duckRows(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(pq)})`)).toEqual([{ n: 0 }]);
    expect((await duckRows(`DESCRIBE SELECT * FROM read_parquet(${sqlString(pq)})`)).map((r) => r.column_name)).toEqual([...KEEP, "prediction"]);
    const csv = path.join(dir, "empty.csv");
    await join({ descriptor: fx.descriptor, out: csv, storage, format: "csv", ...KEPT_ONLY });
    expect(await fs.readFile(csv, "utf8")).toBe(`${KEEP.join(",")}\n`);
    const arrow = path.join(dir, "empty.arrow");
    await join({ descriptor: fx.descriptor, out: arrow, storage, format: "arrow", ...KEPT_ONLY });
    expect(tableFromIPC(await fs.readFile(arrow)).schema.fields.map((f) => f.name)).toEqual(KEEP);
  });

  describe("JSON Lines and CSV on a worker thread", () => {
    /** the joined batches of 12 rows (features read back, batches of 3), as join writes them */
    async function batches(): Promise<RecordBatch[]> {
      const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: rows.slice(0, 5), out: jsonOut(rows.slice(0, 5)) }, { rows: rows.slice(5), out: jsonOut(rows.slice(5)) }] });
      const out: RecordBatch[] = [];
      for await (const b of joinRows(fx.descriptor, { storage, batchRows: 3 })) out.push(b);
      return out;
    }
    async function bytesOf(format: "jsonl" | "csv", input: AsyncIterable<RecordBatch> | RecordBatch[], textWorkerAfterRows: number): Promise<string> {
      const parts: Uint8Array[] = [];
      const source = Array.isArray(input) ? (async function* () { yield* input; })() : input;
      for await (const c of createWriter({ format, textWorkerAfterRows })(source)) parts.push(c);
      return Buffer.concat(parts).toString("utf8");
    }

    it("write the bytes the main thread writes, whichever batch the worker takes over from", async () => {
      const bs = await batches();
      expect(bs.length).toBeGreaterThan(3);
      for (const format of ["jsonl", "csv"] as const) {
        const here = await bytesOf(format, bs, Infinity);
        expect(here.split("\n").length).toBe(rows.length + (format === "csv" ? 2 : 1));
        // 0: every row on the worker (it writes the CSV header); 1 and 4: the first batch or two here, the rest there
        for (const after of [0, 1, 4]) expect(await bytesOf(format, bs, after)).toBe(here);
      }
    });

    it("an error of the batches after the worker took over is thrown as it is (join restarts on its own errors by identity)", async () => {
      const bs = await batches();
      const boom = new Error("boom from the aligner");
      const failing = (async function* () {
        yield* bs.slice(0, 3);
        throw boom;
      })();
      await expect(bytesOf("jsonl", failing, 0)).rejects.toBe(boom);
    });

    it("a reader that stops early ends the worker (no hang)", async () => {
      const bs = await batches();
      const it = createWriter({ format: "jsonl", textWorkerAfterRows: 0 })((async function* () { yield* bs; })());
      const first = await it.next();
      expect(Buffer.from(first.value as Uint8Array).toString("utf8").split("\n")[0]).toContain('"id":0');
      await it.return(undefined);
    });

    it("the built CLI's join past 16,384 rows (its worker loaded from dist/) writes the bytes the main thread writes", async () => {
      const big = makeRows(20_000, 22);
      const fx = await writeFixture(storage, storage.parse(dir), { sidecarBatchRows: 4096, shards: [{ rows: big.slice(0, 9000), out: jsonOut(big.slice(0, 9000)) }, { rows: big.slice(9000), out: jsonOut(big.slice(9000)) }] });
      await fs.writeFile(path.join(dir, "btkit.json"), JSON.stringify(fx.descriptor));
      const here: RecordBatch[] = [];
      for await (const b of joinRows(fx.descriptor, { storage })) here.push(b);
      for (const format of ["jsonl", "csv"] as const) {
        const out = path.join(dir, `cli.${format}`);
        const r = spawnSync(process.execPath, [path.resolve("dist/bin/btkit.js"), "join", "--descriptor", dir, "--out", out, "--quiet"], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const want = await bytesOf(format, here, Infinity);
        expect(want.split("\n").length).toBe(big.length + (format === "csv" ? 2 : 1));
        expect(await fs.readFile(out, "utf8")).toBe(want);
      }
    });

    it("textWorkerAfterRows must be a whole number >= 0 or Infinity", () => {
      expect(() => createWriter({ format: "csv", textWorkerAfterRows: -1 })).toThrow(expect.objectContaining({ code: "OPT_INVALID", context: expect.objectContaining({ option: "textWorkerAfterRows" }) }) as Error);
      expect(() => createWriter({ format: "csv", textWorkerAfterRows: 1.5 })).toThrow(expect.objectContaining({ code: "OPT_INVALID" }) as Error);
    });
  });

  it("createWriter rejects an unknown format", () => {
    expect(() => createWriter({ format: "xlsx" as "csv" })).toThrow(expect.objectContaining({ code: "OPT_INVALID" }) as Error);
  });

  it("one writer takes batches of one schema: equal ones made apart are written; another (a decimal of another scale) is OPT_INVALID naming the batch, never dropped or written with the first's schema", async () => {
    const drain = async (format: "parquet" | "arrow" | "arrow-stream" | "jsonl" | "csv", batches: RecordBatch[]): Promise<Buffer> => {
      const parts: Uint8Array[] = [];
      for await (const c of createWriter({ format, textWorkerAfterRows: Infinity })((async function* () { yield* batches; })())) parts.push(c);
      return Buffer.concat(parts);
    };
    for (const format of ["parquet", "arrow", "arrow-stream", "jsonl", "csv"] as const) {
      // two schemas of equal content, made apart (other objects): one file of both rows
      const same = await drain(format, [decimalBatch(2, 10), decimalBatch(2, 10)]);
      if (format === "arrow" || format === "arrow-stream") expect(tableFromIPC(same).numRows).toBe(2);
      if (format === "parquet") {
        const back = tableFromIPC(pw.readParquet(same).intoIPCStream());
        expect(back.numRows).toBe(2);
        expect([(back.schema.fields[0]!.type as Decimal).scale, (back.schema.fields[0]!.type as Decimal).precision]).toEqual([2, 10]);
      }
      if (format === "jsonl") expect(same.toString()).toBe('{"d":123.45}\n{"d":123.45}\n');
      const err = await drain(format, [decimalBatch(2, 10), decimalBatch(4, 20)]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "OPT_INVALID", context: { option: "batches" } });
      expect((err as Error).message).toContain(`the batches given to one ${format} writer must share one schema: batch 2 has (d: Decimal[20e+4]), the first had (d: Decimal[10e+2])`);
      const renamed = await drain(format, [decimalBatch(2, 10), decimalBatch(2, 10, "e")]).catch((e: unknown) => e);
      expect(renamed).toMatchObject({ code: "OPT_INVALID" });
    }
  });
});
