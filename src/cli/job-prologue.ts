/**
 * How a job command (submit, status, stop) starts: the backend it runs on, AWS (job-backend.ts)
 * or the in-process emulator of --local (local-emulator.ts, loaded only then); for status and
 * stop also the descriptor and its job section.
 */
import { BtkitError } from "../errors.js";
import type { Descriptor, JobSection } from "../protocol/descriptor.js";
import type { FlagSpec, ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";
import type { Backend, JobCommandDeps } from "./job-backend.js";

/** --descriptor of the commands that act on a submitted descriptor's job (status, stop). */
export const JOB_DESCRIPTOR_FLAG = {
  descriptor: { type: "string", value: "PATH|URI", help: "read the descriptor from this file instead of stdin (a folder or prefix means its btkit.json)" },
} as const satisfies Record<string, FlagSpec>;

/** The help group of the --local flags (submit adds its --model-command and --model-url to it). */
export const LOCAL_GROUP = "Local (emulator)";

/** Flags that choose the in-process emulator instead of AWS. */
export const LOCAL_FLAGS = {
  local: { type: "boolean", help: "run on the emulator in this process (on 127.0.0.1) instead of AWS; implies --wait", group: LOCAL_GROUP },
  state: { type: "string", value: "DIR", help: "the emulator's state folder (implies --local); default: emulator-state/ beside the output folder", group: LOCAL_GROUP },
} as const satisfies Record<string, FlagSpec>;

/**
 * The backend of a job command: the in-process emulator with --local or --state, or for a job that
 * ran on one; else AWS. Either one's module (and the SDK clients) loads only here, when a command
 * runs.
 */
export const DEFAULT_DEPS: JobCommandDeps = {
  backend: async (ctx, args, hint) => {
    // a job that ran on an in-process emulator is found again in the state folder it recorded
    const recorded = hint.job?.backend === "emulator" ? hint.job.stateDir : undefined;
    if (args.flags.local !== true && args.flags.state === undefined && recorded === undefined) return (await import("./job-backend.js")).awsBackend(ctx, hint.job);
    const local = await import("./local-emulator.js");
    const state =
      args.flags.state !== undefined
        ? ctx.localFolder("--state", String(args.flags.state), "the emulator keeps its models and jobs in a local folder")
        : recorded !== undefined
          ? recorded
          : await local.defaultStateDir(ctx, hint.outputLocation ?? (hint.job ? outputFolderOf(hint.job) : "."));
    return local.startLocalBackend(ctx, state);
  },
};

/** The folder that holds a job's output: output/ for a job writing to its own default prefix output/<name>. */
export function outputFolderOf(job: JobSection): string {
  const own = `/${job.name}`;
  const out = job.outputLocation.replace(/\/$/, "");
  return out.endsWith(own) ? out.slice(0, -own.length) : out;
}

/** What the prologue of status and stop hands their body: the descriptor, its job, and the backend the job runs on. */
export interface OpenJob {
  descriptor: Descriptor;
  job: JobSection;
  backend: Backend;
}

/**
 * The prologue of status and stop: reads the descriptor (stdin or --descriptor), refuses one
 * without a job section (SUBMIT_NO_JOB with the message `noJob`), gets the job's backend, runs
 * `body`, and closes the backend however that ends.
 */
export async function withJob<T>(ctx: CliContext, args: ParsedArgs, deps: JobCommandDeps, noJob: string, body: (open: OpenJob) => Promise<T>): Promise<T> {
  const { descriptor, source } = await ctx.readDescriptor(args.flags.descriptor as string | undefined);
  const job = descriptor.job;
  if (!job) throw new BtkitError("SUBMIT_NO_JOB", noJob, { location: source });
  const backend = await deps.backend(ctx, args, { job });
  try {
    return await body({ descriptor, job, backend });
  } finally {
    await backend.close();
  }
}
