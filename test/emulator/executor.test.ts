import http from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetLogEventsCommand, DescribeLogStreamsCommand, FilterLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { StopTransformJobCommand, type SageMakerClient } from "@aws-sdk/client-sagemaker";
import { LOG_GROUP, startEmulator, startExampleModel, type RunningEmulator, type RunningExampleModel } from "../../src/emulator/index.js";
import { tempDir } from "../helpers/tmp.js";
import { clients, readOut, runJob, waitJob, writeFiles } from "./helpers.js";

let emu: RunningEmulator;
let sm: SageMakerClient;
let logs: CloudWatchLogsClient;
let dir: string;
let cleanup: () => Promise<void>;
const models: RunningExampleModel[] = [];
let n = 0;

async function exampleModel(env: Record<string, string> = {}): Promise<string> {
  const m = await startExampleModel({ port: 0, env });
  models.push(m);
  return `local-url:${m.url}`;
}

async function io(files: Record<string, string | Buffer>): Promise<{ inUri: string; outUri: string; outDir: string }> {
  n += 1;
  const inUri = await writeFiles(`${dir}/in${n}`, files);
  return { inUri, outUri: `file://${dir}/out${n}`, outDir: `${dir}/out${n}` };
}

async function dataLog(job: string): Promise<string[]> {
  const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${job}/` }));
  const dl = streams.logStreams!.filter((s) => s.logStreamName!.endsWith("/data-log"));
  const out: string[] = [];
  for (const s of dl) {
    const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: s.logStreamName, startFromHead: true }));
    out.push(...ev.events!.map((e) => e.message!));
  }
  return out;
}

/** A model server under the test's control; `handler` answers each invocation. */
async function customModel(handler: (body: string, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ image: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === "/ping") return void res.writeHead(200).end();
    if (req.url === "/execution-parameters") return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(Buffer.concat(chunks).toString("utf8"), req, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    image: `local-url:http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  emu = await startEmulator({ env: {}, pingIntervalMs: 20 });
  ({ sm, logs } = clients(emu.endpoint));
});
afterAll(async () => {
  await emu.close();
  for (const m of models) await m.close();
  await cleanup();
});

const csv = (rows: number, seed = 1): string => Array.from({ length: rows }, (_, i) => `${i + seed},${(i * 7) % 5},t${"x".repeat(i % 3)}`).join("\n") + "\n";
const scores = (text: string): number[] => text.trim().split("\n").map((l) => (JSON.parse(l) as { score: number }).score);

describe("executor rules", () => {
  it("whole objects, prefix at any depth, Line split, MultiRecord, .out naming and input order (rules 1, 2, 5, 6, 13, 14)", async () => {
    const { inUri, outUri, outDir } = await io({ "a.csv": csv(50), "sub/b.csv": csv(20, 100) });
    const d = await runJob(sm, await exampleModel(), { inUri, outUri, TransformOutput: { S3OutputPath: outUri, Accept: "application/jsonlines" } });
    expect(d.TransformJobStatus).toBe("Completed");
    const out = await readOut(outDir);
    expect(Object.keys(out).sort()).toEqual(["a.csv.out", "sub/b.csv.out"]);
    expect(scores(out["a.csv.out"]!)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1 + ((i * 7) % 5)));
    expect(scores(out["sub/b.csv.out"]!)).toEqual(Array.from({ length: 20 }, (_, i) => i + 100 + ((i * 7) % 5)));
    const dl = await dataLog(d.TransformJobName!);
    expect(dl[0]).toBe("[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD");
    expect(dl.some((m) => m.endsWith("a.csv: completed, 50 records in 1 requests"))).toBe(true);
  });

  it("spreads an S3Prefix's objects over the instances round-robin in key order, each on one instance (rule 1)", async () => {
    // https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html: "Batch Transform partitions the Amazon S3
    // objects in the input by key and maps Amazon S3 objects to instances"; the mapping (object i to instance i mod N) is the emulator's
    // a model whose second instance (the second connection to ping) becomes healthy 1 s after the first, which could take every object meanwhile
    const healthyAt = new Map<unknown, number>();
    const server = http.createServer((req, res) => {
      if (req.url === "/ping") {
        if (!healthyAt.has(req.socket)) healthyAt.set(req.socket, Date.now() + (healthyAt.size === 0 ? 0 : 1000));
        return void res.writeHead(Date.now() >= healthyAt.get(req.socket)! ? 200 : 503).end();
      }
      if (req.url === "/execution-parameters") return void res.writeHead(404).end();
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => res.writeHead(200).end(Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { inUri, outUri, outDir } = await io({ "d.csv": "4\n", "b.csv": "2\n", "a.csv": "1\n", "c.csv": "3\n" });
    let d;
    try {
      d = await runJob(sm, `local-url:http://127.0.0.1:${(server.address() as AddressInfo).port}`, { inUri, outUri, TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 2 } });
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "a.csv.out": "1\n", "b.csv.out": "2\n", "c.csv.out": "3\n", "d.csv.out": "4\n" });
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${d.TransformJobName}/` }));
    const dataLogs = streams.logStreams!.map((s) => s.logStreamName!).filter((s) => s.endsWith("/data-log"));
    expect(dataLogs).toHaveLength(2);
    const perInstance: string[][] = [];
    for (const s of dataLogs) {
      const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: s, startFromHead: true }));
      perInstance.push(ev.events!.flatMap((e) => /\/([a-d])\.csv: completed, 1 records in 1 requests$/.exec(e.message!)?.[1] ?? []));
    }
    // streams are listed by name: the first instance's first
    expect(perInstance).toEqual([["a", "c"], ["b", "d"]]);
  });

  it("literal prefix without a trailing slash matches sibling names (rule 2)", async () => {
    const { inUri, outUri, outDir } = await io({ "part-1.csv": "1\n", "part-2.csv": "2\n", "other.csv": "3\n" });
    const d = await runJob(sm, await exampleModel(), { inUri: `${inUri}part-`, outUri, TransformOutput: { S3OutputPath: outUri, Accept: "text/csv" } });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "part-1.csv.out": "1\n", "part-2.csv.out": "2\n" });
  });

  it("SingleRecord sends one record per request; MaxPayloadInMB packs MultiRecord batches (rule 6)", async () => {
    const { inUri, outUri, outDir } = await io({ "s.csv": csv(7) });
    const d = await runJob(sm, await exampleModel(), { inUri, outUri, BatchStrategy: "SingleRecord" });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(scores((await readOut(outDir))["s.csv.out"]!)).toHaveLength(7);
    expect((await dataLog(d.TransformJobName!)).some((m) => m.endsWith("s.csv: completed, 7 records in 7 requests"))).toBe(true);

    const row = `${"1,".repeat(150_000)}2\n`; // 300,002 bytes: three fit in 1 MiB
    const big = await io({ "big.csv": row.repeat(7) });
    const d2 = await runJob(sm, await exampleModel(), { inUri: big.inUri, outUri: big.outUri, MaxPayloadInMB: 1, BatchStrategy: "MultiRecord" });
    expect(d2.TransformJobStatus).toBe("Completed");
    expect(scores((await readOut(big.outDir))["big.csv.out"]!)).toEqual(Array(7).fill(150_002));
    expect((await dataLog(d2.TransformJobName!)).some((m) => m.endsWith("big.csv: completed, 7 records in 3 requests"))).toBe(true);
  });

  it("a record over the limit fails its object only; no .out for it (rules 7, 16)", async () => {
    const { inUri, outUri, outDir } = await io({ "ok.csv": "1\n2\n", "toobig.csv": `1\n${"9".repeat(1_100_000)}\n3\n` });
    const d = await runJob(sm, await exampleModel(), { inUri, outUri, MaxPayloadInMB: 1, TransformOutput: { S3OutputPath: outUri, Accept: "text/csv" } });
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toContain("toobig.csv: record 2: 1100001 bytes, larger than MaxPayloadInMB (1 MB)");
    expect(await readOut(outDir)).toEqual({ "ok.csv.out": "1\n2\n" });
  });

  it("SplitType None sends the whole object; over the limit fails it (rules 4, 7)", async () => {
    const { inUri, outUri, outDir } = await io({ "w.csv": "1\n2\n3", "x.csv": "5".repeat(1_100_000) });
    const d = await runJob(sm, await exampleModel(), { inUri, outUri, MaxPayloadInMB: 1, TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "None" }, TransformOutput: { S3OutputPath: outUri, Accept: "text/csv" } });
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toContain("x.csv: the object is larger than MaxPayloadInMB (1 MB)");
    expect(await readOut(outDir)).toEqual({ "w.csv.out": "1\n2\n3\n" });
    expect((await dataLog(d.TransformJobName!)).some((m) => m.endsWith("w.csv: completed, 1 records in 1 requests"))).toBe(true);
  });

  it("a failing record fails its object after retries; others complete; FailureReason names object and record (rules 12, 16)", async () => {
    const { inUri, outUri, outDir } = await io({ "good.csv": csv(5), "bad.csv": "1\n2\nBOOM\n4\n" });
    const d = await runJob(sm, await exampleModel({ BTKIT_EXAMPLE_FAIL_ON: "BOOM" }), { inUri, outUri, BatchStrategy: "SingleRecord", ModelClientConfig: { InvocationsMaxRetries: 2 } });
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toMatch(/1 of 2 input objects failed; first: .*bad\.csv: record 3: the model answered HTTP 500: example model: a record contains "BOOM" \(after 2 retries\)/);
    expect(Object.keys(await readOut(outDir))).toEqual(["good.csv.out"]);
    expect((await dataLog(d.TransformJobName!)).some((m) => /bad\.csv: ClientError: record 3/.test(m))).toBe(true);
  });

  it("retries until success and counts attempts (rule 12)", async () => {
    const attempts = new Map<string, number>();
    const m = await customModel((body, _req, res) => {
      const k = body.trim();
      const a = (attempts.get(k) ?? 0) + 1;
      attempts.set(k, a);
      if (a <= 2) res.writeHead(503).end("busy");
      else res.writeHead(200).end(`${k}!\n`);
    });
    const { inUri, outUri, outDir } = await io({ "r.csv": "a\nb\n" });
    const d = await runJob(sm, m.image, { inUri, outUri, BatchStrategy: "SingleRecord", ModelClientConfig: { InvocationsMaxRetries: 3 } });
    await m.close();
    expect(d.TransformJobStatus).toBe("Completed");
    expect(Object.fromEntries(attempts)).toEqual({ a: 3, b: 3 });
    expect(await readOut(outDir)).toEqual({ "r.csv.out": "a!\nb!\n" });
  });

  it("InvocationsTimeoutInSeconds bounds each attempt (rule 12)", async () => {
    let calls = 0;
    const m = await customModel(() => {
      calls += 1; // never answers
    });
    const { inUri, outUri, outDir } = await io({ "t.csv": "a\n" });
    const d = await runJob(sm, m.image, { inUri, outUri, ModelClientConfig: { InvocationsTimeoutInSeconds: 1, InvocationsMaxRetries: 1 } });
    await m.close();
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toContain("t.csv: record 1: InvocationsTimeoutInSeconds (1 s) expired");
    expect(calls).toBe(2);
    expect(await readOut(outDir)).toEqual({});
  });

  it("keeps input order with MaxConcurrentTransforms requests in flight, never more (rules 12, 14)", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let held: Array<() => void> = [];
    const m = await customModel((body, _req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      held.push(() => {
        inFlight -= 1;
        res.writeHead(200).end(`out-${body.trim()}\n`);
      });
      // answer only when three are waiting, newest first: the emulator must have sent three at once
      if (held.length === 3) {
        const h = held;
        held = [];
        for (const f of h.reverse()) f();
      }
    });
    const { inUri, outUri, outDir } = await io({ "c.csv": Array.from({ length: 9 }, (_, i) => `r${i}`).join("\n") + "\n" });
    const d = await runJob(sm, m.image, { inUri, outUri, BatchStrategy: "SingleRecord", MaxConcurrentTransforms: 3 });
    await m.close();
    expect(d.TransformJobStatus).toBe("Completed");
    expect(maxInFlight).toBe(3);
    expect((await readOut(outDir))["c.csv.out"]).toBe(Array.from({ length: 9 }, (_, i) => `out-r${i}\n`).join(""));
  });

  it("AssembleWith None concatenates bodies; Line adds a missing newline (rule 15)", async () => {
    const m = await customModel((body, _req, res) => void res.writeHead(200).end(`[${body.trim()}]`));
    const a = await io({ "n.csv": "1\n2\n" });
    const none = await runJob(sm, m.image, { inUri: a.inUri, outUri: a.outUri, BatchStrategy: "SingleRecord" });
    expect(none.TransformJobStatus).toBe("Completed");
    expect(await readOut(a.outDir)).toEqual({ "n.csv.out": "[1][2]" });
    const b = await io({ "n.csv": "1\n2\n" });
    const line = await runJob(sm, m.image, { inUri: b.inUri, outUri: b.outUri, BatchStrategy: "SingleRecord", TransformOutput: { S3OutputPath: b.outUri, AssembleWith: "Line" } });
    expect(line.TransformJobStatus).toBe("Completed");
    expect(await readOut(b.outDir)).toEqual({ "n.csv.out": "[1]\n[2]\n" });
    await m.close();
    // a body that already ends with a newline gets none added (default "append-if-missing")
    const c = await io({ "n.csv": "1\n2\n" });
    const ex = await runJob(sm, await exampleModel(), { inUri: c.inUri, outUri: c.outUri, BatchStrategy: "SingleRecord", TransformOutput: { S3OutputPath: c.outUri, AssembleWith: "Line", Accept: "text/csv" } });
    expect(ex.TransformJobStatus).toBe("Completed");
    expect(await readOut(c.outDir)).toEqual({ "n.csv.out": "1\n2\n" });
  });

  it("Stop ends Stopped and writes nothing more (rule 17)", async () => {
    const name = `stop-${process.pid}`;
    let stopped = false;
    const m = await customModel((body, _req, res) => {
      if (body.startsWith("slow") && !stopped) {
        stopped = true;
        // stop while this object's request is in flight, then answer it
        void sm.send(new StopTransformJobCommand({ TransformJobName: name })).then(() => res.writeHead(200).end("late\n"));
        return;
      }
      res.writeHead(200).end(`${body.trim()}\n`);
    });
    const { inUri, outUri, outDir } = await io({ "a-done.csv": "fast\n", "b-slow.csv": "slow1\nslow2\n" });
    const { CreateModelCommand, CreateTransformJobCommand } = await import("@aws-sdk/client-sagemaker");
    await sm.send(new CreateModelCommand({ ModelName: name, PrimaryContainer: { Image: m.image } }));
    await sm.send(new CreateTransformJobCommand({
      TransformJobName: name,
      ModelName: name,
      BatchStrategy: "SingleRecord",
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line" },
      TransformOutput: { S3OutputPath: outUri },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
    }));
    const d = await waitJob(sm, name);
    await m.close();
    expect(stopped).toBe(true);
    expect(d.TransformJobStatus).toBe("Stopped");
    expect(await readOut(outDir)).toEqual({ "a-done.csv.out": "fast\n" });
  });

  it("gunzips Gzip inputs and names the output after the full input name (rule 20)", async () => {
    const { inUri, outUri, outDir } = await io({ "z.csv.gz": gzipSync("1,1\n2,2\n") });
    const d = await runJob(sm, await exampleModel(), { inUri, outUri, TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line", CompressionType: "Gzip" }, TransformOutput: { S3OutputPath: outUri, Accept: "text/csv" } });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "z.csv.gz.out": "2\n4\n" });
    const bad = await io({ "y.csv.gz": "not gzip\n" });
    const d2 = await runJob(sm, await exampleModel(), { inUri: bad.inUri, outUri: bad.outUri, TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: bad.inUri } }, ContentType: "text/csv", SplitType: "Line", CompressionType: "Gzip" } });
    expect(d2.TransformJobStatus).toBe("Failed");
    expect(d2.FailureReason).toContain("cannot gunzip the object");
  });

  it("reads ManifestFile inputs: prefix + entry, output named after the entry (rule 3)", async () => {
    const { inUri, outUri, outDir } = await io({ "data/x.csv": "1\n", "data/y.csv": "2\n", "data/ignored.csv": "3\n" });
    const manifest = await io({ "m.json": JSON.stringify([{ prefix: `${inUri}data/` }, "y.csv", "x.csv"]) });
    const d = await runJob(sm, await exampleModel(), { inUri, outUri, TransformInput: { DataSource: { S3DataSource: { S3DataType: "ManifestFile", S3Uri: `${manifest.inUri}m.json` } }, ContentType: "text/csv", SplitType: "Line" }, TransformOutput: { S3OutputPath: outUri, Accept: "text/csv" } });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "x.csv.out": "1\n", "y.csv.out": "2\n" });
    const missing = await io({ "m.json": JSON.stringify([{ prefix: `${inUri}data/` }, "nope.csv"]) });
    const d2 = await runJob(sm, await exampleModel(), { inUri, outUri, TransformInput: { DataSource: { S3DataSource: { S3DataType: "ManifestFile", S3Uri: `${missing.inUri}m.json` } }, ContentType: "text/csv", SplitType: "Line" } });
    expect(d2.TransformJobStatus).toBe("Failed");
    expect(d2.FailureReason).toContain("lists nope.csv");
    // an entry that climbs out of the prefix once percent-decoded is refused; the outside file is not read
    const outside = await io({ "secret.csv": "42\n", "data/ok.csv": "1\n" });
    for (const entry of ["%2e%2e/secret.csv", "%2E%2E%2Fsecret.csv", "./../secret.csv"]) {
      const m = await io({ "m.json": JSON.stringify([{ prefix: `${outside.inUri}data/` }, entry]) });
      const d3 = await runJob(sm, await exampleModel(), { inUri: outside.inUri, outUri: m.outUri, TransformInput: { DataSource: { S3DataSource: { S3DataType: "ManifestFile", S3Uri: `${m.inUri}m.json` } }, ContentType: "text/csv", SplitType: "Line" } });
      expect(d3.TransformJobStatus, entry).toBe("Failed");
      expect(d3.FailureReason, entry).toContain("escapes its prefix");
      expect(await readOut(m.outDir), entry).toEqual({});
    }
  });

  it("DataProcessing: CSV InputFilter, JoinSource Input and OutputFilter (rule 21)", async () => {
    const { inUri, outUri, outDir } = await io({ "d.csv": "id1,2,3\nid2,4,5\n" });
    const d = await runJob(sm, await exampleModel(), {
      inUri,
      outUri,
      TransformOutput: { S3OutputPath: outUri, Accept: "text/csv", AssembleWith: "Line" },
      DataProcessing: { InputFilter: "$[1:]", JoinSource: "Input", OutputFilter: "$[0,-1]" },
    });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "d.csv.out": "id1,5\nid2,9\n" });
  });

  it("DataProcessing: JSON join adds SageMakerOutput to objects and wraps other values (rule 21)", async () => {
    const { inUri, outUri, outDir } = await io({ "j.jsonl": '{"id":"a","x":1}\n[5,"bc"]\n' });
    const d = await runJob(sm, await exampleModel(), {
      inUri,
      outUri,
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "application/jsonlines", SplitType: "Line" },
      TransformOutput: { S3OutputPath: outUri, Accept: "application/jsonlines", AssembleWith: "Line" },
      DataProcessing: { JoinSource: "Input" },
    });
    expect(d.TransformJobStatus).toBe("Completed");
    const lines = (await readOut(outDir))["j.jsonl.out"]!.trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { id: "a", x: 1, SageMakerOutput: { score: 1, length: 1 } },
      { SageMakerInput: [5, "bc"], SageMakerOutput: { score: 5, length: 2 } },
    ]);
  });

  it("DataProcessing: an output that does not match the input count fails the object (rule 21)", async () => {
    const { inUri, outUri, outDir } = await io({ "k.csv": "1\n2\n3\n" });
    const d = await runJob(sm, await exampleModel({ BTKIT_EXAMPLE_DROP_LINE: "1" }), { inUri, outUri, TransformOutput: { S3OutputPath: outUri, Accept: "text/csv", AssembleWith: "Line" }, DataProcessing: { JoinSource: "Input" } });
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toContain("k.csv: records 1-3: the model returned 2 output records for 3 input records");
    expect(await readOut(outDir)).toEqual({});
  });

  it("execution-parameters apply where the request is silent; the request wins (rule 9)", async () => {
    const image = await exampleModel({ BTKIT_EXAMPLE_EXECUTION_PARAMETERS: JSON.stringify({ MaxConcurrentTransforms: 4, BatchStrategy: "SINGLE_RECORD", MaxPayloadInMB: 2 }) });
    const a = await io({ "e.csv": "1\n2\n3\n" });
    const d = await runJob(sm, image, { inUri: a.inUri, outUri: a.outUri });
    expect(d.TransformJobStatus).toBe("Completed");
    const dl = await dataLog(d.TransformJobName!);
    expect(dl[0]).toBe("[sagemaker logs]: MaxConcurrentTransforms=4, MaxPayloadInMB=2, BatchStrategy=SINGLE_RECORD");
    expect(dl.some((m) => m.endsWith("e.csv: completed, 3 records in 3 requests"))).toBe(true);
    const b = await io({ "e.csv": "1\n2\n3\n" });
    const d2 = await runJob(sm, image, { inUri: b.inUri, outUri: b.outUri, BatchStrategy: "MultiRecord", MaxPayloadInMB: 5, MaxConcurrentTransforms: 1 });
    expect((await dataLog(d2.TransformJobName!))[0]).toBe("[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=5, BatchStrategy=MULTI_RECORD");
  });

  it("fails a job whose image cannot run, or whose input prefix is empty", async () => {
    const a = await io({ "a.csv": "1\n" });
    const d = await runJob(sm, "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1", { inUri: a.inUri, outUri: a.outUri });
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toContain("--image-map URI=CMD");
    const d2 = await runJob(sm, await exampleModel(), { inUri: `${a.inUri}nothing-`, outUri: a.outUri });
    expect(d2.FailureReason).toContain("no input objects found");
  });

  it("filters log events across a job's streams", async () => {
    const a = await io({ "f1.csv": "1\n", "f2.csv": "2\n" });
    const d = await runJob(sm, await exampleModel(), { inUri: a.inUri, outUri: a.outUri });
    const ev = await logs.send(new FilterLogEventsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${d.TransformJobName}/`, filterPattern: '"completed"' }));
    expect(ev.events!.map((e) => e.message!.replace(/^.*[/\\]/, ""))).toEqual(["f1.csv: completed, 1 records in 1 requests", "f2.csv: completed, 1 records in 1 requests"]);
    await expect(logs.send(new GetLogEventsCommand({ logGroupName: "/nope", logStreamName: "x" }))).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });
});
