/**
 * Output bytes and request checks held to what the service is recorded or documented to do,
 * driven through the AWS SDK over HTTP. Each test names the recording or document its input and
 * expected bytes come from.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateModelCommand, CreateTransformJobCommand, TransformInstanceType, type CreateTransformJobCommandInput, type SageMakerClient } from "@aws-sdk/client-sagemaker";
import { DescribeLogStreamsCommand, GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { LOG_GROUP, startEmulator, type EmulatorOptions, type RunningEmulator } from "../../src/emulator/index.js";
import { tempDir } from "../helpers/tmp.js";
import { clients, readOut, runJob, waitJob, writeFiles } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
const emulators = new Map<string, { emu: RunningEmulator; sm: SageMakerClient; logs: CloudWatchLogsClient }>();
const servers: http.Server[] = [];
let n = 0;

/** An emulator with these options (one per distinct set, kept for the file). */
async function emulator(options: EmulatorOptions = {}): Promise<{ sm: SageMakerClient; logs: CloudWatchLogsClient }> {
  const key = JSON.stringify(options);
  let e = emulators.get(key);
  if (!e) {
    const emu = await startEmulator({ env: {}, pingIntervalMs: 20, ...options });
    e = { emu, ...clients(emu.endpoint) };
    emulators.set(key, e);
  }
  return e;
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  for (const e of emulators.values()) await e.emu.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  await cleanup();
});

async function io(files: Record<string, string | Buffer>): Promise<{ inUri: string; outUri: string; outDir: string }> {
  n += 1;
  const inUri = await writeFiles(`${dir}/in${n}`, files);
  return { inUri, outUri: `file://${dir}/out${n}`, outDir: `${dir}/out${n}` };
}

interface Seen {
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** A model server that answers each invocation with `answer(body)` and records what it was sent. */
async function model(answer: (body: string) => string): Promise<{ image: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === "/ping") return void res.writeHead(200).end();
    if (req.url === "/execution-parameters") return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ body, headers: req.headers });
      res.writeHead(200).end(answer(body.toString("utf8")));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { image: `local-url:http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** One answer line per input line, from a table of input line -> answer. */
const perLine = (table: Record<string, string>) => (body: string): string =>
  body
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => table[l.replace(/\r$/, "")] ?? `?${l}`)
    .join("\n") + "\n";

const jsonlJoin = (inUri: string, outUri: string): Partial<CreateTransformJobCommandInput> => ({
  TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "application/jsonlines", SplitType: "Line" },
  TransformOutput: { S3OutputPath: outUri, Accept: "application/jsonlines", AssembleWith: "Line" },
  DataProcessing: { JoinSource: "Input" },
});

const csvJoin = (inUri: string, outUri: string, dp: CreateTransformJobCommandInput["DataProcessing"] = { JoinSource: "Input" }): Partial<CreateTransformJobCommandInput> => ({
  TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line" },
  TransformOutput: { S3OutputPath: outUri, Accept: "text/csv", AssembleWith: "Line" },
  DataProcessing: dp,
});

async function dataLog(logs: CloudWatchLogsClient, job: string): Promise<string[]> {
  const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: LOG_GROUP, logStreamNamePrefix: `${job}/` }));
  const out: string[] = [];
  for (const s of streams.logStreams!.filter((x) => x.logStreamName!.endsWith("/data-log"))) {
    const ev = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: s.logStreamName, startFromHead: true }));
    out.push(...ev.events!.map((e) => e.message!));
  }
  return out;
}

describe("JoinSource Input with JSON: key order (point 1)", () => {
  // Input: the last two lines of test_data/test-dataset.jsonl and the recorded .out lines of
  // aws/amazon-sagemaker-examples archived/SageMaker-Monitoring-Bias-Drift-for-Batch-Transform-JSON-Lines.ipynb
  // (cell "transform_output_content[-5:]"), without the SageMakerInferenceId/Time keys its
  // BatchDataCaptureConfig added. The model answers as linear learner documents its JSON Lines
  // (https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html: score first, with spaces);
  // the recording has predicted_label first and no spaces.
  const input = '{"features":[67,2,192995,11,9,6,0,4,4,0,6723,0,40,37]}\n{"features":[30,2,235847,9,13,4,7,3,4,0,0,0,24,37]}\n';
  const answers = {
    '{"features":[67,2,192995,11,9,6,0,4,4,0,6723,0,40,37]}': '{"score": 0.321518242359161, "predicted_label": 0}',
    '{"features":[30,2,235847,9,13,4,7,3,4,0,0,0,24,37]}': '{"score": 0.050630431622266, "predicted_label": 0}',
  };

  it("writes the joined object as recorded jobs do: compact, keys sorted (SageMakerOutput before lower-case input keys), by default", async () => {
    const { sm } = await emulator();
    const m = await model(perLine(answers));
    const { inUri, outUri, outDir } = await io({ "test-dataset.jsonl": input });
    const d = await runJob(sm, m.image, { inUri, outUri, ...jsonlJoin(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({
      "test-dataset.jsonl.out":
        '{"SageMakerOutput":{"predicted_label":0,"score":0.321518242359161},"features":[67,2,192995,11,9,6,0,4,4,0,6723,0,40,37]}\n' +
        '{"SageMakerOutput":{"predicted_label":0,"score":0.050630431622266},"features":[30,2,235847,9,13,4,7,3,4,0,0,0,24,37]}\n',
    });
  });

  it("sorts an upper-case input key before SageMakerOutput, as a recorded BlazingText join shows", async () => {
    // ykumarbekov/aws-gridu-project aws/sagemaker/README.md records `{"ISBN":"0072294337","SageMakerOutput":{"label":["__label__ham"],"prob":[0.8249409198760986]},"device_id" ...`
    // for input lines that code/runner.py writes with json.dump as ISBN, timestamp, then the user's fields (device_id among them)
    const { sm } = await emulator();
    const m = await model(() => '{"prob": [0.8249409198760986], "label": ["__label__ham"]}\n');
    const { inUri, outUri, outDir } = await io({ "15062020155302.log": '{"ISBN": "0072294337", "timestamp": "15.06.2020 15:53:02", "device_id": "d-1"}\n' });
    const d = await runJob(sm, m.image, { inUri, outUri, ...jsonlJoin(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "15062020155302.log.out": '{"ISBN":"0072294337","SageMakerOutput":{"label":["__label__ham"],"prob":[0.8249409198760986]},"device_id":"d-1","timestamp":"15.06.2020 15:53:02"}\n' });
  });

  it("sorts input keys written in another order, and drops json.dumps' spaces, as a recorded cost-anomaly join shows", async () => {
    // mak0o/ops-side-of-ml docs/aws.md records (values shortened there, kept as shown):
    //   {"SageMakerOutput":{"is_anomaly":0,"model_version":"1835041f...","probability":0.0347},"cost":28.6,"cost_ma7":26.56,"cost_ratio_ma7":1.08,"cost_std7":1.80,"cost_vs_lastweek":0.98,"day_of_week":2,"is_weekend":0}
    // for input lines scripts/batch_transform.py writes with json.dumps in its FEATURES order (cost_std7 before cost_ratio_ma7)
    const { sm } = await emulator();
    const m = await model(() => '{"is_anomaly":0,"probability":0.0347,"model_version":"1835041f"}');
    const line = '{"cost": 28.6, "cost_ma7": 26.56, "cost_std7": 1.80, "cost_ratio_ma7": 1.08, "cost_vs_lastweek": 0.98, "day_of_week": 2, "is_weekend": 0}';
    const { inUri, outUri, outDir } = await io({ "input.jsonl": line });
    const d = await runJob(sm, m.image, { inUri, outUri, ...jsonlJoin(inUri, outUri), BatchStrategy: "SingleRecord" });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({
      "input.jsonl.out": '{"SageMakerOutput":{"is_anomaly":0,"model_version":"1835041f","probability":0.0347},"cost":28.6,"cost_ma7":26.56,"cost_ratio_ma7":1.08,"cost_std7":1.80,"cost_vs_lastweek":0.98,"day_of_week":2,"is_weekend":0}\n',
    });
  });

  it("puts SageMakerOutput last, splicing the input's own text, with jsonJoinKeys input-first (the data-processing page's example)", async () => {
    // https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html: input {"key":1}, result {"label":1}, joined {"key":1, "SageMakerOutput":{"label":1}}
    const { sm } = await emulator({ jsonJoinKeys: "input-first" });
    const m = await model(() => '{"label":1}\n');
    const { inUri, outUri, outDir } = await io({ "k.jsonl": '{"key":1}\n' });
    const d = await runJob(sm, m.image, { inUri, outUri, ...jsonlJoin(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "k.jsonl.out": '{"key":1,"SageMakerOutput":{"label":1}}\n' });
  });

  it("puts SageMakerOutput first, then the input's own text, with jsonJoinKeys output-first", async () => {
    const { sm } = await emulator({ jsonJoinKeys: "output-first" });
    const m = await model(() => '{"b": 2, "a": 1}\n');
    const { inUri, outUri, outDir } = await io({ "k.jsonl": '{"z": 1, "y": [1.50]}\n' });
    const d = await runJob(sm, m.image, { inUri, outUri, ...jsonlJoin(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "k.jsonl.out": '{"SageMakerOutput":{"b": 2, "a": 1},"z": 1, "y": [1.50]}\n' });
  });
});

describe("JSON with SplitType None and AssembleWith None (point 2)", () => {
  it("writes the joined document with no newline after it, as the recorded test-dataset.json.out", async () => {
    // aws/amazon-sagemaker-examples deploy_and_monitor/sm-clarify_model_bias_monitor_batch_transform_json/
    // sm-clarify_model_bias_monitor_batch_transform_json.ipynb: split_type="None", assemble_with="None",
    // join_source="Input"; the printed .out (cell "transform_output_content") starts
    // {"SageMakerInferenceId":...,"SageMakerInferenceTime":...,"SageMakerOutput":{"predictions":[{"predicted_label":1,"score":0.9899773597717285},{"predicted_label":1,"score":0.5041388273239136},...
    // and ends ...]}]} with only print()'s newline. Input: the first two instances of its
    // test_data/test-dataset.json (one line, no newline); the model answers as linear learner's
    // JSON response format is documented (LL-in-formats.html: pretty-printed, score first).
    const { sm } = await emulator();
    const m = await model(() => '{\n    "predictions": [\n        {"score": 0.9899773597717285, "predicted_label": 1},\n        {"score": 0.5041388273239136, "predicted_label": 1}\n    ]\n}');
    const doc = '{"instances":[{"features":[28,2,133937,9,13,2,0,0,4,1,15024,0,55,37]},{"features":[43,2,72338,12,14,2,12,0,1,1,0,0,40,37]}]}';
    const { inUri, outUri, outDir } = await io({ "test-dataset.json": doc });
    const d = await runJob(sm, m.image, {
      inUri,
      outUri,
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "application/json", SplitType: "None" },
      TransformOutput: { S3OutputPath: outUri, Accept: "application/json", AssembleWith: "None" },
      DataProcessing: { JoinSource: "Input" },
    });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({
      "test-dataset.json.out":
        '{"SageMakerOutput":{"predictions":[{"predicted_label":1,"score":0.9899773597717285},{"predicted_label":1,"score":0.5041388273239136}]},' +
        '"instances":[{"features":[28,2,133937,9,13,2,0,0,4,1,15024,0,55,37]},{"features":[43,2,72338,12,14,2,12,0,1,1,0,0,40,37]}]}',
    });
  });
});

describe("joins copy the input record (point 3)", () => {
  it("CSV: the input's bytes as read (quotes, commas in fields, CRLF), a comma, then the output's fields", async () => {
    // "The joined data has the original input data followed by the transformed data" (API_DataProcessing, JoinSource;
    // https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html: record [1,2,3], result [1] -> [1,2,3,1])
    const { sm } = await emulator();
    const m = await model(perLine({ '1,"Smith, J","say ""hi"""': '0.25,"a,b"', '12345678901234567890,"",x': "-1", "1,2,3": "1" }));
    const { inUri, outUri, outDir } = await io({ "q.csv": '1,"Smith, J","say ""hi"""\r\n12345678901234567890,"",x\r\n1,2,3' });
    const d = await runJob(sm, m.image, { inUri, outUri, ...csvJoin(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "q.csv.out": '1,"Smith, J","say ""hi""",0.25,"a,b"\r\n12345678901234567890,"",x,-1\r\n1,2,3,1\n' });
    // an OutputFilter picks fields as the record wrote them
    const f = await io({ "q.csv": '1,"Smith, J","say ""hi"""\r\n' });
    const d2 = await runJob(sm, m.image, { inUri: f.inUri, outUri: f.outUri, ...csvJoin(f.inUri, f.outUri, { JoinSource: "Input", OutputFilter: "$[1,-1]" }) });
    expect(d2.TransformJobStatus).toBe("Completed");
    expect(await readOut(f.outDir)).toEqual({ "q.csv.out": '"Smith, J","a,b"\r\n' });
  });

  it("JSON Lines: every digit of large integers and decimals is kept", async () => {
    const { sm } = await emulator();
    const m = await model(() => '{"p": 0.12345678901234567891, "n": 12345678901234567891}\n');
    const { inUri, outUri, outDir } = await io({ "big.jsonl": '{"id": 12345678901234567890, "x": 1.10, "e": 1E+2}\n' });
    const d = await runJob(sm, m.image, { inUri, outUri, ...jsonlJoin(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "big.jsonl.out": '{"SageMakerOutput":{"n":12345678901234567891,"p":0.12345678901234567891},"e":1E+2,"id":12345678901234567890,"x":1.10}\n' });
  });
});

describe("JoinSource Input needs Accept to match ContentType and AssembleWith to match SplitType (point 4)", () => {
  // https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html: "The values for Accept and
  // ContentType must match, and the values for AssembleWith and SplitType must also match."
  const why =
    'JoinSource Input needs Accept to match ContentType and AssembleWith to match SplitType, both Line for text/csv (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html): ContentType "text/csv", Accept "application/json", SplitType Line, AssembleWith Line';
  const mismatched = (inUri: string, outUri: string): Partial<CreateTransformJobCommandInput> => ({
    ...csvJoin(inUri, outUri),
    TransformOutput: { S3OutputPath: outUri, Accept: "application/json", AssembleWith: "Line" },
  });

  it("fails each input object with the reason by default (joinMismatch run); nothing is written and the model is not called", async () => {
    const { sm, logs } = await emulator();
    const m = await model(() => '{"p":1}\n');
    const { inUri, outUri, outDir } = await io({ "a.csv": "1,2\n" });
    const d = await runJob(sm, m.image, { inUri, outUri, ...mismatched(inUri, outUri) });
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.FailureReason).toBe(`ClientError: 1 of 1 input objects failed; first: ${dir}/in${n}/a.csv: ${why}. See the job's data-log streams for each object.`);
    expect(await dataLog(logs, d.TransformJobName!)).toContain(`[sagemaker logs]: ${dir}/in${n}/a.csv: ClientError: ${why}`);
    expect(m.seen).toEqual([]);
    expect(await readOut(outDir)).toEqual({});
  });

  it("is refused at CreateTransformJob with joinMismatch create", async () => {
    const { sm } = await emulator({ joinMismatch: "create" });
    const m = await model(() => "");
    const { inUri, outUri } = await io({ "a.csv": "1,2\n" });
    await expect(runJob(sm, m.image, { inUri, outUri, ...mismatched(inUri, outUri) })).rejects.toMatchObject({ name: "ValidationException", message: why, $metadata: { httpStatusCode: 400 } });
  });
});

describe("MaxPayloadInMB 0 (point 5)", () => {
  // API_CreateTransformJob, MaxPayloadInMB: "For cases where the payload might be arbitrarily large and is transmitted
  // using HTTP chunked encoding, set the value to 0."
  it("sends each request with Transfer-Encoding: chunked and no payload limit; otherwise with Content-Length", async () => {
    const { sm } = await emulator();
    const m = await model((body) => `${body.length}\n`);
    const big = `${"7".repeat(7 * 1024 * 1024)}\n`; // one record over the 6 MB default
    const a = await io({ "big.csv": big });
    const d = await runJob(sm, m.image, { inUri: a.inUri, outUri: a.outUri, MaxPayloadInMB: 0, TransformOutput: { S3OutputPath: a.outUri, AssembleWith: "Line" } });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(m.seen).toHaveLength(1);
    expect(m.seen[0]!.headers["transfer-encoding"]).toBe("chunked");
    expect(m.seen[0]!.headers["content-length"]).toBeUndefined();
    expect(m.seen[0]!.body.equals(Buffer.from(big))).toBe(true);
    expect(await readOut(a.outDir)).toEqual({ "big.csv.out": `${big.length}\n` });

    const b = await io({ "small.csv": "1,2\n" });
    const d2 = await runJob(sm, m.image, { inUri: b.inUri, outUri: b.outUri });
    expect(d2.TransformJobStatus).toBe("Completed");
    expect(m.seen[1]!.headers["content-length"]).toBe("4");
    expect(m.seen[1]!.headers["transfer-encoding"]).toBeUndefined();
  });
});

describe("OutputFilter with indexes and a range (point 7)", () => {
  it("takes $[0,5:] (API_DataProcessing's example) and applies it to the joined row", async () => {
    // https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html, OutputFilter: Examples: "$", "$[0,5:]", "$['id','SageMakerOutput']"
    const { sm } = await emulator();
    const m = await model(perLine({ "id1,1,2,3,4": "9", "id2,5,6,7,8": "26" }));
    const { inUri, outUri, outDir } = await io({ "r.csv": "id1,1,2,3,4\nid2,5,6,7,8\n" });
    const d = await runJob(sm, m.image, { inUri, outUri, ...csvJoin(inUri, outUri, { JoinSource: "Input", OutputFilter: "$[0,5:]" }) });
    expect(d.TransformJobStatus).toBe("Completed");
    expect(await readOut(outDir)).toEqual({ "r.csv.out": "id1,9\nid2,26\n" });
  });

  it("takes two ranges at create and fails each object with the service's words (aws/sagemaker-python-sdk#1112)", async () => {
    // the job log quoted in https://github.com/aws/sagemaker-python-sdk/issues/1112:
    // "(...)transform/transform_ID.csv: Invalid JsonPath: $[0:2,246:]: only single range filters of format (eg: [1:5]) are supported. Format [0:2,246:] is not supported"
    const { sm, logs } = await emulator();
    const m = await model(() => "1\n");
    const { inUri, outUri, outDir } = await io({ "transform_ID.csv": "a,b,1\n", "other.csv": "c,d,2\n" });
    const d = await runJob(sm, m.image, { inUri, outUri, ...csvJoin(inUri, outUri, { JoinSource: "Input", OutputFilter: "$[0:2,246:]" }) });
    const said = "Invalid JsonPath: $[0:2,246:]: only single range filters of format (eg: [1:5]) are supported. Format [0:2,246:] is not supported";
    expect(d.TransformJobStatus).toBe("Failed");
    expect(d.DataProcessing?.OutputFilter).toBe("$[0:2,246:]");
    expect(d.FailureReason).toMatch(/^ClientError: 2 of 2 input objects failed; first: .*\.csv: Invalid JsonPath: \$\[0:2,246:\]: only single range filters/);
    const log = await dataLog(logs, d.TransformJobName!);
    expect(log).toContain(`[sagemaker logs]: ${dir}/in${n}/transform_ID.csv: ClientError: ${said}`);
    expect(log).toContain(`[sagemaker logs]: ${dir}/in${n}/other.csv: ClientError: ${said}`);
    expect(m.seen).toEqual([]);
    expect(await readOut(outDir)).toEqual({});
  });
});

describe("request validation from the botocore model (point 6)", () => {
  // boto/botocore botocore/data/sagemaker/2017-07-24/service-2.json: TransformResources.InstanceType is TransformInstanceType
  // (an enum), TransformOutput.KmsKeyId and TransformResources.VolumeKmsKeyId are KmsKeyId (pattern [a-zA-Z0-9:/_-]*, max 2048)
  const job = (name: string, inUri: string, extra: Partial<CreateTransformJobCommandInput> = {}): CreateTransformJobCommand =>
    new CreateTransformJobCommand({
      TransformJobName: name,
      ModelName: "fidelity-model",
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line" },
      TransformOutput: { S3OutputPath: `file://${dir}/out-${name}` },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
      ...extra,
    });
  let sm: SageMakerClient;
  let inUri: string;
  beforeAll(async () => {
    ({ sm } = await emulator());
    const m = await model(() => "1\n");
    await sm.send(new CreateModelCommand({ ModelName: "fidelity-model", PrimaryContainer: { Image: m.image } }));
    inUri = (await io({ "a.csv": "1\n" })).inUri;
  });
  const refused = async (cmd: CreateTransformJobCommand): Promise<{ name: string; message: string; status?: number }> => {
    try {
      await sm.send(cmd);
    } catch (err) {
      const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
      return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
    }
    throw new Error("expected a ValidationException");
  };

  it("refuses an instance type outside TransformInstanceType (ml.t2.medium) with the enum message", async () => {
    const e = await refused(job("t2", inUri, { TransformResources: { InstanceType: "ml.t2.medium" as TransformInstanceType, InstanceCount: 1 } }));
    expect(e).toEqual({
      name: "ValidationException",
      status: 400,
      message: `1 validation error detected: Value 'ml.t2.medium' at 'transformResources.instanceType' failed to satisfy constraint: Member must satisfy enum value set: [${Object.values(TransformInstanceType).join(", ")}]`,
    });
  });

  it("refuses KMS keys outside the KmsKeyId pattern, takes the documented forms", async () => {
    const out = await refused(job("kms1", inUri, { TransformOutput: { S3OutputPath: `file://${dir}/o`, KmsKeyId: "my key!" } }));
    expect(out.message).toBe("1 validation error detected: Value 'my key!' at 'transformOutput.kmsKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:/_-]*");
    const vol = await refused(job("kms2", inUri, { TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1, VolumeKmsKeyId: "alias/Example.Alias" } }));
    expect(vol.message).toBe("1 validation error detected: Value 'alias/Example.Alias' at 'transformResources.volumeKmsKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:/_-]*");
    const long = await refused(job("kms3", inUri, { TransformOutput: { S3OutputPath: `file://${dir}/o`, KmsKeyId: "k".repeat(2049) } }));
    expect(long.message).toBe(`1 validation error detected: Value '${"k".repeat(2049)}' at 'transformOutput.kmsKeyId' failed to satisfy constraint: Member must have length less than or equal to 2048`);
    // the forms the model's documentation lists: key id, key ARN, alias name, alias ARN
    const forms = ["1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "alias/ExampleAlias", "arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias"];
    for (const [i, k] of forms.entries()) {
      await sm.send(job(`kms-ok-${i}`, inUri, { TransformOutput: { S3OutputPath: `file://${dir}/o${i}`, KmsKeyId: k }, TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1, VolumeKmsKeyId: k } }));
      expect((await waitJob(sm, `kms-ok-${i}`)).TransformJobStatus).toBe("Completed");
    }
  });

  it("checks MaxConcurrentTransforms x MaxPayloadInMB <= 100 with the default 6 MB when only the concurrency is set", async () => {
    const e = await refused(job("mct17", inUri, { MaxConcurrentTransforms: 17 }));
    expect(e).toEqual({ name: "ValidationException", status: 400, message: "MaxConcurrentTransforms * MaxPayloadInMB must not exceed 100 MB, got 17 * 6 (the default MaxPayloadInMB) = 102" });
    await sm.send(job("mct16", inUri, { MaxConcurrentTransforms: 16 }));
    expect((await waitJob(sm, "mct16")).TransformJobStatus).toBe("Completed");
    await sm.send(job("mp100", inUri, { MaxPayloadInMB: 100 }));
    expect((await waitJob(sm, "mp100")).TransformJobStatus).toBe("Completed");
    await sm.send(job("mct50-mp0", inUri, { MaxConcurrentTransforms: 50, MaxPayloadInMB: 0 }));
    expect((await waitJob(sm, "mct50-mp0")).TransformJobStatus).toBe("Completed");
  });
});
