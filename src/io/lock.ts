/**
 * One writer per output: an exclusive claim on a location, taken before a command writes there and
 * released when it is done. Two preps into one --out, two joins into one file or folder, or two
 * emulators on one state folder would otherwise both exit 0 with a mixture of their outputs.
 *
 * - local: a lock file created with O_EXCL (`wx`) holding who holds it (pid, host, command, time).
 *   A lock left by a process that is gone (same host, pid not alive) is stale and taken over.
 * - S3: a conditional PutObject with `If-None-Match: *`, which S3 refuses with 412 when the key
 *   exists (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). For
 *   servers that ignore the condition (some S3-compatible ones), an existing lock is looked at
 *   before the put and the lock is read back after it: a live claim is never replaced, and of two
 *   racing claims the later put wins; only a race inside that short window goes unseen there.
 *
 * A second writer gets IO_LOCKED (exit 75) naming the holder.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BtkitError } from "../errors.js";
import { formatLocation, type Location } from "./location.js";
import { s3Sdk } from "./s3.js";
import { processAlive as alive, type Storage } from "./storage.js";

export interface Claim {
  /** where the lock is */
  location: string;
  /** removes the lock (only if it is still this claim's) */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
  command: string;
  since: string;
  token: string;
}

function describeHolder(h: Holder | undefined): string {
  return h ? `${h.command} (pid ${h.pid} on ${h.host}, since ${h.since})` : "another btkit command";
}

function parseHolder(text: string): Holder | undefined {
  try {
    const v = JSON.parse(text) as Holder;
    return typeof v.pid === "number" && typeof v.host === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

function locked(where: string, what: string, holder: Holder | undefined): BtkitError {
  return new BtkitError(
    "IO_LOCKED",
    `${what}: ${describeHolder(holder)} is writing there (lock ${where}); wait for it to end, or choose another location. A lock whose process was killed on another machine stays until you delete it`,
    { location: where, got: holder ? `${holder.command} pid ${holder.pid} on ${holder.host}` : undefined },
  );
}

/**
 * Takes the claim at `lock` (a file or object name, usually `.btkit.lock` under the output) for
 * `command` (for messages). Throws IO_LOCKED when another live writer holds it.
 */
export async function claim(storage: Storage, lock: Location, command: string, what = `${formatLocation(lock)} is in use`): Promise<Claim> {
  const me: Holder = { pid: process.pid, host: os.hostname(), command, since: new Date().toISOString(), token: randomBytes(8).toString("hex") };
  const body = `${JSON.stringify(me)}\n`;
  const where = formatLocation(lock);
  if (lock.kind === "local") {
    await fs.mkdir(path.dirname(lock.path), { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.writeFile(lock.path, body, { flag: "wx" });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new BtkitError("IO_WRITE_FAILED", `cannot create the lock ${where}: ${(err as Error).message}`, { location: where }, { cause: err });
        }
        const holder = parseHolder(await fs.readFile(lock.path, "utf8").catch(() => ""));
        // a lock of a process that is gone (or a half-written one) is stale: take it over, once
        const stale = holder === undefined ? attempt === 0 && (await ageMs(lock.path)) > 10_000 : holder.host === me.host && !alive(holder.pid);
        if (!stale || attempt > 0) throw locked(where, what, holder);
        await fs.rm(lock.path, { force: true });
      }
    }
    return {
      location: where,
      release: async () => {
        const now = parseHolder(await fs.readFile(lock.path, "utf8").catch(() => ""));
        if (now?.token === me.token) await fs.rm(lock.path, { force: true });
      },
    };
  }
  const [s3, { PutObjectCommand }] = await Promise.all([storage.s3(), s3Sdk()]);
  const holderNow = async (): Promise<Holder | undefined> => parseHolder(await storage.readText(lock).catch(() => ""));
  const takeOverOrRefuse = async (attempt: number, holder: Holder | undefined): Promise<void> => {
    if (attempt > 0 || holder === undefined || holder.host !== me.host || alive(holder.pid)) throw locked(where, what, holder);
    await storage.delete(lock);
  };
  for (let attempt = 0; ; attempt++) {
    // looked at first too: a server that ignores If-None-Match would let the put replace a live claim
    const before = await holderNow();
    if (before !== undefined) {
      await takeOverOrRefuse(attempt, before);
      continue;
    }
    try {
      await s3.send(new PutObjectCommand({ Bucket: lock.bucket, Key: lock.key, Body: body, IfNoneMatch: "*", ContentType: "application/json" }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 412 && status !== 409) throw new BtkitError("IO_S3", `cannot create the lock ${where}: ${(err as Error).message}`, { location: where, httpStatus: status }, { cause: err });
      await takeOverOrRefuse(attempt, await holderNow());
      continue;
    }
    // read back: where the condition is ignored, of two racing claims the later put wins, and the
    // earlier learns it here (the window left is between this read and the other's put)
    const after = await holderNow();
    if (after?.token !== me.token) throw locked(where, what, after);
    break;
  }
  return {
    location: where,
    release: async () => {
      const now = parseHolder(await storage.readText(lock).catch(() => ""));
      if (now?.token === me.token) await storage.delete(lock);
    },
  };
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs;
  } catch {
    return Infinity;
  }
}

/**
 * Where the claim on an output lives: `<folder>/.btkit.lock` (`.btkit-<tag>.lock` for one part of a
 * shared folder) for a folder or prefix, `.<name>.btkit.lock` beside a single file.
 */
export function lockFor(out: Location, shape: "folder" | "file", tag?: string): Location {
  const name = tag === undefined ? ".btkit.lock" : `.btkit-${tag}.lock`;
  if (out.kind === "local") return { kind: "local", path: shape === "folder" ? path.join(out.path, name) : path.join(path.dirname(out.path), `.${path.basename(out.path)}.btkit.lock`) };
  if (shape === "file") {
    const slash = out.key.lastIndexOf("/");
    return { kind: "s3", bucket: out.bucket, key: `${out.key.slice(0, slash + 1)}.${out.key.slice(slash + 1)}.btkit.lock` };
  }
  const prefix = out.key === "" || out.key.endsWith("/") ? out.key : `${out.key}/`;
  return { kind: "s3", bucket: out.bucket, key: `${prefix}${name}` };
}

/** Runs `fn` holding the claim, and releases it however `fn` ends. */
export async function withClaim<T>(storage: Storage, lock: Location, command: string, what: string, fn: () => Promise<T>): Promise<T> {
  const c = await claim(storage, lock, command, what);
  try {
    return await fn();
  } finally {
    await c.release().catch(() => undefined);
  }
}
