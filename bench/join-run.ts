/**
 * Times join(options) on a folder made by join-gen.ts (not a test).
 * Usage: /usr/bin/time -v npx tsx bench/join-run.ts DIR [FORMAT=parquet] [COMPRESSION=zstd] [BATCH_ROWS=16384] [ROW_GROUP_ROWS=65536] [PARQUET_VERSION=1]
 */
import fs from "node:fs/promises";
import path from "node:path";
import { join } from "../src/join/index.js";
import { parseDescriptor } from "../src/protocol/descriptor.js";
import type { OutputFormat } from "../src/join/writers.js";

const dir = path.resolve(process.argv[2] ?? "/tmp/btkit-join-bench");
const format = (process.argv[3] ?? "parquet") as OutputFormat;
const descriptor = parseDescriptor(await fs.readFile(path.join(dir, "btkit.json"), "utf8"));
const t0 = performance.now();
let peak = 0;
let peakMem = process.memoryUsage();
const timer = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peak) {
    peak = m.rss;
    peakMem = m;
  }
}, 100);
const compression = (process.argv[4] ?? "zstd") as "zstd" | "snappy" | "none";
const batchRows = Number(process.argv[5] ?? 16384);
const rowGroupRows = Number(process.argv[6] ?? 65536);
const parquetVersion = Number(process.argv[7] ?? 1) as 1 | 2;
const res = await join({ descriptor, out: path.join(dir, `joined.${format}`), format, compression, batchRows, rowGroupRows, parquetVersion });
clearInterval(timer);
const secs = (performance.now() - t0) / 1000;
if (process.env.BTKIT_BENCH_MEM) console.error(Object.fromEntries(Object.entries(peakMem).map(([k, v]) => [k, `${(v / 2 ** 20).toFixed(0)} MiB`])));
console.error(`join ${res.results.rows} rows -> ${format} in ${secs.toFixed(2)} s (${(res.results.rows / secs / 1e6).toFixed(2)} M rows/s), sampled peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
