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
//   4. consume the joined batches (joinRows: every .out checked against its shard first).
// It prints the aggregate as JSON on stdout.
import path from "node:path";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { LAYOUT, Storage, outputNameFor, parseDescriptor } from "btkit";
import { fileURLToPath } from "node:url";
import { startEmulator } from "btkit/emulator";
import { joinRows } from "btkit/join";
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

  // 4. stream the joined batches into our own sink: joinRows checks every .out against its shard
  // (one line per row, written by this job) before the first batch, and each sidecar before its
  // rows; the rows are the sidecar's columns and the features read back from the shards, then the
  // predictions, as `btkit join` would write them
  const byCity = new Map(); // the sink: city -> { orders, score }
  let batches = 0;
  let rows = 0;
  let columns = [];
  for await (const batch of joinRows(descriptor, { storage })) {
    batches++;
    rows += batch.numRows;
    columns = batch.schema.fields.map((f) => f.name);
    const city = batch.getChild("city");
    const score = batch.getChild("pred_score");
    for (let i = 0; i < batch.numRows; i++) {
      const agg = byCity.get(city.get(i)) ?? { orders: 0, score: 0 };
      agg.orders += 1;
      agg.score += score.get(i);
      byCity.set(city.get(i), agg);
    }
  }
  console.error(`consumed ${rows} joined rows in ${batches} Arrow batches; columns: ${columns.join(", ")}`);
  const result = [...byCity].sort(([a], [b]) => (a < b ? -1 : 1)).map(([city, a]) => ({ city, orders: a.orders, score: Math.round(a.score * 100) / 100 }));
  process.stdout.write(`${JSON.stringify({ job: job.name, rows, cities: result })}\n`);
} finally {
  sagemaker.destroy();
  await emulator.close();
}
