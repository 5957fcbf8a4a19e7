/**
 * How a job command (submit, status, stop) starts: the backend it runs on, AWS (job-backend.ts)
 * or the in-process emulator of --local (local-emulator.ts, loaded only then); for status and
 * stop also the descriptor and its job section.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BtkitError } from "../errors.js";
import type { Descriptor, JobSection } from "../protocol/descriptor.js";
import { emulatorBehaviourOf, processingCommandsOf } from "./emulator-flags.js";
import type { FlagSpec, ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";
import type { Backend, JobCommandDeps } from "./job-backend.js";

/** --descriptor of the commands that act on a submitted descriptor's job (status, stop). */
export const JOB_DESCRIPTOR_FLAG = {
  descriptor: { type: "string", value: "PATH|URI", help: "read the descriptor from this file instead of stdin (a folder or prefix means its btkit.json; a preparation's, without a job: its latest job's, stored beside the job's output)" },
} as const satisfies Record<string, FlagSpec>;

/** A location as a user types it: a local path for file:// URIs. */
export function shown(uri: string): string {
  if (!/^file:/i.test(uri)) return uri;
  const p = fileURLToPath(uri);
  return /\s/.test(p) ? JSON.stringify(p) : p;
}

/**
 * The descriptor a job command acts on: its own, when it has a job section; for a preparation's
 * descriptor (no job section), the latest job's stored beside that job's output (submit stores
 * it: output/<job name>/btkit.json), named on stderr. None stored is SUBMIT_NO_JOB: `noJob` says
 * what the command needs, followed by where btkit looked.
 */
export async function withLatestJob(ctx: CliContext, command: string, read: { descriptor: Descriptor; source: string }, noJob: string): Promise<{ descriptor: Descriptor & { job: JobSection }; source: string }> {
  const d = read.descriptor;
  if (d.job) return { descriptor: d as Descriptor & { job: JobSection }, source: read.source };
  const { storedJobDescriptors } = await import("../submit/record.js");
  const { defaultOutputUri } = await import("../submit/output-uri.js");
  const found = await storedJobDescriptors(d, await ctx.storage());
  const folder = `${defaultOutputUri(d)}/`;
  if (found.length === 0) {
    throw new BtkitError(
      "SUBMIT_NO_JOB",
      `${noJob}: ${read.source === "stdin" ? "the descriptor on stdin" : shown(read.source)} is a preparation's (no job section), and no job's descriptor for it is stored under ${shown(folder)} (btkit submit stores one beside each job's output). Run btkit submit first; a job given --output elsewhere stored its descriptor there (<output>/btkit.json): pass that with --descriptor`,
      { location: shown(folder) },
    );
  }
  const latest = found[0]!;
  const job = latest.descriptor.job;
  ctx.log(`${command}: ${read.source === "stdin" ? "the descriptor on stdin" : shown(read.source)} has no job section: using the latest job's descriptor, ${shown(latest.location)} (job ${job.name}, ${job.status}${job.createdAt ? `, created ${job.createdAt}` : ""}${found.length > 1 ? `; ${found.length} jobs found under ${shown(folder)}` : ""})`);
  return { descriptor: latest.descriptor, source: latest.location };
}

/**
 * Stores a descriptor with its job beside the job's output (btkit/submit storeJobDescriptor), so
 * a preparation's folder finds it and status, stop and submit --retry-failed can be pointed at
 * it; returns where, as a user types it. A failure to store is a warning: the descriptor on stdout
 * is the one the pipe carries.
 */
export async function storeJob(ctx: CliContext, d: Descriptor): Promise<string | undefined> {
  const { storeJobDescriptor, jobDescriptorLocation } = await import("../submit/record.js");
  try {
    const where = await storeJobDescriptor(d, await ctx.storage());
    return shown(where ?? jobDescriptorLocation(d.job!));
  } catch (err) {
    ctx.warn(`the job's descriptor could not be stored at ${shown(jobDescriptorLocation(d.job!))} (${err instanceof Error ? err.message : String(err)}): keep the one printed on stdout`);
    return undefined;
  }
}

/** The help group of the --local flags (submit adds its --model-command and --model-url to it). */
export const LOCAL_GROUP = "Local (emulator)";

/** Flags that choose the in-process emulator instead of AWS. */
export const LOCAL_FLAGS = {
  local: { type: "boolean", help: "use the emulator in this process (on 127.0.0.1, its jobs kept in --state) instead of AWS; with submit it runs the job and implies --wait", group: LOCAL_GROUP },
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
    let recorded = hint.job?.backend === "emulator" ? hint.job.stateDir : undefined;
    if (args.flags.local !== true && args.flags.state === undefined && recorded === undefined) {
      if (hint.job && !(await emulatorAnswers(hint.job))) recorded = await deadEmulatorState(ctx, hint.job);
      if (recorded === undefined) return (await import("./job-backend.js")).awsBackend(ctx, hint.job);
    }
    const local = await import("./local-emulator.js");
    const state =
      args.flags.state !== undefined
        ? ctx.localFolder("--state", String(args.flags.state), "the emulator keeps its models and jobs in a local folder")
        : recorded !== undefined
          ? recorded
          : await local.defaultStateDir(ctx, hint.outputLocation ?? (hint.job ? outputFolderOf(hint.job) : "."));
    // submit's emulated-behaviour flags, --processing's --processing-command (status and stop take the defaults: they run no job)
    return local.startLocalBackend(ctx, state, { ...emulatorBehaviourOf(args), processingCommands: processingCommandsOf(args) });
  },
};

const LOOPBACK_RE = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;

/** False when the job ran on an emulator on loopback that no longer accepts connections (a --local run's, ended). */
async function emulatorAnswers(job: JobSection): Promise<boolean> {
  if (job.backend !== "emulator" || job.endpoint === undefined || !LOOPBACK_RE.test(job.endpoint)) return true;
  const url = new URL(job.endpoint);
  const { connect } = await import("node:net");
  return await new Promise<boolean>((resolve) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * The state folder of a job whose emulator is gone and whose descriptor records none (written
 * before descriptors recorded it): emulator-state/ beside the output folder when it holds the
 * job (said on stderr); else SUBMIT_SERVICE naming --state.
 */
async function deadEmulatorState(ctx: CliContext, job: JobSection): Promise<string> {
  const loc = (await ctx.storage()).parse(outputFolderOf(job));
  if (loc.kind === "local") {
    const dir = path.join(path.dirname(loc.path), "emulator-state");
    if (await fs.stat(path.join(dir, "jobs", `${job.name}.json`)).then(() => true, () => false)) {
      ctx.log(`job ${job.name} ran on an emulator at ${job.endpoint}, which is gone: using its state in ${dir}`);
      return dir;
    }
  }
  throw new BtkitError(
    "SUBMIT_SERVICE",
    `job ${job.name} ran on an emulator at ${job.endpoint}, which is not running (the emulator of a submit --local run lives as long as that command): give the state folder that kept the job with --state DIR (submit --local keeps it in emulator-state/ beside the output folder unless told otherwise), or start btkit emulator --state DIR at that address`,
    { job: job.name, location: job.endpoint, option: "--state" },
  );
}

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
 * The prologue of status and stop: reads the descriptor (stdin or --descriptor; a preparation's
 * means its latest job's, withLatestJob), gets the job's backend, runs `body`, and closes the
 * backend however that ends.
 */
export async function withJob<T>(ctx: CliContext, args: ParsedArgs, deps: JobCommandDeps, command: string, noJob: string, body: (open: OpenJob) => Promise<T>): Promise<T> {
  const { descriptor } = await withLatestJob(ctx, command, await ctx.readDescriptor(args.flags.descriptor as string | undefined), noJob);
  const job = descriptor.job;
  const backend = await deps.backend(ctx, args, { job });
  try {
    return await body({ descriptor, job, backend });
  } finally {
    await backend.close();
  }
}
