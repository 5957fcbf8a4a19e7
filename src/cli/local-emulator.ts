/**
 * --local: the emulator started in-process on loopback, with its state in a folder (so a rerun
 * finds the finished job and attaches, exactly as on AWS), and SDK clients pointed at it. Submit
 * itself never imports the emulator: it only gets these clients.
 */
import path from "node:path";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { BtkitError, counted } from "../errors.js";
import { startEmulator } from "../emulator/index.js";
import type { Backend } from "./job-backend.js";
import type { CliContext } from "./context.js";
import type { EmulatorBehaviour } from "./emulator-flags.js";

/** The folder of emulator state: beside the job's output folder (`<out>/emulator-state`), when that is local. */
export async function defaultStateDir(ctx: CliContext, outputLocation: string): Promise<string> {
  const loc = (await ctx.storage()).parse(outputLocation);
  if (loc.kind !== "local") {
    throw new BtkitError("USAGE_MISSING", `--local with an s3:// output (${outputLocation}) needs --state DIR: a local folder for the emulator's job state`, { option: "--state" });
  }
  return path.join(path.dirname(loc.path), "emulator-state");
}

/** Starts the emulator on 127.0.0.1 (a free port) with state in `stateDir`, and clients for it. */
export async function startLocalBackend(ctx: CliContext, stateDir: string, behaviour: Partial<EmulatorBehaviour> & { processingCommands?: Record<string, string[]> } = {}): Promise<Backend> {
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, stateDir, storage: await ctx.storage(), env: { ...process.env, ...ctx.env }, cwd: ctx.cwd, ...behaviour });
  if (emulator.reaped > 0) ctx.warn(`stopped ${counted(emulator.reaped, "model process", "model processes")} that a killed earlier run left running (recorded in ${stateDir})`);
  // The emulator does not check signatures; the SDK needs some credentials to sign with.
  const credentials = { accessKeyId: "btkit-local", secretAccessKey: "btkit-local" };
  const sagemaker = new SageMakerClient({ endpoint: emulator.endpoint, region: emulator.region, credentials });
  const logs = new CloudWatchLogsClient({ endpoint: emulator.endpoint, region: emulator.region, credentials });
  return {
    kind: "emulator",
    sagemaker,
    logs,
    endpoint: emulator.endpoint,
    region: emulator.region,
    local: true,
    stateDir: path.resolve(stateDir),
    close: async () => {
      sagemaker.destroy();
      logs.destroy();
      await emulator.close();
    },
  };
}
