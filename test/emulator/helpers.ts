import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { CreateModelCommand, CreateTransformJobCommand, DescribeTransformJobCommand, SageMakerClient, type CreateTransformJobCommandInput, type DescribeTransformJobCommandOutput } from "@aws-sdk/client-sagemaker";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";

export const creds = { accessKeyId: "AKIDEXAMPLEEMULATOR", secretAccessKey: "any-secret-is-accepted" };

export function clients(endpoint: string): { sm: SageMakerClient; logs: CloudWatchLogsClient } {
  return {
    sm: new SageMakerClient({ endpoint, region: "us-east-1", credentials: creds, maxAttempts: 1 }),
    logs: new CloudWatchLogsClient({ endpoint, region: "us-east-1", credentials: creds, maxAttempts: 1 }),
  };
}

export async function waitJob(sm: SageMakerClient, name: string): Promise<DescribeTransformJobCommandOutput> {
  for (;;) {
    const d = await sm.send(new DescribeTransformJobCommand({ TransformJobName: name }));
    if (d.TransformJobStatus !== "InProgress" && d.TransformJobStatus !== "Stopping") return d;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [name, body] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), body);
  }
  return `${pathToFileURL(dir).href}/`;
}

export async function readOut(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[path.relative(dir, p).split(path.sep).join("/")] = await fs.readFile(p, "utf8");
    }
  };
  await walk(dir);
  return out;
}

let counter = 0;
/** Creates a model and a job; returns the final description. */
export async function runJob(sm: SageMakerClient, image: string, input: Partial<CreateTransformJobCommandInput> & { inUri: string; outUri: string }, env?: Record<string, string>): Promise<DescribeTransformJobCommandOutput> {
  counter += 1;
  const name = `job-${process.pid}-${counter}`;
  await sm.send(new CreateModelCommand({ ModelName: name, PrimaryContainer: { Image: image, Environment: env }, ExecutionRoleArn: "arn:aws:iam::123456789012:role/x" }));
  const { inUri, outUri, ...rest } = input;
  await sm.send(
    new CreateTransformJobCommand({
      TransformJobName: name,
      ModelName: name,
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: inUri } }, ContentType: "text/csv", SplitType: "Line", ...(rest.TransformInput ?? {}) },
      TransformOutput: { S3OutputPath: outUri, ...(rest.TransformOutput ?? {}) },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1, ...(rest.TransformResources ?? {}) },
      ...Object.fromEntries(Object.entries(rest).filter(([k]) => !["TransformInput", "TransformOutput", "TransformResources"].includes(k))),
    }),
  );
  return waitJob(sm, name);
}
