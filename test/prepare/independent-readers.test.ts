/**
 * prep's JSON Lines shards read by readers that share no code with btkit: Python's json module
 * reads every shard line (gzip or not) with numbers kept as their text, Python's csv module reads
 * the source, and the two must agree value for value. The numbers are copied from the input's
 * bytes (in whole words where the source has 3 bytes after them): of every length from 1 to 60
 * bytes, negative, with exponents, the last one ending the file (no final newline), beside keys
 * of every length modulo 4, non-ASCII ones too.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepare } from "../../src/prepare/index.js";
import { tempDir } from "../helpers/tmp.js";

const run = promisify(execFile);

let dir: string;
let cleanup: () => Promise<void>;
let source: string;

/** A JSON number text of about `digits` digits, by row: integers, decimals, exponents, negatives. */
function numberText(row: number, digits: number): string {
  const body = Array.from({ length: digits }, (_, i) => String((row * 7 + i * 3 + 1) % 10)).join("");
  const int = body.replace(/^0+(?=\d)/, "");
  switch (row % 5) {
    case 0:
      return int;
    case 1:
      return `-${int}`;
    case 2:
      return digits > 1 ? `${int.slice(0, 1)}.${body.slice(1)}` : `${int}.5`;
    case 3:
      return `${int}e${row % 30}`;
    default:
      return `-0.${body}E-${row % 9}`;
  }
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-prep-readers-"));
  const names = ["i", "ab", "名前", "four", "fünf5", "x"];
  const rows: string[] = [names.map((n) => `"${n}"`).join(",")];
  for (let r = 0; r < 600; r++) {
    const digits = 1 + (r % 60);
    const text = r % 13 === 0 ? "" : `"say ""${r}"", \\ ok"`;
    // the float columns take any number form; the int64 column whole numbers of up to 18 digits
    rows.push([String(r % 17 === 0 ? "" : (r % 2 ? -1 : 1) * Number(String(r * 7919).slice(0, 1 + (r % 15)))), numberText(r, digits), text, numberText(r + 1, 1 + ((r * 3) % 50)), numberText(r + 2, 1 + (r % 4)), numberText(r + 3, 1 + ((r * 7) % 60))].join(","));
  }
  source = path.join(dir, "numbers.csv");
  // no final newline: the last number ends the file
  await fs.writeFile(source, rows.join("\n"));
});
afterAll(() => cleanup());

/** Python's reading of the source (csv) and of the shards (json, numbers as their text): both as lists of rows. */
async function pythonRows(shards: string[]): Promise<{ csv: Array<Record<string, string | null>>; jsonl: Array<Record<string, string | null>> }> {
  const script = `import csv, gzip, json, sys
src = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
out = []
for p in sys.argv[2:]:
    f = gzip.open(p, "rt", encoding="utf-8", newline="") if p.endswith(".gz") else open(p, encoding="utf-8", newline="")
    for line in f:
        out.append(json.loads(line, parse_float=str, parse_int=str))
print(json.dumps({"csv": [{k: (v if v != "" else None) for k, v in r.items()} for r in src], "jsonl": out}))`;
  const { stdout } = await run("python3", ["-c", script, source, ...shards], { encoding: "utf8", maxBuffer: 1 << 26 });
  return JSON.parse(stdout) as { csv: Array<Record<string, string | null>>; jsonl: Array<Record<string, string | null>> };
}

describe("prep's JSON Lines read by Python", () => {
  for (const gzip of [false, true]) {
    it(`every number is its input text and every string its value, ${gzip ? "gzip" : "plain"} shards`, async () => {
      const out = path.join(dir, gzip ? "gz" : "plain");
      // rows past the type sample take the byte path (the sample's rows are encoded from strings): a sample of 1 row, the types given
      const d = await prepare({ inputs: [source], out, format: "jsonl", shardRows: 97, sampleRows: 1, schema: "i:int64,ab:float64,名前:utf8,four:float64,fünf5:float64,x:float64", ...(gzip ? { gzipLevel: 5 } : {}) });
      expect(d.schema.columns.map((c) => c.type)).toEqual(["int64", "float64", "utf8", "float64", "float64", "float64"]);
      const shards = d.shards.map((s) => new URL(s.location).pathname);
      expect(shards.length).toBeGreaterThan(5);
      const got = await pythonRows(shards);
      expect(got.jsonl.length).toBe(600);
      expect(got.jsonl).toEqual(got.csv);
      // the file's last value (no newline after it) and a 60-digit one
      expect(got.jsonl[599]!.x).toBe(got.csv[599]!.x);
      expect(got.jsonl.some((r) => (r.ab ?? "").replace(/\D/g, "").length >= 59)).toBe(true);
    });
  }
});
