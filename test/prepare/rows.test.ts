/**
 * prepare({ rows }): objects of the caller's code read exactly as the same rows in a JSON Lines
 * file (the same descriptor schema, shard bytes and sidecar values), errors that name the row and
 * the column, the options rows cannot go with, reruns that behave as stdin's, and a source that is
 * closed however the run ends.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BtkitError } from "../../src/errors.js";
import { prepare, type PrepareOptions } from "../../src/prepare/index.js";
import { rowJsonLine } from "../../src/prepare/rows.js";
import type { Descriptor } from "../../src/protocol/descriptor.js";
import { rejectedBy, thrownBy } from "../helpers/errors.js";
import { sidecarTable } from "../helpers/sidecar.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;
beforeAll(async () => ({ dir, cleanup } = await tempDir("btkit-rows-")));
afterAll(async () => cleanup());

const out = (): string => path.join(dir, `out-${++n}`);

/** A table of every kind of value rows take: ints above 2^53, decimals, dates, nulls (and undefined), nested values. */
function table(count: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    rows.push({
      id: 9_007_199_254_740_993n + BigInt(i) * 1_000_003n, // above 2^53: exact only as a bigint
      big: i % 4 === 0 ? 18_446_744_073_709_551_615n - BigInt(i) : BigInt(i), // some above 2^63-1: uint64
      name: i % 5 === 0 ? null : `n-${i} "q", ü`,
      price: Math.round(i * 137.31) / 100, // a decimal(12,2) by schema
      amount: `${i + 1}234567890123456.${String(i % 100).padStart(2, "0")}`, // a string stays text (utf8), as in JSON Lines
      cents: Number(`${i}.${String(i % 100).padStart(2, "0")}`) * (i % 2 === 0 ? 1 : -1), // decimal(8,2) by schema: a number's shortest text
      ratio: i % 3 === 0 ? undefined : i / 7, // undefined: null
      when: new Date(Date.UTC(2024, 0, 1 + i, i % 24, 30, 15, i % 1000)),
      day: `2024-02-${String(1 + (i % 28)).padStart(2, "0")}`,
      ok: i % 2 === 0,
      tags: i % 6 === 0 ? null : ["a", i, { deep: [i % 2 === 0, null, 12_345_678_901_234_567_890n] }],
      scores: [i, i * 2, -i],
      meta: { at: new Date(Date.UTC(2020, 1, 29)), n: i, nothing: undefined, list: [undefined, 1.5] },
    });
  }
  return rows;
}

/** The same rows as a JSON Lines file would hold them, written here independently of rows.ts. */
function jsonLines(rows: Record<string, unknown>[]): string {
  const MARK = "\u0000big:";
  const text = rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? `${MARK}${v}` : v === undefined ? null : v)));
  return text.map((l) => `${l.replace(/"\\u0000big:(-?\d+)"/g, "$1")}\n`).join("");
}

/** What a descriptor's shards hold, without where they are. */
function shardContents(d: Descriptor): unknown[] {
  return d.shards.map((s) => ({ name: s.name, rows: s.rows, bytes: s.bytes, sha256: s.sha256, maxRecordBytes: s.maxRecordBytes, firstRow: s.firstRow, sidecarSha256: s.sidecarSha256 }));
}

async function sidecarValues(o: string, d: Descriptor): Promise<unknown[]> {
  const all: unknown[] = [];
  for (const s of d.shards) {
    const t = await sidecarTable(path.join(o, "sidecars", path.basename(s.sidecar)));
    all.push(Object.fromEntries(t.schema.fields.map((f) => [`${f.name}:${String(f.type)}`, [...t.getChild(f.name)!].map((v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : v))])));
  }
  return all;
}

describe("prepare({ rows })", () => {
  it("reads rows exactly as the same rows in a JSON Lines file: schema, shard bytes, sidecar values, counts", async () => {
    const rows = table(240);
    const file = path.join(dir, "table.jsonl");
    await fs.writeFile(file, jsonLines(rows));
    let last = "";
    for (const format of ["csv", "jsonl"] as const) {
      const common: Omit<PrepareOptions, "out"> = {
        format,
        schema: { price: "decimal(12,2)", cents: "decimal(8,2)", scores: "list<int64>" },
        features: ["id", "price", "cents", "ratio", "when", "ok", "tags", "scores"],
        keep: ["id", "big", "name", "amount", "cents", "when", "day", "tags", "meta"],
        sampleRows: 50,
        instances: 2,
        shardSize: 8000,
        gzipLevel: 6,
      };
      const fromFile = out();
      const fromRows = out();
      last = fromRows;
      const a = await prepare({ ...common, inputs: [file], out: fromFile });
      const b = await prepare({ ...common, rows, out: fromRows });
      expect(b.schema).toEqual(a.schema);
      expect(b.modelInput).toEqual(a.modelInput);
      expect(Object.fromEntries(b.schema.columns.map((c) => [c.name, c.type]))).toEqual({
        id: "int64",
        big: "uint64",
        name: "utf8",
        price: "decimal(12,2)",
        amount: "utf8",
        cents: "decimal(8,2)",
        ratio: "float64",
        when: "timestamp",
        day: "date",
        ok: "bool",
        tags: "json",
        scores: "list<int64>",
        meta: "json",
      });
      expect(b.shards.length).toBeGreaterThanOrEqual(4);
      expect(shardContents(b)).toEqual(shardContents(a));
      for (const s of a.shards) {
        expect(await fs.readFile(path.join(fromRows, "shards", s.name))).toEqual(await fs.readFile(path.join(fromFile, "shards", s.name)));
      }
      expect(await sidecarValues(fromRows, b)).toEqual(await sidecarValues(fromFile, a));
      expect({ ...b.source, inputs: undefined, options: undefined }).toEqual({ ...a.source, inputs: undefined, options: undefined });
      // recorded honestly: the rows, read as JSON Lines, with no file size of their own
      expect(b.source.inputs).toEqual([{ location: "rows", format: "jsonl", compression: "none", rows: 240 }]);
    }
    // the values a reader gets back are the rows' own: exact digits, the Date's instant
    const t = await sidecarTable(path.join(last, "sidecars/part-00000.parquet"));
    expect(t.getChild("id")!.get(0)).toBe(9_007_199_254_740_993n);
    expect(t.getChild("big")!.get(0)).toBe(18_446_744_073_709_551_615n);
    expect(t.getChild("when")!.get(1)).toBe(Date.UTC(2024, 0, 2, 1, 30, 15, 1));
    expect(t.getChild("meta")!.get(1)).toBe('{"at":"2020-02-29T00:00:00.000Z","n":1,"nothing":null,"list":[null,1.5]}');
    expect(t.getChild("tags")!.get(1)).toBe('["a",1,{"deep":[false,null,12345678901234567890]}]');
  });

  it("checks and counts rows as JSON Lines lines: row N is line N in errors and in rejects.jsonl", async () => {
    const rows = [{ k: 1, v: "a" }, { k: 2, v: "b" }, { k: "x", v: "c" }, { k: 4, v: "d" }, { k: 5, extra: 1 }];
    const file = path.join(dir, "checks.jsonl");
    await fs.writeFile(file, jsonLines(rows));
    const err = await rejectedBy(prepare({ rows, out: out(), sampleRows: 2 }));
    const fileErr = await rejectedBy(prepare({ inputs: [file], out: out(), sampleRows: 2 }));
    expect(err.code).toBe("PREP_TYPE");
    expect(err.context).toMatchObject({ input: "rows", line: 3, row: 3, column: "k" });
    expect(err.message).toBe(fileErr.message.replace(`${file}:`, "rows:"));
    const o = out();
    const d = await prepare({ rows, out: o, sampleRows: 2, onInvalid: "skip" });
    expect(d.source).toMatchObject({ rowsRead: 5, rowsWritten: 3, rowsSkipped: 2 });
    const rejects = (await fs.readFile(path.join(o, "rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rejects.map((r) => [r.input, r.line, r.code, r.column])).toEqual([
      ["rows", 3, "PREP_TYPE", "k"],
      ["rows", 5, "PREP_SCHEMA", "extra"],
    ]);
  });

  it("refuses a value JSON cannot hold with PREP_JSON naming the row, the column and the path (never a TypeError)", async () => {
    class Point {
      x = 1;
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: Array<[unknown, Record<string, unknown>, string]> = [
      [{ f: () => 1 }, { column: "f", got: "a function (f)" }, 'rows: row 2, column "f": the value is a function (f), not a value JSON can hold'],
      [{ s: Symbol("t") }, { column: "s" }, 'column "s": the value is a symbol (Symbol(t))'],
      [{ x: NaN }, { column: "x", got: "NaN" }, 'column "x": the value NaN is not a JSON number'],
      [{ x: Infinity }, { column: "x", got: "Infinity" }, "the value Infinity is not a JSON number"],
      [{ x: -Infinity }, { column: "x" }, "the value -Infinity is not a JSON number"],
      [{ d: new Date(Number.NaN) }, { column: "d" }, "the value is an invalid Date"],
      [{ m: new Map([["a", 1]]) }, { column: "m", got: "a Map" }, "the value is a Map: JSON has no form that keeps its content"],
      [{ p: new Point() }, { column: "p", got: "a Point" }, "the value is a Point"],
      [{ b: Buffer.from("x") }, { column: "b", got: "a Buffer" }, "the value is a Buffer"],
      [{ n: { list: [1, { g: Symbol.iterator }] } }, { column: "n", field: "n.list[1].g" }, 'column "n", at n.list[1].g: the value is a symbol'],
      [{ "a b": { "c d": [NaN] } }, { column: "a b", field: 'a b["c d"][0]' }, "the value NaN"],
      [cyclic, { column: "self" }, "refers to an object that holds it (a cycle)"],
      [{ [Symbol("k")]: 1, a: 1 }, {}, "rows: row 2: the row has the symbol key Symbol(k)"],
      [5, { got: "a number (5)" }, "rows: row 2 is a number (5), not an object of column values"],
      [null, { got: "null" }, "row 2 is null, not an object"],
      [undefined, { got: "undefined" }, "row 2 is undefined, not an object"],
      ["text", {}, 'row 2 is a string ("text"), not an object'],
      [[1, 2], { got: "an array" }, "row 2 is an array, not an object"],
      [new Point(), { got: "a Point" }, "row 2 is a Point, not an object"],
      [new Map(), {}, "row 2 is a Map, not an object"],
    ];
    for (const [row, context, message] of cases) {
      const err = await rejectedBy(prepare({ rows: [{ a: 1 }, row as Record<string, unknown>], out: out() }));
      expect(err.code, message).toBe("PREP_JSON");
      expect(err.context, message).toMatchObject({ input: "rows", line: 2, row: 2, ...context });
      expect(err.message).toContain(message);
      // under onInvalid "skip" too: a JS value that is no row stops the run
      expect((await rejectedBy(prepare({ rows: [row as Record<string, unknown>], out: out(), onInvalid: "skip" }))).code).toBe("PREP_JSON");
    }
    // nesting: as deep as a JSON Lines value may be, and no deeper
    let deep: unknown = 1;
    for (let i = 0; i < 512; i++) deep = [deep];
    expect(rowJsonLine({ d: deep }, 1)).toBe(`{"d":${"[".repeat(512)}1${"]".repeat(512)}}`);
    expect(thrownBy(() => rowJsonLine({ d: [deep] }, 7)).context).toMatchObject({ line: 7, column: "d" });
    expect(thrownBy(() => rowJsonLine({ d: [deep] }, 7)).message).toContain("nests deeper than 512 levels");
  });

  it("writes values as JSON Lines does: undefined and holes null, Dates ISO, bigints exact, keys in their order", () => {
    // eslint-disable-next-line no-sparse-arrays
    const row = { b: 1n << 64n, a: [1, , undefined, -0, 1e21, 5e-7], d: new Date(Date.UTC(2024, 11, 6, 0, 30)), o: Object.assign(Object.create(null) as object, { k: "\n\u2028\ud800" }), u: undefined, t: true, z: null };
    // a row of strings, numbers, booleans and nulls only (written by JSON.stringify itself) reads the same
    const flat = { 2: 1, s: 'a "b"\n\ud800', x: -1.5e-7, t: false, z: null };
    expect(rowJsonLine(flat, 1)).toBe('{"2":1,"s":"a \\"b\\"\\n\\ud800","x":-1.5e-7,"t":false,"z":null}');
    expect(rowJsonLine({ ...flat, u: undefined }, 1)).toBe(`${rowJsonLine(flat, 1).slice(0, -1)},"u":null}`);
    expect(rowJsonLine(row, 1)).toBe('{"b":18446744073709551616,"a":[1,null,null,0,1e+21,5e-7],"d":"2024-12-06T00:30:00.000Z","o":{"k":"\\n\u2028\\ud800"},"u":null,"t":true,"z":null}');
  });

  it("refuses options rows cannot go with (OPT_INVALID), and no input at all (PREP_NO_INPUT)", async () => {
    const rows = [{ a: 1 }];
    const cases: Array<[Partial<PrepareOptions>, string]> = [
      [{ inputs: ["x.csv"] }, "inputs"],
      [{ stdin: [Buffer.from("a\n1\n")] }, "stdin"],
      [{ inputFormat: "csv" }, "inputFormat"],
      [{ encoding: "latin1" }, "encoding"],
      // one source cannot be split: part 0 of 2 would silently get no rows
      [{ part: { index: 0, count: 2 } }, "part"],
      [{ header: false }, "header"],
      [{ delimiter: ";" }, "delimiter"],
      [{ columns: ["a"] }, "columns"],
    ];
    for (const [extra, option] of cases) {
      const err = await rejectedBy(prepare({ rows, out: out(), ...extra }));
      expect(err.code).toBe("OPT_INVALID");
      expect(err.context.option).toBe(option);
    }
    for (const bad of ["abc", 5, { a: 1 }, null]) {
      const err = await rejectedBy(prepare({ rows: bad as unknown as PrepareOptions["rows"], out: out() }));
      expect(err.code).toBe("OPT_INVALID");
      expect(err.context.option).toBe("rows");
    }
    // inputs: [] and inputFormat "jsonl" are no conflict
    expect((await prepare({ rows, inputs: [], inputFormat: "jsonl", out: out() })).source.rowsWritten).toBe(1);
    expect((await rejectedBy(prepare({ out: out() }))).code).toBe("PREP_NO_INPUT");
  });

  it("takes sync and async iterables (a sync iterable's promises awaited); a rerun is refused as stdin's is, overwrite replaces", async () => {
    async function* gen(): AsyncGenerator<Record<string, unknown>> {
      for (let i = 0; i < 3; i++) yield { i };
    }
    const o = out();
    const d = await prepare({ rows: gen(), out: o });
    expect(d.source.rowsWritten).toBe(3);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("0\n1\n2\n");
    const again = await rejectedBy(prepare({ rows: gen(), out: o }));
    expect(again.code).toBe("PREP_OUT_EXISTS");
    expect(again.message).toContain("rows given to prepare() cannot be shown to be the same");
    const replaced = await prepare({ rows: [Promise.resolve({ i: 7 })] as unknown as Iterable<Record<string, unknown>>, out: o, overwrite: true });
    expect(replaced.source.rowsWritten).toBe(1);
    expect(await fs.readFile(path.join(o, "shards/part-00000.csv"), "utf8")).toBe("7\n");
  });

  it("ends the iteration of the rows however the run ends: return() once when it stops early, never after the end", async () => {
    const source = (rows: unknown[]) => {
      const s = { nexts: 0, returns: 0 };
      const it = {
        [Symbol.asyncIterator]: () => it,
        next: async () => (s.nexts < rows.length ? { done: false, value: rows[s.nexts++] } : (s.nexts++, { done: true, value: undefined })),
        return: async () => {
          s.returns++;
          return { done: true, value: undefined };
        },
      };
      return { s, rows: it as unknown as AsyncIterable<Record<string, unknown>> };
    };
    // read to the end: no return()
    const ok = source([{ a: 1 }, { a: 2 }]);
    await prepare({ rows: ok.rows, out: out() });
    expect(ok.s).toEqual({ nexts: 3, returns: 0 });
    // a bad value midway
    const many = Array.from({ length: 100_000 }, (_, i) => ({ a: i === 5 ? Symbol("x") : i }));
    const bad = source(many);
    expect((await rejectedBy(prepare({ rows: bad.rows, out: out() }))).code).toBe("PREP_JSON");
    expect(bad.s.returns).toBe(1);
    expect(bad.s.nexts).toBeLessThan(100_000);
    // a row that fails a check (not a serialization error)
    const typed = source(Array.from({ length: 100_000 }, (_, i) => ({ a: i === 1 ? "x" : i })));
    expect((await rejectedBy(prepare({ rows: typed.rows, out: out(), sampleRows: 1 }))).code).toBe("PREP_TYPE");
    expect(typed.s.returns).toBe(1);
    expect(typed.s.nexts).toBeLessThan(100_000);
    // refused before any row is read
    const o = out();
    await prepare({ rows: [{ a: 1 }], out: o });
    const unread = source([{ a: 1 }]);
    expect((await rejectedBy(prepare({ rows: unread.rows, out: o }))).code).toBe("PREP_OUT_EXISTS");
    expect(unread.s).toEqual({ nexts: 0, returns: 1 });
    // aborted
    const ctl = new AbortController();
    ctl.abort(new BtkitError("INTERNAL", "stop"));
    const aborted = source(many);
    await expect(prepare({ rows: aborted.rows, out: out(), signal: ctl.signal })).rejects.toThrow("stop");
    expect(aborted.s.returns).toBe(1);
    // a source that fails is not closed again
    const failing = {
      returns: 0,
      [Symbol.asyncIterator]() {
        return { next: async () => Promise.reject(new Error("cursor lost")), return: async () => (failing.returns++, { done: true as const, value: undefined }) };
      },
    };
    await expect(prepare({ rows: failing, out: out() })).rejects.toThrow("cursor lost");
    expect(failing.returns).toBe(0);
  });
});
