/**
 * Lossless values, end to end: a Parquet file DuckDB wrote (DATE, naive TIMESTAMP, TIMESTAMPTZ,
 * TIME, UBIGINT above 2^63-1, TIMESTAMP_NS, TIMESTAMP_MS, decimals) goes through prep | submit --local | join
 * and DuckDB reads the joined Parquet back in a session time zone other than UTC: every value and
 * logical type equals the source's, or was converted to text because a flag asked for it. Each
 * flag an error message proposes is applied to the same file here and passes.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startExampleModel, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { parse } from "csv-parse/sync";
import { runCli, type CliRun } from "../helpers/cli.js";
import { duckRows, duckTypes, sqlString } from "../join/duck.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
let model: RunningExampleModel;
let src: string;

// the source's rows: a DATE before 1970 and one that a UTC-8 reader of a timestamp would shift,
// wall-clock times, instants with offsets, times of day, a UBIGINT above 2^63-1, nanoseconds
const SOURCE = `
  SELECT * FROM (VALUES
    (1, 0.5::DOUBLE, DATE '2024-12-06', TIMESTAMP '2024-12-06 00:30:00.123456', TIMESTAMPTZ '2024-12-06 00:30:00+00', TIME '10:20:30.123456', 18446744073709551615::UBIGINT, TIMESTAMP_NS '2024-01-01 10:20:30.123456789', TIMESTAMP_MS '2024-01-01 10:20:30.123', 123456789012345678901234567890123456.78::DECIMAL(38,2), 0.1::DECIMAL(10,3)),
    (2, 1.5::DOUBLE, DATE '1969-12-31', TIMESTAMP '1969-12-31 23:59:59', TIMESTAMPTZ '2024-06-30 23:00:00-07', TIME '00:00:00', 1::UBIGINT, TIMESTAMP_NS '1969-12-31 23:59:59.999999999', TIMESTAMP_MS '1969-12-31 23:59:59.999', -0.01::DECIMAL(38,2), -1234567.005::DECIMAL(10,3)),
    (3, 2.5::DOUBLE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
  ) AS t(id, x, d, ts, tz, tm, u, ns, ms, big, small)`;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-types-"));
  src = path.join(dir, "src.parquet");
  await duckRows(`COPY (${SOURCE}) TO ${sqlString(src)} (FORMAT parquet)`);
  model = await startExampleModel({ port: 0 });
});
afterEach(async () => {
  await model.close();
  await cleanup();
});

const cli = (argv: string[], stdin?: string): Promise<CliRun> => runCli(argv, { stdin, cwd: dir });
function ok(r: CliRun): CliRun {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}
// the model sees x unless the flags name the features
const prep = (...flags: string[]): Promise<CliRun> => cli(["prep", src, "--out", path.join(dir, "prep"), ...(flags.includes("--features") ? [] : ["--features", "x"]), "--overwrite", ...flags]);

async function pipeline(...flags: string[]): Promise<string> {
  const p = ok(await prep(...flags));
  const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
  const out = path.join(dir, "joined.parquet");
  ok(await cli(["join", "--out", out], s.stdout));
  return out;
}

/** Rows of a query in a session whose time zone is not UTC (a relabelled value would show). */
async function inLosAngeles(sql: string): Promise<Array<Record<string, unknown>>> {
  return duckRows(`SET TimeZone = 'America/Los_Angeles'; ${sql}`);
}

describe("every type comes back as it went in", () => {
  it("DATE, TIMESTAMP (no zone), TIMESTAMPTZ, TIME, a UBIGINT above int64, TIMESTAMP_NS and TIMESTAMP_MS keep their values and logical types, kept in the sidecar or read back from the shards", async () => {
    const sourceTypes = await duckTypes(`SELECT * FROM read_parquet(${sqlString(src)})`);
    // DuckDB reads a Parquet TIMESTAMP(MILLIS) as TIMESTAMP; the file's logical type says MILLIS
    expect(sourceTypes).toMatchObject({ tm: "TIME", u: "UBIGINT", ns: "TIMESTAMP_NS", ms: "TIMESTAMP" });
    const unitOf = async (file: string, column: string): Promise<unknown> => (await duckRows(`SELECT logical_type FROM parquet_schema(${sqlString(file)}) WHERE name = '${column}'`))[0]?.logical_type;
    expect(await unitOf(src, "ms")).toContain("MILLIS=MilliSeconds()");
    const cols = "id, x, d, ts, tz, tm, u, ns, ms, big, small";
    // kept in the sidecar (the default: every column but the feature x), then every column a feature
    for (const flags of [[], ["--features", "x,d,ts,tz,tm,u,ns,ms,big,small"]]) {
      const out = await pipeline(...flags);
      const types = await duckTypes(`SELECT ${cols} FROM read_parquet(${sqlString(out)})`);
      // integers are int64 (an INTEGER widens, value for value); everything else is the source's type
      expect({ ...types, id: sourceTypes.id }).toEqual(Object.fromEntries(cols.split(", ").map((c) => [c, sourceTypes[c]])));
      // kept values equal the source's, compared by DuckDB itself in America/Los_Angeles
      const diff = await inLosAngeles(`SELECT count(*)::INTEGER AS n FROM (SELECT ${cols} FROM (${SOURCE}) EXCEPT SELECT ${cols} FROM read_parquet(${sqlString(out)}))`);
      expect(diff, flags.join(" ")).toEqual([{ n: 0 }]);
      for (const c of ["ms", "ns", "tm", "ts"]) expect(await unitOf(out, c)).toBe(await unitOf(src, c));
      const rows = await inLosAngeles(`SELECT id, d::VARCHAR AS d, ts::VARCHAR AS ts, epoch_us(tz) AS tz, tm::VARCHAR AS tm, u::VARCHAR AS u, ns::VARCHAR AS ns, ms::VARCHAR AS ms, big::VARCHAR AS big, small::VARCHAR AS small FROM read_parquet(${sqlString(out)}) ORDER BY id`);
      expect(rows).toEqual([
        { id: 1n, d: "2024-12-06", ts: "2024-12-06 00:30:00.123456", tz: 1733445000000000n, tm: "10:20:30.123456", u: "18446744073709551615", ns: "2024-01-01 10:20:30.123456789", ms: "2024-01-01 10:20:30.123", big: "123456789012345678901234567890123456.78", small: "0.100" },
        { id: 2n, d: "1969-12-31", ts: "1969-12-31 23:59:59", tz: 1719813600000000n, tm: "00:00:00", u: "1", ns: "1969-12-31 23:59:59.999999999", ms: "1969-12-31 23:59:59.999", big: "-0.01", small: "-1234567.005" },
        { id: 3n, d: null, ts: null, tz: null, tm: null, u: null, ns: null, ms: null, big: null, small: null },
      ]);
    }
    // JSON Lines and CSV outputs write them in their units: digits for uint64, ISO 8601 for the rest
    const p = ok(await prep("--features", "x,tm,u,ns,ms"));
    const job = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    ok(await cli(["join", "--out", path.join(dir, "j.jsonl")], job.stdout));
    ok(await cli(["join", "--out", path.join(dir, "j.csv")], job.stdout));
    const first = JSON.parse((await fs.readFile(path.join(dir, "j.jsonl"), "utf8")).split("\n")[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ tm: "10:20:30.123456", ns: "2024-01-01T10:20:30.123456789", ms: "2024-01-01T10:20:30.123" });
    expect((await fs.readFile(path.join(dir, "j.jsonl"), "utf8")).split("\n")[0]).toContain('"u":18446744073709551615');
    const csvRows = parse(await fs.readFile(path.join(dir, "j.csv"), "utf8"), { columns: true }) as Array<Record<string, string>>;
    expect(csvRows[1]).toMatchObject({ tm: "00:00:00.000000", u: "1", ns: "1969-12-31T23:59:59.999999999", ms: "1969-12-31T23:59:59.999" });
    // --schema NAME:utf8 still reads them as their exact text
    const asText = await pipeline("--schema", "tm:utf8,u:utf8,ns:utf8");
    const text = await duckRows(`SELECT tm, u, ns FROM read_parquet(${sqlString(asText)}) ORDER BY id`);
    expect(text).toEqual([
      { tm: "10:20:30.123456", u: "18446744073709551615", ns: "2024-01-01T10:20:30.123456789" },
      { tm: "00:00:00.000000", u: "1", ns: "1969-12-31T23:59:59.999999999" },
      { tm: null, u: null, ns: null },
    ]);
  });

  it("second-unit types (Parquet has none) are written in milliseconds, so DuckDB reads TIMESTAMP and TIME, not integers", async () => {
    const csv = path.join(dir, "secs.csv");
    await fs.writeFile(csv, "id,t,tm\n1,2024-01-01T10:20:30,10:20:30\n2,1969-12-31T23:59:59,00:00:00\n3,,\n");
    const p = ok(await cli(["prep", csv, "--out", path.join(dir, "secs"), "--features", "id", "--schema", "t:timestamp_ntz(s),tm:time(s)"]));
    expect(parseDescriptor(p.stdout).schema.columns.map((c) => c.type)).toEqual(["int64", "timestamp_ntz(s)", "time(s)"]);
    const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    const out = path.join(dir, "secs.parquet");
    ok(await cli(["join", "--out", out], s.stdout));
    expect(await duckTypes(`SELECT t, tm FROM read_parquet(${sqlString(out)})`)).toEqual({ t: "TIMESTAMP", tm: "TIME" });
    expect(await duckRows(`SELECT t::VARCHAR AS t, tm::VARCHAR AS tm FROM read_parquet(${sqlString(out)}) ORDER BY id`)).toEqual([
      { t: "2024-01-01 10:20:30", tm: "10:20:30" },
      { t: "1969-12-31 23:59:59", tm: "00:00:00" },
      { t: null, tm: null },
    ]);
  });

  it("a column no type holds (BLOB) names --drop, which works on the same file; a column neither feature nor kept is never decoded", async () => {
    const blob = path.join(dir, "blob.parquet");
    await duckRows(`COPY (SELECT id, x, '\\xAA\\x00'::BLOB AS bl FROM (${SOURCE})) TO ${sqlString(blob)} (FORMAT parquet)`);
    const run = (...flags: string[]): Promise<CliRun> => cli(["prep", blob, "--out", path.join(dir, "pb"), "--features", "x", "--overwrite", ...flags]);
    const refused = await run();
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("PREP_FORMAT");
    expect(refused.stderr).toContain(`column "bl" has Arrow type Binary, which no btkit column type holds`);
    expect(refused.stderr).toContain('drop it with drop: "bl" (--drop bl)');
    const d = parseDescriptor(ok(await run("--drop", "bl")).stdout);
    expect(d.schema.columns.map((c) => [c.name, c.type])).toEqual([
      ["id", "int64"],
      ["x", "float64"],
    ]);
    expect(d.source.rowsWritten).toBe(3);
    const unused = parseDescriptor(ok(await run("--keep", "id")).stdout);
    expect(unused.schema.columns.find((c) => c.name === "bl")).toMatchObject({ roles: [] });
  });

  it("CSV: dates, wall-clock times and instants are inferred apart and come back as DATE, TIMESTAMP and TIMESTAMPTZ; a column mixing zoned and unzoned values stays text", async () => {
    const csv = path.join(dir, "t.csv");
    await fs.writeFile(csv, "id,x,d,ts,tz,mixed\n1,0.5,2024-12-06,2024-12-06 00:30:00.123456,2024-12-06T00:30:00Z,2024-01-01T10:00:00Z\n2,1.5,1969-12-31,1969-12-31,2024-06-30T23:00:00-07:00,2024-01-01T10:00:00\n");
    const p = ok(await cli(["prep", csv, "--out", path.join(dir, "csvprep"), "--features", "x"]));
    expect(parseDescriptor(p.stdout).schema.columns.map((c) => c.type)).toEqual(["int64", "float64", "date", "timestamp_ntz", "timestamp", "utf8"]);
    const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    const out = path.join(dir, "csv.parquet");
    ok(await cli(["join", "--out", out], s.stdout));
    expect(await duckTypes(`SELECT d, ts, tz, mixed FROM read_parquet(${sqlString(out)})`)).toEqual({ d: "DATE", ts: "TIMESTAMP", tz: "TIMESTAMP WITH TIME ZONE", mixed: "VARCHAR" });
    expect(await inLosAngeles(`SELECT d::VARCHAR AS d, ts::VARCHAR AS ts, epoch_us(tz) AS tz, mixed FROM read_parquet(${sqlString(out)}) ORDER BY id`)).toEqual([
      { d: "2024-12-06", ts: "2024-12-06 00:30:00.123456", tz: 1733445000000000n, mixed: "2024-01-01T10:00:00Z" },
      { d: "1969-12-31", ts: "1969-12-31 00:00:00", tz: 1719813600000000n, mixed: "2024-01-01T10:00:00" },
    ]);
    // text outputs write each as it is: a date as a date, a wall-clock time without a zone
    const jsonl = path.join(dir, "csv.jsonl");
    ok(await cli(["join", "--out", jsonl], s.stdout));
    const rows = (await fs.readFile(jsonl, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => [r.d, r.ts, r.tz])).toEqual([
      ["2024-12-06", "2024-12-06T00:30:00.123456", "2024-12-06T00:30:00.000000Z"],
      ["1969-12-31", "1969-12-31T00:00:00.000000", "2024-07-01T06:00:00.000000Z"],
    ]);
  });

  it("CSV: --schema declares decimal(P,S), kept exact to the joined table; a value with more digits is refused naming the decimal that holds it, which works", async () => {
    const csv = path.join(dir, "prices.csv");
    await fs.writeFile(csv, "id,x,price\n1,0.5,19.99\n2,1.5,-0.10\n3,2.5,12345678901234567.89\n");
    const p = ok(await cli(["prep", csv, "--out", path.join(dir, "dec"), "--features", "x,price", "--format", "jsonl", "--schema", "price:decimal(19,2)"]));
    expect(parseDescriptor(p.stdout).schema.columns.map((c) => c.type)).toEqual(["int64", "float64", "decimal(19,2)"]);
    // the model gets JSON numbers with every digit
    expect(await fs.readFile(path.join(dir, "dec", "shards", "part-00000.jsonl"), "utf8")).toBe('{"x":0.5,"price":19.99}\n{"x":1.5,"price":-0.10}\n{"x":2.5,"price":12345678901234567.89}\n');
    const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    const out = path.join(dir, "dec.parquet");
    ok(await cli(["join", "--out", out], s.stdout));
    expect(await duckTypes(`SELECT price FROM read_parquet(${sqlString(out)})`)).toEqual({ price: "DECIMAL(19,2)" });
    expect(await duckRows(`SELECT price::VARCHAR AS p FROM read_parquet(${sqlString(out)}) ORDER BY id`)).toEqual([{ p: "19.99" }, { p: "-0.10" }, { p: "12345678901234567.89" }]);
    // CSV output: the same digits
    const csvOut = path.join(dir, "dec.csv");
    ok(await cli(["join", "--out", csvOut], s.stdout));
    // read back by csv-parse, an independent CSV reader
    const csvRows = parse(await fs.readFile(csvOut, "utf8"), { columns: true }) as Array<Record<string, string>>;
    expect(csvRows.map((r) => r.price)).toEqual(["19.99", "-0.10", "12345678901234567.89"]);

    await fs.appendFile(csv, "4,3.5,0.125\n");
    const refused = await cli(["prep", csv, "--out", path.join(dir, "dec2"), "--schema", "price:decimal(19,2)"]);
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain(`"0.125" does not fit decimal(19,2) (the type declared with schema (--schema); declare decimal(20,3) instead (schema: "price:decimal(20,3)" (--schema 'price:decimal(20,3)'))`);
    const widened = parseDescriptor(ok(await cli(["prep", csv, "--out", path.join(dir, "dec2"), "--schema", "price:decimal(20,3)"])).stdout);
    expect(widened.schema.columns.find((c) => c.name === "price")?.type).toBe("decimal(20,3)");
    expect(widened.source.rowsWritten).toBe(4);
  });

  it("features read back from the shards (--with-features, not kept) equal the source: CSV shards and JSON Lines shards, digits and spellings included", async () => {
    const csv = path.join(dir, "feat.csv");
    await fs.writeFile(csv, "id,big,f,b,d,ts,tz,price\n1,9007199254740993,0.1,True,2024-02-29,2024-01-01 10:20:30.123456000,2024-01-01T10:20:30-0530,12345678901234567.89\n2,-9223372036854775808,-0,FALSE,0001-01-01,9999-12-31T23:59:59,2024-06-30T23:00:00Z,-0.01\n");
    const run = async (input: string, name: string, ...flags: string[]): Promise<string> => {
      const p = ok(await cli(["prep", input, "--out", path.join(dir, name), "--keep", "id", ...flags]));
      const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
      const out = path.join(dir, `${name}.parquet`);
      ok(await cli(["join", "--out", out, "--with-features"], s.stdout));
      return out;
    };
    // every column a feature (the model sums the numbers it sees: here only big and f matter to it)
    const all = ["--features", "big,f,b,d,ts,tz,price", "--schema", "price:decimal(20,2)"];
    const outCsv = await run(csv, "fcsv", ...all);
    const outJsonl = await run(csv, "fjsonl", ...all, "--format", "jsonl");
    for (const out of [outCsv, outJsonl]) {
      const diff = await inLosAngeles(
        `SELECT count(*)::INTEGER AS n FROM (
           SELECT id, big, f, b, d, ts, tz, price FROM read_csv(${sqlString(csv)}, header = true, columns = {'id': 'BIGINT', 'big': 'BIGINT', 'f': 'DOUBLE', 'b': 'BOOLEAN', 'd': 'DATE', 'ts': 'TIMESTAMP', 'tz': 'TIMESTAMPTZ', 'price': 'DECIMAL(20,2)'})
           EXCEPT SELECT id, big, f, b, d, ts, tz, price FROM read_parquet(${sqlString(out)}))`,
      );
      expect(diff, out).toEqual([{ n: 0 }]);
      expect(await duckTypes(`SELECT big, f, b, d, ts, tz, price FROM read_parquet(${sqlString(out)})`)).toEqual({ big: "BIGINT", f: "DOUBLE", b: "BOOLEAN", d: "DATE", ts: "TIMESTAMP", tz: "TIMESTAMP WITH TIME ZONE", price: "DECIMAL(20,2)" });
    }
    // JSON input: nested values and numbers come back as written
    const jsonl = path.join(dir, "feat.jsonl");
    await fs.writeFile(jsonl, `{"id":1,"big":9007199254740993,"f":0.5,"j":{"a":1.50,"b":[1,2]},"s":"x\\"y"}\n{"id":2,"big":-1,"f":1e300,"j":[],"s":""}\n`);
    const p = ok(await cli(["prep", jsonl, "--out", path.join(dir, "fj"), "--keep", "id", "--features", "big,f,j,s"]));
    const sj = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    const outJ = path.join(dir, "fj.jsonl");
    ok(await cli(["join", "--out", outJ, "--with-features"], sj.stdout));
    const lines = (await fs.readFile(outJ, "utf8")).trim().split("\n");
    expect(lines[0]).toContain('"big":9007199254740993,"f":0.5,"j":{"a":1.50,"b":[1,2]},"s":"x\\"y"');
    expect(lines[1]).toContain('"big":-1,"f":1e+300,"j":[],"s":""');
  });

  it("nested values (lists, structs, maps) keep their nested types in the sidecar and the joined table, and are JSON text in the model input whose leaves keep what they are", async () => {
    const nested = path.join(dir, "nested.parquet");
    const NESTED = `SELECT * FROM (VALUES
      (1, 0.5::DOUBLE, ['1234567890123456789012345678.9012345678'::DECIMAL(38,10), NULL], MAP {'k': 1.50::DECIMAL(4,2)}, {'a': TIME '12:00:00.5'}, [TIMESTAMP_NS '2024-12-06 00:30:00.123456789'],
       {'z': TIMESTAMPTZ '2024-12-06 00:30:00+05:30', 'd': DATE '0001-01-01', 'n': 9007199254740993::BIGINT, 'u': 18446744073709551615::UBIGINT, 's': 'a"b'}, MAP {1: [true, false]}, [[1, NULL], NULL, []]),
      (2, 1.5::DOUBLE, NULL, MAP {}, NULL, [], {'z': NULL::TIMESTAMPTZ, 'd': NULL::DATE, 'n': -1::BIGINT, 'u': 0::UBIGINT, 's': ''}, NULL, NULL)
    ) AS t(id, x, l_dec, m_dec, st_time, l_tsn, st_t, m_int, ll)`;
    await duckRows(`COPY (${NESTED}) TO ${sqlString(nested)} (FORMAT parquet)`);
    const cols = "id, x, l_dec, m_dec, st_time, l_tsn, st_t, m_int, ll";
    // kept in the sidecar (everything but x), and read back from the model input (everything a feature: JSON Lines, then CSV shards)
    const all = ["--features", "x,l_dec,m_dec,st_time,l_tsn,st_t,m_int,ll"];
    for (const flags of [["--format", "jsonl", "--features", "x"], ["--format", "jsonl", ...all], all]) {
      const p = ok(await cli(["prep", nested, "--out", path.join(dir, "nested"), "--overwrite", ...flags]));
      expect(parseDescriptor(p.stdout).schema.columns.slice(2).map((c) => c.type)).toEqual([
        "list<decimal(38,10)>",
        "map<utf8,decimal(4,2)>",
        'struct<"a":time>',
        "list<timestamp_ntz(ns)>",
        'struct<"z":timestamp,"d":date,"n":int64,"u":uint64,"s":utf8>',
        "map<int64,list<bool>>",
        "list<list<int64>>",
      ]);
      const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
      const out = path.join(dir, "nested.jsonl");
      ok(await cli(["join", "--out", out], s.stdout));
      const lines = (await fs.readFile(out, "utf8")).trim().split("\n");
      expect(lines[0]).toContain(
        '"l_dec":[1234567890123456789012345678.9012345678,null],"m_dec":{"k":1.50},"st_time":{"a":"12:00:00.500000"},"l_tsn":["2024-12-06T00:30:00.123456789"],' +
          '"st_t":{"z":"2024-12-05T19:00:00.000000Z","d":"0001-01-01","n":9007199254740993,"u":18446744073709551615,"s":"a\\"b"},"m_int":{"1":[true,false]},"ll":[[1,null],null,[]]',
      );
      expect(lines[1]).toContain('"l_dec":null,"m_dec":{},"st_time":null,"l_tsn":[],"st_t":{"z":null,"d":null,"n":-1,"u":0,"s":""},"m_int":null,"ll":null');
      // the joined Parquet: DuckDB reads the source's nested types and values back
      const pq = path.join(dir, "nested-joined.parquet");
      ok(await cli(["join", "--out", pq], s.stdout));
      const sourceTypes = await duckTypes(`SELECT ${cols} FROM read_parquet(${sqlString(nested)})`);
      // integers widen to int64, inside nested values as at the top (value for value)
      const widened = Object.fromEntries(Object.entries(sourceTypes).map(([k, t]) => [k, t.replaceAll("INTEGER", "BIGINT")]));
      expect(await duckTypes(`SELECT ${cols} FROM read_parquet(${sqlString(pq)})`)).toEqual(widened);
      const diff = await inLosAngeles(`SELECT count(*)::INTEGER AS n FROM (SELECT ${cols} FROM read_parquet(${sqlString(nested)}) EXCEPT SELECT ${cols} FROM read_parquet(${sqlString(pq)}))`);
      expect(diff, flags.join(" ")).toEqual([{ n: 0 }]);
    }
  });

  it("a corrupt Parquet column chunk is PREP_FORMAT naming --drop (not a crash), and --drop of that column reads the rest: it is never read", async () => {
    const good = path.join(dir, "c.parquet");
    await duckRows(`COPY (SELECT i AS good, repeat('x', 50) || i::VARCHAR AS junk FROM range(1000) t(i)) TO ${sqlString(good)} (FORMAT parquet, COMPRESSION 'snappy')`);
    const meta = await duckRows(`SELECT path_in_schema AS col, data_page_offset AS at FROM parquet_metadata(${sqlString(good)})`);
    const bytes = await fs.readFile(good);
    const at = Number(meta.find((m) => m.col === "junk")!.at) + 40;
    bytes.fill(0xff, at, at + 60);
    const bad = path.join(dir, "c_bad.parquet");
    await fs.writeFile(bad, bytes);
    const refused = await cli(["prep", bad, "--out", path.join(dir, "cb")]);
    expect(refused.code).toBe(EXIT.data);
    expect(refused.stderr).toContain("PREP_FORMAT");
    expect(refused.stderr).toContain("the Parquet decoder failed");
    expect(refused.stderr).toContain("drop it with drop (--drop)");
    const d = parseDescriptor(ok(await cli(["prep", bad, "--out", path.join(dir, "cb2"), "--drop", "junk"])).stdout);
    expect(d.source.rowsWritten).toBe(1000);
    expect(d.schema.columns.map((c) => c.name)).toEqual(["good"]);
  });

  it("the lean default holds where shard text cannot give a value back: rewritten newlines and JSON nulls are kept in the sidecar whatever --keep says, a null single feature is a row, -0 keeps its sign", async () => {
    const run = async (name: string, text: string, prepArgs: string[], joinArgs: string[] = []): Promise<{ d: ReturnType<typeof parseDescriptor>; rows: Array<Record<string, unknown>> }> => {
      const input = path.join(dir, name);
      await fs.writeFile(input, text);
      const p = ok(await cli(["prep", input, "--out", path.join(dir, `${name}-prep`), ...prepArgs]));
      const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
      const out = path.join(dir, `${name}.jsonl`);
      ok(await cli(["join", "--out", out, ...joinArgs], s.stdout));
      return { d: parseDescriptor(p.stdout), rows: (await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) };
    };
    // a newline policy rewrites the shard's text: the sidecar keeps the value even with an explicit --keep
    const nl = await run("nl.csv", 'id,t\n1,"a\nb"\n', ["--newlines", "escape", "--keep", "id"]);
    expect(nl.rows[0]!.t).toBe("a\nb");
    expect(nl.d.schema.columns.find((c) => c.name === "t")?.roles).toEqual(["feature", "keep"]);
    // json text in JSON Lines shards: "null" and spacing come back as written
    const js = await run("j.csv", 'id,j\n1,null\n2,"  [1]"\n3,\n', ["--schema", "j:json", "--format", "jsonl"]);
    expect(js.rows.map((r) => r.j)).toEqual([null, [1], null]);
    const jsText = (await fs.readFile(path.join(dir, "j.csv.jsonl"), "utf8")).split("\n");
    expect(jsText[1]).toContain('"j":  [1]');
    // a row whose only feature is null is a blank shard line: a row, not an error
    const blank = await run("blank.csv", "id,s\n1,x\n2,\n3,y\n", ["--features", "s"]);
    expect(blank.rows.map((r) => [r.id, r.s])).toEqual([[1, "x"], [2, null], [3, "y"]]);
    // a column neither a feature nor kept is named in a note
    const lost = await run("lost.csv", "id,t,x,label\n1,a,1,p\n", ["--features", "t,x", "--keep", "t"]);
    expect(lost.d.source.notes).toContainEqual({ reason: "columns neither sent to the model nor kept, so not in the joined table: id, label (--keep names them, --drop says so)", count: 2 });
    expect(Object.keys(lost.rows[0]!)).toEqual(["t", "x", "prediction"]);
    // -0 from Parquet keeps its sign to the text output
    const z = path.join(dir, "z.parquet");
    await duckRows(`COPY (SELECT 1 AS id, -0.0::DOUBLE AS x) TO ${sqlString(z)} (FORMAT parquet)`);
    const p = ok(await cli(["prep", z, "--out", path.join(dir, "zp"), "--format", "jsonl"]));
    expect(await fs.readFile(path.join(dir, "zp", "shards", "part-00000.jsonl"), "utf8")).toBe('{"id":1,"x":-0.0}\n');
    const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    ok(await cli(["join", "--out", path.join(dir, "z.csv")], s.stdout));
    expect((parse(await fs.readFile(path.join(dir, "z.csv"), "utf8"), { columns: true }) as Array<Record<string, string>>)[0]).toMatchObject({ id: "1", x: "-0.0" });
    // an input column named like btkit's row number is refused naming --drop, which works
    await fs.writeFile(path.join(dir, "row.csv"), "__btkit_row,x\n5,1\n");
    const refused = await cli(["prep", path.join(dir, "row.csv"), "--out", path.join(dir, "rowp")]);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain("--drop __btkit_row");
    ok(await cli(["prep", path.join(dir, "row.csv"), "--out", path.join(dir, "rowp"), "--drop", "__btkit_row"]));
  });
});


describe("the default pipeline gives the whole table back", () => {
  // one table, written by DuckDB as CSV, JSON Lines and Parquet: quoted text with commas, quotes and
  // non-ASCII letters, nulls, floats of every length, large integers, dates, wall-clock times and
  // instants; prep is run with no column flags (every column a feature, the sidecar holds only the
  // row number), so join rebuilds every value from the model-input shards
  const TABLE = `
    SELECT i AS id, (i * 7919) % 1000003 - 500000 AS n, 9007199254740993 + i AS big,
      CASE WHEN i % 13 = 0 THEN NULL ELSE i / 7.0 END::DOUBLE AS f,
      i % 3 = 0 AS b,
      CASE WHEN i % 11 = 0 THEN NULL WHEN i % 5 = 0 THEN 'café, "quoted" ' || i ELSE 'name ' || i END AS s,
      DATE '1969-12-01' + (i * 37 % 20000)::INTEGER AS d,
      TIMESTAMP '2024-01-01 00:00:00' + to_microseconds(i * 1234567) AS ts,
      TIMESTAMPTZ '2024-03-10 09:00:00+00' + to_microseconds(i * 7654321) AS tz
    FROM range(2500) t(i)`;

  it.each([["csv"], ["jsonl"], ["parquet"]])("from %s: the joined Parquet equals the table DuckDB wrote the source from, value for value, type for type and in order", async (ext) => {
    const source = path.join(dir, `table.${ext}`);
    const format = ext === "csv" ? "FORMAT csv, HEADER true" : ext === "jsonl" ? "FORMAT json" : "FORMAT parquet";
    await duckRows(`COPY (${TABLE}) TO ${sqlString(source)} (${format})`);
    const p = ok(await cli(["prep", source, "--out", path.join(dir, `p-${ext}`), "--gzip", "--instances", "2"]));
    const d = parseDescriptor(p.stdout);
    expect(d.schema.columns.every((c) => c.roles.includes("feature") && !c.roles.includes("keep"))).toBe(true);
    expect(d.source.bytesWritten!.sidecars).toBeLessThan(2048);
    const s = ok(await cli(["submit", "--local", "--state", path.join(dir, "state"), "--poll-seconds", "0.05", "--model-url", model.url], p.stdout));
    const out = path.join(dir, `joined-${ext}.parquet`);
    ok(await cli(["join", "--out", out], s.stdout));
    // the source of truth is the table itself (each file is one spelling of it): the joined
    // columns have its types and, row by row in its order, its values
    const cols = "id, n, big, f, b, s, d, ts, tz";
    const tableTypes = await duckTypes(`SELECT ${cols} FROM (${TABLE})`);
    expect(tableTypes).toEqual({ id: "BIGINT", n: "BIGINT", big: "BIGINT", f: "DOUBLE", b: "BOOLEAN", s: "VARCHAR", d: "DATE", ts: "TIMESTAMP", tz: "TIMESTAMP WITH TIME ZONE" });
    expect(await duckTypes(`SELECT ${cols} FROM read_parquet(${sqlString(out)})`)).toEqual(tableTypes);
    const counts = await inLosAngeles(
      `SELECT (SELECT count(*) FROM read_parquet(${sqlString(out)}))::INTEGER AS joined,
              (SELECT count(*) FROM (SELECT ${cols} FROM (${TABLE}) EXCEPT ALL SELECT ${cols} FROM read_parquet(${sqlString(out)})))::INTEGER AS only_source,
              (SELECT count(*) FROM (SELECT ${cols} FROM read_parquet(${sqlString(out)}) EXCEPT ALL SELECT ${cols} FROM (${TABLE})))::INTEGER AS only_joined`,
    );
    expect(counts).toEqual([{ joined: 2500, only_source: 0, only_joined: 0 }]);
    const firstDiff = await duckRows(
      `SELECT count(*)::INTEGER AS n FROM (SELECT ${cols} FROM (${TABLE}) ORDER BY id) a POSITIONAL JOIN (SELECT ${cols.split(", ").map((c) => `${c} AS j_${c}`).join(", ")} FROM read_parquet(${sqlString(out)})) b
       WHERE ${cols.split(", ").map((c) => `${c} IS DISTINCT FROM j_${c}`).join(" OR ")}`,
    );
    expect(firstDiff).toEqual([{ n: 0 }]);
  });
});
