/**
 * Processing jobs run locally: one process per instance, started the way a processing container
 * starts (https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html:
 * "Amazon SageMaker Processing runs your processing container image", the container's entrypoint
 * with AppSpecification's ContainerEntrypoint and ContainerArguments in place of the image's
 * ENTRYPOINT and CMD, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AppSpecification.html).
 *
 * The emulator runs no Docker, so an instance is a local process, chosen by a rule of its own:
 * - ContainerEntrypoint given: `entrypoint[0]` is looked up in `commands` (name -> the argv that
 *   stands for it; `btkit` stands for this package's CLI, `node <package>/dist/bin/btkit.js`),
 *   else found on PATH; then the rest of the entrypoint, then ContainerArguments. No shell.
 * - no ContainerEntrypoint: the image's own entrypoint, which only `local-cmd:<command>` images and
 *   images in the emulator's imageMap (URI -> command) have: `sh -c '<command> "$@"'` with the
 *   ContainerArguments. Any other image fails the job with a FailureReason saying so.
 * ImageUri is never pulled; it is kept and shown by DescribeProcessingJob.
 *
 * Each instance K of N (host `algo-K`) gets its own folder `<work>/algo-K/` holding
 * `config/resourceconfig.json` with the documented shape, `{"current_host": "algo-K", "hosts":
 * ["algo-1", ..., "algo-N"]}` (same page, "How Amazon SageMaker Processing Configures Your Processing
 * Container"), named by BTKIT_RESOURCE_CONFIG (a container reads /opt/ml/config/resourceconfig.json;
 * btkit's `--part auto` reads the variable first), and the environment of the emulator (S3 and AWS
 * settings pass through: AWS_ENDPOINT_URL_S3, BTKIT_S3_*, credentials; SAGEMAKER_* removed) plus the
 * request's Environment. Its stdout and stderr, line by line, go to the stream
 * `<job>/algo-K-<epoch seconds>` of /aws/sagemaker/ProcessingJobs (logs.ts).
 *
 * ProcessingInputs and ProcessingOutputs are validated and kept, not acted on: nothing is copied to
 * or from an instance's /opt/ml/processing/ paths (btkit's containers read and write S3
 * themselves); the job's `<job>/emulator` stream says so when they are given.
 *
 * The job ends Completed when every instance exits 0. When one exits otherwise, the others are
 * stopped and the job is Failed with a FailureReason naming the instance, its exit and its log
 * stream, and the ExitMessage holding the last lines of its stderr (at most 1 KB, the ExitMessage
 * limit of the botocore model). UNCONFIRMED: the service's FailureReason wording for a container that
 * exits non-zero ("AlgorithmError: ..." in recorded jobs) and whether it stops the other instances at
 * once. A stop (StopProcessingJob, or StoppingCondition.MaxRuntimeInSeconds passing: "After the
 * condition is met, the processing job is stopped",
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingStoppingCondition.html)
 * sends SIGTERM to every instance's process group and SIGKILL 3 s later, as model instances get.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PROCESSING_LOG_GROUP, emulatorStream, type LogStore } from "./logs.js";
import { lineLogger, processEnv, resolveImage } from "./model-runtime.js";
import type { ProcessingJobRequest } from "./validate.js";

/** What a processing job runs with. */
export interface ProcessingSettings {
  /** entrypoint name -> the argv it stands for (ProcessingSettings header); `btkit` is always there unless replaced */
  commands: Readonly<Record<string, readonly string[]>>;
  /** image URI -> shell command, for images run without a ContainerEntrypoint */
  imageMap: Readonly<Record<string, string>>;
  baseEnv: Record<string, string | undefined>;
  cwd: string | undefined;
  /** the folder of the job's instance folders (algo-K/), created here */
  workDir: string;
  /** SIGTERM to SIGKILL, ms; default 3000 */
  killGraceMs?: number;
  /** told of each process started and ended (the state records them, to reap after a kill -9) */
  processes?: { started(pid: number, job: string): Promise<void>; ended(pid: number): Promise<void> };
}

export type ProcessingOutcome = { status: "Completed" } | { status: "Failed"; reason: string; exitMessage?: string } | { status: "Stopped" };

/** The host name of instance k (0-based) of a processing job: algo-1, algo-2, ... */
export const hostName = (k: number): string => `algo-${k + 1}`;

/** The FailureReason and ExitMessage limit of the botocore model (shapes FailureReason, ExitMessage). */
const MESSAGE_MAX = 1024;
/** stderr lines kept per instance for the ExitMessage */
const TAIL_LINES = 20;

/**
 * The argv standing for `btkit` in a ContainerEntrypoint: this package's built CLI run by this
 * Node.js (`dist/bin/btkit.js` beside the running module when it is the built one, else the
 * repository's dist/ when it is built, else bin/btkit.ts through tsx).
 */
export function btkitCommand(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [path.resolve(here, "../../bin/btkit.js"), path.resolve(here, "../../dist/bin/btkit.js")]) {
    if (existsSync(candidate)) return [process.execPath, candidate];
  }
  return [process.execPath, "--import", "tsx", path.resolve(here, "../../bin/btkit.ts")];
}

/** The argv an instance runs, or the reason it cannot run (the job's FailureReason). */
export function instanceArgv(req: ProcessingJobRequest, commands: ProcessingSettings["commands"], imageMap: ProcessingSettings["imageMap"]): string[] | string {
  const args = req.AppSpecification.ContainerArguments ?? [];
  const entry = req.AppSpecification.ContainerEntrypoint;
  if (entry !== undefined && entry.length > 0) {
    const [first, ...rest] = entry as [string, ...string[]];
    const mapped = commands[first];
    return [...(mapped ?? [first]), ...rest, ...args];
  }
  const image = resolveImage(req.AppSpecification.ImageUri, imageMap);
  if (typeof image === "string" || image.kind !== "cmd") {
    return `the emulator cannot run image ${JSON.stringify(req.AppSpecification.ImageUri)} without a ContainerEntrypoint: give AppSpecification.ContainerEntrypoint (run as a local command; "btkit" runs this package's CLI), use an image local-cmd:<command>, or map the image to a command (--image-map URI=CMD)`;
  }
  return ["sh", "-c", `${image.command} "$@"`, "sh", ...args];
}

interface Instance {
  host: string;
  stream: string;
  child: ChildProcess;
  /** the last stderr lines */
  tail: string[];
  /** the last stderr line that is not indented (an error's headline), kept when it scrolls out of the tail */
  headline?: string;
  /** resolves with how it ended: an exit code, a signal, or a start error */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
}

function kill(inst: Instance, sig: NodeJS.Signals): void {
  if (inst.child.pid === undefined || inst.child.exitCode !== null || inst.child.signalCode !== null) return;
  try {
    process.kill(-inst.child.pid, sig);
  } catch {
    // gone already
  }
}

/**
 * An instance's ExitMessage from its last stderr lines, within `max` characters: the last report
 * (a line that is not indented, an error's headline, and the indented lines after it: a stack)
 * kept whole when it fits, its headline and its end otherwise, then as many lines before it as fit.
 */
function exitMessageOf(lines: readonly string[], max: number): string {
  let head = lines.length - 1;
  while (head > 0 && /^\s/.test(lines[head]!)) head--;
  let report = lines.slice(head).join("\n");
  if (report.length > max) {
    const headline = lines[head]!.slice(0, Math.floor(max / 2));
    report = `${headline}\n...\n${tailOf(lines.slice(head + 1).join("\n"), max - headline.length - 5)}`;
  }
  let text = report;
  for (let k = head - 1; k >= 0 && text.length + lines[k]!.length + 1 <= max; k--) text = `${lines[k]}\n${text}`;
  return text;
}

/** The end of a text within `max` characters, cut at a line start when it can be. */
function tailOf(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(text.length - max);
  const nl = cut.indexOf("\n");
  return nl >= 0 && nl < cut.length - 1 ? cut.slice(nl + 1) : cut;
}

/**
 * Runs a processing job to its end (the module header says how). Never throws: every failure is a
 * Failed outcome. `started` is called when the instances start (ProcessingStartTime).
 */
export async function runProcessingJob(req: ProcessingJobRequest, settings: ProcessingSettings, logs: LogStore, signal: AbortSignal, hooks: { started(): void }): Promise<ProcessingOutcome> {
  const job = req.ProcessingJobName;
  const note = (m: string): void => logs.put(emulatorStream(job), `[btkit emulator]: ${m}`, PROCESSING_LOG_GROUP);
  const argv = instanceArgv(req, settings.commands, settings.imageMap);
  if (typeof argv === "string") return { status: "Failed", reason: `ClientError: ${argv}`.slice(0, MESSAGE_MAX) };
  const count = req.ProcessingResources.ClusterConfig.InstanceCount;
  const hosts = Array.from({ length: count }, (_, k) => hostName(k));
  const grace = settings.killGraceMs ?? 3000;
  const instances: Instance[] = [];
  try {
    for (const host of hosts) {
      const config = path.join(settings.workDir, host, "config", "resourceconfig.json");
      await fs.mkdir(path.dirname(config), { recursive: true });
      await fs.writeFile(config, `${JSON.stringify({ current_host: host, hosts })}\n`);
    }
  } catch (err) {
    return { status: "Failed", reason: `InternalServerError: cannot write the instances' resourceconfig.json under ${settings.workDir}: ${(err as Error).message}`.slice(0, MESSAGE_MAX) };
  }
  if (signal.aborted) return { status: "Stopped" };
  hooks.started();
  const epoch = Math.floor(Date.now() / 1000);
  for (const host of hosts) {
    const stream = `${job}/${host}-${epoch}`;
    const env = processEnv(settings.baseEnv, { ...(req.Environment ?? {}), BTKIT_RESOURCE_CONFIG: path.join(settings.workDir, host, "config", "resourceconfig.json") });
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd: settings.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const inst: Instance = {
      host,
      stream,
      child,
      tail: [],
      ended: new Promise((resolve) => {
        let error: Error | undefined;
        child.once("error", (err) => {
          error = err;
          // a process that never started emits no exit
          if (child.pid === undefined) resolve({ code: null, signal: null, error });
        });
        // "close": the exit and the end of its output, so every line is logged before the outcome
        child.once("close", (code, sig) => resolve({ code, signal: sig, error }));
      }),
    };
    const log = (line: string): void => logs.put(stream, line, PROCESSING_LOG_GROUP);
    lineLogger(child.stdout, log);
    lineLogger(child.stderr, (line) => {
      log(line);
      inst.tail.push(line);
      if (!/^\s/.test(line)) inst.headline = line;
      if (inst.tail.length > TAIL_LINES) inst.tail.shift();
    });
    if (child.pid !== undefined) {
      const pid = child.pid;
      await settings.processes?.started(pid, job).catch(() => undefined);
      void inst.ended.then(() => settings.processes?.ended(pid).catch(() => undefined));
    }
    instances.push(inst);
  }

  let stopping = false;
  let stoppedByRuntime = false;
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    for (const i of instances) kill(i, "SIGTERM");
    const timer = setTimeout(() => {
      for (const i of instances) kill(i, "SIGKILL");
    }, grace);
    timer.unref();
  };
  const onAbort = (): void => stopAll();
  signal.addEventListener("abort", onAbort, { once: true });
  let runtimeTimer: NodeJS.Timeout | undefined;
  const max = req.StoppingCondition?.MaxRuntimeInSeconds;
  if (max !== undefined) {
    runtimeTimer = setTimeout(() => {
      stoppedByRuntime = true;
      note(`StoppingCondition.MaxRuntimeInSeconds (${max} s) passed: the job is stopped`);
      stopAll();
    }, max * 1000);
    runtimeTimer.unref();
  }

  // the first instance to fail decides the FailureReason; the others are stopped then
  let failed: { inst: Instance; how: string } | undefined;
  await Promise.all(
    instances.map(async (inst) => {
      const end = await inst.ended;
      if (end.code === 0 && end.error === undefined) return;
      if (stopping && failed === undefined && (signal.aborted || stoppedByRuntime)) return;
      if (failed !== undefined) return;
      const how =
        end.error !== undefined && inst.child.pid === undefined
          ? `could not start ${JSON.stringify(argv[0])}: ${(end.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found on PATH (the emulator maps only the entrypoint names of its processingCommands option, btkit among them)" : end.error.message}`
          : end.signal !== null
            ? `was killed by ${end.signal}`
            : `exited with code ${end.code}`;
      failed = { inst, how };
      stopAll();
    }),
  );
  signal.removeEventListener("abort", onAbort);
  if (runtimeTimer !== undefined) clearTimeout(runtimeTimer);
  if (failed !== undefined) {
    const { inst, how } = failed;
    const reason = `AlgorithmError: ${inst.host} (instance ${hosts.indexOf(inst.host) + 1} of ${count}) ${how}; its output is in the log stream ${inst.stream} of ${PROCESSING_LOG_GROUP}`;
    // a headline the tail lost (a long stack after it) comes back, then a gap
    const lines = inst.headline !== undefined && !inst.tail.includes(inst.headline) ? [inst.headline, "    ...", ...inst.tail] : inst.tail;
    const exitMessage = lines.length > 0 ? exitMessageOf(lines, MESSAGE_MAX) : undefined;
    return exitMessage === undefined ? { status: "Failed", reason: reason.slice(0, MESSAGE_MAX) } : { status: "Failed", reason: reason.slice(0, MESSAGE_MAX), exitMessage };
  }
  if (signal.aborted || stoppedByRuntime) return { status: "Stopped" };
  return { status: "Completed" };
}
