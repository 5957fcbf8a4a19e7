/**
 * An in-memory CloudWatch Logs store for the groups /aws/sagemaker/TransformJobs and
 * /aws/sagemaker/ProcessingJobs
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html; streams start with `<job>/`, as the SageMaker Python SDK
 * reads them: aws/sagemaker-python-sdk src/sagemaker/session.py, _flush_log_streams; the stream
 * names below are UNCONFIRMED), and the Logs API calls that read it: DescribeLogGroups,
 * DescribeLogStreams, GetLogEvents, FilterLogEvents (missing groups and streams answer
 * ResourceNotFoundException with CloudWatch Logs' own words, "The specified log group does not
 * exist." and "The specified log stream does not exist."). Streams: `<job>/<instance-id>` (model process stdout/stderr) and
 * `<job>/<instance-id>/data-log` (the executor's per-object messages), and `<job>/emulator`, the
 * emulator's own notes on a job (no service stream: what it accepted but does not emulate, an
 * interruption), written only when there is something to say. A processing job's streams are
 * `<job>/algo-K-<epoch seconds>`, one per instance (the logging page's table:
 * `[processing-job-name]/[hostname]-[epoch_timestamp]`; processing hosts are named algo-1 ... algo-N,
 * https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html), and
 * its `<job>/emulator`.
 *
 * With a folder (the emulator's state folder, `logs/`), streams survive a restart as jobs and
 * models do: each stream is one file, `<encodeURIComponent(name)>.jsonl` (a group other than
 * /aws/sagemaker/TransformJobs in a subfolder `<encodeURIComponent(group)>/`), one event per line,
 * appended in batches (at most PERSIST_DELAY_MS after an event, and on close), each batch one
 * write followed by fsync. A batch is all-or-nothing on reload: an append cut short by a crash
 * leaves a last line without its `\n`, which load() drops and cuts from the file before any new
 * append, so no reader ever sees half an event.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { BtkitError, describeCause } from "../errors.js";
import { ApiError } from "./api-error.js";

export const LOG_GROUP = "/aws/sagemaker/TransformJobs";
/** The log group of processing jobs. */
export const PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs";

interface LogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

interface Stream {
  name: string;
  creationTime: number;
  events: LogEvent[];
}

type Json = Record<string, unknown>;

/** How long a new event may wait before it is written to its stream's file. */
export const PERSIST_DELAY_MS = 100;

/** The stream of the emulator's own notes on a job (logs.ts header). */
export const emulatorStream = (job: string): string => `${job}/emulator`;

export class LogStore {
  /** group name -> its streams by name */
  readonly #groups = new Map<string, Map<string, Stream>>();
  readonly #region: string;
  readonly #account: string;
  readonly #dir: string | undefined;
  /** events not yet written, per group and stream */
  readonly #pending = new Map<string, { group: string; stream: string; events: LogEvent[] }>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #writeError: unknown;

  /** `dir`: where streams are persisted (created by load()); none keeps them in memory only */
  constructor(region: string, account: string, dir?: string) {
    this.#region = region;
    this.#account = account;
    this.#dir = dir;
  }

  /** Reads the persisted streams (a torn last line is dropped and cut from its file). */
  async load(): Promise<void> {
    const dir = this.#dir;
    if (dir === undefined) return;
    await this.#loadGroup(dir, LOG_GROUP, true);
    let subs: string[];
    try {
      subs = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (err) {
      throw new BtkitError("EMU_STATE", `cannot read the emulator log folder ${dir}: ${describeCause(err)}`, { location: dir }, { cause: err });
    }
    for (const sub of subs) await this.#loadGroup(path.join(dir, sub), decodeURIComponent(sub), false);
  }

  async #loadGroup(dir: string, group: string, create: boolean): Promise<void> {
    let names: string[];
    try {
      if (create) await fs.mkdir(dir, { recursive: true });
      names = (await fs.readdir(dir)).filter((n) => n.endsWith(".jsonl")).sort();
    } catch (err) {
      throw new BtkitError("EMU_STATE", `cannot read the emulator log folder ${dir}: ${describeCause(err)}`, { location: dir }, { cause: err });
    }
    for (const n of names) {
      const file = path.join(dir, n);
      const events: LogEvent[] = [];
      try {
        let text = await fs.readFile(file, "utf8");
        const end = text.lastIndexOf("\n") + 1;
        if (end < text.length) {
          // an append cut short: drop it, so the next append starts on a line of its own
          await fs.truncate(file, Buffer.byteLength(text.slice(0, end)));
          text = text.slice(0, end);
        }
        const lines = text.split("\n");
        lines.pop();
        lines.forEach((line, i) => {
          const e = JSON.parse(line) as Partial<LogEvent>;
          if (typeof e.timestamp !== "number" || typeof e.message !== "string" || typeof e.ingestionTime !== "number") throw new Error(`line ${i + 1} is not a log event`);
          events.push({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime });
        });
      } catch (err) {
        throw new BtkitError("EMU_STATE", `the emulator log file ${file} cannot be read: ${describeCause(err)}`, { location: file }, { cause: err });
      }
      const name = decodeURIComponent(n.slice(0, -".jsonl".length));
      if (events.length > 0) this.#streamsOf(group).set(name, { name, creationTime: events[0]!.timestamp, events });
    }
  }

  #streamsOf(group: string): Map<string, Stream> {
    let g = this.#groups.get(group);
    if (!g) this.#groups.set(group, (g = new Map()));
    return g;
  }

  /** Appends one event to a stream of `group` (/aws/sagemaker/TransformJobs unless given; the stream is created on first use). */
  put(stream: string, message: string, group: string = LOG_GROUP): void {
    const now = Date.now();
    const streams = this.#streamsOf(group);
    let s = streams.get(stream);
    if (!s) {
      s = { name: stream, creationTime: now, events: [] };
      streams.set(stream, s);
    }
    const e = { timestamp: now, message, ingestionTime: now };
    s.events.push(e);
    if (this.#dir === undefined) return;
    const key = `${group}\n${stream}`;
    let p = this.#pending.get(key);
    if (!p) this.#pending.set(key, (p = { group, stream, events: [] }));
    p.events.push(e);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush().catch(() => undefined);
      }, PERSIST_DELAY_MS);
      this.#timer.unref();
    }
  }

  /** Writes every pending event; the first write error is kept for close(). */
  flush(): Promise<void> {
    const dir = this.#dir;
    if (dir === undefined) return Promise.resolve();
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    this.#writing = this.#writing.then(async () => {
      for (const { group, stream, events } of batch) {
        const folder = group === LOG_GROUP ? dir : path.join(dir, encodeURIComponent(group));
        const file = path.join(folder, `${encodeURIComponent(stream)}.jsonl`);
        try {
          if (group !== LOG_GROUP) await fs.mkdir(folder, { recursive: true });
          const h = await fs.open(file, "a");
          try {
            await h.write(events.map((e) => `${JSON.stringify(e)}\n`).join(""));
            await h.datasync();
          } finally {
            await h.close();
          }
        } catch (err) {
          this.#writeError ??= new BtkitError("EMU_STATE", `cannot write the emulator log file ${file}: ${describeCause(err)}`, { location: file }, { cause: err });
        }
      }
    });
    return this.#writing;
  }

  /** Writes what is pending; throws the first write error there was (EMU_STATE). */
  async close(): Promise<void> {
    await this.flush();
    if (this.#writeError !== undefined) throw this.#writeError;
  }

  /**
   * The streams of the group a call names: a group exists once it has a stream (SageMaker creates
   * /aws/sagemaker/TransformJobs and /aws/sagemaker/ProcessingJobs when a job first logs,
   * https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html); before, the calls on
   * it answer as CloudWatch Logs does for a missing group. `logGroupIdentifier` may be the group's
   * name or its ARN (logGroupArn).
   */
  #group(body: Json): { name: string; streams: Map<string, Stream> } {
    const g = body.logGroupName ?? body.logGroupIdentifier;
    for (const [name, streams] of this.#groups) {
      if ((g === name || g === this.#groupArn(name)) && streams.size > 0) return { name, streams };
    }
    throw new ApiError("ResourceNotFoundException", "The specified log group does not exist.");
  }

  #groupArn(group: string): string {
    return `arn:aws:logs:${this.#region}:${this.#account}:log-group:${group}`;
  }

  /**
   * DescribeLogGroups (shapes DescribeLogGroupsRequest/Response and LogGroup of the botocore model
   * botocore/data/logs/2014-03-28/service-2.json): the groups that exist, by name, when
   * logGroupNamePrefix or logGroupNamePattern (a case-sensitive substring) or logGroupIdentifiers
   * match; retentionInDays is absent (SageMaker sets none: the events never expire).
   */
  describeLogGroups(body: Json): Json {
    const prefix = body.logGroupNamePrefix;
    const pattern = body.logGroupNamePattern;
    if (prefix !== undefined && pattern !== undefined) throw new ApiError("InvalidParameterException", "logGroupNamePrefix and logGroupNamePattern are mutually exclusive: pass only one of them.");
    const limit = body.limit;
    if (limit !== undefined && (typeof limit !== "number" || limit < 1 || limit > 50)) {
      const bound = typeof limit === "number" && limit > 50 ? "less than or equal to 50" : "greater than or equal to 1";
      throw new ApiError("InvalidParameterException", `1 validation error detected: Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value ${bound}`);
    }
    const ids = Array.isArray(body.logGroupIdentifiers) ? (body.logGroupIdentifiers as unknown[]) : undefined;
    // two groups at most: one page, never a nextToken
    if (typeof body.nextToken === "string") return { logGroups: [] };
    const logGroups: Json[] = [];
    for (const group of [...this.#groups.keys()].sort()) {
      const streams = [...this.#groups.get(group)!.values()];
      const matches =
        (typeof prefix !== "string" || group.startsWith(prefix)) &&
        (typeof pattern !== "string" || group.includes(pattern)) &&
        (ids === undefined || ids.includes(group) || ids.includes(this.#groupArn(group))) &&
        (body.logGroupClass === undefined || body.logGroupClass === "STANDARD");
      if (streams.length === 0 || !matches) continue;
      logGroups.push({
        logGroupName: group,
        creationTime: Math.min(...streams.map((s) => s.creationTime)),
        metricFilterCount: 0,
        arn: `${this.#groupArn(group)}:*`,
        storedBytes: 0,
        logGroupClass: "STANDARD",
        logGroupArn: this.#groupArn(group),
      });
    }
    return { logGroups: typeof limit === "number" ? logGroups.slice(0, limit) : logGroups };
  }

  describeLogStreams(body: Json): Json {
    const group = this.#group(body);
    const prefix = typeof body.logStreamNamePrefix === "string" ? body.logStreamNamePrefix : "";
    const orderBy = body.orderBy === "LastEventTime" ? "LastEventTime" : "LogStreamName";
    if (orderBy === "LastEventTime" && prefix !== "") throw new ApiError("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.");
    const limit = typeof body.limit === "number" ? Math.min(50, Math.max(1, body.limit)) : 50;
    const list = [...group.streams.values()].filter((s) => s.name.startsWith(prefix));
    const last = (s: Stream): number => s.events[s.events.length - 1]?.timestamp ?? s.creationTime;
    list.sort((a, b) => (orderBy === "LogStreamName" ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : last(a) - last(b)));
    if (body.descending === true) list.reverse();
    const start = typeof body.nextToken === "string" ? Number(body.nextToken) || 0 : 0;
    const page = list.slice(start, start + limit);
    const out: Json = {
      logStreams: page.map((s) => ({
        logStreamName: s.name,
        creationTime: s.creationTime,
        firstEventTimestamp: s.events[0]?.timestamp,
        lastEventTimestamp: s.events[s.events.length - 1]?.timestamp,
        lastIngestionTime: s.events[s.events.length - 1]?.ingestionTime,
        uploadSequenceToken: "0",
        arn: `${this.#groupArn(group.name)}:log-stream:${s.name}`,
        storedBytes: 0,
      })),
    };
    if (start + limit < list.length) out.nextToken = String(start + limit);
    return out;
  }

  getLogEvents(body: Json): Json {
    const group = this.#group(body);
    const name = body.logStreamName;
    const s = typeof name === "string" ? group.streams.get(name) : undefined;
    if (!s) throw new ApiError("ResourceNotFoundException", "The specified log stream does not exist.");
    const limit = typeof body.limit === "number" ? Math.min(10000, Math.max(1, body.limit)) : 10000;
    const inRange = (e: LogEvent): boolean =>
      (typeof body.startTime !== "number" || e.timestamp >= body.startTime) && (typeof body.endTime !== "number" || e.timestamp < body.endTime);
    const all = s.events.map((e, i) => ({ e, i })).filter((x) => inRange(x.e));
    let page: typeof all;
    const token = typeof body.nextToken === "string" ? body.nextToken : undefined;
    if (token?.startsWith("f/")) {
      const from = Number(token.slice(2));
      page = all.filter((x) => x.i >= from).slice(0, limit);
    } else if (token?.startsWith("b/")) {
      const before = Number(token.slice(2));
      const older = all.filter((x) => x.i < before);
      page = older.slice(Math.max(0, older.length - limit));
    } else if (token !== undefined) {
      throw new ApiError("InvalidParameterException", `The specified nextToken is invalid: ${token}`);
    } else if (body.startFromHead === true) page = all.slice(0, limit);
    else page = all.slice(Math.max(0, all.length - limit));
    const firstIdx = page[0]?.i ?? (token?.startsWith("f/") ? Number(token.slice(2)) : all.length);
    const nextIdx = page.length > 0 ? page[page.length - 1]!.i + 1 : firstIdx;
    return {
      events: page.map((x) => ({ timestamp: x.e.timestamp, message: x.e.message, ingestionTime: x.e.ingestionTime })),
      nextForwardToken: `f/${String(nextIdx).padStart(20, "0")}`,
      nextBackwardToken: `b/${String(firstIdx).padStart(20, "0")}`,
    };
  }

  filterLogEvents(body: Json): Json {
    const group = this.#group(body);
    const names = Array.isArray(body.logStreamNames) ? (body.logStreamNames as unknown[]).filter((x): x is string => typeof x === "string") : undefined;
    const prefix = typeof body.logStreamNamePrefix === "string" ? body.logStreamNamePrefix : undefined;
    if (names && prefix !== undefined) throw new ApiError("InvalidParameterException", "You cannot specify both logStreamNames and logStreamNamePrefix.");
    const terms = parseFilterPattern(typeof body.filterPattern === "string" ? body.filterPattern : "");
    const limit = typeof body.limit === "number" ? Math.min(10000, Math.max(1, body.limit)) : 10000;
    const events: Array<Json & { timestamp: number; k: string }> = [];
    for (const s of group.streams.values()) {
      if (names && !names.includes(s.name)) continue;
      if (prefix !== undefined && !s.name.startsWith(prefix)) continue;
      s.events.forEach((e, i) => {
        if (typeof body.startTime === "number" && e.timestamp < body.startTime) return;
        if (typeof body.endTime === "number" && e.timestamp > body.endTime) return;
        if (!terms.every((t) => e.message.includes(t))) return;
        const k = `${String(e.timestamp).padStart(15, "0")}/${s.name}/${String(i).padStart(12, "0")}`;
        events.push({ logStreamName: s.name, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime, eventId: k, k });
      });
    }
    events.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    const after = typeof body.nextToken === "string" ? body.nextToken : "";
    const rest = events.filter((e) => e.k > after);
    const page = rest.slice(0, limit);
    const out: Json = { events: page.map(({ k: _k, ...e }) => e), searchedLogStreams: [] };
    if (rest.length > page.length) out.nextToken = page[page.length - 1]!.k;
    return out;
  }
}

/** Filter patterns: space-separated terms and "quoted phrases", all of which must occur. */
function parseFilterPattern(p: string): string[] {
  const terms: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p)) !== null) terms.push(m[1] ?? m[2]!);
  return terms.filter((t) => t.length > 0);
}
