#!/usr/bin/env node
// Library example: an ETL step that prepares model-ready shards from rows your own code produces
// (a database cursor, an API, a generator): no temporary file of yours, no CSV of yours.
//
//   node examples/etl-prepare.mjs OUT_DIR [ROWS]
//
// The rows go to prepare() as they are (its rows option: each object read as a JSON Lines record
// would be). prepare() infers the column types from a sample, writes two gzip'd CSV shards (one
// per instance), their sidecars (the columns the model must not see), the SageMaker manifest
// and the descriptor, and returns the descriptor. Like `btkit prep`, this script prints the
// descriptor as one JSON line on stdout, so it pipes straight into `btkit submit`:
//
//   node examples/etl-prepare.mjs prep-out | btkit submit --local --model-command "btkit example-model" | btkit join --out joined.parquet
import { prepare } from "btkit/prepare";

const [out, rowsArg] = process.argv.slice(2);
if (!out) {
  console.error("usage: node examples/etl-prepare.mjs OUT_DIR [ROWS]");
  process.exit(2);
}
const rows = Number(rowsArg ?? 5000);

/** Stands in for your source: any async iterable of plain objects. */
async function* orders(n) {
  const cities = ["Zürich", "São Paulo", "Kraków", "Oslo", 'New York, "NY"'];
  for (let i = 0; i < n; i++) {
    // the source is asynchronous, as a cursor would be
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    yield {
      order_id: i,
      customer: `c-${(i * 7919) % 1009}`,
      city: cities[i % cities.length],
      quantity: 1 + (i % 9),
      unit_price: Math.round(((i * 37) % 5000) + 99) / 100,
      // a null now and then: it stays null in the sidecar and becomes an empty CSV field for the model
      discount: i % 11 === 0 ? null : (i % 5) / 10,
    };
  }
}

const started = Date.now();
const descriptor = await prepare({
  // read as the same rows in a JSON Lines file would be: types inferred from a sample, every row checked
  rows: orders(rows),
  out,
  // the model sees these, in this order; every column is kept in the sidecar for the join
  features: ["quantity", "unit_price", "discount"],
  instances: 2,
  gzipLevel: 6,
  overwrite: true,
  onProgress: (p) => {
    if (p.done) console.error(`prepared ${p.rowsWritten} rows into ${p.shards} shards`);
  },
});

const shards = descriptor.shards.map((s) => `${s.name} (${s.rows} rows)`).join(", ");
console.error(`descriptor: ${descriptor.schema.columns.map((c) => `${c.name}:${c.type}`).join(" ")}`);
console.error(`shards: ${shards}; manifest ${descriptor.manifest.location}; ${Date.now() - started} ms`);
process.stdout.write(`${JSON.stringify(descriptor)}\n`);
