#!/usr/bin/env node
// Prints the quickstart's summary: rows, shards, job, time, and the first rows of the joined Parquet.
//   node examples/summary.mjs DESCRIPTOR.json SECONDS
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { tableFromIPC } from "apache-arrow";
import * as pw from "parquet-wasm";

const [file, seconds] = process.argv.slice(2);
const d = JSON.parse(fs.readFileSync(file, "utf8"));
const out = d.results.location.startsWith("file:") ? fileURLToPath(d.results.location) : d.results.location;
const table = tableFromIPC(pw.readParquet(fs.readFileSync(out)).intoIPCStream());
console.log("");
console.log(`rows:    ${d.source.rowsRead} read, ${d.source.rowsWritten} written, ${d.source.rowsSkipped} skipped`);
console.log(`shards:  ${d.shards.length} (${d.modelInput.contentType}, compression ${d.modelInput.compression})`);
console.log(`job:     ${d.job.name} on ${d.job.backend}: ${d.job.status}${d.job.instanceSeconds !== undefined ? `, ${d.job.instanceSeconds} instance-seconds` : ""}`);
console.log(`joined:  ${d.results.rows} rows -> ${out} (${table.numCols} columns)`);
console.log(`time:    ${seconds} s`);
console.log("");
const cols = table.schema.fields.map((f) => f.name);
const isTime = cols.map((c) => String(table.schema.fields.find((f) => f.name === c).type).startsWith("Timestamp"));
const show = (v) => (v === null || v === undefined ? "∅" : typeof v === "bigint" ? v.toString() : v instanceof Date ? v.toISOString() : String(v));
const rows = [];
for (let i = 0; i < Math.min(5, table.numRows); i++) rows.push(cols.map((c, j) => {
  const v = table.getChild(c).get(i);
  return (isTime[j] && v !== null ? new Date(Number(v)).toISOString() : show(v)).slice(0, 28);
}));
const widths = cols.map((c, j) => Math.max(c.length, ...rows.map((r) => r[j].length)));
console.log(cols.map((c, j) => c.padEnd(widths[j])).join("  "));
for (const r of rows) console.log(r.map((v, j) => v.padEnd(widths[j])).join("  "));
