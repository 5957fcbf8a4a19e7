/** Runs the job commands in-process against injected clients, with an abort signal for Ctrl-C. */
import { PassThrough, Readable } from "node:stream";
import { main } from "../../src/cli/main.js";
import { createSubmitCommand } from "../../src/cli/cmd-submit.js";
import type { Backend, JobCommandDeps } from "../../src/cli/job-backend.js";
import { createStatusCommand } from "../../src/cli/cmd-status.js";
import { createStopCommand } from "../../src/cli/cmd-stop.js";
import type { FakeSageMaker } from "./fake-sagemaker.js";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The fake service as the backend; `kind` "sagemaker" makes it stand for AWS (s3:// locations only). */
export function fakeDeps(fake: FakeSageMaker, kind: Backend["kind"] = "emulator"): JobCommandDeps {
  return {
    backend: async (): Promise<Backend> => ({
      kind,
      sagemaker: fake as never,
      logs: fake as never,
      endpoint: "http://127.0.0.1:1",
      region: "us-east-1",
      close: async () => undefined,
    }),
  };
}

export async function runJobCli(deps: JobCommandDeps, argv: string[], options: { stdin?: string; signal?: AbortSignal; onStderr?: (text: string) => void; tty?: boolean; env?: Record<string, string> } = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  if (options.tty) {
    stderr.isTTY = true;
    stderr.columns = 200;
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => {
    err.push(c);
    options.onStderr?.(c.toString("utf8"));
  });
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]) as Readable & { isTTY?: boolean };
  const commands = [createSubmitCommand(deps), createStatusCommand(deps), createStopCommand(deps)];
  const code = await main(argv, { stdin, stdout, stderr, env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", BTKIT_PROGRESS_INTERVAL_MS: "0", ...options.env }, signal: options.signal }, commands);
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}
