/**
 * Emulator overhead: the wall time of a MultiRecord transform job over 1 M tiny CSV records
 * through the emulator, against sending the same batches straight to the same model server.
 *
 *   npx tsx bench/emulator-throughput.ts [--records 1000000] [--payload-mb 6] [--runs 3]
 *
 * The example model runs as its own process (btkit example-model serve), already healthy, and
 * both paths talk to it over keep-alive HTTP with one request in flight (MaxConcurrentTransforms
 * 1). The direct path has its batches prepared in memory before the clock starts and keeps the
 * responses in memory; the emulator path reads the file from disk, splits and batches it, and
 * writes the .out atomically (fsync). The emulator's time is the job's own CreationTime ->
 * TransformEndTime (ms precision); emulatorPolledMs adds the 100 ms polling granularity. The
 * ratio compares medians. On a shared 2-core machine, run it when the machine is otherwise idle.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { CreateModelCommand, CreateTransformJobCommand, DescribeTransformJobCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { startEmulator } from "../src/emulator/index.js";
import { freePort } from "../src/emulator/model-runtime.js";
import { Batcher, batchBody, LineSplitter } from "../src/emulator/records.js";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const RECORDS = arg("records", 1_000_000);
const PAYLOAD_MB = arg("payload-mb", 6);
const RUNS = arg("runs", 3);
const ROOT = path.resolve(import.meta.dirname, "..");

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "btkit-bench-emu-"));
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000);
  const lines: string[] = [];
  for (let i = 0; i < RECORDS; i++) lines.push(`${rnd()},${rnd() / 10},t${rnd() % 7}`);
  const data = Buffer.from(`${lines.join("\n")}\n`);
  await fs.mkdir(path.join(dir, "in"));
  await fs.writeFile(path.join(dir, "in", "part-00000.csv"), data);
  console.error(`input: ${RECORDS} records, ${(data.length / 1e6).toFixed(1)} MB, MaxPayloadInMB ${PAYLOAD_MB}`);

  const port = await freePort("127.0.0.1");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/btkit.ts"), "example-model", "serve"], { cwd: ROOT, env: { ...process.env, SAGEMAKER_BIND_TO_PORT: String(port) }, stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (body: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const req = http.request(`${url}/invocations`, { method: "POST", agent, headers: { "content-type": "text/csv", accept: "text/csv", "content-length": body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end(body);
    });
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => http.get(`${url}/ping`, (r) => (r.resume(), r.statusCode === 200 ? resolve() : reject(new Error("unhealthy")))).on("error", reject));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // the same batches the emulator sends
  const batches: Buffer[] = [];
  const splitter = new LineSplitter();
  const batcher = new Batcher("MultiRecord", PAYLOAD_MB * 1024 * 1024);
  const recs: Buffer[] = [];
  splitter.push(data, recs);
  splitter.end(recs);
  for (const r of recs) {
    const b = batcher.add(r);
    if (b) batches.push(batchBody(b));
  }
  const last = batcher.flush();
  if (last) batches.push(batchBody(last));

  const emu = await startEmulator({ env: {} });
  const sm = new SageMakerClient({ endpoint: emu.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  await sm.send(new CreateModelCommand({ ModelName: "bench", PrimaryContainer: { Image: `local-url:${url}` } }));

  const direct: number[] = [];
  const viaEmu: number[] = [];
  const jobMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = performance.now();
    let directBytes = 0;
    for (const b of batches) directBytes += (await post(b)).length;
    direct.push(performance.now() - t);

    const name = `bench-${run}`;
    t = performance.now();
    await sm.send(new CreateTransformJobCommand({
      TransformJobName: name,
      ModelName: "bench",
      BatchStrategy: "MultiRecord",
      MaxPayloadInMB: PAYLOAD_MB,
      MaxConcurrentTransforms: 1,
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: `${pathToFileURL(path.join(dir, "in")).href}/` } }, ContentType: "text/csv", SplitType: "Line" },
      TransformOutput: { S3OutputPath: `${pathToFileURL(path.join(dir, `out-${run}`)).href}/`, Accept: "text/csv" },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
    }));
    for (;;) {
      // poll gently: the SDK calls share this process's CPU with the emulator
      await new Promise((r) => setTimeout(r, 100));
      const d = await sm.send(new DescribeTransformJobCommand({ TransformJobName: name }));
      if (d.TransformJobStatus === "Completed") {
        // the job's own wall time (creation to end, millisecond precision), free of polling delay
        jobMs.push(d.TransformEndTime!.getTime() - d.CreationTime!.getTime());
        break;
      }
      if (d.TransformJobStatus !== "InProgress") throw new Error(`job ${name} ended ${d.TransformJobStatus}: ${d.FailureReason}`);
    }
    viaEmu.push(performance.now() - t);
    const outBytes = (await fs.stat(path.join(dir, `out-${run}`, "part-00000.csv.out"))).size;
    if (outBytes !== directBytes) throw new Error(`output sizes differ: emulator ${outBytes}, direct ${directBytes}`);
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(JSON.stringify({ records: RECORDS, inputMB: +(data.length / 1e6).toFixed(1), batches: batches.length, payloadMB: PAYLOAD_MB, directMs: direct.map(Math.round), emulatorPolledMs: viaEmu.map(Math.round), emulatorJobMs: jobMs, ratioOfMedians: +(med(jobMs) / med(direct)).toFixed(3) }));
  await emu.close();
  agent.destroy();
  child.kill("SIGTERM");
  await fs.rm(dir, { recursive: true, force: true });
}

await main();
