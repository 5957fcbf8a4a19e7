import fs from "node:fs/promises";
import path from "node:path";
import { tableFromIPC } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createWriter, isoMicros, join } from "../../src/join/index.js";
import { Storage } from "../../src/io/storage.js";
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

  it("createWriter rejects an unknown format", () => {
    expect(() => createWriter({ format: "xlsx" as "csv" })).toThrow(expect.objectContaining({ code: "OPT_INVALID" }) as Error);
  });
});
