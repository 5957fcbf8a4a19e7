/** btkit stop: stops the descriptor's job (Stopping, then Stopped; a stopped job stores no output); btkit/submit loads when it runs. */
import { BtkitError } from "../errors.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import type { JobCommandDeps } from "./job-backend.js";
import { DEFAULT_DEPS, JOB_DESCRIPTOR_FLAG, LOCAL_FLAGS, withJob } from "./job-prologue.js";

export function createStopCommand(deps: JobCommandDeps = DEFAULT_DEPS): Command {
  return {
    spec: {
      name: "stop",
      summary: "stop the transform job of a submitted descriptor",
      usage: "[--descriptor PATH|URI]",
      flags: {
        ...JOB_DESCRIPTOR_FLAG,
        ...LOCAL_FLAGS,
        ...COMMON_FLAGS,
      },
    },
    run: (ctx, args) =>
      withJob(ctx, args, deps, "the descriptor has no job section: nothing to stop (pass the descriptor btkit submit printed on stdout, not prep's btkit.json)", async ({ descriptor, job, backend }) => {
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
        await ctx.emitDescriptor({ ...descriptor, job: updateJobSection(job, after) });
        return 0;
      }),
  };
}

export const stopCommand = createStopCommand();
