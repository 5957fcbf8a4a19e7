/** btkit stop: stops the descriptor's job (Stopping, then Stopped; a stopped job stores no output); btkit/submit loads when it runs. */
import { BtkitError } from "../errors.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import type { JobCommandDeps } from "./job-backend.js";
import { PROCESSING_JOB_FLAG } from "./processing.js";
import { DEFAULT_DEPS, JOB_DESCRIPTOR_FLAG, LOCAL_FLAGS, storeJob, withJob } from "./job-prologue.js";

export function createStopCommand(deps: JobCommandDeps = DEFAULT_DEPS): Command {
  return {
    spec: {
      name: "stop",
      summary: "stop the transform job of a submitted descriptor",
      usage: "[--descriptor PATH|URI]\n       btkit stop --processing-job NAME [--state DIR]",
      description: "Stops the descriptor's job (Stopping, then Stopped; a stopped job stores no output) and prints the descriptor with its status. A preparation's descriptor or folder (no job section) means its latest job, whose descriptor submit stored beside the job's output. With --processing-job NAME: stops the processing job of prep|join --processing instead (with --state DIR for one run with --local).",
      flags: {
        ...JOB_DESCRIPTOR_FLAG,
        ...PROCESSING_JOB_FLAG,
        ...LOCAL_FLAGS,
        ...COMMON_FLAGS,
      },
    },
    run: async (ctx, args) =>
      args.flags["processing-job"] !== undefined
        ? (await import("./processing.js")).processingJobCommand(ctx, args, "stop", deps)
        : withJob(ctx, args, deps, "stop", "nothing to stop", async ({ descriptor, job, backend }) => {
            const { describeTransformJob, stopTransformJob, updateJobSection } = await import("../submit/index.js");
            const before = await describeTransformJob(job.name, backend.sagemaker);
            if (!before) throw new BtkitError("SUBMIT_SERVICE", `no transform job named ${job.name}`, { job: job.name });
            if (before.TransformJobStatus === "InProgress") {
              await stopTransformJob(job.name, { client: backend.sagemaker });
              ctx.log(`stopping job ${job.name}`);
            } else {
              ctx.log(`job ${job.name} is already ${before.TransformJobStatus}: nothing to stop`);
            }
            const after = (await describeTransformJob(job.name, backend.sagemaker)) ?? before;
            const updated = { ...descriptor, job: updateJobSection(job, after) };
            await storeJob(ctx, updated);
            await ctx.emitDescriptor(updated);
            return 0;
          }),
  };
}

export const stopCommand = createStopCommand();
