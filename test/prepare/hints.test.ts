/**
 * A PREP_TYPE hint names a type that holds the value, says whether the failing type was inferred
 * or declared, and following it on the same input works.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { sidecarTable } from "../helpers/sidecar.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-hints-"));
  await fs.writeFile(path.join(dir, "prices.csv"), `id,price\n${Array.from({ length: 20 }, (_, i) => `${i},${i}`).join("\n")}\n20,2.5\n`);
  await fs.writeFile(path.join(dir, "titles.jsonl"), `${Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i, title: `t${i}` })).join("\n")}\n${JSON.stringify({ id: 20, title: 1984 })}\n`);
});
afterEach(() => cleanup());

const prep = (file: string, ...args: string[]) => runCli(["prep", file, "--out", "out", "--overwrite", "--sample-rows", "5", ...args], { cwd: dir });
const typeOf = (stdout: string, name: string) => parseDescriptor(stdout).schema.columns.find((c) => c.name === name)?.type;

/** prep refuses `file` with a hint containing `hint`; following it (--schema column:type) prepares the column as that type. */
async function hintWorks(file: string, hint: string, column: string, type: string) {
  const r = await prep(file);
  expect(r.code).toBe(EXIT.data);
  expect(r.stderr).toContain(hint);
  const ok = await prep(file, "--schema", `${column}:${type}`);
  expect(ok.code, ok.stderr).toBe(0);
  expect(typeOf(ok.stdout, column)).toBe(type);
  return ok;
}

it("an int column meeting a float after the sample: the hint is float64, and it works", async () => {
  const ok = await hintWorks("prices.csv", '"2.5" does not fit int64 (the type inferred from the first 5 rows; declare the type with schema: "price:float64" (--schema price:float64)', "price", "float64");
  expect(parseDescriptor(ok.stdout).source.rowsWritten).toBe(21);
});

it("a declared type that does not hold a value says declared, and names one that does", async () => {
  const r = await prep("prices.csv", "--schema", "price:int64");
  expect(r.code).toBe(EXIT.data);
  expect(r.stderr).toContain('the type declared with schema (--schema); declare float64 instead (schema: "price:float64" (--schema price:float64))');
  expect(r.stderr).not.toContain("inferred");
});

it("a JSON number in a column of strings: the hint is json (utf8 holds JSON strings only), and it works", async () => {
  await hintWorks("titles.jsonl", 'declare the type with schema: "title:json" (--schema title:json)', "title", "json");
});

it("a float column with a 20-digit integer is float64: the model gets numbers, the digits a double cannot keep are counted; an int column meeting one is told utf8, which keeps it", async () => {
  await fs.writeFile(path.join(dir, "floats.csv"), "id,x\n1,0.5\n2,12345678901234567890\n3,1.25\n");
  // x kept in the sidecar, where prep counts the rounding (join counts it for features it reads back)
  const r = await prep("floats.csv", "--format", "jsonl", "--keep", "id,x");
  expect(r.code, r.stderr).toBe(0);
  expect(typeOf(r.stdout, "x")).toBe("float64");
  expect(await fs.readFile(path.join(dir, "out", "shards", "part-00000.jsonl"), "utf8")).toBe('{"id":1,"x":0.5}\n{"id":2,"x":12345678901234567890}\n{"id":3,"x":1.25}\n');
  const notes = parseDescriptor(r.stdout).source.notes ?? [];
  expect(notes).toEqual([{ reason: expect.stringContaining("float64 values with more significant digits than a double keeps") as string, count: 1 }]);
  expect(notes[0]!.reason).toContain("--schema NAME:utf8 keeps them exactly");
  // and the run says it, not only its descriptor
  expect(r.stderr).toContain(`prep: note: ${notes[0]!.reason} (1)`);
  // the way the note names: --schema x:utf8 keeps every digit
  const exact = await prep("floats.csv", "--schema", "x:utf8", "--keep", "id,x");
  expect(exact.code, exact.stderr).toBe(0);
  expect(parseDescriptor(exact.stdout).source.notes).toBeUndefined();
  expect(exact.stderr).not.toContain("note:");
  // a column of such integers (IDs), none negative, is uint64: every digit kept
  await fs.writeFile(path.join(dir, "ids.csv"), "id,x\n12345678901234567890,1\n12345678901234567891,2\n");
  expect(typeOf((await prep("ids.csv")).stdout, "id")).toBe("uint64");
  // with a negative one among them no 64-bit integer holds them all: text
  await fs.writeFile(path.join(dir, "ids2.csv"), "id,x\n12345678901234567890,1\n-1,2\n");
  expect(typeOf((await prep("ids2.csv")).stdout, "id")).toBe("utf8");
  // an int64 column meeting one after the sample: utf8 is the type that keeps it
  await fs.writeFile(path.join(dir, "late.csv"), `id\n${Array.from({ length: 10 }, (_, i) => i).join("\n")}\n12345678901234567890\n`);
  await hintWorks("late.csv", 'declare the type with schema: "id:utf8" (--schema id:utf8)', "id", "utf8");
});

it("JSON: --schema title:utf8 reads a number among strings as its source text, and --text every non-string value; each is counted", async () => {
  const asText = await prep("titles.jsonl", "--schema", "title:utf8", "--format", "jsonl");
  expect(asText.code, asText.stderr).toBe(0);
  expect(typeOf(asText.stdout, "title")).toBe("utf8");
  const lines = (await fs.readFile(path.join(dir, "out", "shards", "part-00000.jsonl"), "utf8")).trimEnd().split("\n");
  expect(lines.at(-1)).toBe('{"id":20,"title":"1984"}');
  expect(lines[0]).toBe('{"id":0,"title":"t0"}');
  const note = "JSON numbers, booleans and nested values read as their source text in utf8 columns (--text or --schema NAME:utf8)";
  expect(parseDescriptor(asText.stdout).source.notes).toEqual([{ reason: note, count: 1 }]);

  await fs.writeFile(path.join(dir, "mixed.jsonl"), `${JSON.stringify({ id: 1, on: true, tags: ["a", 2], n: 1.50 })}\n${JSON.stringify({ id: 2, on: null, tags: { k: "v" }, n: "x" })}\n`);
  const text = await prep("mixed.jsonl", "--text", "--format", "jsonl");
  expect(text.code, text.stderr).toBe(0);
  expect(parseDescriptor(text.stdout).schema.columns.map((c) => c.type)).toEqual(["utf8", "utf8", "utf8", "utf8"]);
  expect(await fs.readFile(path.join(dir, "out", "shards", "part-00000.jsonl"), "utf8")).toBe('{"id":"1","on":"true","tags":"[\\"a\\",2]","n":"1.5"}\n{"id":"2","on":null,"tags":"{\\"k\\":\\"v\\"}","n":"x"}\n');
  // 1, true, ["a",2], 1.5, 2, {"k":"v"}: six values read as text; the null stays null
  expect(parseDescriptor(text.stdout).source.notes).toEqual([{ reason: note, count: 6 }]);
});

it("CSV timestamps finer than a microsecond are timestamp(ns), never cut; a declared microsecond timestamp is refused with a hint that works", async () => {
  await fs.writeFile(path.join(dir, "ns.csv"), "id,t\n1,2024-01-01T10:20:30.123456789Z\n2,2024-01-01T10:20:30.123456788Z\n3,2024-01-01T10:20:30.5Z\n");
  const r = await prep("ns.csv", "--keep", "id,t");
  expect(r.code, r.stderr).toBe(0);
  // two instants a nanosecond apart must not become one
  expect(typeOf(r.stdout, "t")).toBe("timestamp(ns)");
  expect(await fs.readFile(path.join(dir, "out", "shards", "part-00000.csv"), "utf8")).toBe("1,2024-01-01T10:20:30.123456789Z\n2,2024-01-01T10:20:30.123456788Z\n3,2024-01-01T10:20:30.5Z\n");
  const side = await sidecarTable(path.join(dir, "out", "sidecars", "part-00000.parquet"));
  expect(String(side.getChild("t")!.type)).toBe("Timestamp<NANOSECOND, UTC>");
  expect([...(side.getChild("t")!.data[0]!.values as BigInt64Array)]).toEqual([1704104430123456789n, 1704104430123456788n, 1704104430500000000n]);
  const declared = await prep("ns.csv", "--schema", "t:timestamp");
  expect(declared.code).toBe(EXIT.data);
  expect(declared.stderr).toContain(`the type declared with schema (--schema); declare timestamp(ns) instead (schema: "t:timestamp(ns)" (--schema 't:timestamp(ns)'))`);
  const followed = await prep("ns.csv", "--schema", "t:timestamp(ns)");
  expect(followed.code, followed.stderr).toBe(0);
  expect(typeOf(followed.stdout, "t")).toBe("timestamp(ns)");
  // zeros below the microsecond cut nothing: a microsecond timestamp
  await fs.writeFile(path.join(dir, "us.csv"), "id,t\n1,2024-01-01T10:20:30.123456000Z\n");
  expect(typeOf((await prep("us.csv")).stdout, "t")).toBe("timestamp");
  // a nanosecond value beside one after 2262 (no nanosecond timestamp holds it): text, as written
  await fs.writeFile(path.join(dir, "ns4.csv"), "id,t\n1,2024-01-01 10:00:00.123456789\n2,2500-01-01 00:00:00\n");
  const both = await prep("ns4.csv");
  expect(both.code, both.stderr).toBe(0);
  expect(typeOf(both.stdout, "t")).toBe("utf8");
  // the microsecond may be named: timestamp(us) is timestamp
  const us = await prep("us.csv", "--schema", "t:timestamp(us)");
  expect(us.code, us.stderr).toBe(0);
  expect(typeOf(us.stdout, "t")).toBe("timestamp");
  // times of day: time, time(ns) when finer than a microsecond
  await fs.writeFile(path.join(dir, "tod.csv"), "id,a,b\n1,10:20:30,23:59:59.123456789\n2,00:00:00.5,00:00:00\n");
  const tod = await prep("tod.csv");
  expect(tod.code, tod.stderr).toBe(0);
  expect([typeOf(tod.stdout, "a"), typeOf(tod.stdout, "b")]).toEqual(["time", "time(ns)"]);
});

it("a decimal column meeting text that is no JSON number (leading zeros) is told utf8, which keeps it; names in --schema may have spaces around them", async () => {
  await fs.writeFile(path.join(dir, "zeros.csv"), "id,v\n1,7\n2,007\n");
  const r = await prep("zeros.csv", "--schema", "id:int64, v:decimal(3,0)");
  expect(r.code).toBe(EXIT.data);
  expect(r.stderr).toContain(`"007" does not fit decimal(3,0) (the type declared with schema (--schema); declare utf8 instead (schema: "v:utf8" (--schema v:utf8))`);
  const ok = await prep("zeros.csv", "--schema", "id:int64, v:utf8");
  expect(ok.code, ok.stderr).toBe(0);
  expect(await fs.readFile(path.join(dir, "out", "shards", "part-00000.csv"), "utf8")).toBe("1,7\n2,007\n");
});

