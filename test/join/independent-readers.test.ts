/**
 * join's JSON Lines and CSV outputs read by readers that share no code with btkit: Python's json
 * and csv modules (python3, run as a child process) and DuckDB (read_json, read_csv). The cases
 * the JavaScript tests check with JSON.parse only: a json-typed column whose text spans lines (one
 * JSON Lines line, its line breaks as spaces; in CSV a quoted field keeping them), timestamps and
 * dates past year 9999 and before year 0 in Date's +YYYYYY / -YYYYYY form, and an int64 beyond
 * 2^53 (exact in Python and DuckDB, which JSON.parse cannot show).
 *
 * What the readers make of the extended years is recorded here as found, not changed: Python's
 * datetime stops at year 9999 (fromisoformat refuses them), and DuckDB reads the columns as text
 * and does not cast "+010000-01-01T..." or "+010000-01-01" (it takes "10000-01-01..."), while it
 * casts year -1 ("-000001-12-31T23:59:59.999999Z", 2 BC) to the instant written.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { DateDay, Field, Float64, Int64, RecordBatch, Schema, Struct, TimestampMicrosecond, Utf8, makeData, makeVector, vectorFromArray, type Vector } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPE_METADATA_KEY } from "../../src/join/columns.js";
import { writeText } from "../../src/join/text-writer.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, duckTypes, sqlString } from "./duck.js";

const run = promisify(execFile);

let dir: string;
let cleanup: () => Promise<void>;
const file = { jsonl: "", csv: "" };

/** year 10000, year -1 (2 BC), an ordinary instant; the dates of the same days */
const MICROS = [253402300800000000n, -62167219200000001n, 1700000000123456n];
const DAYS = [2932897, -719529, 19675];
/** json texts as a CSV input carries them: spread over lines (CRLF and LF), padded */
const JSON_TEXT = ['{"a": 1,\r\n "b": [1, 2]}', "  7  ", '[\n"x,y",\n{"q": "a\\nb", "r": "\\u00e9"}\n]'];
const BIG = [9007199254740993n, -9223372036854775808n, 0n];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-readers-"));
  const columns: Array<[Field, Vector]> = [];
  const add = (name: string, v: Vector, metadata?: Map<string, string>) => columns.push([new Field(name, v.type, true, metadata), v]);
  add("id", vectorFromArray(BIG, new Int64()));
  add("at", makeVector(makeData({ type: new TimestampMicrosecond("UTC"), length: 3, nullCount: 0, data: BigInt64Array.from(MICROS) })));
  add("day", makeVector(makeData({ type: new DateDay(), length: 3, nullCount: 0, data: Int32Array.from(DAYS) })));
  add("j", vectorFromArray(JSON_TEXT, new Utf8()), new Map([[TYPE_METADATA_KEY, "json"]]));
  const fields = columns.map(([f]) => f);
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 3, nullCount: 0, children: columns.map(([, v]) => v.data[0]!) }));
  for (const kind of ["jsonl", "csv"] as const) {
    const parts: Uint8Array[] = [];
    for await (const c of writeText((async function* () {
      yield batch;
    })(), kind)) parts.push(c);
    file[kind] = path.join(dir, `joined.${kind}`);
    await fs.writeFile(file[kind], Buffer.concat(parts));
  }
});
afterAll(() => cleanup());

/** What a python3 script prints on stdout (one JSON document). */
async function python(script: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await run("python3", ["-c", script, ...args], { encoding: "utf8" });
  return JSON.parse(stdout);
}

/** One column `name` of `values` as a batch, written by join's text writer as JSON Lines or CSV. */
async function writtenColumn(name: string, values: Vector, metadataType: string, kind: "jsonl" | "csv"): Promise<Buffer> {
  const field = new Field(name, values.type, values.nullCount > 0, new Map([[TYPE_METADATA_KEY, metadataType]]));
  const batch = new RecordBatch(new Schema([field]), makeData({ type: new Struct([field]), length: values.length, nullCount: 0, children: [values.data[0]!] }));
  const parts: Uint8Array[] = [];
  for await (const c of writeText((async function* () {
    yield batch;
  })(), kind)) parts.push(c);
  return Buffer.concat(parts);
}

const AT = ["+010000-01-01T00:00:00.000000Z", "-000001-12-31T23:59:59.999999Z", "2023-11-14T22:13:20.123456Z"];
const DAY = ["+010000-01-01", "-000001-12-31", "2023-11-14"];
const J = [{ a: 1, b: [1, 2] }, 7, ["x,y", { q: "a\nb", r: "é" }]];

describe("Python's json and csv modules", () => {
  it("read every JSON Lines line as one document: the json column's value, the extended years as written, the int64 exact", async () => {
    // ints are printed as strings so that JSON.parse here does not round what Python read exactly
    const got = await python(
      `import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8", newline="")]
print(json.dumps({"lines": len(rows), "rows": [dict(r, id=str(r["id"])) for r in rows], "idType": type(rows[0]["id"]).__name__}))`,
      file.jsonl,
    );
    expect(got).toEqual({ lines: 3, idType: "int", rows: BIG.map((id, i) => ({ id: String(id), at: AT[i], day: DAY[i], j: J[i] })) });
  });

  it("read the CSV with the json column's text kept exactly (its line breaks inside the quoted field), and that text parses to the value", async () => {
    const got = await python(
      `import csv, json, sys
with open(sys.argv[1], encoding="utf-8", newline="") as f:
    rows = list(csv.reader(f))
print(json.dumps({"rows": rows, "j": [json.loads(r[3]) for r in rows[1:]]}))`,
      file.csv,
    );
    expect(got).toEqual({ rows: [["id", "at", "day", "j"], ...BIG.map((id, i) => [String(id), AT[i], DAY[i], JSON_TEXT[i]])], j: J });
  });

  it("datetime reads the ordinary instant; years past 9999 and before 1 are beyond it (a limit of Python, recorded)", async () => {
    const got = await python(
      `import datetime, json, sys
out = []
for t in sys.argv[1:]:
    try:
        out.append(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).isoformat())
    except ValueError:
        out.append(None)
print(json.dumps(out))`,
      ...AT,
    );
    expect(got).toEqual([null, null, "2023-11-14T22:13:20.123456+00:00"]);
  });
});

describe("DuckDB", () => {
  it("read_json: the json column as JSON with the same values, the int64 exact; the extended years as text", async () => {
    const from = `read_json(${sqlString(file.jsonl)}, format = 'newline_delimited')`;
    // id detected as HUGEINT (128-bit, exact) for int64 -2^63 among the values; j as JSON (an alias
    // of VARCHAR, as the node API names its type), each value of its JSON kind
    expect(await duckTypes(`select * from ${from}`)).toEqual({ id: "HUGEINT", at: "VARCHAR", day: "VARCHAR", j: "VARCHAR" });
    expect((await duckRows(`select json_type(j) as t from ${from}`)).map((r) => r.t)).toEqual(["OBJECT", "UBIGINT", "ARRAY"]);
    const rows = await duckRows(`select id::varchar as id, "at", "day", j::varchar as j from ${from}`);
    expect(rows.map((r) => ({ ...r, j: JSON.parse(r.j as string) as unknown }))).toEqual(BIG.map((id, i) => ({ id: String(id), at: AT[i], day: DAY[i], j: J[i] })));
  });

  it("read_csv: the json column's text exactly, line breaks and all", async () => {
    const from = `read_csv(${sqlString(file.csv)})`;
    const rows = await duckRows(`select id::varchar as id, "at", "day", j from ${from}`);
    expect(rows).toEqual(BIG.map((id, i) => ({ id: String(id), at: AT[i], day: DAY[i], j: JSON_TEXT[i] })));
  });

  it("casts the ordinary instant and year -1 (2 BC) to the same microseconds and days, but not +YYYYYY (a disagreement, recorded)", async () => {
    const rows = await duckRows(
      `select epoch_us(try_cast("at" as timestamptz))::varchar as us, (try_cast("day" as date) - date '1970-01-01')::integer as days from read_json(${sqlString(file.jsonl)}, format = 'newline_delimited')`,
    );
    // DuckDB writes year 10000 as 10000-01-01 and does not read the sign and sixth digit of Date's form
    expect(rows).toEqual([
      { us: null, days: null },
      { us: String(MICROS[1]), days: DAYS[1] },
      { us: String(MICROS[2]), days: DAYS[2] },
    ]);
    expect((await duckRows("select try_cast('10000-01-01T00:00:00.000000Z' as timestamptz) is not null as ok"))[0]).toEqual({ ok: true });
  });
});

describe("doubles as the text writer prints them (16 and 17 digits from their exact nearest digits, the rest from their shortest digits)", () => {
  it("Python's json and csv read every one back to the same 64 bits", async () => {
    // random bit patterns from 1e-7 to 2^53, both signs, plus the hard cases: ties of x * 10^k ending in .5, 0.1 + 0.2
    // (-0 is written "-0.0": below)
    const view = new DataView(new ArrayBuffer(8));
    let seed = 20261130;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const xs: number[] = [0.1 + 0.2, -0.05536588979884982, 444227139950.59375, 237608793705893.25, 1 / 3];
    while (xs.length < 4000) {
      view.setUint32(0, ((rnd() < 0.5 ? 0x800 : 0) | (998 + Math.floor(rnd() * 79))) * 2 ** 20 + Math.floor(rnd() * 2 ** 20));
      view.setUint32(4, Math.floor(rnd() * 2 ** 32));
      xs.push(view.getFloat64(0));
    }
    const bits = xs.map((x) => {
      view.setFloat64(0, x);
      return String(view.getBigUint64(0));
    });
    const field = new Field("x", new Float64(), false, new Map([[TYPE_METADATA_KEY, "float64"]]));
    const batch = new RecordBatch(new Schema([field]), makeData({ type: new Struct([field]), length: xs.length, nullCount: 0, children: [vectorFromArray(xs, new Float64()).data[0]!] }));
    for (const kind of ["jsonl", "csv"] as const) {
      const parts: Uint8Array[] = [];
      for await (const c of writeText((async function* () {
        yield batch;
      })(), kind)) parts.push(c);
      const out = path.join(dir, `doubles.${kind}`);
      await fs.writeFile(out, Buffer.concat(parts));
      const got = await python(
        `import csv, json, struct, sys
if sys.argv[2] == "jsonl":
    xs = [json.loads(l)["x"] for l in open(sys.argv[1], encoding="utf-8")]
else:
    xs = [float(r["x"]) for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", newline=""))]
print(json.dumps([str(struct.unpack("<Q", struct.pack("<d", float(x)))[0]) for x in xs]))`,
        out,
        kind,
      );
      expect(got).toEqual(bits);
    }
  });

  it("-0 is written -0.0 in JSON Lines and CSV, which Python's json and csv read back as the float -0.0 (-0 would be json's integer 0)", async () => {
    const jsonl = await writtenColumn("x", vectorFromArray([-0], new Float64()), "float64", "jsonl");
    expect(jsonl.toString("utf8")).toBe('{"x":-0.0}\n');
    const out = path.join(dir, "minus-zero.jsonl");
    await fs.writeFile(out, jsonl);
    expect(await python(`import json, math, sys\nx = json.loads(open(sys.argv[1]).read())["x"]\nprint(json.dumps([type(x).__name__, str(x), math.copysign(1, x)]))`, out)).toEqual(["float", "-0.0", -1]);
    const csv = await writtenColumn("x", vectorFromArray([-0], new Float64()), "float64", "csv");
    expect(csv.toString("utf8")).toBe("x\n-0.0\n");
    const csvOut = path.join(dir, "minus-zero.csv");
    await fs.writeFile(csvOut, csv);
    expect(await python(`import csv, json, math, sys\nrow = next(csv.DictReader(open(sys.argv[1])))\nprint(json.dumps(math.copysign(1, float(row["x"]))))`, csvOut)).toBe(-1);
  });
});

describe("the empty string and null in CSV", () => {
  it('an empty string is written "" and null an empty field, which DuckDB reads apart (allow_quoted_nulls=false), as prep reads them', async () => {
    const csv = await writtenColumn("s", vectorFromArray(["", null, "x", ""], new Utf8()), "utf8", "csv");
    expect(csv.toString("utf8")).toBe('s\n""\n\nx\n""\n');
    const out = path.join(dir, "empty-and-null.csv");
    await fs.writeFile(out, csv);
    const rows = await duckRows(`SELECT s, s IS NULL AS missing FROM read_csv(${sqlString(out)}, header = true, allow_quoted_nulls = false, columns = {'s': 'VARCHAR'})`);
    expect(rows).toEqual([{ s: "", missing: false }, { s: null, missing: true }, { s: "x", missing: false }, { s: "", missing: false }]);
  });
});
