/**
 * One malloc arena for the data commands. glibc gives each thread that allocates its own malloc
 * arena, and with the worker threads of join and prep (Parquet encoding, JSON Lines and CSV
 * writing, gzip) their fragmentation added 40-50 MB to peak RSS: joining the 100 MB bench table
 * to JSON Lines peaked at 284-305 MB, with MALLOC_ARENA_MAX=1 at 241-245 MB, no slower
 * (BENCHMARKS.md). glibc reads MALLOC_ARENA_MAX only when a process starts (mallopt(3),
 * M_ARENA_MAX; https://man7.org/linux/man-pages/man3/mallopt.3.html), so on Linux `btkit prep`
 * and `btkit join` run themselves once more with it set: unless it is set already (the
 * Dockerfile sets it, so a container runs one process), BTKIT_RELAUNCH=0 says not to, or the
 * command only prints help.
 *
 * The first process waits and exits as the second does (128 + the signal's number when a signal
 * ended it). It forwards SIGINT, SIGTERM and SIGHUP, so a signal sent to it alone (`kill PID`,
 * `docker stop`) reaches the command; a terminal's Ctrl-C reaches both (one process group), and
 * the command counts signals that close together as one (process.ts). A SIGKILL cannot be
 * forwarded: the command notices within half a second that its first process is gone and stops
 * as for SIGTERM (watchFirstProcess). This module imports nothing else of btkit, so the first
 * process stays small.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";

/** The commands that run with one arena (the others start no worker threads and stay small). */
const DATA_COMMANDS = new Set(["prep", "join"]);
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Whether a command line should run in a second process with MALLOC_ARENA_MAX=1 (see above). */
export function shouldRelaunch(args: readonly string[], env: NodeJS.ProcessEnv, platform: NodeJS.Platform): boolean {
  if (platform !== "linux" || env.MALLOC_ARENA_MAX !== undefined || env.BTKIT_RELAUNCH === "0") return false;
  const command = args[0];
  if (command === undefined || !DATA_COMMANDS.has(command)) return false;
  return !args.some((a) => a === "--help" || a === "-h");
}

/**
 * Runs this command line again in a child process with MALLOC_ARENA_MAX=1 when shouldRelaunch
 * says so, and resolves the exit code to end with; undefined when this process is to run the
 * command itself.
 */
export function relaunch(): Promise<number> | undefined {
  if (!shouldRelaunch(process.argv.slice(2), process.env, process.platform)) return undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, MALLOC_ARENA_MAX: "1", BTKIT_FIRST_PID: String(process.pid) },
  });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  return new Promise((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`btkit: error [INTERNAL]: could not start ${process.execPath} again with MALLOC_ARENA_MAX=1: ${err.message}\n  BTKIT_RELAUNCH=0 runs the command in this process\n`);
      resolve(1);
    });
    child.on("exit", (code, signal) => {
      for (const sig of FORWARDED) process.off(sig, forward);
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}

/** How often a relaunched command checks that its first process is still there (ms). */
const WATCH_MS = 500;

/**
 * In a relaunched command (BTKIT_FIRST_PID set), calls `gone` once when the first process is no
 * longer its parent: it was killed with SIGKILL, which it cannot forward, and the command would
 * otherwise go on as an orphan nobody waits for (still writing, holding its output's lock). The
 * check is a timer that does not keep the process alive.
 */
export function watchFirstProcess(env: NodeJS.ProcessEnv, gone: () => void): void {
  const first = Number(env.BTKIT_FIRST_PID);
  if (!Number.isInteger(first) || first <= 0 || process.ppid !== first) return;
  const timer = setInterval(() => {
    if (process.ppid === first) return;
    clearInterval(timer);
    gone();
  }, WATCH_MS);
  timer.unref();
}
