#!/usr/bin/env node
// btkit benchmarks against DuckDB (and pigz -p2 where installed), in one run on the same files.
//
//   npm run bench -- [--size 1G] [--runs 3] [--data DIR] [--tasks csv2csv,csv2jsonl,join,lean,memory,startup]
//
// Generates the table with ../shared/bench/gen-data.mjs (deterministic: same seed and size give the
// same bytes), then times each task as a child process under /usr/bin/time (wall time, peak RSS).
// Prints a table (median wall, MB/s of the input CSV, peak RSS, output bytes, btkit/peer ratio
// beside its target, met or not); every task's output, btkit's and the peer's, is checked
// against the source by DuckDB (bench/check.mjs: rows, EXCEPT ALL both ways; exit 1 when one
// differs). Tasks: prep CSV -> CSV.gz and -> JSON Lines.gz; join -> Parquet (snappy, zstd),
// JSON Lines and CSV against DuckDB's POSITIONAL JOIN with COPY to the same format. Then the storage
// task (bytes under prep's --out per byte of gzip shards, for three column splits, checked against
// the descriptor's bytesWritten), the default pipeline's joined table compared with DuckDB's read
// of the source (CSV, and DuckDB's JSON Lines and Parquet copies of it; bench/verify.mjs; exit 1
// when they differ), and a memory check (btkit prep's and join's peak RSS on the table and on four copies of
// it, given as four inputs), and the CLI's startup (CPU seconds of btkit --version and of help, the
// median of at least 5 runs, against the target; --tasks startup alone needs no data).
// Not part of the tests: speed and memory targets are checked here, never by timed tests.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = { size: "1G", runs: 3, data: path.join(root, "bench", "data"), tasks: "csv2csv,csv2jsonl,join,lean,memory,startup", level: 6 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i];
  const v = process.argv[i + 1];
  if (k === "--size") (args.size = v), i++;
  else if (k === "--runs") (args.runs = Number(v)), i++;
  else if (k === "--data") (args.data = path.resolve(v)), i++;
  else if (k === "--tasks") (args.tasks = v), i++;
  else if (k === "--level") (args.level = Number(v)), i++;
  else if (k === "--btkit-level") (args.btkitLevel = Number(v)), i++;
  else if (k === "-h" || k === "--help") {
    console.log("npm run bench -- [--size 1G|100M] [--runs 3] [--data DIR] [--tasks csv2csv,csv2jsonl,join,lean,memory,startup] [--level 6 (peers)] [--btkit-level N (default: bare --gzip)]");
    process.exit(0);
  } else {
    console.error(`unknown argument ${k}`);
    process.exit(2);
  }
}

const tasks = new Set(args.tasks.split(","));
// every task but startup runs on the generated table
const needsData = [...tasks].some((t) => t !== "startup");
const shared = path.resolve(root, "..", "shared", "bench");
const gen = path.join(shared, "gen-data.mjs");
const duck = path.join(shared, "duckdb.mjs");
if (needsData && !fs.existsSync(gen)) {
  console.error(`the reference generator is missing: ${gen} (the benchmark reads ../shared/bench beside the checkout)`);
  process.exit(2);
}
const btkit = path.join(root, "dist", "bin", "btkit.js");
if (!fs.existsSync(btkit)) {
  console.error("build first: npm run build (npm run bench does it)");
  process.exit(2);
}
const name = `table-${args.size.toLowerCase()}`;
const csv = path.join(args.data, `${name}.csv`);
const pred = path.join(args.data, `${name}.pred.jsonl`);
if (needsData && (!fs.existsSync(csv) || !fs.existsSync(pred))) {
  fs.mkdirSync(args.data, { recursive: true });
  console.error(`generating ${csv} ...`);
  execFileSync(process.execPath, [gen, "--out", args.data, "--size", args.size, "--name", name], { stdio: "inherit" });
}
const csvBytes = needsData ? fs.statSync(csv).size : 0;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "btkit-bench-"));
// DuckDB resolves @duckdb/node-api from our node_modules (a devDependency).
const env = { ...process.env, NODE_PATH: path.join(root, "node_modules"), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
const duckRunner = path.join(work, "duckdb.mjs");
if (needsData) fs.copyFileSync(duck, duckRunner);
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
const hasPigz = spawnSync("bash", ["-c", "command -v pigz"]).status === 0;

function prep(format, gzip, out, inputs = [csv]) {
  fs.rmSync(out, { recursive: true, force: true });
  const flags = ["prep", ...inputs, "--out", out, "--format", format, "--instances", "2", "--quiet"];
  // btkit's own default level (bare --gzip: level 5 with memLevel 9, as small as gzip -6); the peers use --level
  if (gzip) flags.push(...(args.btkitLevel === undefined ? ["--gzip"] : ["--gzip", String(args.btkitLevel)]));
  return timed(process.execPath, [btkit, ...flags]);
}

const checker = path.join(root, "bench", "check.mjs");
/** Checks an output against the source (and predictions) with DuckDB (bench/check.mjs); returns its verdict and records it. */
function check(label, output, extra = []) {
  const r = spawnSync(process.execPath, [checker, "--source", csv, "--output", output, ...extra], { env, encoding: "utf8" });
  const v = JSON.parse((r.stdout || "{}").trim() || "{}");
  checks.push({ label, ...v, ok: r.status === 0 });
  if (r.status !== 0) console.error(`  output check FAILED: ${label}: ${r.stdout}${r.stderr}`);
  return r.status === 0;
}
const checks = [];
const PRED = ["--pred", pred];

/** Bytes of the files and folders given (a folder: every file under it, bytesUnder). */
function sizeOf(...paths) {
  return paths.reduce((n, p) => n + (fs.statSync(p).isDirectory() ? bytesUnder(p) : fs.statSync(p).size), 0);
}

if (tasks.has("csv2csv")) {
  console.error("task: CSV -> headerless CSV.gz");
  const b = repeat("btkit", () => prep("csv", true, path.join(work, "p-csv")));
  const d = repeat("duckdb", () => timed(process.execPath, [duckRunner, "csv2csv", csv, path.join(work, "duck.csv.gz")]));
  check("btkit prep CSV -> CSV.gz", `csv:${path.join(work, "p-csv", "shards", "*.csv.gz")}`, ["--header", "false"]);
  check("DuckDB CSV -> CSV.gz", `csv:${path.join(work, "duck.csv.gz")}`, ["--header", "false"]);
  const bBytes = sizeOf(path.join(work, "p-csv", "shards"));
  results.push({ task: "CSV -> CSV.gz", btkit: b, peer: d, peerName: "DuckDB", target: 0.45, bytes: [bBytes, sizeOf(path.join(work, "duck.csv.gz"))] });
  if (hasPigz) {
    const p = repeat("pigz", () => sh(`pigz -p2 -${args.level} -c ${JSON.stringify(csv)} > ${JSON.stringify(path.join(work, "pigz.gz"))}`));
    results.push({ task: "CSV -> CSV.gz", btkit: b, peer: p, peerName: `pigz -p2 -${args.level} (gzip only)`, target: 1.1, bytes: [bBytes, sizeOf(path.join(work, "pigz.gz"))] });
  }
}
if (tasks.has("csv2jsonl")) {
  console.error("task: CSV -> JSON Lines.gz");
  const b = repeat("btkit", () => prep("jsonl", true, path.join(work, "p-jsonl")));
  const d = repeat("duckdb", () => timed(process.execPath, [duckRunner, "csv2jsonl", csv, path.join(work, "duck.jsonl.gz")]));
  check("btkit prep CSV -> JSONL.gz", `jsonl:${path.join(work, "p-jsonl", "shards", "*.jsonl.gz")}`);
  check("DuckDB CSV -> JSONL.gz", `jsonl:${path.join(work, "duck.jsonl.gz")}`);
  results.push({ task: "CSV -> JSONL.gz", btkit: b, peer: d, peerName: "DuckDB", target: 0.5, bytes: [sizeOf(path.join(work, "p-jsonl", "shards")), sizeOf(path.join(work, "duck.jsonl.gz"))] });
}
/**
 * Writes .out files for a preparation under `out` from the prediction lines (split by the shards'
 * row counts; `copies` times over, for a preparation of that many copies of the table) and a
 * Completed job section into its btkit.json.
 */
function fakeJob(out, copies = 1) {
  const desc = JSON.parse(fs.readFileSync(path.join(out, "btkit.json"), "utf8"));
  const outDir = path.join(out, "output");
  fs.mkdirSync(outDir, { recursive: true });
  const one = fs.readFileSync(pred);
  const predText = copies === 1 ? one : Buffer.concat(Array.from({ length: copies }, () => one));
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
}

if (tasks.has("join")) {
  console.error("task: join -> Parquet (setup: prep, then .out files from the predictions)");
  const out = path.join(work, "p-join");
  prep("csv", false, out);
  fakeJob(out);
  const joined = (ext) => path.join(work, `joined${ext}`);
  const joinRun = (ext, more = []) => timed(process.execPath, [btkit, "join", "--descriptor", out, "--out", joined(ext), "--quiet", ...more]);
  const duckJoin = (ext) => timed(process.execPath, [duckRunner, "join", csv, pred, path.join(work, `duck${ext}`)]);
  const byPrefix = ["--pred-prefix", "pred_"];
  // btkit's default codec is zstd; DuckDB's default is snappy: both are measured, against the same DuckDB runs
  const bs = repeat("btkit snappy", () => joinRun("-snappy.parquet", ["--compression", "snappy"]));
  check("btkit join -> Parquet (snappy)", `parquet:${joined("-snappy.parquet")}`, [...PRED, ...byPrefix]);
  const bz = repeat("btkit zstd", () => joinRun("-zstd.parquet", ["--compression", "zstd"]));
  check("btkit join -> Parquet (zstd)", `parquet:${joined("-zstd.parquet")}`, [...PRED, ...byPrefix]);
  const d = repeat("duckdb", () => duckJoin(".parquet"));
  check("DuckDB join -> Parquet", `parquet:${path.join(work, "duck.parquet")}`, PRED);
  const duckParquet = sizeOf(path.join(work, "duck.parquet"));
  results.push({ task: "join -> Parquet (snappy, as DuckDB)", btkit: bs, peer: d, peerName: "DuckDB (snappy)", target: 0.8, bytes: [sizeOf(joined("-snappy.parquet")), duckParquet] });
  results.push({ task: "join -> Parquet (zstd, btkit default)", btkit: bz, peer: d, peerName: "DuckDB (snappy)", target: 1.0, bytes: [sizeOf(joined("-zstd.parquet")), duckParquet] });
  for (const [ext, label] of [[".jsonl", "JSON Lines"], [".csv", "CSV"]]) {
    const b = repeat(`btkit ${label}`, () => joinRun(ext));
    check(`btkit join -> ${label}`, `${ext.slice(1)}:${joined(ext)}`, [...PRED, ...byPrefix]);
    const dj = repeat(`duckdb ${label}`, () => duckJoin(ext));
    check(`DuckDB join -> ${label}`, `${ext.slice(1)}:${path.join(work, `duck${ext}`)}`, PRED);
    results.push({ task: `join -> ${label}`, btkit: b, peer: dj, peerName: "DuckDB", target: 1.0, bytes: [sizeOf(joined(ext)), sizeOf(path.join(work, `duck${ext}`))] });
  }
}

/** Newlines in a file, read in 16 MiB pieces (a 4x join's output is larger than one Buffer holds). */
function countLines(file) {
  const fd = fs.openSync(file, "r");
  const buf = Buffer.allocUnsafe(16 << 20);
  let n = 0;
  try {
    for (let got; (got = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      for (let at = buf.indexOf(10, 0); at >= 0 && at < got; at = buf.indexOf(10, at + 1)) n++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

/** Bytes of every file under a folder. */
function bytesUnder(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  return n;
}

const lean = [];
const verified = [];
if (tasks.has("lean")) {
  console.error("task: storage-lean (bytes under --out per byte of gzip shards), and the default pipeline's joined table against DuckDB's read of the source");
  const columns = fs.readFileSync(csv, "utf8").slice(0, 4096).split("\n")[0].split(",");
  const but = (...names) => columns.filter((c) => !names.includes(c));
  const cases = [
    { label: "every column a feature (nothing kept but the row number)", flags: [] },
    { label: "one ID kept, every other column a feature", flags: ["--features", but(columns[0]).join(",")], target: 1.05 },
    { label: "features a subset, the rest kept (id, user_id, event_time)", flags: ["--features", but("id", "user_id", "event_time").join(",")], target: 1.1 },
    // the kept text is most of the table: stored once, compressed, whichever file holds it
    { label: "features a subset, the rest kept (id, user_id, event_time, review: the text)", flags: ["--features", but("id", "user_id", "event_time", "review").join(",")] },
  ];
  for (const [k, c] of cases.entries()) {
    const out = path.join(work, `lean-${k}`);
    fs.rmSync(out, { recursive: true, force: true });
    timed(process.execPath, [btkit, "prep", csv, "--out", out, "--gzip", String(args.level), "--instances", "2", "--quiet", ...c.flags]);
    const d = JSON.parse(fs.readFileSync(path.join(out, "btkit.json"), "utf8"));
    const onDisk = bytesUnder(out) - fs.statSync(path.join(out, "btkit.json")).size;
    const w = d.source.bytesWritten;
    if (w.shards + w.sidecars + w.manifest !== onDisk) {
      console.error(`the descriptor's bytesWritten (${JSON.stringify(w)}) is not what is on disk under ${out} (${onDisk} bytes without btkit.json)`);
      process.exit(1);
    }
    lean.push({ ...c, shards: w.shards, sidecars: w.sidecars, manifest: w.manifest, ratio: onDisk / w.shards });
    fs.rmSync(out, { recursive: true, force: true });
  }
  // the default pipeline (prep with no column flags, gzip shards, join to Parquet) on the CSV and
  // on DuckDB's JSON Lines and Parquet copies of it; DuckDB then compares the CSV and each joined table
  const sources = [csv];
  for (const ext of ["jsonl", "parquet"]) {
    const copy = path.join(work, `source.${ext}`);
    const fmt = ext === "jsonl" ? "FORMAT json" : "FORMAT parquet";
    execFileSync(process.execPath, ["-e", `import("@duckdb/node-api").then(async ({ DuckDBInstance }) => { const c = await (await DuckDBInstance.create(":memory:")).connect(); await c.run(${JSON.stringify(`COPY (FROM read_csv('${csv.replace(/'/g, "''")}')) TO '${copy.replace(/'/g, "''")}' (${fmt})`)}); })`], { cwd: root, stdio: "inherit" });
    sources.push(copy);
  }
  for (const source of sources) {
    const out = path.join(work, "verify");
    fs.rmSync(out, { recursive: true, force: true });
    timed(process.execPath, [btkit, "prep", source, "--out", out, "--gzip", String(args.level), "--instances", "2", "--quiet"]);
    fakeJob(out);
    const joined = path.join(work, "verify.parquet");
    const j = timed(process.execPath, [btkit, "join", "--descriptor", out, "--out", joined, "--quiet"]);
    // compared with DuckDB's read of the CSV all three spellings were written from
    const r = spawnSync(process.execPath, [path.join(root, "bench", "verify.mjs"), source, joined, csv], { cwd: root, encoding: "utf8" });
    const res = JSON.parse(r.stdout.trim() || "{}");
    verified.push({ ...res, input: path.extname(source), joinWall: j.wall, ok: r.status === 0 });
    if (r.status !== 0) console.error(`the joined table differs from the source ${source}: ${r.stdout}${r.stderr}`);
    fs.rmSync(out, { recursive: true, force: true });
  }
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
  memory = { one: one.rssMiB, four: four.rssMiB, oneWall: one.wall, fourWall: four.wall, join: [] };
  // join on both: JSON Lines (its rows counted: every row of the 4x input once) and Parquet (zstd, the default)
  console.error("task: memory check (join -> JSON Lines and Parquet on 1x and 4x the input)");
  fakeJob(path.join(work, "m1"));
  fakeJob(path.join(work, "m4"), 4);
  const rows = countLines(pred);
  for (const [ext, label] of [[".jsonl", "JSON Lines"], [".parquet", "Parquet"]]) {
    const at = {};
    for (const [k, dir, times] of [["one", "m1", 1], ["four", "m4", 4]]) {
      const target = path.join(work, `mj-${k}${ext}`);
      const r = timed(process.execPath, [btkit, "join", "--descriptor", path.join(work, dir), "--out", target, "--quiet"]);
      // every row of the 4x input once: counted in the JSON Lines, read by DuckDB from the Parquet
      const n = ext === ".jsonl" ? countLines(target) : parquetRows(target);
      if (n !== rows * times) {
        console.error(`memory check: the join of ${times}x the input wrote ${n} rows, expected ${rows * times}`);
        process.exit(1);
      }
      at[k] = r;
      fs.rmSync(target, { force: true });
    }
    memory.join.push({ label, one: at.one.rssMiB, four: at.four.rssMiB, oneWall: at.one.wall, fourWall: at.four.wall });
  }
}

/** The rows DuckDB reads from a Parquet file, every value of every row decoded (hashed), not the footer's count. */
function parquetRows(file) {
  const sql = `SELECT count(*) AS n, bit_xor(hash(t)) AS h FROM read_parquet('${file.replace(/'/g, "''")}') t`;
  const out = execFileSync(process.execPath, ["-e", `import("@duckdb/node-api").then(async ({ DuckDBInstance }) => { const c = await (await DuckDBInstance.create(":memory:")).connect(); const r = await c.runAndReadAll(${JSON.stringify(sql)}); console.log(String(r.getRows()[0][0])); })`], { cwd: root, encoding: "utf8" });
  return Number(out.trim());
}

/** CPU seconds (user + sys) and wall seconds of one run of the bin, under /usr/bin/time. */
function cpuTimed(argv) {
  const r = spawnSync("/usr/bin/time", ["-f", "%U %S %e", process.execPath, btkit, ...argv], { env, encoding: "utf8" });
  if (r.status !== 0) {
    console.error(`failed: btkit ${argv.join(" ")}\n${r.stderr}`);
    process.exit(1);
  }
  const [user, sys, wall] = (r.stderr ?? "").trim().split("\n").pop().split(" ").map(Number);
  return { cpu: user + sys, wall };
}

const startup = [];
if (tasks.has("startup")) {
  console.error("task: startup (CPU seconds of btkit --version and of help)");
  const runs = Math.max(5, args.runs);
  for (const form of ["--version", "help", "prep --help"]) {
    const rs = Array.from({ length: runs }, () => cpuTimed(form.split(" ")));
    startup.push({ form, cpu: median(rs.map((r) => r.cpu)), wall: median(rs.map((r) => r.wall)), runs, target: 0.25 });
  }
}

const mb = csvBytes / 1e6;
const lines = [
  `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ${needsData ? `input ${path.basename(csv)} ${mb.toFixed(0)} MB; ` : ""}median of ${args.runs} runs; gzip level ${args.level} for the peers, ${args.btkitLevel ?? "btkit's default (5, memLevel 9)"} for btkit`,
];
if (results.length > 0) lines.push("", "| task | tool | wall (s) | MB/s | peak RSS (MiB) | output (B) | btkit / peer | target |", "| --- | --- | --- | --- | --- | --- | --- | --- |");
const RSS_TARGET = 256;
for (const r of results) {
  const ratio = r.btkit.wall / r.peer.wall;
  const rss = r.task.startsWith("join") || r.task.startsWith("CSV") ? ` (RSS <= ${RSS_TARGET} MiB: ${r.btkit.rssMiB <= RSS_TARGET ? "met" : "not met"})` : "";
  lines.push(`| ${r.task} | btkit | ${r.btkit.wall.toFixed(2)} | ${(mb / r.btkit.wall).toFixed(0)} | ${r.btkit.rssMiB.toFixed(0)} | ${r.bytes?.[0] ?? ""} | |${rss} |`);
  lines.push(`| ${r.task} | ${r.peerName} | ${r.peer.wall.toFixed(2)} | ${(mb / r.peer.wall).toFixed(0)} | ${r.peer.rssMiB.toFixed(0)} | ${r.bytes?.[1] ?? ""} | **${ratio.toFixed(2)}x** | ${r.target === undefined ? "" : `<= ${r.target}x: ${ratio <= r.target ? "met" : "not met"}`} |`);
}
for (const c of checks) {
  if (c === checks[0]) lines.push("", "| output checked against the source (DuckDB reads both; EXCEPT ALL both ways) | rows | output rows | only in source | only in output | equal |", "| --- | --- | --- | --- | --- | --- |");
  lines.push(`| ${c.label} | ${c.rows ?? "?"} | ${c.outputRows ?? "?"} | ${c.onlyInExpected ?? "?"} | ${c.onlyInOutput ?? "?"} | ${c.ok ? "yes" : "**NO**"} |`);
}
for (const l of lean) {
  if (l === lean[0]) lines.push("", "| stored by prep --gzip (sidecars compressed) | shards (B) | sidecars (B) | manifest (B) | under --out per gzip-shard byte | target |", "| --- | --- | --- | --- | --- | --- |");
  lines.push(`| ${l.label} | ${l.shards} | ${l.sidecars} | ${l.manifest} | **${l.ratio.toFixed(3)}** | ${l.target === undefined ? "" : `<= ${l.target.toFixed(2)}`} |`);
}
for (const v of verified) {
  if (v === verified[0]) lines.push("", "| default pipeline, input | rows | joined rows | only in source | only in joined | type mismatches | join wall (s) | equal |", "| --- | --- | --- | --- | --- | --- | --- | --- |");
  lines.push(`| ${v.input} | ${v.rows} | ${v.joinedRows} | ${v.onlyInSource} | ${v.onlyInJoined} | ${(v.typeMismatches ?? ["?"]).join("; ") || "none"} | ${v.joinWall.toFixed(2)} | ${v.ok ? "yes" : "**NO**"} |`);
}
for (const s of startup) {
  if (s === startup[0]) lines.push("", `| startup (median of ${s.runs} runs) | CPU (s, user+sys) | wall (s) | target CPU (s) |`, "| --- | --- | --- | --- |");
  lines.push(`| btkit ${s.form} | **${s.cpu.toFixed(2)}** | ${s.wall.toFixed(2)} | <= ${s.target.toFixed(2)} |`);
}
if (memory) {
  lines.push("", `memory: btkit prep peak RSS ${memory.one.toFixed(0)} MiB at 1x (${memory.oneWall.toFixed(1)} s), ${memory.four.toFixed(0)} MiB at 4x (${memory.fourWall.toFixed(1)} s)`);
  for (const j of memory.join) lines.push(`memory: btkit join -> ${j.label} peak RSS ${j.one.toFixed(0)} MiB at 1x (${j.oneWall.toFixed(1)} s), ${j.four.toFixed(0)} MiB at 4x (${j.fourWall.toFixed(1)} s); target <= 256 MiB at both: ${Math.max(j.one, j.four) <= 256 ? "met" : "not met"}`);
}
console.log(lines.join("\n"));
fs.rmSync(work, { recursive: true, force: true });
if (verified.some((v) => !v.ok) || checks.some((c) => !c.ok)) process.exit(1);
