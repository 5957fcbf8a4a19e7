/**
 * A CSV without a header never loses its first row: a first row of numbers only is refused as
 * data (PREP_HEADER naming --no-header and --header), and each way out works on the same file.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-header-"));
  await fs.writeFile(path.join(dir, "numbers.csv"), "1,2,3\n4,5,6\n7,8.5,9\n");
  await fs.writeFile(path.join(dir, "years.csv"), "2019,2020,2021\n1,2,3\n");
});
afterEach(() => cleanup());

const prep = (...args: string[]) => runCli(["prep", ...args, "--out", "out", "--overwrite"], { cwd: dir });
const shard = () => fs.readFile(path.join(dir, "out", "shards", "part-00000.csv"), "utf8");

it("a header-less numeric CSV is refused, not read with its first row as column names", async () => {
  const r = await prep("numbers.csv");
  expect(r.code).toBe(EXIT.data);
  expect(r.stderr).toContain("[PREP_HEADER]");
  expect(r.stderr).toContain("line 1 (1,2,3) looks like data, not a header");
  expect(r.stderr).toContain("--no-header");
  expect(r.stderr).toContain("--header");
});

it("--no-header reads every row, naming the columns column_1..column_N or by --columns", async () => {
  const r = await prep("numbers.csv", "--no-header");
  expect(r.code, r.stderr).toBe(0);
  const d = parseDescriptor(r.stdout);
  expect(d.source.rowsWritten).toBe(3);
  expect(d.schema.columns.map((c) => [c.name, c.type])).toEqual([["column_1", "int64"], ["column_2", "float64"], ["column_3", "int64"]]);
  expect(await shard()).toBe("1,2,3\n4,5,6\n7,8.5,9\n");
  const named = await prep("numbers.csv", "--no-header", "--columns", "a,b,c");
  expect(named.code, named.stderr).toBe(0);
  expect(parseDescriptor(named.stdout).schema.columns.map((c) => c.name)).toEqual(["a", "b", "c"]);
  expect(parseDescriptor(named.stdout).source.rowsWritten).toBe(3);
  const wrong = await prep("numbers.csv", "--no-header", "--columns", "a,b");
  expect(wrong.code).toBe(EXIT.data);
  expect(wrong.stderr).toContain("columns (--columns) names 2 columns but line 1 has 3 fields");
});

it("--header takes a row of numbers as the column names when that is what they are", async () => {
  expect((await prep("years.csv")).code).toBe(EXIT.data);
  const r = await prep("years.csv", "--header");
  expect(r.code, r.stderr).toBe(0);
  const d = parseDescriptor(r.stdout);
  expect(d.schema.columns.map((c) => c.name)).toEqual(["2019", "2020", "2021"]);
  expect(d.source.rowsWritten).toBe(1);
});

it("a header with names is read as before", async () => {
  await fs.writeFile(path.join(dir, "named.csv"), "id,x,y\n1,2,3\n");
  const r = await prep("named.csv");
  expect(r.code, r.stderr).toBe(0);
  expect(parseDescriptor(r.stdout).schema.columns.map((c) => c.name)).toEqual(["id", "x", "y"]);
  expect(await shard()).toBe("1,2,3\n");
});
