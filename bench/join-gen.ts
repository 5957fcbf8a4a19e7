/**
 * Builds a join input from the shared generator's table (not a test): the table's 12 columns as
 * keep columns in Arrow IPC stream sidecars (+ __btkit_row), its predictions as the .out files,
 * split into shards, and a descriptor with a job section. This is what join reads after prep and
 * a transform job, so bench/join-run.ts times exactly the join.
 *
 *   node /work/shared/bench/gen-data.mjs --out /tmp/btkit-gen --size 1G
 *   npx tsx bench/join-gen.ts /tmp/btkit-gen/table-1g.csv /tmp/btkit-gen/table-1g.pred.jsonl /tmp/btkit-join-bench [SHARDS=8]
 */
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { Field, Int64, makeData, RecordBatch, Schema, Struct } from "apache-arrow";
import { createWriter } from "../src/join/writers.js";
import { accumulatorFor, fieldOf, type Accumulator } from "../src/join/columns.js";
import { splitCsvLine } from "../src/join/csv-fields.js";
import { LineReader } from "../src/join/lines.js";
import { csvValue, setValue } from "../src/join/values.js";
import type { ColumnSpec, ColumnType, Descriptor } from "../src/protocol/descriptor.js";

const [csvPath, predPath, outDir, shardArg] = process.argv.slice(2);
if (!csvPath || !predPath || !outDir) throw new Error("usage: join-gen.ts TABLE.csv PRED.jsonl OUTDIR [SHARDS]");
const SHARDS = Number(shardArg ?? 8);
const BATCH = 65536;
const dir = path.resolve(outDir);

const TYPES: Array<[string, ColumnType]> = [
  ["id", "int64"], ["user_id", "int64"], ["event_time", "timestamp"], ["country", "utf8"], ["category", "utf8"], ["channel", "utf8"],
  ["price", "float64"], ["discount", "float64"], ["score_raw", "float64"], ["quantity", "int64"], ["is_member", "bool"], ["review", "utf8"],
];
const columns: ColumnSpec[] = TYPES.map(([name, type]) => ({ name, type, roles: ["keep"] }));
const fields = [...TYPES.map(([n, t]) => fieldOf(n, t)), new Field("__btkit_row", new Int64(), false)];
const schema = new Schema(fields);

function toBatch(lines: string[], first: number): RecordBatch {
  const n = lines.length;
  const accs: Accumulator[] = TYPES.map(([, t]) => accumulatorFor(t, n));
  for (let i = 0; i < n; i++) {
    const f = splitCsvLine(lines[i]!)!;
    for (let j = 0; j < TYPES.length; j++) {
      const t = TYPES[j]![1];
      const text = f[j]!;
      const v = text === "" ? null : t === "utf8" || t === "timestamp" ? text : t === "bool" ? text === "true" : csvValue(text);
      setValue(accs[j]!, i, v, false);
    }
  }
  const rows = new BigInt64Array(n);
  for (let i = 0; i < n; i++) rows[i] = BigInt(first + i);
  const children = [...accs.map((a) => a.finish(n)), makeData({ type: new Int64(), length: n, data: rows })];
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children }));
}

async function writeAll(file: string, chunks: AsyncIterable<Uint8Array | string>): Promise<void> {
  const out = createWriteStream(file);
  for await (const c of chunks) if (!out.write(c)) await once(out, "drain");
  out.end();
  await once(out, "finish");
}

await fs.mkdir(path.join(dir, "shards"), { recursive: true });
await fs.mkdir(path.join(dir, "sidecars"), { recursive: true });
await fs.mkdir(path.join(dir, "output"), { recursive: true });
const table = new LineReader(createReadStream(csvPath, { highWaterMark: 1 << 20 }), { location: csvPath, blankLines: "error", maxLineBytes: 1 << 20 });
const preds = new LineReader(createReadStream(predPath, { highWaterMark: 1 << 20 }), { location: predPath, blankLines: "error", maxLineBytes: 1 << 20 });
await table.take(1); // header
let total = 0;
for (;;) {
  const n = (await preds.take(BATCH)).lines.length;
  if (n === 0) break;
  total += n;
}
const predsAgain = new LineReader(createReadStream(predPath, { highWaterMark: 1 << 20 }), { location: predPath, blankLines: "error", maxLineBytes: 1 << 20 });
const shards: Descriptor["shards"] = [];
let first = 0;
for (let s = 0; s < SHARDS; s++) {
  const rows = Math.floor(((s + 1) * total) / SHARDS) - first;
  const name = `part-${String(s).padStart(5, "0")}.csv`;
  const side = path.join(dir, "sidecars", `part-${String(s).padStart(5, "0")}.arrow`);
  const start = first;
  await writeAll(side, createWriter({ format: "arrow-stream" })((async function* () {
    for (let off = 0; off < rows; off += BATCH) yield toBatch((await table.take(Math.min(BATCH, rows - off))).lines, start + off);
  })()));
  await writeAll(path.join(dir, "output", `${name}.out`), (async function* () {
    for (let off = 0; off < rows; off += BATCH) yield `${(await predsAgain.take(Math.min(BATCH, rows - off))).lines.join("\n")}\n`;
  })());
  await fs.writeFile(path.join(dir, "shards", name), "");
  shards.push({ name, location: pathToFileURL(path.join(dir, "shards", name)).href, rows, bytes: 0, sha256: "0".repeat(64), maxRecordBytes: 0, sidecar: pathToFileURL(side).href, firstRow: start });
  first += rows;
}
const d: Descriptor = {
  btkit: "1.0",
  createdAt: new Date().toISOString(),
  tool: { name: "btkit", version: "0.1.0" },
  source: { inputs: [], options: {}, rowsRead: total, rowsWritten: total, rowsSkipped: 0, skipped: [] },
  schema: { columns },
  modelInput: { contentType: "text/csv", splitType: "Line", compression: "None", features: [], maxRecordBytes: 0 },
  shards,
  manifest: { location: pathToFileURL(path.join(dir, "manifest.json")).href, prefix: `${pathToFileURL(path.join(dir, "shards")).href}/` },
  job: { backend: "emulator", name: "bench", arn: "arn:bench", request: {}, outputLocation: `${pathToFileURL(path.join(dir, "output")).href}/`, accept: "application/jsonlines", assembleWith: "Line", status: "Completed" },
};
await fs.writeFile(path.join(dir, "btkit.json"), `${JSON.stringify(d)}\n`);
console.error(`wrote ${total} rows in ${SHARDS} shards under ${dir}`);
