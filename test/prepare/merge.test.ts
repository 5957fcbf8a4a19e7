import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BtkitError } from "../../src/errors.js";
import { merge, prepare } from "../../src/prepare/index.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { sidecarTable } from "../helpers/sidecar.js";

let dir: string;
let cleanup: () => Promise<void>;
const files: string[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-merge-"));
  for (let f = 0; f < 3; f++) {
    const rows = ["id,v"];
    for (let i = 0; i < 5 + f; i++) rows.push(`${f * 100 + i},r${f}-${i}`);
    const p = path.join(dir, `in-${f}.csv`);
    await fs.writeFile(p, `${rows.join("\n")}\n`);
    files.push(p);
  }
});
afterAll(async () => cleanup());

describe("--part and merge", () => {
  it("parts that inferred a column apart: the error names both types and one --schema for every part, which works", async () => {
    const a = path.join(dir, "u-a.csv");
    const b = path.join(dir, "u-b.csv");
    await fs.writeFile(a, "id,v\n1,5\n2,6\n");
    await fs.writeFile(b, "id,v\n3,18446744073709551615\n");
    const o = path.join(dir, "u-parts");
    const parts = (schema?: string) => Promise.all([0, 1].map((index) => prepare({ inputs: [a, b], out: o, part: { index, count: 2 }, splitFiles: false, overwrite: true, ...(schema ? { schema } : {}) })));
    const err = await merge(await parts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtkitError);
    expect((err as BtkitError).code).toBe("PREP_MERGE");
    expect((err as BtkitError).message).toContain('part 1 has column "v" as uint64, part 0 as int64');
    expect((err as BtkitError).message).toContain('prepare every part again with schema: "v:uint64" (--schema v:uint64) and overwrite: true (--overwrite), then merge');
    expect((err as BtkitError).context.option).toBe("schema");
    const m = await merge(await parts("v:uint64"));
    expect(m.schema.columns.find((c) => c.name === "v")?.type).toBe("uint64");
    expect(m.source.rowsWritten).toBe(3);
  });

  it.each([
    ["rewritten with other values (a valid Parquet file)", "other"],
    ["emptied", "empty"],
    ["with bytes flipped", "flip"],
  ])("a part's sidecar %s before merge: IO_CHANGED naming it, never re-signed", async (_, how) => {
    const o = path.join(dir, `tampered-${how}`);
    const p0 = await prepare({ inputs: files, out: o, part: { index: 0, count: 2 }, shardRows: 4 });
    const p1 = await prepare({ inputs: files, out: o, part: { index: 1, count: 2 }, shardRows: 4 });
    const file = fileURLToPath(p1.shards[1]!.sidecar);
    if (how === "other") {
      // another part's sidecar of the same shape: valid Parquet, other rows
      await fs.copyFile(fileURLToPath(p1.shards[0]!.sidecar), file);
    } else if (how === "empty") await fs.writeFile(file, "");
    else {
      const b = await fs.readFile(file);
      for (let k = 20; k < b.length - 20; k += 7) b[k] = b[k]! ^ 0x5a;
      await fs.writeFile(file, b);
    }
    const err = await merge([p0, p1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtkitError);
    expect((err as BtkitError).code).toBe("IO_CHANGED");
    expect((err as BtkitError).message).toContain(file);
    expect((err as BtkitError).message).toContain("btkit prep --part I/N --overwrite");
    await expect(fs.stat(path.join(o, "btkit.json"))).rejects.toThrow();
  });

  it("prepares parts of the input files (whole, by bytes) into one --out and merges them into the whole, renumbering rows", async () => {
    const o = path.join(dir, "parts");
    const p0 = await prepare({ inputs: files, out: o, part: { index: 0, count: 2 }, shardRows: 4, splitFiles: false });
    const p1 = await prepare({ inputs: files, out: o, part: { index: 1, count: 2 }, shardRows: 4, splitFiles: false });
    // 40, 59 and 68 bytes: the middle bytes 20 and 69 lie in part 0's bytes [0, 83), 133 in part 1's
    expect(p0.source.inputs.map((i) => path.basename(new URL(i.location).pathname))).toEqual(["in-0.csv", "in-1.csv"]);
    expect(p1.source.inputs.map((i) => path.basename(new URL(i.location).pathname))).toEqual(["in-2.csv"]);
    expect(p0.source.part).toEqual({ index: 0, count: 2 });
    expect(p1.shards.map((s) => s.name)).toEqual(["part-1of2-00000.csv", "part-1of2-00001.csv"]);
    expect(p1.shards[0]!.firstRow).toBe(0);
    await expect(fs.stat(path.join(o, "parts/part-0of2.btkit.json"))).resolves.toBeTruthy();
    await expect(fs.stat(path.join(o, "btkit.json"))).rejects.toThrow();

    const whole = await prepare({ inputs: files, out: path.join(dir, "whole"), shardRows: 4 });
    const m = await merge([p1, p0]);
    expect(m.source.rowsWritten).toBe(whole.source.rowsWritten);
    expect(m.shards.map((s) => [s.rows, s.firstRow])).toEqual([[4, 0], [4, 4], [3, 8], [4, 11], [3, 15]]);
    expect(m.source.part).toBeUndefined();
    expect(parseDescriptor(await fs.readFile(path.join(o, "btkit.json"), "utf8"))).toEqual(m);
    expect(JSON.parse(await fs.readFile(path.join(o, "manifest.json"), "utf8"))).toEqual([{ prefix: `file://${o}/shards/` }, ...m.shards.map((s) => s.name)]);
    // sidecars now carry global row numbers, and the shard bytes are those of the whole run
    let rows: bigint[] = [];
    let text = "";
    for (const s of m.shards) {
      rows = rows.concat([...((await sidecarTable(fileURLToPath(s.sidecar))).getChild("__btkit_row")!.toArray() as BigInt64Array)]);
      text += await fs.readFile(new URL(s.location), "utf8");
    }
    expect(rows).toEqual(Array.from({ length: 18 }, (_, i) => BigInt(i)));
    // the merged sizes by kind are what is on disk now (renumbered sidecars included)
    let sidecars = 0;
    for (const s of m.shards) sidecars += (await fs.stat(new URL(s.sidecar))).size;
    expect(m.source.bytesWritten).toEqual({ shards: m.shards.reduce((a, s) => a + s.bytes, 0), sidecars, manifest: (await fs.stat(path.join(o, "manifest.json"))).size });
    let wholeText = "";
    for (const s of whole.shards) wholeText += await fs.readFile(new URL(s.location), "utf8");
    expect(text).toBe(wholeText);
    // merging again does not shift the sidecars twice
    await merge([p0, p1]);
    const again = (await sidecarTable(fileURLToPath(m.shards[3]!.sidecar))).getChild("__btkit_row")!.toArray() as BigInt64Array;
    expect([...again]).toEqual([11n, 12n, 13n, 14n]);
  });

  it("refuses incomplete or inconsistent parts", async () => {
    const o = path.join(dir, "bad");
    const p0 = await prepare({ inputs: files, out: o, part: { index: 0, count: 3 } });
    let err = await merge([p0]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtkitError);
    expect((err as BtkitError).code).toBe("PREP_MERGE");
    const whole = await prepare({ inputs: files, out: path.join(dir, "w2") });
    err = await merge([whole]).catch((e: unknown) => e);
    expect((err as BtkitError).code).toBe("PREP_MERGE");
  });

  it("runs as btkit prep --part and btkit merge", async () => {
    const o = path.join(dir, "cli");
    for (const part of ["0/2", "1/2"]) expect((await runCli(["prep", ...files, "--out", o, "--part", part, "-q"])).code).toBe(0);
    const r = await runCli(["merge", path.join(o, "parts/part-0of2.btkit.json"), path.join(o, "parts/part-1of2.btkit.json")]);
    expect(r.code).toBe(0);
    expect(parseDescriptor(r.stdout).source.rowsWritten).toBe(18);
    expect((await runCli(["prep", ...files, "--out", o, "--part", "2/2"])).code).toBe(2);
  });

  it("btkit merge prints the parts' counted notes, summed, as prep prints its own", async () => {
    const inputs = [0, 1].map((k) => path.join(dir, `long-${k}.csv`));
    // a float64 value with more digits than a double keeps (kept in the sidecar, so rounded there), twice in the first file and once in the second
    await fs.writeFile(inputs[0]!, "id,x\n1,0.12345678901234567\n2,0.5\n3,0.98765432109876543\n");
    await fs.writeFile(inputs[1]!, "id,x\n4,0.11111111111111111\n5,2\n");
    const o = path.join(dir, "notes");
    for (const part of ["0/2", "1/2"]) expect((await runCli(["prep", ...inputs, "--out", o, "--part", part, "--no-split-files", "--keep", "x", "-q"])).code).toBe(0);
    const r = await runCli(["merge", path.join(o, "parts/part-0of2.btkit.json"), path.join(o, "parts/part-1of2.btkit.json")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("merge: note: float64 values with more significant digits than a double keeps");
    expect(r.stderr).toMatch(/merge: note: float64 values with more significant digits[^\n]*\(3\)\n/);
    expect(parseDescriptor(r.stdout).source.notes).toContainEqual(expect.objectContaining({ count: 3 }));
  });
});
