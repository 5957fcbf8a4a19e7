import * as sm from "@aws-sdk/client-sagemaker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Descriptor } from "../../src/protocol/descriptor.js";
import { buildTransformJobRequest, jobNameFor, JOB_NAME_RE, requestWarnings, type TransformRequestOptions } from "../../src/submit/index.js";
import { tempDir } from "../helpers/tmp.js";
import { writeTestDescriptor } from "./descriptor.js";
import { thrownBy } from "../helpers/errors.js";

let dir: string;
let cleanup: () => Promise<void>;
let d: Descriptor;
const base: TransformRequestOptions = { model: "my-model", allowFileUris: true };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-submit-req-"));
  d = await writeTestDescriptor(dir, { shards: 3 });
});
afterAll(() => cleanup());

describe("buildTransformJobRequest", () => {
  it("derives input, output and payload from the descriptor", () => {
    const r = buildTransformJobRequest(d, base);
    const stable = { ...r, TransformJobName: "<derived>", TransformInput: { ...r.TransformInput, DataSource: { S3DataSource: { ...r.TransformInput!.DataSource!.S3DataSource, S3Uri: "<manifest>" } } }, TransformOutput: { ...r.TransformOutput, S3OutputPath: "<output>" } };
    expect(stable).toMatchSnapshot();
    expect(r.TransformInput!.DataSource!.S3DataSource!.S3Uri).toBe(d.manifest.location);
    // one output prefix per job: output/<job name>, so no job's .out is ever taken for another's
    expect(r.TransformOutput!.S3OutputPath).toBe(d.manifest.location.replace(/manifest\.json$/, `output/${r.TransformJobName}`));
    expect(buildTransformJobRequest(d, { ...base, nameSalt: "other" }).TransformOutput!.S3OutputPath).not.toBe(r.TransformOutput!.S3OutputPath);
    expect(r.TransformInput!.ContentType).toBe("text/csv");
    expect(r.TransformOutput!.Accept).toBe("text/csv");
    expect(r.MaxPayloadInMB).toBeUndefined();
  });

  it("maps every option to its field", () => {
    const r = buildTransformJobRequest(d, {
      ...base, instanceType: "ml.c5.xlarge", instanceCount: 2, strategy: "SingleRecord", maxPayloadMb: 10, concurrency: 4, output: "s3://bucket/out", accept: "text/csv",
      inputFilter: "$[1:]", outputFilter: "$[0,-1]", joinSource: "Input", environment: { A: "1" }, tags: { team: "ml" }, outputKmsKey: "alias/k1", volumeKmsKey: "alias/k2",
      invocationTimeoutSeconds: 120, invocationRetries: 1,
    });
    expect(r).toMatchObject({
      ModelName: "my-model", MaxConcurrentTransforms: 4, MaxPayloadInMB: 10, BatchStrategy: "SingleRecord", Environment: { A: "1" },
      ModelClientConfig: { InvocationsTimeoutInSeconds: 120, InvocationsMaxRetries: 1 },
      TransformOutput: { S3OutputPath: "s3://bucket/out", Accept: "text/csv", AssembleWith: "Line", KmsKeyId: "alias/k1" },
      TransformResources: { InstanceType: "ml.c5.xlarge", InstanceCount: 2, VolumeKmsKeyId: "alias/k2" },
      DataProcessing: { InputFilter: "$[1:]", OutputFilter: "$[0,-1]", JoinSource: "Input" },
      Tags: [{ Key: "team", Value: "ml" }],
    });
  });

  it("sets MaxPayloadInMB to the largest record when it exceeds the 6 MB default, and refuses less", () => {
    const big = { ...d, modelInput: { ...d.modelInput, maxRecordBytes: 7 * 1024 * 1024 + 1 } };
    expect(buildTransformJobRequest(big, base).MaxPayloadInMB).toBe(8);
    const e = thrownBy(() => buildTransformJobRequest(big, { ...base, maxPayloadMb: 7 }));
    expect(e.code).toBe("SUBMIT_INVALID_REQUEST");
    expect(e.context).toMatchObject({ field: "MaxPayloadInMB", option: "maxPayloadMb", expected: "at least 8", got: 7 });
    // a library caller reads the option, a CLI user the flag: both are named
    expect(e.message).toContain("(set by maxPayloadMb (--max-payload-mb))");
    expect(buildTransformJobRequest(big, { ...base, maxPayloadMb: 8 }).MaxPayloadInMB).toBe(8);
  });

  const cases: Array<[string, TransformRequestOptions, string]> = [
    ["payload over 100", { maxPayloadMb: 101 }, "MaxPayloadInMB"],
    ["concurrency x payload over 100", { concurrency: 20, maxPayloadMb: 6 }, "MaxConcurrentTransforms"],
    ["concurrency x default payload", { concurrency: 17 }, "MaxConcurrentTransforms"],
    ["timeout 0", { invocationTimeoutSeconds: 0 }, "ModelClientConfig.InvocationsTimeoutInSeconds"],
    ["timeout 3601", { invocationTimeoutSeconds: 3601 }, "ModelClientConfig.InvocationsTimeoutInSeconds"],
    ["retries 4", { invocationRetries: 4 }, "ModelClientConfig.InvocationsMaxRetries"],
    ["job name with underscore", { jobName: "my_job" }, "TransformJobName"],
    ["job name of 64", { jobName: "a".repeat(64) }, "TransformJobName"],
    ["job name ending in hyphen", { jobName: "job-" }, "TransformJobName"],
    ["model name with dot", { model: "my.model" }, "ModelName"],
    ["17 env entries", { environment: Object.fromEntries(Array.from({ length: 17 }, (_, k) => [`K${k}`, "v"])) }, "Environment"],
    ["env key with dash", { environment: { "A-B": "1" } }, "Environment.A-B"],
    ["env value too long", { environment: { A: "x".repeat(10241) } }, "Environment.A"],
    ["input filter of 64", { inputFilter: `$${"[0]".repeat(21)}` }, "DataProcessing.InputFilter"],
    ["output filter without $", { outputFilter: "[0]" }, "DataProcessing.OutputFilter"],
    ["two slices", { outputFilter: "$[0:2,4:]" }, "DataProcessing.OutputFilter"],
    ["instance count 0", { instanceCount: 0 }, "TransformResources.InstanceCount"],
    ["instance count 101", { instanceCount: 101 }, "TransformResources.InstanceCount"],
    ["unknown instance type", { instanceType: "ml.t2.medium" }, "TransformResources.InstanceType"],
    ["bad kms key", { outputKmsKey: "key with spaces" }, "TransformOutput.KmsKeyId"],
    ["output not s3", { output: "gs://bucket/x" }, "TransformOutput.S3OutputPath"],
    ["51 tags", { tags: Object.fromEntries(Array.from({ length: 51 }, (_, k) => [`t${k}`, "v"])) }, "Tags"],
    ["aws: tag", { tags: { "aws:x": "v" } }, "Tags.aws:x"],
    ["tag value too long", { tags: { k: "v".repeat(257) } }, "Tags.k"],
    ["accept too long", { accept: "a".repeat(257) }, "TransformOutput.Accept"],
  ];
  it.each(cases)("refuses %s naming the field", (_label, opts, field) => {
    const e = thrownBy(() => buildTransformJobRequest(d, { ...base, ...opts }));
    expect(e.code).toBe("SUBMIT_INVALID_REQUEST");
    expect(e.context.field).toBe(field);
    expect(e.message).toContain(field);
  });

  // DataProcessing join cannot read is refused before launch, naming the flag; the fix passes
  const unreadable: Array<[string, TransformRequestOptions, string, TransformRequestOptions]> = [
    ["a CSV join answered in JSON", { joinSource: "Input", accept: "application/json" }, "accept", { joinSource: "Input", accept: "text/csv" }],
    ["a CSV join filtered by name", { joinSource: "Input", outputFilter: "$.SageMakerOutput" }, "outputFilter", { joinSource: "Input", outputFilter: "$[-1]" }],
    ["a CSV join that keeps only input fields", { joinSource: "Input", outputFilter: "$[0,1]" }, "outputFilter", { joinSource: "Input", outputFilter: "$[0,-1]" }],
  ];
  it.each(unreadable)("refuses %s for join, naming the flag; the suggested change passes", (_label, opts, option, fixed) => {
    const e = thrownBy(() => buildTransformJobRequest(d, { ...base, ...opts }));
    expect(e.code).toBe("SUBMIT_INVALID_REQUEST");
    expect(e.context.option).toBe(option);
    expect(e.message).toContain(`change ${option} (--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)})`);
    expect(buildTransformJobRequest(d, { ...base, ...fixed }).DataProcessing).toMatchObject({ JoinSource: "Input" });
  });

  it("refuses file:// locations unless the backend is the emulator", () => {
    const e = thrownBy(() => buildTransformJobRequest(d, { model: "m" }));
    expect(e.context.field).toBe("TransformInput.DataSource.S3DataSource.S3Uri");
    expect(e.message).toContain("--local");
  });

  it("needs a model", () => {
    expect(thrownBy(() => buildTransformJobRequest(d, {})).context).toMatchObject({ field: "ModelName", option: "model" });
  });

  it("warns when shards are fewer than instances", () => {
    const r = buildTransformJobRequest(d, { ...base, instanceCount: 5 });
    expect(requestWarnings(d, r)).toEqual([expect.stringContaining("3 shards for 5 instances: 2 instances will sit idle but are billed")]);
    expect(requestWarnings(d, r, 1)).toEqual([expect.stringContaining("1 shard for 5 instances: 4 instances will sit idle but are billed")]);
    expect(requestWarnings(d, buildTransformJobRequest(d, { ...base, instanceCount: 2 }), 1)).toEqual([expect.stringContaining("1 shard for 2 instances: 1 instance will sit idle but is billed")]);
    expect(requestWarnings(d, buildTransformJobRequest(d, { ...base, instanceCount: 3 }))).toEqual([]);
    // 3 shards on 2 instances: one instance idles through the last round
    expect(requestWarnings(d, buildTransformJobRequest(d, { ...base, instanceCount: 2 }))).toEqual([expect.stringContaining("3 shards on 2 instances: the last round has 1 shard, so 1 instance sits idle at the end")]);
  });

  it("takes the instance count prep balanced the shards for (prep --instances), unless --instance-count says otherwise", () => {
    const prepared = { ...d, source: { ...d.source, options: { ...d.source.options, instances: 3 } } };
    expect(buildTransformJobRequest(prepared, base).TransformResources!.InstanceCount).toBe(3);
    expect(buildTransformJobRequest(prepared, { ...base, instanceCount: 1 }).TransformResources!.InstanceCount).toBe(1);
    expect(buildTransformJobRequest(d, base).TransformResources!.InstanceCount).toBe(1);
    expect(requestWarnings(prepared, buildTransformJobRequest(prepared, base))).toEqual([]);
  });
});

describe("job names", () => {
  it("are stable for the same data and options, and change with either", async () => {
    const a = buildTransformJobRequest(d, base).TransformJobName!;
    expect(buildTransformJobRequest(d, base).TransformJobName).toBe(a);
    expect(a).toMatch(/^btkit-[0-9a-f]{16}$/);
    expect(buildTransformJobRequest(d, { ...base, instanceCount: 2 }).TransformJobName).not.toBe(a);
    expect(buildTransformJobRequest(d, { ...base, nameSalt: "x" }).TransformJobName).not.toBe(a);
    const { dir: other, cleanup: c2 } = await tempDir();
    try {
      const d2 = await writeTestDescriptor(other, { shards: 3, seed: 2 });
      const moved = { ...d2, manifest: d.manifest, shards: d2.shards.map((s, k) => ({ ...s, location: d.shards[k]!.location })) };
      expect(buildTransformJobRequest(moved, base).TransformJobName).not.toBe(a);
    } finally {
      await c2();
    }
  });

  it("fit 63 characters and the service pattern whatever the prefix length", () => {
    const { TransformJobName: _name, ...body } = buildTransformJobRequest(d, base);
    for (const prefix of ["p", "a".repeat(46), "b".repeat(80), "x--", "Run-2026"]) {
      const n = jobNameFor(d, body, prefix);
      expect(n.length).toBeLessThanOrEqual(63);
      expect(n).toMatch(JOB_NAME_RE);
    }
  });
});

/** Walks the SDK's schema of CreateTransformJobRequest and returns every member path it allows. */
function schemaPaths(): Set<string> {
  const paths = new Set<string>();
  const walk = (schema: unknown, prefix: string): void => {
    const s = typeof schema === "function" ? (schema as () => unknown)() : schema;
    if (!Array.isArray(s)) return;
    if (s[0] === 3) {
      const names = s[4] as string[];
      const members = s[5] as unknown[];
      names.forEach((n, k) => {
        const p = prefix ? `${prefix}.${n}` : n;
        paths.add(p);
        walk(members[k], p);
      });
    } else if (s[0] === 1) walk(s[4], `${prefix}[]`);
  };
  walk((sm as unknown as Record<string, unknown>).CreateTransformJobRequest$, "");
  return paths;
}

function requestPaths(v: unknown, prefix: string, out: string[]): string[] {
  if (Array.isArray(v)) v.forEach((x) => requestPaths(x, `${prefix}[]`, out));
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      const isMap = p === "Environment";
      out.push(p);
      if (!isMap) requestPaths(x, p, out);
    }
  }
  return out;
}

describe("dry-run JSON", () => {
  it("uses only field names of the SageMaker API model", () => {
    const allowed = schemaPaths();
    expect(allowed.has("TransformInput.DataSource.S3DataSource.S3Uri")).toBe(true);
    const r = buildTransformJobRequest(d, {
      ...base, concurrency: 2, maxPayloadMb: 8, environment: { A: "1" }, tags: { k: "v" }, inputFilter: "$", outputFilter: "$", joinSource: "None",
      invocationRetries: 1, invocationTimeoutSeconds: 60, outputKmsKey: "k", volumeKmsKey: "k",
    });
    const used = requestPaths(JSON.parse(JSON.stringify(r)), "", []);
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((p) => !allowed.has(p))).toEqual([]);
  });
});

describe("requestDifferences", () => {
  it("lists the fields a described job disagrees with, ignoring fields Describe omits, Tags and a trailing slash on S3 locations", async () => {
    const { requestDifferences } = await import("../../src/submit/index.js");
    const r = buildTransformJobRequest(d, { ...base, tags: { a: "b" }, concurrency: 2 });
    const described = JSON.parse(JSON.stringify(r));
    described.TransformOutput.S3OutputPath += "/";
    delete described.Tags;
    delete described.MaxConcurrentTransforms;
    expect(requestDifferences(r, described)).toEqual([]);
    described.TransformResources.InstanceCount = 3;
    described.Environment = { X: "1" };
    expect(requestDifferences(r, described)).toEqual([
      { field: "TransformResources.InstanceCount", request: 1, job: 3 },
      { field: "Environment.X", request: undefined, job: "1" },
    ]);
  });
});
