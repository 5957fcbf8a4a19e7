/**
 * The byte path (encode-bytes.ts, RawRecords, SidecarBatcher.addRaw) against the string path it
 * replaces on the hot path: same bytes out, and every check still fires with the same code and
 * position when the offending row comes after the type sample.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { RecordBatchStreamWriter } from "apache-arrow";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BtkitError } from "../../src/errors.js";
import { CsvScanner } from "../../src/prepare/csv-scanner.js";
import { makeCsvEncoder, makeJsonlEncoder } from "../../src/prepare/encode.js";
import { LineBuffer, csvLine, encodeCsvRaw, fieldFits, jsonlLine, makeJsonlRawEncoder } from "../../src/prepare/encode-bytes.js";
import { decimalBytes, timestampBytes } from "../../src/protocol/byte-values.js";
import { prepare, type PrepareOptions } from "../../src/prepare/index.js";
import { fits, timestampMicros } from "../../src/prepare/schema.js";
import { SidecarBatcher } from "../../src/prepare/sidecar.js";
import type { ColumnType } from "../../src/protocol/descriptor.js";
import { tempDir } from "../helpers/tmp.js";
import { rejectedBy } from "../helpers/errors.js";

const SEED = 20261122;

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-bytes-"));
});
afterAll(async () => cleanup());

/** A small seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// instants (with a zone): a timestamp column holds only these; dates and wall-clock times are in WORDS
const TIMESTAMPS = ["2024-02-29T23:59:59Z", "1969-12-31T23:59:59.999999Z", "2024-01-01T10:20:30.123456000Z", "2024-01-01T10:20:30+02:00", "2024-01-01T10:20:30-0530", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.5Z", "2024-01-01Z"];
const FLOATS = ["0", "-0", "-0.0", "136.61", "-0.05536588979884982", "1e300", "1.5E-7", "123456789012345", "1234567890123456789.5", "0.1", "-99.9999"];
const INTS = ["0", "-1", "42", "9007199254740993", "-9223372036854775808", "9223372036854775807", "123456789012345678"];
const BOOLS = ["true", "false", "True", "False", "TRUE", "FALSE"];
const WORDS = ["2024-01-01", "2024-01-01 10:20", "2024-01-01T10:20:30.1", "1969-12-31T23:59:59.9999991", "plain", "a, b", 'say "hi"', "", "naïve ありがとう 👍", "tab\there", "ctl\u0001\u001f", "back\\slash", "x".repeat(60), 'q"', "é,"];

/** A CSV cell for a text value: quoted when needed or at random (quoted cells exercise the quoted flags). */
function cell(v: string | null, r: () => number): string {
  if (v === null) return "";
  if (v === "" || /[",\r\n]/.test(v) || r() < 0.3) return `"${v.replaceAll('"', '""')}"`;
  return v;
}

/** A seeded table: id, ts, f, i, b, t (text), t2 (text with line breaks when `newlines`). */
function table(seed: number, rows: number, newlines: boolean): string {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const lines = ["id,ts,f,i,b,t,t2"];
  for (let k = 0; k < rows; k++) {
    const nul = (v: string): string | null => (r() < 0.1 ? null : v);
    const t2 = newlines && r() < 0.2 ? pick(["a\nb", "c\r\nd", "e\rf"]) : pick(WORDS);
    lines.push([String(k), nul(pick(TIMESTAMPS)), nul(pick(FLOATS)), nul(pick(INTS)), nul(pick(BOOLS)), nul(pick(WORDS)), nul(t2)].map((v) => cell(v, r)).join(","));
  }
  return `${lines.join(r() < 0.5 ? "\n" : "\r\n")}\n`;
}

const SCHEMA = "id:int64,ts:timestamp,f:float64,i:int64,b:bool,t:utf8,t2:utf8";

async function files(o: string): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  for (const sub of ["shards", "sidecars"]) {
    for (const f of await fs.readdir(path.join(o, sub))) m.set(`${sub}/${f}`, await fs.readFile(path.join(o, sub, f)));
  }
  return m;
}

/** Runs prepare twice: every row through the string path (all rows in the sample) and through the byte path (sample of 1). */
async function both(text: string, options: Partial<PrepareOptions>): Promise<[Map<string, Buffer>, Map<string, Buffer>]> {
  const src = path.join(dir, `in-${++n}.csv`);
  await fs.writeFile(src, text);
  const a = path.join(dir, `out-${++n}`);
  const b = path.join(dir, `out-${++n}`);
  await prepare({ inputs: [src], out: a, schema: SCHEMA, sampleRows: 1_000_000, shardRows: 300, ...options });
  await prepare({ inputs: [src], out: b, schema: SCHEMA, sampleRows: 1, shardRows: 300, ...options });
  return [await files(a), await files(b)];
}

describe("byte path", () => {
  it("parses timestamps and decimals from bytes exactly as from text (fast-check, fixed seed)", () => {
    console.log(`fast-check seed ${SEED}`);
    const check = (s: string): void => {
      const b = Buffer.from(s, "utf8");
      const us = timestampBytes(b, 0, b.length);
      if (!Number.isNaN(us)) expect(us).toBe(timestampMicros(s));
    };
    for (const s of [...TIMESTAMPS, "2024-02-30", "2023-02-29", "2024-13-01", "2024-01-01T24:00", "2024-01-01T10:60", "2024-01-01T10:20:60", "2024-01-01T", "2024-01-01T10:20:30.", "2024-01-01T10:20:30.1234567890", "2024-01-01T10:20:30.123456789Z", "2024-01-01T10:20:30.1234561"]) check(s);
    expect(timestampBytes(Buffer.from("2024-02-30"), 0, 10)).toBeNaN();
    expect(timestampBytes(Buffer.from("2024-01-01T10:20:30.5Z"), 0, 22)).toBe(Date.UTC(2024, 0, 1, 10, 20, 30) * 1000 + 500000);
    const d2 = (k: number): fc.Arbitrary<string> => fc.integer({ min: 0, max: 10 ** k - 1 }).map((v) => String(v).padStart(k, "0"));
    fc.assert(
      fc.property(d2(4), d2(2), d2(2), d2(2), d2(2), d2(2), fc.stringMatching(/^[0-9]{0,10}$/), fc.constantFrom("", "Z", "+01:00"), fc.constantFrom("T", " "), (y, mo, d, h, mi, s, frac, z, sep) => {
        check(`${y}-${mo}-${d}`);
        check(`${y}-${mo}-${d}${sep}${h}:${mi}${z}`);
        check(`${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac === "" ? "" : `.${frac}`}${z}`);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 20 }), (x, digits) => {
        for (const s of [String(x), x.toFixed(digits)]) {
          const b = Buffer.from(s);
          const v = decimalBytes(b, 0, b.length);
          if (!Number.isNaN(v)) expect(Object.is(v, Number(s))).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    expect(decimalBytes(Buffer.from("-0.0"), 0, 4)).toBe(-0);
    expect(decimalBytes(Buffer.from("1e5"), 0, 3)).toBeNaN();
  });

  it("checks types, encodes CSV and JSON Lines and builds sidecar batches as the string path does", () => {
    const text = table(SEED, 400, false);
    const scanner = new CsvScanner({});
    const types: ColumnType[] = ["int64", "timestamp", "float64", "int64", "bool", "utf8", "utf8"];
    const names = ["id", "ts", "f", "i", "b", "t", "t2"];
    const order = [6, 0, 5, 2, 1];
    const csvEnc = makeCsvEncoder(order.map((i) => names[i]!), "reject");
    const jsonEnc = makeJsonlEncoder(order.map((i) => names[i]!), order.map((i) => types[i]!));
    const jsonRaw = makeJsonlRawEncoder(order.map((i) => names[i]!), order.map((i) => types[i]!));
    const keep = [{ name: "t", type: "utf8" as const }, { name: "ts", type: "timestamp" as const }, { name: "f", type: "float64" as const }, { name: "b", type: "bool" as const }, { name: "i", type: "int64" as const }];
    const keepIdx = [5, 1, 2, 4, 3];
    const byText = new SidecarBatcher(keep);
    const byBytes = new SidecarBatcher(keep);
    const out = new LineBuffer();
    let rows = 0;
    const buf = Buffer.from(text);
    // 7-byte chunks: records straddle every chunk boundary
    for (let at = 0; at <= buf.length; at += 7) {
      const recs = at < buf.length ? scanner.pushRaw(buf.subarray(at, at + 7)) : scanner.endRaw();
      for (let r = 0; r < recs.count; r++) {
        const rec = recs.toRecord(r);
        if (rec.line === 1) continue;
        for (let c = 0; c < types.length; c++) expect(fieldFits(recs, recs.firstField[r]! + c, types[c]!)).toBe(fits(types[c]!, rec.values[c]!, undefined));
        // every column as int64 and bool too: mostly misfits, which must agree as well
        for (let c = 0; c < types.length; c++) for (const t of ["int64", "bool", "float64", "date", "timestamp_ntz", "timestamp", "null"] as const) expect(fieldFits(recs, recs.firstField[r]! + c, t)).toBe(fits(t, rec.values[c]!, undefined));
        const feats = order.map((i) => rec.values[i]!);
        const len = encodeCsvRaw(recs, r, order, out);
        expect(out.buf.toString("utf8", 0, len)).toBe(csvEnc(feats, { input: "x", line: 0, row: 0 }));
        const jlen = jsonRaw(recs, r, order, out);
        expect(out.buf.toString("utf8", 0, jlen)).toBe(jsonEnc(feats));
        byText.add(keepIdx.map((i) => rec.values[i]!), rows);
        byBytes.addRaw(recs, r, keepIdx, rows);
        rows++;
      }
    }
    expect(rows).toBe(400);
    const ipc = (b: SidecarBatcher): Uint8Array => {
      const w = new RecordBatchStreamWriter();
      w.reset(undefined, b.schema);
      while (b.length > 0) w.write(b.take());
      w.finish();
      return w.toUint8Array(true);
    };
    expect(Buffer.from(ipc(byBytes)).equals(Buffer.from(ipc(byText)))).toBe(true);
  });

  it("encodes straight into a buffer at an offset as the string encoders do, whole records copied as they stand (fast-check, fixed seed)", () => {
    const value = fc.stringMatching(/^[a-z ,"é👍0-9]{0,8}$/u);
    // null, or a value written plain where it can be, or quoted (doubled quotes, commas and empty strings exercise every flag)
    const field = fc.tuple(fc.option(value, { nil: null }), fc.boolean());
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }).chain((cols) => fc.array(fc.array(field, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 5 })), fc.constantFrom(",", ";", "\t"), fc.constantFrom("\n", "\r\n"), fc.integer({ min: 0, max: 40 }), (rows, delim, eol, at) => {
        const cols = rows[0]!.length;
        const text = rows
          .map((row) => row.map(([v, quoted]) => (v === null ? "" : quoted || v === "" || v.includes('"') || v.includes(delim) ? `"${v.replaceAll('"', '""')}"` : v)).join(delim))
          .join(eol);
        const scanner = new CsvScanner({ delimiter: delim, resumed: true });
        const a = scanner.pushRaw(Buffer.from(`${text}${eol}`));
        // names of growing length: keys of every length modulo 4 (they are copied four bytes at a time)
        const names = Array.from({ length: cols }, (_, i) => `c${"x".repeat(i)}`);
        const csvEnc = makeCsvEncoder(names, "reject");
        const jsonEnc = makeJsonlEncoder(names, names.map(() => "utf8"));
        const json = jsonlLine(names, names.map(() => "utf8"));
        const all = names.map((_, i) => i);
        expect(a.count).toBe(rows.length);
        for (let r = 0; r < a.count; r++) {
          if (a.blank[r] === 1) continue; // a lone empty field reads as a blank line
          const values = a.toRecord(r).values;
          for (const fields of [undefined, all]) {
            const dst = Buffer.alloc(at + csvLine.bound(a, r));
            const len = csvLine.into(a, r, fields, dst, at);
            expect(dst.toString("utf8", at, at + len)).toBe(csvEnc(values, { input: "x", line: 0, row: 0 }));
            const jdst = Buffer.alloc(at + json.bound(a, r));
            const jlen = json.into(a, r, fields, jdst, at);
            expect(jdst.toString("utf8", at, at + jlen)).toBe(jsonEnc(values));
          }
        }
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it("JSON Lines: numbers (copied a word at a time, reading and writing past their span) are their text, at any offset, into a buffer of exactly the bound (fast-check, fixed seed)", () => {
    const number = fc.oneof(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String), fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => String(x)), fc.stringMatching(/^[0-9]{40,60}$/));
    const field = fc.option(number, { nil: null });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }).chain((cols) => fc.array(fc.array(field, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 5 })), fc.constantFrom("\n", "\r\n", ""), fc.integer({ min: 0, max: 40 }), (rows, eol, at) => {
        const cols = rows[0]!.length;
        // no newline after the last record: its last value ends the source, so it cannot be read in whole words
        const text = rows.map((row) => row.map((v) => v ?? "").join(",")).join("\n") + eol;
        const a = new CsvScanner({ delimiter: ",", resumed: true }).pushRaw(Buffer.from(text));
        const names = Array.from({ length: cols }, (_, i) => `n${"x".repeat(i)}`);
        const types = names.map((_, i): ColumnType => (i % 2 === 0 ? "float64" : "int64"));
        const json = jsonlLine(names, types);
        for (let r = 0; r < a.count; r++) {
          if (a.blank[r] === 1) continue;
          const want = `{${names.map((n, i) => `"${n}":${rows[r]![i] ?? "null"}`).join(",")}}`;
          const dst = Buffer.alloc(at + json.bound(a, r), 0xee);
          const len = json.into(a, r, undefined, dst, at);
          expect(dst.toString("utf8", at, at + len)).toBe(want);
          expect(dst.subarray(0, at).every((b) => b === 0xee)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it("writes the same shards and sidecars as the string path (CSV and JSON Lines, feature and keep subsets)", async () => {
    const text = table(SEED + 1, 900, false);
    for (const o of [{ format: "csv" as const }, { format: "jsonl" as const }, { format: "csv" as const, features: ["t", "f", "id"], keep: ["t2", "b"] }, { format: "jsonl" as const, features: ["ts", "t2"], gzipLevel: 1 }]) {
      const [a, b] = await both(text, o);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, v] of a) expect(b.get(k)!.equals(v), `${JSON.stringify(o)} ${k}`).toBe(true);
    }
  });

  it("hands line breaks to the newline policy (replace, escape) with the same output and counts", async () => {
    const text = table(SEED + 2, 500, true);
    for (const newlines of ["replace", "escape"] as const) {
      const [a, b] = await both(text, { newlines });
      for (const [k, v] of a) expect(b.get(k)!.equals(v), `${newlines} ${k}`).toBe(true);
    }
  });

  it("fires every check on rows after the sample with the same code and position", async () => {
    const base = table(SEED + 3, 50, false).split("\n");
    const run = async (lines: string[] | Buffer, options: Partial<PrepareOptions> = {}): Promise<BtkitError> => {
      const src = path.join(dir, `bad-${++n}.csv`);
      await fs.writeFile(src, Buffer.isBuffer(lines) ? lines : lines.join("\n"));
      return rejectedBy(prepare({ inputs: [src], out: path.join(dir, `o-${++n}`), schema: SCHEMA, sampleRows: 1, ...options }));
    };
    const at = (k: number, line: string): string[] => base.map((l, i) => (i === k ? line : l));
    const ragged = await run(at(20, "20,,1.5,3,true,x"));
    expect([ragged.code, ragged.context.line, ragged.context.row, ragged.context.expected, ragged.context.got]).toEqual(["PREP_RAGGED_ROW", 21, 20, 7, 6]);
    const type = await run(at(30, "30,,1.5,3.5,true,x,y"));
    expect([type.code, type.context.line, type.context.row, type.context.column, type.context.got]).toEqual(["PREP_TYPE", 31, 30, "i", "3.5"]);
    const quotedType = await run(at(30, '30,"2024-01-01T00:00:00Z",1.5,"",true,x,y'));
    expect([quotedType.code, quotedType.context.line, quotedType.context.column, quotedType.context.got]).toEqual(["PREP_TYPE", 31, "i", ""]);
    const ts = await run(at(12, "12,2024-02-30,1.5,3,true,x,y"));
    expect([ts.code, ts.context.line, ts.context.column]).toEqual(["PREP_TYPE", 13, "ts"]);
    const nl = await run(at(40, '40,,1.5,3,true,x,"a\nb"'));
    expect([nl.code, nl.context.line, nl.context.row, nl.context.column]).toEqual(["PREP_NEWLINE", 41, 40, "t2"]);
    const big = await run(at(45, `45,,1.5,3,true,x,${"y".repeat(2000)}`), { maxPayloadMb: 0.001 });
    expect([big.code, big.context.line, big.context.row, big.context.expected]).toEqual(["PREP_RECORD_TOO_LARGE", 46, 45, 1000]);
    expect(big.context.got).toBeGreaterThan(2000);
    const utf8 = await run(Buffer.concat([Buffer.from(`${base.slice(0, 33).join("\n")}\n33,,1.5,3,true,`), Buffer.from([0xff]), Buffer.from(`,y\n${base.slice(34).join("\n")}`)]));
    expect([utf8.code, utf8.context.line]).toEqual(["PREP_ENCODING", 34]);
  });
});
