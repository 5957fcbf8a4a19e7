/**
 * How a job command (submit, status, stop) starts: the backend it runs on, AWS (job-backend.ts)
 * or the in-process emulator of --local (local-emulator.ts, loaded only then).
 */
import { BtkitError } from "../errors.js";
import type { JobSection } from "../protocol/descriptor.js";
import type { FlagSpec } from "./args.js";
import { awsBackend, type JobCommandDeps } from "./job-backend.js";

/** The help group of the --local flags (submit adds its --model-command and --model-url to it). */
export const LOCAL_GROUP = "Local (emulator)";

/** Flags that choose the in-process emulator instead of AWS. */
export const LOCAL_FLAGS = {
  local: { type: "boolean", help: "run on the emulator in this process (on 127.0.0.1) instead of AWS; implies --wait", group: LOCAL_GROUP },
  state: { type: "string", value: "DIR", help: "the emulator's state folder (implies --local); default: emulator-state/ beside the output folder", group: LOCAL_GROUP },
} as const satisfies Record<string, FlagSpec>;

/** The backend of a job command: the in-process emulator with --local or --state, or for a job that ran on one; else AWS. */
export const DEFAULT_DEPS: JobCommandDeps = {
  backend: async (ctx, args, hint) => {
    // a job that ran on an in-process emulator is found again in the state folder it recorded
    const recorded = hint.job?.backend === "emulator" ? hint.job.stateDir : undefined;
    if (args.flags.local !== true && args.flags.state === undefined && recorded === undefined) return awsBackend(ctx, hint.job);
    const local = await import("./local-emulator.js");
    const state =
      args.flags.state !== undefined
        ? ctx.storage().parse(String(args.flags.state))
        : recorded !== undefined
          ? recorded
          : local.defaultStateDir(ctx, hint.outputLocation ?? (hint.job ? outputFolderOf(hint.job) : "."));
    if (typeof state !== "string" && state.kind !== "local") throw new BtkitError("USAGE_BAD_VALUE", "--state must be a local folder", { option: "--state" });
    return local.startLocalBackend(ctx, typeof state === "string" ? state : state.path);
  },
};

/** The folder that holds a job's output: output/ for a job writing to its own default prefix output/<name>. */
export function outputFolderOf(job: JobSection): string {
  const own = `/${job.name}`;
  const out = job.outputLocation.replace(/\/$/, "");
  return out.endsWith(own) ? out.slice(0, -own.length) : out;
}
