/**
 * The built package (dist/) the end-to-end tests run, as a user runs it: rebuilt when any file
 * under src/ or bin/ (or a tsconfig) is newer than the build, so a test after a source edit never
 * runs a stale build. The test files that need it call `ensureBuilt()` in a `beforeAll`.
 *
 * Once per run: test files start at once in several workers, so the check and the build happen
 * under a lock file in dist/ (created with O_EXCL; one left by a process that is gone is taken
 * over). The first file builds; the others wait for the lock, then find the build fresh. When it
 * is fresh already, the check is a few hundred stats.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "../..");
const dist = path.join(root, "dist");
const lockFile = path.join(dist, ".test-build.lock");
/** how long to wait for another worker's build before failing */
const LOCK_WAIT_MS = 240_000;
/** the timeout a `beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)` needs: waiting, then building */
export const BUILD_TIMEOUT_MS = LOCK_WAIT_MS + 120_000;

async function sources(folder: string): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, folder), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

async function mtimeNs(file: string): Promise<bigint | undefined> {
  try {
    return (await fs.stat(file, { bigint: true })).mtimeNs;
  } catch {
    return undefined;
  }
}

/**
 * Why dist/ must be built, or undefined when it is fresh: an output is missing, or a source is
 * newer than the oldest output (tsc writes every output on each build, so the oldest one is when
 * the last build began writing).
 */
export async function staleness(): Promise<string | undefined> {
  const files = [...(await sources("src")), ...(await sources("bin"))];
  let oldest: bigint | undefined;
  for (const f of files) {
    const out = path.join(dist, f.replace(/\.ts$/, ".js"));
    const t = await mtimeNs(out);
    if (t === undefined) return `${path.relative(root, out)} is missing`;
    if (oldest === undefined || t < oldest) oldest = t;
  }
  if (oldest === undefined) return "nothing is built";
  for (const f of [...files, "tsconfig.json", "tsconfig.build.json"]) {
    const t = await mtimeNs(path.join(root, f));
    if (t !== undefined && t > oldest) return `${f} is newer than the build`;
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function lock(): Promise<() => Promise<void>> {
  await fs.mkdir(dist, { recursive: true });
  const token = `${process.pid} ${Math.random()}`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.writeFile(lockFile, token, { flag: "wx" });
      return async () => {
        if ((await fs.readFile(lockFile, "utf8").catch(() => "")) === token) await fs.rm(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number.parseInt(await fs.readFile(lockFile, "utf8").catch(() => ""), 10);
    if (Number.isInteger(holder) && !alive(holder)) {
      await fs.rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`waited ${LOCK_WAIT_MS / 1000} s for another test's build of dist/ (lock ${lockFile}, pid ${holder})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Builds dist/ (tsc -p tsconfig.build.json) unless it is fresh. */
export async function ensureBuilt(): Promise<void> {
  const release = await lock();
  try {
    const why = await staleness();
    if (why === undefined) return;
    process.stderr.write(`building dist/ for the end-to-end tests (${why})\n`);
    await promisify(execFile)(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, maxBuffer: 64 * 1024 * 1024 }).catch((err: Error & { stdout?: string }) => {
      throw new Error(`the build of dist/ failed:\n${err.stdout ?? ""}${err.message}`);
    });
    // what npm run build does after tsc: the bin is executable (npx, npm link, the Docker image run it)
    await fs.chmod(path.join(dist, "bin", "btkit.js"), 0o755);
    const still = await staleness();
    if (still !== undefined) throw new Error(`dist/ is stale after the build: ${still}`);
  } finally {
    await release();
  }
}
