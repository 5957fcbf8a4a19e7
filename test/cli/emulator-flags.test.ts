/**
 * The emulator's behaviours that AWS leaves open are flags of `btkit emulator` (and of
 * `btkit submit --local`): every UNCONFIRMED option of EmulatorOptions has one, each maps to its
 * option with its stated default, and a flag given to the running CLI emulator changes what a
 * job writes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseArgs } from "../../src/cli/args.js";
import { EMULATOR_BEHAVIOUR_FLAGS, emulatorBehaviourOf } from "../../src/cli/emulator-flags.js";
import { startExampleModel } from "../../src/emulator/index.js";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { tempDir } from "../helpers/tmp.js";
import { clients, readOut, runJob, writeFiles } from "../emulator/helpers.js";
import { runCli } from "../helpers/cli.js";
import { CreateProcessingJobCommand, DescribeProcessingJobCommand } from "@aws-sdk/client-sagemaker";
import { DescribeLogStreamsCommand, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";

const root = path.resolve(import.meta.dirname, "../..");
const spec = { name: "emulator", summary: "", usage: "", flags: EMULATOR_BEHAVIOUR_FLAGS };

describe("the flags", () => {
  it("cover every option EmulatorOptions marks UNCONFIRMED, and the join key order", () => {
    const source = fs.readFileSync(path.join(root, "src/emulator/index.ts"), "utf8");
    const block = source.slice(source.indexOf("export interface EmulatorOptions"), source.indexOf("\n}\n", source.indexOf("export interface EmulatorOptions")));
    const unconfirmed = [...block.matchAll(/UNCONFIRMED[^]*?\*\/\s*(\w+)\?:/g)].map((m) => m[1]);
    expect(unconfirmed.length).toBeGreaterThanOrEqual(7);
    const covered = Object.keys(emulatorBehaviourOf(parseArgs(spec, [])));
    for (const name of [...unconfirmed, "jsonJoinKeys"]) expect(covered, name).toContain(name);
  });

  it("give the stated defaults, and each value given", () => {
    expect(emulatorBehaviourOf(parseArgs(spec, []))).toEqual({
      defaultBatchStrategy: "MultiRecord",
      assembleLine: "append-if-missing",
      outputKeys: "relative",
      gzipOutputName: "keep",
      skipFolderMarkers: true,
      sliceEnd: "inclusive",
      jsonJoinKeys: "sorted",
      joinMismatch: "run",
    });
    const given = parseArgs(spec, ["--batch-strategy", "SingleRecord", "--assemble-line", "always", "--output-keys", "basename", "--gzip-output-name", "strip", "--folder-markers", "read", "--slice-end", "exclusive", "--json-join-keys", "input-first", "--join-mismatch", "create"]);
    expect(emulatorBehaviourOf(given)).toEqual({
      defaultBatchStrategy: "SingleRecord",
      assembleLine: "always",
      outputKeys: "basename",
      gzipOutputName: "strip",
      skipFolderMarkers: false,
      sliceEnd: "exclusive",
      jsonJoinKeys: "input-first",
      joinMismatch: "create",
    });
  });
});

describe("btkit emulator", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("btkit-emu-flags-"));
  });
  afterAll(async () => cleanup?.());

  /** Starts the CLI emulator with `flags`; resolves its endpoint (the first stdout line). */
  function serve(flags: string[]): Promise<{ endpoint: string; child: ChildProcess }> {
    const child = spawn(process.execPath, [path.join(root, "dist/bin/btkit.js"), "emulator", "--port", "0", "--quiet", ...flags], { stdio: ["ignore", "pipe", "pipe"] });
    return new Promise((resolve, reject) => {
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (c: string) => {
        out += c;
        if (out.includes("\n")) resolve({ endpoint: out.trim(), child });
      });
      child.on("exit", (code) => reject(new Error(`btkit emulator exited ${code}`)));
    });
  }

  it("--json-join-keys input-first writes the input's own text, then SageMakerOutput; the default sorts the keys", async () => {
    const model = await startExampleModel({ port: 0 });
    const outs: Record<string, string> = {};
    try {
      for (const [label, flags] of [["default", []], ["input-first", ["--json-join-keys", "input-first"]]] as const) {
        const { endpoint, child } = await serve([...flags]);
        try {
          const { sm } = clients(endpoint);
          const inUri = await writeFiles(path.join(dir, `in-${label}`), { "a.jsonl": '{"b": 1, "a": 12345678901234567890}\n' });
          const d = await runJob(sm, `local-url:${model.url}`, {
            inUri,
            outUri: `file://${dir}/out-${label}/`,
            TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "application/jsonlines", SplitType: "Line" },
            TransformOutput: { S3OutputPath: `file://${dir}/out-${label}/`, Accept: "application/jsonlines", AssembleWith: "Line" },
            DataProcessing: { JoinSource: "Input" },
          });
          expect(d.FailureReason).toBeUndefined();
          outs[label] = (await readOut(path.join(dir, `out-${label}`)))["a.jsonl.out"]!;
        } finally {
          child.kill("SIGINT");
        }
      }
    } finally {
      await model.close();
    }
    expect(outs["input-first"]).toMatch(/^\{"b": 1, "a": 12345678901234567890,"SageMakerOutput":\{.*\}\}\n$/);
    expect(outs.default).toMatch(/^\{"SageMakerOutput":\{.*\},"a":12345678901234567890,"b":1\}\n$/);
  });
  it("--processing-command NAME=CMD reaches a running processing job: its instances run CMD with the container arguments", async () => {
    const { endpoint, child } = await serve(["--processing-command", 'greet=echo hello from greet on $(cat "$BTKIT_RESOURCE_CONFIG"):']);
    try {
      const { sm, logs } = clients(endpoint);
      await sm.send(
        new CreateProcessingJobCommand({
          ProcessingJobName: "greeting",
          ProcessingResources: { ClusterConfig: { InstanceCount: 2, InstanceType: "ml.m5.xlarge", VolumeSizeInGB: 1 } },
          AppSpecification: { ImageUri: "any:1", ContainerEntrypoint: ["greet", "first"], ContainerArguments: ["second", "third arg"] },
          RoleArn: "arn:aws:iam::123456789012:role/test",
        }),
      );
      let d = await sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: "greeting" }));
      while (d.ProcessingJobStatus === "InProgress") {
        await new Promise((r) => setTimeout(r, 50));
        d = await sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: "greeting" }));
      }
      expect(d.ProcessingJobStatus, d.FailureReason).toBe("Completed");
      const streams = (await logs.send(new DescribeLogStreamsCommand({ logGroupName: "/aws/sagemaker/ProcessingJobs", logStreamNamePrefix: "greeting/algo-" }))).logStreams!.map((x) => x.logStreamName!).sort();
      expect(streams).toHaveLength(2);
      const lines = [];
      for (const logStreamName of streams) {
        const ev = await logs.send(new GetLogEventsCommand({ logGroupName: "/aws/sagemaker/ProcessingJobs", logStreamName, startFromHead: true }));
        lines.push(...ev.events!.map((e) => e.message));
      }
      expect(lines).toEqual([1, 2].map((k) => `hello from greet on {"current_host":"algo-${k}","hosts":["algo-1","algo-2"]}: first second third arg`));
    } finally {
      child.kill("SIGINT");
    }
  });

  it("--processing-command without NAME=CMD is refused, naming the form", async () => {
    const r = await runCli(["emulator", "--processing-command", "greet"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--processing-command expects NAME=CMD (NAME the first element of a ContainerEntrypoint, CMD a shell command), got "greet"');
  });
});
