/** btkit status: the descriptor's job as the service sees it now (and, with --wait, until it ends); btkit/submit loads when it runs. */
import { BtkitError } from "../errors.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import type { JobCommandDeps } from "./job-backend.js";
import { PROCESSING_JOB_FLAG } from "./processing.js";
import { DEFAULT_DEPS, JOB_DESCRIPTOR_FLAG, LOCAL_FLAGS, withJob } from "./job-prologue.js";
import { WAIT_FLAGS, watchAndEmit } from "./job-watch.js";

export function createStatusCommand(deps: JobCommandDeps = DEFAULT_DEPS): Command {
  return {
    spec: {
      name: "status",
      summary: "show (or wait for) the transform job of a submitted descriptor",
      usage: "[--descriptor PATH|URI] [--wait]\n       btkit status --processing-job NAME [--state DIR]",
      description:
        "Describes the descriptor's job, prints the descriptor with the job's current status, and with --wait reattaches to it until it ends. The exit code says how the job ended (0 while it runs). A preparation's descriptor or folder (no job section) means its latest job, whose descriptor submit stored beside the job's output (output/<job name>/btkit.json); a job run with --local is found on its emulator state folder. With --processing-job NAME: the processing job of prep|join --processing instead (with --state DIR for one run with --local), printed as {\"processingJob\": ...}.",
      flags: {
        ...JOB_DESCRIPTOR_FLAG,
        ...PROCESSING_JOB_FLAG,
        ...LOCAL_FLAGS,
        ...WAIT_FLAGS,
        ...COMMON_FLAGS,
      },
    },
    run: async (ctx, args) =>
      args.flags["processing-job"] !== undefined
        ? (await import("./processing.js")).processingJobCommand(ctx, args, "status", deps)
        : withJob(ctx, args, deps, "status", "no job to show", async ({ descriptor, job, backend }) => {
            const { describeTransformJob, updateJobSection } = await import("../submit/index.js");
            const d = await describeTransformJob(job.name, backend.sagemaker);
            if (!d) throw new BtkitError("SUBMIT_SERVICE", `no transform job named ${job.name} at ${job.endpoint ?? "SageMaker"}${job.region ? ` (${job.region})` : ""}`, { job: job.name });
            const updated = { ...descriptor, job: updateJobSection(job, d) };
            ctx.log(`job ${job.name}: ${updated.job.status}${updated.job.failureReason ? `: ${updated.job.failureReason}` : ""}`);
            return await watchAndEmit(ctx, args, updated, backend);
          }),
  };
}

export const statusCommand = createStatusCommand();
