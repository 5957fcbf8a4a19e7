/**
 * `btkit prep --processing` and `btkit join --processing`: the same command line run as a
 * SageMaker Processing job on --instance-count instances (btkit/submit processing.ts), each taking
 * part i of N with `--part auto` (part-auto.ts reads the instance's resourceconfig.json), waited for
 * with its logs tailed; then the parts are combined and the descriptor of the whole printed, as the
 * command prints its own: prep merges the N part descriptors under `<out>/parts/` (merge()); join
 * reads the N parts' results (`<out>/btkit-part-IofN.json`, each part's descriptor with its
 * results) and combines them (join/combine.ts: every part there, every shard joined once, the
 * same columns).
 *
 * The instances see S3 only (https://docs.aws.amazon.com/sagemaker/latest/dg/processing-job.html:
 * a processing container reads and writes S3; btkit's does so itself), so the inputs and
 * --out must be s3:// URIs; with --local the job runs on the in-process emulator, whose
 * instances are local processes and may be given local paths (made absolute). The container
 * arguments are this command line without --processing and the launch-only flags, plus
 * `--part auto`; the job's name is a hash of that request, so a rerun attaches to the job it
 * launched before (--new launches a fresh one).
 *
 * The job is not part of any descriptor (it runs before the descriptor exists): `btkit status|stop
 * --processing-job NAME` (processingJobCommand) show and stop it by the name the log and the Ctrl-C
 * message print, on AWS or, with --state DIR, on the emulator state folder of a --local run. On
 * Ctrl-C a --local job is stopped (its emulator ends with the command), an AWS one goes on.
 */
import { BtkitError, counted } from "../errors.js";
import { parseDescriptor, type Descriptor } from "../protocol/descriptor.js";
import { partNames, type Part } from "../protocol/layout.js";
import { VERSION } from "../version.js";
import { flagNumber, flagString, type CommandSpec, type FlagSpec, type ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";
import type { Backend, JobCommandDeps } from "./job-backend.js";
import { DEFAULT_DEPS, LOCAL_GROUP } from "./job-prologue.js";
import { Progress } from "./progress.js";

const G_PROC = "Processing (SageMaker Processing job)";

/** The flags of --processing, added to prep's; all are launch-only (not passed to the instances). */
export const PROCESSING_FLAGS = {
  processing: { type: "boolean", help: "run this command as a SageMaker Processing job: each of --instance-count instances takes part i of N (--part auto); waits, tails the logs, then combines the parts and prints the descriptor of the whole", group: G_PROC },
  "instance-count": { type: "int", value: "N", min: 1, max: 100, help: "with --processing: the instances, one part each [default: 2]", group: G_PROC },
  "instance-type": { type: "string", value: "TYPE", help: "with --processing: the instance type [default: ml.m5.xlarge]", group: G_PROC },
  "volume-size": { type: "int", value: "GB", min: 1, max: 16384, help: "with --processing: the storage volume per instance [default: 30]", group: G_PROC },
  "max-runtime": { type: "int", value: "SECONDS", min: 1, max: 777600, help: "with --processing: StoppingCondition.MaxRuntimeInSeconds; the job is stopped after it", group: G_PROC },
  role: { type: "string", value: "ARN", help: "with --processing: the IAM role the job runs as (required on AWS; it needs the S3 access of the command)", group: G_PROC },
  image: { type: "string", value: "URI", help: "with --processing: the btkit image (the repository's Dockerfile, pushed to ECR; required on AWS) [default with --local: btkit:<version>]", group: G_PROC },
  "name-prefix": { type: "string", value: "P", help: "with --processing: prefix of the derived job name [default: btkit-<command>]", group: G_PROC },
  new: { type: "boolean", help: "with --processing: launch a fresh job even when this request ran before (a rerun otherwise attaches to it); its prep parts replace what the earlier job's parts left (--overwrite)", group: G_PROC },
  "poll-seconds": { type: "number", value: "SECONDS", min: 0, help: "with --processing: first interval between status polls; it grows by half up to 30 s [default: 5]", group: G_PROC },
  timeout: { type: "number", value: "SECONDS", min: 0, help: "with --processing: stop waiting after this long (exit 5; the job goes on, except with --local: it is stopped, as its emulator ends with the command)", group: G_PROC },
  "stop-on-interrupt": { type: "boolean", help: "with --processing: on Ctrl-C stop the job instead of detaching from it", group: G_PROC },
  local: { type: "boolean", help: "with --processing: run the job on the emulator in this process (its instances are local processes) instead of AWS", group: LOCAL_GROUP },
  state: { type: "string", value: "DIR", help: "with --processing: the emulator's state folder (implies --local); default: emulator-state/ beside --out", group: LOCAL_GROUP },
  "processing-command": { type: "string", value: "NAME=CMD", multiple: true, help: "with --processing --local: the instances run the shell command CMD (with the container arguments) in place of the entrypoint NAME (btkit: this package's CLI by default), as btkit emulator --processing-command does", group: LOCAL_GROUP },
} as const satisfies Record<string, FlagSpec>;

/** The role of a --local job when --role is not given: the emulator checks only its form. */
export const LOCAL_ROLE = "arn:aws:iam::123456789012:role/btkit-local";

/** The flags that apply to the launch, not to the command the instances run. */
const LAUNCH_ONLY: ReadonlySet<string> = new Set(Object.keys(PROCESSING_FLAGS));

/** True when any --processing flag was given: the command dispatches here (and refuses them without --processing). */
export function wantsProcessing(args: ParsedArgs): boolean {
  if (args.flags.processing === true) return true;
  const given = [...LAUNCH_ONLY].filter((f) => f !== "processing" && args.given.has(f));
  if (given.length > 0) {
    throw new BtkitError("USAGE_MISSING", `${given.map((f) => `--${f}`).join(", ")} ${given.length === 1 ? "goes" : "go"} with --processing (running the command as a SageMaker Processing job): add --processing, or leave ${given.length === 1 ? "it" : "them"} out`, { option: "--processing" });
  }
  return false;
}

/**
 * The instances' command line: `command`, then every flag given (but the launch-only ones) as
 * `--name=value` (a boolean as `--name` or `--no-name`, a repeated flag repeated), then `--part
 * auto`, then the positionals. `replace` gives the values to pass instead of the given ones (local
 * paths made absolute).
 */
export function containerArguments(spec: CommandSpec, args: ParsedArgs, replace: { positionals?: string[]; flags?: Record<string, string>; omit?: readonly string[] } = {}): string[] {
  const out: string[] = [spec.name];
  for (const name of Object.keys(spec.flags)) {
    if (!args.given.has(name) || LAUNCH_ONLY.has(name) || name === "part" || name === "parts" || replace.omit?.includes(name)) continue;
    const f = spec.flags[name]!;
    const v = replace.flags?.[name] ?? args.flags[name];
    if (f.type === "boolean") out.push(v === false ? `--no-${name}` : `--${name}`);
    else for (const x of Array.isArray(v) ? v : [v]) out.push(`--${name}=${String(x)}`);
  }
  out.push("--part", "auto");
  out.push(...(replace.positionals ?? args.positionals));
  return out;
}

/** A location the instances read or write: s3:// as given; a local path only with --local (made absolute). */
function instanceLocation(ctx: CliContext, flag: string, text: string, local: boolean): string {
  if (text === "-") {
    throw new BtkitError("USAGE_BAD_VALUE", `${flag} -: this command's stdin and stdout do not reach the instances of a processing job: give an s3:// location`, { option: flag });
  }
  if (/^s3:\/\//i.test(text)) return text;
  if (!local) {
    throw new BtkitError("USAGE_BAD_VALUE", `${flag} ${text} is a local path, but the instances of a SageMaker Processing job see S3 only: give an s3:// location, or run the job on the emulator with --local`, { option: flag, location: text });
  }
  return ctx.localFolder(flag, text, "not a location the instances can read");
}



function fmtSecs(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * Runs `btkit prep|join ... --processing`: checks the locations, launches (or attaches to) the
 * processing job, waits with its logs, combines the parts (prep: merge(); join: their results)
 * and prints the descriptor.
 * Returns the exit code; a Failed or Stopped job is SUBMIT_PROCESSING_FAILED or _STOPPED.
 */
export async function runProcessing(ctx: CliContext, args: ParsedArgs, spec: CommandSpec, deps: JobCommandDeps = DEFAULT_DEPS): Promise<number> {
  const command = spec.name;
  const f = args.flags;
  const local = f.local === true || f.state !== undefined;
  for (const flag of ["part", "parts"]) {
    if (args.given.has(flag)) {
      throw new BtkitError("USAGE_BAD_VALUE", `--${flag} goes without --processing: each instance of the processing job takes its own part (--part auto, from its resourceconfig.json); leave --${flag} out`, { option: `--${flag}` });
    }
  }
  const plan = command === "join" ? await planJoin(ctx, args, local) : planPrep(ctx, args, local);
  const out = plan.flags.out!;
  const role = flagString(args, "role") ?? (local ? LOCAL_ROLE : undefined);
  if (role === undefined) throw new BtkitError("USAGE_MISSING", `${command} --processing needs --role ARN: the IAM role the processing job runs as (with S3 access to the inputs and --out), or --local to run it on the emulator`, { option: "--role" });
  const image = flagString(args, "image") ?? (local ? `btkit:${VERSION}` : undefined);
  if (image === undefined) throw new BtkitError("USAGE_MISSING", `${command} --processing needs --image URI: the btkit image in ECR (docker build -t btkit . in the repository, then push it), or --local to run the job on the emulator`, { option: "--image" });
  const argv = containerArguments(spec, args, plan);
  // a fresh job of a request that ran before replaces what that job's parts left under --out (a
  // part that finished before another failed would otherwise refuse its own earlier output)
  if (f.new === true && command === "prep" && !argv.includes("--overwrite")) argv.splice(argv.indexOf("--part"), 0, "--overwrite");
  const sub = await import("../submit/index.js");
  const request = sub.buildProcessingJobRequest({
    arguments: argv,
    image,
    role,
    instanceCount: flagNumber(args, "instance-count"),
    instanceType: flagString(args, "instance-type"),
    volumeSizeGb: flagNumber(args, "volume-size"),
    maxRuntimeSeconds: flagNumber(args, "max-runtime"),
    namePrefix: flagString(args, "name-prefix") ?? `btkit-${command}`,
    nameSalt: f.new === true ? `${Date.now()}-${Math.random()}` : undefined,
  });
  const count = request.ProcessingResources!.ClusterConfig!.InstanceCount!;
  const name = request.ProcessingJobName!;
  const backend = await deps.backend(ctx, args, { outputLocation: out });
  try {
    const result = await sub.submitProcessingJob(request, { client: backend.sagemaker });
    const where = backend.local ? "the emulator in this process" : backend.kind === "emulator" ? `the emulator at ${backend.endpoint}` : "SageMaker";
    ctx.log(
      result.attached
        ? `attached to processing job ${name} (${result.description.ProcessingJobStatus}), which ran this request before; nothing launched (--new launches a fresh one)`
        : `launched processing job ${name} on ${where}: ${counted(count, "instance")} of ${request.ProcessingResources!.ClusterConfig!.InstanceType}, each running btkit ${argv.join(" ")}`,
    );
    const final = await watch(ctx, args, name, backend);
    const status = final.ProcessingJobStatus;
    if (status === "Failed" || status === "Stopped") {
      const streams = await sub.processingLogStreams(name, { client: backend.logs }).catch(() => [] as string[]);
      const logs = streams.length > 0 ? ` Its log streams (${sub.PROCESSING_LOG_GROUP}): ${streams.join(", ")}.` : "";
      if (status === "Stopped") throw new BtkitError("SUBMIT_PROCESSING_STOPPED", `processing job ${name} was stopped.${logs} Rerun with --new to run it again`, { job: name, option: "--new" });
      const exit = final.ExitMessage ? ` Its last lines: ${final.ExitMessage.trim().split("\n").slice(-5).join(" | ")}.` : "";
      throw new BtkitError(
        "SUBMIT_PROCESSING_FAILED",
        `processing job ${name} failed: ${(final.FailureReason ?? "(no FailureReason given)").replace(/\.+$/, "")}.${exit}${logs} Fix the cause, then rerun with --new (a rerun without it attaches to this failed job)`,
        { job: name, option: "--new" },
      );
    }
    return await plan.finish(count);
  } finally {
    await backend.close();
  }
}

/** Waits for the job with progress and its logs on stderr; returns its last description. Ctrl-C detaches (or stops it). */
async function watch(ctx: CliContext, args: ParsedArgs, name: string, backend: Backend): Promise<import("../submit/index.js").ProcessingJobDescription> {
  const { createLogTailer, stopProcessingJob, waitForProcessingJob, PROCESSING_LOG_GROUP } = await import("../submit/index.js");
  const progress = new Progress(ctx);
  const waiter = waitForProcessingJob(name, {
    client: backend.sagemaker,
    pollSeconds: flagNumber(args, "poll-seconds"),
    timeoutSeconds: flagNumber(args, "timeout"),
    signal: ctx.io.signal,
    logs: createLogTailer(name, { client: backend.logs, group: PROCESSING_LOG_GROUP }),
    onLogsFailed: (err) => ctx.warn(`the processing job's logs cannot be read (${err instanceof Error ? err.message : String(err)}); waiting goes on without them`),
  });
  for await (const ev of waiter) {
    for (const l of ev.logs) {
      // an instance's descriptor on its stdout (one long JSON line) is named, not printed: the merged one is
      const part = /^\{"btkit":.*"part":\{"index":(\d+),"count":(\d+)\}/.exec(l.message);
      ctx.log(`[${l.stream.slice(name.length + 1)}] ${part ? `(its descriptor of part ${part[1]}/${part[2]}, on stdout)` : l.message}`);
    }
    const state = { label: `processing job ${name}`, detail: `${ev.status}, job elapsed ${fmtSecs(ev.elapsedSeconds)}` };
    if (ev.interrupted) {
      progress.finish();
      const see = `btkit status --processing-job ${name}${backend.local && backend.stateDir ? ` --state ${quoted(backend.stateDir)}` : ""}`;
      if (args.flags["stop-on-interrupt"] === true) {
        await stopProcessingJob(name, { client: backend.sagemaker });
        ctx.warn(`interrupted: stopping processing job ${name} (--stop-on-interrupt). See it: ${see}`);
      } else if (backend.local) {
        // the emulator in this process ends with it: the job is stopped (not left to be reported Failed)
        await stopProcessingJob(name, { client: backend.sagemaker }).catch(() => undefined);
        ctx.warn(`interrupted: processing job ${name} ran on the emulator in this process, which ends with this command: the job is stopped. See it: ${see}. Run it again: rerun the same command with --new`);
      } else {
        ctx.warn(`interrupted: detached from processing job ${name}, which goes on. Reattach: rerun the same command (it attaches, and combines the parts when the job ends). See it: ${see}. Stop it: btkit stop --processing-job ${name}`);
      }
      throw new BtkitError("SUBMIT_INTERRUPTED", `interrupted while waiting for processing job ${name}`, { job: name });
    }
    if (ev.timedOut) {
      progress.finish(state);
      if (backend.local) {
        // as for Ctrl-C: the emulator in this process ends with it, so the job is stopped, not left to be reported Failed
        await stopProcessingJob(name, { client: backend.sagemaker }).catch(() => undefined);
        const see = `btkit status --processing-job ${name}${backend.stateDir ? ` --state ${quoted(backend.stateDir)}` : ""}`;
        throw new BtkitError("SUBMIT_TIMEOUT", `gave up waiting for processing job ${name} after ${flagNumber(args, "timeout")} s; it ran on the emulator in this process, which ends with this command: the job is stopped. See it: ${see}. Run it again: rerun the same command with --new`, { job: name, option: "--new" });
      }
      throw new BtkitError("SUBMIT_TIMEOUT", `gave up waiting for processing job ${name} after ${flagNumber(args, "timeout")} s; it is ${ev.status} and goes on (rerun the same command to reattach)`, { job: name });
    }
    if (ev.terminal) {
      progress.finish(state);
      return ev.description;
    }
    progress.update(state, true);
  }
  throw new BtkitError("INTERNAL", `the wait for processing job ${name} ended without its end`, { job: name });
}

/**
 * What a command runs as a processing job: the instances' flags and positionals (locations as
 * they see them), flags kept from them (the launcher's own), and what follows a Completed job.
 */
interface ProcessingPlan {
  /** replaced values (`out` always: where the instances write) */
  flags: Record<string, string>;
  positionals: string[];
  omit: readonly string[];
  /** after Completed: combine the N parts, print the descriptor; the exit code */
  finish(count: number): Promise<number>;
}

/** prep: the inputs and --out as the instances see them; the parts merged at the end. */
function planPrep(ctx: CliContext, args: ParsedArgs, local: boolean): ProcessingPlan {
  const out = instanceLocation(ctx, "--out", String(args.flags.out), local);
  const positionals = args.positionals.map((p) => instanceLocation(ctx, "input", p, local));
  return { flags: { out }, positionals, omit: [], finish: (count) => finishPrep(ctx, out, count) };
}

/**
 * join: the descriptor (given with --descriptor: stdin does not reach the instances; a
 * preparation's means its latest job's, resolved here so every instance joins the same one) and
 * --out (a folder) as the instances see them; --descriptor-out is the launcher's. At the end the N
 * parts' results (`btkit-part-IofN.json` in --out) are combined and the whole join's descriptor
 * printed.
 */
async function planJoin(ctx: CliContext, args: ParsedArgs, local: boolean): Promise<ProcessingPlan> {
  const f = args.flags;
  for (const flag of ["inputs", "outputs"]) {
    if (args.given.has(flag)) {
      throw new BtkitError("USAGE_BAD_VALUE", `join --processing slices a descriptor's shards among its instances, and --${flag} joins files without one: give --descriptor PATH|URI (the descriptor btkit submit printed, or the preparation's folder), or leave --processing out`, { option: `--${flag}` });
    }
  }
  if (f.descriptor === undefined) {
    throw new BtkitError("USAGE_MISSING", "join --processing needs --descriptor PATH|URI: the instances of a processing job do not see this command's stdin (save submit's descriptor: btkit submit ... > job.json, or give the preparation's folder)", { option: "--descriptor" });
  }
  if (f.out === undefined) throw new BtkitError("USAGE_MISSING", "btkit join needs --out PATH|URI: where to write the joined table (with --processing a folder: one part file per instance)", { option: "--out" });
  const given = instanceLocation(ctx, "--descriptor", String(f.descriptor), local);
  const out = instanceLocation(ctx, "--out", String(f.out), local);
  const read = await ctx.readDescriptor(given);
  const { descriptor, source } = read.descriptor.shards.length === 0 ? read : await (await import("./job-prologue.js")).withLatestJob(ctx, "join", read, "nothing to join");
  const descriptorOut = f["descriptor-out"] as string | undefined;
  return {
    flags: { out, descriptor: source },
    positionals: [],
    omit: ["descriptor-out"],
    finish: async (count) => {
      const storage = await ctx.storage();
      const { combinePartResults, readPartResults } = await import("../join/index.js");
      const { toUri } = await import("../io/location.js");
      const folder = toUri(storage.parse(out));
      const location = folder.endsWith("/") ? folder : `${folder}/`;
      const results = combinePartResults(descriptor, await readPartResults(storage, location, count), location);
      const joined = { ...descriptor, results };
      ctx.log(`join --processing: combined ${counted(count, "part")}: ${counted(results.rows, "row")} from ${counted(Object.keys(results.rowsPerShard).length, "shard")} in ${counted(results.files.length, "file")} -> ${location}`);
      if (results.missing.length > 0) ctx.warn(`${counted(results.missing.length, "shard")} had no .out and ${results.missing.length === 1 ? "was" : "were"} not joined: ${results.missing.join(", ")} (listed in results.missing)`);
      const { serializeDescriptor } = await import("../protocol/descriptor.js");
      if (descriptorOut !== undefined) await storage.write(descriptorOut, `${serializeDescriptor(joined)}\n`, { contentType: "application/json", signal: ctx.io.signal });
      await ctx.emitDescriptor(joined);
      return 0;
    },
  };
}

/** prep: the N part descriptors under `<out>/parts/`, merged (manifest.json and btkit.json written), printed. */
async function finishPrep(ctx: CliContext, out: string, count: number): Promise<number> {
  const storage = await ctx.storage();
  const { childLocation } = await import("../io/location.js");
  const base = storage.parse(out.endsWith("/") ? out : `${out}/`);
  const parts: Descriptor[] = [];
  for (let index = 0; index < count; index++) {
    const part: Part = { index, count };
    const loc = childLocation(base, partNames(part).descriptor);
    parts.push(parseDescriptor(await storage.readText(loc), partNames(part).descriptor));
  }
  const { merge } = await import("../prepare/index.js");
  const merged = await merge(parts, { storage });
  ctx.log(`prep --processing: merged ${counted(count, "part")}: ${counted(merged.source.rowsWritten, "row")} in ${counted(merged.shards.length, "shard")}`);
  const { storedSummary } = await import("./cmd-prep.js");
  const summary = storedSummary(merged);
  if (summary) ctx.log(summary);
  await ctx.emitDescriptor(merged);
  return 0;
}

/** A path as a shell word: quoted when it holds anything but plain characters. */
function quoted(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`;
}

/** --processing-job of status and stop: a processing job of --processing instead of a descriptor's transform job. */
export const PROCESSING_JOB_FLAG = {
  "processing-job": {
    type: "string",
    value: "NAME",
    help: "the processing job NAME of prep|join --processing (named in their log and Ctrl-C message) instead of the descriptor's transform job; add --state DIR for one run with --local",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * `btkit status|stop --processing-job NAME`: describes (stop: first stops) the processing job on
 * AWS, or on the emulator of the state folder --state names (a job of --processing --local), logs
 * its state and prints it as one JSON line `{"processingJob": {...}}`. status's exit code says how
 * the job ended (0 while it runs; Failed and Stopped are SUBMIT_PROCESSING_FAILED and _STOPPED).
 */
export async function processingJobCommand(ctx: CliContext, args: ParsedArgs, command: "status" | "stop", deps: JobCommandDeps = DEFAULT_DEPS): Promise<number> {
  const name = String(args.flags["processing-job"]);
  for (const flag of ["descriptor", "wait"]) {
    if (args.given.has(flag)) {
      const why = flag === "wait" ? "to wait for it, rerun the prep|join --processing command that launched it: it attaches and waits" : "it names the job a descriptor's section would";
      throw new BtkitError("USAGE_BAD_VALUE", `--processing-job goes without --${flag}: ${why}`, { option: `--${flag}` });
    }
  }
  if (args.flags.local === true && args.flags.state === undefined) {
    throw new BtkitError("USAGE_MISSING", `${command} --processing-job ${name} --local needs --state DIR: the emulator state folder the job ran on (prep|join --processing --local keeps it in emulator-state/ beside --out, and their Ctrl-C message names it)`, { option: "--state" });
  }
  const sub = await import("../submit/index.js");
  const backend = await deps.backend(ctx, args, {});
  try {
    const where = backend.local ? `the emulator state folder ${backend.stateDir}` : backend.kind === "emulator" ? `the emulator at ${backend.endpoint}` : `SageMaker${backend.region ? ` (${backend.region})` : ""}`;
    let d = await sub.describeProcessingJob(name, backend.sagemaker);
    if (!d) throw new BtkitError("SUBMIT_SERVICE", `no processing job named ${name} on ${where}${backend.local ? "" : " (one run with --local is kept in the emulator state folder it ran on: give --state DIR)"}`, { job: name, option: "--state" });
    if (command === "stop") {
      if (d.ProcessingJobStatus === "InProgress") {
        await sub.stopProcessingJob(name, { client: backend.sagemaker });
        ctx.log(`stopping processing job ${name}`);
        d = (await sub.describeProcessingJob(name, backend.sagemaker)) ?? d;
      } else ctx.log(`processing job ${name} is already ${d.ProcessingJobStatus}: nothing to stop`);
    }
    const status = d.ProcessingJobStatus ?? "InProgress";
    const iso = (t: Date | string | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
    const cluster = d.ProcessingResources?.ClusterConfig;
    const job = {
      name,
      arn: d.ProcessingJobArn,
      status,
      failureReason: d.FailureReason,
      exitMessage: d.ExitMessage,
      backend: backend.kind,
      endpoint: backend.kind === "emulator" && !backend.local ? backend.endpoint : undefined,
      stateDir: backend.local ? backend.stateDir : undefined,
      region: backend.region,
      instanceCount: cluster?.InstanceCount,
      instanceType: cluster?.InstanceType,
      arguments: d.AppSpecification?.ContainerArguments,
      createdAt: iso(d.CreationTime),
      startedAt: iso(d.ProcessingStartTime),
      endedAt: iso(d.ProcessingEndTime),
      logGroup: sub.PROCESSING_LOG_GROUP,
    };
    ctx.log(`processing job ${name} on ${where}: ${status}${d.FailureReason ? `: ${d.FailureReason}` : ""}${job.arguments ? ` (${counted(job.instanceCount ?? 1, "instance")}, each running btkit ${job.arguments.join(" ")})` : ""}`);
    await ctx.out(`${JSON.stringify({ processingJob: JSON.parse(JSON.stringify(job)) as unknown })}\n`);
    if (command === "status" && status === "Failed") {
      throw new BtkitError("SUBMIT_PROCESSING_FAILED", `processing job ${name} failed: ${(d.FailureReason ?? "(no FailureReason given)").replace(/\.+$/, "")}. Fix the cause, then rerun the prep|join --processing command with --new (without it, it attaches to this failed job)`, { job: name, option: "--new" });
    }
    if (command === "status" && status === "Stopped") {
      throw new BtkitError("SUBMIT_PROCESSING_STOPPED", `processing job ${name} was stopped: rerun the prep|join --processing command with --new to run it again (without it, it attaches to this stopped job)`, { job: name, option: "--new" });
    }
    return 0;
  } finally {
    await backend.close();
  }
}
