/**
 * The emulator's records of models and jobs, and their persistence: with a state folder, each
 * model and job is one JSON file (`models/<name>.json`, `jobs/<name>.json`, processing jobs in
 * `processing-jobs/<name>.json`) written atomically
 * (temporary file, fsync, rename) on every change, writes of one file in the order they were
 * asked for, and reloaded on start. A job that was
 * InProgress when the emulator stopped is reloaded as Failed ("the emulator restarted while the
 * job was running"), one that was Stopping as Stopped (load() returns them: the emulator writes
 * the reason to the job's `<job>/emulator` log stream), and a half-run job is never resumed
 * behind the user's back. Model processes are recorded too (`processes/<pid>.json`) while they run: an
 * emulator killed with -9 cannot stop them, so the next one on the state folder (which holds the
 * folder's claim, so no live emulator owns them) stops every recorded process still running with
 * the recorded start time, and says how many.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { BtkitError, describeCause } from "../errors.js";
import type { JobRequest, ModelRequest, ProcessingJobRequest, Tag } from "./validate.js";

export type TransformJobStatus = "InProgress" | "Completed" | "Failed" | "Stopping" | "Stopped";

export interface ModelRecord {
  request: ModelRequest;
  arn: string;
  /** epoch ms */
  creationTime: number;
  /** the model's tags (CreateModel's, then AddTags and DeleteTags); absent in records of older emulators */
  tags?: Tag[];
}

export interface JobRecord {
  request: JobRequest;
  arn: string;
  modelArn: string;
  status: TransformJobStatus;
  failureReason?: string;
  creationTime: number;
  lastModifiedTime: number;
  startTime?: number;
  endTime?: number;
  /** the job's tags (CreateTransformJob's, then AddTags and DeleteTags); absent in records of older emulators */
  tags?: Tag[];
}

/** A processing job (DescribeProcessingJob's fields that change while it runs). */
export interface ProcessingJobRecord {
  request: ProcessingJobRequest;
  arn: string;
  status: TransformJobStatus;
  failureReason?: string;
  exitMessage?: string;
  creationTime: number;
  lastModifiedTime: number;
  startTime?: number;
  endTime?: number;
  tags?: Tag[];
}

export const RESTART_REASON = "the emulator restarted while the job was running";

/** A model process the emulator started (a process group: `sh -c "CMD serve"` and its children). */
export interface ProcessRecord {
  pid: number;
  host: string;
  /** its start time as /proc/PID/stat shows it (clock ticks since boot), to tell it from a later process that got its pid */
  procStart: string;
  job: string;
  startTime: number;
}

/** A job a restart found running: a running one Failed (RESTART_REASON), a stopping one Stopped, ended now. */
function endedByRestart(j: { status: string; failureReason?: string; endTime?: number; lastModifiedTime: number }): void {
  const now = Date.now();
  if (j.status === "InProgress") {
    j.status = "Failed";
    j.failureReason = RESTART_REASON;
  } else j.status = "Stopped";
  j.endTime = now;
  j.lastModifiedTime = now;
}

export class StateStore {
  readonly models = new Map<string, ModelRecord>();
  readonly jobs = new Map<string, JobRecord>();
  readonly processingJobs = new Map<string, ProcessingJobRecord>();
  readonly #dir: string | undefined;
  /** the write in flight per file: writes of one file run in call order, so the last call wins */
  readonly #writes = new Map<string, Promise<void>>();

  constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /** Reads the state folder; returns the jobs it ended (running when the last emulator stopped), each with the status it had. */
  async load(): Promise<Array<{ job: JobRecord; was: "InProgress" | "Stopping" }>> {
    const dir = this.#dir;
    const ended: Array<{ job: JobRecord; was: "InProgress" | "Stopping" }> = [];
    if (dir === undefined) return ended;
    try {
      await fs.mkdir(path.join(dir, "models"), { recursive: true });
      await fs.mkdir(path.join(dir, "jobs"), { recursive: true });
      await fs.mkdir(path.join(dir, "processes"), { recursive: true });
    } catch (err) {
      throw new BtkitError("EMU_STATE", `cannot create the emulator state folder ${dir}: ${describeCause(err)}`, { location: dir }, { cause: err });
    }
    for (const m of await readAll<ModelRecord>(path.join(dir, "models"))) this.models.set(m.request.ModelName, m);
    for (const j of await readAll<JobRecord>(path.join(dir, "jobs"))) {
      if (j.status === "InProgress" || j.status === "Stopping") {
        ended.push({ job: j, was: j.status });
        endedByRestart(j);
        await this.saveJob(j);
      }
      this.jobs.set(j.request.TransformJobName, j);
    }
    return ended;
  }

  /** Reads the processing jobs of the state folder (after load()); returns those it ended, as load() does for transform jobs. */
  async loadProcessingJobs(): Promise<Array<{ job: ProcessingJobRecord; was: "InProgress" | "Stopping" }>> {
    const dir = this.#dir;
    const ended: Array<{ job: ProcessingJobRecord; was: "InProgress" | "Stopping" }> = [];
    if (dir === undefined) return ended;
    try {
      await fs.mkdir(path.join(dir, "processing-jobs"), { recursive: true });
    } catch (err) {
      throw new BtkitError("EMU_STATE", `cannot create the emulator state folder ${dir}: ${describeCause(err)}`, { location: dir }, { cause: err });
    }
    for (const j of await readAll<ProcessingJobRecord>(path.join(dir, "processing-jobs"))) {
      if (j.status === "InProgress" || j.status === "Stopping") {
        ended.push({ job: j, was: j.status });
        endedByRestart(j);
        await this.saveProcessingJob(j);
      }
      this.processingJobs.set(j.request.ProcessingJobName, j);
    }
    return ended;
  }

  async saveProcessingJob(j: ProcessingJobRecord): Promise<void> {
    if (this.#dir) await this.#inOrder(path.join(this.#dir, "processing-jobs", `${j.request.ProcessingJobName}.json`), (f) => writeAtomic(f, j));
  }

  /** A folder for the emulator's own files of a processing job (instances' resourceconfig.json): under the state folder, else undefined. */
  processingFolder(job: string): string | undefined {
    return this.#dir === undefined ? undefined : path.join(this.#dir, "processing", job);
  }

  async saveModel(m: ModelRecord): Promise<void> {
    if (this.#dir) await this.#inOrder(path.join(this.#dir, "models", `${m.request.ModelName}.json`), (f) => writeAtomic(f, m));
  }

  async deleteModel(name: string): Promise<void> {
    if (this.#dir) await this.#inOrder(path.join(this.#dir, "models", `${name}.json`), (f) => fs.rm(f, { force: true }));
  }

  /** Writes the job as it is when the write runs (a job changes while it runs: status, times, tags). */
  async saveJob(j: JobRecord): Promise<void> {
    if (this.#dir) await this.#inOrder(path.join(this.#dir, "jobs", `${j.request.TransformJobName}.json`), (f) => writeAtomic(f, j));
  }

  /** Runs `op` on `file` after every earlier write of that file has ended (a rename never overtakes a later one). */
  #inOrder(file: string, op: (file: string) => Promise<void>): Promise<void> {
    const next = (this.#writes.get(file) ?? Promise.resolve()).catch(() => undefined).then(() => op(file));
    this.#writes.set(file, next);
    const forget = (): void => {
      if (this.#writes.get(file) === next) this.#writes.delete(file);
    };
    next.then(forget, forget);
    return next;
  }

  async saveProcess(p: ProcessRecord): Promise<void> {
    if (this.#dir) await writeAtomic(path.join(this.#dir, "processes", `${p.pid}.json`), p);
  }

  async deleteProcess(pid: number): Promise<void> {
    if (this.#dir) await fs.rm(path.join(this.#dir, "processes", `${pid}.json`), { force: true });
  }

  /**
   * Stops the model processes an earlier emulator left running (killed before it could stop them):
   * those recorded on this host whose pid still belongs to the process started then. Returns how
   * many were stopped; every record is removed.
   */
  async reapProcesses(host: string): Promise<number> {
    const dir = this.#dir;
    if (dir === undefined) return 0;
    let reaped = 0;
    for (const p of await readAll<ProcessRecord>(path.join(dir, "processes"))) {
      if (p.host === host && p.procStart !== "" && (await procStartOf(p.pid)) === p.procStart) {
        try {
          process.kill(-p.pid, "SIGKILL");
          reaped++;
        } catch {
          // gone meanwhile
        }
      }
      await this.deleteProcess(p.pid);
    }
    return reaped;
  }
}

/**
 * The start time of a running process (field 22 of Linux /proc/PID/stat, clock ticks since boot;
 * an exec does not change it), "" when it is gone or unknown.
 */
export async function procStartOf(pid: number): Promise<string> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

async function readAll<T>(dir: string): Promise<T[]> {
  const out: T[] = [];
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith(".json")).sort();
  } catch (err) {
    throw new BtkitError("EMU_STATE", `cannot list the emulator state folder ${dir}: ${describeCause(err)}`, { location: dir }, { cause: err });
  }
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      out.push(JSON.parse(await fs.readFile(p, "utf8")) as T);
    } catch (err) {
      throw new BtkitError("EMU_STATE", `the emulator state file ${p} cannot be read: ${describeCause(err)}`, { location: p }, { cause: err });
    }
  }
  return out;
}

async function writeAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const h = await fs.open(tmp, "w");
    try {
      await h.writeFile(`${JSON.stringify(value, null, 2)}\n`);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new BtkitError("EMU_STATE", `cannot write the emulator state file ${file}: ${describeCause(err)}`, { location: file }, { cause: err });
  }
}
