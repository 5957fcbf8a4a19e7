#!/usr/bin/env node
// Library example: run the transform job on the local emulator, then stream the joined rows as
// Arrow record batches into a sink of your own (here: a per-city aggregate, as a warehouse loader
// or a metrics job would consume them), without writing a joined file first.
//
//   node examples/etl-prepare.mjs prep-out > /dev/null
//   node examples/score-and-stream.mjs prep-out
//
// Steps, all through the library:
//   1. read the descriptor prep wrote (prep-out/btkit.json);
//   2. start the SageMaker emulator in-process on a free loopback port, with its state beside the
//      data, and point an AWS SDK SageMakerClient at it (on AWS you pass your own client and skip
//      this step); the model is btkit's example model server, run by the emulator as one process
//      per instance, as SageMaker runs a container;
//   3. build the CreateTransformJob request from the descriptor, launch it (a rerun attaches to
//      the same job) and wait for it;
//   4. check that every .out has one line per row, then align each sidecar with its .out and
//      consume the joined batches.
// It prints the aggregate as JSON on stdout.
import path from "node:path";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { LAYOUT, Storage, formatLocation, outputNameFor, parseDescriptor } from "btkit";
import { fileURLToPath } from "node:url";
import { startEmulator } from "btkit/emulator";
import { createAligner, scanLines } from "btkit/join";
import { buildTransformJobRequest, ensureModel, jobRecord, submitTransformJob, updateJobSection, waitForTransformJob } from "btkit/submit";

const [prepOut] = process.argv.slice(2);
if (!prepOut) {
  console.error("usage: node examples/score-and-stream.mjs PREP_OUT_DIR");
  process.exit(2);
}
const storage = new Storage();
const text = async (location) => {
  let s = "";
  const decoder = new TextDecoder();
  for await (const chunk of await storage.read(location)) s += decoder.decode(chunk, { stream: true });
  return s + decoder.decode();
};

// 1. the descriptor (validated on read)
let descriptor = parseDescriptor(await text(path.join(prepOut, LAYOUT.descriptor)));

// 2. the control plane, local; the model image is a command the emulator runs per instance
const btkitBin = fileURLToPath(new URL("../bin/btkit.js", import.meta.resolve("btkit")));
const image = `local-cmd:${JSON.stringify(process.execPath)} ${JSON.stringify(btkitBin)} example-model`;
const emulator = await startEmulator({ port: 0, stateDir: path.join(prepOut, "emulator-state"), storage });
const sagemaker = new SageMakerClient({
  endpoint: emulator.endpoint,
  region: emulator.region,
  credentials: { accessKeyId: "local", secretAccessKey: "local" }, // the emulator checks no signatures
});

try {
  // 3. launch (or attach) and wait
  await ensureModel({ name: "example-model", image }, { client: sagemaker });
  // file:// locations are for the emulator only; on AWS the shards live under s3://
  const request = buildTransformJobRequest(descriptor, {
    model: "example-model",
    instanceCount: 2,
    accept: "application/jsonlines", // the example model answers {"score": S, "length": L} per record
    allowFileUris: true,
  });
  const launched = await submitTransformJob(request, { client: sagemaker });
  console.error(`${launched.attached ? "attached to" : "launched"} job ${launched.name}`);
  let job = jobRecord(request, launched.description, { backend: "emulator", endpoint: emulator.endpoint, region: emulator.region });
  for await (const ev of waitForTransformJob(launched.name, {
    client: sagemaker,
    storage,
    outputLocation: job.outputLocation,
    expectedOutputs: descriptor.shards.map((s) => outputNameFor(s.name)),
    pollSeconds: 0.2,
  })) {
    job = updateJobSection(job, ev.description);
    console.error(`job ${ev.job}: ${ev.status}, ${ev.outputsPresent ?? "?"}/${ev.outputsExpected} .out files`);
  }
  if (job.status !== "Completed") throw new Error(`job ${job.name} ended ${job.status}: ${job.failureReason ?? ""}`);
  descriptor = { ...descriptor, job };

  // 4a. every .out must have exactly one line per input row before anything is consumed
  const outBase = storage.parse(job.outputLocation);
  const outOf = (s) => storage.child(outBase, outputNameFor(s.name));
  for (const s of descriptor.shards) {
    const scan = await scanLines(await storage.read(outOf(s)));
    if (scan.lines !== s.rows) throw new Error(`${outputNameFor(s.name)}: ${scan.lines} lines for ${s.rows} rows`);
  }

  // 4b. align sidecars (the columns the model did not see) and the features read back from the
  // model-input shards with the .out files, and stream the joined batches into our own sink
  const columns = descriptor.schema.columns;
  const keep = columns.filter((c) => c.roles.includes("keep")).map((c) => ({ name: c.name, type: c.type }));
  const kept = new Set(keep.map((k) => k.name));
  const featureColumns = descriptor.modelInput.features
    .map((name, index) => ({ name, index, type: columns.find((c) => c.name === name).type }))
    .filter((c) => !kept.has(c.name));
  const aligner = createAligner({
    keep,
    features: { contentType: descriptor.modelInput.contentType, columns: featureColumns },
    order: columns.map((c) => c.name),
    predictions: { accept: job.accept },
  });
  const shards = descriptor.shards.map((s) => ({
    name: s.name,
    rows: s.rows,
    firstRow: s.firstRow,
    outLocation: formatLocation(outOf(s)),
    sidecarLocation: s.sidecar,
    shardLocation: s.location,
    openOut: () => storage.read(outOf(s)),
    openSidecar: () => storage.read(s.sidecar, { decompress: "never" }),
    openShard: () => storage.read(s.location),
  }));

  const byCity = new Map(); // the sink: city -> { orders, score }
  let batches = 0;
  let rows = 0;
  for await (const { batch } of aligner.align(shards)) {
    batches++;
    rows += batch.numRows;
    const city = batch.getChild("city");
    const score = batch.getChild("pred_score");
    for (let i = 0; i < batch.numRows; i++) {
      const agg = byCity.get(city.get(i)) ?? { orders: 0, score: 0 };
      agg.orders += 1;
      agg.score += score.get(i);
      byCity.set(city.get(i), agg);
    }
  }
  console.error(`consumed ${rows} joined rows in ${batches} Arrow batches; columns: ${aligner.schema().fields.map((f) => f.name).join(", ")}`);
  const result = [...byCity].sort(([a], [b]) => (a < b ? -1 : 1)).map(([city, a]) => ({ city, orders: a.orders, score: Math.round(a.score * 100) / 100 }));
  process.stdout.write(`${JSON.stringify({ job: job.name, rows, cities: result })}\n`);
} finally {
  sagemaker.destroy();
  await emulator.close();
}
