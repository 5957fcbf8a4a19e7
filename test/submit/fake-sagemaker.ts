/**
 * An in-memory SageMaker (and CloudWatch Logs) for unit tests: send(command) dispatches on the
 * command's class name. A job ends after `finishAfter` DescribeTransformJob calls; on Completed
 * or Failed it writes `<entry>.out` for every manifest entry not in `failShards` (file:// only),
 * as the service writes whole files only (§7.4).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- a fake service reads loosely typed SDK inputs */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface FakeJobPlan {
  ending: "Completed" | "Failed" | "Stopped" | "never";
  finishAfter: number;
  failShards?: string[];
}

interface FakeJob {
  request: Record<string, any>;
  status: string;
  describes: number;
  failureReason?: string;
  created: Date;
  plan: FakeJobPlan;
}

function awsError(name: string, message: string, status = 400): Error {
  const e = new Error(message) as Error & { $metadata: unknown };
  e.name = name;
  e.$metadata = { httpStatusCode: status, requestId: "fake-request" };
  return e;
}

export class FakeSageMaker {
  readonly jobs = new Map<string, FakeJob>();
  readonly models = new Map<string, Record<string, any>>();
  readonly calls: string[] = [];
  readonly logLines: Array<{ stream: string; message: string }> = [];
  plan: FakeJobPlan = { ending: "Completed", finishAfter: 2 };

  async send(command: { input: Record<string, any>; constructor: { name: string } }): Promise<any> {
    const op = command.constructor.name.replace(/Command$/, "");
    this.calls.push(op);
    const i = command.input;
    switch (op) {
      case "CreateTransformJob": {
        if (this.jobs.has(i.TransformJobName)) throw awsError("ResourceInUse", `Job ${i.TransformJobName} already exists`);
        if (!this.models.has(i.ModelName) && !i.ModelName.startsWith("existing")) throw awsError("ValidationException", `Could not find model "${i.ModelName}"`);
        this.jobs.set(i.TransformJobName, { request: structuredClone(i), status: "InProgress", describes: 0, created: new Date(Date.now() - 5000), plan: { ...this.plan } });
        return { TransformJobArn: `arn:aws:sagemaker:us-east-1:000000000000:transform-job/${i.TransformJobName.toLowerCase()}` };
      }
      case "DescribeTransformJob": {
        const j = this.jobs.get(i.TransformJobName);
        if (!j) throw awsError("ValidationException", `Could not find requested job with name ${i.TransformJobName}`);
        j.describes++;
        if (j.status === "Stopping") j.status = "Stopped";
        else if (j.status === "InProgress" && j.plan.ending !== "never" && j.describes > j.plan.finishAfter) await this.#finish(i.TransformJobName, j);
        const r = j.request;
        return {
          ...structuredClone(r),
          Tags: undefined,
          TransformJobArn: `arn:aws:sagemaker:us-east-1:000000000000:transform-job/${r.TransformJobName.toLowerCase()}`,
          TransformJobStatus: j.status,
          FailureReason: j.failureReason,
          CreationTime: j.created,
          TransformStartTime: new Date(j.created.getTime() + 1000),
          TransformEndTime: ["Completed", "Failed", "Stopped"].includes(j.status) ? new Date(j.created.getTime() + 11_000) : undefined,
          DataProcessing: r.DataProcessing ?? { InputFilter: "$", JoinSource: "None", OutputFilter: "$" },
        };
      }
      case "StopTransformJob": {
        const j = this.jobs.get(i.TransformJobName);
        if (!j) throw awsError("ValidationException", `Could not find requested job with name ${i.TransformJobName}`);
        if (j.status === "InProgress") j.status = "Stopping";
        return {};
      }
      case "CreateModel":
        if (this.models.has(i.ModelName)) throw awsError("ValidationException", `Cannot create already existing model`);
        this.models.set(i.ModelName, structuredClone(i));
        return { ModelArn: `arn:aws:sagemaker:us-east-1:000000000000:model/${i.ModelName}` };
      case "DescribeModel": {
        const m = this.models.get(i.ModelName);
        if (!m) throw awsError("ValidationException", `Could not find model "${i.ModelName}".`);
        return structuredClone(m);
      }
      case "DescribeLogStreams": {
        const names = [...new Set(this.logLines.map((l) => l.stream))].filter((s) => s.startsWith(i.logStreamNamePrefix));
        if (names.length === 0 && this.logLines.length === 0) throw awsError("ResourceNotFoundException", "The specified log group does not exist.");
        return { logStreams: names.map((logStreamName) => ({ logStreamName })) };
      }
      case "GetLogEvents": {
        const all = this.logLines.filter((l) => l.stream === i.logStreamName);
        const from = i.nextToken ? Number(i.nextToken.slice(2)) : 0;
        const events = all.slice(from).map((l, k) => ({ timestamp: 1000 + from + k, message: l.message }));
        return { events, nextForwardToken: `f/${all.length}` };
      }
      default:
        throw new Error(`fake SageMaker: ${op} is not faked`);
    }
  }

  async #finish(name: string, j: FakeJob): Promise<void> {
    j.status = j.plan.ending;
    if (j.plan.ending === "Stopped") return;
    const manifest = JSON.parse(await fs.readFile(fileURLToPath(j.request.TransformInput.DataSource.S3DataSource.S3Uri), "utf8")) as [{ prefix: string }, ...string[]];
    const [{ prefix }, ...entries] = manifest;
    const out = fileURLToPath(j.request.TransformOutput.S3OutputPath);
    await fs.mkdir(out, { recursive: true });
    const failed = new Set(j.plan.failShards ?? []);
    for (const e of entries) {
      if (failed.has(e)) continue;
      const body = await fs.readFile(fileURLToPath(prefix + e), "utf8");
      await fs.writeFile(path.join(out, `${e}.out`), body.toUpperCase());
    }
    this.logLines.push({ stream: `${name}/i-0`, message: `processed ${entries.length - failed.size} files` });
    if (j.plan.ending === "Failed") j.failureReason = `ClientError: See job logs for more information (${[...failed].join(", ")})`;
  }
}
