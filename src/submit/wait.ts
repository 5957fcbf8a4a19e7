/**
 * The waiter: polls DescribeTransformJob with backoff and no overall cap unless asked (the SDK's
 * own waiter stops after about an hour: TransformJobCompletedOrStopped, delay 60 s and maxAttempts
 * 60, in boto/botocore botocore/data/sagemaker/2017-07-24/waiters-2.json), counts the .out files present under the output
 * location, and yields one progress event per poll until the job ends, the timeout passes, or
 * the signal aborts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { BtkitError } from "../errors.js";
import type { JobStatus } from "../protocol/descriptor.js";
import type { Storage } from "../io/storage.js";
import type { LogEvent, LogTailer } from "./logs.js";
import { describeTransformJob, type SageMakerLike, type TransformJobDescription } from "./service.js";

/** How a waiter polls (transform and processing jobs alike). */
export interface PollOptions {
  client: SageMakerLike;
  /** first poll interval in seconds; default 5; it grows by half each poll up to maxPollSeconds */
  pollSeconds?: number;
  /** the largest poll interval in seconds (at least pollSeconds); default 60 for transform jobs, 30 for processing jobs */
  maxPollSeconds?: number;
  /** give up waiting after this many seconds (the job goes on); default: no limit */
  timeoutSeconds?: number;
  /** aborting it ends the wait (the job goes on) */
  signal?: AbortSignal;
  /** a log tailer polled with each status poll */
  logs?: LogTailer;
  /** called once when polling the logs fails; the wait goes on without them */
  onLogsFailed?: (err: unknown) => void;
}

export interface WaitOptions extends PollOptions {
  /** lists the output location to count .out files; without it outputsPresent is undefined */
  storage?: Storage;
  /** the job's output location (S3OutputPath) */
  outputLocation?: string;
  /** the .out names expected under the output location (one per shard given to the job) */
  expectedOutputs?: readonly string[];
}

export interface WaitEvent {
  job: string;
  status: JobStatus;
  /** seconds since the job was created (or since waiting began when the service gives no time) */
  elapsedSeconds: number;
  outputsPresent?: number;
  outputsExpected: number;
  failureReason?: string;
  /** true on the last event of a job that ended (Completed, Failed, Stopped) */
  terminal: boolean;
  /** true on the last event when the timeout passed first */
  timedOut: boolean;
  /** true on the last event when the signal aborted the wait */
  interrupted: boolean;
  /** log events since the previous event */
  logs: LogEvent[];
  description: TransformJobDescription;
}

const TERMINAL: ReadonlySet<string> = new Set(["Completed", "Failed", "Stopped"]);

/** The .out names present under an output location, out of those expected. */
export async function presentOutputs(storage: Storage, location: string, expected: readonly string[]): Promise<Set<string>> {
  const want = new Set(expected);
  const prefix = location.endsWith("/") ? location : `${location}/`;
  const found = new Set<string>();
  for await (const o of storage.list(prefix)) if (want.has(o.relative)) found.add(o.relative);
  return found;
}

export async function* waitForTransformJob(name: string, options: WaitOptions): AsyncGenerator<WaitEvent> {
  const poll = options.pollSeconds ?? 5;
  const maxPoll = Math.max(poll, options.maxPollSeconds ?? 60);
  const began = Date.now();
  let logsFailed = false;
  const expected = options.expectedOutputs ?? [];
  let delay = poll;
  while (true) {
    const d = await describeTransformJob(name, options.client);
    if (!d) throw new BtkitError("SUBMIT_SERVICE", `no transform job named ${name} (DescribeTransformJob found none)`, { job: name });
    const status = (d.TransformJobStatus ?? "InProgress") as JobStatus;
    const terminal = TERMINAL.has(status);
    const outputsPresent = options.storage && options.outputLocation ? (await presentOutputs(options.storage, options.outputLocation, expected)).size : undefined;
    // logs are a courtesy: a log service that cannot be reached never ends the wait
    let logs: LogEvent[] = [];
    if (options.logs && !logsFailed) {
      try {
        logs = await options.logs.poll();
      } catch (err) {
        logsFailed = true;
        options.onLogsFailed?.(err);
      }
    }
    const created = d.CreationTime ? new Date(d.CreationTime).getTime() : began;
    const end = terminal && d.TransformEndTime ? new Date(d.TransformEndTime).getTime() : Date.now();
    const waited = (Date.now() - began) / 1000;
    const timedOut = !terminal && options.timeoutSeconds !== undefined && waited >= options.timeoutSeconds;
    const event: WaitEvent = {
      job: name,
      status,
      elapsedSeconds: Math.max(0, Math.round((end - created) / 1000)),
      outputsPresent,
      outputsExpected: expected.length,
      failureReason: d.FailureReason,
      terminal,
      timedOut,
      interrupted: false,
      logs,
      description: d,
    };
    yield event;
    if (terminal || timedOut) return;
    if (await pollPause(delay, waited, options)) {
      yield { ...event, interrupted: true, logs: [] };
      return;
    }
    delay = Math.min(maxPoll, delay * 1.5);
  }
}

/**
 * The pause between two polls of a waiter (transform and processing jobs): `delay` seconds, cut
 * to what is left of `timeoutSeconds` after `waited` seconds; true when the signal ended it (the
 * waiter then yields one last, interrupted event).
 */
export async function pollPause(delay: number, waited: number, options: { timeoutSeconds?: number; signal?: AbortSignal }): Promise<boolean> {
  let wait = delay;
  if (options.timeoutSeconds !== undefined) wait = Math.max(0, Math.min(wait, options.timeoutSeconds - waited));
  try {
    await sleep(wait * 1000, undefined, { signal: options.signal });
  } catch {
    // aborted: the caller's last event says so
  }
  return options.signal?.aborted === true;
}
