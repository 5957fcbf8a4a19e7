/**
 * The backend of the job commands (submit, status, stop): the SageMaker and CloudWatch Logs
 * clients they talk to, here from the standard AWS configuration (job-prologue.ts chooses between
 * these and the in-process emulator of --local).
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import type { JobSection } from "../protocol/descriptor.js";
import type { LogsLike, SageMakerLike } from "../submit/index.js";
import type { ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";

/** The clients a job command talks to. */
export interface Backend {
  kind: "sagemaker" | "emulator";
  sagemaker: SageMakerLike;
  logs: LogsLike;
  endpoint?: string;
  region?: string;
  /** the emulator runs in this process (--local): it lives only as long as the command */
  local?: boolean;
  /** the in-process emulator's state folder (recorded in the job, so status and stop find it) */
  stateDir?: string;
  close(): Promise<void>;
}

/** How job commands get their backend: AWS from the environment unless a test or --local says otherwise. */
export interface JobCommandDeps {
  /** `job`: the descriptor's job, when the command acts on it; `outputLocation`: where output goes */
  backend(ctx: CliContext, args: ParsedArgs, hint: { job?: JobSection; outputLocation?: string }): Promise<Backend>;
}

function credentialsFromEnv(env: Record<string, string | undefined>): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
}

/**
 * AWS from the standard configuration: AWS_REGION (or AWS_DEFAULT_REGION), AWS_PROFILE, and
 * AWS_ENDPOINT_URL_SAGEMAKER / AWS_ENDPOINT_URL_CLOUDWATCH_LOGS / AWS_ENDPOINT_URL. A descriptor
 * whose job ran on another endpoint (an emulator) is reached there.
 */
export function awsBackend(ctx: CliContext, job?: JobSection): Backend {
  const env = ctx.env;
  const region = job?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const credentials = credentialsFromEnv(env);
  const smEndpoint = job?.endpoint ?? env.AWS_ENDPOINT_URL_SAGEMAKER ?? env.AWS_ENDPOINT_URL;
  const logsEndpoint = job?.endpoint ?? env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ?? env.AWS_ENDPOINT_URL;
  const sagemaker = new SageMakerClient({ region, endpoint: smEndpoint, ...(credentials ? { credentials } : {}) });
  const logs = new CloudWatchLogsClient({ region, endpoint: logsEndpoint, ...(credentials ? { credentials } : {}) });
  // An endpoint on loopback is an emulator (`btkit emulator`), which also reads file:// locations.
  const loopback = smEndpoint !== undefined && /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(smEndpoint);
  return {
    kind: job?.backend ?? (loopback ? "emulator" : "sagemaker"),
    sagemaker,
    logs,
    endpoint: smEndpoint,
    region,
    close: async () => {
      sagemaker.destroy();
      logs.destroy();
    },
  };
}
