#!/usr/bin/env node
// Checks that a joined table holds the source table, value for value and type for type, with
// DuckDB as the reader of both (an independent reader: not btkit's code).
//
//   node bench/verify.mjs SOURCE JOINED.parquet [TABLE]
//
// SOURCE is read by extension: .csv (read_csv), .jsonl (read_json, newline-delimited), .parquet.
// TABLE, when given, is the file SOURCE was written from (DuckDB's JSON Lines or Parquet copy of a
// CSV): the joined table is then compared with TABLE's read, since DuckDB's JSON reader leaves
// text it wrote itself ("2024-01-01 00:00:03.006+00") as VARCHAR, where the CSV reader (and btkit)
// read a timestamp.
// The source's columns must be in the joined table with the same DuckDB types, and the rows
// must be equal as multisets in both directions (EXCEPT ALL), with equal counts; predictions and
// other extra columns of the joined table are not compared. Prints one JSON line; exits 1 when
// anything differs.
import { DuckDBInstance } from "@duckdb/node-api";

const [given, joined, table] = process.argv.slice(2);
const source = table ?? given;
if (!source || !joined) {
  console.error("usage: node bench/verify.mjs SOURCE JOINED.parquet");
  process.exit(2);
}
const q = (s) => "'" + String(s).replace(/'/g, "''") + "'";
const id = (s) => '"' + String(s).replace(/"/g, '""') + '"';
const src = /\.jsonl$/.test(source) ? `read_json(${q(source)}, format='newline_delimited')` : /\.parquet$/.test(source) ? `read_parquet(${q(source)})` : `read_csv(${q(source)})`;
const out = `read_parquet(${q(joined)})`;

const con = await (await DuckDBInstance.create(":memory:")).connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const types = async (rel) => Object.fromEntries((await rows(`DESCRIBE SELECT * FROM ${rel}`)).map((r) => [r.column_name, r.column_type]));
const srcTypes = await types(src);
const outTypes = await types(out);
const columns = Object.keys(srcTypes);
const typeMismatches = columns.filter((c) => srcTypes[c] !== outTypes[c]).map((c) => `${c}: source ${srcTypes[c]}, joined ${outTypes[c] ?? "missing"}`);
const list = columns.filter((c) => c in outTypes).map(id).join(", ");
const count = async (sql) => Number((await rows(`SELECT count(*) AS n FROM (${sql})`))[0].n);
const result = {
  source: given,
  ...(table ? { comparedWith: table } : {}),
  rows: await count(`SELECT * FROM ${src}`),
  joinedRows: await count(`SELECT * FROM ${out}`),
  onlyInSource: await count(`SELECT ${list} FROM ${src} EXCEPT ALL SELECT ${list} FROM ${out}`),
  onlyInJoined: await count(`SELECT ${list} FROM ${out} EXCEPT ALL SELECT ${list} FROM ${src}`),
  typeMismatches,
};
console.log(JSON.stringify(result));
process.exit(result.rows === result.joinedRows && result.onlyInSource === 0 && result.onlyInJoined === 0 && typeMismatches.length === 0 ? 0 : 1);
