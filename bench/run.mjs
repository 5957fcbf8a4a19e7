#!/usr/bin/env node
// btkit benchmarks against DuckDB (and pigz -p2 where installed), in one run on the same files.
//
//   npm run bench -- [--size 1G] [--runs 3] [--data DIR] [--tasks csv2csv,csv2jsonl,join,memory]
//
// Generates the table with ../shared/bench/gen-data.mjs (deterministic: same seed and size give the
// same bytes), then times each task as a child process under /usr/bin/time (wall time, peak RSS).
// Prints a table (median wall, MB/s of the input CSV, peak RSS, btkit/peer ratio) and a memory
// check (btkit prep peak RSS on the table and on four copies of it, given as four inputs).
// Not part of the tests: speed and memory targets are checked here, never by timed tests.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = { size: "1G", runs: 3, data: path.join(root, "bench", "data"), tasks: "csv2csv,csv2jsonl,join,memory", level: 6 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i];
  const v = process.argv[i + 1];
  if (k === "--size") (args.size = v), i++;
  else if (k === "--runs") (args.runs = Number(v)), i++;
  else if (k === "--data") (args.data = path.resolve(v)), i++;
  else if (k === "--tasks") (args.tasks = v), i++;
  else if (k === "--level") (args.level = Number(v)), i++;
  else if (k === "-h" || k === "--help") {
    console.log("npm run bench -- [--size 1G|100M] [--runs 3] [--data DIR] [--tasks csv2csv,csv2jsonl,join,memory] [--level 6]");
    process.exit(0);
  } else {
    console.error(`unknown argument ${k}`);
    process.exit(2);
  }
}

const shared = path.resolve(root, "..", "shared", "bench");
const gen = path.join(shared, "gen-data.mjs");
const duck = path.join(shared, "duckdb.mjs");
if (!fs.existsSync(gen)) {
  console.error(`the reference generator is missing: ${gen} (the benchmark reads ../shared/bench beside the checkout)`);
  process.exit(2);
}
const btkit = path.join(root, "dist", "bin", "btkit.js");
if (!fs.existsSync(btkit)) {
  console.error("build first: npm run build (npm run bench does it)");
  process.exit(2);
}
const name = `table-${args.size.toLowerCase()}`;
fs.mkdirSync(args.data, { recursive: true });
const csv = path.join(args.data, `${name}.csv`);
const pred = path.join(args.data, `${name}.pred.jsonl`);
if (!fs.existsSync(csv) || !fs.existsSync(pred)) {
  console.error(`generating ${csv} ...`);
  execFileSync(process.execPath, [gen, "--out", args.data, "--size", args.size, "--name", name], { stdio: "inherit" });
}
const csvBytes = fs.statSync(csv).size;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "btkit-bench-"));
// DuckDB resolves @duckdb/node-api from our node_modules (a devDependency).
const env = { ...process.env, NODE_PATH: path.join(root, "node_modules"), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
const duckRunner = path.join(work, "duckdb.mjs");
fs.copyFileSync(duck, duckRunner);
fs.symlinkSync(path.join(root, "node_modules"), path.join(work, "node_modules"));

/** Runs a command under /usr/bin/time; returns wall seconds and peak RSS in MiB. */
function timed(cmd, argv, opts = {}) {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", cmd, ...argv], { env, encoding: "utf8", maxBuffer: 1 << 26, ...opts });
  const lines = (r.stderr ?? "").trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  const [wall, kb] = last.split(" ").map(Number);
  if (r.status !== 0) {
    console.error(`failed: ${cmd} ${argv.join(" ")}\n${r.stderr}`);
    process.exit(1);
  }
  return { wall, rssMiB: kb / 1024, stdout: r.stdout };
}

function sh(script) {
  return timed("bash", ["-c", script]);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function repeat(label, fn) {
  const runs = [];
  for (let i = 0; i < args.runs; i++) {
    runs.push(fn(i));
    process.stderr.write(`  ${label} run ${i + 1}/${args.runs}: ${runs[i].wall.toFixed(2)} s, ${runs[i].rssMiB.toFixed(0)} MiB\n`);
  }
  return { wall: median(runs.map((r) => r.wall)), rssMiB: Math.max(...runs.map((r) => r.rssMiB)) };
}

const results = [];
const tasks = new Set(args.tasks.split(","));
const hasPigz = spawnSync("bash", ["-c", "command -v pigz"]).status === 0;

function prep(format, gzip, out, inputs = [csv]) {
  fs.rmSync(out, { recursive: true, force: true });
  const flags = ["prep", ...inputs, "--out", out, "--format", format, "--instances", "2", "--quiet"];
  if (gzip) flags.push("--gzip", String(args.level));
  return timed(process.execPath, [btkit, ...flags]);
}

if (tasks.has("csv2csv")) {
  console.error("task: CSV -> headerless CSV.gz");
  const b = repeat("btkit", () => prep("csv", true, path.join(work, "p-csv")));
  const d = repeat("duckdb", () => timed(process.execPath, [duckRunner, "csv2csv", csv, path.join(work, "duck.csv.gz")]));
  results.push({ task: "CSV -> CSV.gz", btkit: b, peer: d, peerName: "DuckDB" });
  if (hasPigz) {
    const p = repeat("pigz", () => sh(`pigz -p2 -${args.level} -c ${JSON.stringify(csv)} > ${JSON.stringify(path.join(work, "pigz.gz"))}`));
    results.push({ task: "CSV -> CSV.gz", btkit: b, peer: p, peerName: `pigz -p2 -${args.level}` });
  }
}
if (tasks.has("csv2jsonl")) {
  console.error("task: CSV -> JSON Lines.gz");
  const b = repeat("btkit", () => prep("jsonl", true, path.join(work, "p-jsonl")));
  const d = repeat("duckdb", () => timed(process.execPath, [duckRunner, "csv2jsonl", csv, path.join(work, "duck.jsonl.gz")]));
  results.push({ task: "CSV -> JSONL.gz", btkit: b, peer: d, peerName: "DuckDB" });
}
if (tasks.has("join")) {
  console.error("task: join -> Parquet (setup: prep, then .out files from the predictions)");
  const out = path.join(work, "p-join");
  prep("csv", false, out);
  const desc = JSON.parse(fs.readFileSync(path.join(out, "btkit.json"), "utf8"));
  const outDir = path.join(out, "output");
  fs.mkdirSync(outDir, { recursive: true });
  // Split the prediction lines across the shards' .out files, by the shards' row counts.
  const predText = fs.readFileSync(pred);
  let off = 0;
  for (const s of desc.shards) {
    let end = off;
    for (let n = 0; n < s.rows; n++) end = predText.indexOf(10, end) + 1;
    fs.writeFileSync(path.join(outDir, `${s.name}.out`), predText.subarray(off, end));
    off = end;
  }
  desc.job = {
    backend: "emulator", name: "bench", arn: "arn:aws:sagemaker:local:000000000000:transform-job/bench", request: {},
    outputLocation: `file://${outDir}/`, accept: "application/jsonlines", assembleWith: "Line", status: "Completed",
  };
  fs.writeFileSync(path.join(out, "btkit.json"), JSON.stringify(desc));
  const joinRun = (codec) => timed(process.execPath, [btkit, "join", "--descriptor", out, "--out", path.join(work, `joined-${codec}.parquet`), "--format", "parquet", "--compression", codec, "--quiet"]);
  // btkit's default codec is zstd; DuckDB's default is snappy: both are measured, against the same DuckDB runs
  const bs = repeat("btkit snappy", () => joinRun("snappy"));
  const bz = repeat("btkit zstd", () => joinRun("zstd"));
  const d = repeat("duckdb", () => timed(process.execPath, [duckRunner, "join", csv, pred, path.join(work, "duck.parquet")]));
  results.push({ task: "join -> Parquet (snappy, as DuckDB)", btkit: bs, peer: d, peerName: "DuckDB (snappy)" });
  results.push({ task: "join -> Parquet (zstd, btkit default)", btkit: bz, peer: d, peerName: "DuckDB (snappy)" });
}
let memory;
if (tasks.has("memory")) {
  console.error("task: memory check (prep CSV -> CSV.gz on 1x and 4x the input)");
  const one = prep("csv", true, path.join(work, "m1"));
  // four inputs under four names (prep refuses a file listed twice): symlinks to the same table
  const copies = [0, 1, 2, 3].map((i) => {
    const p = path.join(work, `copy-${i}.csv`);
    fs.symlinkSync(csv, p);
    return p;
  });
  const four = prep("csv", true, path.join(work, "m4"), copies);
  memory = { one: one.rssMiB, four: four.rssMiB, oneWall: one.wall, fourWall: four.wall };
}

const mb = csvBytes / 1e6;
const lines = [
  `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; input ${path.basename(csv)} ${mb.toFixed(0)} MB; median of ${args.runs} runs; gzip level ${args.level}`,
  "",
  "| task | tool | wall (s) | MB/s | peak RSS (MiB) | btkit / peer |",
  "| --- | --- | --- | --- | --- | --- |",
];
for (const r of results) {
  lines.push(`| ${r.task} | btkit | ${r.btkit.wall.toFixed(2)} | ${(mb / r.btkit.wall).toFixed(0)} | ${r.btkit.rssMiB.toFixed(0)} | |`);
  lines.push(`| ${r.task} | ${r.peerName} | ${r.peer.wall.toFixed(2)} | ${(mb / r.peer.wall).toFixed(0)} | ${r.peer.rssMiB.toFixed(0)} | **${(r.btkit.wall / r.peer.wall).toFixed(2)}x** |`);
}
if (memory) {
  lines.push("", `memory: btkit prep peak RSS ${memory.one.toFixed(0)} MiB at 1x (${memory.oneWall.toFixed(1)} s), ${memory.four.toFixed(0)} MiB at 4x (${memory.fourWall.toFixed(1)} s)`);
}
console.log(lines.join("\n"));
fs.rmSync(work, { recursive: true, force: true });
