/**
 * combinePartResults / readPartResults: the N parts of a --part join made into the whole join's
 * results, and the ways the parts in a folder can fail to form it (each refusal's way out applied).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { combinePartResults, join, readPartResults } from "../../src/join/index.js";
import { EMPTY_PART_NOTE } from "../../src/join/join.js";
import { Storage } from "../../src/io/storage.js";
import { isBtkitError } from "../../src/errors.js";
import type { Descriptor } from "../../src/protocol/descriptor.js";
import { rejectedBy } from "../helpers/errors.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, sqlString } from "./duck.js";
import { jsonOut, makeRows, writeFixture } from "./fixture.js";

let dir: string;
let cleanup: () => Promise<void>;
const storage = new Storage();
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

async function fixture(): Promise<Descriptor> {
  const shards = [0, 1, 2].map((i) => makeRows(3 + i, 20 + i, [0, 3, 7][i]!));
  return (await writeFixture(storage, storage.parse(dir), { shards: shards.map((rows) => ({ rows, out: jsonOut(rows) })) })).descriptor;
}

function thrown(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    if (isBtkitError(err)) return err;
  }
  throw new Error("did not throw a BtkitError");
}

describe("the parts of a --part join, combined", () => {
  it("every part's results, in part order: all rows, every shard once, every file", async () => {
    const d = await fixture();
    const out = path.join(dir, "ds");
    for (const index of [0, 1]) await join({ descriptor: d, out, storage, part: { index, count: 2 } });
    const parts = await readPartResults(storage, out, 2);
    const r = combinePartResults(d, parts, `file://${out}/`);
    expect(r.rows).toBe(3 + 4 + 5);
    expect(r.rowsPerShard).toEqual({ "part-00000.csv": 3, "part-00001.csv": 4, "part-00002.csv": 5 });
    expect(r.files).toEqual([`file://${out}/part-0of2.parquet`, `file://${out}/part-1of2.parquet`]);
    expect(r.part).toBeUndefined();
    expect(r.columns).toEqual(parts[0]!.results!.columns);
  });

  it("more parts than shards: a part with no shard writes no table file, and the parts combine into the whole join", async () => {
    const d = await fixture();
    for (const format of ["parquet", "csv"] as const) {
      const out = path.join(dir, `ds-${format}`);
      const results = [];
      for (const index of [0, 1, 2, 3]) results.push((await join({ descriptor: d, out, storage, format, part: { index, count: 4 } })).results);
      const empty = results.filter((r) => r.rows === 0);
      expect(empty).toHaveLength(1);
      expect(empty[0]).toMatchObject({ location: `file://${out}/`, files: [], rowsPerShard: {}, notes: [{ reason: EMPTY_PART_NOTE, count: 1 }] });
      const tables = (await fs.readdir(out)).filter((n) => n.endsWith(`.${format}`));
      expect(tables).toHaveLength(3);
      const r = combinePartResults(d, await readPartResults(storage, out, 4), `file://${out}/`);
      expect(r.rows).toBe(12);
      expect(r.files.map((f) => path.basename(f)).sort()).toEqual(tables.sort());
      expect(r.columns).toEqual(results.find((x) => x.rows > 0)!.columns);
      expect(r.columns!.map((c) => c.name)).toEqual(expect.arrayContaining(["pred_label", "pred_p"]));
      expect(r.notes).toContainEqual({ reason: EMPTY_PART_NOTE, count: 1 });
      // every file of the folder has the predictions: a reader of all of them gets the whole join
      const read = format === "parquet" ? "read_parquet" : "read_csv";
      const rows = await duckRows(`SELECT count(*)::INT AS n, count(pred_p)::INT AS p FROM ${read}(${sqlString(path.join(out, `*.${format}`))})`);
      expect(rows).toEqual([{ n: 12, p: 12 }]);
    }
  });

  it("a part that joins no rows when it joined some before removes its earlier table file", async () => {
    const shards = [0, 1].map((i) => makeRows(3, 30 + i, 3 * i));
    const fx = await writeFixture(storage, storage.parse(dir), { shards: shards.map((rows) => ({ rows, out: jsonOut(rows) })) });
    const out = path.join(dir, "ds");
    const first = await join({ descriptor: fx.descriptor, out, storage, part: { index: 1, count: 2 } });
    expect(first.results.files).toHaveLength(1);
    const file = new URL(first.results.files[0]!);
    await fs.stat(file);
    // its shard's .out gone: --allow-missing joins nothing for the part
    await fs.rm(new URL(`${fx.descriptor.job!.outputLocation}${fx.descriptor.shards[1]!.name}.out`));
    const again = await join({ descriptor: fx.descriptor, out, storage, allowMissing: true, part: { index: 1, count: 2 } });
    expect(again.results).toMatchObject({ rows: 0, files: [], missing: ["part-00001.csv"] });
    await expect(fs.stat(file)).rejects.toThrow();
  });

  it("a part that did not finish is named, with the --part that joins it (applied: then they combine)", async () => {
    const d = await fixture();
    const out = path.join(dir, "ds");
    await join({ descriptor: d, out, storage, part: { index: 0, count: 2 } });
    const e = await rejectedBy(readPartResults(storage, out, 2));
    expect(e.code).toBe("JOIN_OUTPUT_CONFLICT");
    expect(e.message).toContain("lacks the results of 1 part of 2 (btkit-part-1of2.json): a part that did not finish stores none. Join those parts again (btkit join --part i/2 into the same folder), or the whole join");
    await join({ descriptor: d, out, storage, part: { index: 1, count: 2 } });
    expect(combinePartResults(d, await readPartResults(storage, out, 2), out).rows).toBe(12);
  });

  it("a part that failed midway leaves no results: its marker is removed before it writes", async () => {
    const d = await fixture();
    const out = path.join(dir, "ds");
    await join({ descriptor: d, out, storage, part: { index: 1, count: 2 } });
    await fs.writeFile(new URL(d.shards[2]!.sidecar), "not parquet");
    await expect(join({ descriptor: d, out, storage, part: { index: 1, count: 2 } })).rejects.toThrow();
    await expect(fs.stat(path.join(out, "btkit-part-1of2.json"))).rejects.toThrow();
  });

  it("refuses parts that do not form the join: a shard twice or never, another job, another part", async () => {
    const d = await fixture();
    const out = path.join(dir, "ds");
    for (const index of [0, 1]) await join({ descriptor: d, out, storage, part: { index, count: 2 } });
    const [p0, p1] = await readPartResults(storage, out, 2);
    expect(thrown(() => combinePartResults(d, [p0!, p0!], out)).message).toContain("holds the results of part 0/2, not of part 1/2");
    const twice = { ...p1!, results: { ...p1!.results!, rowsPerShard: { ...p1!.results!.rowsPerShard, "part-00000.csv": 3 } } };
    expect(thrown(() => combinePartResults(d, [p0!, twice], out)).message).toContain("shard part-00000.csv is joined by part 0/2 and by part 1/2");
    const none = { ...p1!, results: { ...p1!.results!, rowsPerShard: {} } };
    expect(thrown(() => combinePartResults(d, [p0!, none], out)).message).toContain("no part joined 2 shards of the job (part-00001.csv, part-00002.csv)");
    const other = { ...p1!, job: { ...p1!.job!, name: "another-job" } };
    const e = thrown(() => combinePartResults(d, [p0!, other], out));
    expect(e.code).toBe("JOIN_OUTPUT_CONFLICT");
    expect(e.message).toContain("part 1/2 joined job another-job, not job-1");
  });
});
