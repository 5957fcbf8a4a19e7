#!/usr/bin/env node
// Checks a benchmark task's output against its input, with DuckDB as the reader of both (an
// independent reader, not btkit's code): the same rows as multisets (order-independent: EXCEPT
// ALL in both directions) and the same count.
//
//   node bench/check.mjs --source IN.csv [--pred PRED.jsonl --pred-prefix P] --output FORMAT:GLOB [--header true|false]
//
// The expected rows are the source CSV (read_csv, DuckDB's types), POSITIONAL JOIN the
// predictions when --pred is given (their columns named with the prefix). The output is read
// with those column names and types: FORMAT is csv (header per --header, default true), jsonl
// or parquet; GLOB may name several files (shards), gzip by extension. Every value is compared
// in the expected column's type, so text forms that differ (ISO 8601 "T...Z" against DuckDB's
// "2024-01-01 00:00:03+00", "1.0" against "1") compare equal when their values are.
// Prints one JSON line {rows, outputRows, onlyInExpected, onlyInOutput, ok}; exits 1 unless ok.
import { DuckDBInstance } from "@duckdb/node-api";

const a = { header: "true", predPrefix: "" };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  a[k] = process.argv[i + 1];
}
if (!a.source || !a.output) {
  console.error("usage: node bench/check.mjs --source IN.csv [--pred PRED.jsonl --pred-prefix P] --output csv|jsonl|parquet:GLOB [--header true|false]");
  process.exit(2);
}
const q = (s) => "'" + String(s).replace(/'/g, "''") + "'";
const id = (s) => '"' + String(s).replace(/"/g, '""') + '"';
const con = await (await DuckDBInstance.create(":memory:")).connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const describe = async (rel) => (await rows(`DESCRIBE SELECT * FROM ${rel}`)).map((r) => [r.column_name, r.column_type]);

const src = `read_csv(${q(a.source)})`;
const pred = a.pred ? `read_json(${q(a.pred)}, format='newline_delimited')` : undefined;
const srcCols = await describe(src);
const predCols = pred ? (await describe(pred)).map(([n, t]) => [a.predPrefix + n, t, n]) : [];
const cols = [...srcCols, ...predCols];
const expected = pred
  ? `(SELECT ${[...srcCols.map(([n]) => `s.${id(n)}`), ...predCols.map(([n, , orig]) => `p.${id(orig)} AS ${id(n)}`)].join(", ")} FROM ${src} s POSITIONAL JOIN ${pred} p)`
  : src;

const [format, ...rest] = a.output.split(":");
const glob = rest.join(":");
const struct = `{${cols.map(([n, t]) => `${q(n)}: ${q(t)}`).join(", ")}}`;
const output =
  format === "csv"
    ? `read_csv(${q(glob)}, header=${a.header === "true"}, columns=${struct}${a.header === "true" ? "" : ""})`
    : format === "jsonl"
      ? `read_json(${q(glob)}, format='newline_delimited', columns=${struct})`
      : `(SELECT ${cols.map(([n, t]) => `CAST(${id(n)} AS ${t}) AS ${id(n)}`).join(", ")} FROM read_parquet(${q(glob)}))`;
const list = cols.map(([n]) => id(n)).join(", ");
const count = async (sql) => Number((await rows(`SELECT count(*) AS n FROM (${sql})`))[0].n);
const result = {
  output: a.output,
  rows: await count(`SELECT * FROM ${expected}`),
  outputRows: await count(`SELECT * FROM ${output}`),
  onlyInExpected: await count(`SELECT ${list} FROM ${expected} EXCEPT ALL SELECT ${list} FROM ${output}`),
  onlyInOutput: await count(`SELECT ${list} FROM ${output} EXCEPT ALL SELECT ${list} FROM ${expected}`),
};
result.ok = result.rows === result.outputRows && result.onlyInExpected === 0 && result.onlyInOutput === 0;
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
