/**
 * Waiting for a submitted descriptor's job (submit and status): progress, logs and cost on
 * stderr, Ctrl-C detaching from (or stopping) the job, the updated descriptor on stdout, and the
 * exit code of how the job ended. btkit/submit loads when a job is watched, not for the flags.
 */
import { BtkitError, counted } from "../errors.js";
import type { Descriptor } from "../protocol/descriptor.js";
import { outputNameFor } from "../protocol/layout.js";
import { flagNumber, type FlagSpec, type ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";
import type { Backend } from "./job-backend.js";
import { storeJob } from "./job-prologue.js";
import { Progress } from "./progress.js";

const G_WAIT = "Waiting";

/** Flags shared by submit and status (waiting and watching). */
export const WAIT_FLAGS = {
  wait: { type: "boolean", help: "wait for the job to end, with progress on stderr; the exit code says how it ended", group: G_WAIT },
  timeout: { type: "number", value: "SECONDS", min: 0, help: "stop waiting after this long (exit 5; the job goes on, except with --local: its emulator ends with the command); default: no limit", group: G_WAIT },
  "poll-seconds": { type: "number", value: "SECONDS", min: 0, default: 5, help: "first interval between status polls; it grows by half up to 60 s", group: G_WAIT },
  logs: { type: "boolean", help: "stream the job's CloudWatch logs (/aws/sagemaker/TransformJobs, <job>/...) to stderr while waiting", group: G_WAIT },
  "stop-on-interrupt": { type: "boolean", help: "on Ctrl-C stop the job instead of detaching from it", group: G_WAIT },
  "price-per-hour": { type: "number", value: "USD", min: 0, help: "instance price for the cost report; default: a bundled us-east-1 on-demand table", group: G_WAIT },
} as const satisfies Record<string, FlagSpec>;


function fmtSecs(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m${String(sec).padStart(2, "0")}s` : m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/**
 * Waits for the descriptor's job (when --wait), reports progress, logs and cost, prints the
 * updated descriptor and returns the exit code (or throws the coded error of how the job ended).
 * `attached`: submit found the job of its request already there (a rerun), so a failure says
 * how to go on from it (--retry-failed, --new).
 */
export async function watchAndEmit(ctx: CliContext, args: ParsedArgs, d: Descriptor, backend: Backend, opts: { attached?: boolean } = {}): Promise<number> {
  const { createLogTailer, estimateCost, formatCost, stopTransformJob, updateJobSection, waitForTransformJob } = await import("../submit/index.js");
  const job = d.job!;
  let current = d;
  // an in-process emulator stops its jobs when it closes: --local always waits
  const wait = args.flags.wait === true || backend.local === true;
  // the job's descriptor beside its output, from the start: a preparation's folder finds it even while it runs
  if (wait) await storeJob(ctx, current);
  if (wait) {
    const names = (job.shards ?? d.shards.map((s) => s.name)).map(outputNameFor);
    const progress = new Progress(ctx);
    const waiter = waitForTransformJob(job.name, {
      client: backend.sagemaker,
      storage: await ctx.storage(),
      outputLocation: job.outputLocation,
      expectedOutputs: names,
      pollSeconds: flagNumber(args, "poll-seconds"),
      timeoutSeconds: flagNumber(args, "timeout"),
      signal: ctx.io.signal,
      logs: args.flags.logs === true ? createLogTailer(job.name, { client: backend.logs }) : undefined,
      onLogsFailed: (err) => ctx.warn(`--logs: the job's logs cannot be read (${err instanceof Error ? err.message : String(err)}); waiting goes on without them (an emulator's logs: set AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or AWS_ENDPOINT_URL to its URL)`),
    });
    for await (const ev of waiter) {
      for (const l of ev.logs) ctx.log(`[${l.stream}] ${l.message}`);
      current = { ...current, job: updateJobSection(current.job!, ev.description) };
      const state = { label: `job ${ev.job}`, done: ev.outputsPresent, total: ev.outputsExpected, unit: ".out file", detail: `${ev.status}, job elapsed ${fmtSecs(ev.elapsedSeconds)}, waited` };
      if (ev.interrupted) {
        progress.finish();
        if (args.flags["stop-on-interrupt"] === true) {
          await stopTransformJob(ev.job, { client: backend.sagemaker });
          ctx.warn(`interrupted: stopping job ${ev.job} (--stop-on-interrupt); no output is stored for a stopped job`);
          current = { ...current, job: { ...current.job!, status: "Stopping" } };
        }
        // the descriptor to continue from is the job's, stored beside its output (and printed below), not the input
        const stored = await storeJob(ctx, current);
        const from = stored ?? "job.json";
        const saved = stored ? "" : " (the descriptor printed on stdout, saved as job.json)";
        if (args.flags["stop-on-interrupt"] !== true) {
          ctx.warn(
            backend.local
              ? `interrupted: job ${ev.job} ran on the in-process emulator, which ends with this command: the job ends Failed, and the shards it finished keep their .out. See how it ended: btkit status --descriptor ${from}${saved}; transform the rest: btkit submit --retry-failed --descriptor ${from}`
              : `interrupted: detached from job ${ev.job}, which goes on; reattach: btkit status --wait --descriptor ${from}${saved} (or rerun the same btkit submit: it attaches)`,
          );
        }
        await ctx.emitDescriptor(current);
        throw new BtkitError("SUBMIT_INTERRUPTED", `interrupted while waiting for job ${ev.job}`, { job: ev.job });
      }
      if (ev.terminal || ev.timedOut) progress.finish(state);
      else progress.update(state, true);
    }
  }
  const final = current.job!;
  if (final.instanceSeconds !== undefined) {
    const type = String((final.request.TransformResources as { InstanceType?: string } | undefined)?.InstanceType ?? "");
    const cost = estimateCost(final.instanceSeconds, type, flagNumber(args, "price-per-hour"));
    ctx.log(cost ? `job ${final.name}: ${formatCost(cost)}` : `job ${final.name}: ${counted(final.instanceSeconds, "instance-second")} (no price known for ${type}: give --price-per-hour)`);
  }
  const stored = await storeJob(ctx, current);
  await ctx.emitDescriptor(current);
  if (final.status === "Failed") {
    const reason = `transform job ${final.name} failed: ${final.failureReason ?? "(no FailureReason given)"}`;
    // a rerun of the same command attached to the failed job: it says how to go on from here
    const how = opts.attached
      ? `It ran before with this request, and a rerun attaches to it instead of paying twice. Transform the shards it did not finish: rerun with --retry-failed (model and instance flags may be given with it); run every shard again as a fresh job: rerun with --new`
      : `Shards it finished keep their .out; once the cause is fixed, transform the others: btkit submit --retry-failed --descriptor ${stored ?? "job.json (the descriptor printed on stdout, saved)"} (model and instance flags may be given with it)`;
    throw new BtkitError("SUBMIT_JOB_FAILED", `${reason.replace(/\.+$/, "")}. ${how}`, { job: final.name, option: "--retry-failed" });
  }
  if (final.status === "Stopped") throw new BtkitError("SUBMIT_JOB_STOPPED", `transform job ${final.name} was stopped`, { job: final.name });
  if (wait && final.status !== "Completed") {
    const from = stored ?? "job.json (the descriptor printed on stdout, saved)";
    const next = backend.local
      ? `it ran on the in-process emulator, which ends with this command: the job ends Failed, and the shards it finished keep their .out. See how it ended: btkit status --descriptor ${from}; transform the rest: btkit submit --retry-failed --descriptor ${from}`
      : `it is ${final.status} and goes on (btkit status --wait reattaches)`;
    throw new BtkitError("SUBMIT_TIMEOUT", `gave up waiting for job ${final.name} after ${flagNumber(args, "timeout")} s; ${next}`, { job: final.name });
  }
  return 0;
}
